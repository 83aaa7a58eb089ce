// Byte views → at::Tensor, device selection, and CPU threads.
//
// Where it can, a weight is not copied at all: a contiguous tensor whose
// bytes lie in a file (the source has a descriptor) is a read-only private
// mapping of that range (at::from_blob over mmap, unmapped by the tensor's
// deleter). On the CPU, in the dtype the model computes in, that mapping IS
// the weight; otherwise it is the source of the one cast/upload. The pages
// are the page cache's, already filled by the export's NaN/Inf scan, so
// building a 10 GB model costs page-table work instead of allocating,
// zeroing and copying 10 GB. Everything else (strided views, casts computed
// in memory, element offsets not aligned to the element size) is read
// straight into an at::empty buffer, as before: one copy.
//
// The mapping is PROT_READ: the model never writes a weight (model.cc), and
// a stray write would fault instead of silently changing the file's bytes.
// A file truncated by another process while mapped would raise SIGBUS on
// access; the size is checked when mapping (a file that already shrank is an
// error, as with pread), and inputs are finished checkpoints that nobody
// rewrites in place (trainers write each step to a new directory).
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>
#include <cstdint>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/cuda.h>  // stable across LibTorch 1.13 / 2.x; 0 devices on CPU-only builds
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/device_name.h"
#include "core/base/status_macros.h"
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

namespace {

// The tensor's bytes as a read-only mapping of its file, or nullopt when they
// cannot be mapped (no descriptor, strided, empty, misaligned, mmap failed):
// the caller then copies. Errors: the file is shorter than the range now.
absl::StatusOr<std::optional<at::Tensor>> MapTensor(const format::TensorEntry& t) {
  const format::ByteSource& src = *t.storage.source;
  const uint64_t element = format::ElementSize(t.dtype);
  const uint64_t nbytes = t.nbytes();
  if (src.fd() < 0 || !t.is_contiguous() || nbytes == 0) return std::nullopt;
  // ValidateTensorBounds proved offset + nbytes lies inside the storage.
  const uint64_t offset = t.storage.offset + static_cast<uint64_t>(t.storage_offset) * element;
  // The page offset keeps the file offset's alignment: ATen expects elements
  // aligned to their size (torch zip records are 64-byte aligned, safetensors
  // data 8-byte aligned, so this holds for every real checkpoint).
  if (offset % element != 0 || offset > src.size() || nbytes > src.size() - offset) {
    return std::nullopt;
  }
  struct stat st;
  if (::fstat(src.fd(), &st) != 0 || static_cast<uint64_t>(st.st_size) < offset + nbytes) {
    return absl::OutOfRangeError(
        absl::StrCat(t.name, ": ", src.name(), " is shorter than when it was opened"));
  }
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset - offset % page;
  const size_t length = static_cast<size_t>(offset + nbytes - start);
  void* base = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, src.fd(), static_cast<off_t>(start));
  if (base == MAP_FAILED) return std::nullopt;
  auto* data = static_cast<uint8_t*>(base) + (offset - start);
  return at::from_blob(
      data, t.shape, [base, length](void*) { ::munmap(base, length); },
      at::TensorOptions().dtype(ToScalarType(t.dtype)));
}

}  // namespace

absl::StatusOr<at::Tensor> LoadTensor(const format::TensorEntry& t, at::ScalarType to,
                                      const c10::Device& device) {
  if (t.storage.source == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(t.name, ": tensor has no storage source"));
  }
  RETURN_IF_ERROR(format::ValidateTensorBounds(t));
  try {
    ASSIGN_OR_RETURN(std::optional<at::Tensor> mapped, MapTensor(t));
    // Same device and dtype: `to` returns the mapping itself.
    if (mapped.has_value()) return mapped->to(device, to);
    at::Tensor cpu = at::empty(t.shape, at::TensorOptions().dtype(ToScalarType(t.dtype)));
    const uint64_t nbytes = t.nbytes();
    auto* dst = static_cast<uint8_t*>(cpu.data_ptr());
    if (t.is_contiguous()) {
      // ValidateTensorBounds proved offset + nbytes lies inside the storage.
      const uint64_t offset =
          t.storage.offset + static_cast<uint64_t>(t.storage_offset) * format::ElementSize(t.dtype);
      if (nbytes > 0) {
        RETURN_IF_ERROR(t.storage.source->ReadAt(offset, absl::Span<uint8_t>(dst, nbytes)),
                        t.name);
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
      RETURN_IF_ERROR(s, t.name);
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

void SetCpuThreadCount(int threads) {
  const int n = threads > 0 ? threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    at::set_num_threads(n);  // ATen's intra-op pool (and MKL's, when LibTorch uses MKL)
  } catch (const c10::Error&) {
    // A LibTorch whose pool refuses changes after first use keeps its count.
  }
  // OpenBLAS (Debian's LibTorch) runs its own pthreads pool, which
  // at::set_num_threads does not touch. Already loaded as LibTorch's
  // dependency when present; nothing to do otherwise.
  if (void* blas = ::dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD); blas != nullptr) {
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(::dlsym(blas, "openblas_set_num_threads"))) set(n);
    ::dlclose(blas);
  }
}

int VisibleCudaDeviceCount() {
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

absl::StatusOr<c10::Device> ResolveDevice(const std::string& name) {
  ASSIGN_OR_RETURN(const base::DeviceName device, base::ParseDeviceName(name));
  const bool has_cuda = torch::cuda::is_available();
  const int visible = has_cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  switch (device.kind) {
    case base::DeviceName::Kind::kAuto:
      return visible > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    case base::DeviceName::Kind::kCpu: return c10::Device(c10::kCPU);
    case base::DeviceName::Kind::kCuda: break;
  }
  if (!has_cuda) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device '", name, "': CUDA is not available (LibTorch built without CUDA, or no device)"));
  }
  if (device.cuda_index >= visible) {
    return absl::FailedPreconditionError(
        absl::StrCat("device '", name, "': ", visible, " CUDA device(s) visible"));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device.cuda_index));
}

}  // namespace neobert::engine
