#include "server/job_manager.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status/error_reason.h"

namespace neobert::server {

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Everything that makes two requests the same piece of work.
std::string SpecKey(const JobSpec& s) {
  if (s.kind == JobKind::kValidate) {
    return absl::StrCat("spec:validate\n", s.validate_dir, "\n", s.validate_source,
                        s.validate_strict ? "\nstrict" : "");
  }
  const auto& o = s.export_options;
  std::string key = absl::StrCat("spec:export\n", o.checkpoint_dir, "\n", o.output_dir,
                                 "\noverwrite=", o.overwrite, "\ndry_run=", o.dry_run,
                                 "\nprefer_newest=", o.prefer_newest_file, "\nvalidate=", o.validate);
  for (const auto& [k, v] : core::OutputAffectingOptions(o)) absl::StrAppend(&key, "\n", k, "=", v);
  return key;
}

}  // namespace

// --- EventStream ----------------------------------------------------------

void EventStream::Push(JobEvent event) {
  absl::MutexLock lock(&mu_);
  if (final_pushed_) return;
  if (queue_.size() >= kMaxQueued) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->warning.empty() && !it->final && it->stage == event.stage && it->state == event.state) {
        queue_.erase(it);
        break;
      }
    }
  }
  final_pushed_ = event.final;
  queue_.push_back(std::move(event));
}

std::optional<JobEvent> EventStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](std::deque<JobEvent>* q) { return !q->empty(); }, &queue_),
                       timeout);
  if (queue_.empty()) return std::nullopt;
  JobEvent e = std::move(queue_.front());
  queue_.pop_front();
  if (e.final) final_taken_ = true;
  return e;
}

bool EventStream::done() {
  absl::MutexLock lock(&mu_);
  return final_taken_;
}

// --- JobManager -----------------------------------------------------------

struct JobManager::Job {
  JobSnapshot snap;
  std::string dedupe_key;
  core::CancelToken cancel;
  uint64_t sequence = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string message;
  int published_percent = -1;
  std::vector<std::weak_ptr<EventStream>> watchers;
  // When a worker took it (for the observer's run time); unset while queued.
  std::optional<std::chrono::steady_clock::time_point> started;
};

// Adapts core progress calls to job events (called on the job's thread).
class JobManager::Sink final : public core::ProgressSink {
 public:
  Sink(JobManager* m, std::string id) : m_(m), id_(std::move(id)) {}
  void OnStage(const std::string& stage, const std::string& message, uint64_t total) override {
    absl::MutexLock lock(&m_->mu_);
    Job& j = *m_->jobs_.at(id_);
    j.snap.stage = stage;
    j.message = message;
    j.bytes_total = total;
    j.bytes_done = 0;
    j.snap.percent = 0;
    j.published_percent = 0;
    if (m_->options_.observer) m_->options_.observer->OnStage(j.snap, message);
    m_->Publish(j, m_->StateEvent(j));
  }
  void OnBytes(uint64_t done) override {
    absl::MutexLock lock(&m_->mu_);
    Job& j = *m_->jobs_.at(id_);
    j.bytes_done = done;
    if (j.bytes_total == 0) return;
    j.snap.percent = std::min(100.0, 100.0 * static_cast<double>(done) / j.bytes_total);
    // One event per whole percent keeps streams small on big checkpoints.
    const int whole = static_cast<int>(j.snap.percent);
    if (whole == j.published_percent) return;
    j.published_percent = whole;
    m_->Publish(j, m_->StateEvent(j));
  }
  void OnWarning(const std::string& message) override {
    absl::MutexLock lock(&m_->mu_);
    Job& j = *m_->jobs_.at(id_);
    JobEvent e = m_->StateEvent(j);
    e.warning = message;
    if (m_->options_.observer) m_->options_.observer->OnWarning(j.snap, message);
    m_->Publish(j, std::move(e));
  }
  void OnPartialResult(const core::ExportResult& partial) override { partial_ = partial; }
  // What a failing run found (see core::ProgressSink::OnPartialResult).
  std::optional<core::ExportResult> partial() { return std::move(partial_); }

