// How a finished export or validation is reported, the same way whether it
// ran in-process or on neobert-exportd: the exit code (by class, cli_args.h)
// and, with --json, the last JSON line.
//
// The --json schema (one JSON object per line on stdout, "event" says which):
//   {"event":"state", "job_id", "state", "sequence"}          server jobs only:
//                                                               the job's state changed
//   {"event":"stage", "stage", "message", "bytes_total"}       a stage began
//   {"event":"progress", "stage", "bytes_done", "bytes_total"}
//   {"event":"warning", "message"}
//   (server jobs add "job_id", "state" and "sequence" to stage/progress/warning)
//   {"event":"result", ...}                                   always last, exactly once:
//     "schema": 1, "ok": bool (exit_code == 0), "exit_code": int,
//     "kind": "export" | "validate", "job_id": "" in-process,
//     "state": "SUCCEEDED" | "FAILED" | "CANCELLED" | "INTERRUPTED" ("" when the
//              request never became a job, e.g. refused at submission),
//     on error: "code" (canonical code name, e.g. "NOT_FOUND"), "reason"
//              (e.g. "CHECKPOINT_NOT_FOUND"), "retryable", "error" (the
//              message), "metadata" {}, "retry_delay_seconds" (when hinted);
//     whenever there is a result (a failed job keeps it): "output_dir",
//              "skipped", "dry_run", "weights_file", "weights_format",
//              "dtype", "decoder_bias", "tied_decoder", "tensor_count",
//              "tensor_bytes", "files" [{name, size, sha256}], "notes",
//              "warnings", "mapping" (dry runs), "sanity_device",
//              "sanity_seconds", "hook_ran", "hook_exit_code",
//              "hook_message", "seconds", and with a validation report
//              "checks" [{name, passed, detail, advisory}] and "passed".
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "core/export/exporter.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {

struct Outcome {
  std::string kind = "export";  // "export" | "validate"
  std::string job_id;           // empty in-process
  std::string state;            // SUCCEEDED, FAILED, CANCELLED, INTERRUPTED; "" = no job
  std::optional<core::ExportResult> result;
  absl::Status error;  // with its reason payload (core/status/error_reason.h)
  bool hook_ran = false;
  int hook_exit_code = 0;
  std::string hook_message;
};

// The exit code of an error status, by its reason.
int ExitCodeForStatus(const absl::Status& status);
// 0, or kExitValidationFailed for a report that did not pass, or the
// error's class.
int ExitCodeFor(const Outcome& outcome);
// The "result" line.
nlohmann::ordered_json OutcomeJson(const Outcome& outcome);
// One line per check: "PASS  name: detail", "FAIL  ..." or, for a failed
// advisory check, "WARN  ...".
void PrintChecks(const core::ValidationReport& report, std::ostream& out);

}  // namespace neobert::cli
