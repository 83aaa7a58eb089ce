// Floating-point dtype conversion without materialising tensors.
//
// CastTensor returns a tensor whose storage is a lazy ByteSource: reading a
// byte range converts just the elements it covers from the original storage,
// so a cast export still streams in bounded memory. Rounding is
// round-to-nearest-even, as PyTorch's .to(dtype) does; NaN stays NaN,
// overflow becomes +-inf (float16), subnormals are kept.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/tensor.h"

namespace neobert::format {

// Fails (INVALID_ARGUMENT, naming the tensor) unless both dtypes are floating
// point. Returns `t` unchanged when the dtype already matches.
absl::StatusOr<TensorEntry> CastTensor(const TensorEntry& t, DType to);

// Every floating-point tensor of `tensors` cast to `to` (CastTensor), the
// others as they are; the export and `convert` both cast this way. `to` must
// be floating point.
absl::StatusOr<std::vector<TensorEntry>> CastFloatingTensors(const std::vector<TensorEntry>& tensors,
                                                             DType to);

// Scalar conversions (exposed for tests and the engine).
float BFloat16ToFloat(uint16_t v);
uint16_t FloatToBFloat16(float f);
float HalfToFloat(uint16_t v);
uint16_t FloatToHalf(float f);

}  // namespace neobert::format
