// TorchModel (libneobert_engine_torch.so): weights on the device and the §7
// forward math in ATen ops, behind backend.h's interface.
//
// Precision policy (as the HF model): activations and matrix products run in
// the compute dtype; RMSNorm statistics, RoPE and attention scores/softmax
// run in float32 (float64 when computing in float64) and are cast back.
#include <ATen/core/Tensor.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <cstdint>

#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/engine/backend.h"
#include "core/engine/engine.h"
#include "core/engine/internal.h"
#include "core/engine/torch_internal.h"
#include "core/neobert/tensor_table.h"

namespace neobert::engine {
namespace {

struct LayerWeights {
  at::Tensor qkv, wo;
  at::Tensor ffn_in;    // swiglu w1 (gate) | gelu ffn.0
  at::Tensor ffn_up;    // swiglu w2; undefined for gelu
  at::Tensor ffn_out;   // swiglu w3 | gelu ffn.2
  at::Tensor attn_norm_w, attn_norm_b, ffn_norm_w, ffn_norm_b;  // biases: LayerNorm only
};

std::vector<float> ToFloatVector(const at::Tensor& t) {
  at::Tensor c = t.to(c10::Device(c10::kCPU), at::kFloat).contiguous();
  std::vector<float> out(static_cast<size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr<float>(), out.size() * sizeof(float));
  return out;
}

// Weights may be read-only mappings of the checkpoint file (LoadTensor): no
// operation here writes into a weight tensor.
struct TorchModel final : ModelBackend {
  ModelSpec spec;
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype = at::kFloat;  // weights and activations
  at::ScalarType stat = at::kFloat;   // norms' statistics, RoPE, softmax
  at::Tensor embed, pos_embed, final_w, final_b, dec_w, dec_b;
  at::Tensor inv_freq;  // (d/2,) float32: 1 / 10000^(2j/d)
  std::vector<LayerWeights> layers;

  at::Tensor Norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
    if (!spec.rms_norm) return at::layer_norm(x, {spec.hidden_size}, w, b, spec.norm_eps);
    // eps inside the root; normalise in `stat`, cast back, then scale (§7.6).
    const at::Tensor xs = x.to(stat);
    const at::Tensor normed = xs * at::rsqrt(xs.pow(2).mean({-1}, /*keepdim=*/true) + spec.norm_eps);
    return normed.to(dtype) * w;
  }

  // x: (B, S, A, d); pairs (2j, 2j+1) rotate by angle[b, s, j]; cos/sin (B, S, 1, d/2).
  at::Tensor Rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const {
    const auto sizes = x.sizes().vec();
    const at::Tensor pairs = x.to(stat).reshape({sizes[0], sizes[1], sizes[2], sizes[3] / 2, 2});
    const at::Tensor even = pairs.select(-1, 0);
    const at::Tensor odd = pairs.select(-1, 1);
    const at::Tensor rotated = at::stack({even * cos - odd * sin, even * sin + odd * cos}, -1);
    return rotated.reshape(sizes).to(dtype);
  }

  ForwardOutput Run(const PreparedInput& p) const {
    const int64_t B = p.batch, S = p.seq, H = spec.hidden_size;
    const int64_t A = spec.num_attention_heads, d = spec.head_dim();
    const auto cpu_long = at::TensorOptions().dtype(at::kLong);
    // from_blob aliases the prepared vectors, which outlive this call.
    const at::Tensor ids =
        at::from_blob(const_cast<int64_t*>(p.ids.data()), {B, S}, cpu_long).to(device_);
    const at::Tensor pos =
        at::from_blob(const_cast<int64_t*>(p.positions.data()), {B, S}, cpu_long).to(device_);

    at::Tensor x = at::embedding(embed, ids);  // (B, S, H)
    at::Tensor cos, sin;
    if (spec.rope) {
      // float32(p) * inv_freq in float32, as the format prescribes (§7.4).
      const at::Tensor angle = (pos.to(at::kFloat).unsqueeze(-1) * inv_freq).to(stat);
      cos = angle.cos().unsqueeze(2);
      sin = angle.sin().unsqueeze(2);
    } else {
      x = x + at::embedding(pos_embed, pos);
    }

    at::Tensor masked_keys, keyless_rows;  // True = masked key / row with no key
    const auto cpu_byte = at::TensorOptions().dtype(at::kByte);
    if (!p.keep.empty()) {
      masked_keys = at::from_blob(const_cast<uint8_t*>(p.keep.data()), {B, 1, 1, S}, cpu_byte)
                        .to(device_, at::kBool)
                        .logical_not();
    }
    if (!p.row_has_key.empty()) {
      keyless_rows =
          at::from_blob(const_cast<uint8_t*>(p.row_has_key.data()), {B, 1, 1, 1}, cpu_byte)
              .to(device_, at::kBool)
              .logical_not();
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));

