#include "core/export/exporter.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/export/destination_lock.h"
#include "core/export/finite_scan.h"
#include "core/export/sanity_pass.h"
#include "core/export/staging_dir.h"
#include "core/export/test_hooks.h"
#include "core/export/weight_files.h"
#include "core/format/cast.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/hf_config.h"
#include "core/neobert/key_mapping.h"
#include "core/neobert/model_card.h"
#include "core/neobert/output_location.h"
#include "core/neobert/remote_code.h"
#include "core/neobert/tokenizer_assets.h"
#include "core/neobert/tokenizer_info.h"
#include "core/status/error_reason.h"

namespace neobert::core {
namespace fs = std::filesystem;
using format::DType;
using format::TensorEntry;

namespace {

constexpr char kToolName[] = "neobert-export " NEOBERT_VERSION;

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

std::string ShapeText(const TensorEntry& t) {
  return absl::StrCat(format::TorchName(t.dtype), " [", absl::StrJoin(t.shape, ", "), "]");
}

absl::Status Annotate(const absl::Status& s, absl::string_view where) {
  return WithContext(s, where);
}

// An earlier export at `out` of the same source with the same options whose
// files are all present with their recorded sizes.
bool IdenticalExportExists(const base::FsRoot& root, const std::string& out,
                           const Manifest& want) {
  auto have = ReadManifest(root, out);
  if (!have.ok() || have->fingerprint != want.fingerprint || have->options != want.options ||
      have->checkpoint != want.checkpoint) {
    return false;
  }
  for (const auto& f : have->files) {
    auto st = root.StatIfExists((fs::path(out) / f.name).string());
    if (!st.ok() || !st->has_value() || static_cast<uint64_t>((*st)->st_size) != f.size) {
      return false;
    }
  }
  return true;
}

// Copies a checkpoint file into the staging folder, each side through its
// own door.
absl::Status CopyFile(const base::FsRoot& from_root, const std::string& from,
                      const base::FsRoot& to_root, const std::string& to) {
  auto src = format::FileSource::Open(from_root, from);
  if (!src.ok()) return src.status();
  auto out = format::OutputFile::Create(to_root, to);
  if (!out.ok()) return out.status();
  if (auto s = (*out)->CopyFrom(**src, 0, (*src)->size()); !s.ok()) return s;
  return (*out)->Close(/*sync=*/false);  // StagingDir::Commit fsyncs everything
}

// The source half of the manifest (tool, checkpoint, weights, options,
// fingerprint): what an earlier export must match to be reused.
absl::StatusOr<Manifest> SourceManifest(const CheckpointLayout& layout, const ExportOptions& o) {
  Manifest m;
  m.tool = kToolName;
  m.checkpoint = layout.dir;
  m.weights = fs::path(layout.weights.path).filename().string();
  m.options = OutputAffectingOptions(o);
  auto fingerprint =
      SourceFingerprint(o.input_root, layout.dir, SourceFiles(o.input_root, layout));
  if (!fingerprint.ok()) return fingerprint.status();
  m.fingerprint = *fingerprint;
  return m;
}

// Compares the values of decoder.weight and model.encoder.weight (both are
// in every plan; same shape and dtype after the table check unless mixed).
absl::StatusOr<bool> DecoderDiffersFromEmbedding(const std::vector<TensorEntry>& tensors) {
  const TensorEntry* embed = nullptr;
  const TensorEntry* decoder = nullptr;
  for (const TensorEntry& t : tensors) {
    if (t.name == "model.encoder.weight") embed = &t;
    if (t.name == "decoder.weight") decoder = &t;
  }
  if (embed == nullptr || decoder == nullptr) return false;
  if (embed->dtype != decoder->dtype || embed->shape != decoder->shape) return true;
  auto a = format::TensorSha256(*embed);
  if (!a.ok()) return a.status();
  auto b = format::TensorSha256(*decoder);
  if (!b.ok()) return b.status();
  return *a != *b;
}

// The destination: -o made absolute and canonical, or the trainer-relative
// default (reference §1.7).
absl::StatusOr<std::string> OutputDirFor(const CheckpointLayout& layout, const ExportOptions& o) {
  if (o.output_dir.empty()) return DefaultOutputDir(o.input_root, layout.dir);
  return o.output_root.RealPathAllowMissing(o.output_dir);
}

}  // namespace

std::map<std::string, std::string> OutputAffectingOptions(const ExportOptions& o) {
  return {{"dtype", o.dtype},
          {"pytorch_model_bin", o.write_pytorch_bin ? "true" : "false"},
          {"max_shard_bytes", absl::StrCat(o.max_shard_bytes)},
          {"drop_decoder_bias", o.drop_decoder_bias ? "true" : "false"},
          {"tool", kToolName}};
}

absl::StatusOr<bool> ExportIsCurrent(const ExportOptions& o) {
  auto layout = InspectCheckpointDir(o.input_root, o.checkpoint_dir,
                                     {.prefer_newer = o.prefer_newest_file});
  if (!layout.ok()) return layout.status();
  auto out = OutputDirFor(*layout, o);
  if (!out.ok()) return out.status();
  auto want = SourceManifest(*layout, o);
  if (!want.ok()) return want.status();
  auto there = o.output_root.StatIfExists(*out);
  if (!there.ok()) return there.status();
  return there->has_value() && IdenticalExportExists(o.output_root, *out, *want);
}

namespace {

// A failure whose checkpoint folder is gone by now was caused by its removal
// (a trainer pruning old steps while the export was queued or running),
// whatever the read that noticed it: said so once, in one way.
absl::Status ExplainVanishedCheckpoint(const ExportOptions& o, absl::Status s) {
  if (s.ok() || s.code() == absl::StatusCode::kCancelled) return s;
  // Looked at through the door too: a checkpoint swapped for a link leading
  // out of the root is not "removed" (the error names the link already).
  auto there = o.input_root.StatIfExists(o.checkpoint_dir);
  if (!there.ok() || there->has_value()) return s;
  return MakeError(ErrorReason::kCheckpointNotFound,
                   absl::StrCat(o.checkpoint_dir,
                                ": checkpoint folder not found (removed before or during the "
                                "export, e.g. pruned by the trainer); nothing was published"),
                   {{"checkpoint_dir", o.checkpoint_dir}});
}

absl::StatusOr<ExportResult> Export(const ExportOptions& o, ProgressSink& progress,
                                    const CancelToken& cancel, ExportResult& r) {
  const auto start = std::chrono::steady_clock::now();
  r.dry_run = o.dry_run;

  std::optional<DType> target;
  if (o.dtype != "keep") {
    target = format::FromTorchName(o.dtype);
    if (!target || !(*target == DType::kFloat32 || *target == DType::kBFloat16 ||
                     *target == DType::kFloat16)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown dtype '", o.dtype, "' (expected keep, float32, bfloat16 or float16)"));
    }
  }

  // 1. Where things are.
  progress.OnStage("inspect", o.checkpoint_dir, 0);
  TestPausePoint("inspect", cancel);
  auto layout = InspectCheckpointDir(o.input_root, o.checkpoint_dir,
                                     {.prefer_newer = o.prefer_newest_file});
  if (!layout.ok()) return layout.status();
  r.notes = layout->notes;
  r.notes.insert(r.notes.end(), layout->weights.notes.begin(), layout->weights.notes.end());
  r.weights_file = layout->weights.path;
  r.weights_format = layout->weights.format;
  auto resolved_out = OutputDirFor(*layout, o);
  if (!resolved_out.ok()) return resolved_out.status();
  const std::string out = *resolved_out;
  r.output_dir = out;

  auto source = SourceManifest(*layout, o);
  if (!source.ok()) return source.status();
  Manifest manifest = std::move(*source);

  // An existing destination: done already (identical manifest → skipped
  // result), or refused without --overwrite. Asked again under the lock.
  auto check_destination = [&]() -> absl::StatusOr<bool> {
    auto there = o.output_root.StatIfExists(out);
    if (!there.ok()) return there.status();
    if (!there->has_value()) return false;
    if (IdenticalExportExists(o.output_root, out, manifest)) {
      r.skipped = true;
      auto have = ReadManifest(o.output_root, out);
      if (have.ok()) r.files = have->files;
      r.notes.push_back("an identical export of this checkpoint is already at the destination");
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return true;
    }
    if (!o.overwrite && !o.dry_run) {
      return absl::AlreadyExistsError(absl::StrCat(
          "output directory ", out,
          " already exists and holds a different export (pass --overwrite to replace it)"));
    }
    return false;
  };
  if (auto done = check_destination(); !done.ok() || *done) {
    if (!done.ok()) return done.status();
    return r;
  }

  // 2. Every check, before anything is written.
  progress.OnStage("validate", "config.yaml, tokenizer_info.json, tensors, tokenizer", 0);
  auto config = LoadCheckpointConfig(o.input_root, layout->config_yaml);
  if (!config.ok()) return config.status();
  auto info = o.input_root.StatIfExists(layout->tokenizer_info_json);
  if (!info.ok()) return info.status();
  if (info->has_value()) {
    auto warnings = CheckTokenizerInfoFile(o.input_root, layout->tokenizer_info_json, *config);
    if (!warnings.ok()) return warnings.status();
    r.warnings.insert(r.warnings.end(), warnings->begin(), warnings->end());
  } else {
    r.warnings.push_back(absl::StrCat(layout->dir,
                                      ": no tokenizer_info.json; pad id and vocab size not "
                                      "cross-checked"));
  }
  auto weights = format::ReadWeights(o.input_root, layout->weights.path);
  if (!weights.ok()) return weights.status();
  MappingOptions mapping{.allow_prefix_strip = true,
                         .keep_decoder_bias = !o.drop_decoder_bias,
                         .target_dtype = target};
  auto plan = BuildExportPlan(weights->tensors, *config, mapping, layout->weights.path);
  if (!plan.ok()) return plan.status();
  r.notes.insert(r.notes.end(), plan->notes.begin(), plan->notes.end());
  r.warnings.insert(r.warnings.end(), plan->warnings.begin(), plan->warnings.end());
  r.dtype = std::string(format::TorchName(plan->dtype));
  r.decoder_bias = plan->decoder_bias;
  r.tied_decoder = plan->tied_decoder;
  // P7: HF ties decoder.weight to the embedding unless config.json says
  // otherwise, so a decoder with its own values must be declared untied or
  // it is silently replaced on load (pre-a5f0198 checkpoints).
  bool decoder_values_tied = plan->tied_decoder;
  if (!decoder_values_tied) {
    auto untied = DecoderDiffersFromEmbedding(plan->tensors);
    if (!untied.ok()) return Annotate(untied.status(), layout->weights.path);
    decoder_values_tied = !*untied;
    if (*untied) {
      r.notes.push_back(
          "decoder.weight differs from model.encoder.weight (untied); config.json sets "
          "tie_word_embeddings false");
    }
  }

  std::vector<TensorEntry> tensors;
  tensors.reserve(plan->tensors.size());
  for (size_t i = 0; i < plan->tensors.size(); ++i) {
    const TensorEntry& t = plan->tensors[i];
    TensorEntry final_t = t;
    if (format::IsFloatingPoint(t.dtype) && t.dtype != plan->dtype) {
      auto c = format::CastTensor(t, plan->dtype);
      if (!c.ok()) return c.status();
      final_t = std::move(*c);
    }
    r.mapping.push_back(absl::StrCat(final_t.name, " <- ", plan->source_keys[i], " (",
                                     ShapeText(t), final_t.dtype != t.dtype
                                                       ? absl::StrCat(" -> ", r.dtype)
                                                       : std::string(),
                                     ")"));
    r.tensor_bytes += final_t.nbytes();
    tensors.push_back(std::move(final_t));
  }
  r.tensor_count = tensors.size();
  // The NaN/Inf (and CRC) scan reads every weight byte; it runs while the
  // tokenizer is planned (CPU work on the other core), and is waited for
  // below, still before anything is written. An early return waits for it
  // too (the future's destructor).
  std::future<absl::Status> finite =
      std::async(std::launch::async, [&tensors, &cancel] { return CheckFinite(tensors, cancel); });

  // The sanity forward pass runs on its own thread from here on, beside the
  // scan, the tokenizer plan and the writes below: those are disk-bound (and
  // the scan short), the pass is CPU/GPU-bound (most of it opening LibTorch),
  // so the export takes about the longer of the two rather than their sum.
  // Its verdict is awaited before anything is published (finish_sanity, at
  // "commit"), and a scan error is reported first; a failed pass then
  // removes the staged files (the StagingDir's destructor). An early return
  // (error, cancellation) waits for the pass in the future's destructor: the
  // pass cannot be interrupted and takes seconds.
  // Issue 15 (PlanExport + WriteExport): the pass is started with the plan's
  // tensors and awaited by the writer before Commit.
  std::future<absl::StatusOr<SanityPassResult>> sanity;
  if (o.sanity_check) {
    sanity = StartSanityPass(*config, plan->decoder_bias, tensors, plan->dtype, o.device);
  }

  auto tokenizer_dir = o.input_root.StatIfExists(layout->tokenizer_dir);
  if (!tokenizer_dir.ok()) return tokenizer_dir.status();
  if (!tokenizer_dir->has_value()) {
    return absl::NotFoundError(
        absl::StrCat(layout->tokenizer_dir, ": the checkpoint has no tokenizer/ directory"));
  }
  auto tokenizer = PlanTokenizerAssets(o.input_root, layout->tokenizer_dir, *config);
  if (!tokenizer.ok()) return tokenizer.status();
  r.notes.insert(r.notes.end(), tokenizer->notes.begin(), tokenizer->notes.end());

  for (const auto& w : r.warnings) progress.OnWarning(w);

  progress.OnStage("scan", "checking weights for NaN/Inf", 0);
  TestPausePoint("scan", cancel);
  if (auto s = finite.get(); !s.ok()) return Annotate(s, layout->weights.path);

  if (o.sanity_check) {
    progress.OnStage("sanity",
                     absl::StrCat("forward pass on random ids (device ", o.device,
                                  "), beside the writes"),
                     0);
  }
  auto finish_sanity = [&]() -> absl::Status {
    if (!sanity.valid()) return absl::OkStatus();
    if (sanity.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      progress.OnStage("sanity", "waiting for the forward pass", 0);
    }
    absl::StatusOr<SanityPassResult> pass = sanity.get();
    if (!pass.ok()) return pass.status();
    r.sanity_device = pass->device;
    r.sanity_seconds = pass->seconds;
    r.notes.push_back(absl::StrFormat(
        "sanity forward pass passed on %s (%s) in %.2f s: engine load %.2f s, weights %.2f s, "
        "forward %.2f s (%.2f s of CPU)",
        pass->device, pass->compute_dtype, pass->seconds, pass->load_seconds,
        pass->weights_seconds, pass->forward_seconds, pass->cpu_seconds));
    return absl::OkStatus();
  };
  if (auto c = cancel.Check(); !c.ok()) return c;

  // Everything that will be written, in order.
  const WeightFilesPlan weight_plan = PlanWeightFiles(
      tensors, {.max_shard_bytes = o.max_shard_bytes,
                .pytorch_bin_name = o.write_pytorch_bin ? "pytorch_model.bin" : ""});
  const std::vector<std::string> weight_names = weight_plan.Files();
  std::vector<std::string> tokenizer_names;
  for (const auto& f : tokenizer->files) tokenizer_names.push_back(f.name);

  if (o.dry_run) {
    std::vector<std::string> all = {"config.json"};
    all.insert(all.end(), weight_names.begin(), weight_names.end());
    for (const auto& n : RemoteCodeFileNames()) all.push_back(n);
    all.insert(all.end(), tokenizer_names.begin(), tokenizer_names.end());
    all.push_back("README.md");
    all.push_back(kManifestName);
    for (const auto& n : all) r.files.push_back({n, 0, ""});
    if (auto st = finish_sanity(); !st.ok()) return st;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }

  // 3. One writer per destination, across processes and replicas; whoever
  // waited looks at the destination again (the other may have published it).
  auto lock = DestinationLock::Acquire(o.output_root, out, cancel, absl::InfiniteDuration(),
                                       [&](const std::string& lock_path) {
                                         progress.OnStage("wait",
                                                          absl::StrCat("another exporter holds ",
                                                                       lock_path),
                                                          0);
                                       });
  if (!lock.ok()) return lock.status();
  if (auto done = check_destination(); !done.ok() || *done) {
    if (!done.ok()) return done.status();
    r.notes.push_back("another exporter published it while this one waited for the lock");
    return r;
  }

  // 4. Write into a staging directory.
  auto staging = StagingDir::Create(
      {.destination = out, .root = o.output_root, .overwrite = o.overwrite, .sync = o.sync});
  if (!staging.ok()) return staging.status();
  std::vector<std::string> written;
  auto write_text = [&](const std::string& name, const std::string& text) -> absl::Status {
    if (auto c = cancel.Check(); !c.ok()) return c;
    if (auto s = WriteTextFile(o.output_root, (*staging)->File(name), text); !s.ok()) return s;
    written.push_back(name);
    return absl::OkStatus();
  };

  progress.OnStage("write", "config.json", 0);
  HfConfigFields fields;
  fields.dtype = plan->dtype;
  fields.decoder_bias = plan->decoder_bias;
  fields.tie_word_embeddings = decoder_values_tied;
  if (auto s = write_text("config.json", RenderHfConfigJson(*config, fields)); !s.ok()) return s;

  progress.OnStage("write", absl::StrJoin(weight_names, ", "),
                   r.tensor_bytes * (o.write_pytorch_bin ? 2 : 1));
  std::map<std::string, std::string> weight_sha256;  // hashed while written
  auto files = WriteWeightFiles(tensors, weight_plan,
                                {.dir = (*staging)->path(),
                                 .root = o.output_root,
                                 // fsynced once, in Commit, after hashing
                                 // overlapped with writeback (StartWriteback).
                                 .sync = false,
                                 // ... and submitted to the disk while being
                                 // written, when Commit will fsync them.
                                 .writeback = o.sync,
                                 .sha256 = &weight_sha256},
                                progress, cancel);
  if (!files.ok()) return files.status();
  written.insert(written.end(), files->begin(), files->end());
  TestPausePoint("write", cancel);

  progress.OnStage("write", "model.py, rotary.py, tokenizer, README.md", 0);
  for (const auto& name : RemoteCodeFileNames()) {
    auto code = RemoteCodeFile(name);
    if (!code.ok()) return code.status();
    if (auto s = write_text(name, *code); !s.ok()) return s;
  }
  for (const auto& f : tokenizer->files) {
    if (f.content) {
      if (auto s = write_text(f.name, *f.content); !s.ok()) return s;
    } else {
      if (auto c = cancel.Check(); !c.ok()) return c;
      if (auto s = CopyFile(o.input_root, f.source_path, o.output_root, (*staging)->File(f.name));
          !s.ok()) {
        return Annotate(s, absl::StrCat("copying ", f.source_path));
      }
      written.push_back(f.name);
    }
  }
  ModelCardInputs card;
  card.repo_id = fs::path(out).filename().string();
  card.source_checkpoint = layout->dir;
  card.weights_format = layout->weights.format;
  card.dtype = plan->dtype;
  card.decoder_bias = plan->decoder_bias;
  card.tied_decoder = plan->tied_decoder;
  card.weight_files = weight_names;
  card.tokenizer_files = tokenizer_names;
  card.mask_token = tokenizer->special.mask;
  card.metaspace = tokenizer->metaspace;
  card.notes = r.notes;
  auto readme = RenderModelCard(*config, card);
  if (!readme.ok()) return readme.status();
  if (auto s = write_text("README.md", *readme); !s.ok()) return s;

  // 5. Manifest, then publish.
  progress.OnStage("commit", "hashing files and publishing", 0);
  (*staging)->StartWriteback();
  auto records = HashFiles(o.output_root, (*staging)->path(), written, weight_sha256);
  if (!records.ok()) return records.status();
  manifest.files = *records;
  if (auto s = write_text(kManifestName, ManifestToJson(manifest)); !s.ok()) return s;
  if (auto s = finish_sanity(); !s.ok()) return s;
  if (auto c = cancel.Check(); !c.ok()) return c;
  if (o.validate) {
    progress.OnStage("validate", "checking the staged export against the checkpoint", 0);
    TestPausePoint("validate", cancel);
    NullProgress quiet;  // the validator's own stages would reset the bar
    auto report = ValidateExportDir(
        {.export_dir = (*staging)->path(),
         .source_dir = layout->dir,
         .root = o.output_root,
         .source_root = o.input_root,
         .device = o.device},
        quiet,
        cancel);
    if (!report.ok()) return Annotate(report.status(), "validation of the staged export");
    report->export_dir = out;
    r.validation = std::move(*report);  // kept on failure: the failing checks are the answer
    if (!r.validation->ok()) {
      std::vector<std::string> failed;
      for (const auto& c : r.validation->checks) {
        if (!c.passed && !c.advisory) failed.push_back(absl::StrCat(c.name, " (", c.detail, ")"));
      }
      return MakeError(ErrorReason::kValidationFailed,
                       absl::StrCat("the staged export failed validation, nothing was published: ",
                                    absl::StrJoin(failed, "; ")));
    }
  }
  TestPausePoint("commit", cancel);
  // Reads are done from open files, which outlive a deleted folder: without
  // this look, a step pruned mid-export would still be published.
  auto dir_there = o.input_root.StatIfExists(layout->dir);
  if (!dir_there.ok() || !dir_there->has_value() || !S_ISDIR((*dir_there)->st_mode) ||
      !IsRegular(o.input_root, layout->weights.path)) {
    return absl::NotFoundError(absl::StrCat(layout->dir, ": the checkpoint vanished during the export"));
  }
  if (auto s = (*staging)->Commit(); !s.ok()) return s;
  r.files = manifest.files;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

absl::StatusOr<ExportResult> ExportCheckpoint(const ExportOptions& o, ProgressSink& progress,
                                              const CancelToken& cancel, ExportResult* partial) {
  ExportResult r;
  auto result = Export(o, progress, cancel, r);
  if (result.ok()) return result;
  if (partial != nullptr) *partial = std::move(r);
  return ExplainVanishedCheckpoint(o, result.status());
}

}  // namespace neobert::core
