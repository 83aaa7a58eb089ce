#include "server/job_log.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace neobert::server {

namespace {

spdlog::level::level_enum SpdLevel(LogLevel l) {
  switch (l) {
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kInfo: break;
  }
  return spdlog::level::info;
}

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

}  // namespace

void LogLine(LogFormat format, LogLevel level, const std::string& msg,
             const std::vector<LogField>& fields, const std::string& text_prefix) {
  const auto lvl = SpdLevel(level);
  if (format == LogFormat::kJson) {
    nlohmann::json j = {{"level", spdlog::level::to_string_view(lvl).data()}, {"msg", msg}};
    for (const auto& f : fields) {
      // A literal that does not parse is kept as a string rather than
      // producing an invalid line.
      nlohmann::json v =
          f.literal ? nlohmann::json::parse(f.value, nullptr, false) : nlohmann::json();
      const bool ok = f.literal && !v.is_discarded() && (v.is_number() || v.is_boolean());
      j[f.key] = ok ? v : nlohmann::json(f.value);
    }
    spdlog::log(lvl, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line = text_prefix + msg;
  for (const auto& f : fields) {
    if (f.value.empty()) continue;
    // Quote values a reader could not otherwise split back out.
    const bool quote = f.value.find_first_of(" \"=") != std::string::npos;
    absl::StrAppend(&line, " ", f.key, "=", quote ? nlohmann::json(f.value).dump() : f.value);
  }
  spdlog::log(lvl, "{}", line);
}

std::string LowerStateName(JobState state) {
  std::string s = JobStateName(state);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

JobSummary SummarizeJob(const JobSnapshot& job, double run_seconds) {
  JobSummary s;
  s.kind = JobKindName(job.spec.kind());
  s.state = LowerStateName(job.state);
  s.seconds = run_seconds;
  if (job.result) {
    const core::ExportResult& r = *job.result;
    if (job.spec.kind() == JobKind::kExport && job.state == JobState::kSucceeded && !r.dry_run &&
        !r.skipped) {
      for (const auto& f : r.files) s.bytes_written += f.size;
    }
    s.device = r.sanity_device;
    s.sanity_seconds = r.sanity_seconds;
  }
  if (s.bytes_written > 0 && run_seconds > 0) {
    s.mb_per_s = static_cast<double>(s.bytes_written) / 1e6 / run_seconds;
  }
  if (!job.error.ok()) s.error = std::string(job.error.message());
  return s;
}

void JobLogger::Log(const JobSnapshot& job, LogLevel level, const std::string& msg,
                    std::vector<LogField> fields) {
  const std::string source = JobSource(job.spec);
  fields.insert(fields.begin(), {{"job_id", job.id}, {"checkpoint", source}});
  if (format_ == LogFormat::kJson) {
    LogLine(format_, level, msg, fields);
    return;
  }
  // Text mode: id and checkpoint go in the prefix, not again as k=v pairs.
  fields.erase(fields.begin(), fields.begin() + 2);
  LogLine(format_, level, msg, fields, absl::StrCat("[", job.id, " ckpt=", source, "] "));
}

void JobLogger::OnQueued(const JobSnapshot& job) {
  std::vector<LogField> fields = {{"kind", JobKindName(job.spec.kind())}};
  if (job.spec.kind() == JobKind::kExport) fields.push_back({"output", JobDestination(job.spec)});
  Log(job, LogLevel::kInfo, "queued", std::move(fields));
}

void JobLogger::OnStarted(const JobSnapshot& job) { Log(job, LogLevel::kInfo, "started"); }

void JobLogger::OnStage(const JobSnapshot& job, const std::string& message) {
  // Text mode has the stage in the message already.
  std::vector<LogField> fields;
  if (format_ == LogFormat::kJson) fields.push_back({"stage", job.stage});
  Log(job, LogLevel::kInfo, absl::StrCat("stage ", job.stage, ": ", message), std::move(fields));
}

void JobLogger::OnWarning(const JobSnapshot& job, const std::string& warning) {
  Log(job, LogLevel::kWarn, absl::StrCat("warning: ", warning));
}

void JobLogger::OnFinished(const JobSnapshot& job, JobState was, double run_seconds) {
  const JobSummary s = SummarizeJob(job, run_seconds);
  const LogLevel level = job.state == JobState::kSucceeded ? LogLevel::kInfo
                         : job.state == JobState::kFailed  ? LogLevel::kError
                                                           : LogLevel::kWarn;
  std::string msg = absl::StrCat("finished: ", JobStateName(job.state), " ", s.kind);
  if (was == JobState::kQueued) absl::StrAppend(&msg, " (never started)");
  else absl::StrAppend(&msg, " in ", Fixed(s.seconds, 3), " s");
  if (s.bytes_written > 0) {
    absl::StrAppend(&msg, ", ", s.bytes_written, " bytes at ", Fixed(s.mb_per_s, 1), " MB/s");
  }
  if (!s.device.empty()) {
    absl::StrAppend(&msg, ", sanity pass on ", s.device, " in ", Fixed(s.sanity_seconds, 3), " s");
  }
  // The same facts as fields, so a JSON reader need not parse the message;
  // text mode already has them in the message, except the error.
  std::vector<LogField> fields;
  if (format_ == LogFormat::kJson) {
    fields = {{"summary", "true", true},
              {"kind", s.kind},
              {"state", s.state},
              {"seconds", Fixed(s.seconds, 3), true},
              {"bytes", absl::StrCat(s.bytes_written), true},
              {"mb_per_s", Fixed(s.mb_per_s, 3), true},
              {"device", s.device},
              {"sanity_seconds", Fixed(s.sanity_seconds, 3), true}};
    if (job.result && !job.result->output_dir.empty()) {
      fields.push_back({"output", job.result->output_dir});
    }
  }
  if (!s.error.empty()) fields.push_back({"error", s.error});
  Log(job, level, msg, std::move(fields));
}

}  // namespace neobert::server
