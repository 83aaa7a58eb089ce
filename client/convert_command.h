#pragma once

#include <string>
#include <vector>

namespace neobert::cli {

// `neobert-export convert INPUT OUTPUT [--to safetensors|bin] [--dtype D]`:
// rewrites one weight file in the other format (names and bytes unchanged,
// optionally cast), streaming tensor bytes. Returns the process exit code.
int RunConvert(const std::vector<std::string>& args);

}  // namespace neobert::cli
