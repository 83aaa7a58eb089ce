// RunJobWithCore: the production JobRunner (declared in job_manager.h).
#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/export/manifest.h"
#include "server/job_manager.h"

namespace neobert::server {
namespace {

// What a Hugging Face folder written by the exporter cannot do without.
absl::Status CheckRequiredFiles(const std::string& dir, const core::Manifest& m) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* name : {"config.json", core::kManifestName}) {
    if (!fs::is_regular_file(fs::path(dir) / name, ec)) {
      return absl::NotFoundError(absl::StrCat("export '", dir, "': ", name, " is missing"));
    }
  }
  bool weights = false;
  for (const auto& f : m.files) {
    if (f.name == "model.safetensors" || f.name == "model.safetensors.index.json") weights = true;
  }
  if (!weights) {
    return absl::InvalidArgumentError(absl::StrCat(
        "export '", dir, "': manifest.json lists neither model.safetensors nor its index"));
  }
  return absl::OkStatus();
}

absl::StatusOr<core::ExportResult> Validate(const std::string& dir, core::ProgressSink& progress,
                                            const core::CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  progress.OnStage("manifest", absl::StrCat("reading ", dir, "/manifest.json"), 0);
  auto manifest = core::ReadManifest(dir);
  if (!manifest.ok()) return manifest.status();
  if (auto s = CheckRequiredFiles(dir, *manifest); !s.ok()) return s;
  if (auto s = cancel.Check(); !s.ok()) return s;
  uint64_t total = 0;
  for (const auto& f : manifest->files) total += f.size;
  progress.OnStage("verify", absl::StrCat("checking size and sha256 of ", manifest->files.size(),
                                          " files"),
                   total);
  if (auto s = core::VerifyManifestFiles(dir, *manifest); !s.ok()) return s;
  progress.OnBytes(total);
  if (auto s = cancel.Check(); !s.ok()) return s;
  core::ExportResult r;
  r.output_dir = dir;
  r.files = manifest->files;
  r.notes.push_back(absl::StrCat("manifest verified: ", manifest->files.size(),
                                 " files match their size and sha256"));
  r.notes.push_back("forward-pass comparison not run: the validation engine is not built yet");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

absl::StatusOr<core::ExportResult> RunJobWithCore(const JobSpec& spec, core::ProgressSink& progress,
                                                  const core::CancelToken& cancel) {
  if (spec.kind == JobKind::kValidate) return Validate(spec.validate_dir, progress, cancel);
  return core::ExportCheckpoint(spec.export_options, progress, cancel);
}

}  // namespace neobert::server
