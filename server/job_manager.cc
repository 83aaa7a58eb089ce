#include "server/job_manager.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/status/error_reason.h"
#include "server/job_manager_internal.h"
#include "server/store/job_codec.h"

namespace neobert::server {

namespace {

std::string RandomHex(int digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("%0*x", digits, rng() & ((uint64_t{1} << (4 * digits)) - 1));
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

bool WantsGpu(const std::string& device) { return absl::StartsWith(device, "cuda"); }

bool IsDryRun(const JobSpec& spec) {
  const auto* e = spec.export_options();
  return e != nullptr && e->dry_run;
}

// A key's job that a retry with the key runs again: one that ended without
// running to the end (an old journal's INTERRUPTED; FAILED for lost leases,
// reason INTERRUPTED) or with any other retryable error (INTERNAL: an I/O
// error, ...). A retry must never be stuck on it.
bool Retriable(const StoredJob& j) {
  if (j.snap.state == JobState::kInterrupted) return true;
  return IsTerminal(j.snap.state) && j.snap.state != JobState::kSucceeded &&
         core::DetailsOf(j.snap.error).retryable;
}

}  // namespace

JobEvent SnapshotEvent(const StoredJob& j) {
  JobEvent e;
  e.job_id = j.snap.id;
  e.state = j.snap.state;
  e.stage = j.snap.stage;
  e.percent = j.snap.percent;
  e.sequence = j.last_sequence;
  if (IsTerminal(j.snap.state)) {
    e.final = true;
    e.result = j.snap.result;
    e.hook = j.snap.hook;
    e.error = j.snap.error;
  }
  return e;
}

// --- EventStream ----------------------------------------------------------

void EventStream::Push(JobEvent event) {
  absl::MutexLock lock(&mu_);
  // The first event may be a snapshot of a job with nothing stored yet (0).
  if (final_pushed_ || (event.sequence <= last_ && !event.final && (event.sequence != 0 || any_))) return;
  // A final event of an earlier run than one this stream has already shown
  // events of (a run that failed retryably before the key ran the job
  // again) is stale: the stream waits for the current run's final event.
  // (Only runs actually shown count: a client's after_sequence beyond the
  // end still gets the final event. Sequences are run << 32 | n:
  // RunSequence in job_manager_internal.h.)
  if (event.final && event.sequence != 0 && (event.sequence >> 32) < (shown_ >> 32)) return;
  shown_ = std::max(shown_, event.sequence);
  any_ = true;
  if (queue_.size() >= kMaxQueued) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->warning.empty() && !it->final && it->stage == event.stage && it->state == event.state) {
        queue_.erase(it);
        break;
      }
    }
  }
  last_ = std::max(last_, event.sequence);
  final_pushed_ = event.final;
  queue_.push_back(std::move(event));
}

std::optional<JobEvent> EventStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](EventStream* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                             return !s->queue_.empty() || s->closed_.has_value();
                           },
                           this),
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

void EventStream::Close(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (!final_pushed_ && !closed_) closed_ = std::move(why);
}

std::optional<absl::Status> EventStream::closed() {
  absl::MutexLock lock(&mu_);
  if (!queue_.empty()) return std::nullopt;
  return closed_;
}

JobEvent JobManager::LiveEvent(const Run& run) const {
  JobEvent e;
  e.job_id = run.snap.id;
  e.state = run.snap.state;
  e.stage = run.snap.stage;
  e.message = run.message;
  e.bytes_done = run.bytes_done;
  e.bytes_total = run.bytes_total;
  e.percent = run.snap.percent;
  return e;
}

void JobManager::Publish(Run& run, JobEvent event, bool progress_only) {
  std::vector<std::shared_ptr<EventStream>> to;
  {
    absl::MutexLock lock(&mu_);
    event.sequence = RunSequence(run.ref.run, ++run.n);
    // Progress events are coalesced: only the newest of a stage waits to be stored.
    if (progress_only && !unsaved_.empty()) {
      for (auto it = unsaved_.rbegin(); it != unsaved_.rend(); ++it) {
        if (it->ref.id != run.ref.id) continue;
        if (it->progress_only && it->event.stage == event.stage) unsaved_.erase(std::next(it).base());
        break;
      }
    }
    if (!event.final) unsaved_.push_back({run.ref, event, progress_only});
    if (auto f = feeds_.find(run.ref.id); f != feeds_.end()) {
      for (auto& w : f->second->watchers) {
        if (auto s = w.lock()) to.push_back(std::move(s));
      }
    }
  }
  for (auto& s : to) s->Push(event);
}

