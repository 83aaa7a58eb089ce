// Writes the planned tensors as model.safetensors (optionally sharded, with
// model.safetensors.index.json) and pytorch_model.bin, both at once: the
// safetensors side copies in the kernel (copy_file_range); so does the .bin
// side for whole torch storages, whose recorded CRC-32 it reuses (checked by
// CheckFinite), and it streams everything else through user space for its
// CRC-32s, so the two use both cores.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/export/progress.h"
#include "core/format/tensor.h"

namespace neobert::core {

struct WeightWriteOptions {
  std::string dir;               // directory to write into
  base::FsRoot root;             // beneath which `dir` lies (default: anywhere)
  bool write_pytorch_bin = true;
  uint64_t max_shard_bytes = 0;  // 0 = single model.safetensors
  bool sync = true;
  // Start disk writeback while writing (format::OutputFile's writeback mode);
  // for callers that fsync the files, here or later (the exporter's Commit).
  bool writeback = true;
  // When set, receives file name -> hex SHA-256 of each weight file, computed
  // while writing it (the export manifest then needs no second read). A file
  // missing from the map could not be hashed that way: hash it afterwards.
  std::map<std::string, std::string>* sha256 = nullptr;
};

// Shard file names for `tensors` under `max_shard_bytes` (one name when 0);
// parallel to `tensors`.
std::vector<std::string> AssignShards(const std::vector<format::TensorEntry>& tensors,
                                      uint64_t max_shard_bytes);

// Returns the names of the files written, in order.
absl::StatusOr<std::vector<std::string>> WriteWeightFiles(
    const std::vector<format::TensorEntry>& tensors, const WeightWriteOptions& options,
    ProgressSink& progress, const CancelToken& cancel);

// Scans floating tensors for NaN/Inf; the error names the first tensor and
// counts its non-finite values. In the same read pass it checks the CRC-32 of
// every tensor (floating or not) that carries its storage's recorded CRC
// (format::RecordedCrc32), the CRC the .bin writer then reuses without
// reading: a mismatch is INVALID_ARGUMENT naming the tensor and the record,
// and takes precedence over NaN/Inf findings. Uses two threads.
absl::Status CheckFinite(const std::vector<format::TensorEntry>& tensors,
                         const CancelToken& cancel);

}  // namespace neobert::core
