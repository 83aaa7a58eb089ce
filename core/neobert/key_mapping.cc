#include "core/neobert/key_mapping.h"

#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/base/checked_math.h"
#include "core/base/status_macros.h"

namespace neobert::core {
namespace {

using format::DType;
using format::TensorEntry;

constexpr absl::string_view kModulePrefix = "module.";
constexpr absl::string_view kCompilePrefix = "_orig_mod.";
constexpr absl::string_view kLayerStem = "model.transformer_encoder.";
constexpr absl::string_view kPackedSuffix = ".ffn.w12.weight";
// Lists in error messages stop after this many entries.
constexpr size_t kMaxListed = 20;

struct Slot {
  TensorEntry tensor;
  std::string raw;  // key as it appeared in the file (or a row range of one)
  bool consumed = false;
};

std::string ShapeStr(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string ListCapped(const std::vector<std::string>& items) {
  if (items.size() <= kMaxListed) return absl::StrJoin(items, ", ");
  std::vector<std::string> head(items.begin(), items.begin() + kMaxListed);
  return absl::StrCat(absl::StrJoin(head, ", "), ", ... and ", items.size() - kMaxListed,
                      " more");
}

// Layer index of "model.transformer_encoder.<i>.ffn.w12.weight", or -1.
int64_t PackedLayer(const std::string& name) {
  absl::string_view s = name;
  if (!absl::ConsumePrefix(&s, kLayerStem) || !absl::ConsumeSuffix(&s, kPackedSuffix)) return -1;
  int64_t i = -1;
  if (!absl::SimpleAtoi(s, &i) || i < 0 || absl::StrCat(i) != s) return -1;
  return i;
}

std::string DTypeCounts(const std::map<DType, std::pair<int, std::string>>& by_dtype) {
  std::vector<std::string> parts;
  for (const auto& [dt, info] : by_dtype) {
    parts.push_back(absl::StrCat(format::TorchName(dt), " (", info.first, " tensors, e.g. ",
                                 info.second, ")"));
  }
  return absl::StrJoin(parts, ", ");
}

// The state MapCheckpointTensors' steps share (key_mapping.h lists the steps).
struct Mapping {
  Mapping(const NeoBertConfig& c, const MappingOptions& o, const std::string& s)
      : config(c), options(o), source(s) {}
  const NeoBertConfig& config;
  const MappingOptions& options;
  const std::string& source;
  TensorMapping plan;
  std::map<std::string, Slot> by_name;                // canonical name → tensor
  bool saw_prefix = false;                            // for the hint when stripping is off
  std::vector<std::string> problems;                  // shape / packing problems, in table order
  size_t embed_at = SIZE_MAX, decoder_at = SIZE_MAX;  // in plan.tensors
};

absl::Status CanonicalNames(Mapping& m, const std::vector<TensorEntry>& tensors) {
  std::set<std::string> raw_seen;
  int64_t module_keys = 0, compile_keys = 0;
  for (const TensorEntry& t : tensors) {
    if (!raw_seen.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.source, ": tensor '", t.name, "' appears twice"));
    }
    absl::string_view name = t.name;
    bool had_module = false, had_compile = false;
    if (m.options.allow_prefix_strip) {
      for (;;) {
        if (absl::ConsumePrefix(&name, kModulePrefix)) {
          had_module = true;
        } else if (absl::ConsumePrefix(&name, kCompilePrefix)) {
          had_compile = true;
        } else {
          break;
        }
      }
    } else if (absl::StartsWith(name, kModulePrefix) || absl::StartsWith(name, kCompilePrefix)) {
      m.saw_prefix = true;
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.source, ": tensor key '", t.name, "' is nothing but wrapper prefixes"));
    }
    module_keys += had_module;
    compile_keys += had_compile;
    m.plan.prefixed_keys += (had_module || had_compile);

    std::string canonical(name);
    bool alias = false;
    if (canonical == "model.decoder.weight" || canonical == "model.decoder.bias") {
      canonical = canonical.substr(6);  // drop "model."
      alias = true;
    }
    auto [it, inserted] = m.by_name.emplace(canonical, Slot{t, t.name});
    if (inserted) continue;
    const bool either_alias = alias || absl::StrContains(it->second.raw, "model.decoder.");
    if (either_alias && format::SameView(it->second.tensor, t)) {
      m.plan.notes.push_back(absl::StrCat("'", t.name, "' and '", it->second.raw,
                                          "' are the same tensor; kept one as '", canonical, "'"));
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(m.source, ": keys '", it->second.raw, "' and '",
                                                   t.name, "' both map to '", canonical, "'"));
  }
  if (module_keys > 0) {
    m.plan.notes.push_back(absl::StrCat("stripped prefix 'module.' from ", module_keys, " keys"));
  }
  if (compile_keys > 0) {
    m.plan.notes.push_back(
        absl::StrCat("stripped prefix '_orig_mod.' from ", compile_keys, " keys"));
  }

  return absl::OkStatus();
}

