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

// `t` (already checked by CheckTensorSet) as a CPU tensor of its own dtype —
// a read-only mapping of its file range when it is contiguous and file-backed
// (weights.cc says when), else a new tensor read straight into its buffer
// (through ForEachContiguousChunk for strided views) — then moved to
// `device` and cast to `to`. The result may be that read-only mapping (CPU,
// same dtype): callers must never write into it. Errors name the tensor.
absl::StatusOr<at::Tensor> LoadTensor(const format::TensorEntry& t, at::ScalarType to,
                                      const c10::Device& device);

// engine.h's SetCpuThreads (0 = one per core).
void SetCpuThreadCount(int threads);

// CUDA devices this LibTorch can use (0 without CUDA or without a GPU).
int VisibleCudaDeviceCount();

// "auto" | "cpu" | "cuda" | "cuda:N" → a device that exists.
absl::StatusOr<c10::Device> ResolveDevice(const std::string& name);

}  // namespace neobert::engine
