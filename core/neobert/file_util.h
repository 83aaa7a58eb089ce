// Small, bounded file reads for the knowledge layer (config.yaml, JSON files).
//
// Checkpoint directories are untrusted: a "file" may be a FIFO, a device, a
// symlink to something huge, or grow while we read it. Every read here opens
// without blocking, insists on a regular file and stops at a byte cap.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace neobert::core {

// Reads the whole regular file at `path` (symlinks followed). Errors:
// NOT_FOUND when it does not exist, INVALID_ARGUMENT when it is not a regular
// file or is larger than `max_bytes`, INTERNAL on I/O errors. Messages name
// the path.
absl::StatusOr<std::string> ReadFileCapped(const std::string& path, uint64_t max_bytes);

// Maximum nesting depth of `[`/`{` in JSON text (strings skipped). Used to
// refuse pathologically nested input before a recursive parser or dumper
// sees it. Does not validate the JSON.
int JsonNestingDepth(absl::string_view text);

}  // namespace neobert::core
