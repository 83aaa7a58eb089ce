// Writer for torch.save-compatible zip files that torch.load(weights_only=True)
// accepts (torch 1.13 and 2.x): the mirror of torch_reader.h.
//
// Output: archive/data.pkl (protocol 2: an OrderedDict of
// torch._utils._rebuild_tensor_v2 calls over persistent-id storages),
// archive/data/<i> (one contiguous storage per tensor, data aligned to 64
// bytes as torch.save aligns it), archive/version ("3\n"),
// archive/byteorder ("little"), archive/.data/serialization_id. Each entry is
// STORED with a correct CRC-32; ZIP64 records are used when sizes need them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/format/tensor.h"

namespace neobert::format {

struct TorchWriteOptions {
  // Top-level folder name inside the zip ("archive" as torch.save writes).
  std::string archive_name = "archive";
  // Top object: collections.OrderedDict (default), as torch.save of a
  // state_dict() writes it (§2.1), or the plain dict the reference exporter's
  // pytorch_model.bin holds (§8.2). Both load with weights_only=True.
  bool ordered_dict = true;
  bool sync = true;
  // Called with the number of tensor bytes written so far; non-OK aborts.
  std::function<absl::Status(uint64_t)> progress;
};

absl::Status WriteTorchBin(const std::vector<TensorEntry>& tensors, const std::string& path,
                           const TorchWriteOptions& options = {});

}  // namespace neobert::format
