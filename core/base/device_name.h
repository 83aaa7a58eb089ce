// The one parser of a forward-pass device name, shared by the engine (which
// opens the device), the server's device policy (which assigns one) and the
// options checks (which refuse a malformed one before any work is queued).
//
//   auto      CUDA device 0 when there is one, else the CPU
//   cpu
//   cuda      CUDA device 0
//   cuda:N    CUDA device N (decimal digits only, N <= 127)
//
// Whether the device exists is not this parser's business: the engine and
// the device policy ask LibTorch.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace neobert::base {

struct DeviceName {
  enum class Kind { kAuto, kCpu, kCuda };
  Kind kind = Kind::kAuto;
  int cuda_index = 0;  // kCuda only

  // "auto", "cpu" or "cuda:N" (canonical: "cuda" reads back as "cuda:0").
  std::string ToString() const;
};

inline constexpr int kMaxCudaIndex = 127;

// INVALID_ARGUMENT "device 'X': expected auto, cpu, cuda or cuda:N" (or
// naming the bad index) for anything else, the empty string included.
absl::StatusOr<DeviceName> ParseDeviceName(absl::string_view name);

}  // namespace neobert::base
