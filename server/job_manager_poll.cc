// The JobManager's store poller: one thread that, every poll interval,
// stores the events of jobs running here, checks their cancel requests and
// renews their leases, re-queues jobs whose lease expired, claims work
// queued by other servers, reads stored events for watchers of jobs running
// elsewhere, and now and then applies retention.
#include <map>

#include "absl/strings/str_cat.h"
#include "core/status/error_reason.h"
#include "server/job_manager.h"
#include "server/job_manager_internal.h"

namespace neobert::server {

namespace {
// Expired leases are looked for this often (takeover time is at most
// lease + this + one poll interval).
constexpr absl::Duration kReapEvery = absl::Milliseconds(500);
// Watched jobs running elsewhere: their row is read this often, so a stream
// ends even if its final event cannot be read.
constexpr int kRowCheckTicks = 10;
// Store errors in the poll loop: at most one log line per this long.
constexpr absl::Duration kErrorLogEvery = absl::Seconds(10);
}  // namespace

void JobManager::PollLoop() {
  absl::Time next_heartbeat = absl::Now() + options_.lease / 3;
  absl::Time next_reap = absl::Now() + kReapEvery;
  absl::Time next_purge = absl::Now() + options_.purge_interval;
  for (int tick = 1;; ++tick) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll)) return;
    }
    const absl::Time now = absl::Now();
    const bool heartbeat = now >= next_heartbeat, reap = now >= next_reap, purge = now >= next_purge;
    if (heartbeat) next_heartbeat = now + options_.lease / 3;
    if (reap) next_reap = now + kReapEvery;
    if (purge) next_purge = now + options_.purge_interval;
    PollOnce(heartbeat, reap, purge);
    PollFeeds(tick % kRowCheckTicks == 0);
  }
}

void JobManager::PollOnce(bool heartbeat, bool reap, bool purge) {
  auto failed = [this](const char* what, const absl::Status& s) {
    {
      absl::MutexLock lock(&mu_);
      if (absl::Now() - last_error_log_ < kErrorLogEvery) return;
      last_error_log_ = absl::Now();
    }
    Log(JobLogLevel::kError, absl::StrCat("job store: ", what, ": ", s.message()));
  };
  FlushEvents();
  CheckOwnedRuns(heartbeat);
  if (reap) {
    auto changed = store_->ReapExpired(options_.max_attempts);
    if (!changed.ok()) failed("looking for expired leases", changed.status());
    for (const auto& j : changed.ok() ? *changed : std::vector<StoredJob>{}) {
      Log(j.snap.state == JobState::kQueued ? JobLogLevel::kWarn : JobLogLevel::kError,
          absl::StrCat("job ", j.snap.id, ": lease expired; now ", JobStateName(j.snap.state), " (",
                       j.snap.state == JobState::kQueued ? j.snap.stage : std::string(j.snap.error.message()),
                       ")"));
      if (j.snap.state == JobState::kQueued && options_.observer) options_.observer->OnQueued(j.snap);
    }
  }
  bool free_slot;
  {
    absl::MutexLock lock(&mu_);
    free_slot = claiming_ && tasks_ < options_.workers;
  }
  if (free_slot) {
    auto counts = store_->CountQueued();
    if (!counts.ok()) {
      failed("counting queued jobs", counts.status());
    } else if ((replica_.has_gpu ? counts->queued : counts->queued_cpu) > 0) {
      Kick();
    }
  }
  if (purge) {
    auto n = store_->Purge(options_.retention);
    if (!n.ok()) failed("retention", n.status());
    else if (*n > 0) Log(JobLogLevel::kInfo, absl::StrCat("job store: retention purged ", *n, " finished job(s)"));
  }
}

void JobManager::FlushEvents() {
  absl::MutexLock flush(&flush_mu_);
  std::vector<Unsaved> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(unsaved_);
  }
  if (batch.empty()) return;
  std::vector<std::pair<RunRef, JobEvent>> events;
  events.reserve(batch.size());
  for (auto& u : batch) events.emplace_back(std::move(u.ref), std::move(u.event));
  if (absl::Status s = store_->AppendEvents(events); !s.ok()) {
    Log(JobLogLevel::kWarn, absl::StrCat("job store: ", events.size(), " progress event(s) not stored: ", s.message()));
  }
}

void JobManager::CheckOwnedRuns(bool renew) {
  std::vector<RunRef> refs;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, run] : runs_) refs.push_back(run->ref);
  }
  // Without other servers, cancels arrive here directly: only leases matter.
  if (!renew && (refs.empty() || !store_->shared())) return;
  auto st = store_->Heartbeat(replica_, options_.lease, renew, refs);
  if (!st.ok()) {
    Log(JobLogLevel::kError, absl::StrCat("job store: heartbeat failed: ", st.status().message()));
    return;
  }
  std::vector<std::string> lost;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& id : st->cancel_requested) {
      if (auto it = runs_.find(id); it != runs_.end()) it->second->cancel.Cancel();
    }
    for (const auto& id : st->lost) {
      auto it = runs_.find(id);
      if (it == runs_.end() || it->second->lost) continue;
      it->second->lost = true;
      it->second->cancel.Cancel();
      lost.push_back(id);
    }
  }
  for (const auto& id : lost) {
    Log(JobLogLevel::kWarn, absl::StrCat("job ", id, ": no longer ours in the store (lease expired); stopping it here"));
  }
}

void JobManager::PollFeeds(bool check_rows) {
  std::vector<std::pair<std::string, uint64_t>> after;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = feeds_.begin(); it != feeds_.end();) {
      auto& w = it->second->watchers;
      w.erase(std::remove_if(w.begin(), w.end(), [](const auto& p) { return p.expired(); }), w.end());
      if (w.empty()) {
        it = feeds_.erase(it);
        continue;
      }
      // A job running here reaches its watchers directly.
      if (!runs_.count(it->first)) after.emplace_back(it->first, it->second->cursor);
      ++it;
    }
  }
  if (after.empty()) return;
  auto events = store_->Events(after, kMaxPageSize);
  if (events.ok()) {
    std::map<std::string, std::vector<JobEvent>> by_job;
    for (auto& e : *events) by_job[e.job_id].push_back(std::move(e));
    for (const auto& [id, evs] : by_job) Deliver(id, evs);
  }
  if (!check_rows) return;
  for (const auto& [id, cursor] : after) {
    auto job = store_->Get(id);
    if (job.ok() && IsTerminal(job->snap.state)) {
      Deliver(id, {SnapshotEvent(*job)});
    } else if (!job.ok() && job.status().code() == absl::StatusCode::kNotFound) {
      JobEvent gone;
      gone.job_id = id;
      gone.state = JobState::kFailed;
      gone.final = true;
      gone.error = core::MakeError(core::ErrorReason::kJobNotFound,
                                   absl::StrCat("job ", id, " is no longer in the store (purged)"),
                                   {{"job_id", id}});
      Deliver(id, {gone});
    }
  }
}

}  // namespace neobert::server
