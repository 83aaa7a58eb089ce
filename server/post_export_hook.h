// --post-export-hook CMD: a command run after each successful export job
// (RPC or watch mode), e.g. to upload the folder or notify someone.
//
// How it runs: posix_spawn of `/bin/sh -c CMD neobert-post-export-hook DIR`,
// so in CMD `$1` is the export folder; the environment is the server's plus
//   NEOBERT_EXPORT_DIR      the export folder (same as $1)
//   NEOBERT_CHECKPOINT_DIR  the checkpoint it was exported from
//   NEOBERT_JOB_ID          the job
//   NEOBERT_JOB_ATTEMPT     1, or the job's later run after its server died
// stdin is /dev/null; stdout and stderr are read line by line into the server
// log (one log line per output line, tagged with the job id, so JSON logs stay
// one object per line). The hook runs in its own process group with the
// server's blocked signals unblocked; after the timeout, or when the job is
// cancelled, the group gets SIGTERM, then SIGKILL 2 s later.
//
// Outcome policy: the export is already published when the hook runs, so a
// failing hook does NOT turn the job into a failure — the job stays SUCCEEDED
// and the hook's exit status is recorded in its result (JobResult.hook_ran /
// hook_exit_code / hook_message, and the job store) plus a warning in the
// result's warnings and a warn-level log line. Callers that need the upload
// to have happened check hook_exit_code. The hook is not run for dry runs or
// for exports skipped because an identical one was already there (it ran
// when that export was made), except on a later attempt of the same job: a
// server that died after publishing the export may not have run it. So a
// hook runs AT LEAST ONCE per export: twice when a server died after its hook
// ran but before the job's outcome was stored; NEOBERT_JOB_ATTEMPT > 1 tells
// such a run (an upload can check whether it is already there).
#pragma once

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "core/base/progress.h"
#include "server/job.h"

namespace neobert::server {

struct PostExportHookOptions {
  // The shell command (run by /bin/sh -c). Empty: no hook.
  std::string command;
  // How long the hook may run before it is killed (exit code 124).
  absl::Duration timeout = absl::Seconds(300);
  // Receives each line the hook writes (stdout and stderr, without the
  // newline); null: discarded. Called on the job's thread.
  std::function<void(const std::string& line)> log_line;
};

struct HookContext {
  std::string export_dir;
  std::string checkpoint_dir;
  std::string job_id;
  int attempt = 1;  // NEOBERT_JOB_ATTEMPT
};

// Runs the hook to completion (or timeout / cancellation) and reports what
// happened. Thread-safe; blocks the calling thread.
HookOutcome RunPostExportHook(const PostExportHookOptions& options, const HookContext& context,
                              const base::CancelToken& cancel);

}  // namespace neobert::server
