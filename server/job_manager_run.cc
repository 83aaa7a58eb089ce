// The JobManager's workers: claim a job from the store, run it, store how it
// ended (or give it back when the server drains).
#include "absl/strings/str_cat.h"
#include "core/status/error_reason.h"
#include "server/job_manager.h"
#include "server/job_manager_internal.h"

namespace neobert::server {

namespace {

// How often and how patiently a finished job's outcome is written when the
// store is briefly unreachable (past that the lease runs out and another
// server re-runs the job, which then finds its export already published).
constexpr int kFinishTries = 5;
constexpr absl::Duration kFinishRetry = absl::Milliseconds(500);

}  // namespace

// --- Progress of a running job ---------------------------------------------

// Adapts core progress calls to job events (called on the job's thread).
class JobManager::Sink final : public JobProgress {
 public:
  Sink(JobManager* m, std::shared_ptr<Run> run) : m_(m), run_(std::move(run)) {}
  void OnStage(const std::string& stage, const std::string& message, uint64_t total) override {
    JobEvent e;
    JobSnapshot snap;
    {
      absl::MutexLock lock(&m_->mu_);
      run_->snap.stage = stage;
      run_->message = message;
      run_->bytes_total = total;
      run_->bytes_done = 0;
      run_->snap.percent = 0;
      run_->published_percent = 0;
      e = m_->LiveEvent(*run_);
      snap = run_->snap;
    }
    if (m_->options_.observer) m_->options_.observer->OnStage(snap, message);
    m_->Publish(*run_, std::move(e), false);
  }
  void OnBytes(uint64_t done) override {
    JobEvent e;
    {
      absl::MutexLock lock(&m_->mu_);
      run_->bytes_done = done;
      if (run_->bytes_total == 0) return;
      run_->snap.percent = std::min(100.0, 100.0 * static_cast<double>(done) / run_->bytes_total);
      // One event per whole percent keeps streams small on big checkpoints.
      const int whole = static_cast<int>(run_->snap.percent);
      if (whole == run_->published_percent) return;
      run_->published_percent = whole;
      e = m_->LiveEvent(*run_);
    }
    m_->Publish(*run_, std::move(e), true);
  }
  void OnWarning(const std::string& message) override {
    JobEvent e;
    JobSnapshot snap;
    {
      absl::MutexLock lock(&m_->mu_);
      e = m_->LiveEvent(*run_);
      snap = run_->snap;
    }
    e.warning = message;
    if (m_->options_.observer) m_->options_.observer->OnWarning(snap, message);
    m_->Publish(*run_, std::move(e), false);
  }
  void OnPartialResult(const core::ExportResult& partial) override { partial_ = partial; }
  // What a failing run found (see JobProgress::OnPartialResult).
  std::optional<core::ExportResult> partial() { return std::move(partial_); }

 private:
  JobManager* m_;
  std::shared_ptr<Run> run_;
  std::optional<core::ExportResult> partial_;  // the job's thread only
};

// Schedules claim tasks for the free worker slots. A task claims at most one
// job; one that ran a job kicks again, so a busy queue keeps every slot busy.
void JobManager::Kick() {
  int n = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!claiming_) return;
    n = options_.workers - tasks_;
    if (n <= 0) return;
    tasks_ += n;
  }
  for (int i = 0; i < n; ++i) options_.executor->Schedule([this] { WorkerTask(); });
}

