#include "core/base/device_name.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"

namespace neobert::base {

std::string DeviceName::ToString() const {
  switch (kind) {
    case Kind::kAuto: return "auto";
    case Kind::kCpu: return "cpu";
    case Kind::kCuda: return absl::StrCat("cuda:", cuda_index);
  }
  return "auto";
}

absl::StatusOr<DeviceName> ParseDeviceName(absl::string_view name) {
  if (name == "auto") return DeviceName{DeviceName::Kind::kAuto};
  if (name == "cpu") return DeviceName{DeviceName::Kind::kCpu};
  if (name == "cuda") return DeviceName{DeviceName::Kind::kCuda, 0};
  constexpr absl::string_view kCudaPrefix = "cuda:";
  if (name.substr(0, kCudaPrefix.size()) == kCudaPrefix) {
    const absl::string_view digits = name.substr(kCudaPrefix.size());
    int index = 0;
    if (digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(digits, &index) || index > kMaxCudaIndex) {
      return absl::InvalidArgumentError(absl::StrCat("device '", Excerpt(name),
                                                     "': the CUDA index must be 0..",
                                                     kMaxCudaIndex));
    }
    return DeviceName{DeviceName::Kind::kCuda, index};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device '", Excerpt(name), "': expected auto, cpu, cuda or cuda:N"));
}

}  // namespace neobert::base
