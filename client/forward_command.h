#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export forward EXPORT_DIR --input-ids FILE.json --out OUT.safetensors
// [--device D] [--json]`: runs an export folder's model on the ids in
// FILE.json (core/engine/forward_request.h) and writes float32
// last_hidden_state (B, S, H) and logits (B, S, V). Exit 0 ok, 1 bad input or
// a failed run, 2 usage.
int RunForward(const std::vector<std::string>& args);

}  // namespace neobert::cli
