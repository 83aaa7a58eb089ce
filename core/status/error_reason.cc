#include "core/status/error_reason.h"

#include <cstdint>
#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace neobert::core {
namespace {

struct ReasonRow {
  ErrorReason reason;
  const char* name;
  absl::StatusCode code;
  bool retryable;
};

// The one table: name, code, retryability (export_service.proto repeats it
// for API users).
constexpr ReasonRow kReasons[] = {
    {ErrorReason::kUnspecified, "REASON_UNSPECIFIED", absl::StatusCode::kUnknown, false},
    {ErrorReason::kCheckpointInvalid, "CHECKPOINT_INVALID", absl::StatusCode::kInvalidArgument, false},
    {ErrorReason::kCheckpointNotFound, "CHECKPOINT_NOT_FOUND", absl::StatusCode::kNotFound, false},
    {ErrorReason::kCheckpointUnsupported, "CHECKPOINT_UNSUPPORTED",
     absl::StatusCode::kFailedPrecondition, false},
    {ErrorReason::kPathDenied, "PATH_DENIED", absl::StatusCode::kPermissionDenied, false},
    {ErrorReason::kValidationFailed, "VALIDATION_FAILED", absl::StatusCode::kFailedPrecondition, false},
    {ErrorReason::kQueueFull, "QUEUE_FULL", absl::StatusCode::kResourceExhausted, true},
    {ErrorReason::kDraining, "DRAINING", absl::StatusCode::kUnavailable, true},
    {ErrorReason::kInterrupted, "INTERRUPTED", absl::StatusCode::kAborted, true},
    {ErrorReason::kCancelled, "CANCELLED", absl::StatusCode::kCancelled, false},
    {ErrorReason::kInternal, "INTERNAL", absl::StatusCode::kInternal, true},
    {ErrorReason::kUnauthenticated, "UNAUTHENTICATED", absl::StatusCode::kUnauthenticated, false},
    {ErrorReason::kInvalidRequest, "INVALID_REQUEST", absl::StatusCode::kInvalidArgument, false},
    {ErrorReason::kOutputExists, "OUTPUT_EXISTS", absl::StatusCode::kAlreadyExists, false},
    {ErrorReason::kJobNotFound, "JOB_NOT_FOUND", absl::StatusCode::kNotFound, false},
    {ErrorReason::kJobFinished, "JOB_FINISHED", absl::StatusCode::kFailedPrecondition, false},
    {ErrorReason::kDeviceUnavailable, "DEVICE_UNAVAILABLE", absl::StatusCode::kFailedPrecondition,
     false},
    {ErrorReason::kIdempotencyKeyReused, "IDEMPOTENCY_KEY_REUSED", absl::StatusCode::kAlreadyExists,
     false},
};

const ReasonRow& Row(ErrorReason r) {
  for (const auto& row : kReasons) {
    if (row.reason == r) return row;
  }
  return kReasons[0];
}

// --- the protobuf wire format, as far as ErrorInfo and RetryInfo need it ---
// (tag = field << 3 | wire type; 0 = varint, 2 = length-delimited)

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(int field, absl::string_view bytes, std::string* out) {
  PutVarint(static_cast<uint64_t>(field) << 3 | 2, out);
  PutVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// One field of a message being read; false at the end or on malformed input
// (an unknown wire type, a length past the end): then reading stops.
struct Field {
  int number = 0;
  int wire_type = 0;
  uint64_t varint = 0;
  absl::string_view bytes;
};

class WireReader {
 public:
  explicit WireReader(absl::string_view data) : rest_(data) {}
  bool Next(Field* f) {
    uint64_t tag = 0;
    if (rest_.empty() || !Varint(&tag)) return false;
    f->number = static_cast<int>(tag >> 3);
    f->wire_type = static_cast<int>(tag & 7);
    switch (f->wire_type) {
      case 0: return Varint(&f->varint);
      case 1: return Skip(8);
      case 5: return Skip(4);
      case 2: {
        uint64_t len = 0;
        if (!Varint(&len) || len > rest_.size()) return false;
        f->bytes = rest_.substr(0, len);
        rest_.remove_prefix(len);
        return true;
      }
      default: return false;
    }
  }

 private:
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !rest_.empty(); shift += 7) {
      const auto b = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (n > rest_.size()) return false;
    rest_.remove_prefix(n);
    return true;
  }
  absl::string_view rest_;
};

std::string EncodeErrorInfo(ErrorReason reason, const ErrorMetadata& metadata) {
  std::string out;
  PutBytes(1, ErrorReasonName(reason), &out);
  PutBytes(2, kErrorDomain, &out);
  for (const auto& [k, v] : metadata) {  // map<string, string>: entries {1: key, 2: value}
    std::string entry;
    PutBytes(1, k, &entry);
    PutBytes(2, v, &entry);
    PutBytes(3, entry, &out);
  }
  return out;
}

// reason name ("" when absent) and metadata of an ErrorInfo.
void DecodeErrorInfo(absl::string_view data, std::string* reason, ErrorMetadata* metadata) {
  WireReader r(data);
  Field f;
  while (r.Next(&f)) {
    if (f.wire_type != 2) continue;
    if (f.number == 1) *reason = std::string(f.bytes);
    if (f.number != 3) continue;
    WireReader entry(f.bytes);
    Field e;
    std::string key, value;
    while (entry.Next(&e)) {
      if (e.wire_type != 2) continue;
      if (e.number == 1) key = std::string(e.bytes);
      if (e.number == 2) value = std::string(e.bytes);
    }
    (*metadata)[key] = value;
  }
}

std::optional<absl::Duration> DecodeRetryInfo(absl::string_view data) {
  WireReader r(data);
  Field f;
  while (r.Next(&f)) {
    if (f.number != 1 || f.wire_type != 2) continue;
    int64_t seconds = 0, nanos = 0;
    WireReader d(f.bytes);
    Field g;
    while (d.Next(&g)) {
      if (g.wire_type != 0) continue;
      if (g.number == 1) seconds = static_cast<int64_t>(g.varint);
      if (g.number == 2) nanos = static_cast<int32_t>(g.varint);
    }
    return absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  }
  return std::nullopt;
}

}  // namespace

