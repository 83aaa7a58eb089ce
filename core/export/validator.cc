#include "core/export/validator.h"

#include <cmath>
#include <cstdint>
#include <sys/stat.h>

#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/device_name.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "core/export/export_folder.h"
#include "core/export/manifest.h"
#include "core/export/validator_text_checks.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/key_mapping.h"
#include "core/neobert/output_location.h"

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

// One validation run: what the checks share, in the order they fill it.
struct Validation {
  Validation(const ValidateOptions& o, base::ProgressSink& p)
      : options(o), dir(o.export_dir), progress(p) {}
  const ValidateOptions& options;
  const fs::path dir;
  base::ProgressSink& progress;
  ValidationReport report;
  std::optional<engine::ModelSpec> spec;             // config.json, when it passed
  std::optional<ExportTokenizer> tokenizer;          // when the tokenizer check passed
  std::vector<TensorEntry> weights;                  // the export's safetensors
  std::unique_ptr<engine::NeoBertModel> model;       // when the weights loaded strictly

  std::string Path(const char* name) const { return (dir / name).string(); }
  // A regular file at `name` of the export (a link leaving the root or a
  // FIFO counts as absent here; reading it later names the problem).
  bool IsFile(const char* name) const {
    auto st = options.root.StatIfExists(Path(name));
    return st.ok() && st->has_value() && S_ISREG((*st)->st_mode);
  }
  void Add(const std::string& name, bool passed, std::string detail) {
    report.checks.push_back({name, passed, std::move(detail)});
  }
  void Fail(const std::string& name, const absl::Status& s) {
    Add(name, false, std::string(s.message()));
  }
};

void CheckFiles(Validation& v) {
  v.progress.OnStage("files", v.report.export_dir, 0);
  std::vector<std::string> missing;
  for (const char* f : {"config.json", "model.py", "rotary.py", "tokenizer.json"}) {
    if (!v.IsFile(f)) missing.push_back(f);
  }
  if (!v.IsFile("model.safetensors") && !v.IsFile("model.safetensors.index.json") &&
      !v.IsFile("pytorch_model.bin")) {
    missing.push_back("model.safetensors or pytorch_model.bin");
  }
  v.Add("files", missing.empty(),
        missing.empty() ? "all required files present"
                        : absl::StrCat("missing: ", absl::StrJoin(missing, ", ")));
}

void CheckConfig(Validation& v) {
  v.progress.OnStage("config", "config.json", 0);
  const std::string path = v.Path("config.json");
  bool via_symlink = false;
  auto text = v.options.root.ReadFile(path, kMaxConfigJsonBytes, &via_symlink);
  if (!text.ok()) {
    v.Fail("config", text.status());
    return;
  }
  auto spec = engine::ModelSpecFromHfConfigJson(*text);
  if (!spec.ok()) {
    return v.Fail("config", via_symlink ? base::WithoutContent(spec.status(), path)
                                              : spec.status());
  }
  // The spec parsed it, so it is a JSON object within the limits.
  auto json = base::ParseJsonObject(*text, path, {.max_bytes = kMaxConfigJsonBytes},
                                    /*quote=*/false);
  std::vector<std::string> absent;
  for (const char* f : kRequiredConfigFields) {
    if (!json.ok() || !json->contains(f)) absent.push_back(f);
  }
  if (!absent.empty()) {
    return v.Add("config", false, absl::StrCat("config.json lacks ", absl::StrJoin(absent, ", ")));
  }
  v.spec = *spec;
  v.Add("config", true,
        absl::StrCat("H ", spec->hidden_size, ", L ", spec->num_hidden_layers, ", A ",
                     spec->num_attention_heads, ", V ", spec->vocab_size));
}