 private:
  JobManager* m_;
  std::string id_;
  std::optional<core::ExportResult> partial_;  // the job's thread only
};

JobManager::JobManager(JobManagerOptions options) : options_(std::move(options)) {
  if (!options_.executor) options_.executor = std::make_unique<InlineExecutor>();
  if (!options_.runner) options_.runner = RunJobWithCore;
  if (options_.queue_capacity < 1) options_.queue_capacity = 1;
}

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(JobManagerOptions options) {
  std::unique_ptr<JobManager> m(new JobManager(std::move(options)));
  if (!m->options_.state_dir.empty()) {
    std::vector<JobSnapshot> recovered;
    auto journal = Journal::Open(m->options_.state_dir, &recovered);
    if (!journal.ok()) return journal.status();
    m->journal_ = std::move(*journal);
    absl::MutexLock lock(&m->mu_);
    for (auto& snap : recovered) {
      auto job = std::make_unique<Job>();
      job->snap = std::move(snap);
      const std::string id = job->snap.id;
      if (!job->snap.spec.idempotency_key.empty()) {
        job->dedupe_key = "key:" + job->snap.spec.idempotency_key;
      } else {
        job->dedupe_key = SpecKey(job->snap.spec);
      }
      // Only a success can be returned again for an equal request; a key
      // always maps to its job.
      if ((job->snap.state == JobState::kSucceeded && job->snap.spec.kind == JobKind::kExport) ||
          job->dedupe_key.rfind("key:", 0) == 0) {
        m->dedupe_[job->dedupe_key] = id;
      }
      m->order_.push_back(id);
      m->jobs_[id] = std::move(job);
    }
  }
  return m;
}

JobManager::~JobManager() {
  StopAccepting();
  CancelAll();
  options_.executor.reset();  // joins workers while jobs_ is still alive
}

std::string JobManager::NewId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  for (;;) {
    std::string id = absl::StrFormat("job-%08x%04x", static_cast<uint32_t>(rng()),
                                     static_cast<uint32_t>(++id_counter_ & 0xffff));
    if (!jobs_.count(id)) return id;
  }
}

JobEvent JobManager::StateEvent(const Job& j) const {
  JobEvent e;
  e.job_id = j.snap.id;
  e.state = j.snap.state;
  e.stage = j.snap.stage;
  e.message = j.message;
  e.bytes_done = j.bytes_done;
  e.bytes_total = j.bytes_total;
  e.percent = j.snap.percent;
  if (IsTerminal(j.snap.state)) {
    e.final = true;
    e.result = j.snap.result;
    e.hook = j.snap.hook;
    e.error = j.snap.error;
  }
  return e;
}

void JobManager::Publish(Job& j, JobEvent event) {
  event.sequence = ++j.sequence;
  std::vector<std::weak_ptr<EventStream>> alive;
  for (auto& w : j.watchers) {
    if (auto s = w.lock()) {
      s->Push(event);
      alive.push_back(w);
    }
  }
  j.watchers = event.final ? std::vector<std::weak_ptr<EventStream>>{} : std::move(alive);
}

void JobManager::Record(const Job& j) {
  if (!journal_) return;
  // A journal failure must not take the job down with it; the job's own
  // outcome still reaches its watchers.
  (void)journal_->Append(j.snap);
}

void JobManager::Finish(Job& j, JobState state, std::optional<core::ExportResult> result,
                        absl::Status error) {
  const JobState was = j.snap.state;
  j.snap.state = state;
  j.snap.result = std::move(result);
  j.snap.error = std::move(error);
  j.snap.finished_unix_ms = NowUnixMs();
  if (state == JobState::kSucceeded) j.snap.percent = 100;
  // A finished validation is never reused for an equal request: the folder
  // may have changed since, and re-checking it is the point.
  const bool reusable = state == JobState::kSucceeded && j.snap.spec.kind == JobKind::kExport;
  if (!reusable && j.dedupe_key.rfind("spec:", 0) == 0) {
    auto it = dedupe_.find(j.dedupe_key);
    if (it != dedupe_.end() && it->second == j.snap.id) dedupe_.erase(it);
  }
  Record(j);
  // Observed before watchers hear of it: a client that saw the final event
  // then finds the job in the logs and metrics.
  if (options_.observer) {
    const double run_seconds =
        j.started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *j.started).count()
                  : 0.0;
    options_.observer->OnFinished(j.snap, was, run_seconds);
  }
  Publish(j, StateEvent(j));
}