void JobManager::Deliver(const std::string& id, const std::vector<JobEvent>& events) {
  std::vector<std::shared_ptr<EventStream>> to;
  {
    absl::MutexLock lock(&mu_);
    auto f = feeds_.find(id);
    if (f == feeds_.end()) return;
    for (const auto& e : events) {
      f->second->cursor = std::max(f->second->cursor, e.sequence);
      f->second->final_seen |= e.final;
    }
    for (auto& w : f->second->watchers) {
      if (auto s = w.lock()) to.push_back(std::move(s));
    }
    if (f->second->final_seen) feeds_.erase(f);
  }
  for (auto& s : to) {
    for (const auto& e : events) s->Push(e);
  }
}

// --- Life cycle ------------------------------------------------------------

JobManager::JobManager(JobManagerOptions options) : options_(std::move(options)) {
  if (!options_.executor) options_.executor = std::make_unique<InlineExecutor>();
  if (!options_.runner) options_.runner = RunJobWithCore;
  options_.queue_capacity = std::max(1, options_.queue_capacity);
  options_.workers = std::max(1, options_.workers);
  options_.max_attempts = std::max(1, options_.max_attempts);
  replica_.host = HostName();
  replica_.pid = ::getpid();
  replica_.id = options_.replica_id.empty() ? absl::StrCat(replica_.host, "-", replica_.pid, "-", RandomHex(4))
                                            : options_.replica_id;
  replica_.has_gpu = options_.devices && options_.devices->has_gpu();
}

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(JobManagerOptions options) {
  std::unique_ptr<JobManager> m(new JobManager(std::move(options)));
  JobStoreOptions so;
  so.spec = m->options_.job_store;
  so.state_dir = m->options_.state_dir;
  so.sync = m->options_.sync;
  so.replica = m->replica_;
  JobManager* raw = m.get();
  so.log = [raw](const std::string& line) { raw->Log(JobLogLevel::kInfo, line); };
  ASSIGN_OR_RETURN(auto store, OpenJobStore(so));
  m->store_ = std::move(store);
  // Before any worker: jobs a dead server left RUNNING go back to the queue
  // (or fail, past max_attempts), old finished jobs go, the server is known.
  m->PollOnce(/*heartbeat=*/true, /*reap=*/true, /*purge=*/true);
  m->Kick();
  m->poller_ = std::thread([raw] { raw->PollLoop(); });
  return m;
}

JobManager::~JobManager() {
  if (!store_) return;  // Create failed before anything started
  StopAccepting();
  {
    absl::MutexLock lock(&mu_);
    claiming_ = false;
  }
  ReleaseAll();
  options_.executor.reset();  // joins workers while runs_ is still alive
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (poller_.joinable()) poller_.join();
  FlushEvents();
}

std::string JobManager::store_description() const { return store_->Describe(); }

void JobManager::Log(JobLogLevel level, const std::string& message) {
  if (options_.log) options_.log(level, message);
}

// --- Requests ----------------------------------------------------------------

