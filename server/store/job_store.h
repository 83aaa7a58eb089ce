// The job store: where every job of neobert-exportd lives, so that jobs
// survive restarts and several servers ("replicas") can share one queue.
//
//   --job-store sqlite (default)   SQLite in --state-dir (jobs.db, WAL), one
//                                  server only; without --state-dir an
//                                  in-memory database (jobs end with the process)
//   --job-store postgresql://...   PostgreSQL, shared by any number of replicas
//
// Both backends are one implementation (sql_store.cc) over a small SQL driver
// (sql_db.h: sqlite_db.cc, postgres_db.cc); they differ only in dialect.
//
// The life of a job in the store:
//   Submit       QUEUED                 any replica; dedupe + capacity check
//   Claim        QUEUED → RUNNING       a replica with a free worker takes the
//                                       oldest claimable job under a lease
//                                       (PostgreSQL: FOR UPDATE SKIP LOCKED)
//   Heartbeat                           the owner renews its leases and learns
//                                       of cancel requests made elsewhere
//   AppendEvents                        the owner's progress, batched
//   Finish       RUNNING → terminal     only by the owner of the current run
//   Release      RUNNING → QUEUED       the owner gives a job back (draining);
//                                       the attempt is not counted
//   ReapExpired  RUNNING → QUEUED | FAILED | CANCELLED
//                                       any replica, once the lease expired:
//                                       re-run while attempts < max, else FAILED
//                                       naming the lost leases
//   Cancel       QUEUED → CANCELLED at once; RUNNING → cancel_requested (the
//                                       owner sees it at its next poll)
//   Purge                               retention: old finished jobs go, and
//                                       their idempotency keys with them
//
// Runs and sequences: every change of a job's owner (claim, reap, release,
// requeue, cancel by another replica) starts a new run (StoredJob::run).
// Event sequences are (run << 32) | n, n counting from 1 within the run, so
// they increase across runs even when an owner died with events it had shown
// its local watchers but not yet stored.
//
// Time: the store's clock decides (the database server's for PostgreSQL), so
// replicas with skewed clocks agree on lease expiry. Lease lengths are
// durations given by the caller.
//
// Thread-safety: every method is thread-safe; each is one transaction (a
// method either happens completely or not at all). Methods block on the
// database (a few ms; longer when PostgreSQL is unreachable) and must not be
// called with a caller's mutex held. Errors: UNAVAILABLE when the database
// cannot be reached, INTERNAL for an unexpected database error; messages name
// the store but never a password.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/job.h"

namespace neobert::server {

// A job as stored: its snapshot plus the claim bookkeeping.
struct StoredJob {
  JobSnapshot snap;
  int attempts = 0;               // counted runs (a drain's release is not counted)
  int64_t run = 0;                // owner changes so far (see "Runs and sequences")
  std::string owner;              // replica id while RUNNING, else ""
  bool cancel_requested = false;  // RUNNING: someone asked it to stop
  uint64_t last_sequence = 0;     // highest event sequence stored
};

// What Submit does when a job already holds the request's idempotency key or
// (without a key) is an equal, reusable request.
enum class SubmitAction {
  kReturnExisting,   // the existing job is the answer (deduplicated)
  kRetryExisting,    // the existing job is queued again as a new attempt
  kCreateNew,        // a new job (keyless requests only)
};
// `existing` and whether it was found by key. A non-OK status refuses the
// request with it (e.g. ALREADY_EXISTS: same key, different request).
using SubmitDecider =
    std::function<absl::StatusOr<SubmitAction>(const StoredJob& existing, bool by_key)>;

struct SubmitRequest {
  std::string id;          // for a new job (unique; see NewJobId)
  JobSpec spec;
  std::string spec_key;    // digest of everything that makes requests equal
  bool needs_gpu = false;  // only replicas with a CUDA device claim it
  int queue_capacity = 16; // QUEUED jobs in the whole store beyond this: RESOURCE_EXHAUSTED
};

struct SubmitResult {
  StoredJob job;
  bool deduplicated = false;  // an existing job came back unchanged
  bool queued = false;        // a job was queued (new, or retried)
};

struct ListQuery {
  std::optional<JobState> state;
  std::string source_contains;  // "" = any
  int page_size = 1000;         // 1..kMaxPageSize
  std::string page_token;       // "" = newest first; else from a previous page
};
inline constexpr int kMaxPageSize = 1000;

struct JobPage {
  std::vector<StoredJob> jobs;  // newest first
  std::string next_page_token;  // "" = no more
};

struct ClaimRequest {
  std::string owner;             // this replica's id
  absl::Duration lease;
  bool has_gpu = false;          // may take jobs that need CUDA
};

// The owner's view of its running jobs after a heartbeat/poll.
struct OwnedRunsStatus {
  std::vector<std::string> cancel_requested;  // still ours, asked to stop
  std::vector<std::string> lost;              // no longer ours (reaped, or purged)
};

// One run of a job, as its owner knows it: writes are refused once the run
// is no longer current (the lease expired and someone else took the job).
struct RunRef {
  std::string id;
  std::string owner;
  int64_t run = 0;
};

struct FinishRequest {
  RunRef ref;
  JobState state = JobState::kSucceeded;  // terminal
  std::optional<core::ExportResult> result;  // stored whatever the state
  HookOutcome hook;
  absl::Status error;                     // stored with every payload
  std::vector<JobEvent> events;           // the run's unsaved events, then the final one
};

struct RetentionPolicy {
  absl::Duration max_age = absl::Hours(24 * 30);  // finished longer ago: purged; zero = never
  int64_t max_count = 0;                          // finished jobs kept beyond this: purged; 0 = no cap
};

// What a replica tells the others (the replicas table).
struct ReplicaInfo {
  std::string id;
  std::string host;
  int64_t pid = 0;
  bool has_gpu = false;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // "SQLite /var/lib/x/jobs.db" or "PostgreSQL host=db dbname=jobs" (no password).
  virtual std::string Describe() const = 0;
  // True when several servers may share the store (PostgreSQL).
  virtual bool shared() const = 0;

