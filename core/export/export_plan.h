// PlanExport: everything an export will do, decided before anything is
// written. The plan is the dry run: `--dry-run` prints it and stops.
//
// Planning reads and checks, in this order: inspect the checkpoint folder →
// the destination (an identical earlier export there: nothing to do; a
// different one without overwrite: ALREADY_EXISTS) → config.yaml →
// tokenizer_info.json → weight descriptors → key mapping (every rule of
// key_mapping.h) → casts → NaN/Inf and CRC scan of every weight byte (beside
// the tokenizer plan) → the list of steps WriteExport executes
// (export_writer.h). It writes nothing anywhere. With
// ExportOptions::sanity_check it also starts the sanity forward pass
// (sanity_pass.h) on its own thread as soon as the final tensors are known;
// the pass keeps running beside the writes, and AwaitSanityPass collects its
// verdict before anything is published.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/export/export_options.h"
#include "core/export/manifest.h"
#include "core/base/progress.h"
#include "core/export/sanity_pass.h"
#include "core/export/weight_files.h"
#include "core/format/tensor.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/key_mapping.h"
#include "core/neobert/output_location.h"
#include "core/neobert/tokenizer_assets.h"

namespace neobert::core {

// A progress stage a step begins (base::ProgressSink::OnStage's arguments).
struct StageStart {
  std::string stage;    // "write" | "commit"
  std::string message;  // what is being written
  uint64_t bytes = 0;   // 0 = unknown
};

// One step of writing an export. The steps of a plan run in order; their
// files, in order, are the export's files.
struct ExportStep {
  enum class Kind {
    kConfigJson,     // config.json
    kWeightFiles,    // the safetensors file(s), their index, pytorch_model.bin
    kRemoteCode,     // one embedded remote-code file (model.py, rotary.py)
    kTokenizerFile,  // one tokenizer file: new content, or the checkpoint's copied
    kModelCard,      // README.md
    kManifest,       // manifest.json: sizes and hashes of every file before it
  };
  Kind kind;
  std::vector<std::string> files;     // written, relative to the export folder
  std::optional<StageStart> stage;    // begins a progress stage when set
  size_t tokenizer_file = 0;          // kTokenizerFile: index into TokenizerPlan::files
};

// Everything WriteExport needs, and what the export found on the way.
// Neither copyable nor movable: the sanity pass reads `config` and `tensors`
// in place while it runs.
struct ExportPlan {
  ExportPlan() = default;
  ExportPlan(const ExportPlan&) = delete;
  ExportPlan& operator=(const ExportPlan&) = delete;

  ExportOptions options;
  std::chrono::steady_clock::time_point start;  // when planning began
  CheckpointLayout layout;
  std::string output_dir;  // the resolved destination
  Manifest manifest;       // the source half; WriteExport adds the files
  // An identical export is already at the destination: nothing to write
  // (result says so; the rest of the plan is empty).
  bool done = false;

  NeoBertConfig config;
  TensorMapping mapping;                     // key_mapping.h: names, dtype, decoder
  bool tie_word_embeddings = true;           // config.json's tie_word_embeddings
  std::vector<format::TensorEntry> tensors;  // what is written: mapped, then cast
  WeightFilesPlan weight_files;
  TokenizerPlan tokenizer;
  std::vector<ExportStep> steps;

  // What the export found so far: notes, warnings, the mapping lines, the
  // planned file names (sizes 0 until written).
  ExportResult result;

  // Declared last so that it is destroyed first: its destructor waits for a
  // pass still reading `config` and `tensors`.
  std::future<absl::StatusOr<SanityPassResult>> sanity;

  // Every file of the export, in the order the steps write them.
  std::vector<std::string> Files() const;
};

// Plans the export of `options` (see the header comment). On failure
// `partial` (when given) receives what planning had found by then (notes,
// warnings). Cancellation is checked between stages and during the scan.
absl::StatusOr<std::unique_ptr<ExportPlan>> PlanExport(const ExportOptions& options,
                                                       base::ProgressSink& progress,
                                                       const base::CancelToken& cancel,
                                                       ExportResult* partial = nullptr);

// Whether the destination of a plan now holds an identical export (true:
// `plan.result` then describes it and `plan.done` is set), is free, or (false
// with an error) holds a different one and overwrite is off. Read-only;
// asked by PlanExport and again once the destination lock is held.
absl::StatusOr<bool> DestinationHoldsPlan(ExportPlan& plan);

// Waits for the sanity pass started by PlanExport (no-op without one) and
// adds its timing note to plan.result. Its error when the pass failed.
absl::Status AwaitSanityPass(ExportPlan& plan, base::ProgressSink& progress);

// The dry run's answer: plan.result with every planned file (size 0).
ExportResult DryRunResult(const ExportPlan& plan);

// Where the source checkpoint is: its layout (InspectCheckpointDir), the
// resolved destination, and the source half of the manifest. Shared by
// PlanExport and ExportIsCurrent.
struct SourceAndDestination {
  CheckpointLayout layout;
  std::string output_dir;
  Manifest manifest;
};
absl::StatusOr<SourceAndDestination> LocateExport(const ExportOptions& options);

// An earlier export at `output_dir` (beneath `root`) of the same source with
// the same options (manifest `want`), whose files are all present with their
// recorded sizes.
bool IdenticalExportExists(const base::FsRoot& root, const std::string& output_dir,
                           const Manifest& want);

}  // namespace neobert::core
