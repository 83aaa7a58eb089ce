// JobStore over SQL: every method one transaction of a few statements that
// SQLite and PostgreSQL both understand (dialect tokens: sql_db.h).
#include "server/store/sql_store.h"

#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/status/error_reason.h"
#include "server/store/job_codec.h"

namespace neobert::server::sql {

// --- Pool and transactions ---------------------------------------------------

absl::StatusOr<Pool::Lease> Pool::Get() {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Pool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !p->idle_.empty() || p->open_count_ < p->size_; },
        this));
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_count_;
  }
  auto c = open_();
  if (!c.ok()) {
    absl::MutexLock lock(&mu_);
    --open_count_;
    return c.status();
  }
  return Lease(this, std::move(*c));
}

void Pool::Return(std::unique_ptr<Connection> c) {
  absl::MutexLock lock(&mu_);
  if (c->Broken()) {
    --open_count_;
    return;  // closed here; reopened by the next Get
  }
  idle_.push_back(std::move(c));
}

absl::Status Write(Pool& pool, const std::function<absl::Status(Connection&)>& body, bool durable) {
  absl::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(auto c, pool.Get());
    if (durable) RETURN_IF_ERROR(c->Durable(true));
    s = c->Begin();
    if (s.ok()) s = body(*c);
    if (s.ok()) {
      auto r = c->Run("COMMIT");
      s = r.ok() ? absl::OkStatus() : r.status();
      if (durable) (void)c->Durable(false);
      if (s.ok()) return s;
    }
    if (!c->Broken()) {
      (void)c->Run("ROLLBACK");
      if (durable) (void)c->Durable(false);
    }
    if (!c->Retryable(s)) return s;
  }
  return s;
}

absl::Status Read(Pool& pool, const std::function<absl::Status(Connection&)>& body) {
  ASSIGN_OR_RETURN(auto c, pool.Get());
  return body(*c);
}

// --- Rows --------------------------------------------------------------------

const char kJobColumns[] =
    "id, state, spec, stage, message, percent, created_ms, finished_ms, result, hook, error,"
    " attempts, run, owner, cancel_requested, last_sequence, ord";

StoredJob JobFromRow(const Row& row) {
  StoredJob j;
  JobSnapshot& s = j.snap;
  s.id = AsText(row[0]);
  s.state = JobStateFromName(AsText(row[1])).value_or(JobState::kFailed);
  s.stage = AsText(row[3]);
  double percent = 0;
  if (absl::SimpleAtod(AsText(row[5]), &percent)) s.percent = percent;
  s.created_unix_ms = AsInt(row[6]);
  s.finished_unix_ms = AsInt(row[7]);
  j.attempts = static_cast<int>(AsInt(row[11]));
  j.run = AsInt(row[12]);
  j.owner = AsText(row[13]);
  j.cancel_requested = AsInt(row[14]) != 0;
  j.last_sequence = static_cast<uint64_t>(AsInt(row[15]));
  // A column that does not decode (a row written by something else) makes
  // the job readable but marked, rather than hiding it or every list.
  std::vector<std::string> bad;
  if (auto spec = DecodeSpec(AsText(row[2])); spec.ok()) {
    s.spec = std::move(*spec);
  } else {
    bad.push_back(std::string(spec.status().message()));
  }
  if (row[8]) {
    if (auto r = DecodeResult(*row[8]); r.ok()) s.result = std::move(*r);
    else bad.push_back(std::string(r.status().message()));
  }
  if (row[9]) {
    if (auto h = DecodeHook(*row[9]); h.ok()) s.hook = *h;
    else bad.push_back(std::string(h.status().message()));
  }
  if (row[10]) {
    if (auto e = DecodeStatus(*row[10]); e.ok()) s.error = *e;
    else bad.push_back(std::string(e.status().message()));
  }
  if (!bad.empty()) {
    s.error = absl::DataLossError(absl::StrCat("job ", s.id, ": stored row unreadable: ", bad[0]));
  }
  return j;
}