void CheckManifest(Validation& v) {
  v.progress.OnStage("manifest", "sizes and sha256", 0);
  if (!v.IsFile(kManifestName)) {
    v.Add("manifest", false, "no manifest.json");
    return;
  }
  auto m = ReadManifest(v.options.root, v.dir.string());
  absl::Status s = m.ok() ? VerifyManifestFiles(v.options.root, v.dir.string(), *m) : m.status();
  v.Add("manifest", s.ok(),
        s.ok() ? absl::StrCat(m->files.size(), " files match their size and sha256")
               : std::string(s.message()));
}

void CheckTokenizer(Validation& v) {
  v.progress.OnStage("tokenizer", "tokenizer.json", 0);
  auto t = CheckExportTokenizer(v.options.root, v.dir.string(), v.spec ? &*v.spec : nullptr);
  if (!t.ok()) {
    v.Fail("tokenizer", t.status());
    return;
  }
  v.tokenizer = std::move(t->tokenizer);
  v.Add("tokenizer", true, t->detail);
}

// pytorch_model.bin, when present, must hold exactly the safetensors' tensors:
// "" when it does (or is absent), else why not, as a detail suffix.
std::string TorchBinDifference(const Validation& v) {
  if (!v.IsFile("pytorch_model.bin")) return "";
  auto bin = format::ReadWeights(v.options.root, v.Path("pytorch_model.bin"));
  if (!bin.ok()) return absl::StrCat("; pytorch_model.bin: ", bin.status().message());
  std::map<std::string, const TensorEntry*> by_name;
  for (const auto& t : bin->tensors) by_name[t.name] = &t;
  for (const auto& t : v.weights) {
    auto it = by_name.find(t.name);
    auto a = format::TensorSha256(t);
    if (it == by_name.end() || !a.ok() || it->second->dtype != t.dtype ||
        it->second->shape != t.shape || format::TensorSha256(*it->second).value_or("") != *a) {
      return absl::StrCat("; pytorch_model.bin differs at '", t.name, "'");
    }
  }
  if (by_name.size() != v.weights.size()) return "; pytorch_model.bin has a different tensor set";
  return "";
}

// Strict load: exact names and shapes, no packed w12; the .bin agrees.
void CheckWeights(Validation& v) {
  v.progress.OnStage("weights", "strict load", 0);
  auto weights = ReadExportWeights(v.options.root, v.dir.string());
  if (!weights.ok()) {
    v.Fail("weights", weights.status());
    return;
  }
  if (!v.spec) return;
  v.weights = std::move(*weights);
  bool packed = false;
  for (const auto& t : v.weights) packed |= t.name.find(".ffn.w12.") != std::string::npos;
  auto model = engine::NeoBertModel::Create(*v.spec, v.weights, {.device = v.options.device});
  const std::string bin = TorchBinDifference(v);
  if (packed) {
    return v.Add("weights", false,
                       "packed ffn.w12 tensors present (must be unpacked into w1/w2)");
  }
  if (!model.ok()) {
    v.Fail("weights", model.status());
    return;
  }
  v.model = std::move(*model);
  const bool bin_ok = bin.empty();
  v.Add("weights", bin_ok,
        absl::StrCat(v.weights.size(), " tensors load strictly on ", v.model->device(),
                     bin_ok && v.IsFile("pytorch_model.bin")
                         ? "; pytorch_model.bin holds the same bytes"
                         : bin));
}

void CheckForward(Validation& v, const absl::StatusOr<engine::ForwardOutput>& out) {
  bool finite = out.ok();
  if (out.ok()) {
    for (float x : out->logits) finite &= std::isfinite(x);
  }
  v.Add("mlm_forward", finite,
        !out.ok()  ? std::string(out.status().message())
        : finite   ? absl::StrCat("logits (", absl::StrJoin(out->logits_shape, ", "), ") finite")
                   : "non-finite logits");
}

