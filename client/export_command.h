#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export export CKPT_DIR [-o DIR] [...]`, in-process. Returns the
// process exit code.
int RunExport(const std::vector<std::string>& args);

// Parses "1500000", "500MB", "2GiB", "5GB" into bytes (0 on error).
uint64_t ParseByteSize(const std::string& text);

}  // namespace neobert::cli