absl::StatusOr<JobSnapshot> JobManager::Submit(JobSpec spec, bool* deduplicated) {
  if (deduplicated) *deduplicated = false;
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    if (!accepting_) return absl::UnavailableError("the server is shutting down; not accepting jobs");
    const std::string spec_key = SpecKey(spec);
    const std::string dedupe_key =
        spec.idempotency_key.empty() ? spec_key : "key:" + spec.idempotency_key;
    if (auto it = dedupe_.find(dedupe_key); it != dedupe_.end()) {
      Job& old = *jobs_.at(it->second);
      if (!spec.idempotency_key.empty() && SpecKey(old.snap.spec) != spec_key) {
        return absl::InvalidArgumentError(absl::StrCat("idempotency key '", spec.idempotency_key,
                                                       "' was used for a different request (job ",
                                                       old.snap.id, ")"));
      }
      // A key whose job ended with a retryable error (the server stopped
      // under it, an I/O error) runs again: a retry must never be stuck.
      const bool retry = !spec.idempotency_key.empty() && IsTerminal(old.snap.state) &&
                         old.snap.state != JobState::kSucceeded &&
                         core::DetailsOf(old.snap.error).retryable;
      const std::string dest = old.snap.result ? old.snap.result->output_dir : "";
      const bool gone = old.snap.state == JobState::kSucceeded && !old.snap.spec.export_options.dry_run &&
                        !dest.empty() && !std::filesystem::exists(dest);
      // --overwrite asks for a fresh export: only an unfinished equal job
      // is shared then.
      const bool fresh = spec.kind == JobKind::kExport && spec.export_options.overwrite &&
                         old.snap.state == JobState::kSucceeded;
      if (!retry && (!spec.idempotency_key.empty() || !(gone || fresh))) {
        if (deduplicated) *deduplicated = true;
        return old.snap;
      }
    }
    if (queued_ >= options_.queue_capacity) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the job queue is full (", options_.queue_capacity, " waiting); retry later"));
    }
    auto job = std::make_unique<Job>();
    id = NewId();
    job->snap.id = id;
    job->snap.spec = std::move(spec);
    job->snap.state = JobState::kQueued;
    job->snap.stage = "queued";
    job->snap.created_unix_ms = NowUnixMs();
    job->dedupe_key = dedupe_key;
    dedupe_[dedupe_key] = id;
    ++queued_;
    Record(*job);
    order_.push_back(id);
    if (options_.observer) options_.observer->OnQueued(job->snap);
    jobs_[id] = std::move(job);
  }
  JobSnapshot snap;
  {
    absl::MutexLock lock(&mu_);
    snap = jobs_.at(id)->snap;
  }
  options_.executor->Schedule([this, id] { RunJob(id); });
  return snap;
}