void JobManager::WorkerTask() {
  bool claiming;
  {
    absl::MutexLock lock(&mu_);
    claiming = claiming_;
    if (claiming) ++claims_in_flight_;
  }
  bool ran = false;
  if (claiming) {
    auto claimed = store_->Claim({.owner = replica_.id, .lease = options_.lease, .has_gpu = replica_.has_gpu});
    if (!claimed.ok()) {
      Log(JobLogLevel::kError, absl::StrCat("job store: claim failed: ", claimed.status().message()));
    }
    if (claimed.ok() && claimed->has_value()) {
      RunClaimed(std::move(**claimed));  // ends the claim once the run is in runs_
      ran = true;
    } else {
      absl::MutexLock lock(&mu_);
      --claims_in_flight_;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    --tasks_;
  }
  if (ran) Kick();
}

std::shared_ptr<JobManager::Run> JobManager::StartRun(const StoredJob& claimed) {
  auto run = std::make_shared<Run>();
  run->ref = {claimed.snap.id, replica_.id, claimed.run};
  run->snap = claimed.snap;
  run->attempt = claimed.attempts;
  const std::string& id = claimed.snap.id;
  JobEvent running;
  std::vector<std::shared_ptr<EventStream>> watchers;
  {
    absl::MutexLock lock(&mu_);
    runs_[id] = run;
    --claims_in_flight_;  // WorkerTask's claim: now visible as a run
    running = LiveEvent(*run);
    running.sequence = RunSequence(run->ref.run, 1);  // stored by the claim
    if (auto f = feeds_.find(id); f != feeds_.end()) {
      for (auto& w : f->second->watchers) {
        if (auto s = w.lock()) watchers.push_back(std::move(s));
      }
    }
  }
  if (run->attempt > 1) {
    Log(JobLogLevel::kInfo, absl::StrCat("job ", id, ": attempt ", run->attempt, " of ", options_.max_attempts,
                                         " starts on ", replica_.id));
  }
  if (options_.observer) options_.observer->OnStarted(run->snap);
  for (auto& s : watchers) s->Push(running);
  return run;
}

absl::StatusOr<core::ExportResult> JobManager::Execute(const std::shared_ptr<Run>& run, JobSpec spec,
                                                       std::optional<core::ExportResult>* partial) {
  // The device is chosen here, by the server that runs the job.
  const std::string asked = spec.device();
  absl::StatusOr<std::string> device =
      options_.devices ? options_.devices->Assign(asked) : absl::StatusOr<std::string>(asked.empty() ? "auto" : asked);
  if (!device.ok()) {
    return core::WithDefaultReason(device.status(), core::ErrorReason::kDeviceUnavailable,
                                   {{"device", asked}});
  }
  spec.set_device(*device);
  Sink sink(this, run);
  absl::StatusOr<core::ExportResult> result = options_.runner(spec, sink, run->cancel);
  if (!result.ok()) *partial = sink.partial();
  return result;
}

HookOutcome JobManager::RunHook(Run& run, core::ExportResult& result) {
  JobEvent e;
  JobSnapshot snap;
  {
    absl::MutexLock lock(&mu_);
    run.snap.stage = "post-export-hook";
    run.message = absl::StrCat("running the post-export hook on ", result.output_dir);
    run.bytes_done = run.bytes_total = 0;
    e = LiveEvent(run);
    snap = run.snap;
  }
  Publish(run, std::move(e), false);
  snap.result = result;
  HookOutcome hook = options_.post_export(snap, run.attempt, run.cancel);
  if (hook.ran && hook.exit_code != 0) {
    result.warnings.push_back(absl::StrCat("post-export hook failed: ", hook.message,
                                           " (the export itself succeeded)"));
  }
  return hook;
}

FinishRequest JobManager::Outcome(Run& run, absl::StatusOr<core::ExportResult> result,
                                  std::optional<core::ExportResult> partial, const HookOutcome& hook,
                                  bool shutdown) {
  const std::string& id = run.ref.id;
  FinishRequest req;
  req.ref = run.ref;
  req.hook = hook;
  if (result.ok()) {
    req.state = JobState::kSucceeded;
    req.result = std::move(*result);
  } else if (run.cancel.cancelled() || result.status().code() == absl::StatusCode::kCancelled) {
    // Stopped by the shutdown (in memory: nobody will run it again): the
    // server stopped under it, which a client may retry; else asked for.
    req.state = JobState::kCancelled;
    req.result = std::move(partial);
    req.error = shutdown ? core::WithReason(absl::CancelledError(absl::StrCat(
                                                "job ", id, " was cancelled: the server is stopping")),
                                            core::ErrorReason::kInterrupted)
                         : core::MakeError(core::ErrorReason::kCancelled, absl::StrCat("job ", id, " was cancelled"));
  } else {
    // A failed job keeps what it found (notes, warnings, the failing checks).
    req.state = JobState::kFailed;
    req.result = std::move(partial);
    req.error = result.status();
  }
  return req;
}

void JobManager::StoreOutcome(const std::shared_ptr<Run>& run, FinishRequest req) {
  const std::string id = run->ref.id;
  absl::StatusOr<StoredJob> done = absl::UnknownError("not stored");
  {
    // After any flush in flight: the run's events are stored before its end.
    absl::MutexLock flush(&flush_mu_);
    JobEvent final;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = unsaved_.begin(); it != unsaved_.end();) {
        if (it->ref.id == id) {
          req.events.push_back(std::move(it->event));
          it = unsaved_.erase(it);
        } else {
          ++it;
        }
      }
      if (req.state == JobState::kSucceeded) run->snap.percent = 100;
      final = LiveEvent(*run);
      final.state = req.state;
      final.final = true;
      final.result = req.result;
      final.hook = req.hook;
      final.error = req.error;
      final.sequence = RunSequence(run->ref.run, ++run->n);
    }
    req.events.push_back(final);
    for (int i = 0; i < kFinishTries; ++i) {
      done = store_->Finish(req);
      if (done.ok() || done.status().code() == absl::StatusCode::kAborted) break;
      absl::SleepFor(kFinishRetry);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    runs_.erase(id);
  }
  if (!done.ok()) {
    Log(JobLogLevel::kError, absl::StrCat("job ", id, ": its outcome (", JobStateName(req.state),
                                          ") could not be stored: ", done.status().message()));
    return;
  }
  if (options_.observer) {
    options_.observer->OnFinished(
        done->snap, JobState::kRunning,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run->started).count());
  }
  Deliver(id, {req.events.back()});
}

