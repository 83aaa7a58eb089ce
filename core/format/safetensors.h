// safetensors reader and writer.
//
// Byte layout:
//   u64 little-endian N            header length (capped, see kMaxHeaderBytes)
//   N bytes of UTF-8 JSON          {"<name>": {"dtype": "F32", "shape": [..],
//                                   "data_offsets": [begin, end]}, ...,
//                                   "__metadata__": {"k": "v", ...}}
//                                  (may be right-padded with spaces)
//   data                           offsets are relative to the start of data;
//                                  tensors are contiguous, row-major, little-
//                                  endian, non-overlapping, and cover the
//                                  data section exactly
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/format/byte_source.h"
#include "core/format/tensor.h"

namespace neobert::format {

inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100 << 20;  // as the reference library

// Reads the header and returns descriptors pointing into `src` (no tensor
// bytes are read). TensorSet::format = "safetensors"; metadata = __metadata__.
// Tensors are returned in data-offset order.
absl::StatusOr<TensorSet> ReadSafetensors(std::shared_ptr<const ByteSource> src);
absl::StatusOr<TensorSet> ReadSafetensors(const base::FsRoot& root, const std::string& path);

// Writes `tensors` (any sources, any strides) to `path`, streaming bytes from
// their sources; tensors are laid out in the given order, the header is
// padded to 8 bytes. Names must be unique. Calls `progress(bytes)` after each
// tensor when set.
struct SafetensorsWriteOptions {
  // Where `path` is created (default: the whole file system).
  base::FsRoot root;
  // Written as __metadata__ (transformers requires {"format": "pt"}).
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  // fsync before close.
  bool sync = true;
  // Submit bytes to the disk while writing (OutputFile's writeback mode,
  // every kWritebackChunk bytes) instead of leaving them all to the final
  // fsync. For writes that will be fsynced, here (`sync`) or by the caller;
  // on by default as `sync` is. Does not change what is durable when.
  bool writeback = true;
  // Called with the number of tensor bytes written so far; a non-OK return
  // aborts the write (used for cancellation).
  std::function<absl::Status(uint64_t)> progress;
  // When set, receives the file's hex SHA-256, computed while writing (the
  // tensor bytes then pass through user space instead of copy_file_range).
  std::string* sha256 = nullptr;
};
absl::Status WriteSafetensors(const std::vector<TensorEntry>& tensors, const std::string& path,
                              const SafetensorsWriteOptions& options = {});

}  // namespace neobert::format
