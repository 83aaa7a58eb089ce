#include "core/export/export_plan.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/export/finite_scan.h"
#include "core/export/test_hooks.h"
#include "core/format/cast.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "core/neobert/remote_code.h"
#include "core/neobert/tokenizer_info.h"

namespace neobert::core {
namespace fs = std::filesystem;
using format::DType;
using format::TensorEntry;

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool IsRegular(const base::FsRoot& root, const std::string& path) {
  auto st = root.StatIfExists(path);
  return st.ok() && st->has_value() && S_ISREG((*st)->st_mode);
}

// Input files whose (size, mtime) identify the source checkpoint.
std::vector<std::string> SourceFiles(const base::FsRoot& root, const CheckpointLayout& layout) {
  std::vector<std::string> files = {fs::path(layout.weights.path).filename().string(),
                                    "config.yaml"};
  if (IsRegular(root, layout.tokenizer_info_json)) files.push_back("tokenizer_info.json");
  auto entries = root.ListDirectory(layout.tokenizer_dir, kMaxTokenizerDirEntries);
  if (entries.ok()) {
    for (const auto& e : *entries) {
      if (IsRegular(root, layout.tokenizer_dir + "/" + e.name)) {
        files.push_back("tokenizer/" + e.name);
      }
    }
  }
  return files;
}

// The source half of the manifest (tool, checkpoint, weights, options,
// fingerprint): what an earlier export must match to be reused.
absl::StatusOr<Manifest> SourceManifest(const CheckpointLayout& layout, const ExportOptions& o) {
  Manifest m;
  m.tool = kToolName;
  m.checkpoint = layout.dir;
  m.weights = fs::path(layout.weights.path).filename().string();
  m.options = OutputAffectingOptions(o);
  ASSIGN_OR_RETURN(m.fingerprint,
                   SourceFingerprint(o.input_root, layout.dir, SourceFiles(o.input_root, layout)));
  return m;
}

// The destination: -o made absolute and canonical, or the trainer-relative
// default (reference §1.7).
absl::StatusOr<std::string> OutputDirFor(const CheckpointLayout& layout, const ExportOptions& o) {
  if (o.output_dir.empty()) return DefaultOutputDir(o.input_root, layout.dir);
  return o.output_root.RealPathAllowMissing(o.output_dir);
}

std::string ShapeText(const TensorEntry& t) {
  return absl::StrCat(format::TorchName(t.dtype), " [", absl::StrJoin(t.shape, ", "), "]");
}

// Compares the values of decoder.weight and model.encoder.weight (both are
// in every mapping; same shape and dtype after the table check unless mixed).
absl::StatusOr<bool> DecoderDiffersFromEmbedding(const std::vector<TensorEntry>& tensors) {
  const TensorEntry* embed = nullptr;
  const TensorEntry* decoder = nullptr;
  for (const TensorEntry& t : tensors) {
    if (t.name == "model.encoder.weight") embed = &t;
    if (t.name == "decoder.weight") decoder = &t;
  }
  if (embed == nullptr || decoder == nullptr) return false;
  if (embed->dtype != decoder->dtype || embed->shape != decoder->shape) return true;
  ASSIGN_OR_RETURN(const std::string a, format::TensorSha256(*embed));
  ASSIGN_OR_RETURN(const std::string b, format::TensorSha256(*decoder));
  return a != b;
}

// Where things are, and whether the destination is done already.
absl::Status Locate(ExportPlan& plan) {
  ExportResult& r = plan.result;
  ASSIGN_OR_RETURN(SourceAndDestination where, LocateExport(plan.options));
  plan.layout = std::move(where.layout);
  plan.output_dir = std::move(where.output_dir);
  plan.manifest = std::move(where.manifest);
  r.notes = plan.layout.notes;
  r.notes.insert(r.notes.end(), plan.layout.weights.notes.begin(),
                 plan.layout.weights.notes.end());
  r.weights_file = plan.layout.weights.path;
  r.weights_format = plan.layout.weights.format;
  r.output_dir = plan.output_dir;
  return DestinationHoldsPlan(plan).status();
}

// config.yaml and tokenizer_info.json.
absl::Status ReadConfig(ExportPlan& plan) {
  const base::FsRoot& root = plan.options.input_root;
  ASSIGN_OR_RETURN(plan.config, LoadCheckpointConfig(root, plan.layout.config_yaml));
  ASSIGN_OR_RETURN(std::optional<struct stat> info,
                   root.StatIfExists(plan.layout.tokenizer_info_json));
  std::vector<std::string>& warnings = plan.result.warnings;
  if (!info.has_value()) {
    warnings.push_back(absl::StrCat(plan.layout.dir,
                                    ": no tokenizer_info.json; pad id and vocab size not "
                                    "cross-checked"));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> found,
                   CheckTokenizerInfoFile(root, plan.layout.tokenizer_info_json, plan.config));
  warnings.insert(warnings.end(), found.begin(), found.end());
  return absl::OkStatus();
}

// The weight descriptors, mapped to their HF names (key_mapping.h).
absl::Status MapWeights(ExportPlan& plan, std::optional<DType> target) {
  const std::string& path = plan.layout.weights.path;
  ASSIGN_OR_RETURN(format::TensorSet weights, format::ReadWeights(plan.options.input_root, path));
  const MappingOptions options{.allow_prefix_strip = true,
                               .keep_decoder_bias = !plan.options.drop_decoder_bias,
                               .target_dtype = target};
  ASSIGN_OR_RETURN(plan.mapping, MapCheckpointTensors(weights.tensors, plan.config, options, path));
  ExportResult& r = plan.result;
  r.notes.insert(r.notes.end(), plan.mapping.notes.begin(), plan.mapping.notes.end());
  r.warnings.insert(r.warnings.end(), plan.mapping.warnings.begin(), plan.mapping.warnings.end());
  r.dtype = std::string(format::TorchName(plan.mapping.dtype));
  r.decoder_bias = plan.mapping.decoder_bias;
  r.tied_decoder = plan.mapping.tied_decoder;
  // P7: HF ties decoder.weight to the embedding unless config.json says
  // otherwise, so a decoder with its own values must be declared untied or
  // it is silently replaced on load (pre-a5f0198 checkpoints).
  plan.tie_word_embeddings = plan.mapping.tied_decoder;
  if (!plan.tie_word_embeddings) {
    ASSIGN_OR_RETURN(const bool untied, DecoderDiffersFromEmbedding(plan.mapping.tensors), path);
    plan.tie_word_embeddings = !untied;
    if (untied) {
      r.notes.push_back(
          "decoder.weight differs from model.encoder.weight (untied); config.json sets "
          "tie_word_embeddings false");
    }
  }
  return absl::OkStatus();
}

// The tensors as written: every floating tensor cast to the export dtype
// (as `convert` casts), and one mapping line per tensor.
absl::Status CastTensors(ExportPlan& plan) {
  ExportResult& r = plan.result;
  const TensorMapping& m = plan.mapping;
  ASSIGN_OR_RETURN(plan.tensors, format::CastFloatingTensors(m.tensors, m.dtype));
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const TensorEntry& from = m.tensors[i];
    const TensorEntry& to = plan.tensors[i];
    const std::string cast = to.dtype != from.dtype ? absl::StrCat(" -> ", r.dtype) : "";
    r.mapping.push_back(
        absl::StrCat(to.name, " <- ", m.source_keys[i], " (", ShapeText(from), cast, ")"));
    r.tensor_bytes += to.nbytes();
  }
  r.tensor_count = plan.tensors.size();
  return absl::OkStatus();
}

