#include "core/export/weight_files.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/export/staging_dir.h"
#include "core/format/crc32.h"
#include "core/format/safetensors.h"
#include "core/format/torch_writer.h"
#include "nlohmann/json.hpp"

namespace neobert::core {
namespace fs = std::filesystem;
using format::DType;
using format::TensorEntry;

std::vector<std::string> AssignShards(const std::vector<TensorEntry>& tensors,
                                      uint64_t max_shard_bytes) {
  std::vector<size_t> shard_of(tensors.size(), 0);
  size_t shard = 0;
  uint64_t used = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = tensors[i].nbytes();
    if (max_shard_bytes > 0 && used > 0 && used + n > max_shard_bytes) {
      ++shard;
      used = 0;
    }
    shard_of[i] = shard;
    used += n;
  }
  const size_t count = tensors.empty() ? 1 : shard + 1;
  std::vector<std::string> names(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    names[i] = count == 1 ? "model.safetensors"
                          : absl::StrFormat("model-%05d-of-%05d.safetensors", shard_of[i] + 1,
                                            count);
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> WriteWeightFiles(const std::vector<TensorEntry>& tensors,
                                                          const WeightWriteOptions& options,
                                                          ProgressSink& progress,
                                                          const CancelToken& cancel) {
  const std::vector<std::string> shard_names = AssignShards(tensors, options.max_shard_bytes);
  std::vector<std::string> files;
  std::map<std::string, std::vector<TensorEntry>> shards;  // file name → tensors, in order
  std::vector<std::string> shard_order;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, inserted] = shards.try_emplace(shard_names[i]);
    if (inserted) shard_order.push_back(shard_names[i]);
    it->second.push_back(tensors[i]);
  }

  std::atomic<uint64_t> st_done{0}, bin_done{0};
  std::atomic<bool> abort_bin{false};  // the safetensors side failed
  // Digests computed while writing; each writer fills its own slot.
  std::string bin_sha256;
  std::vector<std::string> st_sha256(shard_order.size());
  // The .bin runs on a second thread; it only checks cancellation.
  std::future<absl::Status> bin;
  if (options.write_pytorch_bin) {
    bin = std::async(std::launch::async, [&]() {
      format::TorchWriteOptions o;
      o.root = options.root;
      o.sync = options.sync;
      if (options.sha256 != nullptr) o.sha256 = &bin_sha256;
      o.writeback = options.writeback;
      o.progress = [&](uint64_t done) {
        bin_done.store(done, std::memory_order_relaxed);
        if (abort_bin.load()) return absl::CancelledError("aborted");
        return cancel.Check();
      };
      return format::WriteTorchBin(tensors, (fs::path(options.dir) / "pytorch_model.bin").string(),
                                   o);
    });
  }

