// Reader for torch.save zip checkpoints (state_dict.pt, pytorch_model.bin).
//
// Layout (PyTorch >= 1.6 "zipfile" serialization), all entries STORED:
//   <archive>/data.pkl                 pickle (protocol 2) of the saved object
//   <archive>/data/<key>               raw little-endian bytes of storage <key>
//   <archive>/version                  format version, e.g. "3\n"
//   <archive>/byteorder                "little" (newer PyTorch; absent = little)
//   <archive>/.data/serialization_id   (newer PyTorch; ignored)
// <archive> is any single top-level folder name; data.pkl is found as */data.pkl.
//
// The pickle is interpreted by a restricted, weights-only unpickler (see
// pickle_reader.h): nothing in the file is ever executed. Tensors come from
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter calls whose storages are
// persistent ids ('storage', torch.<Type>Storage, key, location, numel).
// The top object may be a (Ordered)dict of tensors, or such a dict nested one
// level under "state_dict" or "model".
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/format/byte_source.h"
#include "core/format/tensor.h"

namespace neobert::format {

// Reads tensor descriptors (no tensor bytes) from a torch zip checkpoint.
// Errors name the file and the offending record/global/tensor.
// TensorSet::format = "torch-zip"; metadata holds "version", "byteorder",
// "archive" (the top-level folder name) and "nested_under" when unwrapped.
absl::StatusOr<TensorSet> ReadTorchCheckpoint(std::shared_ptr<const ByteSource> src);
absl::StatusOr<TensorSet> ReadTorchCheckpoint(const base::FsRoot& root, const std::string& path);

}  // namespace neobert::format
