#include "server/job.h"

namespace neobert::server {

namespace {
constexpr const char* kNames[] = {"QUEUED",    "RUNNING",   "SUCCEEDED",
                                  "FAILED",    "CANCELLED", "INTERRUPTED"};
}  // namespace

const char* JobStateName(JobState s) { return kNames[static_cast<int>(s)]; }

std::optional<JobState> JobStateFromName(const std::string& name) {
  for (int i = 0; i < 6; ++i) {
    if (name == kNames[i]) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool IsTerminal(JobState s) { return s != JobState::kQueued && s != JobState::kRunning; }

const char* JobKindName(JobKind kind) { return kind == JobKind::kExport ? "export" : "validate"; }

std::string JobSource(const JobSpec& spec) {
  if (const auto* e = spec.export_options()) return e->checkpoint_dir;
  return spec.validate_options()->export_dir;
}

std::string JobDestination(const JobSpec& spec) {
  const auto* e = spec.export_options();
  return e ? e->output_dir : std::string();
}

}  // namespace neobert::server
