// Streaming SHA-256 (OpenSSL's implementation, which uses the CPU's SHA
// extensions where present: hashing must not be the bottleneck of an export).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/format/byte_source.h"
#include "core/format/tensor.h"

namespace neobert::format {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(absl::Span<const uint8_t> bytes);
  // Lower-case hex digest. The object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// sha256 of a tensor's contiguous little-endian bytes.
absl::StatusOr<std::string> TensorSha256(const TensorEntry& t);
// sha256 of a whole file.
absl::StatusOr<std::string> FileSha256(const base::FsRoot& root, const std::string& path);

}  // namespace neobert::format
