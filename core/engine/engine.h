// NeoBERT forward pass (reference §7) on LibTorch, behind a torch-free API.
//
// The format layer hands us byte views (format::TensorEntry); the engine
// maps each file-backed contiguous one read-only (no copy; weights.cc) or
// reads it once into an at::Tensor (the only copy), then runs the HF
// `NeoBERTLMHead` math: embeddings (+ learned positions), L pre-norm blocks
// with head-interleaved fused qkv and adjacent-pair RoPE, final norm, decoder.
// LibTorch stays inside two translation units (weights.cc, model.cc), built
// as a shared library that is loaded on first use (backend.h): this header
// exposes plain C++ / Abseil types only, and binaries that never run a
// forward pass never load LibTorch.
//
// Semantics that are easy to get wrong, all as in §7 / our remote code:
//  * attention masks are normalised to a key "keep" mask by the §7.2 table:
//    integer zeros keep nothing, float zeros keep everything, floats with a
//    negative or no positive value are additive (keep = value >= 0);
//  * a query row with no kept key gets a zero attention output;
//  * masks hide keys only: padded query rows are still computed;
//  * RoPE positions default to 0..S-1 whatever the padding; learned
//    positions default to cumsum(id != pad) * (id != pad) (1-based, 0 = pad);
//    explicit position_ids are used as given.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/fs_root.h"
#include "core/format/dtype.h"
#include "core/format/tensor.h"

namespace neobert::core {
struct NeoBertConfig;  // core/neobert/checkpoint_config.h (kept out: it pulls in yaml-cpp)
}  // namespace neobert::core

namespace neobert::engine {

// The architecture, in config.json terms. Sizes are bounded by the caps in
// core/neobert/checkpoint_config.h (see ValidateModelSpec).
struct ModelSpec {
  int64_t hidden_size = 0;              // H
  int64_t num_hidden_layers = 0;        // L (0 is allowed: embeddings + final norm)
  int64_t num_attention_heads = 0;      // A; H % A == 0, head dim even with rope
  int64_t intermediate_size = 0;        // I, un-reduced (swiglu stores 8*ceil(floor(2I/3)/8))
  int64_t vocab_size = 0;               // V
  int64_t max_position_embeddings = 0;  // P (config.json max_length)
  bool rope = true;                     // false: learned positions (P+1, H)
  bool rms_norm = true;                 // false: LayerNorm with bias
  std::string hidden_act = "swiglu";    // "swiglu" | "gelu" (exact erf GELU)
  double norm_eps = 1e-5;               // > 0
  // Token whose positions count as padding for default learned positions;
  // nullopt (config.json null) = every token is real. Must be in [0, V).
  std::optional<int64_t> pad_token_id = 0;
  bool decoder_bias = false;            // decoder.bias (V,) is present and used

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Rows of ffn.w1/w2 (swiglu) or ffn.0 (gelu).
  int64_t ffn_width() const;
};

// Sizes positive and within caps, H % A == 0, even head dim with rope, known
// activation, finite positive eps, pad id inside the vocabulary.
// INVALID_ARGUMENT naming the field.
absl::Status ValidateModelSpec(const ModelSpec& spec);

// From a parsed config.yaml. `decoder_bias`: whether the weights carry
// decoder.bias (TensorMapping::decoder_bias).
ModelSpec ModelSpecFromConfig(const core::NeoBertConfig& config, bool decoder_bias);

// From an exported config.json (our RenderHfConfigJson output or the
// original exporter's): hidden_size, num_hidden_layers, num_attention_heads,
// intermediate_size, vocab_size, max_length (else max_position_embeddings),
// norm_eps required; rope, rms_norm (default true), hidden_act (default
// swiglu), pad_token_id (default 0, null allowed), decoder_bias (default
// false) optional. Integers may be written as integral floats (768.0), as
// Python's config class accepts. `source` names the file in errors.
absl::StatusOr<ModelSpec> ModelSpecFromHfConfigJson(absl::string_view json_text,
                                                    absl::string_view source = "config.json");

struct EngineOptions {
  // "auto" | "cpu" | "cuda" | "cuda:N". auto = cuda:0 when LibTorch was built
  // with CUDA and a device is visible, else cpu.
  std::string device = "auto";
  // Dtype of weights and activations. kFloat32 (default) and kFloat64 upcast
  // bf16/fp16 weights exactly. nullopt keeps the weights' own dtype (all
  // tensors must then share one floating dtype); like the HF model, norms'
  // statistics, RoPE and softmax then run in float32. A LibTorch that cannot
  // multiply matrices in that dtype on the device is refused at Create.
  std::optional<format::DType> compute_dtype = format::DType::kFloat32;
  // When this LibTorch has no kernels for compute_dtype on the device,
  // compute in float32 instead of refusing (the export's sanity pass asks for
  // bfloat16 where it can: see core/export/sanity_pass.h).
  bool float32_fallback = false;
};

struct ForwardInput {
  // (B, S), rectangular, B >= 1, S >= 1, ids in [0, V).
  std::vector<std::vector<int64_t>> input_ids;
  // (B, S) when present; nullopt = attend to every key. How the values are
  // read depends on mask_kind (§7.2): kInt and kBool must hold integers
  // (kBool only 0/1), kFloat may hold anything but NaN (incl. -inf).
  std::optional<std::vector<std::vector<double>>> attention_mask;
  enum MaskKind { kInt, kBool, kFloat };
  MaskKind mask_kind = kInt;
  // (B, S) when present, all >= 0; learned positions must be <= P; RoPE
  // positions must be < 2^24 (exact in float32).
  std::optional<std::vector<std::vector<int64_t>>> position_ids;
};

struct ForwardOutput {
  std::vector<int64_t> hidden_shape;       // (B, S, H)
  std::vector<int64_t> logits_shape;       // (B, S, V)
  std::vector<float> last_hidden_state;    // row-major, final-normed
  std::vector<float> logits;               // row-major
};

// Caps on one forward call, so that a hostile request fails cleanly instead
// of asking for absurd memory.
inline constexpr int64_t kMaxForwardTokens = 1 << 20;             // B * S
inline constexpr int64_t kMaxForwardLogits = int64_t{1} << 31;    // B * S * V
inline constexpr int64_t kMaxForwardScores = int64_t{1} << 31;    // B * A * S * S

class NeoBertModel {
 public:
  // Checks `tensors` against the spec (exact name set of §4.2 with final HF
  // names, exact shapes, floating dtypes, bounds; every problem listed in one
  // INVALID_ARGUMENT), maps or reads each tensor once onto the device and
  // casts it to the compute dtype. A CPU model computing in its file's dtype
  // keeps read-only mappings of the file (released with the model). A decoder.weight that is the same view as
  // model.encoder.weight shares its tensor. Device errors are
  // FAILED_PRECONDITION (no CUDA) / INVALID_ARGUMENT (bad device string).
  static absl::StatusOr<std::unique_ptr<NeoBertModel>> Create(
      const ModelSpec& spec, const std::vector<format::TensorEntry>& tensors,
      const EngineOptions& options = {});
  ~NeoBertModel();
  NeoBertModel(const NeoBertModel&) = delete;
  NeoBertModel& operator=(const NeoBertModel&) = delete;

