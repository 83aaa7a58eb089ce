// The job manager: one server's side of the shared job store
// (server/store/job_store.h). It accepts jobs into the store, runs the jobs
// its workers claim, and fans each job's events out to the watchers it has.
//
// Several servers may share one store (PostgreSQL): any of them accepts a
// job, answers Get/List/Watch/Cancel for any job, and the one whose worker
// claims a job runs it under a lease that a heartbeat renews (every third of
// --lease-seconds). A server that dies loses its leases; another server (or
// the same one restarted, with SQLite) re-runs the job, up to max_attempts
// runs, then the job FAILs naming the lost leases (reason INTERRUPTED,
// retryable). Exports are atomic and
// skip an identical published export, so running one again is safe.
//
// Events: the running server pushes each event to its own watchers at once
// and stores it (progress events coalesced, flushed every poll interval;
// state changes and the final event with the change itself). Watchers on
// other servers read stored events every poll interval (100 ms by default),
// so they trail the runner by at most about two intervals. Sequences grow
// across runs and restarts (job_store.h), so `Watch(id, after_sequence)`
// resumes anywhere.
//
// Cancel: a queued job is CANCELLED at once; a running one is asked to stop
// (its server sees the request at its next poll and cancels its token, which
// the exporter checks between tensors).
//
// Outcomes: a failed or cancelled job keeps what its run found (the runner's
// JobProgress::OnPartialResult: notes, warnings, failing checks) as its
// result, and its error whole, reason payloads included
// (core/status/error_reason.h); both are stored, so every server and every
// restart sees them.
//
// Idempotency: a request with an idempotency key returns the job holding the
// key, on every server; the same key with a different request is
// ALREADY_EXISTS (reason IDEMPOTENCY_KEY_REUSED) naming the first field that
// differs; a key whose job ended with a retryable error
// (core::DetailsOf(error).retryable: INTERRUPTED — among them FAILED for lost
// leases —, INTERNAL, ...) or an old journal's INTERRUPTED is queued again
// (a new attempt of the same job, its attempts counted afresh). Without a
// key, a request equal to a job that is QUEUED, RUNNING, or (exports only)
// SUCCEEDED with its destination still present returns that job (with
// overwrite set, only QUEUED/RUNNING).
//
// Thread-safety: every public method is thread-safe. Local state lives under
// mu_; store calls, log lines, observer callbacks and pushes to watchers
// happen outside it. EventStream has its own leaf mutex.
//
// Watching never affects a job: a watcher that goes away is dropped; only
// Cancel() (or shutdown) cancels.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/progress.h"
#include "server/device_policy.h"
#include "server/executor.h"
#include "server/job.h"
#include "server/store/job_store.h"

namespace neobert::server {

// What a running job reports to its manager: progress
// (core/base/progress.h), and, when it is about to fail, what it found by then.
class JobProgress : public base::ProgressSink {
 public:
  // A job that is about to fail hands over what it found by then (notes,
  // warnings, a failed validation report), so the failure keeps them. At
  // most once, just before the runner returns its error. Default: ignored.
  virtual void OnPartialResult(const core::ExportResult& /*partial*/) {}
};

// Does the work of one job (export or validation). Must honour `cancel`.
using JobRunner = std::function<absl::StatusOr<core::ExportResult>(
    const JobSpec&, JobProgress&, const base::CancelToken&)>;

// Told about the jobs this server accepts and runs: for logs and metrics.
// Called without the manager's lock, on whichever thread made the change
// (the submitter, the job's worker, a canceller, the store poller):
// implementations must be quick and thread-safe, and must not call back into
// the JobManager. With several servers each sees its own part: OnQueued on
// the server that accepted (or re-queued) a job, OnStarted/OnFinished on the
// one that ran it (sums over servers are the store's totals).
class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // A job was queued here (a deduplicated request creates none).
  virtual void OnQueued(const JobSnapshot& /*job*/) {}
  // A worker here took the job (QUEUED → RUNNING).
  virtual void OnStarted(const JobSnapshot& /*job*/) {}
  // The job entered a stage (job.stage) with this message.
  virtual void OnStage(const JobSnapshot& /*job*/, const std::string& /*message*/) {}
  virtual void OnWarning(const JobSnapshot& /*job*/, const std::string& /*warning*/) {}
  // The job reached a terminal state from `was` (QUEUED or RUNNING);
  // `run_seconds` is how long it ran here (0 when it never started).
  virtual void OnFinished(const JobSnapshot& /*job*/, JobState /*was*/,
                          double /*run_seconds*/) {}
};

// One watcher's view of a job: a queue of events ending with the final one.
class EventStream {
 public:
  // The next event, or nullopt when none arrived within `timeout` (callers
  // poll so they can notice their own client going away).
  std::optional<JobEvent> Next(absl::Duration timeout);
  // True once the final event has been taken.
  bool done();
  // Set when the server closed the stream before the job's final event
  // (JobManager::CloseStreams) and every event before that was taken: the
  // status to end the stream with. Next() returns at once then.
  std::optional<absl::Status> closed();

