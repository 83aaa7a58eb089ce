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

std::string JobSource(const JobSpec& spec) {
  return spec.kind == JobKind::kExport ? spec.export_options.checkpoint_dir : spec.validate_dir;
}

std::string JobDestination(const JobSpec& spec) {
  return spec.kind == JobKind::kExport ? spec.export_options.output_dir : std::string();
}

}  // namespace neobert::server
