// Element types shared by every tensor file format we read or write.
//
// One enum, with the spelling each format uses: torch dtype names ("float32"),
// torch storage classes ("FloatStorage"), safetensors codes ("F32").
#pragma once

#include <cstddef>
#include <optional>
#include "absl/strings/string_view.h"

namespace neobert::format {

enum class DType {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool,
};

// Bytes per element (1 for bool).
size_t ElementSize(DType t);

// "float32", "bfloat16", ... (torch's name without the "torch." prefix).
absl::string_view TorchName(DType t);
std::optional<DType> FromTorchName(absl::string_view name);

// "FloatStorage", "BFloat16Storage", ... (torch's legacy typed-storage class).
absl::string_view StorageClassName(DType t);
std::optional<DType> FromStorageClassName(absl::string_view name);

// "F32", "BF16", ... (safetensors header spelling).
absl::string_view SafetensorsName(DType t);
std::optional<DType> FromSafetensorsName(absl::string_view name);

bool IsFloatingPoint(DType t);

}  // namespace neobert::format
