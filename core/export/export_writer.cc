#include "core/export/export_writer.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/export/manifest.h"
#include "core/export/test_hooks.h"
#include "core/export/validator.h"
#include "core/export/weight_files.h"
#include "core/format/byte_source.h"
#include "core/neobert/hf_config.h"
#include "core/neobert/model_card.h"
#include "core/neobert/remote_code.h"
#include "core/status/error_reason.h"

namespace neobert::core {
namespace fs = std::filesystem;

namespace {

// What the steps share while they run.
struct Writing {
  Writing(ExportPlan& p, StagingDir& s, base::ProgressSink& pr, const base::CancelToken& c)
      : plan(p), staging(s), progress(pr), cancel(c) {}
  ExportPlan& plan;
  StagingDir& staging;
  base::ProgressSink& progress;
  const base::CancelToken& cancel;
  std::vector<std::string> written;                  // file names, in order
  std::map<std::string, std::string> weight_sha256;  // hashed while written
};

absl::Status WriteText(Writing& w, const std::string& name, const std::string& text) {
  RETURN_IF_ERROR(w.cancel.Check());
  RETURN_IF_ERROR(WriteTextFile(w.staging.root(), w.staging.File(name), text));
  w.written.push_back(name);
  return absl::OkStatus();
}

// Copies a checkpoint file into the staging folder, each side through its
// own door.
absl::Status CopyFile(const base::FsRoot& from_root, const std::string& from,
                      const base::FsRoot& to_root, const std::string& to) {
  ASSIGN_OR_RETURN(auto src, format::FileSource::Open(from_root, from));
  ASSIGN_OR_RETURN(auto out, format::OutputFile::Create(to_root, to));
  RETURN_IF_ERROR(out->CopyFrom(*src, 0, src->size()));
  return out->Close(/*sync=*/false);  // StagingDir::Commit fsyncs everything
}

absl::Status WriteConfigJson(Writing& w) {
  const ExportPlan& plan = w.plan;
  HfConfigFields fields;
  fields.dtype = plan.mapping.dtype;
  fields.decoder_bias = plan.mapping.decoder_bias;
  fields.tie_word_embeddings = plan.tie_word_embeddings;
  return WriteText(w, "config.json", RenderHfConfigJson(plan.config, fields));
}

absl::Status WriteWeights(Writing& w) {
  const ExportPlan& plan = w.plan;
  ASSIGN_OR_RETURN(std::vector<std::string> files,
                   WriteWeightFiles(plan.tensors, plan.weight_files,
                                    {.dir = w.staging.path(),
                                     .root = w.staging.root(),
                                     // fsynced once, in Commit, after hashing
                                     // overlapped with writeback (StartWriteback).
                                     .sync = false,
                                     // ... and submitted to the disk while being
                                     // written, when Commit will fsync them.
                                     .writeback = plan.options.sync,
                                     .sha256 = &w.weight_sha256},
                                    w.progress, w.cancel));
  w.written.insert(w.written.end(), files.begin(), files.end());
  TestPausePoint("write", w.cancel);
  return absl::OkStatus();
}

absl::Status WriteTokenizerFile(Writing& w, const TokenizerFile& f) {
  if (f.content) return WriteText(w, f.name, *f.content);
  RETURN_IF_ERROR(w.cancel.Check());
  RETURN_IF_ERROR(CopyFile(w.plan.options.input_root, f.source_path, w.staging.root(),
                           w.staging.File(f.name)),
                  "copying ", f.source_path);
  w.written.push_back(f.name);
  return absl::OkStatus();
}

absl::Status WriteModelCard(Writing& w) {
  const ExportPlan& plan = w.plan;
  ModelCardInputs card;
  card.repo_id = fs::path(plan.output_dir).filename().string();
  card.source_checkpoint = plan.layout.dir;
  card.weights_format = plan.layout.weights.format;
  card.dtype = plan.mapping.dtype;
  card.decoder_bias = plan.mapping.decoder_bias;
  card.tied_decoder = plan.mapping.tied_decoder;
  card.weight_files = plan.weight_files.Files();
  for (const auto& f : plan.tokenizer.files) card.tokenizer_files.push_back(f.name);
  card.mask_token = plan.tokenizer.special.mask;
  card.metaspace = plan.tokenizer.metaspace;
  card.notes = plan.result.notes;
  ASSIGN_OR_RETURN(const std::string readme, RenderModelCard(plan.config, card));
  return WriteText(w, "README.md", readme);
}

// Hashes every file written so far (weight files were hashed while written)
// and writes manifest.json.
absl::Status WriteManifest(Writing& w) {
  w.staging.StartWriteback();
  ASSIGN_OR_RETURN(w.plan.manifest.files,
                   HashFiles(w.staging.root(), w.staging.path(), w.written, w.weight_sha256));
  return WriteText(w, kManifestName, ManifestToJson(w.plan.manifest));
}

absl::Status WriteStep(Writing& w, const ExportStep& step) {
  if (step.stage) w.progress.OnStage(step.stage->stage, step.stage->message, step.stage->bytes);
  using Kind = ExportStep::Kind;
  switch (step.kind) {
    case Kind::kConfigJson:
      return WriteConfigJson(w);
    case Kind::kWeightFiles:
      return WriteWeights(w);
    case Kind::kRemoteCode: {
      ASSIGN_OR_RETURN(const std::string code, RemoteCodeFile(step.files.front()));
      return WriteText(w, step.files.front(), code);
    }
    case Kind::kTokenizerFile:
      return WriteTokenizerFile(w, w.plan.tokenizer.files[step.tokenizer_file]);
    case Kind::kModelCard:
      return WriteModelCard(w);
    case Kind::kManifest:
      return WriteManifest(w);
  }
  return absl::InternalError("unknown export step");
}

// The validator on the staged folder, with the checkpoint as parity source.
absl::Status ValidateStaged(ExportPlan& plan, StagingDir& staging, base::ProgressSink& progress,
                            const base::CancelToken& cancel) {
  progress.OnStage("validate", "checking the staged export against the checkpoint", 0);
  TestPausePoint("validate", cancel);
  base::NullProgress quiet;  // the validator's own stages would reset the bar
  ASSIGN_OR_RETURN(ValidationReport report,
                   ValidateExportDir({.export_dir = staging.path(),
                                      .source_dir = plan.layout.dir,
                                      .root = staging.root(),
                                      .source_root = plan.options.input_root,
                                      .device = plan.options.device},
                                     quiet, cancel),
                   "validation of the staged export");
  report.export_dir = plan.output_dir;
  plan.result.validation = std::move(report);  // kept on failure: the failing checks are the answer
  if (plan.result.validation->ok()) return absl::OkStatus();
  return MakeError(ErrorReason::kValidationFailed,
                   absl::StrCat("the staged export failed validation, nothing was published: ",
                                FailedChecksSummary(*plan.result.validation)));
}

}  // namespace

absl::Status WriteExport(ExportPlan& plan, StagingDir& staging, base::ProgressSink& progress,
                         const base::CancelToken& cancel) {
  Writing w(plan, staging, progress, cancel);
  for (const ExportStep& step : plan.steps) RETURN_IF_ERROR(WriteStep(w, step));
  RETURN_IF_ERROR(AwaitSanityPass(plan, progress));
  RETURN_IF_ERROR(cancel.Check());
  if (plan.options.validate) RETURN_IF_ERROR(ValidateStaged(plan, staging, progress, cancel));
  return absl::OkStatus();
}

}  // namespace neobert::core
