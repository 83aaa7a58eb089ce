#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export predict EXPORT_DIR TEXT [--top-k K] [--json] [--device D]`:
// fill-mask with an export folder, like the original mlm_predict.py (§9.2).
// Exit 0 ok, 1 bad input (e.g. no mask token in TEXT) or a failed run, 2 usage.
int RunPredict(const std::vector<std::string>& args);

}  // namespace neobert::cli
