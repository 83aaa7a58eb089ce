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
#include <variant>

#include "absl/status/status.h"
#include "core/export/exporter.h"
#include "core/export/validator.h"

namespace neobert::server {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };
enum class JobKind { kExport, kValidate };

const char* JobStateName(JobState s);
std::optional<JobState> JobStateFromName(const std::string& name);
bool IsTerminal(JobState s);

// What a job does: export a checkpoint or validate an export folder, with
// that operation's own options (core/export/export_options.h,
// core/export/validator.h). Paths are already resolved by the path policy,
// and the options carry the roots they were resolved beneath
// (ExportOptions::input_root/output_root, ValidateOptions::root/
// source_root): the job reads and writes only through those. Both kinds run
// forward passes on their options' device ("" or "auto": the server that
// claims the job chooses, device_policy.h).
using JobOptions = std::variant<core::ExportOptions, core::ValidateOptions>;

struct JobSpec {
  JobOptions options;
  std::string idempotency_key;  // empty: none

  JobKind kind() const {
    return std::holds_alternative<core::ExportOptions>(options) ? JobKind::kExport
                                                                : JobKind::kValidate;
  }
  // The options of an export job, or of a validation job; null for the other kind.
  const core::ExportOptions* export_options() const {
    return std::get_if<core::ExportOptions>(&options);
  }
  core::ExportOptions* export_options() { return std::get_if<core::ExportOptions>(&options); }
  const core::ValidateOptions* validate_options() const {
    return std::get_if<core::ValidateOptions>(&options);
  }
  core::ValidateOptions* validate_options() { return std::get_if<core::ValidateOptions>(&options); }
  // The forward-pass device, whichever the kind.
  const std::string& device() const {
    return std::visit([](const auto& o) -> const std::string& { return o.device; }, options);
  }
  void set_device(std::string device) {
    std::visit([&](auto& o) { o.device = std::move(device); }, options);
  }
};

const char* JobKindName(JobKind kind);  // "export" | "validate"

// The input a job reads (checkpoint or export folder) and where it writes
// (empty for a validation).
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
