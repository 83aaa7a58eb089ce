#include "client/outcome.h"

#include "absl/time/time.h"
#include "client/cli_args.h"
#include "core/status/error_reason.h"

namespace neobert::cli {

int ExitCodeForStatus(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  using core::ErrorReason;
  switch (core::ReasonOf(status)) {
    case ErrorReason::kValidationFailed: return kExitValidationFailed;
    case ErrorReason::kPathDenied:
    case ErrorReason::kUnauthenticated: return kExitDenied;
    case ErrorReason::kCancelled:
    case ErrorReason::kInterrupted: return kExitCancelled;
    case ErrorReason::kDraining:
    case ErrorReason::kQueueFull: return kExitUnreachable;
    default: break;
  }
  return status.code() == absl::StatusCode::kDeadlineExceeded ? kExitUnreachable : kExitFailed;
}

int ExitCodeFor(const Outcome& o) {
  if (!o.error.ok()) return ExitCodeForStatus(o.error);
  if (o.result && o.result->validation && !o.result->validation->ok()) return kExitValidationFailed;
  return kExitOk;
}

nlohmann::ordered_json OutcomeJson(const Outcome& o) {
  const int exit_code = ExitCodeFor(o);
  nlohmann::ordered_json j;
  j["event"] = "result";
  j["schema"] = 1;
  j["ok"] = exit_code == kExitOk;
  j["exit_code"] = exit_code;
  j["kind"] = o.kind;
  j["job_id"] = o.job_id;
  j["state"] = o.state;
  if (!o.error.ok()) {
    const core::ErrorDetails d = core::DetailsOf(o.error);
    j["code"] = absl::StatusCodeToString(o.error.code());
    j["reason"] = core::ErrorReasonName(d.reason);
    j["retryable"] = d.retryable;
    j["error"] = std::string(o.error.message());
    nlohmann::ordered_json md = nlohmann::ordered_json::object();
    for (const auto& [k, v] : d.metadata) md[k] = v;
    j["metadata"] = std::move(md);
    if (d.retry_delay) j["retry_delay_seconds"] = absl::ToDoubleSeconds(*d.retry_delay);
  }
  if (!o.result) return j;
  const core::ExportResult& r = *o.result;
  j["output_dir"] = r.output_dir;
  j["skipped"] = r.skipped;
  j["dry_run"] = r.dry_run;
  j["weights_file"] = r.weights_file;
  j["weights_format"] = r.weights_format;
  j["dtype"] = r.dtype;
  j["decoder_bias"] = r.decoder_bias;
  j["tied_decoder"] = r.tied_decoder;
  j["tensor_count"] = r.tensor_count;
  j["tensor_bytes"] = r.tensor_bytes;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const auto& f : r.files) {
    files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  }
  j["files"] = std::move(files);
  j["notes"] = r.notes;
  j["warnings"] = r.warnings;
  if (r.dry_run) j["mapping"] = r.mapping;
  j["sanity_device"] = r.sanity_device;
  j["sanity_seconds"] = r.sanity_seconds;
  j["hook_ran"] = o.hook_ran;
  j["hook_exit_code"] = o.hook_exit_code;
  j["hook_message"] = o.hook_message;
  if (r.validation) {
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const auto& c : r.validation->checks) {
      checks.push_back(
          {{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}, {"advisory", c.advisory}});
    }
    j["checks"] = std::move(checks);
    j["passed"] = r.validation->ok();
  }
  j["seconds"] = r.seconds;
  return j;
}

void PrintChecks(const core::ValidationReport& report, std::ostream& out) {
  for (const auto& c : report.checks) {
    out << (c.passed ? "PASS  " : c.advisory ? "WARN  " : "FAIL  ") << c.name << ": " << c.detail
        << "\n";
  }
}

}  // namespace neobert::cli
