// The engine's LibTorch half, loaded on first use.
//
// LibTorch is large: linking it into the binaries cost every invocation about
// 1 s of dynamic relocation and operator registration and ~150 MiB of RSS,
// even `neobert-export inspect` or `health`, which never run a forward pass.
// So the two LibTorch translation units (model.cc, weights.cc) are built into
// a shared library, libneobert_engine_torch.so, that the torch-free rest of
// the engine (model_api.cc) opens with dlopen the first time a model is
// created or the CUDA devices are counted.
//
// The library is part of the same build as the binaries (same compiler, same
// Abseil, same headers), so C++ types cross the boundary; kBackendAbi and the
// size checks below refuse a library from another build.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/internal.h"
#include "core/format/tensor.h"

namespace neobert::engine {

// One model on its device (implemented in model.cc).
class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  // `input` is already validated and normalised by PrepareInput.
  virtual absl::StatusOr<ForwardOutput> Forward(const PreparedInput& input) const = 0;
  virtual std::string device() const = 0;         // "cpu" | "cuda:N"
  virtual std::string compute_dtype() const = 0;  // "float32", ...
};

// Bump when anything in this header or the types it passes changes.
inline constexpr uint32_t kBackendAbi = 2;  // 2: float32_fallback, set_cpu_threads

struct BackendApi {
  uint32_t abi = kBackendAbi;
  // sizeof checks against a library built from other headers.
  uint32_t spec_size = sizeof(ModelSpec);
  uint32_t options_size = sizeof(EngineOptions);
  uint32_t tensor_size = sizeof(format::TensorEntry);
  uint32_t input_size = sizeof(PreparedInput);
  // `tensors`: CheckTensorSet's result (every expected tensor, checked);
  // `options.compute_dtype` is resolved (never nullopt).
  absl::StatusOr<std::unique_ptr<ModelBackend>> (*create)(
      const ModelSpec& spec, const std::map<std::string, const format::TensorEntry*>& tensors,
      const EngineOptions& options) = nullptr;
  int (*visible_cuda_devices)() = nullptr;
  // engine.h's SetCpuThreads, once the library is loaded.
  void (*set_cpu_threads)(int threads) = nullptr;
};

// The library's one exported entry point.
inline constexpr const char* kBackendLibrary = "libneobert_engine_torch.so";
inline constexpr const char* kBackendSymbol = "neobert_engine_backend_v1";

// Opens the library once per process (thread-safe) and returns its API.
// Looks in $NEOBERT_ENGINE_LIBRARY (a file path) when set, else next to the
// executable, then in <exe dir>/../lib/neobert-export/. FAILED_PRECONDITION
// naming every path tried and the loader's error.
absl::StatusOr<const BackendApi*> LoadBackend();

}  // namespace neobert::engine

extern "C" const neobert::engine::BackendApi* neobert_engine_backend_v1();