// The NaN/Inf (and CRC) scan reads every weight byte; it runs on a second
// thread while the tokenizer is planned, and is awaited before planning ends.
// The sanity pass starts here too and keeps running (ExportPlan::sanity).
absl::Status ScanAndPlanTokenizer(ExportPlan& plan, base::ProgressSink& progress,
                                  const base::CancelToken& cancel) {
  const std::vector<TensorEntry>& tensors = plan.tensors;
  // An early return waits for the scan (the future's destructor).
  std::future<absl::Status> finite =
      std::async(std::launch::async, [&tensors, &cancel] { return CheckFinite(tensors, cancel); });
  const ExportOptions& o = plan.options;
  if (o.sanity_check) {
    plan.sanity = StartSanityPass(plan.config, plan.mapping.decoder_bias, plan.tensors,
                                  plan.mapping.dtype, o.device);
  }
  ASSIGN_OR_RETURN(std::optional<struct stat> dir,
                   o.input_root.StatIfExists(plan.layout.tokenizer_dir));
  if (!dir.has_value()) {
    return absl::NotFoundError(
        absl::StrCat(plan.layout.tokenizer_dir, ": the checkpoint has no tokenizer/ directory"));
  }
  ASSIGN_OR_RETURN(plan.tokenizer,
                   PlanTokenizerAssets(o.input_root, plan.layout.tokenizer_dir, plan.config));
  ExportResult& r = plan.result;
  r.notes.insert(r.notes.end(), plan.tokenizer.notes.begin(), plan.tokenizer.notes.end());
  for (const auto& w : r.warnings) progress.OnWarning(w);

  progress.OnStage("scan", "checking weights for NaN/Inf", 0);
  TestPausePoint("scan", cancel);
  RETURN_IF_ERROR(finite.get(), plan.layout.weights.path);
  if (o.sanity_check) {
    progress.OnStage("sanity",
                     absl::StrCat("forward pass on random ids (device ", o.device,
                                  "), beside the writes"),
                     0);
  }
  return cancel.Check();
}

