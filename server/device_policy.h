// Which device a job's forward passes (sanity pass, validation) run on.
//
// neobert-exportd --device:
//   auto    every visible CUDA device, jobs assigned round-robin (so with N
//           GPUs and --workers >= N each GPU runs about one job's forward
//           passes at a time while other workers do I/O); cpu when LibTorch
//           has no CUDA or no GPU is visible.
//   cpu     always the CPU; requests for cuda are refused.
//   cuda:N  always that device (must be visible at startup).
// A request may name its own device ("" = the policy's choice): "cpu" is
// always allowed; "cuda"/"cuda:N" only when the policy is not cpu and the
// device is visible. Thread-safe.
#pragma once

#include <atomic>
#include <string>

#include "absl/status/statusor.h"

namespace neobert::server {

class DevicePolicy {
 public:
  // `visible_cuda_devices`: engine::VisibleCudaDevices() in production.
  static absl::StatusOr<DevicePolicy> Create(const std::string& flag, int visible_cuda_devices);

  // The concrete device ("cpu" or "cuda:N") for one job.
  absl::StatusOr<std::string> Assign(const std::string& requested);

  // Whether `requested` could be assigned here (Assign without its
  // round-robin step): the error Assign would return, else OK.
  absl::Status Check(const std::string& requested) const;

  // True when this server may run jobs on a CUDA device (not --device cpu,
  // and at least one visible): the job store lets it claim jobs that ask
  // for CUDA.
  bool has_gpu() const { return mode_ != Mode::kCpu && visible_ > 0; }

  // For the startup log line, e.g. "auto (2 CUDA devices)".
  std::string Describe() const;

  DevicePolicy(const DevicePolicy& other)
      : mode_(other.mode_), fixed_(other.fixed_), visible_(other.visible_),
        next_(other.next_.load()) {}

 private:
  enum class Mode { kAuto, kCpu, kFixed };
  DevicePolicy(Mode mode, int fixed, int visible) : mode_(mode), fixed_(fixed), visible_(visible) {}
  Mode mode_;
  int fixed_;    // kFixed: the CUDA index
  int visible_;  // CUDA devices seen at startup
  std::atomic<unsigned> next_{0};
};

}  // namespace neobert::server
