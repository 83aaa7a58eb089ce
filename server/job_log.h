// Structured job logs. Every line about a job names the job and its
// checkpoint: in JSON mode as "job_id" / "checkpoint" fields of the line's
// object, in text mode as a "[job-… ckpt=…]" prefix. A finished job gets
// exactly one summary line (state, run time, bytes, MB/s, device, error).
//
// Lines go to spdlog's default logger, whose pattern main.cc sets (in JSON
// mode it wraps the object this file writes as {"time":…,"log":<object>}).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/job.h"
#include "server/job_manager.h"

namespace neobert::server {

enum class LogFormat { kText, kJson };
enum class LogLevel { kInfo, kWarn, kError };

// One extra field of a structured line; `literal` fields are written as JSON
// numbers / booleans (the value must then be one, e.g. "1.5" or "true").
struct LogField {
  std::string key;
  std::string value;
  bool literal = false;
};

// One log line: JSON {"level","msg",<fields>…} or text "<prefix><msg> k=v …".
void LogLine(LogFormat format, LogLevel level, const std::string& msg,
             const std::vector<LogField>& fields = {}, const std::string& text_prefix = "");

// What a finished job did, for the summary line and the metrics.
struct JobSummary {
  std::string kind;        // "export" | "validate"
  std::string state;       // lower case: "succeeded", "failed", "cancelled", ...
  double seconds = 0;      // time it ran (0 if cancelled while queued)
  // Bytes the export published: the sum of its manifest's file sizes (0 for
  // validations, dry runs, already-present exports and unfinished jobs).
  uint64_t bytes_written = 0;
  double mb_per_s = 0;     // bytes_written / 1e6 / seconds; 0 when nothing was written
  std::string device;      // where the sanity forward pass ran; "" when it did not
  double sanity_seconds = 0;
  std::string error;       // the status message of a job that did not succeed
};

JobSummary SummarizeJob(const JobSnapshot& job, double run_seconds);
std::string LowerStateName(JobState state);

// Logs each job's queueing, start, stages, warnings and one summary line.
class JobLogger final : public JobObserver {
 public:
  explicit JobLogger(LogFormat format) : format_(format) {}
  void OnQueued(const JobSnapshot& job) override;
  void OnStarted(const JobSnapshot& job) override;
  void OnStage(const JobSnapshot& job, const std::string& message) override;
  void OnWarning(const JobSnapshot& job, const std::string& warning) override;
  void OnFinished(const JobSnapshot& job, JobState was, double run_seconds) override;

 private:
  void Log(const JobSnapshot& job, LogLevel level, const std::string& msg,
           std::vector<LogField> fields = {});
  const LogFormat format_;
};

}  // namespace neobert::server