  absl::Status st_status;
  uint64_t st_base = 0;
  for (size_t shard = 0; shard < shard_order.size(); ++shard) {
    const std::string& name = shard_order[shard];
    format::SafetensorsWriteOptions o;
    o.root = options.root;
    o.sync = options.sync;
    if (options.sha256 != nullptr) o.sha256 = &st_sha256[shard];
    o.writeback = options.writeback;
    o.progress = [&](uint64_t done) {
      st_done.store(st_base + done, std::memory_order_relaxed);
      progress.OnBytes(st_done.load() + bin_done.load());
      return cancel.Check();
    };
    const auto& group = shards[name];
    st_status = format::WriteSafetensors(group, (fs::path(options.dir) / name).string(), o);
    if (!st_status.ok()) break;
    for (const auto& t : group) st_base += t.nbytes();
    files.push_back(name);
  }
  if (st_status.ok() && shard_order.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", st_base}};
    nlohmann::json weight_map = nlohmann::json::object();  // sorted, as transformers writes it
    for (size_t i = 0; i < tensors.size(); ++i) weight_map[tensors[i].name] = shard_names[i];
    index["weight_map"] = weight_map;
    st_status = WriteTextFile(options.root,
                              (fs::path(options.dir) / "model.safetensors.index.json").string(),
                              index.dump(2) + "\n");
    if (st_status.ok()) files.push_back("model.safetensors.index.json");
  }
  if (bin.valid()) {
    if (!st_status.ok()) abort_bin.store(true);
    while (bin.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      progress.OnBytes(st_done.load() + bin_done.load());
    }
    absl::Status b = bin.get();
    if (st_status.ok() && !b.ok()) st_status = b;
    if (b.ok()) files.push_back("pytorch_model.bin");
  }
  if (!st_status.ok()) return st_status;
  progress.OnBytes(st_done.load() + bin_done.load());
  if (options.sha256 != nullptr) {
    for (size_t shard = 0; shard < shard_order.size(); ++shard) {
      if (!st_sha256[shard].empty()) (*options.sha256)[shard_order[shard]] = st_sha256[shard];
    }
    if (!bin_sha256.empty()) (*options.sha256)["pytorch_model.bin"] = bin_sha256;
  }
  return files;
}

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
    auto s = format::ForEachContiguousChunk(
        t,
        [&](absl::Span<const uint8_t> c) {
          r.non_finite += CountNonFinite(t.dtype, c);
          if (want_crc) r.crc = format::Crc32(r.crc, c);
          return absl::OkStatus();
        },
        kScanPiece);
    if (!s.ok()) return s;
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
    if (auto s = t.storage.source->ReadAt(offset + done, piece); !s.ok()) return s;
    if (floating) r.non_finite += CountNonFinite(t.dtype, piece);
    if (want_crc) r.crc = format::Crc32(r.crc, piece);
    done += len;
  }
  return r;
}

}  // namespace

absl::Status CheckFinite(const std::vector<TensorEntry>& tensors, const CancelToken& cancel) {
  // Per tensor: a CRC failure and a NaN/Inf finding; reported in tensor
  // order, CRC failures first (a corrupt record explains any NaN in it).
  std::vector<std::string> crc_errors(tensors.size());
  std::vector<std::string> errors(tensors.size());
  auto lane = [&](size_t start) -> absl::Status {
    std::vector<uint8_t> buffer;
    for (size_t i = start; i < tensors.size(); i += 2) {
      if (auto c = cancel.Check(); !c.ok()) return c;
      const TensorEntry& t = tensors[i];
      // The .bin writer copies these without reading them, trusting the
      // recorded CRC; this pass is what checks it. Non-floating tensors with
      // one are read for the check alone (they are few and small).
      const std::optional<uint32_t> recorded = format::RecordedCrc32(t);
      if (!format::IsFloatingPoint(t.dtype) && !recorded.has_value()) continue;
      auto scan = ScanTensor(t, recorded.has_value(), buffer);
      if (!scan.ok()) return scan.status();
      if (recorded.has_value() && scan->crc != *recorded) {
        crc_errors[i] = absl::StrFormat(
            "tensor '%s': storage record '%s' fails its CRC-32 check (recorded 0x%08x, computed "
            "0x%08x): the checkpoint file is corrupt",
            t.name, t.storage.record.empty() ? t.storage.key : t.storage.record, *recorded,
            scan->crc);
      }
      if (scan->non_finite > 0) {
        errors[i] = absl::StrCat("tensor '", t.name, "' has ", scan->non_finite, " NaN/Inf value",
                                 scan->non_finite == 1 ? "" : "s", " (of ", t.numel(), ")");
      }
    }
    return absl::OkStatus();
  };
  auto second = std::async(std::launch::async, lane, 1);
  absl::Status a = lane(0);
  absl::Status b = second.get();
  if (!a.ok()) return a;
  if (!b.ok()) return b;
  for (const auto& e : crc_errors) {
    if (!e.empty()) return absl::InvalidArgumentError(e);
  }
  for (const auto& e : errors) {
    if (!e.empty()) return absl::InvalidArgumentError(e);
  }
  return absl::OkStatus();
}

}  // namespace neobert::core
