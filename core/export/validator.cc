#include "core/export/validator.h"

#include <cmath>
#include <cstdint>
#include <sys/stat.h>

#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/excerpt.h"
#include "core/engine/engine.h"
#include "core/export/export_folder.h"
#include "core/export/manifest.h"
#include "core/export/validator_text_checks.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/file_util.h"
#include "core/neobert/key_mapping.h"
#include "core/neobert/output_location.h"
#include "nlohmann/json.hpp"

namespace neobert::core {
namespace fs = std::filesystem;
using format::TensorEntry;

namespace {

// §9.1: fields config.json must carry.
constexpr const char* kRequiredConfigFields[] = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "vocab_size",  "max_position_embeddings", "norm_eps", "pad_token_id",
    "rms_norm",    "rope", "hidden_act", "dropout", "flash_attention"};

// config.json of an export is small; anything past this is not one.
constexpr uint64_t kMaxConfigJsonBytes = 1 << 20;

engine::ForwardInput PaddedBatch(int64_t vocab, int64_t max_len) {
  const int64_t s = std::max<int64_t>(2, std::min<int64_t>(8, max_len));
  engine::ForwardInput in;
  in.input_ids.assign(2, std::vector<int64_t>(s));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < s; ++i) in.input_ids[b][i] = (b * 131 + i * 17 + 3) % vocab;
  }
  in.attention_mask = std::vector<std::vector<double>>(2, std::vector<double>(s, 1.0));
  (*in.attention_mask)[1][s - 1] = 0.0;
  return in;
}

struct Diff {
  double max_abs = 0, cosine = 1, nmse = 0;
};

Diff Compare(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  double dot = 0, na = 0, nb = 0, err = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double x = a[i], y = b[i];
    d.max_abs = std::max(d.max_abs, std::abs(x - y));
    dot += x * y;
    na += x * x;
    nb += y * y;
    err += (x - y) * (x - y);
  }
  d.cosine = (na > 0 && nb > 0) ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
  d.nmse = nb > 0 ? err / nb : err;
  if (a.size() != b.size()) d.max_abs = std::numeric_limits<double>::infinity();
  return d;
}

std::string DiffText(absl::string_view what, const Diff& d) {
  return absl::StrFormat("%s: max-abs %.3g, cosine %.8f, NMSE %.3g", what, d.max_abs, d.cosine,
                         d.nmse);
}

}  // namespace

