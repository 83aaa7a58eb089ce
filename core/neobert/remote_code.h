// Our Hugging Face remote-code files (core/neobert/remote_code/*.py), embedded
// into the binary at build time so an export never depends on a source tree.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace neobert::core {

// File names written into every export, in order: model.py, rotary.py (the
// order of REMOTE_CODE_FILES in core/neobert/CMakeLists.txt).
const std::vector<std::string>& RemoteCodeFileNames();
// The bytes of one embedded file; NOT_FOUND for an unknown name.
absl::StatusOr<std::string> RemoteCodeFile(const std::string& name);

}  // namespace neobert::core
