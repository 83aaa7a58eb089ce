#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export export CKPT_DIR [-o DIR] [...]`, in-process. Returns the
// process exit code.
int RunExport(const std::vector<std::string>& args);

}  // namespace neobert::cli