absl::StatusOr<JobSnapshot> JobManager::Submit(JobSpec spec, bool* deduplicated) {
  if (deduplicated) *deduplicated = false;
  if (!accepting()) {
    return core::MakeError(core::ErrorReason::kDraining, "the server is shutting down; not accepting jobs");
  }
  const std::string device = spec.device();
  if (options_.devices) {
    absl::Status here = options_.devices->Check(device);
    // Another server of a shared store may have the GPU this one lacks.
    if (!here.ok() && !(WantsGpu(device) && here.code() == absl::StatusCode::kFailedPrecondition &&
                        store_->shared() && store_->GpuReplicaAlive(options_.lease).value_or(false))) {
      return core::WithDefaultReason(here, core::ErrorReason::kDeviceUnavailable, {{"device", device}});
    }
  }
  SubmitRequest req;
  req.id = absl::StrCat("job-", RandomHex(12));
  req.spec_key = SpecKey(spec);
  req.needs_gpu = WantsGpu(device);
  req.queue_capacity = options_.queue_capacity;
  req.spec = std::move(spec);
  const JobSpec& asked = req.spec;
  auto decide = [&asked](const StoredJob& old, bool by_key) -> absl::StatusOr<SubmitAction> {
    if (by_key) {
      if (std::string field = SpecDifference(old.snap.spec, asked); !field.empty()) {
        return core::WithReason(
            absl::AlreadyExistsError(absl::StrCat("idempotency key '", asked.idempotency_key,
                                                  "' was used for a different request (job ", old.snap.id,
                                                  "): ", field, " differs")),
            core::ErrorReason::kIdempotencyKeyReused, {{"job_id", old.snap.id}, {"field", field}});
      }
      return Retriable(old) ? SubmitAction::kRetryExisting : SubmitAction::kReturnExisting;
    }
    const std::string dest = old.snap.result ? old.snap.result->output_dir : "";
    std::error_code ec;
    const bool gone = old.snap.state == JobState::kSucceeded && !IsDryRun(old.snap.spec) &&
                      !dest.empty() && !std::filesystem::exists(dest, ec);
    // --overwrite asks for a fresh export: only an unfinished equal job is shared then.
    const bool fresh = asked.export_options() && asked.export_options()->overwrite &&
                       old.snap.state == JobState::kSucceeded;
    return gone || fresh ? SubmitAction::kCreateNew : SubmitAction::kReturnExisting;
  };
  ASSIGN_OR_RETURN(auto r, store_->Submit(req, decide));
  if (deduplicated) *deduplicated = r.deduplicated;
  if (r.queued) {
    if (options_.observer) options_.observer->OnQueued(r.job.snap);
    Kick();
  }
  return r.job.snap;
}

absl::StatusOr<JobSnapshot> JobManager::Get(const std::string& id) {
  ASSIGN_OR_RETURN(auto j, store_->Get(id));
  absl::MutexLock lock(&mu_);
  if (auto it = runs_.find(id); it != runs_.end() && j.snap.state == JobState::kRunning) {
    j.snap.stage = it->second->snap.stage;
    j.snap.percent = it->second->snap.percent;
  }
  return j.snap;
}

absl::StatusOr<JobPage> JobManager::ListPage(const ListQuery& query) { return store_->List(query); }

std::vector<JobSnapshot> JobManager::List(std::optional<JobState> state, const std::string& source_contains) {
  std::vector<JobSnapshot> out;
  ListQuery q;
  q.state = state;
  q.source_contains = source_contains;
  q.page_size = kMaxPageSize;
  for (;;) {
    auto page = store_->List(q);
    if (!page.ok()) break;
    for (auto& j : page->jobs) out.push_back(std::move(j.snap));
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

absl::StatusOr<JobSnapshot> JobManager::Cancel(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = runs_.find(id); it != runs_.end()) it->second->cancel.Cancel();
  }
  ASSIGN_OR_RETURN(
      auto j,
      store_->Cancel(id, core::MakeError(core::ErrorReason::kCancelled,
                                         absl::StrCat("job ", id, " was cancelled before it started"))));
  if (j.snap.state == JobState::kCancelled) {
    if (options_.observer) options_.observer->OnFinished(j.snap, JobState::kQueued, 0);
    Deliver(id, {SnapshotEvent(j)});
  }
  return j.snap;
}