 private:
  friend class JobManager;
  explicit EventStream(uint64_t after) : last_(after) {}
  // Events at or below the last sequence pushed are dropped (they arrive
  // twice when both the runner and the store poll deliver them).
  void Push(JobEvent event);
  // No more events; a stream that already holds its final event ignores it.
  void Close(absl::Status why);
  // A watcher slower than the job loses intermediate progress events, never
  // state changes, warnings or the final event.
  static constexpr size_t kMaxQueued = 256;
  absl::Mutex mu_;
  std::deque<JobEvent> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t last_ ABSL_GUARDED_BY(mu_);
  uint64_t shown_ ABSL_GUARDED_BY(mu_) = 0;  // highest sequence pushed (not the after_sequence asked)
  bool any_ ABSL_GUARDED_BY(mu_) = false;
  bool final_pushed_ ABSL_GUARDED_BY(mu_) = false;
  bool final_taken_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

enum class JobLogLevel { kInfo, kWarn, kError };

struct JobManagerOptions {
  // Where jobs live (job_store.h): "sqlite" (default; in state_dir, or in
  // memory without one) or a postgresql:// DSN.
  std::string job_store = "sqlite";
  std::string state_dir;
  // SQLite: fsync commits (--no-fsync turns it off, with the exports' fsync).
  bool sync = true;
  // QUEUED jobs in the whole store beyond this: RESOURCE_EXHAUSTED.
  int queue_capacity = 16;
  // Jobs this server runs at once (its claims); the executor should have as
  // many threads.
  int workers = 1;
  // Where jobs run (owned). Null → InlineExecutor.
  std::unique_ptr<Executor> executor;
  // The work; null → RunJobWithCore (core::ExportCheckpoint / validation).
  JobRunner runner;
  // Logs / metrics; null → none.
  std::shared_ptr<JobObserver> observer;
  // Runs after an export succeeded (not for dry runs; for an export skipped
  // because it was already there only when this is a later attempt of the
  // job, whose earlier attempt may have published it and died before its
  // hook ran), on the job's thread while the job is still RUNNING (stage
  // "post-export-hook"); its outcome is stored in the job (JobSnapshot::hook)
  // and does not change the job's state (see post_export_hook.h). `attempt`
  // counts the job's runs, 1 the first. Null: none.
  std::function<HookOutcome(const JobSnapshot& job, int attempt, const base::CancelToken& cancel)>
      post_export;
  // Assigns each job's device when a worker here claims it, and says whether
  // this server has a GPU (only then does it claim jobs asking for CUDA).
  // Null: the requested device as is ("" → "auto"), no GPU claims.
  std::shared_ptr<DevicePolicy> devices;
  // Runs of a job that may lose their lease (server died) before it FAILs.
  int max_attempts = 3;
  // How long a claim holds without a heartbeat; renewed every third of it.
  absl::Duration lease = absl::Seconds(30);
  // How often the store is polled: stored events for watchers of jobs that
  // run elsewhere, cancel requests, queued work, expired leases.
  absl::Duration poll = absl::Milliseconds(100);
  // Finished jobs older / beyond this are purged (with their keys); checked
  // at start and every purge_interval.
  RetentionPolicy retention;
  absl::Duration purge_interval = absl::Minutes(10);
  // This server's name in the store ("" → host-pid-random).
  std::string replica_id;
  // Store and takeover events worth a log line; null → none.
  std::function<void(JobLogLevel, const std::string&)> log;
};

class JobManager {
 public:
  static absl::StatusOr<std::unique_ptr<JobManager>> Create(JobManagerOptions options);
  // Stops polling; jobs still running here are released to the store
  // (re-run by another server or the next start), or cancelled when the
  // store is in memory.
  ~JobManager();

  // Queues a job (paths in `spec` must already be resolved and allowed;
  // export_options.device is the requested one). RESOURCE_EXHAUSTED when the
  // store's queue is full, UNAVAILABLE after StopAccepting(),
  // FAILED_PRECONDITION for a device no server can provide, ALREADY_EXISTS
  // for a reused key. `*deduplicated` says whether an existing job came back.
  absl::StatusOr<JobSnapshot> Submit(JobSpec spec, bool* deduplicated = nullptr);
  absl::StatusOr<JobSnapshot> Get(const std::string& id);
  // One page, newest first (ListJobs).
  absl::StatusOr<JobPage> ListPage(const ListQuery& query);
  // Every matching job, oldest first (tests, small stores).
  std::vector<JobSnapshot> List(std::optional<JobState> state, const std::string& source_contains);
  // QUEUED → CANCELLED at once; RUNNING → asks the job to stop (it reaches
  // CANCELLED when its server notices). FAILED_PRECONDITION for a finished job.
  absl::StatusOr<JobSnapshot> Cancel(const std::string& id);
  // A stream of the job's events. after_sequence 0: it starts with the job's
  // current state (for a finished job that is the final event). Else (a
  // watcher resuming after event N): the stored events after N, then live
  // ones; a finished job's stream always ends with its final event.
  absl::StatusOr<std::shared_ptr<EventStream>> Watch(const std::string& id, uint64_t after_sequence = 0);

