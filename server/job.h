// A job as the server sees it, with no protobuf in sight: the RPC layer
// converts these to and from export_service.proto messages.
//
// States and the only legal transitions (server/store/job_store.h):
//   QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED
//   QUEUED → CANCELLED                     (cancelled before a worker took it)
//   RUNNING → QUEUED                       (its server died or drained: run again)
//   RUNNING → FAILED                       (lost its lease --max-attempts times)
//   INTERRUPTED                            (only in an imported old journal)
//   INTERRUPTED → QUEUED                   (its idempotency key submitted again)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "core/export/exporter.h"

namespace neobert::server {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };
enum class JobKind { kExport, kValidate };

const char* JobStateName(JobState s);
std::optional<JobState> JobStateFromName(const std::string& name);
bool IsTerminal(JobState s);

struct JobSpec {
  JobKind kind = JobKind::kExport;
  // kExport: paths already resolved by the path policy, and the roots they
  // were resolved beneath (export_options.input_root / output_root): the
  // job reads and writes only through those.
  core::ExportOptions export_options;
  // kValidate: the export folder and the optional source checkpoint
  // (resolved), and their roots. Both kinds run forward passes on
  // export_options.device.
  std::string validate_dir;
  std::string validate_source;
  base::FsRoot validate_root;
  base::FsRoot validate_source_root;
  // kValidate: advisory checks (cosine_sanity) count as failures.
  bool validate_strict = false;
  std::string idempotency_key;  // empty: none
};

// The input a job reads (checkpoint or export folder) and where it writes.
std::string JobSource(const JobSpec& spec);
std::string JobDestination(const JobSpec& spec);

// What the --post-export-hook did after a successful export (see
// post_export_hook.h). `ran` false: no hook configured, or the export was a
// dry run or skipped (an identical export was already there).
struct HookOutcome {
  bool ran = false;
  int exit_code = 0;    // 0..255; 128+N killed by signal N; 124 timed out; -1 not started
  std::string message;  // e.g. "exited with 3", "timed out after 300 s"
};

// One event of a job's stream. `final` marks the last event, which carries
// a non-OK `error` unless the job SUCCEEDED, and `result` whenever the job
// has one (a failed job keeps what it found: notes, warnings, checks).
// `error` carries its reason as a payload (core/status/error_reason.h).
struct JobEvent {
  std::string job_id;
  JobState state = JobState::kQueued;
  std::string stage;
  std::string message;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  double percent = 0;
  std::string warning;
  bool final = false;
  std::optional<core::ExportResult> result;
  HookOutcome hook;  // final event of a succeeded export
  absl::Status error;
  uint64_t sequence = 0;
};

// A point-in-time copy of a job.
struct JobSnapshot {
  std::string id;
  JobSpec spec;
  JobState state = JobState::kQueued;
  std::string stage;
  double percent = 0;
  int64_t created_unix_ms = 0;
  int64_t finished_unix_ms = 0;
  std::optional<core::ExportResult> result;
  HookOutcome hook;
  absl::Status error;
};

}  // namespace neobert::server
