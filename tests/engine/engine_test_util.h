// Helpers for the engine tests: a tiny random NeoBERT held as plain float
// vectors, its tensors as format-layer views over memory, and a naive
// double-precision forward pass written with loops straight from reference
// §7 (nothing shared with the engine), used as the ground truth.
#pragma once

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/engine/engine.h"
#include "core/format/byte_source.h"
#include "core/format/cast.h"
#include "core/format/tensor.h"
#include "gtest/gtest.h"

namespace neobert::engine::testing {

// H 8, L 2, A 2 (d 4), I 12 (SwiGLU width 8), V 16, P 8, pad 0.
inline ModelSpec TinySpec() {
  ModelSpec s;
  s.hidden_size = 8;
  s.num_hidden_layers = 2;
  s.num_attention_heads = 2;
  s.intermediate_size = 12;
  s.vocab_size = 16;
  s.max_position_embeddings = 8;
  s.norm_eps = 1e-5;
  s.pad_token_id = 0;
  return s;
}

struct TinyModel {
  ModelSpec spec;
  std::map<std::string, std::vector<float>> values;
  std::map<std::string, std::vector<int64_t>> shapes;
  std::vector<std::string> order;

  const std::vector<float>& at(const std::string& name) const { return values.at(name); }
  bool has(const std::string& name) const { return values.count(name) != 0; }

  // Contiguous views over fresh memory, converted to `dtype` (exact for
  // bfloat16 when the model was made with bf16_exact).
  std::vector<format::TensorEntry> Entries(format::DType dtype = format::DType::kFloat32) const {
    std::vector<format::TensorEntry> out;
    for (const std::string& name : order) out.push_back(Entry(name, dtype));
    return out;
  }

  format::TensorEntry Entry(const std::string& name,
                            format::DType dtype = format::DType::kFloat32) const {
    const std::vector<float>& v = values.at(name);
    std::vector<uint8_t> bytes(v.size() * format::ElementSize(dtype));
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == format::DType::kFloat32) {
        std::memcpy(&bytes[4 * i], &v[i], 4);
      } else if (dtype == format::DType::kFloat64) {
        const double d = v[i];
        std::memcpy(&bytes[8 * i], &d, 8);
      } else {
        const uint16_t h = dtype == format::DType::kBFloat16 ? format::FloatToBFloat16(v[i])
                                                               : format::FloatToHalf(v[i]);
        std::memcpy(&bytes[2 * i], &h, 2);
      }
    }
    format::TensorEntry t;
    t.name = name;
    t.dtype = dtype;
    t.shape = shapes.at(name);
    t.strides = format::ContiguousStrides(t.shape);
    t.storage.nbytes = bytes.size();
    t.storage.key = name;
    t.storage.source = std::make_shared<format::MemorySource>(std::move(bytes), name);
    return t;
  }
};

// Random weights for `spec`: matrices uniform(-0.5, 0.5), norm weights
// 1 + uniform(-0.2, 0.2), biases uniform(-0.1, 0.1). `bf16_exact` rounds every
// value to bfloat16, so bf16 files hold exactly the float32 values.
inline TinyModel MakeTinyModel(const ModelSpec& spec, uint32_t seed = 7, bool bf16_exact = false) {
  TinyModel m;
  m.spec = spec;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  const int64_t H = spec.hidden_size, V = spec.vocab_size, F = spec.ffn_width();
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float base, float scale) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) {
      x = base + scale * u(rng);
      if (bf16_exact) x = format::BFloat16ToFloat(format::FloatToBFloat16(x));
    }
    m.values[name] = std::move(v);
    m.shapes[name] = std::move(shape);
    m.order.push_back(name);
  };
  auto norm = [&](const std::string& prefix) {
    add(prefix + ".weight", {H}, 1.0f, 0.4f);
    if (!spec.rms_norm) add(prefix + ".bias", {H}, 0.0f, 0.2f);
  };
  add("model.encoder.weight", {V, H}, 0.0f, 1.0f);
  if (!spec.rope) add("model.positional_embedding.weight", {spec.max_position_embeddings + 1, H}, 0.0f, 1.0f);
  for (int64_t i = 0; i < spec.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.transformer_encoder.", i, ".");
    add(p + "qkv.weight", {3 * H, H}, 0.0f, 1.0f);
    add(p + "wo.weight", {H, H}, 0.0f, 1.0f);
    if (spec.hidden_act == "swiglu") {
      add(p + "ffn.w1.weight", {F, H}, 0.0f, 1.0f);
      add(p + "ffn.w2.weight", {F, H}, 0.0f, 1.0f);
      add(p + "ffn.w3.weight", {H, F}, 0.0f, 1.0f);
    } else {
      add(p + "ffn.0.weight", {F, H}, 0.0f, 1.0f);
      add(p + "ffn.2.weight", {H, F}, 0.0f, 1.0f);
    }
    norm(p + "attention_norm");
    norm(p + "ffn_norm");
  }
  norm("model.layer_norm");
  add("decoder.weight", {V, H}, 0.0f, 1.0f);
  if (spec.decoder_bias) add("decoder.bias", {V}, 0.0f, 0.2f);
  return m;
}