    for (const LayerWeights& L : layers) {
      const at::Tensor h = Norm(x, L.attn_norm_w, L.attn_norm_b);
      // Head-interleaved fused projection: per head d rows of q, then k, then v.
      const at::Tensor qkv = at::linear(h, L.qkv).view({B, S, A, 3 * d});
      at::Tensor q = qkv.narrow(-1, 0, d);
      at::Tensor k = qkv.narrow(-1, d, d);
      const at::Tensor v = qkv.narrow(-1, 2 * d, d).transpose(1, 2);  // (B, A, S, d)
      if (spec.rope) {
        q = Rotate(q, cos, sin);
        k = Rotate(k, cos, sin);
      }
      q = q.transpose(1, 2).to(stat);
      k = k.transpose(1, 2).to(stat);
      at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;  // (B, A, S, S)
      if (masked_keys.defined()) {
        scores = scores.masked_fill(masked_keys, -std::numeric_limits<double>::infinity());
      }
      at::Tensor probs = at::softmax(scores, -1);
      // A row with no key is NaN after the softmax; its output must be zero.
      if (keyless_rows.defined()) probs = probs.masked_fill(keyless_rows, 0.0);
      const at::Tensor attn =
          at::matmul(probs.to(dtype), v).transpose(1, 2).reshape({B, S, H});  // column a*d + c
      x = x + at::linear(attn, L.wo);

      const at::Tensor g = Norm(x, L.ffn_norm_w, L.ffn_norm_b);
      at::Tensor ffn;
      if (spec.hidden_act == "swiglu") {
        ffn = at::linear(at::silu(at::linear(g, L.ffn_in)) * at::linear(g, L.ffn_up), L.ffn_out);
      } else {
        ffn = at::linear(at::gelu(at::linear(g, L.ffn_in)), L.ffn_out);  // exact erf GELU
      }
      x = x + ffn;
    }
    const at::Tensor last = Norm(x, final_w, final_b);
    const at::Tensor logits = at::linear(last, dec_w, dec_b);

    ForwardOutput out;
    out.hidden_shape = {B, S, H};
    out.logits_shape = {B, S, spec.vocab_size};
    out.last_hidden_state = ToFloatVector(last);
    out.logits = ToFloatVector(logits);
    return out;
  }

