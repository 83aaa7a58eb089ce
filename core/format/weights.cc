#include "core/format/weights.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/safetensors.h"
#include "core/format/torch_reader.h"

namespace neobert::format {

absl::StatusOr<TensorSet> ReadWeights(const base::FsRoot& root, const std::string& path) {
  ASSIGN_OR_RETURN(auto src, FileSource::Open(root, path));
  std::array<uint8_t, 4> magic{};
  if (src->size() < magic.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file of ", src->size(), " bytes is too small to be a weight file"));
  }
  RETURN_IF_ERROR(src->ReadAt(0, absl::MakeSpan(magic)));
  if (magic == std::array<uint8_t, 4>{'P', 'K', 3, 4}) return ReadTorchCheckpoint(src);
  return ReadSafetensors(src);
}

}  // namespace neobert::format
