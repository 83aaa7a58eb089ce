#include "core/export/weight_files.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/export/staging_dir.h"
#include "core/format/safetensors.h"
#include "core/format/torch_writer.h"
#include "nlohmann/json.hpp"

namespace neobert::core {
namespace fs = std::filesystem;
using format::TensorEntry;

namespace {

constexpr char kIndexName[] = "model.safetensors.index.json";

// What the two writer threads share: bytes done on each side (for progress)
// and whether the safetensors side failed (the .bin side then stops).
struct WriteProgress {
  std::atomic<uint64_t> safetensors{0};
  std::atomic<uint64_t> bin{0};
  std::atomic<bool> abort_bin{false};
  uint64_t total() const { return safetensors.load() + bin.load(); }
};

// The pytorch_model.bin on its own thread; it only checks cancellation.
std::future<absl::Status> StartTorchBin(const std::vector<TensorEntry>& tensors,
                                        const std::string& path, const WeightWriteOptions& options,
                                        const base::CancelToken& cancel, WriteProgress& shared,
                                        std::string* sha256) {
  return std::async(std::launch::async, [&tensors, path, &options, &cancel, &shared, sha256]() {
    format::TorchWriteOptions o;
    o.root = options.root;
    o.sync = options.sync;
    o.sha256 = sha256;
    o.writeback = options.writeback;
    o.progress = [&](uint64_t done) {
      shared.bin.store(done, std::memory_order_relaxed);
      if (shared.abort_bin.load()) return absl::CancelledError("aborted");
      return cancel.Check();
    };
    return format::WriteTorchBin(tensors, path, o);
  });
}

// The safetensors shards, one after the other, on the calling thread.
absl::Status WriteShards(const std::vector<TensorEntry>& tensors, const WeightFilesPlan& plan,
                         const WeightWriteOptions& options, base::ProgressSink& progress,
                         const base::CancelToken& cancel, WriteProgress& shared,
                         std::vector<std::string>* digests) {
  uint64_t base = 0;  // bytes of the shards before this one
  for (size_t i = 0; i < plan.shards.size(); ++i) {
    const WeightFilesPlan::Shard& shard = plan.shards[i];
    std::vector<TensorEntry> group;
    group.reserve(shard.tensors.size());
    for (size_t t : shard.tensors) group.push_back(tensors[t]);
    format::SafetensorsWriteOptions o;
    o.root = options.root;
    o.sync = options.sync;
    if (options.sha256 != nullptr) o.sha256 = &(*digests)[i];
    o.writeback = options.writeback;
    o.progress = [&](uint64_t done) {
      shared.safetensors.store(base + done, std::memory_order_relaxed);
      progress.OnBytes(shared.total());
      return cancel.Check();
    };
    const std::string path = (fs::path(options.dir) / shard.name).string();
    RETURN_IF_ERROR(format::WriteSafetensors(group, path, o));
    base += shard.bytes;
  }
  return absl::OkStatus();
}

// model.safetensors.index.json, as transformers writes it.
absl::Status WriteIndex(const std::vector<TensorEntry>& tensors, const WeightFilesPlan& plan,
                        const WeightWriteOptions& options) {
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", plan.tensor_bytes}};
  nlohmann::json weight_map = nlohmann::json::object();  // sorted, as transformers writes it
  for (const WeightFilesPlan::Shard& shard : plan.shards) {
    for (size_t t : shard.tensors) weight_map[tensors[t].name] = shard.name;
  }
  index["weight_map"] = weight_map;
  return WriteTextFile(options.root, (fs::path(options.dir) / plan.index_name).string(),
                       index.dump(2) + "\n");
}

}  // namespace

std::vector<std::string> WeightFilesPlan::Files() const {
  std::vector<std::string> names;
  for (const Shard& s : shards) names.push_back(s.name);
  if (!index_name.empty()) names.push_back(index_name);
  if (!pytorch_bin_name.empty()) names.push_back(pytorch_bin_name);
  return names;
}

WeightFilesPlan PlanWeightFiles(const std::vector<TensorEntry>& tensors,
                                const WeightFilesOptions& options) {
  WeightFilesPlan plan;
  plan.pytorch_bin_name = options.pytorch_bin_name;
  for (const TensorEntry& t : tensors) plan.tensor_bytes += t.nbytes();
  if (options.safetensors_name.empty()) return plan;
  plan.shards.emplace_back();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = tensors[i].nbytes();
    WeightFilesPlan::Shard* shard = &plan.shards.back();
    if (options.max_shard_bytes > 0 && shard->bytes > 0 &&
        shard->bytes + n > options.max_shard_bytes) {
      shard = &plan.shards.emplace_back();
    }
    shard->tensors.push_back(i);
    shard->bytes += n;
  }
  const size_t count = plan.shards.size();
  for (size_t s = 0; s < count; ++s) {
    plan.shards[s].name = count == 1 ? options.safetensors_name
                                     : absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1,
                                                       count);
  }
  if (count > 1) plan.index_name = kIndexName;
  return plan;
}

absl::StatusOr<std::vector<std::string>> WriteWeightFiles(const std::vector<TensorEntry>& tensors,
                                                          const WeightFilesPlan& plan,
                                                          const WeightWriteOptions& options,
                                                          base::ProgressSink& progress,
                                                          const base::CancelToken& cancel) {
  WriteProgress shared;
  // Digests computed while writing; each writer fills its own slots.
  std::string bin_sha256;
  std::vector<std::string> st_sha256(plan.shards.size());
  std::future<absl::Status> bin;
  if (!plan.pytorch_bin_name.empty()) {
    bin = StartTorchBin(tensors, (fs::path(options.dir) / plan.pytorch_bin_name).string(),
                        options, cancel, shared, options.sha256 ? &bin_sha256 : nullptr);
  }
  absl::Status status = WriteShards(tensors, plan, options, progress, cancel, shared, &st_sha256);
  if (status.ok() && !plan.index_name.empty()) status = WriteIndex(tensors, plan, options);
  if (bin.valid()) {
    if (!status.ok()) shared.abort_bin.store(true);
    while (bin.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      progress.OnBytes(shared.total());
    }
    absl::Status b = bin.get();
    if (status.ok()) status = b;
  }
  RETURN_IF_ERROR(status);
  progress.OnBytes(shared.total());
  if (options.sha256 != nullptr) {
    for (size_t s = 0; s < plan.shards.size(); ++s) {
      if (!st_sha256[s].empty()) (*options.sha256)[plan.shards[s].name] = st_sha256[s];
    }
    if (!bin_sha256.empty()) (*options.sha256)[plan.pytorch_bin_name] = bin_sha256;
  }
  return plan.Files();
}

}  // namespace neobert::core