absl::StatusOr<std::shared_ptr<EventStream>> JobManager::Watch(const std::string& id, uint64_t after) {
  std::shared_ptr<EventStream> stream(new EventStream(after));
  {
    absl::MutexLock lock(&mu_);
    if (auto it = runs_.find(id); it != runs_.end() && after == 0) {
      // Running here: its live state, then its events as they happen.
      JobEvent first = LiveEvent(*it->second);
      first.sequence = RunSequence(it->second->ref.run, it->second->n);
      const uint64_t shown = first.sequence;
      stream->Push(std::move(first));
      auto& feed = feeds_[id];
      if (!feed) feed = std::make_unique<Feed>();
      // Once the run leaves runs_ the poller reads the store from the cursor:
      // from here, not from an earlier run's events.
      feed->cursor = std::max(feed->cursor, shown);
      feed->watchers.push_back(stream);
      return stream;
    }
  }
  // No flush or finish in flight from here on: for a job running here, the
  // store and unsaved_ together hold every event published so far.
  absl::MutexLock flush(&flush_mu_);
  ASSIGN_OR_RETURN(auto job, store_->Get(id));
  std::vector<JobEvent> first;
  if (after == 0) {
    first.push_back(SnapshotEvent(job));
  } else {
    ASSIGN_OR_RETURN(auto stored, store_->Events({{id, after}}, kMaxPageSize));
    first = std::move(stored);
    if (IsTerminal(job.snap.state) && (first.empty() || !first.back().final)) {
      first.push_back(SnapshotEvent(job));
    }
  }
  absl::MutexLock lock(&mu_);
  if (after != 0 && runs_.count(id)) {
    // Running here: what it published but the poller has not stored yet.
    for (const auto& u : unsaved_) {
      if (u.ref.id == id && u.event.sequence > after) first.push_back(u.event);
    }
  }
  // Pushed before the stream joins the feed, so no live event overtakes them.
  for (auto& e : first) stream->Push(std::move(e));
  if (!IsTerminal(job.snap.state)) {
    auto& feed = feeds_[id];
    if (!feed) feed = std::make_unique<Feed>();
    feed->cursor = std::max({feed->cursor, job.last_sequence, after});
    feed->watchers.push_back(stream);
  }
  return stream;
}

// --- Shutdown ------------------------------------------------------------------

void JobManager::StopAccepting() {
  absl::MutexLock lock(&mu_);
  accepting_ = false;
  // Servers sharing the store take the queue: stop claiming at once. Alone
  // (SQLite, memory), nobody would run the queue before this server's next
  // start (in memory: ever), and watch mode's last scan has just queued the
  // final checkpoints: keep working through it during the grace period
  // (ReleaseAll ends that).
  if (store_ && store_->shared()) claiming_ = false;
}

bool JobManager::accepting() {
  absl::MutexLock lock(&mu_);
  return accepting_;
}

bool JobManager::WaitIdle(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    bool claiming;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(
          absl::Condition(+[](JobManager* m) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                            return m->runs_.empty() && m->claims_in_flight_ == 0;
                          }, this),
          deadline);
      if (!runs_.empty() || claims_in_flight_ != 0) return false;
      claiming = claiming_;
    }
    if (!claiming) return true;
    auto counts = store_->CountQueued();
    if (counts.ok() && counts->queued == 0) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));  // a queued job is being claimed
  }
}

void JobManager::ReleaseAll() {
  if (in_memory()) return CancelAll();
  absl::MutexLock lock(&mu_);
  claiming_ = false;
  for (auto& [id, run] : runs_) {
    run->release = true;
    run->cancel.Cancel();
  }
}

void JobManager::CancelAll() {
  std::vector<std::string> queued;
  {
    absl::MutexLock lock(&mu_);
    claiming_ = false;
    for (auto& [id, run] : runs_) {
      run->shutdown = true;
      run->cancel.Cancel();
    }
  }
  if (!in_memory()) return;
  for (const auto& j : List(JobState::kQueued, "")) {
    // Nobody would run them again: the server stopped under them, which a
    // client may retry (INTERRUPTED).
    auto c = store_->Cancel(
        j.id, core::WithReason(absl::CancelledError(absl::StrCat("job ", j.id,
                                                                 " was cancelled: the server is stopping")),
                               core::ErrorReason::kInterrupted));
    if (c.ok() && c->snap.state == JobState::kCancelled) {
      if (options_.observer) options_.observer->OnFinished(c->snap, JobState::kQueued, 0);
      Deliver(j.id, {SnapshotEvent(*c)});
    }
  }
}

void JobManager::CloseStreams() {
  std::vector<std::pair<std::string, std::shared_ptr<EventStream>>> open;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, feed] : feeds_) {
      for (auto& w : feed->watchers) {
        if (auto s = w.lock()) open.emplace_back(id, std::move(s));
      }
    }
  }
  for (auto& [id, stream] : open) {
    stream->Close(core::MakeError(
        core::ErrorReason::kDraining,
        absl::StrCat("server ", replica_.id, " is shutting down before job ", id,
                     " finished; the job stays in the job store: watch it again (after_sequence) on "
                     "another server or after the restart"),
        {{"job_id", id}}));
  }
}

absl::StatusOr<int64_t> JobManager::PurgeNow() { return store_->Purge(options_.retention); }

}  // namespace neobert::server