  absl::StatusOr<ForwardOutput> Forward(const PreparedInput& input) const override {
    try {
      c10::InferenceMode guard;
      return Run(input);
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("engine forward failed: ", e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return absl::ResourceExhaustedError(absl::StrCat("engine forward failed: ", e.what()));
    }
  }

  std::string device() const override { return device_.str(); }

  std::string compute_dtype() const override {
    switch (dtype) {
      case at::kBFloat16: return "bfloat16";
      case at::kHalf: return "float16";
      case at::kDouble: return "float64";
      default: return "float32";
    }
  }
};

absl::StatusOr<std::unique_ptr<ModelBackend>> CreateTorchModel(
    const ModelSpec& spec, const std::map<std::string, const format::TensorEntry*>& tensors,
    const EngineOptions& options) {
  ASSIGN_OR_RETURN(c10::Device device, ResolveDevice(options.device));
  const format::DType compute = options.compute_dtype.value_or(format::DType::kFloat32);

  auto impl = std::make_unique<TorchModel>();
  impl->spec = spec;
  impl->device_ = device;
  impl->dtype = ToScalarType(compute);
  impl->stat = compute == format::DType::kFloat64 ? at::kDouble : at::kFloat;
  // Refuse early when this LibTorch lacks kernels for the dtype (e.g. half
  // matrix products on CPU in LibTorch 1.13) rather than mid-forward: one
  // tiny call of each kind of kernel the forward runs in the compute dtype
  // (2-D products with and without bias, the batched attention product,
  // the embedding lookup, the activations, LayerNorm).
  auto probe = [&](at::ScalarType dtype) {
    c10::InferenceMode guard;
    const auto opts = at::TensorOptions().dtype(dtype).device(impl->device_);
    const at::Tensor ones = at::ones({2, 4}, opts);
    const at::Tensor y = at::linear(ones, ones, at::ones({2}, opts)) * at::linear(ones, ones);
    (void)at::matmul(y.view({1, 1, 2, 2}), y.view({1, 1, 2, 2}));
    (void)at::embedding(ones, at::zeros({2}, opts.dtype(at::kLong)));
    (void)at::silu(y);
    (void)at::gelu(y);
    if (!spec.rms_norm) (void)at::layer_norm(y, {2}, {}, {}, 1e-5);
  };
  bool fell_back = false;
  try {
    try {
      probe(impl->dtype);
    } catch (const c10::OutOfMemoryError&) {
      throw;  // a full device, not a missing kernel: float32 would need more
    } catch (const c10::Error&) {
      if (!options.float32_fallback || impl->dtype == at::kFloat) throw;
      impl->dtype = at::kFloat;
      impl->stat = at::kFloat;
      fell_back = true;
      probe(impl->dtype);
    }
    c10::InferenceMode guard;
    impl->inv_freq =
        at::pow(10000.0, at::arange(0, spec.head_dim(), 2,
                                    at::TensorOptions().dtype(at::kFloat).device(impl->device_)) /
                             static_cast<double>(spec.head_dim()))
            .reciprocal();
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "engine: out of memory on ", impl->device_.str(), ": ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    if (fell_back || compute == format::DType::kFloat32) {
      return absl::InternalError(absl::StrCat("engine: LibTorch cannot compute in float32 on ",
                                              impl->device_.str(), ": ",
                                              e.what_without_backtrace()));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "compute dtype ", format::TorchName(compute), " is not supported by this LibTorch on ",
        impl->device_.str(), " (", e.what_without_backtrace(), "); use float32"));
  }

  // Tensor names come from the table (tensor_table.h); `layer` only for
  // per-layer roles.
  using core::TensorRole;
  auto load = [&](TensorRole role, at::Tensor* out, int64_t layer = 0) -> absl::Status {
    auto it = tensors.find(core::TensorName(role, layer));
    if (it == tensors.end()) return absl::OkStatus();  // absent optional (biases)
    ASSIGN_OR_RETURN(at::Tensor t, LoadTensor(*it->second, impl->dtype, impl->device_));
    *out = std::move(t);
    return absl::OkStatus();
  };
  absl::Status st;
  {
    c10::InferenceMode guard;
    st.Update(load(TensorRole::kEmbedding, &impl->embed));
    st.Update(load(TensorRole::kPositionalEmbedding, &impl->pos_embed));
    impl->layers.resize(static_cast<size_t>(spec.num_hidden_layers));
    const bool swiglu = spec.hidden_act == "swiglu";
    for (int64_t i = 0; i < spec.num_hidden_layers && st.ok(); ++i) {
      LayerWeights& L = impl->layers[static_cast<size_t>(i)];
      st.Update(load(TensorRole::kQkv, &L.qkv, i));
      st.Update(load(TensorRole::kWo, &L.wo, i));
      st.Update(load(swiglu ? TensorRole::kFfnW1 : TensorRole::kFfn0, &L.ffn_in, i));
      if (swiglu) st.Update(load(TensorRole::kFfnW2, &L.ffn_up, i));
      st.Update(load(swiglu ? TensorRole::kFfnW3 : TensorRole::kFfn2, &L.ffn_out, i));
      st.Update(load(TensorRole::kAttentionNorm, &L.attn_norm_w, i));
      st.Update(load(TensorRole::kAttentionNormBias, &L.attn_norm_b, i));
      st.Update(load(TensorRole::kFfnNorm, &L.ffn_norm_w, i));
      st.Update(load(TensorRole::kFfnNormBias, &L.ffn_norm_b, i));
    }
    if (!st.ok()) return st;
    st.Update(load(TensorRole::kFinalNorm, &impl->final_w));
    st.Update(load(TensorRole::kFinalNormBias, &impl->final_b));
    const format::TensorEntry& decoder = *tensors.at(core::TensorName(TensorRole::kDecoder));
    const format::TensorEntry& embed = *tensors.at(core::TensorName(TensorRole::kEmbedding));
    if (format::SameView(decoder, embed)) {
      impl->dec_w = impl->embed;  // tied torch file: one tensor, two names
    } else {
      st.Update(load(TensorRole::kDecoder, &impl->dec_w));
    }
    st.Update(load(TensorRole::kDecoderBias, &impl->dec_b));
  }
  if (!st.ok()) return st;
  return std::unique_ptr<ModelBackend>(std::move(impl));
}

}  // namespace
}  // namespace neobert::engine

extern "C" __attribute__((visibility("default"))) const neobert::engine::BackendApi*
neobert_engine_backend_v1() {
  static const neobert::engine::BackendApi api{
      .create = &neobert::engine::CreateTorchModel,
      .visible_cuda_devices = &neobert::engine::VisibleCudaDeviceCount,
      .set_cpu_threads = &neobert::engine::SetCpuThreadCount,
  };
  return &api;
}