absl::StatusOr<ValidationReport> ValidateExportDir(const ValidateOptions& o,
                                                   ProgressSink& progress,
                                                   const CancelToken& cancel) {
  const fs::path dir(o.export_dir);
  const base::FsRoot& root = o.root;
  auto dir_st = root.StatIfExists(o.export_dir);
  if (!dir_st.ok()) return dir_st.status();
  if (!dir_st->has_value() || !S_ISDIR((*dir_st)->st_mode)) {
    return absl::NotFoundError(absl::StrCat(o.export_dir, ": no such export directory"));
  }
  // A regular file at `name` of the export (a link leaving the root or a
  // FIFO counts as absent here; reading it later names the problem).
  auto is_file = [&](const char* name) {
    auto st = root.StatIfExists((dir / name).string());
    return st.ok() && st->has_value() && S_ISREG((*st)->st_mode);
  };
  ValidationReport report;
  auto real = root.RealPath(o.export_dir);
  if (!real.ok()) return real.status();
  report.export_dir = *real;
  auto add = [&](const std::string& name, bool passed, std::string detail) {
    report.checks.push_back({name, passed, std::move(detail)});
    return passed;
  };

  progress.OnStage("files", report.export_dir, 0);
  std::vector<std::string> missing;
  for (const char* f : {"config.json", "model.py", "rotary.py", "tokenizer.json"}) {
    if (!is_file(f)) missing.push_back(f);
  }
  if (!is_file("model.safetensors") && !is_file("model.safetensors.index.json") &&
      !is_file("pytorch_model.bin")) {
    missing.push_back("model.safetensors or pytorch_model.bin");
  }
  add("files", missing.empty(),
      missing.empty() ? "all required files present"
                      : absl::StrCat("missing: ", absl::StrJoin(missing, ", ")));

  progress.OnStage("config", "config.json", 0);
  std::optional<engine::ModelSpec> spec;
  {
    const std::string config_json = (dir / "config.json").string();
    bool via_symlink = false;
    auto read = root.ReadFile(config_json, kMaxConfigJsonBytes, &via_symlink);
    const std::string text = read.ok() ? *read : std::string();
    std::vector<std::string> absent;
    try {
      auto j = nlohmann::json::parse(text);
      for (const char* f : kRequiredConfigFields) {
        if (!j.contains(f)) absent.push_back(f);
      }
    } catch (const std::exception& e) {
      absent.push_back(absl::StrCat("(not JSON: ", JsonErrorText(e, text, !via_symlink), ")"));
    }
    auto s = engine::ModelSpecFromHfConfigJson(text);
    if (!read.ok()) {
      add("config", false, std::string(read.status().message()));
    } else if (!s.ok()) {
      if (via_symlink) s = base::WithoutContent(s.status(), config_json);
      add("config", false, std::string(s.status().message()));
    } else if (!absent.empty()) {
      add("config", false, absl::StrCat("config.json lacks ", absl::StrJoin(absent, ", ")));
    } else {
      spec = *s;
      add("config", true,
          absl::StrCat("H ", s->hidden_size, ", L ", s->num_hidden_layers, ", A ",
                       s->num_attention_heads, ", V ", s->vocab_size));
    }
  }

  progress.OnStage("manifest", "sizes and sha256", 0);
  if (is_file(kManifestName)) {
    auto m = ReadManifest(root, dir.string());
    absl::Status s = m.ok() ? VerifyManifestFiles(root, dir.string(), *m) : m.status();
    add("manifest", s.ok(),
        s.ok() ? absl::StrCat(m->files.size(), " files match their size and sha256")
               : std::string(s.message()));
  } else {
    add("manifest", false, "no manifest.json");
  }
  if (auto c = cancel.Check(); !c.ok()) return c;

  progress.OnStage("tokenizer", "tokenizer.json", 0);
  std::optional<ExportTokenizer> tok;
  {
    auto t = CheckExportTokenizer(root, dir.string(), spec ? &*spec : nullptr);
    if (t.ok()) tok = std::move(t->tokenizer);
    add("tokenizer", t.ok(), t.ok() ? t->detail : std::string(t.status().message()));
  }
  if (auto c = cancel.Check(); !c.ok()) return c;

  progress.OnStage("weights", "strict load", 0);
  auto weights = ReadExportWeights(root, dir.string());
  std::unique_ptr<engine::NeoBertModel> model;
  if (!weights.ok()) {
    add("weights", false, std::string(weights.status().message()));
  } else if (spec) {
    bool packed = false;
    for (const auto& t : *weights) packed |= t.name.find(".ffn.w12.") != std::string::npos;
    auto m = engine::NeoBertModel::Create(*spec, *weights, {.device = o.device});
    std::string bin_detail;
    bool bin_ok = true;
    if (is_file("pytorch_model.bin")) {
      auto bin = format::ReadWeights(root, (dir / "pytorch_model.bin").string());
      if (!bin.ok()) {
        bin_ok = false;
        bin_detail = absl::StrCat("; pytorch_model.bin: ", bin.status().message());
      } else {
        std::map<std::string, const TensorEntry*> by_name;
        for (const auto& t : bin->tensors) by_name[t.name] = &t;
        for (const auto& t : *weights) {
          auto it = by_name.find(t.name);
          auto a = format::TensorSha256(t);
          if (it == by_name.end() || !a.ok() || it->second->dtype != t.dtype ||
              it->second->shape != t.shape || format::TensorSha256(*it->second).value_or("") != *a) {
            bin_ok = false;
            bin_detail = absl::StrCat("; pytorch_model.bin differs at '", t.name, "'");
            break;
          }
        }
        if (bin_ok && by_name.size() != weights->size()) {
          bin_ok = false;
          bin_detail = "; pytorch_model.bin has a different tensor set";
        }
        if (bin_ok) bin_detail = "; pytorch_model.bin holds the same bytes";
      }
    }
    if (packed) {
      add("weights", false, "packed ffn.w12 tensors present (must be unpacked into w1/w2)");
    } else if (!m.ok()) {
      add("weights", false, std::string(m.status().message()));
    } else {
      model = std::move(*m);
      add("weights", bin_ok,
          absl::StrCat(weights->size(), " tensors load strictly on ", model->device(), bin_detail));
    }
  }
  if (auto c = cancel.Check(); !c.ok()) return c;

  if (model) {
    progress.OnStage("forward", "MLM forward and attention-mask parity", 0);
    const auto batch = PaddedBatch(spec->vocab_size, spec->max_position_embeddings);
    auto out = model->Forward(batch);
    bool finite = out.ok();
    if (out.ok()) {
      for (float v : out->logits) finite &= std::isfinite(v);
    }
    add("mlm_forward", finite,
        !out.ok()  ? std::string(out.status().message())
        : finite   ? absl::StrCat("logits (", absl::StrJoin(out->logits_shape, ", "), ") finite")
                   : "non-finite logits");

    // none vs all-ones; int vs bool vs additive float (0 / -inf).
    auto run = [&](std::optional<std::vector<std::vector<double>>> mask,
                   engine::ForwardInput::MaskKind kind) {
      engine::ForwardInput in = batch;
      in.attention_mask = std::move(mask);
      in.mask_kind = kind;
      return model->Forward(in);
    };
    auto ones = *batch.attention_mask;
    for (auto& row : ones) std::fill(row.begin(), row.end(), 1.0);
    auto additive = *batch.attention_mask;
    for (auto& row : additive) {
      for (auto& v : row) v = v > 0 ? 0.0 : -std::numeric_limits<double>::infinity();
    }
    auto none = run(std::nullopt, engine::ForwardInput::kInt);
    auto all_ones = run(ones, engine::ForwardInput::kInt);
    auto as_int = run(batch.attention_mask, engine::ForwardInput::kInt);
    auto as_bool = run(batch.attention_mask, engine::ForwardInput::kBool);
    auto as_add = run(additive, engine::ForwardInput::kFloat);
    if (!none.ok() || !all_ones.ok() || !as_int.ok() || !as_bool.ok() || !as_add.ok()) {
      add("mask_parity", false, "a masked forward pass failed");
    } else {
      const double d1 = Compare(none->last_hidden_state, all_ones->last_hidden_state).max_abs;
      const double d2 = Compare(as_int->last_hidden_state, as_bool->last_hidden_state).max_abs;
      const double d3 = Compare(as_int->last_hidden_state, as_add->last_hidden_state).max_abs;
      const bool ok = d1 <= 1e-6 && d2 <= 1e-6 && d3 <= 1e-6;
      add("mask_parity", ok,
          absl::StrFormat("max-abs none/ones %.3g, int/bool %.3g, int/additive %.3g", d1, d2, d3));
    }

    if (tok) {
      progress.OnStage("end_to_end", "sample texts", 0);
      if (auto c = cancel.Check(); !c.ok()) return c;
      auto e2e = CheckEndToEnd(*model, *tok);
      add("end_to_end", e2e.ok(), e2e.ok() ? *e2e : std::string(e2e.status().message()));
      progress.OnStage("cosine_sanity", "sentence embeddings", 0);
      if (auto c = cancel.Check(); !c.ok()) return c;
      auto cos = CheckCosineSanity(*model, *tok);
      if (!cos.ok()) {
        add("cosine_sanity", false, std::string(cos.status().message()));
      } else {
        add("cosine_sanity", cos->passed, cos->detail);
        // Thresholds that measure training, not the export (see validator.h).
        if (!cos->passed && !o.strict) {
          report.checks.back().advisory = true;
          report.checks.back().detail +=
              "; advisory: these thresholds measure training, not the export (--strict fails it)";
        }
      }
    } else {
      add("end_to_end", false, "not run: the tokenizer check failed");
      add("cosine_sanity", false, "not run: the tokenizer check failed");
    }

    if (!o.source_dir.empty()) {
      progress.OnStage("source", o.source_dir, 0);
      auto parity = [&]() -> absl::StatusOr<std::string> {
        auto layout = InspectCheckpointDir(o.source_root, o.source_dir);
        if (!layout.ok()) return layout.status();
        auto config = LoadCheckpointConfig(o.source_root, layout->config_yaml);
        if (!config.ok()) return config.status();
        auto set = format::ReadWeights(o.source_root, layout->weights.path);
        if (!set.ok()) return set.status();
        auto plan = BuildExportPlan(set->tensors, *config, {}, layout->weights.path);
        if (!plan.ok()) return plan.status();
        auto src_model = engine::NeoBertModel::Create(
            engine::ModelSpecFromConfig(*config, plan->decoder_bias), plan->tensors,
            {.device = o.device});
        if (!src_model.ok()) return src_model.status();
        auto src_out = (*src_model)->Forward(batch);
        if (!src_out.ok()) return src_out.status();
        if (!out.ok()) return out.status();
        bool same_dtype = true;
        std::map<std::string, format::DType> export_dtypes;
        for (const auto& t : *weights) export_dtypes[t.name] = t.dtype;
        for (const auto& t : plan->tensors) {
          auto it = export_dtypes.find(t.name);
          same_dtype &= it != export_dtypes.end() && it->second == t.dtype;
        }
        const Diff logits = Compare(out->logits, src_out->logits);
        const Diff hidden = Compare(out->last_hidden_state, src_out->last_hidden_state);
        const bool ok = same_dtype ? (logits.max_abs <= 1e-5 && hidden.max_abs <= 1e-5)
                                   : (logits.cosine >= 0.99 && hidden.cosine >= 0.99);
        std::string text = absl::StrCat(DiffText("logits", logits), "; ",
                                        DiffText("hidden", hidden),
                                        same_dtype ? " (same dtype: max-abs <= 1e-5)"
                                                   : " (cast export: cosine >= 0.99)");
        if (!ok) return absl::FailedPreconditionError(text);
        return text;
      }();
      add("source_parity", parity.ok(),
          parity.ok() ? *parity : std::string(parity.status().message()));
    }
  }
  return report;
}

}  // namespace neobert::core
