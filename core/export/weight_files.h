// The weight files of an export (or of `convert`): which files, which tensor
// goes where (PlanWeightFiles), and writing them (WriteWeightFiles).
//
// Both formats are written at once: the safetensors side copies in the
// kernel (copy_file_range); so does the .bin side for whole torch storages,
// whose recorded CRC-32 it reuses (checked by CheckFinite, finite_scan.h),
// and it streams everything else through user space for its CRC-32s, so the
// two use both cores.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/base/progress.h"
#include "core/format/tensor.h"

namespace neobert::core {

struct WeightFilesOptions {
  // The safetensors file ("" = none). Sharded, the shards are named as
  // transformers names them (model-0000N-of-0000M.safetensors) and
  // model.safetensors.index.json maps tensors to shards.
  std::string safetensors_name = "model.safetensors";
  // Split the safetensors file into shards of at most this many bytes of
  // tensor data (a larger tensor gets a shard of its own); 0 = one file.
  uint64_t max_shard_bytes = 0;
  // The torch.load(weights_only=True)-compatible zip ("" = none).
  std::string pytorch_bin_name = "pytorch_model.bin";
};

// Which files hold which tensors. Pure: a function of the tensors' sizes
// and the options.
struct WeightFilesPlan {
  struct Shard {
    std::string name;
    std::vector<size_t> tensors;  // indices into the tensor list, in order
    uint64_t bytes = 0;           // tensor data bytes
  };
  std::vector<Shard> shards;      // the safetensors files, in order
  std::string index_name;         // set when there is more than one shard
  std::string pytorch_bin_name;   // "" = none
  uint64_t tensor_bytes = 0;      // tensor data bytes in each format

  // Every file name, in the order they are written: shards, index, .bin.
  std::vector<std::string> Files() const;
};

WeightFilesPlan PlanWeightFiles(const std::vector<format::TensorEntry>& tensors,
                                const WeightFilesOptions& options);

struct WeightWriteOptions {
  std::string dir;    // directory to write into
  base::FsRoot root{};  // beneath which `dir` lies (default: anywhere)
  bool sync = true;
  // Start disk writeback while writing (format::OutputFile's writeback mode);
  // for callers that fsync the files, here or later (the exporter's Commit).
  bool writeback = true;
  // When set, receives file name -> hex SHA-256 of each weight file, computed
  // while writing it (the export manifest then needs no second read). A file
  // missing from the map could not be hashed that way: hash it afterwards.
  std::map<std::string, std::string>* sha256 = nullptr;
};

// Writes the planned files; returns their names, in plan order. Progress is
// reported as bytes of tensor data written over both formats. On failure
// files already written stay (the caller's staging directory removes them).
absl::StatusOr<std::vector<std::string>> WriteWeightFiles(
    const std::vector<format::TensorEntry>& tensors, const WeightFilesPlan& plan,
    const WeightWriteOptions& options, base::ProgressSink& progress, const base::CancelToken& cancel);

}  // namespace neobert::core