// The steps that write the export, in order.
void PlanSteps(ExportPlan& plan) {
  const ExportOptions& o = plan.options;
  plan.weight_files =
      PlanWeightFiles(plan.tensors, {.max_shard_bytes = o.max_shard_bytes,
                                     .pytorch_bin_name = o.write_pytorch_bin ? "pytorch_model.bin"
                                                                             : ""});
  using Kind = ExportStep::Kind;
  auto add = [&plan](Kind kind, std::vector<std::string> files,
                     std::optional<StageStart> stage = std::nullopt, size_t tokenizer_file = 0) {
    plan.steps.push_back({kind, std::move(files), std::move(stage), tokenizer_file});
  };
  add(Kind::kConfigJson, {"config.json"}, StageStart{"write", "config.json"});
  const std::vector<std::string> weights = plan.weight_files.Files();
  add(Kind::kWeightFiles, weights,
      StageStart{"write", absl::StrJoin(weights, ", "),
                 plan.result.tensor_bytes * (o.write_pytorch_bin ? 2 : 1)});
  bool first = true;
  for (const std::string& name : RemoteCodeFileNames()) {
    std::optional<StageStart> stage;
    if (first) stage = StageStart{"write", "model.py, rotary.py, tokenizer, README.md"};
    add(Kind::kRemoteCode, {name}, std::move(stage));
    first = false;
  }
  for (size_t i = 0; i < plan.tokenizer.files.size(); ++i) {
    add(Kind::kTokenizerFile, {plan.tokenizer.files[i].name}, std::nullopt, i);
  }
  add(Kind::kModelCard, {"README.md"});
  add(Kind::kManifest, {kManifestName}, StageStart{"commit", "hashing files and publishing"});
}