const char* ErrorReasonName(ErrorReason reason) { return Row(reason).name; }

std::optional<ErrorReason> ErrorReasonFromName(absl::string_view name) {
  for (const auto& row : kReasons) {
    if (name == row.name) return row.reason;
  }
  return std::nullopt;
}

bool IsRetryable(ErrorReason reason) { return Row(reason).retryable; }

absl::StatusCode CodeForReason(ErrorReason reason) { return Row(reason).code; }

ErrorReason ReasonForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return ErrorReason::kUnspecified;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return ErrorReason::kCheckpointInvalid;
    case absl::StatusCode::kNotFound: return ErrorReason::kCheckpointNotFound;
    case absl::StatusCode::kPermissionDenied: return ErrorReason::kPathDenied;
    case absl::StatusCode::kUnauthenticated: return ErrorReason::kUnauthenticated;
    case absl::StatusCode::kResourceExhausted: return ErrorReason::kQueueFull;
    case absl::StatusCode::kUnavailable: return ErrorReason::kDraining;
    case absl::StatusCode::kAborted: return ErrorReason::kInterrupted;
    case absl::StatusCode::kCancelled: return ErrorReason::kCancelled;
    case absl::StatusCode::kAlreadyExists: return ErrorReason::kOutputExists;
    // Core's FAILED_PRECONDITIONs without a reason are properties of the
    // checkpoint (an unsupported layout, dtype, ...).
    case absl::StatusCode::kFailedPrecondition: return ErrorReason::kCheckpointUnsupported;
    default: return ErrorReason::kInternal;
  }
}

absl::Status MakeError(ErrorReason reason, absl::string_view message, const ErrorMetadata& metadata) {
  return WithReason(absl::Status(CodeForReason(reason), message), reason, metadata);
}

absl::Status WithReason(absl::Status status, ErrorReason reason, const ErrorMetadata& metadata) {
  if (status.ok()) return status;
  ErrorMetadata merged = DetailsOf(status).metadata;
  for (const auto& [k, v] : metadata) merged[k] = v;
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(EncodeErrorInfo(reason, merged)));
  return status;
}

absl::Status WithDefaultReason(absl::Status status, ErrorReason reason, const ErrorMetadata& metadata) {
  if (status.ok() || status.GetPayload(kErrorInfoTypeUrl).has_value()) return status;
  return WithReason(std::move(status), reason, metadata);
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(delay));
  // google.protobuf.Duration {1: seconds, 2: nanos}, both varints.
  std::string duration;
  PutVarint(1 << 3 | 0, &duration);
  PutVarint(static_cast<uint64_t>(ms / 1000), &duration);
  PutVarint(2 << 3 | 0, &duration);
  PutVarint(static_cast<uint64_t>(ms % 1000) * 1000000, &duration);
  std::string info;
  PutBytes(1, duration, &info);
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(info));
  return status;
}

ErrorDetails DetailsOf(const absl::Status& status) {
  ErrorDetails d;
  if (status.ok()) return d;
  d.reason = ReasonForCode(status.code());
  if (auto info = status.GetPayload(kErrorInfoTypeUrl)) {
    std::string name;
    DecodeErrorInfo(std::string(*info), &name, &d.metadata);
    if (auto r = ErrorReasonFromName(name); r && *r != ErrorReason::kUnspecified) {
      d.reason = *r;
      d.explicit_reason = true;
    }
  }
  if (auto retry = status.GetPayload(kRetryInfoTypeUrl)) d.retry_delay = DecodeRetryInfo(std::string(*retry));
  d.retryable = IsRetryable(d.reason);
  return d;
}

}  // namespace neobert::core