namespace {

constexpr int64_t kRunShift = int64_t{1} << 32;
int64_t FirstSequence(int64_t run) { return run * kRunShift + 1; }

std::string Select(const std::string& rest) { return absl::StrCat("SELECT ", kJobColumns, " FROM jobs ", rest); }

absl::StatusOr<std::optional<StoredJob>> SelectOne(Connection& c, const std::string& sql,
                                                    const std::vector<Value>& params) {
  ASSIGN_OR_RETURN(auto r, c.Run(sql, params));
  if (r.rows.empty()) return std::optional<StoredJob>();
  return std::optional<StoredJob>(JobFromRow(r.rows[0]));
}

absl::Status InsertEvent(Connection& c, const std::string& id, uint64_t sequence, const JobEvent& e) {
  auto r = c.Run("INSERT INTO job_events (job_id, sequence, body) VALUES (?, ?, ?)"
                 " ON CONFLICT (job_id, sequence) DO NOTHING",
                 {id, static_cast<int64_t>(sequence), EncodeEvent(e)});
  return r.ok() ? absl::OkStatus() : r.status();
}

JobEvent StateChange(JobState state, std::string stage, std::string message) {
  JobEvent e;
  e.state = state;
  e.stage = std::move(stage);
  e.message = std::move(message);
  return e;
}

// A job's final event as its row describes it.
JobEvent FinalEvent(const StoredJob& j) {
  JobEvent e = StateChange(j.snap.state, j.snap.stage, "");
  e.final = true;
  e.percent = j.snap.percent;
  e.result = j.snap.result;
  e.hook = j.snap.hook;
  e.error = j.snap.error;
  return e;
}

// Moves a job without an owner to a terminal state, with its final event,
// as a new run (whoever ran it before is gone or never was).
absl::StatusOr<StoredJob> EndUnowned(Connection& c, const StoredJob& j, JobState state,
                                     const absl::Status& error) {
  const int64_t run = j.run + 1;
  ASSIGN_OR_RETURN(auto row,
                   SelectOne(c,
                             absl::StrCat("UPDATE jobs SET state = ?, error = ?, finished_ms = {now}, owner = '',"
                                          " lease_until_ms = 0, run = ?, last_sequence = ? WHERE id = ? RETURNING ",
                                          kJobColumns),
                             {JobStateName(state), EncodeStatus(error), run, FirstSequence(run), j.snap.id}));
  if (!row) return absl::NotFoundError(absl::StrCat("no job '", j.snap.id, "'"));
  RETURN_IF_ERROR(InsertEvent(c, j.snap.id, FirstSequence(run), FinalEvent(*row)));
  return *row;
}

// Back to QUEUED as a new run; `counted` false gives the attempt back.
absl::StatusOr<StoredJob> Requeue(Connection& c, const StoredJob& j, const std::string& why, bool counted) {
  const int64_t run = j.run + 1;
  ASSIGN_OR_RETURN(auto row, SelectOne(
      c,
      absl::StrCat("UPDATE jobs SET state = 'QUEUED', stage = 'queued', message = ?, percent = 0,"
                   " owner = '', lease_until_ms = 0, run = ?, last_sequence = ?, attempts = ?"
                   " WHERE id = ? RETURNING ",
                   kJobColumns),
      {why, run, FirstSequence(run), counted ? j.attempts : std::max(0, j.attempts - 1), j.snap.id}));
  if (!row) return absl::NotFoundError(absl::StrCat("no job '", j.snap.id, "'"));
  RETURN_IF_ERROR(InsertEvent(c, j.snap.id, FirstSequence(run), StateChange(JobState::kQueued, "queued", why)));
  return *row;
}

std::string PageToken(int64_t ord) { return absl::WebSafeBase64Escape(absl::StrCat("ord:", ord)); }

absl::StatusOr<int64_t> PageTokenOrd(const std::string& token) {
  std::string raw;
  int64_t ord = 0;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.rfind("ord:", 0) != 0 ||
      !absl::SimpleAtoi(raw.substr(4), &ord) || ord <= 0) {
    return absl::InvalidArgumentError("page_token: not a token from ListJobs");
  }
  return ord;
}

constexpr char kTerminal[] = "('SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED')";
// The advisory lock PostgreSQL submits take, so that the dedupe lookup, the
// capacity count and the insert are one step store-wide.
constexpr int64_t kSubmitLockKey = 7316002;

class SqlStore final : public JobStore {
 public:
  SqlStore(std::unique_ptr<Pool> pool, std::string described, bool shared,
           std::unique_ptr<StateDirLock> lock)
      : pool_(std::move(pool)), described_(std::move(described)), shared_(shared), lock_(std::move(lock)) {}

