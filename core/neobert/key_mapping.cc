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
  TensorMapping plan;

  // (a) canonical names.
  std::map<std::string, Slot> by_name;
  std::set<std::string> raw_seen;
  int64_t module_keys = 0, compile_keys = 0;
  bool saw_prefix = false;  // for the hint when stripping is off
  for (const TensorEntry& t : tensors) {
    if (!raw_seen.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", t.name, "' appears twice"));
    }
    absl::string_view name = t.name;
    bool had_module = false, had_compile = false;
    if (options.allow_prefix_strip) {
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
      saw_prefix = true;
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor key '", t.name, "' is nothing but wrapper prefixes"));
    }
    module_keys += had_module;
    compile_keys += had_compile;
    plan.prefixed_keys += (had_module || had_compile);

    std::string canonical(name);
    bool alias = false;
    if (canonical == "model.decoder.weight" || canonical == "model.decoder.bias") {
      canonical = canonical.substr(6);  // drop "model."
      alias = true;
    }
    auto [it, inserted] = by_name.emplace(canonical, Slot{t, t.name});
    if (inserted) continue;
    const bool either_alias = alias || absl::StrContains(it->second.raw, "model.decoder.");
    if (either_alias && format::SameView(it->second.tensor, t)) {
      plan.notes.push_back(absl::StrCat("'", t.name, "' and '", it->second.raw,
                                        "' are the same tensor; kept one as '", canonical, "'"));
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": keys '", it->second.raw, "' and '",
                                                   t.name, "' both map to '", canonical, "'"));
  }
  if (module_keys > 0) {
    plan.notes.push_back(absl::StrCat("stripped prefix 'module.' from ", module_keys, " keys"));
  }
  if (compile_keys > 0) {
    plan.notes.push_back(
        absl::StrCat("stripped prefix '_orig_mod.' from ", compile_keys, " keys"));
  }

  std::vector<std::string> problems;  // shape / packing problems, in table order

  // (b) packed w12 → w1/w2 views.
  std::vector<std::string> packed;
  for (const auto& [name, slot] : by_name) {
    if (PackedLayer(name) >= 0) packed.push_back(name);
  }
  const int64_t F = config.ffn_width(), H = config.hidden_size;
  for (const std::string& name : packed) {
    const int64_t layer = PackedLayer(name);
    // Outside the architecture it is simply unexpected (reported below).
    if (!config.swiglu() || layer >= config.num_hidden_layers) continue;
    const std::string w1 = TensorName(TensorRole::kFfnW1, layer);
    const std::string w2 = TensorName(TensorRole::kFfnW2, layer);
    if (by_name.count(w1) || by_name.count(w2)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": layer ", layer, " has both packed '", name, "' and unpacked w1/w2"));
    }
    Slot slot = by_name.at(name);
    const TensorEntry& p = slot.tensor;
    if (p.shape != std::vector<int64_t>{2 * F, H} || p.strides.size() != 2) {
      problems.push_back(absl::StrCat(name, ": shape ", ShapeStr(p.shape), ", expected ",
                                      ShapeStr({2 * F, H}),
                                      " (2*swiglu_width(intermediate_size), hidden_size)"));
      by_name.at(name).consumed = true;
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
      return absl::InvalidArgumentError(absl::StrCat(source, ": '", name, "' strides overflow"));
    }
    up.storage_offset = *up_offset;
    for (const TensorEntry* half : {&gate, &up}) {
      if (absl::Status s = format::ValidateTensorBounds(*half); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": cannot split '", name, "': ", s.message()));
      }
    }
    by_name.erase(name);
    by_name.emplace(w1, Slot{gate, absl::StrCat(slot.raw, "[rows 0:", F, "]")});
    by_name.emplace(w2, Slot{up, absl::StrCat(slot.raw, "[rows ", F, ":", 2 * F, "]")});
    ++plan.unpacked_w12_layers;
  }
  if (plan.unpacked_w12_layers > 0) {
    plan.notes.push_back(
        absl::StrCat("unpacked ffn.w12 for ", plan.unpacked_w12_layers, " layers"));
  }

  // (c) the table: presence, shape, dtype.
  std::vector<std::string> missing, not_float;
  size_t embed_at = SIZE_MAX, decoder_at = SIZE_MAX;  // in plan.tensors
  for (const ExpectedTensor& e : ExpectedTensors(config)) {
    auto it = by_name.find(e.name);
    if (it == by_name.end()) {
      if (!e.optional) missing.push_back(e.name);
      continue;
    }
    Slot& slot = it->second;
    slot.consumed = true;
    const TensorEntry& t = slot.tensor;
    if (t.shape != e.shape) {
      problems.push_back(absl::StrCat(e.name, ": shape ", ShapeStr(t.shape), ", expected ",
                                      ShapeStr(e.shape), " ", e.shape_formula));
      continue;
    }
    if (!format::IsFloatingPoint(t.dtype)) {
      not_float.push_back(absl::StrCat(e.name, " (", format::TorchName(t.dtype), ")"));
      continue;
    }
    if (e.role == TensorRole::kDecoderBias && !options.keep_decoder_bias) {
      plan.warnings.push_back(
          "decoder.bias dropped as requested; the exported model's logits differ from the "
          "checkpoint's by that bias");
      continue;
    }
    if (e.role == TensorRole::kEmbedding) embed_at = plan.tensors.size();
    if (e.role == TensorRole::kDecoder) decoder_at = plan.tensors.size();
    if (e.role == TensorRole::kDecoderBias) plan.decoder_bias = true;
    TensorEntry out = t;
    out.name = e.name;
    plan.tensors.push_back(std::move(out));
    plan.source_keys.push_back(slot.raw);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, slot] : by_name) {
    if (slot.consumed) continue;
    unexpected.push_back(name == slot.raw ? name : absl::StrCat(slot.raw, " (as ", name, ")"));
  }

  if (!problems.empty() || !missing.empty() || !unexpected.empty() || !not_float.empty()) {
    std::string msg = absl::StrCat(source, ": tensors do not match config.yaml (hidden_act ",
                                   config.hidden_act, ", rope ", config.rope ? "true" : "false",
                                   ", rms_norm ", config.rms_norm ? "true" : "false", ")");
    if (!problems.empty()) absl::StrAppend(&msg, "; wrong shape: ", ListCapped(problems));
    if (!missing.empty()) absl::StrAppend(&msg, "; missing: ", ListCapped(missing));
    if (!unexpected.empty()) absl::StrAppend(&msg, "; unexpected: ", ListCapped(unexpected));
    if (!not_float.empty()) {
      absl::StrAppend(&msg, "; not floating point: ", ListCapped(not_float));
    }
    if (saw_prefix) {
      absl::StrAppend(&msg, "; keys carry 'module.'/'_orig_mod.' wrapper prefixes and prefix "
                            "stripping is disabled");
    }
    return absl::InvalidArgumentError(msg);
  }

  // (d) decoder facts.
  plan.tied_decoder = embed_at != SIZE_MAX && decoder_at != SIZE_MAX &&
                      format::SameView(plan.tensors[embed_at], plan.tensors[decoder_at]);
  if (plan.tied_decoder) {
    plan.notes.push_back(
        "decoder.weight shares storage with model.encoder.weight (tied); written as two copies");
  }
  if (plan.decoder_bias) {
    plan.notes.push_back("decoder bias kept");
  } else if (plan.warnings.empty()) {
    plan.notes.push_back("no decoder bias in the checkpoint");
  }

  // (e) dtype.
  std::map<DType, std::pair<int, std::string>> by_dtype;
  for (const TensorEntry& t : plan.tensors) {
    auto& [count, example] = by_dtype[t.dtype];
    if (count++ == 0) example = t.name;
  }
  if (by_dtype.size() == 1) plan.source_dtype = by_dtype.begin()->first;
  if (options.target_dtype.has_value()) {
    plan.dtype = *options.target_dtype;
    if (!plan.source_dtype.has_value() || *plan.source_dtype != plan.dtype) {
      plan.notes.push_back(absl::StrCat("casting ", DTypeCounts(by_dtype), " to ",
                                        format::TorchName(plan.dtype)));
    }
  } else if (plan.source_dtype.has_value()) {
    plan.dtype = *plan.source_dtype;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tensors have mixed dtypes: ", DTypeCounts(by_dtype),
                     "; choose one with a target dtype (--dtype)"));
  }
  if (plan.dtype == DType::kFloat16) {
    plan.warnings.push_back(
        "exporting float16 weights: activations of a model trained in bf16/fp32 may overflow "
        "in fp16");
  }
  return plan;
}

}  // namespace neobert::core