absl::Status PlanInto(ExportPlan& plan, base::ProgressSink& progress, const base::CancelToken& cancel) {
  const ExportOptions& o = plan.options;
  plan.result.dry_run = o.dry_run;
  RETURN_IF_ERROR(CheckExportOptions(o));  // the one options check, before any file is read
  ASSIGN_OR_RETURN(const std::optional<DType> target, ExportDtype(o.dtype));
  progress.OnStage("inspect", o.checkpoint_dir, 0);
  TestPausePoint("inspect", cancel);
  RETURN_IF_ERROR(Locate(plan));
  if (plan.done) return absl::OkStatus();

  progress.OnStage("validate", "config.yaml, tokenizer_info.json, tensors, tokenizer", 0);
  RETURN_IF_ERROR(ReadConfig(plan));
  RETURN_IF_ERROR(MapWeights(plan, target));
  RETURN_IF_ERROR(CastTensors(plan));
  RETURN_IF_ERROR(ScanAndPlanTokenizer(plan, progress, cancel));
  PlanSteps(plan);
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> ExportPlan::Files() const {
  std::vector<std::string> names;
  for (const ExportStep& step : steps) {
    names.insert(names.end(), step.files.begin(), step.files.end());
  }
  return names;
}

absl::StatusOr<SourceAndDestination> LocateExport(const ExportOptions& o) {
  SourceAndDestination where;
  ASSIGN_OR_RETURN(where.layout, InspectCheckpointDir(o.input_root, o.checkpoint_dir,
                                                      {.prefer_newer = o.prefer_newest_file}));
  ASSIGN_OR_RETURN(where.output_dir, OutputDirFor(where.layout, o));
  ASSIGN_OR_RETURN(where.manifest, SourceManifest(where.layout, o));
  return where;
}

bool IdenticalExportExists(const base::FsRoot& root, const std::string& output_dir,
                           const Manifest& want) {
  auto have = ReadManifest(root, output_dir);
  if (!have.ok() || have->fingerprint != want.fingerprint || have->options != want.options ||
      have->checkpoint != want.checkpoint) {
    return false;
  }
  for (const auto& f : have->files) {
    auto st = root.StatIfExists((fs::path(output_dir) / f.name).string());
    if (!st.ok() || !st->has_value() || static_cast<uint64_t>((*st)->st_size) != f.size) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<bool> DestinationHoldsPlan(ExportPlan& plan) {
  const ExportOptions& o = plan.options;
  ASSIGN_OR_RETURN(std::optional<struct stat> there, o.output_root.StatIfExists(plan.output_dir));
  if (!there.has_value()) return false;
  if (IdenticalExportExists(o.output_root, plan.output_dir, plan.manifest)) {
    ExportResult& r = plan.result;
    plan.done = true;
    r.skipped = true;
    auto have = ReadManifest(o.output_root, plan.output_dir);
    if (have.ok()) r.files = have->files;
    r.notes.push_back("an identical export of this checkpoint is already at the destination");
    r.seconds = SecondsSince(plan.start);
    return true;
  }
  if (!o.overwrite && !o.dry_run) {
    return absl::AlreadyExistsError(absl::StrCat(
        "output directory ", plan.output_dir,
        " already exists and holds a different export (pass --overwrite to replace it)"));
  }
  return false;
}

absl::StatusOr<std::unique_ptr<ExportPlan>> PlanExport(const ExportOptions& options,
                                                       base::ProgressSink& progress,
                                                       const base::CancelToken& cancel,
                                                       ExportResult* partial) {
  auto plan = std::make_unique<ExportPlan>();
  plan->start = std::chrono::steady_clock::now();
  plan->options = options;
  if (absl::Status s = PlanInto(*plan, progress, cancel); !s.ok()) {
    if (partial != nullptr) *partial = plan->result;
    return s;
  }
  return plan;
}

absl::Status AwaitSanityPass(ExportPlan& plan, base::ProgressSink& progress) {
  if (!plan.sanity.valid()) return absl::OkStatus();
  if (plan.sanity.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    progress.OnStage("sanity", "waiting for the forward pass", 0);
  }
  ASSIGN_OR_RETURN(const SanityPassResult pass, plan.sanity.get());
  ExportResult& r = plan.result;
  r.sanity_device = pass.device;
  r.sanity_seconds = pass.seconds;
  r.notes.push_back(absl::StrFormat(
      "sanity forward pass passed on %s (%s) in %.2f s: engine load %.2f s, weights %.2f s, "
      "forward %.2f s (%.2f s of CPU)",
      pass.device, pass.compute_dtype, pass.seconds, pass.load_seconds, pass.weights_seconds,
      pass.forward_seconds, pass.cpu_seconds));
  return absl::OkStatus();
}

ExportResult DryRunResult(const ExportPlan& plan) {
  ExportResult r = plan.result;
  for (const std::string& name : plan.Files()) r.files.push_back({name, 0, ""});
  r.seconds = SecondsSince(plan.start);
  return r;
}

}  // namespace neobert::core
