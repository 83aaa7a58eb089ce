// Machine-readable reasons on absl::Status errors: what lets an orchestrator
// tell "fix the checkpoint" from "retry later" without parsing messages. The
// same reason reaches it through the gRPC status details, the job's error,
// the CLI's exit code and its --json result line.
//
// Carriage (the contract with every layer that stores or forwards a status):
//   payload type URL  type.googleapis.com/google.rpc.ErrorInfo
//     bytes: a serialized google.rpc.ErrorInfo — reason = ErrorReasonName(),
//     domain = kErrorDomain, metadata = string pairs naming what failed
//     (checkpoint_dir, job_id, conversion, ...).
//   payload type URL  type.googleapis.com/google.rpc.RetryInfo
//     bytes: a serialized google.rpc.RetryInfo (retry_delay), only where a
//     retry hint exists (QUEUE_FULL, DRAINING).
// The payloads ARE the standard messages, so a status maps one to one onto
// google.rpc.Status {code, message, details: one Any per payload}
// (server/status_mapping.cc) and a job store that keeps a status with its
// payloads keeps its reason. Core does not link protobuf: the few wire-format
// fields are written and read here.
//
// A status without an ErrorInfo payload still has a reason: the default for
// its code (ReasonForCode), so errors from code that attaches nothing are
// classified too. Which reasons are retryable is IsRetryable(), the same
// table export_service.proto documents.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace neobert::core {

inline constexpr char kErrorInfoTypeUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kRetryInfoTypeUrl[] = "type.googleapis.com/google.rpc.RetryInfo";
inline constexpr char kErrorDomain[] = "neobert.exporter.v1";

// The numbers are those of neobert.exporter.v1.Status.Reason.
enum class ErrorReason {
  kUnspecified = 0,
  kCheckpointInvalid = 1,      // INVALID_ARGUMENT: the checkpoint's content is wrong
  kCheckpointNotFound = 2,     // NOT_FOUND: the step dir or a file it needs is missing
                               // (also: pruned while the job was queued or running)
  kCheckpointUnsupported = 3,  // FAILED_PRECONDITION: a layout we do not convert
                               // (DeepSpeed ZeRO only: metadata "conversion")
  kPathDenied = 4,             // PERMISSION_DENIED: outside the allowed roots
  kValidationFailed = 5,       // FAILED_PRECONDITION: the staged export failed validation
  kQueueFull = 6,              // RESOURCE_EXHAUSTED: retry after RetryInfo's delay
  kDraining = 7,               // UNAVAILABLE: the server is shutting down
  kInterrupted = 8,            // ABORTED: the server stopped while the job was queued/running
  kCancelled = 9,              // CANCELLED: CancelJob (or Ctrl-C) stopped it
  kInternal = 10,              // INTERNAL: I/O errors, bugs
  kUnauthenticated = 11,       // UNAUTHENTICATED: missing or wrong bearer token
  kInvalidRequest = 12,        // INVALID_ARGUMENT: the request itself is malformed
  kOutputExists = 13,          // ALREADY_EXISTS: the destination holds a different export
  kJobNotFound = 14,           // NOT_FOUND: no such job id
  kJobFinished = 15,           // FAILED_PRECONDITION: cancelling a finished job
  kDeviceUnavailable = 16,     // FAILED_PRECONDITION: device refused by the server's policy
  kIdempotencyKeyReused = 17,  // ALREADY_EXISTS: the key names a different request
};

// "CHECKPOINT_NOT_FOUND", ...; "REASON_UNSPECIFIED" for kUnspecified.
const char* ErrorReasonName(ErrorReason reason);
std::optional<ErrorReason> ErrorReasonFromName(absl::string_view name);
// True when the same request may succeed later without any change by the
// caller: QUEUE_FULL, DRAINING, INTERRUPTED, INTERNAL (bounded retries).
bool IsRetryable(ErrorReason reason);
// The status code a reason goes with (MakeError).
absl::StatusCode CodeForReason(ErrorReason reason);
// The reason of a status that carries none.
ErrorReason ReasonForCode(absl::StatusCode code);

using ErrorMetadata = std::map<std::string, std::string>;

// A new error: CodeForReason(reason), `message`, and the reason payload.
absl::Status MakeError(ErrorReason reason, absl::string_view message, const ErrorMetadata& metadata = {});
// `status` (code and message kept) with its reason payload set to `reason`
// and `metadata` merged over any it had. OK stays OK.
absl::Status WithReason(absl::Status status, ErrorReason reason, const ErrorMetadata& metadata = {});
// Sets `reason` only when `status` has no explicit one yet (a default for
// one call site: e.g. NOT_FOUND from a job lookup is JOB_NOT_FOUND).
absl::Status WithDefaultReason(absl::Status status, ErrorReason reason,
                               const ErrorMetadata& metadata = {});
// Adds a RetryInfo payload (delay rounded to milliseconds).
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);
// Context is added with base::WithContext (core/base/status_macros.h), which
// keeps the code and every payload, so reasons survive.

struct ErrorDetails {
  ErrorReason reason = ErrorReason::kUnspecified;  // explicit, else ReasonForCode
  bool explicit_reason = false;  // an ErrorInfo payload named it
  bool retryable = false;        // IsRetryable(reason)
  ErrorMetadata metadata;
  std::optional<absl::Duration> retry_delay;
};
// What `status` says about itself (OK: kUnspecified, nothing else).
ErrorDetails DetailsOf(const absl::Status& status);
inline ErrorReason ReasonOf(const absl::Status& status) { return DetailsOf(status).reason; }

}  // namespace neobert::core
