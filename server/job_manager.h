// The job manager: accepts jobs into a bounded queue, runs them on an
// executor, records every state change in the journal and fans each job's
// events out to any number of watchers.
//
// Thread-safety: every public method is thread-safe. All job state lives
// under one mutex (mu_); an EventStream has its own leaf mutex, only ever
// taken after mu_ (or alone), never before it.
//
// Idempotency: a request with an idempotency key returns the job that first
// used the key, whatever its state, except that a key whose job ended with a
// retryable error (core::DetailsOf(error).retryable: the server stopped under
// it, an I/O error) starts a new job under the key (reusing a key for a
// different request is INVALID_ARGUMENT). Without a key, a request equal to a job that is QUEUED,
// RUNNING, or (exports only) SUCCEEDED with its destination still present
// returns that job (with overwrite set, only QUEUED/RUNNING); otherwise (FAILED/CANCELLED/INTERRUPTED, or a finished
// validation) it starts a new one.
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/export/progress.h"
#include "server/executor.h"
#include "server/job.h"
#include "server/journal.h"

namespace neobert::server {

// Does the work of one job (export or validation). Must honour `cancel`.
using JobRunner = std::function<absl::StatusOr<core::ExportResult>(
    const JobSpec&, core::ProgressSink&, const core::CancelToken&)>;

// Told about every job's life: for logs and metrics. Called with the
// manager's lock held, on whichever thread made the change (the submitter,
// the job's worker, a canceller): implementations must be quick, thread-safe,
// and must not call back into the JobManager.
class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // A new job was queued (a deduplicated request creates none).
  virtual void OnQueued(const JobSnapshot& /*job*/) {}
  // A worker took the job (QUEUED → RUNNING).
  virtual void OnStarted(const JobSnapshot& /*job*/) {}
  // The job entered a stage (job.stage) with this message.
  virtual void OnStage(const JobSnapshot& /*job*/, const std::string& /*message*/) {}
  virtual void OnWarning(const JobSnapshot& /*job*/, const std::string& /*warning*/) {}
  // The job reached a terminal state from `was` (QUEUED or RUNNING);
  // `run_seconds` is how long it ran (0 when it never started).
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

 private:
  friend class JobManager;
  void Push(JobEvent event);
  // A watcher slower than the job loses intermediate progress events, never
  // state changes, warnings or the final event.
  static constexpr size_t kMaxQueued = 256;
  absl::Mutex mu_;
  std::deque<JobEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool final_pushed_ ABSL_GUARDED_BY(mu_) = false;
  bool final_taken_ ABSL_GUARDED_BY(mu_) = false;
};

struct JobManagerOptions {
  // Jobs waiting for a worker beyond this many: RESOURCE_EXHAUSTED.
  int queue_capacity = 16;
  // Journal directory; empty = no journal (jobs forgotten at exit).
  std::string state_dir;
  // Where jobs run (owned). Null → InlineExecutor.
  std::unique_ptr<Executor> executor;
  // The work; null → RunJobWithCore (core::ExportCheckpoint / validation).
  JobRunner runner;
  // Logs / metrics; null → none.
  std::shared_ptr<JobObserver> observer;
  // Runs after an export succeeded (not for dry runs or skipped exports),
  // on the job's thread while the job is still RUNNING (stage
  // "post-export-hook"); its outcome is stored in the job (JobSnapshot::hook)
  // and does not change the job's state (see post_export_hook.h). Null: none.
  std::function<HookOutcome(const JobSnapshot& job, const core::CancelToken& cancel)> post_export;
};

class JobManager {
 public:
  static absl::StatusOr<std::unique_ptr<JobManager>> Create(JobManagerOptions options);
  // Cancels everything still active, then waits for the executor.
  ~JobManager();

  // Queues a job (paths in `spec` must already be resolved and allowed).
  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE after
  // StopAccepting(). `*deduplicated` says whether an existing job came back.
  absl::StatusOr<JobSnapshot> Submit(JobSpec spec, bool* deduplicated = nullptr);
  absl::StatusOr<JobSnapshot> Get(const std::string& id);
  // Oldest first. `state` filters when set; `source_contains` keeps jobs
  // whose checkpoint (or validated folder) contains it.
  std::vector<JobSnapshot> List(std::optional<JobState> state, const std::string& source_contains);
  // QUEUED → CANCELLED at once; RUNNING → asks the job to stop (it reaches
  // CANCELLED when it notices). FAILED_PRECONDITION for a finished job.
  absl::StatusOr<JobSnapshot> Cancel(const std::string& id);
  // A stream that starts with the job's current state; for a finished job
  // that first event is already the final one. With `after_sequence` N > 0
  // (a watcher resuming after event N) the stream holds only events with a
  // sequence above N: the current state first when its sequence is above N,
  // and a finished job's final event always.
  absl::StatusOr<std::shared_ptr<EventStream>> Watch(const std::string& id,
                                                     uint64_t after_sequence = 0);

  // Shutdown, step by step: refuse new jobs; wait for the active ones;
  // cancel what is left.
  void StopAccepting();
  bool accepting();
  // True when no job is queued or running (within `timeout`).
  bool WaitIdle(absl::Duration timeout);
  void CancelAll();

 private:
  struct Job;
  class Sink;
  explicit JobManager(JobManagerOptions options);
  void RunJob(const std::string& id);
  void Publish(Job& job, JobEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  JobEvent StateEvent(const Job& job) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Record(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(Job& job, JobState state, std::optional<core::ExportResult> result,
              absl::Status error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobManagerOptions options_;
  std::unique_ptr<Journal> journal_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  // Dedupe key ("key:<idempotency key>" or "spec:<canonical request>") → id.
  std::map<std::string, std::string> dedupe_ ABSL_GUARDED_BY(mu_);
  int queued_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t id_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

// The production runner: core::ExportCheckpoint for exports, the full
// validator (core::ValidateExportDir) for validations. A validation whose
// checks fail is a result (the report, ExportResult::validation), not an
// error. A failing run hands what it found to progress.OnPartialResult.
absl::StatusOr<core::ExportResult> RunJobWithCore(const JobSpec& spec, core::ProgressSink& progress,
                                                  const core::CancelToken& cancel);

}  // namespace neobert::server
