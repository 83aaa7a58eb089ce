// Writer for torch.save-compatible zip files that torch.load(weights_only=True)
// accepts (torch 1.13 and 2.x): the mirror of torch_reader.h.
//
// Output: archive/data.pkl (protocol 2: an OrderedDict of
// torch._utils._rebuild_tensor_v2 calls over persistent-id storages),
// archive/data/<i> (one contiguous storage per tensor, data aligned to 64
// bytes as torch.save aligns it), archive/version ("3\n"),
// archive/byteorder ("little"), archive/.data/serialization_id. Each entry is
// STORED with a correct CRC-32; ZIP64 records are used when sizes need them.
// A tensor that is a whole storage of a torch zip input (TensorEntry's
// RecordedCrc32) gets the CRC-32 its record carries, and its bytes are copied
// by the kernel without being read: that CRC is trusted here, not checked (the
// exporter checks it in its NaN/Inf scan; if a record is corrupt, the copy
// keeps the recorded CRC and so stays detectably corrupt).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/fs_root.h"
#include "core/format/tensor.h"

namespace neobert::format {

struct TorchWriteOptions {
  // Where `path` is created (default: the whole file system).
  base::FsRoot root;
  // Top-level folder name inside the zip ("archive" as torch.save writes).
  std::string archive_name = "archive";
  // Top object: collections.OrderedDict (default), as torch.save of a
  // state_dict() writes it (§2.1), or the plain dict the reference exporter's
  // pytorch_model.bin holds (§8.2). Both load with weights_only=True.
  bool ordered_dict = true;
  bool sync = true;
  // Submit bytes to the disk while writing (OutputFile's writeback mode,
  // every kWritebackChunk bytes) instead of leaving them all to the final
  // fsync. For writes that will be fsynced, here (`sync`) or by the caller;
  // on by default as `sync` is. Does not change what is durable when.
  bool writeback = true;
  // Called with the number of tensor bytes written so far; non-OK aborts.
  std::function<absl::Status(uint64_t)> progress;
  // When set, receives the file's hex SHA-256 computed while writing (then
  // whole-record copies go through user space instead of copy_file_range,
  // and entries without a recorded CRC get a CRC pass first so that no
  // header is patched), or "" when a header still had to be patched (the
  // source changed between the passes): the caller hashes the file then.
  std::string* sha256 = nullptr;
};

absl::Status WriteTorchBin(const std::vector<TensorEntry>& tensors, const std::string& path,
                           const TorchWriteOptions& options = {});

}  // namespace neobert::format