void JobManager::RunClaimed(StoredJob claimed) {
  const std::shared_ptr<Run> run = StartRun(claimed);
  const std::string id = claimed.snap.id;
  std::optional<core::ExportResult> partial;
  absl::StatusOr<core::ExportResult> result = Execute(run, claimed.snap.spec, &partial);
  HookOutcome hook;
  // The hook runs at least once per export a job publishes: a later attempt
  // that finds the export already there (its earlier attempt published it,
  // then its server died, maybe before the hook ran) runs it again.
  if (result.ok() && options_.post_export && claimed.snap.spec.kind() == JobKind::kExport &&
      !result->dry_run && (!result->skipped || run->attempt > 1)) {
    hook = RunHook(*run, *result);
  }

  bool release, lost, shutdown;
  {
    absl::MutexLock lock(&mu_);
    release = run->release;
    lost = run->lost;
    shutdown = run->shutdown;
  }
  auto forget = [&] {
    absl::MutexLock lock(&mu_);
    runs_.erase(id);
  };
  if (lost) {
    forget();
    Log(JobLogLevel::kWarn, absl::StrCat("job ", id, ": its lease was lost (taken over elsewhere); this run's "
                                         "outcome is dropped"));
    return;
  }
  if (release && !result.ok()) {
    absl::MutexLock flush(&flush_mu_);
    absl::Status s = store_->Release(
        run->ref, absl::StrCat("server ", replica_.id, " is shutting down; queued again for another server"));
    forget();
    Log(s.ok() ? JobLogLevel::kInfo : JobLogLevel::kError,
        s.ok() ? absl::StrCat("job ", id, " released to the store (draining)")
               : absl::StrCat("job ", id, ": release failed (its lease will expire): ", s.message()));
    return;
  }
  StoreOutcome(run, Outcome(*run, std::move(result), std::move(partial), hook, shutdown));
}

}  // namespace neobert::server
