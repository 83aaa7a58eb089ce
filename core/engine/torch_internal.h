// LibTorch-side internals shared by the engine's two torch translation units
// (weights.cc, model.cc: libneobert_engine_torch.so, see backend.h). Never
// include this from a public header.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

#include "absl/status/statusor.h"
#include "core/format/dtype.h"
#include "core/format/tensor.h"

namespace neobert::engine {

// The ATen scalar type of a format dtype.
at::ScalarType ToScalarType(format::DType dtype);

// Reads `t` (already checked by CheckTensorSet) into a new CPU tensor of its
// own dtype — straight into the tensor's buffer for contiguous views,
// through ForEachContiguousChunk for strided ones — then moves it to
// `device` and casts it to `to`. Errors name the tensor.
absl::StatusOr<at::Tensor> LoadTensor(const format::TensorEntry& t, at::ScalarType to,
                                      const c10::Device& device);

// CUDA devices this LibTorch can use (0 without CUDA or without a GPU).
int VisibleCudaDeviceCount();

// "auto" | "cpu" | "cuda" | "cuda:N" → a device that exists.
absl::StatusOr<c10::Device> ResolveDevice(const std::string& name);

}  // namespace neobert::engine