// No mask == all-ones; int == bool == additive float (0 / -inf) masks.
void CheckMaskParity(Validation& v, const engine::ForwardInput& batch) {
  auto run = [&](std::optional<std::vector<std::vector<double>>> mask,
                 engine::ForwardInput::MaskKind kind) {
    engine::ForwardInput in = batch;
    in.attention_mask = std::move(mask);
    in.mask_kind = kind;
    return v.model->Forward(in);
  };
  auto ones = *batch.attention_mask;
  for (auto& row : ones) std::fill(row.begin(), row.end(), 1.0);
  auto additive = *batch.attention_mask;
  for (auto& row : additive) {
    for (auto& x : row) x = x > 0 ? 0.0 : -std::numeric_limits<double>::infinity();
  }
  auto none = run(std::nullopt, engine::ForwardInput::kInt);
  auto all_ones = run(ones, engine::ForwardInput::kInt);
  auto as_int = run(batch.attention_mask, engine::ForwardInput::kInt);
  auto as_bool = run(batch.attention_mask, engine::ForwardInput::kBool);
  auto as_add = run(additive, engine::ForwardInput::kFloat);
  if (!none.ok() || !all_ones.ok() || !as_int.ok() || !as_bool.ok() || !as_add.ok()) {
    return v.Add("mask_parity", false, "a masked forward pass failed");
  }
  const double d1 = Compare(none->last_hidden_state, all_ones->last_hidden_state).max_abs;
  const double d2 = Compare(as_int->last_hidden_state, as_bool->last_hidden_state).max_abs;
  const double d3 = Compare(as_int->last_hidden_state, as_add->last_hidden_state).max_abs;
  v.Add("mask_parity", d1 <= 1e-6 && d2 <= 1e-6 && d3 <= 1e-6,
        absl::StrFormat("max-abs none/ones %.3g, int/bool %.3g, int/additive %.3g", d1, d2, d3));
}

// end_to_end and cosine_sanity: the seed's sample texts through the model.
absl::Status CheckTexts(Validation& v, const base::CancelToken& cancel) {
  if (!v.tokenizer) {
    v.Add("end_to_end", false, "not run: the tokenizer check failed");
    v.Add("cosine_sanity", false, "not run: the tokenizer check failed");
    return absl::OkStatus();
  }
  v.progress.OnStage("end_to_end", "sample texts", 0);
  RETURN_IF_ERROR(cancel.Check());
  auto e2e = CheckEndToEnd(*v.model, *v.tokenizer);
  v.Add("end_to_end", e2e.ok(), e2e.ok() ? *e2e : std::string(e2e.status().message()));
  v.progress.OnStage("cosine_sanity", "sentence embeddings", 0);
  RETURN_IF_ERROR(cancel.Check());
  auto cos = CheckCosineSanity(*v.model, *v.tokenizer);
  if (!cos.ok()) {
    v.Fail("cosine_sanity", cos.status());
    return absl::OkStatus();
  }
  v.Add("cosine_sanity", cos->passed, cos->detail);
  // Thresholds that measure training, not the export (see validator.h).
  if (!cos->passed && !v.options.strict) {
    v.report.checks.back().advisory = true;
    v.report.checks.back().detail +=
        "; advisory: these thresholds measure training, not the export (--strict fails it)";
  }
  return absl::OkStatus();
}

