#include "client/export_command.h"

#include <csignal>
#include <iostream>

#include "absl/strings/str_format.h"
#include "client/cli_args.h"
#include "client/job_flags.h"
#include "client/outcome.h"
#include "client/progress_printer.h"
#include "core/engine/engine.h"
#include "core/export/exporter.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export export CKPT_DIR [-o DIR] [options]\n"
    "  Converts a NeoBERT training checkpoint directory into a Hugging Face folder.\n"
    "  -o, --output DIR        destination (default: CKPT/../../hf/<run>_<step>)\n"
    "  --dtype D               keep (default) | float32 | bfloat16 | float16\n"
    "  --max-shard-size SIZE   shard model.safetensors (e.g. 2GB, 500MiB); default one file\n"
    "  --no-pytorch-bin        do not write pytorch_model.bin\n"
    "  --drop-decoder-bias     drop decoder.bias instead of exporting a biased decoder\n"
    "  --prefer-newest-file    with both state_dict.pt and model.safetensors, use the newer\n"
    "                          file (default: model.safetensors)\n"
    "  --overwrite             replace an existing destination (atomically)\n"
    "  --dry-run               validate and print the plan; write nothing\n"
    "  --json                  JSON lines on stdout (progress events, then the result)\n"
    "  --no-sanity             skip the forward-pass sanity check before publishing\n"
    "  --device D              sanity-pass device: auto (CUDA if available) | cpu | cuda[:N]\n"
    "  --validate              run `validate --source CKPT_DIR` on the staged folder before\n"
    "                          publishing it; any failed check aborts the export\n"
    "  --no-fsync              skip fsync (benchmarks only: not crash-safe)\n"
    "  --confine DIR           read the checkpoint and write the export only beneath DIR;\n"
    "                          symlinks may not lead out (default: links are followed)\n";

base::CancelToken* g_cancel = nullptr;
void OnSignal(int) {
  if (g_cancel) g_cancel->Cancel();
}

}  // namespace

int RunExport(const std::vector<std::string>& args) {
  auto parsed = ParseArgs(args, ExportFlags(JobMode::kLocal));
  if (!parsed.ok() || parsed->Has("help") || parsed->positional.size() != 1) {
    if (!parsed.ok()) std::cerr << "neobert-export export: " << parsed.status().message() << "\n";
    std::cerr << kUsage;
    return parsed.ok() && parsed->Has("help") ? kExitOk : kExitUsage;
  }
  auto options = ExportOptionsFromFlags(*parsed, JobMode::kLocal);
  if (!options.ok()) {
    std::cerr << "neobert-export export: " << options.status().message() << "\n";
    return kExitUsage;
  }
  core::ExportOptions& o = *options;
  const bool json = parsed->Has("json");
  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export export: " << root.status().message() << "\n";
    return kExitUsage;
  }
  o.input_root = *root;
  o.output_root = *root;
  // The sanity pass runs beside the writer threads: one CPU thread for it
  // (engine.h says why); --validate's passes then run on one thread too.
  if (o.sanity_check) engine::SetCpuThreads(1);

  base::CancelToken cancel;
  g_cancel = &cancel;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ProgressPrinter printer(ProgressPrinter::ChooseMode(json));
  core::ExportResult partial;
  auto result = core::ExportCheckpoint(o, printer, cancel, &partial);
  printer.Finish();
  g_cancel = nullptr;
  Outcome outcome;
  if (result.ok()) {
    outcome.state = "SUCCEEDED";
    outcome.result = *result;
  } else {
    outcome.state = result.status().code() == absl::StatusCode::kCancelled ? "CANCELLED" : "FAILED";
    outcome.error = result.status();
    outcome.result = std::move(partial);
  }
  if (json) std::cout << OutcomeJson(outcome).dump() << std::endl;
  if (!result.ok()) {
    if (!json && outcome.result->validation) PrintChecks(*outcome.result->validation, std::cout);
    std::cerr << "error: " << result.status().message() << "\n";
    return ExitCodeFor(outcome);
  }
  if (json) return kExitOk;
  const auto& r = *result;
  for (const auto& n : r.notes) std::cout << "note: " << n << "\n";
  if (r.dry_run) {
    std::cout << "dry run: would write " << r.output_dir << "\n";
    std::cout << absl::StrFormat("  %d tensors, %.1f MiB per weight file, dtype %s\n",
                                 r.tensor_count, static_cast<double>(r.tensor_bytes) / (1 << 20),
                                 r.dtype);
    for (const auto& f : r.files) std::cout << "  file  " << f.name << "\n";
    for (const auto& m : r.mapping) std::cout << "  map   " << m << "\n";
    return kExitOk;
  }
  if (r.skipped) {
    std::cout << "up to date: " << r.output_dir << " already holds this export\n";
    return kExitOk;
  }
  if (r.validation) PrintChecks(*r.validation, std::cout);
  uint64_t total = 0;
  for (const auto& f : r.files) total += f.size;
  std::cout << absl::StrFormat("exported %s -> %s\n  %d files, %.1f MiB, dtype %s, %.2f s\n",
                               r.weights_file, r.output_dir, r.files.size(),
                               static_cast<double>(total) / (1 << 20), r.dtype, r.seconds);
  return kExitOk;
}

}  // namespace neobert::cli
