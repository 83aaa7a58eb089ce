// Watch mode (`neobert-exportd --watch DIR`): the server follows training
// runs' checkpoint trees and exports each finished step directory once.
//
// Why inside the server rather than a client-side `watch-dir` mode: the
// watcher's exports are ordinary jobs of the server's own JobManager, so they
// reuse its queue (bounded, FIFO, worker pool), its job store (a restart knows
// what was done), its path policy (watched folders must lie in an input root,
// destinations in an output root, exactly like RPC jobs), its metrics, its
// post-export hook, and they are visible and cancellable through ListJobs /
// WatchJob / CancelJob like any other job. A sidecar then is one process with
// one health endpoint, not a server plus a client that must agree on state.
//
// What counts as a finished step (step_scanner.h): a numeric step dir under
// model_checkpoints/ or checkpoints/ with config.yaml, a weight file and
// tokenizer/, whose files' sizes and mtimes did not change between two scans
// at least the settle interval (= --watch-poll-seconds) apart. That covers
// both trainers: the older one renames `<step>.tmp` to `<step>` when done
// (`.tmp` is ignored), the newer one writes into `<step>` directly and may
// leave it half-written for a while (or for good, after a crash).
//
// Exactly once, also across restarts:
//   - in memory: a step dir submitted (or found already exported) is not
//     submitted again while its signature is unchanged;
//   - on disk: before submitting, core::ExportIsCurrent asks whether the
//     destination already holds a complete export whose manifest matches this
//     checkpoint (fingerprint of the input files + output options) — the same
//     rule that makes ExportCheckpoint skip — so a restarted server does not
//     queue anything for steps it exported before;
//   - in flight: JobManager's request dedupe returns the queued/running job.
// A step whose files change after it was exported (a trainer that paused
// longer than the settle interval mid-step, then wrote the rest) gets a new
// signature and is exported again, replacing the earlier export atomically:
// the destination's manifest names this very step dir as its source, so the
// watcher owns it. A destination exported from anything else is never
// overwritten (that job fails, naming the folder).
// When several steps are ready at once (the server was down, or fell
// behind), they are submitted newest step first; with the FIFO queue the
// newest is exported first.
//
// The last step (shutdown, and --once): the trainer has stopped, so nothing
// will change any more and waiting for steps to settle would only lose them
// (a Kubernetes native sidecar gets SIGTERM right after the trainer exits).
// FinalScan takes every complete step at once, unsettled ones included, and
// submits each one not exported yet, newest first, waiting for queue room
// until the deadline; the server then drains within --grace-seconds, and
// ReportUnfinished logs (and counts, for the metric) every step whose export
// did not finish. --once is FinalScan, then waiting for the jobs, then exit.
//
// A step dir that disappears (pruned by the trainer) is forgotten: a job
// that failed because its step was pruned (CHECKPOINT_NOT_FOUND) is not
// retried, and one still queued fails cleanly (exporter.h).
// A step holding only DeepSpeed ZeRO files (plus config.yaml and tokenizer/)
// counts as complete, so that its job fails once with a message naming the
// conversion needed (zero_to_fp32) instead of the step waiting silently.
//
// Triggers (--watch-mode): inotify (IN_CREATE, IN_MOVED_TO, IN_CLOSE_WRITE,
// ... on the watched folder, run dirs, checkpoints folders, step dirs and
// their tokenizer/) wakes a rescan after a short debounce; IN_Q_OVERFLOW
// simply rescans. `auto` = inotify plus a periodic rescan every
// --watch-poll-seconds as a safety net (falls back to polling when inotify
// is unavailable); `poll` = periodic rescans only (network filesystems,
// where inotify sees nothing of other hosts' writes).
//
// Thread-safety: Start/Stop from one thread; the watcher runs on its own
// thread and only calls the (thread-safe) JobManager.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/job_manager.h"
#include "server/path_policy.h"
#include "server/step_scanner.h"