  // One transaction: the request's idempotency key (or, keyless, the newest
  // equal reusable job) is looked up and `decide` consulted; a job to queue
  // (new or retried) must fit within queue_capacity; the QUEUED event is
  // stored with it. Concurrent submits of one key from several replicas end
  // with one job.
  virtual absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request,
                                              const SubmitDecider& decide) = 0;
  // NOT_FOUND for an unknown (or purged) job.
  virtual absl::StatusOr<StoredJob> Get(const std::string& id) = 0;
  // INVALID_ARGUMENT for a page token this store did not make.
  virtual absl::StatusOr<JobPage> List(const ListQuery& query) = 0;

  // Takes the oldest QUEUED job this replica may run (RUNNING, owner, lease,
  // attempts + 1, a new run, its RUNNING event); nullopt when none.
  virtual absl::StatusOr<std::optional<StoredJob>> Claim(const ClaimRequest& request) = 0;
  // Renews (when `renew`) the leases of every job `owner` runs, records the
  // replica as alive, and reports on `runs` (the owner's running jobs).
  virtual absl::StatusOr<OwnedRunsStatus> Heartbeat(const ReplicaInfo& replica, absl::Duration lease,
                                                    bool renew, const std::vector<RunRef>& runs) = 0;
  // Stores events of runs the owner still holds (others are dropped) and
  // copies each job's latest stage/percent/message into its row.
  virtual absl::Status AppendEvents(const std::vector<std::pair<RunRef, JobEvent>>& events) = 0;
  // ABORTED when the run is no longer current (the job was taken over).
  virtual absl::StatusOr<StoredJob> Finish(const FinishRequest& request) = 0;
  // Back to QUEUED, lease cleared, attempt not counted.
  virtual absl::Status Release(const RunRef& ref, const std::string& why) = 0;

  // QUEUED: CANCELLED now with `queued_error` (its final event stored; the
  // caller's error, reason included). RUNNING: cancel_requested set (the
  // owner stops it and says why). FAILED_PRECONDITION for a finished job.
  virtual absl::StatusOr<StoredJob> Cancel(const std::string& id, const absl::Status& queued_error) = 0;
  // Jobs RUNNING past their lease: cancel_requested → CANCELLED (reason
  // CANCELLED); attempts < max_attempts → QUEUED again; else FAILED (ABORTED
  // naming the lost leases, reason INTERRUPTED: retryable, metadata
  // attempts, max_attempts). Returns the jobs it changed, as they are now.
  virtual absl::StatusOr<std::vector<StoredJob>> ReapExpired(int max_attempts) = 0;

  // Stored events with sequence > the given one, per job, in order (at most
  // `limit` in all).
  virtual absl::StatusOr<std::vector<JobEvent>> Events(
      const std::vector<std::pair<std::string, uint64_t>>& after, int limit) = 0;

  // QUEUED jobs in the store, and how many of them a replica without a GPU
  // could take.
  struct QueueCounts {
    int64_t queued = 0;
    int64_t queued_cpu = 0;
  };
  virtual absl::StatusOr<QueueCounts> CountQueued() = 0;
  // Whether a replica with a GPU has been alive within `within`.
  virtual absl::StatusOr<bool> GpuReplicaAlive(absl::Duration within) = 0;

  // Deletes finished jobs beyond the policy (with their events); how many.
  virtual absl::StatusOr<int64_t> Purge(const RetentionPolicy& policy) = 0;
};

struct JobStoreOptions {
  // "sqlite" (or "") or a postgresql:// / postgres:// DSN.
  std::string spec;
  // SQLite: the folder of jobs.db (and of a jobs.jsonl to import); "" = in
  // memory. PostgreSQL: a jobs.jsonl found here is imported too.
  std::string state_dir;
  // SQLite: fsync every commit that finishes a job (WAL, synchronous=FULL for
  // those, NORMAL otherwise); off only for benchmarks/tests (--no-fsync).
  bool sync = true;
  // Written into the replicas table, and for SQLite into the lock file that
  // a second server on the same state dir reports.
  ReplicaInfo replica;
  // Called with one line per notable thing at open (import, migration).
  std::function<void(const std::string&)> log;
};

// Opens (creating and migrating the schema; importing a legacy jobs.jsonl
// once, then renaming it to jobs.jsonl.imported). SQLite: FAILED_PRECONDITION
// naming the holder when another server uses the state dir, or when the state
// dir is on a network file system; PostgreSQL: UNAVAILABLE when it cannot
// connect. Errors never contain the DSN's password.
absl::StatusOr<std::unique_ptr<JobStore>> OpenJobStore(const JobStoreOptions& options);

// True for a --job-store value naming PostgreSQL.
bool IsPostgresSpec(const std::string& spec);

// `dsn` with its password (URI userinfo or password=...) replaced by "***".
std::string RedactDsn(const std::string& dsn);

// The schema version this build creates and migrates to.
inline constexpr int kJobStoreSchemaVersion = 1;

}  // namespace neobert::server
