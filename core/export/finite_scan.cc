// The export's read pass over every weight byte; contract in finite_scan.h.
#include "core/export/finite_scan.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/format/crc32.h"

namespace neobert::core {
using format::DType;
using format::TensorEntry;

namespace {

// Elements whose exponent bits are all ones (NaN or +-Inf). The inner loop
// has a fixed trip count so that -O2 vectorises it; the scan then runs at
// memory speed instead of one element per iteration.
template <typename Bits>
uint64_t CountNonFinite(absl::Span<const uint8_t> bytes, Bits exp_mask) {
  constexpr size_t kBlock = 64;
  const size_t n = bytes.size() / sizeof(Bits);
  const uint8_t* p = bytes.data();
  uint64_t bad = 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    Bits block[kBlock];
    std::memcpy(block, p + i * sizeof(Bits), sizeof(block));
    Bits hits = 0;  // at most kBlock, fits every Bits
    for (size_t j = 0; j < kBlock; ++j) hits += static_cast<Bits>((block[j] & exp_mask) == exp_mask);
    bad += hits;
  }
  for (; i < n; ++i) {
    Bits v;
    std::memcpy(&v, p + i * sizeof(Bits), sizeof(Bits));
    bad += (v & exp_mask) == exp_mask;
  }
  return bad;
}

uint64_t CountNonFinite(DType dtype, absl::Span<const uint8_t> c) {
  switch (dtype) {
    case DType::kFloat32:
      return CountNonFinite<uint32_t>(c, 0x7F800000u);
    case DType::kFloat64:
      return CountNonFinite<uint64_t>(c, 0x7FF0000000000000ull);
    case DType::kBFloat16:
      return CountNonFinite<uint16_t>(c, 0x7F80);
    case DType::kFloat16:
      return CountNonFinite<uint16_t>(c, 0x7C00);
    default:
      return 0;
  }
}

// Read piece size: cache-sized, so each piece is scanned while still cached.
constexpr size_t kScanPiece = 1 << 20;

struct ScanResult {
  uint64_t non_finite = 0;
  uint32_t crc = 0;  // CRC-32 of the tensor's bytes, when asked for
};

// One read pass over `t`: counts NaN/Inf (floating dtypes) and, with
// `want_crc`, computes the CRC-32 of the same pieces while they are cached.
// `buffer` is the caller's, reused across tensors (no per-tensor allocation).
absl::StatusOr<ScanResult> ScanTensor(const TensorEntry& t, bool want_crc,
                                      std::vector<uint8_t>& buffer) {
  ScanResult r;
  if (!t.is_contiguous()) {
    // Views are gathered; RecordedCrc32 never holds for them (want_crc false).
    RETURN_IF_ERROR(format::ForEachContiguousChunk(
        t,
        [&](absl::Span<const uint8_t> c) {
          r.non_finite += CountNonFinite(t.dtype, c);
          if (want_crc) r.crc = format::Crc32(r.crc, c);
          return absl::OkStatus();
        },
        kScanPiece));
    return r;
  }
  const uint64_t total = t.nbytes();
  uint64_t offset =
      t.storage.offset + static_cast<uint64_t>(t.storage_offset) * format::ElementSize(t.dtype);
  if (total > 0 && buffer.size() < kScanPiece) buffer.resize(kScanPiece);
  const bool floating = format::IsFloatingPoint(t.dtype);
  for (uint64_t done = 0; done < total;) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(total - done, kScanPiece));
    auto piece = absl::MakeSpan(buffer.data(), len);
    RETURN_IF_ERROR(t.storage.source->ReadAt(offset + done, piece));
    if (floating) r.non_finite += CountNonFinite(t.dtype, piece);
    if (want_crc) r.crc = format::Crc32(r.crc, piece);
    done += len;
  }
  return r;
}

}  // namespace

absl::Status CheckFinite(const std::vector<TensorEntry>& tensors, const base::CancelToken& cancel) {
  // Per tensor: a CRC failure and a NaN/Inf finding; reported in tensor
  // order, CRC failures first (a corrupt record explains any NaN in it).
  std::vector<std::string> crc_errors(tensors.size());
  std::vector<std::string> errors(tensors.size());
  auto lane = [&](size_t start) -> absl::Status {
    std::vector<uint8_t> buffer;
    for (size_t i = start; i < tensors.size(); i += 2) {
      RETURN_IF_ERROR(cancel.Check());
      const TensorEntry& t = tensors[i];
      // The .bin writer copies these without reading them, trusting the
      // recorded CRC; this pass is what checks it. Non-floating tensors with
      // one are read for the check alone (they are few and small).
      const std::optional<uint32_t> recorded = format::RecordedCrc32(t);
      if (!format::IsFloatingPoint(t.dtype) && !recorded.has_value()) continue;
      ASSIGN_OR_RETURN(const ScanResult scan, ScanTensor(t, recorded.has_value(), buffer));
      if (recorded.has_value() && scan.crc != *recorded) {
        crc_errors[i] = absl::StrFormat(
            "tensor '%s': storage record '%s' fails its CRC-32 check (recorded 0x%08x, computed "
            "0x%08x): the checkpoint file is corrupt",
            t.name, t.storage.record.empty() ? t.storage.key : t.storage.record, *recorded,
            scan.crc);
      }
      if (scan.non_finite > 0) {
        errors[i] = absl::StrCat("tensor '", t.name, "' has ", scan.non_finite, " NaN/Inf value",
                                 scan.non_finite == 1 ? "" : "s", " (of ", t.numel(), ")");
      }
    }
    return absl::OkStatus();
  };
  auto second = std::async(std::launch::async, lane, 1);
  absl::Status a = lane(0);
  absl::Status b = second.get();
  RETURN_IF_ERROR(a);
  RETURN_IF_ERROR(b);
  for (const auto& e : crc_errors) {
    if (!e.empty()) return absl::InvalidArgumentError(e);
  }
  for (const auto& e : errors) {
    if (!e.empty()) return absl::InvalidArgumentError(e);
  }
  return absl::OkStatus();
}

}  // namespace neobert::core