absl::Status UnpackW12(Mapping& m) {
  std::vector<std::string> packed;
  for (const auto& [name, slot] : m.by_name) {
    if (PackedLayer(name) >= 0) packed.push_back(name);
  }
  const int64_t F = m.config.ffn_width(), H = m.config.hidden_size;
  for (const std::string& name : packed) {
    const int64_t layer = PackedLayer(name);
    // Outside the architecture it is simply unexpected (reported below).
    if (!m.config.swiglu() || layer >= m.config.num_hidden_layers) continue;
    const std::string w1 = TensorName(TensorRole::kFfnW1, layer);
    const std::string w2 = TensorName(TensorRole::kFfnW2, layer);
    if (m.by_name.count(w1) || m.by_name.count(w2)) {
      return absl::InvalidArgumentError(absl::StrCat(
          m.source, ": layer ", layer, " has both packed '", name, "' and unpacked w1/w2"));
    }
    Slot slot = m.by_name.at(name);
    const TensorEntry& p = slot.tensor;
    if (p.shape != std::vector<int64_t>{2 * F, H} || p.strides.size() != 2) {
      m.problems.push_back(absl::StrCat(name, ": shape ", ShapeStr(p.shape), ", expected ",
                                        ShapeStr({2 * F, H}),
                                        " (2*swiglu_width(intermediate_size), hidden_size)"));
      m.by_name.at(name).consumed = true;
      continue;
    }
    TensorEntry gate = p, up = p;
    gate.name = w1;
    gate.shape = {F, H};
    up.name = w2;
    up.shape = {F, H};
    const std::optional<int64_t> skip = base::CheckedMul(F, p.strides[0]);
    const std::optional<int64_t> up_offset =
        skip ? base::CheckedAdd(p.storage_offset, *skip) : std::nullopt;
    if (!up_offset) {
      return absl::InvalidArgumentError(absl::StrCat(m.source, ": '", name, "' strides overflow"));
    }
    up.storage_offset = *up_offset;
    for (const TensorEntry* half : {&gate, &up}) {
      if (absl::Status s = format::ValidateTensorBounds(*half); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(m.source, ": cannot split '", name, "': ", s.message()));
      }
    }
    m.by_name.erase(name);
    m.by_name.emplace(w1, Slot{gate, absl::StrCat(slot.raw, "[rows 0:", F, "]")});
    m.by_name.emplace(w2, Slot{up, absl::StrCat(slot.raw, "[rows ", F, ":", 2 * F, "]")});
    ++m.plan.unpacked_w12_layers;
  }
  if (m.plan.unpacked_w12_layers > 0) {
    m.plan.notes.push_back(
        absl::StrCat("unpacked ffn.w12 for ", m.plan.unpacked_w12_layers, " layers"));
  }

  return absl::OkStatus();
}

