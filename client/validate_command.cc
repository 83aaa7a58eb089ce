#include "client/validate_command.h"

#include <iostream>

#include "client/cli_args.h"
#include "client/job_flags.h"
#include "client/outcome.h"
#include "client/progress_printer.h"
#include "core/export/validator.h"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export validate EXPORT_DIR [--source CKPT_DIR] [--json] [--device D]\n"
    "                                [--strict] [--confine DIR]\n"
    "  Checks an export folder in-process: files, config, manifest, tokenizer, strict\n"
    "  weight load, MLM forward, attention-mask parity, end-to-end sample texts, cosine\n"
    "  sanity; with --source, the export against the training checkpoint on one padded\n"
    "  batch (max-abs, cosine, NMSE of logits and hidden states).\n"
    "  cosine_sanity (the original validator's sentence-similarity thresholds) measures\n"
    "  training, not the export: a miss is a WARN unless --strict makes it a failure.\n"
    "  With --server (or $NEOBERT_EXPORT_SERVER) the server runs its validation instead.\n"
    "  --confine DIR   read only beneath DIR; symlinks may not lead out\n"
    "  Exit 0: valid; 4: a check failed; 1: the folder cannot be examined.\n";

}  // namespace

int RunValidate(const std::vector<std::string>& args) {
  auto parsed = ParseArgs(args, ValidateFlags(JobMode::kLocal));
  if (!parsed.ok() || parsed->Has("help") || parsed->positional.size() != 1) {
    if (!parsed.ok()) std::cerr << "neobert-export validate: " << parsed.status().message() << "\n";
    std::cerr << kUsage;
    return parsed.ok() && parsed->Has("help") ? kExitOk : kExitUsage;
  }
  core::ValidateOptions o = ValidateOptionsFromFlags(*parsed, JobMode::kLocal);
  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export validate: " << root.status().message() << "\n";
    return kExitUsage;
  }
  o.root = *root;
  o.source_root = *root;
  const bool json = parsed->Has("json");
  base::CancelToken cancel;
  base::NullProgress quiet;
  auto report = core::ValidateExportDir(o, quiet, cancel);
  Outcome outcome;
  outcome.kind = "validate";
  if (report.ok()) {
    outcome.state = "SUCCEEDED";
    outcome.result.emplace();
    outcome.result->output_dir = report->export_dir;
    outcome.result->sanity_device = o.device;
    outcome.result->validation = *report;
  } else {
    outcome.state = "FAILED";
    outcome.error = report.status();
  }
  if (json) {
    std::cout << OutcomeJson(outcome).dump() << std::endl;
  } else if (report.ok()) {
    PrintChecks(*report, std::cout);
    std::cout << (report->ok() ? "export is valid: " : "export is NOT valid: ")
              << report->export_dir << "\n";
  }
  if (!report.ok()) std::cerr << "error: " << report.status().message() << "\n";
  return ExitCodeFor(outcome);
}

}  // namespace neobert::cli