  // Evaluation-mode forward (no dropout). Input errors are INVALID_ARGUMENT
  // naming the field, row and column; LibTorch failures are INTERNAL.
  // Thread-safe: the model is immutable after Create.
  absl::StatusOr<ForwardOutput> Forward(const ForwardInput& input) const;

  // "cpu" or "cuda:N".
  std::string device() const;
  // "float32", "bfloat16", ... (the compute dtype actually used).
  std::string compute_dtype() const;
  const ModelSpec& spec() const;

  struct Impl;  // the spec and the loaded backend; defined in model_api.cc

 private:
  explicit NeoBertModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The export's sanity forward (§5.5, plus a mask check the original lacked):
// batch 2, length max(1, min(8, max_len)), ids drawn from [0, vocab) with
// `seed`, an integer mask of ones except the last position of row 1. Fails
// (INTERNAL, naming the problem) unless hidden is (2, S, H) and logits
// (2, S, V) and every value is finite. `vocab` / `max_len` must match the
// model's spec (INVALID_ARGUMENT otherwise).
absl::Status SanityCheck(NeoBertModel& model, int64_t vocab, int64_t max_len, uint64_t seed);

// CUDA devices this LibTorch can use (0 with a CPU-only build, no GPU, or an
// engine library that cannot be loaded).
int VisibleCudaDevices();

// Process-wide: at most `threads` CPU threads per forward pass, for LibTorch's
// intra-op pool and its BLAS (OpenBLAS, MKL); 0 = LibTorch's default (one per
// core). LibTorch's pools belong to the process, so this is no per-model
// option: binaries call it by role. A forward pass that runs beside other
// busy threads (the export's sanity pass beside its writers, the jobs of a
// server's worker pool) is faster with fewer: with one BLAS thread per core
// each matrix product waits for threads that wait for a core (on 2 cores
// the sanity pass took 2-4x longer beside the writes). Cheap: it does not
// load the engine; the setting applies when the engine loads, or at once.
void SetCpuThreads(int threads);

// OK when the LibTorch half of the engine (libneobert_engine_torch.so, opened
// on first use: see backend.h) loads; else FAILED_PRECONDITION saying where
// it was looked for. Servers call it at startup to fail fast.
absl::Status EngineAvailable();

// Writes `last_hidden_state` and `logits` (float32) as a safetensors file.
// INVALID_ARGUMENT when a shape does not match its data length.
absl::Status WriteForwardOutputSafetensors(const ForwardOutput& output, const base::FsRoot& root,
                                           const std::string& path);

}  // namespace neobert::engine