// The source checkpoint's model on the same batch: the export must compute
// the same function (exactly at the same dtype, closely when cast).
absl::StatusOr<std::string> SourceParity(const Validation& v, const engine::ForwardInput& batch,
                                         const absl::StatusOr<engine::ForwardOutput>& out) {
  const ValidateOptions& o = v.options;
  ASSIGN_OR_RETURN(CheckpointLayout layout, InspectCheckpointDir(o.source_root, o.source_dir));
  ASSIGN_OR_RETURN(NeoBertConfig config, LoadCheckpointConfig(o.source_root, layout.config_yaml));
  ASSIGN_OR_RETURN(format::TensorSet set, format::ReadWeights(o.source_root, layout.weights.path));
  ASSIGN_OR_RETURN(TensorMapping mapping,
                   MapCheckpointTensors(set.tensors, config, {}, layout.weights.path));
  ASSIGN_OR_RETURN(auto source_model,
                   engine::NeoBertModel::Create(
                       engine::ModelSpecFromConfig(config, mapping.decoder_bias), mapping.tensors,
                       {.device = o.device}));
  ASSIGN_OR_RETURN(engine::ForwardOutput source_out, source_model->Forward(batch));
  RETURN_IF_ERROR(out.status());
  std::map<std::string, format::DType> export_dtypes;
  for (const auto& t : v.weights) export_dtypes[t.name] = t.dtype;
  bool same_dtype = true;
  for (const auto& t : mapping.tensors) {
    auto it = export_dtypes.find(t.name);
    same_dtype &= it != export_dtypes.end() && it->second == t.dtype;
  }
  const Diff logits = Compare(out->logits, source_out.logits);
  const Diff hidden = Compare(out->last_hidden_state, source_out.last_hidden_state);
  const bool ok = same_dtype ? (logits.max_abs <= 1e-5 && hidden.max_abs <= 1e-5)
                             : (logits.cosine >= 0.99 && hidden.cosine >= 0.99);
  std::string text = absl::StrCat(DiffText("logits", logits), "; ", DiffText("hidden", hidden),
                                  same_dtype ? " (same dtype: max-abs <= 1e-5)"
                                             : " (cast export: cosine >= 0.99)");
  if (!ok) return absl::FailedPreconditionError(text);
  return text;
}

// Everything that needs the model: forward, masks, texts, source parity.
absl::Status CheckModel(Validation& v, const base::CancelToken& cancel) {
  v.progress.OnStage("forward", "MLM forward and attention-mask parity", 0);
  const auto batch = PaddedBatch(v.spec->vocab_size, v.spec->max_position_embeddings);
  const auto out = v.model->Forward(batch);
  CheckForward(v, out);
  CheckMaskParity(v, batch);
  RETURN_IF_ERROR(CheckTexts(v, cancel));
  if (v.options.source_dir.empty()) return absl::OkStatus();
  v.progress.OnStage("source", v.options.source_dir, 0);
  auto parity = SourceParity(v, batch, out);
  v.Add("source_parity", parity.ok(),
        parity.ok() ? *parity : std::string(parity.status().message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckValidateOptions(const ValidateOptions& o) {
  if (o.export_dir.empty()) return absl::InvalidArgumentError("export_dir: no export folder named");
  if (!o.device.empty()) RETURN_IF_ERROR(base::ParseDeviceName(o.device).status());
  return absl::OkStatus();
}

std::string FailedChecksSummary(const ValidationReport& report) {
  std::vector<std::string> failed;
  for (const auto& c : report.checks) {
    if (!c.passed && !c.advisory) failed.push_back(absl::StrCat(c.name, " (", c.detail, ")"));
  }
  return absl::StrJoin(failed, "; ");
}

absl::StatusOr<ValidationReport> ValidateExportDir(const ValidateOptions& o,
                                                   base::ProgressSink& progress,
                                                   const base::CancelToken& cancel) {
  RETURN_IF_ERROR(CheckValidateOptions(o));
  ASSIGN_OR_RETURN(std::optional<struct stat> st, o.root.StatIfExists(o.export_dir));
  if (!st.has_value() || !S_ISDIR(st->st_mode)) {
    return absl::NotFoundError(absl::StrCat(o.export_dir, ": no such export directory"));
  }
  Validation v(o, progress);
  ASSIGN_OR_RETURN(v.report.export_dir, o.root.RealPath(o.export_dir));
  CheckFiles(v);
  CheckConfig(v);
  CheckManifest(v);
  RETURN_IF_ERROR(cancel.Check());
  CheckTokenizer(v);
  RETURN_IF_ERROR(cancel.Check());
  CheckWeights(v);
  RETURN_IF_ERROR(cancel.Check());
  if (v.model) RETURN_IF_ERROR(CheckModel(v, cancel));
  return std::move(v.report);
}

}  // namespace neobert::core