  std::string Describe() const override { return described_; }
  bool shared() const override { return shared_; }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& req, const SubmitDecider& decide) override {
    SubmitResult out;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      out = SubmitResult();
      if (c.dialect() == Dialect::kPostgres) {
        RETURN_IF_ERROR(c.Run("SELECT pg_advisory_xact_lock(?)", {kSubmitLockKey}));
      }
      const std::string& key = req.spec.idempotency_key;
      ASSIGN_OR_RETURN(
          auto existing,
          key.empty()
              ? SelectOne(c, Select("WHERE idempotency_key IS NULL AND spec_key = ? AND (state IN "
                                    "('QUEUED', 'RUNNING') OR (state = 'SUCCEEDED' AND kind = 'export'))"
                                    " ORDER BY ord DESC LIMIT 1"),
                          {req.spec_key})
              : SelectOne(c, Select("WHERE idempotency_key = ?"), {key}));
      SubmitAction action = SubmitAction::kCreateNew;
      if (existing) {
        ASSIGN_OR_RETURN(auto a, decide(*existing, !key.empty()));
        action = a;
        if (action == SubmitAction::kReturnExisting) {
          out.job = *existing;
          out.deduplicated = true;
          return absl::OkStatus();
        }
      }
      ASSIGN_OR_RETURN(auto queued, c.Run("SELECT count(*) FROM jobs WHERE state = 'QUEUED'"));
      if (AsInt(queued.rows[0][0]) >= req.queue_capacity) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the job queue is full (", req.queue_capacity, " waiting); retry later"));
      }
      out.queued = true;
      if (action == SubmitAction::kRetryExisting) {
        ASSIGN_OR_RETURN(auto again,
                         Requeue(c, *existing, "queued again: a retry of an unfinished job", true));
        // A fresh job in all but its id: attempts and outcome start over.
        ASSIGN_OR_RETURN(auto row,
                         SelectOne(c,
                                   absl::StrCat("UPDATE jobs SET attempts = 0, result = NULL, hook = NULL, error = NULL,"
                                                " finished_ms = 0, cancel_requested = 0 WHERE id = ? RETURNING ",
                                                kJobColumns),
                                   {again.snap.id}));
        out.job = *row;
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(auto row, SelectOne(
          c,
          absl::StrCat("INSERT INTO jobs (id, kind, state, source, idempotency_key, spec_key, spec, needs_gpu,"
                       " stage, created_ms, last_sequence) VALUES (?, ?, 'QUEUED', ?, ?, ?, ?, ?, 'queued',"
                       " {now}, 1) RETURNING ",
                       kJobColumns),
          {req.id, JobKindName(req.spec.kind()), JobSource(req.spec),
           key.empty() ? Value() : Value(key), req.spec_key, EncodeSpec(req.spec), req.needs_gpu}));
      out.job = *row;
      return InsertEvent(c, req.id, 1, StateChange(JobState::kQueued, "queued", ""));
    }));
    return out;
  }

  absl::StatusOr<StoredJob> Get(const std::string& id) override {
    std::optional<StoredJob> job;
    RETURN_IF_ERROR(Read(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto r, SelectOne(c, Select("WHERE id = ?"), {id}));
      job = std::move(r);
      return absl::OkStatus();
    }));
    if (!job) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
    return *job;
  }

  absl::StatusOr<JobPage> List(const ListQuery& q) override {
    std::string where = "WHERE 1 = 1";
    std::vector<Value> params;
    if (q.state) {
      where += " AND state = ?";
      params.push_back(JobStateName(*q.state));
    }
    if (!q.source_contains.empty()) {
      where += " AND {strpos}(source, ?) > 0";
      params.push_back(q.source_contains);
    }
    if (!q.page_token.empty()) {
      ASSIGN_OR_RETURN(auto ord, PageTokenOrd(q.page_token));
      where += " AND ord < ?";
      params.push_back(ord);
    }
    const int size = std::clamp(q.page_size, 1, kMaxPageSize);
    params.push_back(size + 1);
    JobPage page;
    RETURN_IF_ERROR(Read(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto r, c.Run(Select(where + " ORDER BY ord DESC LIMIT ?"), params));
      for (size_t i = 0; i < r.rows.size() && static_cast<int>(i) < size; ++i) {
        page.jobs.push_back(JobFromRow(r.rows[i]));
      }
      if (static_cast<int>(r.rows.size()) > size) page.next_page_token = PageToken(AsInt(r.rows[size - 1][16]));
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<std::optional<StoredJob>> Claim(const ClaimRequest& req) override {
    std::optional<StoredJob> out;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      out.reset();
      ASSIGN_OR_RETURN(auto pick,
                       c.Run(absl::StrCat("SELECT id, run FROM jobs WHERE state = 'QUEUED'",
                                          req.has_gpu ? "" : " AND needs_gpu = 0",
                                          " ORDER BY ord LIMIT 1 {skip_locked}")));
      if (pick.rows.empty()) return absl::OkStatus();
      const std::string id = AsText(pick.rows[0][0]);
      const int64_t run = AsInt(pick.rows[0][1]) + 1;
      ASSIGN_OR_RETURN(auto row,
                       SelectOne(c,
                                 absl::StrCat("UPDATE jobs SET state = 'RUNNING', stage = 'starting', message = '',"
                                              " percent = 0, owner = ?, lease_until_ms = {now} + ?,"
                                              " attempts = attempts + 1, run = ?, last_sequence = ?"
                                              " WHERE id = ? RETURNING ",
                                              kJobColumns),
                                 {req.owner, absl::ToInt64Milliseconds(req.lease), run, FirstSequence(run), id}));
      if (!row) return absl::OkStatus();
      out = *row;
      return InsertEvent(c, id, FirstSequence(run), StateChange(JobState::kRunning, "starting", ""));
    }));
    return out;
  }

  absl::StatusOr<OwnedRunsStatus> Heartbeat(const ReplicaInfo& replica, absl::Duration lease, bool renew,
                                            const std::vector<RunRef>& runs) override {
    OwnedRunsStatus out;
    auto body = [&](Connection& c) -> absl::Status {
      out = OwnedRunsStatus();
      if (renew) {
        RETURN_IF_ERROR(c.Run("INSERT INTO replicas (id, host, pid, has_gpu, started_ms, last_seen_ms)"
                              " VALUES (?, ?, ?, ?, {now}, {now}) ON CONFLICT (id) DO UPDATE"
                              " SET last_seen_ms = excluded.last_seen_ms, has_gpu = excluded.has_gpu",
                              {replica.id, replica.host, replica.pid, replica.has_gpu}));
        RETURN_IF_ERROR(c.Run("UPDATE jobs SET lease_until_ms = {now} + ? WHERE owner = ? AND state = 'RUNNING'",
                              {absl::ToInt64Milliseconds(lease), replica.id}));
      }
      if (runs.empty()) return absl::OkStatus();
      ASSIGN_OR_RETURN(auto r,
                       c.Run("SELECT id, run, cancel_requested FROM jobs WHERE owner = ? AND state = 'RUNNING'",
                             {replica.id}));
      std::map<std::string, std::pair<int64_t, bool>> held;
      for (const auto& row : r.rows) held[AsText(row[0])] = {AsInt(row[1]), AsInt(row[2]) != 0};
      for (const auto& ref : runs) {
        auto it = held.find(ref.id);
        if (it == held.end() || it->second.first != ref.run) {
          out.lost.push_back(ref.id);
        } else if (it->second.second) {
          out.cancel_requested.push_back(ref.id);
        }
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(renew ? Write(*pool_, body) : Read(*pool_, body));
    return out;
  }

  absl::Status AppendEvents(const std::vector<std::pair<RunRef, JobEvent>>& events) override {
    if (events.empty()) return absl::OkStatus();
    return Write(*pool_, [&](Connection& c) -> absl::Status {
      // The latest event per job updates its row; a run that is no longer
      // current stores nothing.
      std::map<std::string, size_t> latest;
      for (size_t i = 0; i < events.size(); ++i) latest[events[i].first.id] = i;
      std::set<std::string> current;
      for (const auto& [id, i] : latest) {
        const auto& [ref, e] = events[i];
        ASSIGN_OR_RETURN(auto r,
                         c.Run("UPDATE jobs SET stage = ?, message = ?, percent = ?, last_sequence = ?"
                               " WHERE id = ? AND owner = ? AND run = ? AND state = 'RUNNING'",
                               {e.stage, e.message, absl::StrCat(e.percent), static_cast<int64_t>(e.sequence), id,
                                ref.owner, ref.run}));
        if (r.affected > 0) current.insert(id);
      }
      for (const auto& [ref, e] : events) {
        if (!current.count(ref.id)) continue;
        RETURN_IF_ERROR(InsertEvent(c, ref.id, e.sequence, e));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<StoredJob> Finish(const FinishRequest& req) override {
    StoredJob out;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      const JobEvent& last = req.events.back();
      ASSIGN_OR_RETURN(auto row, SelectOne(
          c,
          absl::StrCat("UPDATE jobs SET state = ?, stage = ?, message = ?, percent = ?, result = ?, hook = ?,"
                       " error = ?, finished_ms = {now}, owner = '', lease_until_ms = 0, last_sequence = ?"
                       " WHERE id = ? AND owner = ? AND run = ? AND state = 'RUNNING' RETURNING ",
                       kJobColumns),
          {JobStateName(req.state), last.stage, last.message, absl::StrCat(last.percent),
           req.result ? Value(EncodeResult(*req.result)) : Value(),
           req.hook.ran ? Value(EncodeHook(req.hook)) : Value(), EncodeStatus(req.error).empty()
                                                                     ? Value()
                                                                     : Value(EncodeStatus(req.error)),
           static_cast<int64_t>(last.sequence), req.ref.id, req.ref.owner, req.ref.run}));
      if (!row) {
        return absl::AbortedError(absl::StrCat("job ", req.ref.id,
                                               " is no longer run by this server (its lease expired and "
                                               "it was taken over, or it was purged)"));
      }
      out = *row;
      for (const auto& e : req.events) {
        RETURN_IF_ERROR(InsertEvent(c, req.ref.id, e.sequence, e));
      }
      return absl::OkStatus();
    }, /*durable=*/true));
    return out;
  }

  absl::Status Release(const RunRef& ref, const std::string& why) override {
    return Write(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto j,
                       SelectOne(c, Select("WHERE id = ? AND owner = ? AND run = ? AND state = 'RUNNING'"),
                                 {ref.id, ref.owner, ref.run}));
      if (!j) return absl::OkStatus();  // not ours any more: nothing to give back
      if (j->cancel_requested) {
        return EndUnowned(c, *j, JobState::kCancelled,
                          core::MakeError(core::ErrorReason::kCancelled, absl::StrCat("job ", ref.id, " was cancelled")))
            .status();
      }
      return Requeue(c, *j, why, /*counted=*/false).status();
    });
  }

  absl::StatusOr<StoredJob> Cancel(const std::string& id, const absl::Status& queued_error) override {
    StoredJob out;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto j,
                       SelectOne(c, Select(c.dialect() == Dialect::kPostgres ? "WHERE id = ? FOR UPDATE" : "WHERE id = ?"),
                                 {id}));
      if (!j) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
      const JobState state = j->snap.state;
      if (IsTerminal(state)) {
        return absl::FailedPreconditionError(
            absl::StrCat("job ", id, " already finished (", JobStateName(state), ")"));
      }
      if (state == JobState::kQueued) {
        ASSIGN_OR_RETURN(auto done, EndUnowned(c, *j, JobState::kCancelled, queued_error));
        out = done;
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(auto row,
                       SelectOne(c, absl::StrCat("UPDATE jobs SET cancel_requested = 1 WHERE id = ? RETURNING ", kJobColumns),
                                 {id}));
      out = *row;
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<StoredJob>> ReapExpired(int max_attempts) override {
    std::vector<StoredJob> out;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      out.clear();
      ASSIGN_OR_RETURN(auto r,
                       c.Run(Select("WHERE state = 'RUNNING' AND lease_until_ms < {now} ORDER BY ord LIMIT 100 {skip_locked}")));
      for (const auto& row : r.rows) {
        StoredJob j = JobFromRow(row);
        const std::string who = j.owner.empty() ? "a server" : "server " + j.owner;
        absl::StatusOr<StoredJob> now;
        if (j.cancel_requested) {
          now = EndUnowned(c, j, JobState::kCancelled,
                           core::MakeError(core::ErrorReason::kCancelled,
                                           absl::StrCat("job ", j.snap.id, " was cancelled (", who,
                                                        " stopped before it noticed)")));
        } else if (j.attempts >= max_attempts) {
          // INTERRUPTED, retryable: the servers died under it; a retry
          // with its key runs it again (an orchestrator bounds its retries:
          // the job itself may be what kills them).
          now = EndUnowned(
              c, j, JobState::kFailed,
              core::WithReason(
                  absl::AbortedError(absl::StrCat(
                      "job ", j.snap.id, " was lost ", j.attempts, " time(s): its server stopped or stalled "
                      "while running it (last ", who, "); not retried beyond --max-attempts ", max_attempts)),
                  core::ErrorReason::kInterrupted,
                  {{"job_id", j.snap.id},
                   {"attempts", absl::StrCat(j.attempts)},
                   {"max_attempts", absl::StrCat(max_attempts)}}));
        } else {
          now = Requeue(c, j,
                        absl::StrCat(who, " stopped renewing its lease; queued again for attempt ",
                                     j.attempts + 1, " of ", max_attempts),
                        /*counted=*/true);
        }
        if (!now.ok()) return now.status();
        out.push_back(std::move(*now));
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<JobEvent>> Events(const std::vector<std::pair<std::string, uint64_t>>& after,
                                               int limit) override {
    std::vector<JobEvent> out;
    RETURN_IF_ERROR(Read(*pool_, [&](Connection& c) -> absl::Status {
      for (const auto& [id, seq] : after) {
        if (static_cast<int>(out.size()) >= limit) break;
        ASSIGN_OR_RETURN(auto r,
                         c.Run("SELECT sequence, body FROM job_events WHERE job_id = ? AND sequence > ?"
                               " ORDER BY sequence LIMIT ?",
                               {id, static_cast<int64_t>(seq), limit - static_cast<int>(out.size())}));
        for (const auto& row : r.rows) {
          auto e = DecodeEvent(AsText(row[1]));
          if (!e.ok()) continue;  // unreadable: watchers still get the final state from the row
          e->job_id = id;
          e->sequence = static_cast<uint64_t>(AsInt(row[0]));
          out.push_back(std::move(*e));
        }
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<QueueCounts> CountQueued() override {
    QueueCounts out;
    RETURN_IF_ERROR(Read(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto r,
                       c.Run("SELECT count(*), coalesce(sum(1 - needs_gpu), 0) FROM jobs WHERE state = 'QUEUED'"));
      out.queued = AsInt(r.rows[0][0]);
      out.queued_cpu = AsInt(r.rows[0][1]);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<bool> GpuReplicaAlive(absl::Duration within) override {
    bool alive = false;
    RETURN_IF_ERROR(Read(*pool_, [&](Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(auto r,
                       c.Run("SELECT 1 FROM replicas WHERE has_gpu = 1 AND last_seen_ms > {now} - ? LIMIT 1",
                             {absl::ToInt64Milliseconds(within)}));
      alive = !r.rows.empty();
      return absl::OkStatus();
    }));
    return alive;
  }

  absl::StatusOr<int64_t> Purge(const RetentionPolicy& policy) override {
    int64_t purged = 0;
    RETURN_IF_ERROR(Write(*pool_, [&](Connection& c) -> absl::Status {
      purged = 0;
      if (policy.max_age > absl::ZeroDuration()) {
        ASSIGN_OR_RETURN(auto r,
                         c.Run(absl::StrCat("DELETE FROM jobs WHERE state IN ", kTerminal, " AND finished_ms < {now} - ?"),
                               {absl::ToInt64Milliseconds(policy.max_age)}));
        purged += r.affected;
      }
      if (policy.max_count > 0) {
        ASSIGN_OR_RETURN(auto cut,
                         c.Run(absl::StrCat("SELECT ord FROM jobs WHERE state IN ", kTerminal,
                                            " ORDER BY ord DESC LIMIT 1 OFFSET ?"),
                               {policy.max_count}));
        if (!cut.rows.empty()) {
          ASSIGN_OR_RETURN(auto r,
                           c.Run(absl::StrCat("DELETE FROM jobs WHERE state IN ", kTerminal, " AND ord <= ?"),
                                 {AsInt(cut.rows[0][0])}));
          purged += r.affected;
        }
      }
      return absl::OkStatus();
    }));
    return purged;
  }

 private:
  std::unique_ptr<Pool> pool_;
  const std::string described_;
  const bool shared_;
  std::unique_ptr<StateDirLock> lock_;  // SQLite with a state dir: held while open
};

}  // namespace

std::unique_ptr<JobStore> MakeSqlStore(std::unique_ptr<Pool> pool, std::string described, bool shared,
                                       std::unique_ptr<StateDirLock> lock) {
  return std::make_unique<SqlStore>(std::move(pool), std::move(described), shared, std::move(lock));
}

}  // namespace neobert::server::sql