void JobManager::RunJob(const std::string& id) {
  JobSpec spec;
  Job* job = nullptr;
  {
    absl::MutexLock lock(&mu_);
    job = jobs_.at(id).get();
    if (job->snap.state != JobState::kQueued) return;  // cancelled while queued
    --queued_;
    ++running_;
    job->snap.state = JobState::kRunning;
    job->snap.stage = "starting";
    job->started = std::chrono::steady_clock::now();
    Record(*job);
    if (options_.observer) options_.observer->OnStarted(job->snap);
    Publish(*job, StateEvent(*job));
    spec = job->snap.spec;
  }
  Sink sink(this, id);
  absl::StatusOr<core::ExportResult> result = options_.runner(spec, sink, job->cancel);
  HookOutcome hook;
  if (result.ok() && options_.post_export && spec.kind == JobKind::kExport && !result->skipped &&
      !result->dry_run) {
    JobSnapshot snap;
    {
      absl::MutexLock lock(&mu_);
      job->snap.stage = "post-export-hook";
      job->message = absl::StrCat("running the post-export hook on ", result->output_dir);
      job->bytes_done = job->bytes_total = 0;
      Publish(*job, StateEvent(*job));
      snap = job->snap;
    }
    snap.result = *result;
    hook = options_.post_export(snap, job->cancel);
    if (hook.ran && hook.exit_code != 0) {
      result->warnings.push_back(absl::StrCat("post-export hook failed: ", hook.message,
                                              " (the export itself succeeded)"));
    }
  }
  absl::MutexLock lock(&mu_);
  job->snap.hook = hook;
  --running_;
  if (result.ok()) {
    Finish(*job, JobState::kSucceeded, std::move(*result), absl::OkStatus());
  } else if (job->cancel.cancelled() || result.status().code() == absl::StatusCode::kCancelled) {
    // Cancelled by the drain at shutdown: the server stopped under it, which
    // a client may retry; else someone asked for it.
    Finish(*job, JobState::kCancelled, sink.partial(),
           accepting_ ? core::MakeError(core::ErrorReason::kCancelled,
                                        absl::StrCat("job ", id, " was cancelled"))
                      : core::WithReason(absl::CancelledError(absl::StrCat(
                                             "job ", id, " was cancelled: the server is stopping")),
                                         core::ErrorReason::kInterrupted));
  } else {
    Finish(*job, JobState::kFailed, sink.partial(), result.status());
  }
}

absl::StatusOr<JobSnapshot> JobManager::Get(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  return it->second->snap;
}

std::vector<JobSnapshot> JobManager::List(std::optional<JobState> state,
                                          const std::string& source_contains) {
  absl::MutexLock lock(&mu_);
  std::vector<JobSnapshot> out;
  for (const auto& id : order_) {
    const JobSnapshot& s = jobs_.at(id)->snap;
    if (state && s.state != *state) continue;
    if (!source_contains.empty() && JobSource(s.spec).find(source_contains) == std::string::npos) {
      continue;
    }
    out.push_back(s);
  }
  return out;
}

absl::StatusOr<JobSnapshot> JobManager::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  Job& j = *it->second;
  if (IsTerminal(j.snap.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " already finished (", JobStateName(j.snap.state), ")"));
  }
  j.cancel.Cancel();
  if (j.snap.state == JobState::kQueued) {
    --queued_;
    Finish(j, JobState::kCancelled, std::nullopt,
           absl::CancelledError(absl::StrCat("job ", id, " was cancelled before it started")));
  }
  return j.snap;
}

absl::StatusOr<std::shared_ptr<EventStream>> JobManager::Watch(const std::string& id,
                                                               uint64_t after_sequence) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  Job& j = *it->second;
  auto stream = std::make_shared<EventStream>();
  JobEvent first = StateEvent(j);
  first.sequence = j.sequence;
  if (after_sequence == 0 || first.final || first.sequence > after_sequence) {
    stream->Push(std::move(first));
  }
  if (!IsTerminal(j.snap.state)) j.watchers.push_back(stream);
  return stream;
}

void JobManager::StopAccepting() {
  absl::MutexLock lock(&mu_);
  accepting_ = false;
}

bool JobManager::accepting() {
  absl::MutexLock lock(&mu_);
  return accepting_;
}

bool JobManager::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](JobManager* m) ABSL_NO_THREAD_SAFETY_ANALYSIS { return m->queued_ + m->running_ == 0; },
          this),
      timeout);
}

void JobManager::CancelAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, job] : jobs_) {
    if (IsTerminal(job->snap.state)) continue;
    job->cancel.Cancel();
    if (job->snap.state == JobState::kQueued) {
      --queued_;
      Finish(*job, JobState::kCancelled, std::nullopt,
             core::WithReason(absl::CancelledError(absl::StrCat(
                                  "job ", id, " was cancelled: the server is stopping")),
                              core::ErrorReason::kInterrupted));
    }
  }
}

}  // namespace neobert::server
