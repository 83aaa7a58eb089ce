// Opening a job store: the connection pool, the schema (created, then
// migrated step by step under a version table) and the one-time import of
// the old jobs.jsonl journal.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "server/store/drivers.h"
#include "server/store/job_codec.h"
#include "server/store/sql_store.h"

namespace neobert::server {
namespace sql {
namespace {
namespace fs = std::filesystem;

// Schema steps: kMigrations[v] takes a store from version v to v + 1.
// Integers are BIGINT (SQLite maps it to INTEGER), booleans 0/1, JSON TEXT.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE jobs (
  ord {serial_pk},
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  spec_key TEXT NOT NULL,
  spec TEXT NOT NULL,
  needs_gpu BIGINT NOT NULL DEFAULT 0,
  stage TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  percent DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  finished_ms BIGINT NOT NULL DEFAULT 0,
  result TEXT,
  hook TEXT,
  error TEXT,
  attempts BIGINT NOT NULL DEFAULT 0,
  run BIGINT NOT NULL DEFAULT 0,
  owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  cancel_requested BIGINT NOT NULL DEFAULT 0,
  last_sequence BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs (state, ord);
CREATE INDEX jobs_by_spec_key ON jobs (spec_key);
CREATE INDEX jobs_by_owner ON jobs (owner);
CREATE TABLE job_events (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  sequence BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (job_id, sequence)
);
CREATE TABLE replicas (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid BIGINT NOT NULL,
  has_gpu BIGINT NOT NULL DEFAULT 0,
  started_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
);
)sql",
};
static_assert(std::size(kMigrations) == kJobStoreSchemaVersion);

// Any constant: the advisory lock that serialises schema changes between
// replicas starting at once.
constexpr int64_t kSchemaLockKey = 7316001;

absl::Status Migrate(Connection& c, const JobStoreOptions& options) {
  if (c.dialect() == Dialect::kPostgres) {
    RETURN_IF_ERROR(c.Run("SELECT pg_advisory_xact_lock(?)", {kSchemaLockKey}));
  }
  RETURN_IF_ERROR(c.Script("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"));
  ASSIGN_OR_RETURN(auto v, c.Run("SELECT version FROM schema_version"));
  int64_t version = v.rows.empty() ? 0 : AsInt(v.rows[0][0]);
  if (v.rows.empty()) {
    RETURN_IF_ERROR(c.Run("INSERT INTO schema_version (version) VALUES (0)"));
  }
  if (version > kJobStoreSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the job store's schema is version ", version, ", newer than this server's (",
        kJobStoreSchemaVersion, "): run a newer neobert-exportd"));
  }
  for (; version < kJobStoreSchemaVersion; ++version) {
    RETURN_IF_ERROR(c.Script(kMigrations[version]));
    RETURN_IF_ERROR(c.Run("UPDATE schema_version SET version = ?", {version + 1}));
    if (options.log) options.log(absl::StrCat("job store: schema version ", version + 1));
  }
  return absl::OkStatus();
}

// The old journal's jobs, last line per id, oldest first.
std::vector<JobSnapshot> ReadJournal(const std::string& path) {
  std::map<std::string, JobSnapshot> last;
  std::vector<std::string> order;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (in && std::getline(in, line)) {
    if (line.empty()) continue;
    auto snap = DecodeJournalLine(line);
    if (!snap.ok()) continue;  // a torn last line (crash mid-write) or a foreign one
    if (!last.count(snap->id)) order.push_back(snap->id);
    last[snap->id] = std::move(*snap);
  }
  std::vector<JobSnapshot> out;
  for (const auto& id : order) out.push_back(std::move(last[id]));
  return out;
}

