// How a job's parts are written into the store's text columns (JSON), and
// read back. The same objects were the lines of the old jobs.jsonl journal,
// which is why that file can be imported (DecodeJournalLine).
//
// Decoders take untrusted bytes (a database row someone else wrote, an old
// journal): they never throw, check every field's type, cap sizes and return
// INVALID_ARGUMENT naming the column and field. Encoders replace invalid
// UTF-8 rather than fail (messages may quote file names).
//
// An error status is stored whole: code, message and every payload
// (type_url → bytes, base64), so details such as an error reason survive a
// restart and reach watchers on other replicas. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/job.h"

namespace neobert::server {

std::string EncodeSpec(const JobSpec& spec);
absl::StatusOr<JobSpec> DecodeSpec(std::string_view json);

std::string EncodeResult(const core::ExportResult& result);
absl::StatusOr<core::ExportResult> DecodeResult(std::string_view json);

std::string EncodeHook(const HookOutcome& hook);
absl::StatusOr<HookOutcome> DecodeHook(std::string_view json);

// "" for OK.
std::string EncodeStatus(const absl::Status& status);
absl::StatusOr<absl::Status> DecodeStatus(std::string_view json);

// The event without its job_id and sequence (those are columns).
std::string EncodeEvent(const JobEvent& event);
absl::StatusOr<JobEvent> DecodeEvent(std::string_view json);

// One line of the old journal (jobs.jsonl): a whole snapshot.
absl::StatusOr<JobSnapshot> DecodeJournalLine(std::string_view line);
// The inverse, for tests that write an old journal.
std::string EncodeJournalLine(const JobSnapshot& job);

// A digest of everything that makes two requests the same piece of work
// (not the idempotency key, the device or server-wide settings).
std::string SpecKey(const JobSpec& spec);
// The first request field (by its ExportRequest / ValidateRequest name) in
// which `a` and `b` differ as SpecKey sees them; "" when none does.
std::string SpecDifference(const JobSpec& a, const JobSpec& b);

}  // namespace neobert::server
