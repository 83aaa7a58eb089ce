// The export's sanity forward pass (reference §5.5), timed by phase, and a
// way to run it beside the writes.
//
// What it runs: the NeoBERT forward on 2 rows of at most 8 random token ids,
// one position of row 1 padded and masked (engine::SanityCheck), and it
// fails unless hidden states are (2, S, H), logits (2, S, V) and every value
// is finite. Why a few tokens are enough: the pass is a check that the
// export is a working model, not a numerics test. Every tensor of the model
// is loaded with its exact §4.2 shape (a wrong shape or a wrong mapping
// fails at load), and every weight takes part in every token's computation:
// each layer's qkv/wo/FFN/norm weights act on every position, and the logits
// multiply by all V rows of decoder.weight (the tied embedding), so a
// NaN/Inf or an overflowing value anywhere reaches the (2, S, V) logits
// after one forward pass; a longer batch would only repeat the same
// products. (Embedding rows other than the drawn ids are covered by the
// export's NaN/Inf scan of every weight byte.) The padded position
// exercises the mask path. Values are compared with the checkpoint only by
// `validate --source` / ExportOptions::validate.
//
// Cost, by phase (SanityPassResult): loading the engine library (LibTorch's
// relocations, once per process), building the weight tensors (no copy where
// the engine can map the input file: engine/weights.cc), and the forward.
#pragma once

#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/dtype.h"
#include "core/format/tensor.h"

namespace neobert::core {

struct NeoBertConfig;  // core/neobert/checkpoint_config.h

struct SanityPassResult {
  std::string device;          // "cpu" | "cuda:N"
  std::string compute_dtype;   // what the pass computed in ("float32", "bfloat16")
  double load_seconds = 0;     // opening the engine library (0 when already open)
  double weights_seconds = 0;  // building the weight tensors on the device
  double forward_seconds = 0;  // the forward pass and its checks
  double seconds = 0;          // all of it
  // CPU time of the thread that ran it (with one CPU thread per pass, all of
  // its CPU work; on a busy machine `seconds` also counts waiting for a core).
  double cpu_seconds = 0;
};

// The compute dtype of the pass for weights exported as `weights_dtype`:
// bfloat16 weights compute in bfloat16 (the mapped file bytes are used as they
// are, so memory stays at the weights' bytes; the range is float32's, so a
// finite model stays finite), everything else in float32 (float16's narrow
// range would make the pass a test of fp16 arithmetic, not of the export).
// A LibTorch without bfloat16 kernels falls back to float32.
format::DType SanityComputeDtype(format::DType weights_dtype);

// Runs the pass on `tensors` (final HF names, the export's dtype). Errors
// are prefixed "sanity forward pass: ". Blocks for the whole pass; not
// cancellable (it takes seconds, not minutes, even at 2.5B on CPU).
absl::StatusOr<SanityPassResult> RunSanityPass(const NeoBertConfig& config, bool decoder_bias,
                                               const std::vector<format::TensorEntry>& tensors,
                                               format::DType weights_dtype,
                                               const std::string& device);

// RunSanityPass on its own thread, started at once, so that the export
// stages its files while the pass runs (the writes are disk-bound, the pass
// CPU/GPU-bound). The arguments are referenced, not copied: they must
// outlive the future, and a std::async future's destructor waits for the
// pass, so declaring the future after them is enough.
std::future<absl::StatusOr<SanityPassResult>> StartSanityPass(
    const NeoBertConfig& config, bool decoder_bias,
    const std::vector<format::TensorEntry>& tensors, format::DType weights_dtype,
    const std::string& device);

}  // namespace neobert::core
