#include "server/device_policy.h"

#include "absl/strings/str_cat.h"
#include "core/base/device_name.h"
#include "core/base/status_macros.h"

namespace neobert::server {

using base::DeviceName;

absl::StatusOr<DevicePolicy> DevicePolicy::Create(const std::string& flag, int visible) {
  ASSIGN_OR_RETURN(const DeviceName device, base::ParseDeviceName(flag), "--device");
  switch (device.kind) {
    case DeviceName::Kind::kAuto: return DevicePolicy(Mode::kAuto, 0, visible);
    case DeviceName::Kind::kCpu: return DevicePolicy(Mode::kCpu, 0, visible);
    case DeviceName::Kind::kCuda: break;
  }
  if (device.cuda_index >= visible) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device ", flag, ": ", visible, " CUDA device(s) visible to this LibTorch build"));
  }
  return DevicePolicy(Mode::kFixed, device.cuda_index, visible);
}

absl::StatusOr<std::string> DevicePolicy::Assign(const std::string& requested) {
  if (requested.empty() || requested == "auto") {
    switch (mode_) {
      case Mode::kCpu: return std::string("cpu");
      case Mode::kFixed: return absl::StrCat("cuda:", fixed_);
      case Mode::kAuto:
        if (visible_ == 0) return std::string("cpu");
        return absl::StrCat("cuda:", next_.fetch_add(1) % static_cast<unsigned>(visible_));
    }
  }
  RETURN_IF_ERROR(Check(requested));
  // Canonical: "cuda" runs as "cuda:0".
  return base::ParseDeviceName(requested)->ToString();
}

absl::Status DevicePolicy::Check(const std::string& requested) const {
  if (requested.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const DeviceName device, base::ParseDeviceName(requested));
  if (device.kind != DeviceName::Kind::kCuda) return absl::OkStatus();
  if (mode_ == Mode::kCpu) {
    return absl::FailedPreconditionError(
        absl::StrCat("device '", requested, "' refused: the server runs with --device cpu"));
  }
  if (device.cuda_index >= visible_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device '", requested, "': the server sees ", visible_, " CUDA device(s)"));
  }
  return absl::OkStatus();
}

std::string DevicePolicy::Describe() const {
  switch (mode_) {
    case Mode::kCpu: return "cpu";
    case Mode::kFixed: return absl::StrCat("cuda:", fixed_);
    case Mode::kAuto:
      return visible_ == 0 ? "auto (no CUDA device: cpu)"
                           : absl::StrCat("auto (", visible_, " CUDA device(s), round-robin)");
  }
  return "?";
}

}  // namespace neobert::server
