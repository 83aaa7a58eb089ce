// Opens a weight file of any supported format, chosen by content (not by
// name): a zip local-file signature "PK\3\4" means a torch.save checkpoint,
// anything else is parsed as safetensors.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/format/tensor.h"

namespace neobert::format {

absl::StatusOr<TensorSet> ReadWeights(const base::FsRoot& root, const std::string& path);

}  // namespace neobert::format
