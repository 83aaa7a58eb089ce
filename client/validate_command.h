#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export validate EXPORT_DIR [--source CKPT_DIR] [--json] [--device D]`,
// in-process. Exit 0 when every check passes, 1 otherwise.
int RunValidate(const std::vector<std::string>& args);

}  // namespace neobert::cli