struct NaiveOutput {
  std::vector<double> hidden;  // (B, S, H)
  std::vector<double> logits;  // (B, S, V)
};

// keep: (B, S) 1 = attend, empty = keep all. positions: (B, S) or empty for
// the defaults of §7.3.
inline NaiveOutput NaiveForward(const TinyModel& m, const std::vector<std::vector<int64_t>>& ids,
                                const std::vector<std::vector<int>>& keep = {},
                                const std::vector<std::vector<int64_t>>& positions = {}) {
  const ModelSpec& s = m.spec;
  const int64_t B = static_cast<int64_t>(ids.size()), S = static_cast<int64_t>(ids[0].size());
  const int64_t H = s.hidden_size, A = s.num_attention_heads, d = H / A, V = s.vocab_size;
  const int64_t F = s.ffn_width();
  auto W = [&](const std::string& n) -> const std::vector<float>& { return m.at(n); };
  // y = W x for W (rows, cols) row-major.
  auto matvec = [](const std::vector<float>& w, const std::vector<double>& x, int64_t rows) {
    const int64_t cols = static_cast<int64_t>(x.size());
    std::vector<double> y(rows, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) y[r] += double(w[r * cols + c]) * x[c];
    }
    return y;
  };
  auto normalise = [&](const std::vector<double>& x, const std::string& prefix) {
    const std::vector<float>& w = W(prefix + ".weight");
    std::vector<double> y(H);
    if (s.rms_norm) {
      double ms = 0;
      for (double v : x) ms += v * v;
      ms /= H;
      for (int64_t k = 0; k < H; ++k) y[k] = x[k] / std::sqrt(ms + s.norm_eps) * w[k];
    } else {
      double mean = 0, var = 0;
      for (double v : x) mean += v;
      mean /= H;
      for (double v : x) var += (v - mean) * (v - mean);
      var /= H;
      const std::vector<float>& b = W(prefix + ".bias");
      for (int64_t k = 0; k < H; ++k) y[k] = (x[k] - mean) / std::sqrt(var + s.norm_eps) * w[k] + b[k];
    }
    return y;
  };
  auto position = [&](int64_t b, int64_t j) -> int64_t {
    if (!positions.empty()) return positions[b][j];
    if (s.rope) return j;
    int64_t count = 0;
    for (int64_t t = 0; t <= j; ++t) {
      if (!s.pad_token_id || ids[b][t] != *s.pad_token_id) ++count;
    }
    return (!s.pad_token_id || ids[b][j] != *s.pad_token_id) ? count : 0;
  };

  std::vector<std::vector<double>> x(B * S, std::vector<double>(H));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < S; ++j) {
      for (int64_t k = 0; k < H; ++k) {
        x[b * S + j][k] = W("model.encoder.weight")[ids[b][j] * H + k];
        if (!s.rope) x[b * S + j][k] += W("model.positional_embedding.weight")[position(b, j) * H + k];
      }
    }
  }
  for (int64_t l = 0; l < s.num_hidden_layers; ++l) {
    const std::string p = absl::StrCat("model.transformer_encoder.", l, ".");
    std::vector<std::vector<double>> q(B * S), k(B * S), v(B * S);
    for (int64_t t = 0; t < B * S; ++t) {
      const std::vector<double> qkv = matvec(W(p + "qkv.weight"), normalise(x[t], p + "attention_norm"), 3 * H);
      q[t].resize(H), k[t].resize(H), v[t].resize(H);
      for (int64_t a = 0; a < A; ++a) {
        for (int64_t c = 0; c < d; ++c) {
          q[t][a * d + c] = qkv[a * 3 * d + c];
          k[t][a * d + c] = qkv[a * 3 * d + d + c];
          v[t][a * d + c] = qkv[a * 3 * d + 2 * d + c];
        }
      }
      if (s.rope) {
        const float pos = static_cast<float>(position(t / S, t % S));
        for (int64_t a = 0; a < A; ++a) {
          for (int64_t j = 0; j < d / 2; ++j) {
            const float inv = 1.0f / std::pow(10000.0f, static_cast<float>(2 * j) / static_cast<float>(d));
            const double ang = static_cast<double>(pos * inv);
            for (auto* vec : {&q[t], &k[t]}) {
              const double e = (*vec)[a * d + 2 * j], o = (*vec)[a * d + 2 * j + 1];
              (*vec)[a * d + 2 * j] = e * std::cos(ang) - o * std::sin(ang);
              (*vec)[a * d + 2 * j + 1] = e * std::sin(ang) + o * std::cos(ang);
            }
          }
        }
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < S; ++i) {
        std::vector<double> o(H, 0.0);
        for (int64_t a = 0; a < A; ++a) {
          std::vector<double> sc(S);
          double mx = -INFINITY;
          bool any = false;
          for (int64_t j = 0; j < S; ++j) {
            if (!keep.empty() && !keep[b][j]) continue;
            double dot = 0;
            for (int64_t c = 0; c < d; ++c) dot += q[b * S + i][a * d + c] * k[b * S + j][a * d + c];
            sc[j] = dot / std::sqrt(double(d));
            mx = std::max(mx, sc[j]);
            any = true;
          }
          if (!any) continue;  // no key: zero output
          double z = 0;
          for (int64_t j = 0; j < S; ++j) {
            if (!keep.empty() && !keep[b][j]) continue;
            z += std::exp(sc[j] - mx);
          }
          for (int64_t j = 0; j < S; ++j) {
            if (!keep.empty() && !keep[b][j]) continue;
            const double pj = std::exp(sc[j] - mx) / z;
            for (int64_t c = 0; c < d; ++c) o[a * d + c] += pj * v[b * S + j][a * d + c];
          }
        }
        const std::vector<double> proj = matvec(W(p + "wo.weight"), o, H);
        for (int64_t c = 0; c < H; ++c) x[b * S + i][c] += proj[c];
      }
    }
    for (int64_t t = 0; t < B * S; ++t) {
      const std::vector<double> g = normalise(x[t], p + "ffn_norm");
      std::vector<double> mid;
      if (s.hidden_act == "swiglu") {
        const std::vector<double> a = matvec(W(p + "ffn.w1.weight"), g, F);
        const std::vector<double> u = matvec(W(p + "ffn.w2.weight"), g, F);
        mid.resize(F);
        for (int64_t c = 0; c < F; ++c) mid[c] = a[c] / (1.0 + std::exp(-a[c])) * u[c];
        mid = matvec(W(p + "ffn.w3.weight"), mid, H);
      } else {
        mid = matvec(W(p + "ffn.0.weight"), g, F);
        for (double& z : mid) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
        mid = matvec(W(p + "ffn.2.weight"), mid, H);
      }
      for (int64_t c = 0; c < H; ++c) x[t][c] += mid[c];
    }
  }
  NaiveOutput out;
  for (int64_t t = 0; t < B * S; ++t) {
    const std::vector<double> last = normalise(x[t], "model.layer_norm");
    out.hidden.insert(out.hidden.end(), last.begin(), last.end());
    std::vector<double> lg = matvec(W("decoder.weight"), last, V);
    if (m.has("decoder.bias")) {
      for (int64_t c = 0; c < V; ++c) lg[c] += W("decoder.bias")[c];
    }
    out.logits.insert(out.logits.end(), lg.begin(), lg.end());
  }
  return out;
}

template <typename A, typename B>
double MaxAbsDiff(const std::vector<A>& a, const std::vector<B>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double diff = std::fabs(double(a[i]) - double(b[i]));
    if (std::isnan(diff)) return INFINITY;
    m = std::max(m, diff);
  }
  return m;
}

// Small batch: row 0 real tokens, row 1 right-padded by two pad (0) tokens.
inline std::vector<std::vector<int64_t>> PaddedIds() {
  return {{3, 7, 1, 12, 5}, {9, 4, 15, 0, 0}};
}
inline std::vector<std::vector<int>> PaddedKeep() { return {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}; }

}  // namespace neobert::engine::testing
