// libFuzzer target: the job store's row decoding (server/store/job_codec.h)
// over arbitrary bytes, as a corrupt or foreign database row or old journal
// line would give it. Every decoder must return an error or a value, never
// crash or throw; a value must survive encoding and decoding again unchanged
// (what the store writes back is what it read).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/store/job_codec.h"

namespace {
using namespace neobert::server;

template <typename T, typename Decode, typename Encode>
void RoundTrip(const std::string& text, Decode decode, Encode encode) {
  auto first = decode(text);
  if (!first.ok()) return;
  const std::string again = encode(*first);
  auto second = decode(again);
  if (!second.ok() || encode(*second) != again) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  RoundTrip<JobSpec>(text, DecodeSpec, EncodeSpec);
  RoundTrip<neobert::core::ExportResult>(text, DecodeResult, EncodeResult);
  RoundTrip<HookOutcome>(text, DecodeHook, EncodeHook);
  RoundTrip<absl::Status>(text, DecodeStatus, EncodeStatus);
  RoundTrip<JobEvent>(text, DecodeEvent, EncodeEvent);
  RoundTrip<JobSnapshot>(text, DecodeJournalLine, EncodeJournalLine);
  return 0;
}