// Jobs the journal left QUEUED or RUNNING are queued again: exports are
// atomic and idempotent, so running them once more is safe.
absl::Status ImportJob(Connection& c, JobSnapshot j) {
  if (!IsTerminal(j.state)) {
    j.state = JobState::kQueued;
    j.stage = "queued";
    j.percent = 0;
  }
  bool key_taken = false;
  if (!j.spec.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto taken,
                     c.Run("SELECT 1 FROM jobs WHERE idempotency_key = ?", {j.spec.idempotency_key}));
    key_taken = !taken.rows.empty();
  }
  Value key = j.spec.idempotency_key.empty() || key_taken ? Value() : Value(j.spec.idempotency_key);
  auto r = c.Run(
      "INSERT INTO jobs (id, kind, state, source, idempotency_key, spec_key, spec, needs_gpu, stage,"
      " percent, created_ms, finished_ms, result, hook, error, last_sequence)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, COALESCE(?, {now}), ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING",
      {j.id, JobKindName(j.spec.kind()), JobStateName(j.state),
       JobSource(j.spec), key, SpecKey(j.spec), EncodeSpec(j.spec), j.stage,
       absl::StrCat(j.percent), j.created_unix_ms,
       // Retention counts from when a job finished; an old journal may not say.
       !IsTerminal(j.state) ? Value(int64_t{0}) : j.finished_unix_ms > 0 ? Value(j.finished_unix_ms) : Value(),
       j.result ? Value(EncodeResult(*j.result)) : Value(), j.hook.ran ? Value(EncodeHook(j.hook)) : Value(),
       j.error.ok() ? Value() : Value(EncodeStatus(j.error))});
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::Status ImportJournal(Pool& pool, const JobStoreOptions& options) {
  if (options.state_dir.empty()) return absl::OkStatus();
  const std::string path = (fs::path(options.state_dir) / "jobs.jsonl").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::OkStatus();
  std::vector<JobSnapshot> jobs = ReadJournal(path);
  RETURN_IF_ERROR(Write(pool, [&](Connection& c) {
    for (auto& j : jobs) {
      RETURN_IF_ERROR(ImportJob(c, j));
    }
    return absl::OkStatus();
  }));
  // Imported (even if a crash before this rename makes the next start import
  // again: rows that exist are kept).
  fs::rename(path, path + ".imported", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("imported '", path, "' but cannot rename it: ", ec.message()));
  }
  if (options.log) {
    options.log(absl::StrCat("job store: imported ", jobs.size(), " job(s) from ", path,
                             " (now ", path, ".imported)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareSchema(Pool& pool, const JobStoreOptions& options) {
  RETURN_IF_ERROR(Write(pool, [&](Connection& c) { return Migrate(c, options); }));
  return ImportJournal(pool, options);
}

}  // namespace sql

bool IsPostgresSpec(const std::string& spec) {
  return absl::StartsWith(spec, "postgresql://") || absl::StartsWith(spec, "postgres://");
}

std::string RedactDsn(const std::string& dsn) { return sql::Scrub(dsn, sql::DsnPassword(dsn)); }

absl::StatusOr<std::unique_ptr<JobStore>> OpenJobStore(const JobStoreOptions& options) {
  namespace fs = std::filesystem;
  const std::string& spec = options.spec;
  std::unique_ptr<sql::Pool> pool;
  std::string described;
  std::unique_ptr<StateDirLock> lock;
  const bool postgres = IsPostgresSpec(spec);
  if (postgres) {
    described = sql::DescribePostgres(spec);
    pool = std::make_unique<sql::Pool>([spec, described] { return sql::OpenPostgres(spec, described); },
                                       /*size=*/4);
  } else if (spec.empty() || spec == "sqlite") {
    std::string path;
    if (!options.state_dir.empty()) {
      std::error_code ec;
      fs::create_directories(options.state_dir, ec);
      if (ec) {
        return absl::FailedPreconditionError(
            absl::StrCat("state dir '", options.state_dir, "': ", ec.message()));
      }
      RETURN_IF_ERROR(CheckLocalFileSystem(options.state_dir));
      ASSIGN_OR_RETURN(auto l, StateDirLock::Acquire(
          options.state_dir, absl::StrCat("pid ", options.replica.pid, " on host ", options.replica.host,
                                          ", since ", absl::FormatTime(absl::Now()))));
      lock = std::move(l);
      path = (fs::path(options.state_dir) / "jobs.db").string();
      described = "SQLite " + path;
    } else {
      described = "SQLite in memory";
    }
    // One connection: SQLite writes one at a time anyway, and an in-memory
    // database exists only on its connection.
    pool = std::make_unique<sql::Pool>([path, sync = options.sync] { return sql::OpenSqlite(path, sync); },
                                       /*size=*/1);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--job-store: expected 'sqlite' or a postgresql://... DSN, got '", RedactDsn(spec), "'"));
  }
  RETURN_IF_ERROR(sql::PrepareSchema(*pool, options));
  if (!postgres) {
    // This process holds the state dir: whatever the store says is RUNNING
    // was left by a server that is gone, so its leases are over now.
    RETURN_IF_ERROR(sql::Write(*pool, [](sql::Connection& c) {
      auto r = c.Run("UPDATE jobs SET lease_until_ms = 0 WHERE state = 'RUNNING'");
      return r.ok() ? absl::OkStatus() : r.status();
    }));
  }
  return sql::MakeSqlStore(std::move(pool), std::move(described), postgres, std::move(lock));
}

}  // namespace neobert::server
