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

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/format/tensor.h"

namespace neobert::format {

struct TorchWriteOptions {
  // Top-level folder name inside the zip ("archive" as torch.save writes).
  std::string archive_name = "archive";
  // Top object: collections.OrderedDict instead of the plain dict the
  // reference exporter's pytorch_model.bin holds (reference §8.2). Both load
  // as a Mapping; an OrderedDict mirrors a trainer's state_dict.pt (§2.1).
  bool ordered_dict = false;
  bool sync = true;
  // Called with the number of tensor bytes written so far; non-OK aborts.
  std::function<absl::Status(uint64_t)> progress;
};

absl::Status WriteTorchBin(const std::vector<TensorEntry>& tensors, const std::string& path,
                           const TorchWriteOptions& options = {});

}  // namespace neobert::format