absl::Status MatchTable(Mapping& m) {
  std::vector<std::string> missing, not_float;
  for (const ExpectedTensor& e : ExpectedTensors(m.config)) {
    auto it = m.by_name.find(e.name);
    if (it == m.by_name.end()) {
      if (!e.optional) missing.push_back(e.name);
      continue;
    }
    Slot& slot = it->second;
    slot.consumed = true;
    const TensorEntry& t = slot.tensor;
    if (t.shape != e.shape) {
      m.problems.push_back(absl::StrCat(e.name, ": shape ", ShapeStr(t.shape), ", expected ",
                                        ShapeStr(e.shape), " ", e.shape_formula));
      continue;
    }
    if (!format::IsFloatingPoint(t.dtype)) {
      not_float.push_back(absl::StrCat(e.name, " (", format::TorchName(t.dtype), ")"));
      continue;
    }
    if (e.role == TensorRole::kDecoderBias && !m.options.keep_decoder_bias) {
      m.plan.warnings.push_back(
          "decoder.bias dropped as requested; the exported model's logits differ from the "
          "checkpoint's by that bias");
      continue;
    }
    if (e.role == TensorRole::kEmbedding) m.embed_at = m.plan.tensors.size();
    if (e.role == TensorRole::kDecoder) m.decoder_at = m.plan.tensors.size();
    if (e.role == TensorRole::kDecoderBias) m.plan.decoder_bias = true;
    TensorEntry out = t;
    out.name = e.name;
    m.plan.tensors.push_back(std::move(out));
    m.plan.source_keys.push_back(slot.raw);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, slot] : m.by_name) {
    if (slot.consumed) continue;
    unexpected.push_back(name == slot.raw ? name : absl::StrCat(slot.raw, " (as ", name, ")"));
  }

  if (!m.problems.empty() || !missing.empty() || !unexpected.empty() || !not_float.empty()) {
    std::string msg = absl::StrCat(m.source, ": tensors do not match config.yaml (hidden_act ",
                                   m.config.hidden_act, ", rope ", m.config.rope ? "true" : "false",
                                   ", rms_norm ", m.config.rms_norm ? "true" : "false", ")");
    if (!m.problems.empty()) absl::StrAppend(&msg, "; wrong shape: ", ListCapped(m.problems));
    if (!missing.empty()) absl::StrAppend(&msg, "; missing: ", ListCapped(missing));
    if (!unexpected.empty()) absl::StrAppend(&msg, "; unexpected: ", ListCapped(unexpected));
    if (!not_float.empty()) {
      absl::StrAppend(&msg, "; not floating point: ", ListCapped(not_float));
    }
    if (m.saw_prefix) {
      absl::StrAppend(&msg,
                      "; keys carry 'module.'/'_orig_mod.' wrapper prefixes and prefix "
                      "stripping is disabled");
    }
    return absl::InvalidArgumentError(msg);
  }

  return absl::OkStatus();
}

void DecoderFacts(Mapping& m) {
  m.plan.tied_decoder = m.embed_at != SIZE_MAX && m.decoder_at != SIZE_MAX &&
                        format::SameView(m.plan.tensors[m.embed_at], m.plan.tensors[m.decoder_at]);
  if (m.plan.tied_decoder) {
    m.plan.notes.push_back(
        "decoder.weight shares storage with model.encoder.weight (tied); written as two copies");
  }
  if (m.plan.decoder_bias) {
    m.plan.notes.push_back("decoder bias kept");
  } else if (m.plan.warnings.empty()) {
    m.plan.notes.push_back("no decoder bias in the checkpoint");
  }
}

absl::Status ChooseDtype(Mapping& m) {
  std::map<DType, std::pair<int, std::string>> by_dtype;
  for (const TensorEntry& t : m.plan.tensors) {
    auto& [count, example] = by_dtype[t.dtype];
    if (count++ == 0) example = t.name;
  }
  if (by_dtype.size() == 1) m.plan.source_dtype = by_dtype.begin()->first;
  if (m.options.target_dtype.has_value()) {
    m.plan.dtype = *m.options.target_dtype;
    if (!m.plan.source_dtype.has_value() || *m.plan.source_dtype != m.plan.dtype) {
      m.plan.notes.push_back(
          absl::StrCat("casting ", DTypeCounts(by_dtype), " to ", format::TorchName(m.plan.dtype)));
    }
  } else if (m.plan.source_dtype.has_value()) {
    m.plan.dtype = *m.plan.source_dtype;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(m.source, ": tensors have mixed dtypes: ", DTypeCounts(by_dtype),
                     "; choose one with a target dtype (--dtype)"));
  }
  if (m.plan.dtype == DType::kFloat16) {
    m.plan.warnings.push_back(
        "exporting float16 weights: activations of a model trained in bf16/fp32 may overflow "
        "in fp16");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TensorMapping> MapCheckpointTensors(const std::vector<TensorEntry>& tensors,
                                                   const NeoBertConfig& config,
                                                   const MappingOptions& options,
                                                   const std::string& source) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": contains no tensors"));
  }
  if (options.target_dtype.has_value() && !format::IsFloatingPoint(*options.target_dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target dtype ", format::TorchName(*options.target_dtype), " is not floating point"));
  }
  Mapping m(config, options, source);
  RETURN_IF_ERROR(CanonicalNames(m, tensors));  // (a)
  RETURN_IF_ERROR(UnpackW12(m));                // (b) packed w12 → w1/w2 views
  RETURN_IF_ERROR(MatchTable(m));               // (c) the table: presence, shape, dtype
  DecoderFacts(m);                              // (d)
  RETURN_IF_ERROR(ChooseDtype(m));              // (e)
  return std::move(m.plan);
}

}  // namespace neobert::core
