#include "server/device_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace neobert::server {
namespace {

// "cuda" → 0, "cuda:N" → N, anything else → -1.
int CudaIndex(const std::string& name) {
  if (name == "cuda") return 0;
  int index = -1;
  if (!absl::StartsWith(name, "cuda:") || !absl::SimpleAtoi(name.substr(5), &index)) return -1;
  return index;
}

}  // namespace

absl::StatusOr<DevicePolicy> DevicePolicy::Create(const std::string& flag, int visible) {
  if (flag == "auto") return DevicePolicy(Mode::kAuto, 0, visible);
  if (flag == "cpu") return DevicePolicy(Mode::kCpu, 0, visible);
  const int index = CudaIndex(flag);
  if (index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device '", flag, "': expected auto, cpu, cuda or cuda:N"));
  }
  if (index >= visible) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device ", flag, ": ", visible, " CUDA device(s) visible to this LibTorch build"));
  }
  return DevicePolicy(Mode::kFixed, index, visible);
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
  if (absl::Status s = Check(requested); !s.ok()) return s;
  if (requested == "cpu") return requested;
  return absl::StrCat("cuda:", CudaIndex(requested));
}

absl::Status DevicePolicy::Check(const std::string& requested) const {
  if (requested.empty() || requested == "auto" || requested == "cpu") return absl::OkStatus();
  const int index = CudaIndex(requested);
  if (index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", requested, "': expected cpu, cuda or cuda:N"));
  }
  if (mode_ == Mode::kCpu) {
    return absl::FailedPreconditionError(
        absl::StrCat("device '", requested, "' refused: the server runs with --device cpu"));
  }
  if (index >= visible_) {
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