  // Shutdown, step by step: refuse new jobs (with a store other servers
  // share, also stop claiming: they take the queue; alone, keep working
  // through the queue); wait for the running ones; then release (persistent
  // store) or cancel (in memory) what is left; then CloseStreams.
  void StopAccepting();
  bool accepting();
  // True when nothing runs here (and, while this server still claims,
  // nothing is queued in the store) within `timeout`.
  bool WaitIdle(absl::Duration timeout);
  // Drain: stop claiming; jobs running here go back to the store, QUEUED
  // with their attempt not counted, for another server (or the next start)
  // to run. In memory (nobody would run them again) this is CancelAll.
  void ReleaseAll();
  // Stops claiming and cancels the jobs running here; in memory also the
  // queued ones. Jobs it stops end CANCELLED with reason INTERRUPTED (the
  // server stopped under them: retryable), unlike Cancel()'s CANCELLED.
  void CancelAll();
  // Shutdown's last step: every stream opened here that has not reached its
  // final event (the job stays queued in the store, or runs elsewhere) ends
  // with UNAVAILABLE, reason DRAINING (EventStream::closed()), so its client
  // watches again elsewhere or after the restart instead of being cut off.
  void CloseStreams();

  // Runs retention now; the number of jobs purged.
  absl::StatusOr<int64_t> PurgeNow();
  // "SQLite /x/jobs.db" / "PostgreSQL host=... dbname=..." (no password).
  std::string store_description() const;
  const std::string& replica_id() const { return replica_.id; }

 private:
  struct Run;
  struct Feed;
  struct Unsaved;
  class Sink;
  explicit JobManager(JobManagerOptions options);

  void Kick();
  void WorkerTask();
  // A claimed job, start to end (job_manager_run.cc): StartRun makes it
  // visible and tells its watchers; Execute assigns the device and runs the
  // runner; RunHook the post-export hook; Outcome turns the result into the
  // store's FinishRequest; StoreOutcome stores it with the run's last events.
  void RunClaimed(StoredJob claimed);
  std::shared_ptr<Run> StartRun(const StoredJob& claimed);
  absl::StatusOr<core::ExportResult> Execute(const std::shared_ptr<Run>& run, JobSpec spec,
                                             std::optional<core::ExportResult>* partial);
  HookOutcome RunHook(Run& run, core::ExportResult& result);
  FinishRequest Outcome(Run& run, absl::StatusOr<core::ExportResult> result,
                        std::optional<core::ExportResult> partial, const HookOutcome& hook,
                        bool shutdown);
  void StoreOutcome(const std::shared_ptr<Run>& run, FinishRequest req);
  void Publish(Run& run, JobEvent event, bool progress_only);
  JobEvent LiveEvent(const Run& run) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver(const std::string& id, const std::vector<JobEvent>& events);
  void PollLoop();
  void PollOnce(bool heartbeat, bool reap, bool purge);
  void FlushEvents();
  void CheckOwnedRuns(bool renew);
  void PollFeeds(bool check_rows);
  void Log(JobLogLevel level, const std::string& message);
  bool in_memory() const { return options_.state_dir.empty() && !store_->shared(); }

  JobManagerOptions options_;
  std::unique_ptr<JobStore> store_;
  ReplicaInfo replica_;

  // Serialises writing events to the store (the poller's flush, a run's
  // finish), so a run's events are stored in order. Taken before mu_, never
  // while holding it.
  absl::Mutex flush_mu_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Run>> runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Feed>> feeds_ ABSL_GUARDED_BY(mu_);
  std::vector<Unsaved> unsaved_ ABSL_GUARDED_BY(mu_);
  int tasks_ ABSL_GUARDED_BY(mu_) = 0;  // claim tasks scheduled or running
  // Store claims under way: a job the store already holds as ours but that
  // is not in runs_ yet. WaitIdle waits for these too (the store no longer
  // counts such a job as queued).
  int claims_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool claiming_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_error_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread poller_;
};

// The production runner: core::ExportCheckpoint for exports, the full
// validator (core::ValidateExportDir) for validations. A validation whose
// checks fail is a result (the report, ExportResult::validation), not an
// error. A failing run hands what it found to progress.OnPartialResult.
absl::StatusOr<core::ExportResult> RunJobWithCore(const JobSpec& spec, JobProgress& progress,
                                                  const base::CancelToken& cancel);

}  // namespace neobert::server
