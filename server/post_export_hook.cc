#include "server/post_export_hook.h"

#include <fcntl.h>
#include <spawn.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace neobert::server {
namespace {

// A hook that prints a line longer than this is logged in pieces.
constexpr size_t kMaxLine = 4096;
constexpr absl::Duration kKillGrace = absl::Seconds(2);

// Splits what the hook wrote into lines for the log.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(const std::string&)>& sink) : sink_(sink) {}
  void Feed(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n' || buf_.size() >= kMaxLine) {
        Emit();
        if (data[i] == '\n') continue;
      }
      buf_.push_back(data[i]);
    }
  }
  void Flush() {
    if (!buf_.empty()) Emit();
  }

 private:
  void Emit() {
    if (sink_) sink_(buf_);
    buf_.clear();
  }
  const std::function<void(const std::string&)>& sink_;
  std::string buf_;
};

// Reads whatever is available on `fd` (non-blocking) into `lines`; false at
// EOF or error.
bool Drain(int fd, LineSplitter& lines) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      lines.Feed(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // EOF or a real error
  }
}

// The server's environment without any NEOBERT_* variable the hook is
// given, then those (export folder, checkpoint, job id).
std::vector<std::string> HookEnvironment(const HookContext& ctx) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    if (kv.rfind("NEOBERT_EXPORT_DIR=", 0) == 0 || kv.rfind("NEOBERT_CHECKPOINT_DIR=", 0) == 0 ||
        kv.rfind("NEOBERT_JOB_ID=", 0) == 0 || kv.rfind("NEOBERT_JOB_ATTEMPT=", 0) == 0) {
      continue;
    }
    env.push_back(kv);
  }
  env.push_back("NEOBERT_EXPORT_DIR=" + ctx.export_dir);
  env.push_back("NEOBERT_CHECKPOINT_DIR=" + ctx.checkpoint_dir);
  env.push_back("NEOBERT_JOB_ID=" + ctx.job_id);
  env.push_back(absl::StrCat("NEOBERT_JOB_ATTEMPT=", ctx.attempt));
  return env;
}

// A started hook: its process (group) and the read end of its output pipe.
struct Spawned {
  pid_t pid = -1;
  int output = -1;
};

// `sh -c COMMAND neobert-post-export-hook EXPORT_DIR`, or why it could not
// start ("pipe: ...", "posix_spawn: ...").
absl::StatusOr<Spawned> SpawnHook(const std::string& command, const HookContext& ctx) {
  // Everything the child needs is built before it is spawned.
  std::vector<std::string> env_strings = HookEnvironment(ctx);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command, name = "neobert-post-export-hook",
              dir = ctx.export_dir;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), name.data(), dir.data(), nullptr};

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // posix_spawn, not fork: glibc's posix_spawn runs no atfork handlers, and
  // OpenBLAS's (which LibTorch loads) joins its threads in one, so two hooks
  // forking at once (--workers > 1) deadlocked the server. The child gets
  // its own process group and no blocked signals (the server blocks
  // SIGTERM/SIGINT in its threads), /dev/null as stdin, the pipe as
  // stdout/stderr, and no other descriptor (gRPC sockets, the job store
  // stay ours).
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  if (devnull >= 0) ::posix_spawn_file_actions_adddup2(&actions, devnull, 0);
  ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = -1;
  const int spawn_errno = ::posix_spawn(&pid, argv[0], &actions, &attr, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (devnull >= 0) ::close(devnull);
  if (spawn_errno != 0) {
    ::close(pipe_fds[0]);
    return absl::InternalError(absl::StrCat("posix_spawn: ", std::strerror(spawn_errno)));
  }
  ::setpgid(pid, pid);  // also from here: no race with the kill below
  ::fcntl(pipe_fds[0], F_SETFL, ::fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
  return Spawned{pid, pipe_fds[0]};
}

// How the hook ended: its wait status (-1: lost track of it), and whether
// it was stopped for the timeout or the job's cancellation.
struct Ended {
  int status = 0;
  bool timed_out = false;
  bool cancelled = false;
};

// Relays the hook's output lines until it exits; at the timeout or a cancel,
// SIGTERM to its process group, then SIGKILL after kKillGrace. Closes the
// pipe.
Ended Supervise(const Spawned& hook, const PostExportHookOptions& options,
                const base::CancelToken& cancel) {
  LineSplitter lines(options.log_line);
  const absl::Time deadline = absl::Now() + options.timeout;
  absl::Time kill_at = absl::InfiniteFuture();
  Ended end;
  bool pipe_open = true;
  for (;;) {
    pid_t w = ::waitpid(hook.pid, &end.status, WNOHANG);
    if (w == hook.pid) break;
    if (w < 0 && errno != EINTR) {
      end.status = -1;
      break;
    }
    const absl::Time now = absl::Now();
    if (!end.timed_out && !end.cancelled && (now >= deadline || cancel.cancelled())) {
      (now >= deadline ? end.timed_out : end.cancelled) = true;
      ::kill(-hook.pid, SIGTERM);
      kill_at = now + kKillGrace;
    } else if (now >= kill_at) {
      ::kill(-hook.pid, SIGKILL);
      kill_at = absl::InfiniteFuture();
    }
    if (pipe_open) {
      pollfd p{hook.output, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) pipe_open = Drain(hook.output, lines);
    } else {
      ::usleep(50 * 1000);
    }
  }
  // Output written just before exit; a background grandchild that keeps the
  // pipe open does not hold the job up (non-blocking read).
  if (pipe_open) Drain(hook.output, lines);
  lines.Flush();
  ::close(hook.output);
  return end;
}

}  // namespace

HookOutcome RunPostExportHook(const PostExportHookOptions& options, const HookContext& ctx,
                              const base::CancelToken& cancel) {
  HookOutcome out;
  if (options.command.empty()) return out;
  out.ran = true;
  absl::StatusOr<Spawned> hook = SpawnHook(options.command, ctx);
  if (!hook.ok()) {
    out.exit_code = -1;
    out.message = absl::StrCat("could not start: ", hook.status().message());
    return out;
  }
  const Ended end = Supervise(*hook, options, cancel);
  if (end.timed_out) {
    out.exit_code = 124;
    out.message = absl::StrCat("timed out after ", absl::ToInt64Seconds(options.timeout),
                               " s and was killed");
  } else if (end.status == -1) {
    out.exit_code = -1;
    out.message = "lost track of the hook process";
  } else if (WIFEXITED(end.status)) {
    out.exit_code = WEXITSTATUS(end.status);
    out.message = out.exit_code == 127 ? "exited with 127 (command not found?)"
                                       : absl::StrCat("exited with ", out.exit_code);
  } else if (WIFSIGNALED(end.status)) {
    out.exit_code = 128 + WTERMSIG(end.status);
    out.message = absl::StrCat("killed by signal ", WTERMSIG(end.status));
  }
  if (end.cancelled) out.message += " (the job was cancelled)";
  return out;
}

}  // namespace neobert::server
