#include "core/export/sanity_pass.h"

#include <time.h>

#include <chrono>
#include <future>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "core/neobert/checkpoint_config.h"

namespace neobert::core {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// engine::SanityCheck's own errors already say "sanity forward: ...". The
// context goes on through WithContext, so that any reason payload survives.
absl::Status Prefixed(const absl::Status& s) {
  if (absl::StartsWith(s.message(), "sanity forward")) return s;
  return base::WithContext(s, "sanity forward pass");
}

}  // namespace

format::DType SanityComputeDtype(format::DType weights_dtype) {
  return weights_dtype == format::DType::kBFloat16 ? format::DType::kBFloat16
                                                   : format::DType::kFloat32;
}

absl::StatusOr<SanityPassResult> RunSanityPass(const NeoBertConfig& config, bool decoder_bias,
                                               const std::vector<format::TensorEntry>& tensors,
                                               format::DType weights_dtype,
                                               const std::string& device) {
  SanityPassResult r;
  const Clock::time_point start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  // Opened on its own first so that its cost is told apart from the weights'.
  if (absl::Status s = engine::EngineAvailable(); !s.ok()) return Prefixed(s);
  r.load_seconds = SecondsSince(start);

  const Clock::time_point weights_start = Clock::now();
  auto model = engine::NeoBertModel::Create(
      engine::ModelSpecFromConfig(config, decoder_bias), tensors,
      {.device = device,
       .compute_dtype = SanityComputeDtype(weights_dtype),
       .float32_fallback = true});
  if (!model.ok()) return Prefixed(model.status());
  r.weights_seconds = SecondsSince(weights_start);
  r.device = (*model)->device();
  r.compute_dtype = (*model)->compute_dtype();

  const Clock::time_point forward_start = Clock::now();
  if (absl::Status s = engine::SanityCheck(**model, config.vocab_size,
                                           config.max_position_embeddings, /*seed=*/0);
      !s.ok()) {
    return Prefixed(s);
  }
  r.forward_seconds = SecondsSince(forward_start);
  r.seconds = SecondsSince(start);
  r.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  return r;
}

std::future<absl::StatusOr<SanityPassResult>> StartSanityPass(
    const NeoBertConfig& config, bool decoder_bias,
    const std::vector<format::TensorEntry>& tensors, format::DType weights_dtype,
    const std::string& device) {
  return std::async(std::launch::async, [&config, decoder_bias, &tensors, weights_dtype, &device] {
    return RunSanityPass(config, decoder_bias, tensors, weights_dtype, device);
  });
}

}  // namespace neobert::core
