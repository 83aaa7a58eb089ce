// Byte views → at::Tensor, and device selection.
//
// One copy per tensor: the bytes are read straight into an at::empty buffer
// (the format layer's views are little-endian, like every host LibTorch
// supports), then moved/cast on the device.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <cstdint>
#include <torch/cuda.h>  // stable across LibTorch 1.13 / 2.x; 0 devices on CPU-only builds

#include <bit>
#include <cstring>
#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/engine/torch_internal.h"

namespace neobert::engine {

static_assert(std::endian::native == std::endian::little,
              "tensor bytes are little-endian and copied without swapping");

at::ScalarType ToScalarType(format::DType dtype) {
  switch (dtype) {
    case format::DType::kFloat32: return at::kFloat;
    case format::DType::kFloat64: return at::kDouble;
    case format::DType::kFloat16: return at::kHalf;
    case format::DType::kBFloat16: return at::kBFloat16;
    case format::DType::kInt64: return at::kLong;
    case format::DType::kInt32: return at::kInt;
    case format::DType::kInt16: return at::kShort;
    case format::DType::kInt8: return at::kChar;
    case format::DType::kUInt8: return at::kByte;
    case format::DType::kBool: return at::kBool;
  }
  return at::kFloat;
}

absl::StatusOr<at::Tensor> LoadTensor(const format::TensorEntry& t, at::ScalarType to,
                                      const c10::Device& device) {
  if (t.storage.source == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(t.name, ": tensor has no storage source"));
  }
  if (absl::Status s = format::ValidateTensorBounds(t); !s.ok()) return s;
  try {
    at::Tensor cpu = at::empty(t.shape, at::TensorOptions().dtype(ToScalarType(t.dtype)));
    const uint64_t nbytes = t.nbytes();
    auto* dst = static_cast<uint8_t*>(cpu.data_ptr());
    if (t.is_contiguous()) {
      // ValidateTensorBounds proved offset + nbytes lies inside the storage.
      const uint64_t offset =
          t.storage.offset + static_cast<uint64_t>(t.storage_offset) * format::ElementSize(t.dtype);
      if (nbytes > 0) {
        if (absl::Status s = t.storage.source->ReadAt(offset, absl::Span<uint8_t>(dst, nbytes));
            !s.ok()) {
          return absl::Status(s.code(), absl::StrCat(t.name, ": ", s.message()));
        }
      }
    } else {
      uint64_t filled = 0;
      absl::Status s =
          format::ForEachContiguousChunk(t, [&](absl::Span<const uint8_t> chunk) -> absl::Status {
            if (chunk.size() > nbytes - filled) {
              return absl::InternalError("strided read produced more bytes than the tensor holds");
            }
            std::memcpy(dst + filled, chunk.data(), chunk.size());
            filled += chunk.size();
            return absl::OkStatus();
          });
      if (s.ok() && filled != nbytes) {
        s = absl::InternalError(absl::StrCat("strided read produced ", filled, " of ", nbytes,
                                             " bytes"));
      }
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(t.name, ": ", s.message()));
    }
    return cpu.to(device, to);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(t.name, ": loading into LibTorch failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat(t.name, ": loading into LibTorch failed: ", e.what()));
  }
}

int VisibleCudaDeviceCount() {
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

absl::StatusOr<c10::Device> ResolveDevice(const std::string& name) {
  const bool has_cuda = torch::cuda::is_available();
  const int visible = has_cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  if (name == "auto") {
    return visible > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  if (name == "cpu") return c10::Device(c10::kCPU);
  const absl::string_view n(name);
  if (n == "cuda" || absl::StartsWith(n, "cuda:")) {
    int index = 0;
    if (n.size() > 5) {
      const absl::string_view digits = n.substr(5);
      if (digits.find_first_not_of("0123456789") != absl::string_view::npos ||
          !absl::SimpleAtoi(digits, &index) || index > 127) {
        return absl::InvalidArgumentError(absl::StrCat("device '", name, "': bad CUDA index"));
      }
    } else if (n.size() == 5) {
      return absl::InvalidArgumentError(absl::StrCat("device '", name, "': missing CUDA index"));
    }
    if (!has_cuda) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device '", name, "': CUDA is not available (LibTorch built without CUDA, or no device)"));
    }
    if (index >= visible) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device '", name, "': ", visible, " CUDA device(s) visible"));
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", name, "'; expected auto, cpu, cuda or cuda:N"));
}

}  // namespace neobert::engine