namespace neobert::server {

enum class WatchMode { kAuto, kInotify, kPoll };

enum class WatchLogLevel { kInfo, kWarn, kError };

struct WatcherOptions {
  // Folders to watch (run dirs, checkpoints folders, or folders of runs).
  // Each must lie inside an input root; it need not exist yet.
  std::vector<std::string> dirs;
  // Exports go to <output_dir>/<run>_<step>; empty: the default destination
  // <run>/hf/<run>_<step> (reference §1.7). Must lie in an output root.
  std::string output_dir;
  // Periodic rescan interval, and the settle interval of a step dir.
  absl::Duration poll = absl::Seconds(10);
  WatchMode mode = WatchMode::kAuto;
  // fsync exports (ExportOptions::sync).
  bool sync = true;
  // Receives the watcher's log lines; null: discarded.
  std::function<void(WatchLogLevel, const std::string&)> log;
};

class Watcher {
 public:
  // Checks the folders against `policy` and sets up inotify (kInotify: an
  // error when it is unavailable). `jobs` must outlive the watcher. Does not
  // start the thread.
  static absl::StatusOr<std::unique_ptr<Watcher>> Create(WatcherOptions options, JobManager* jobs,
                                                         PathPolicy policy);
  ~Watcher();  // Stop()

  // Starts the watcher thread (scans at once).
  void Start();
  // Stops and joins the thread; idempotent. Call before draining the job
  // manager so no job is submitted during the drain.
  void Stop();

  // One scan and submission round at time `now`, on the caller's thread
  // (tests; the thread calls the same). Returns the ids of the jobs it
  // submitted (deduplicated ones included), in submission order.
  std::vector<std::string> ScanOnce(absl::Time now);

  // What the last scan did with every complete step.
  struct FinalScanResult {
    // (step description, job id) of each step with a job: submitted now, or
    // earlier and still queued or running. Newest step first.
    std::vector<std::pair<std::string, std::string>> jobs;
    int already_exported = 0;
    // Steps that got no job: refused (named with the reason), or no queue
    // room before the deadline.
    std::vector<std::string> not_submitted;
  };
  // The final scan (see the file comment). Call after Stop(), before the job
  // manager stops accepting. Waits for queue room until `deadline`.
  FinalScanResult FinalScan(absl::Time deadline);
  // After the drain: logs each step of `final` whose export did not succeed
  // and returns how many (not_submitted included).
  int ReportUnfinished(const FinalScanResult& final);

 private:
  Watcher(WatcherOptions options, JobManager* jobs, PathPolicy policy);
  void Loop();
  // Adds inotify watches for folders not yet watched.
  void UpdateWatches(const std::vector<std::string>& dirs);
  // Reads pending inotify events; true when any arrived.
  bool DrainInotify();
  // Waits until `deadline`, an inotify event or Stop(); true on an event.
  bool Wait(absl::Time deadline);
  void Log(WatchLogLevel level, const std::string& msg) const;
  // Forgets steps that are no longer there (pruned).
  void ForgetGone(const ScanResult& scan);
  struct Handled {
    std::string signature;
    std::string job_id;  // empty: none (already exported, or refused)
  };
  enum class Outcome { kDone, kAlreadyExported, kSubmitted, kRefused, kQueueFull, kDraining };
  // Submits one ready step unless handled with this signature; with a
  // `queue_deadline`, waits until then for room in a full queue. `job_id`
  // gets the step's job (new or earlier), `why` the reason of a refusal.
  Outcome HandleStep(const StepDir& step, std::optional<absl::Time> queue_deadline,
                     std::string* job_id, std::string* why);

  WatcherOptions options_;
  JobManager* jobs_;
  PathPolicy policy_;
  // options_.dirs with the input root each lies beneath: scanned through it.
  std::vector<WatchFolder> folders_;
  StabilityTracker tracker_;
  // Step path → the signature for which the step was handled (submitted,
  // found already exported, or refused for good). Only touched by the
  // scanning thread (FinalScan runs after it stopped).
  std::map<std::string, Handled> handled_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: Stop() wakes the thread
  std::map<std::string, int> watched_;  // folder → watch descriptor
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace neobert::server
