#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export inspect PATH [--hash] [--json]`: lists every tensor of a
// state_dict.pt / pytorch_model.bin / model.safetensors (or of the weight file
// inside a checkpoint or export directory). Returns the process exit code.
int RunInspect(const std::vector<std::string>& args);

}  // namespace neobert::cli
