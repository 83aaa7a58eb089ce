// The job journal: <state-dir>/jobs.jsonl, append-only JSON lines, one full
// job snapshot per line, written at every state change. Replaying keeps the
// last line per job id; a torn last line (crash mid-write) is skipped.
//
// On open, jobs the previous process left QUEUED or RUNNING become
// INTERRUPTED. Queued jobs are deliberately not re-run: their client may be
// gone and their inputs may have changed since, so a retry is the caller's
// decision (resubmitting is cheap; an export is atomic, so an interrupted one
// left nothing at its destination). The file is then rewritten compacted
// (one line per job) through a temporary file and rename.
//
// Lines are written with one write(2) each; terminal states are fdatasync'ed.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/job.h"

namespace neobert::server {

std::string SnapshotToJson(const JobSnapshot& job);
absl::StatusOr<JobSnapshot> SnapshotFromJson(const std::string& line);

class Journal {
 public:
  // Creates `state_dir` if needed. `recovered` receives the jobs of earlier
  // runs (with QUEUED/RUNNING turned INTERRUPTED), oldest first.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& state_dir,
                                                       std::vector<JobSnapshot>* recovered);
  ~Journal();
  absl::Status Append(const JobSnapshot& job);
  const std::string& path() const { return path_; }

 private:
  Journal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace neobert::server
