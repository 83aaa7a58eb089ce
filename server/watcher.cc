#include "server/watcher.h"

#include <cstdint>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/export/exporter.h"
#include "core/export/manifest.h"
#include "core/neobert/output_location.h"
#include "server/output_pattern.h"

namespace neobert::server {
namespace fs = std::filesystem;

namespace {

// Events arriving while a trainer writes come in bursts; one rescan per
// burst is enough.
constexpr absl::Duration kDebounce = absl::Milliseconds(200);
// Bounds the watches one server takes (the per-user default is 8192+).
constexpr size_t kMaxWatches = 4096;
constexpr uint32_t kWatchMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |
                                IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

const char* ModeName(WatchMode m) {
  switch (m) {
    case WatchMode::kAuto: return "auto";
    case WatchMode::kInotify: return "inotify";
    case WatchMode::kPoll: return "poll";
  }
  return "?";
}

// True when `dest` holds an export whose manifest names `step` as its
// source (then a changed step may replace it). Both are looked at through
// their roots' doors.
bool ExportedFromStep(const ResolvedPath& dest, const ResolvedPath& step) {
  auto manifest = core::ReadManifest(dest.root, dest.path);
  if (!manifest.ok()) return false;
  auto source = step.root.RealPathAllowMissing(manifest->checkpoint);
  return source.ok() && *source == step.path;
}

}  // namespace

Watcher::Watcher(WatcherOptions options, JobManager* jobs, PathPolicy policy)
    : options_(std::move(options)), jobs_(jobs), policy_(std::move(policy)), tracker_(options_.poll) {}

absl::StatusOr<std::unique_ptr<Watcher>> Watcher::Create(WatcherOptions options, JobManager* jobs,
                                                         PathPolicy policy) {
  if (options.poll <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--watch-poll-seconds must be at least 1");
  }
  // A watched folder that exists is resolved like any input (symlinks
  // followed); one that does not exist yet (the sidecar started before the
  // trainer) must still lie inside an input root lexically.
  std::vector<WatchFolder> folders;
  for (auto& dir : options.dirs) {
    auto resolved = policy.ResolveInput(dir);
    if (resolved.ok()) {
      dir = resolved->path;
      folders.push_back({resolved->root, dir});
      continue;
    }
    if (!absl::IsNotFound(resolved.status())) {
      return absl::Status(resolved.status().code(),
                          absl::StrCat("--watch ", dir, ": ", resolved.status().message()));
    }
    // Not there yet: it must lie beneath an input root (links on the way
    // resolved beneath it, the missing rest taken as written).
    const base::FsRoot* root = nullptr;
    absl::StatusOr<std::string> canon = absl::NotFoundError("");
    for (const auto& r : policy.input_roots()) {
      if (!r.Contains(dir)) continue;
      canon = r.RealPathAllowMissing(dir);
      if (canon.ok()) {
        root = &r;
        break;
      }
    }
    if (root == nullptr) {
      return absl::PermissionDeniedError(
          absl::StrCat("--watch ", dir, ": not inside any --input-root",
                       canon.status().message().empty()
                           ? ""
                           : absl::StrCat(" (", canon.status().message(), ")")));
    }
    dir = *canon;
    folders.push_back({*root, dir});
  }
  if (!options.output_dir.empty()) {
    // Exports land in <output_dir>/<run>_<step>: a child must be allowed.
    auto probe = policy.ResolveOutput((fs::path(options.output_dir) / "probe").string());
    if (!probe.ok()) {
      return absl::Status(probe.status().code(), absl::StrCat("--watch-output ", options.output_dir,
                                                              ": ", probe.status().message()));
    }
    options.output_dir = fs::path(probe->path).parent_path().string();
  }
  std::unique_ptr<Watcher> w(new Watcher(std::move(options), jobs, std::move(policy)));
  w->folders_ = std::move(folders);
  w->stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->stop_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  if (w->options_.mode != WatchMode::kPoll) {
    w->inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (w->inotify_fd_ < 0) {
      if (w->options_.mode == WatchMode::kInotify) {
        return absl::FailedPreconditionError(
            absl::StrCat("--watch-mode inotify: inotify_init1: ", std::strerror(errno)));
      }
      w->Log(WatchLogLevel::kWarn, absl::StrCat("watch: inotify unavailable (", std::strerror(errno),
                                                "); polling instead"));
    }
  }
  return w;
}

Watcher::~Watcher() {
  Stop();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Watcher::Log(WatchLogLevel level, const std::string& msg) const {
  if (options_.log) options_.log(level, msg);
}

void Watcher::Start() {
  if (thread_.joinable()) return;
  std::string dirs;
  for (const auto& d : options_.dirs) absl::StrAppend(&dirs, dirs.empty() ? "" : ", ", d);
  Log(WatchLogLevel::kInfo,
      absl::StrCat("watch: following ", dirs, " (mode ", ModeName(options_.mode),
                   inotify_fd_ >= 0 ? ", inotify" : ", polling", ", every ",
                   absl::FormatDuration(options_.poll), "), exports to ",
                   !options_.output_dir.empty()       ? options_.output_dir + "/<run>_<step>"
                   : !options_.output_pattern.empty() ? options_.output_pattern
                                                      : "<run>/hf/<run>_<step>"));
  thread_ = std::thread([this] { Loop(); });
}

void Watcher::Stop() {
  stopping_.store(true);
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) {
    thread_.join();
    Log(WatchLogLevel::kInfo, "watch: stopped");
  }
}

bool Watcher::Wait(absl::Time deadline) {
  for (;;) {
    if (stopping_.load()) return false;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const int n = ::poll(fds, inotify_fd_ >= 0 ? 2 : 1,
                         static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno != EINTR) return false;
    if (n > 0 && (fds[0].revents & POLLIN)) return false;
    if (n > 0 && inotify_fd_ >= 0 && (fds[1].revents & POLLIN) && DrainInotify()) return true;
  }
}

bool Watcher::DrainInotify() {
  alignas(inotify_event) char buf[16384];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    any = true;
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      if (e->mask & IN_Q_OVERFLOW) {
        Log(WatchLogLevel::kWarn, "watch: inotify queue overflowed; rescanning everything");
      }
      if (e->mask & IN_IGNORED) {  // the folder is gone (or was unwatched)
        for (auto it = watched_.begin(); it != watched_.end(); ++it) {
          if (it->second == e->wd) {
            watched_.erase(it);
            break;
          }
        }
      }
      p += sizeof(inotify_event) + e->len;
    }
  }
  return any;
}

void Watcher::UpdateWatches(const std::vector<std::string>& dirs) {
  if (inotify_fd_ < 0) return;
  for (const auto& d : dirs) {
    if (watched_.count(d)) continue;
    if (watched_.size() >= kMaxWatches) {
      Log(WatchLogLevel::kWarn, absl::StrCat("watch: more than ", kMaxWatches,
                                             " folders; the rest are polled only"));
      return;
    }
    // The scan found `d` beneath its root; IN_DONT_FOLLOW | IN_ONLYDIR keep a
    // link swapped in since from redirecting the watch.
    const int wd =
        ::inotify_add_watch(inotify_fd_, d.c_str(), kWatchMask | IN_DONT_FOLLOW | IN_ONLYDIR);
    if (wd < 0) continue;  // gone already, or no permission: the rescan covers it
    // A renamed folder (<step>.tmp → <step>) keeps its watch descriptor:
    // forget its old name.
    for (auto it = watched_.begin(); it != watched_.end();) {
      it = it->second == wd ? watched_.erase(it) : std::next(it);
    }
    watched_[d] = wd;
  }
}

void Watcher::ForgetGone(const ScanResult& scan) {
  std::set<std::string> present;
  for (const auto& s : scan.steps) present.insert(s.path);
  for (auto it = handled_.begin(); it != handled_.end();) {
    it = present.count(it->first) ? std::next(it) : handled_.erase(it);
  }
}

Watcher::Outcome Watcher::HandleStep(const StepDir& step, std::optional<absl::Time> queue_deadline,
                                     std::string* job_id, std::string* why) {
  auto h = handled_.find(step.path);
  if (h != handled_.end() && h->second.signature == step.signature) {
    *job_id = h->second.job_id;
    return Outcome::kDone;
  }
  const std::string what = absl::StrCat("step ", step.step, " of ", step.run_name, " (", step.path, ")");
  auto give_up = [&](const absl::Status& s) {
    Log(WatchLogLevel::kError, absl::StrCat("watch: ", what, ": not exported: ", s.message()));
    handled_[step.path] = {step.signature, ""};
    *why = std::string(s.message());
    return Outcome::kRefused;
  };
  auto ckpt = policy_.ResolveInput(step.path);
  if (!ckpt.ok()) return give_up(ckpt.status());
  std::string dest;
  if (options_.output_dir.empty() && !options_.output_pattern.empty()) {
    dest = ExpandOutputPattern(options_.output_pattern, step.run_name, absl::StrCat(step.step));
  } else if (options_.output_dir.empty()) {
    auto d = core::DefaultOutputDir(ckpt->root, ckpt->path);
    if (!d.ok()) return give_up(d.status());
    dest = *d;
  } else {
    dest = (fs::path(options_.output_dir) / absl::StrCat(step.run_name, "_", step.step)).string();
  }
  auto out = policy_.ResolveOutput(dest);
  if (!out.ok()) return give_up(out.status());
  core::ExportOptions o;
  o.checkpoint_dir = ckpt->path;
  o.input_root = ckpt->root;
  o.output_dir = out->path;
  o.output_root = out->root;
  o.sync = options_.sync;
  auto current = core::ExportIsCurrent(o);
  if (current.ok() && *current) {
    Log(WatchLogLevel::kInfo, absl::StrCat("watch: ", what, ": already exported to ", out->path));
    handled_[step.path] = {step.signature, ""};
    return Outcome::kAlreadyExported;
  }
  const bool replaces = ExportedFromStep(*out, *ckpt);
  o.overwrite = replaces;
  const JobSpec spec{.options = std::move(o), .idempotency_key = ""};
  bool deduplicated = false;
  auto job = jobs_->Submit(spec, &deduplicated);
  // The last scan waits for room (jobs finish meanwhile); a periodic one
  // leaves the step unhandled, so the next scan tries again.
  while (!job.ok() && job.status().code() == absl::StatusCode::kResourceExhausted &&
         queue_deadline && absl::Now() < *queue_deadline) {
    jobs_->WaitIdle(std::min(absl::Milliseconds(250), *queue_deadline - absl::Now()));
    job = jobs_->Submit(spec, &deduplicated);
  }
  if (!job.ok()) {
    if (job.status().code() == absl::StatusCode::kResourceExhausted) {
      Log(WatchLogLevel::kWarn, absl::StrCat("watch: ", what, ": queue full; retrying later"));
      *why = "the job queue stayed full";
      return Outcome::kQueueFull;
    }
    if (job.status().code() == absl::StatusCode::kUnavailable) {
      *why = "the server stopped accepting jobs";
      return Outcome::kDraining;
    }
    return give_up(job.status());
  }
  handled_[step.path] = {step.signature, job->id};
  *job_id = job->id;
  Log(WatchLogLevel::kInfo,
      absl::StrCat("watch: ", what, " → ", out->path, ": job ", job->id,
                   deduplicated ? " (already queued)" : " submitted",
                   replaces ? " (the step changed after its export: replacing it)" : ""));
  return Outcome::kSubmitted;
}

std::vector<std::string> Watcher::ScanOnce(absl::Time now) {
  std::vector<std::string> submitted;
  ScanResult scan = ScanWatchDirs(folders_);
  UpdateWatches(scan.dirs);
  std::vector<StepDir> ready = tracker_.Update(scan.steps, now);
  ForgetGone(scan);
  for (const StepDir& step : ready) {  // newest first
    if (stopping_.load()) break;
    std::string job_id, why;
    const Outcome o = HandleStep(step, std::nullopt, &job_id, &why);
    if (o == Outcome::kDraining) break;
    if (o == Outcome::kSubmitted) submitted.push_back(job_id);
  }
  return submitted;
}

Watcher::FinalScanResult Watcher::FinalScan(absl::Time deadline) {
  FinalScanResult r;
  ScanResult scan = ScanWatchDirs(folders_);
  ForgetGone(scan);
  int complete = 0;
  for (const StepDir& step : scan.steps) {  // newest first, settled or not
    if (!step.complete) continue;
    ++complete;
    const std::string what = absl::StrCat("step ", step.step, " of ", step.run_name, " (", step.path, ")");
    std::string job_id, why;
    switch (HandleStep(step, deadline, &job_id, &why)) {
      case Outcome::kAlreadyExported:
        ++r.already_exported;
        break;
      case Outcome::kDone: {
        // Handled before: follow its job while it is still to finish (one
        // that already failed was reported when it did).
        auto job = job_id.empty() ? absl::StatusOr<JobSnapshot>(absl::NotFoundError(""))
                                  : jobs_->Get(job_id);
        if (job.ok() && !IsTerminal(job->state)) r.jobs.emplace_back(what, job_id);
        if (job.ok() && job->state == JobState::kSucceeded) ++r.already_exported;
        break;
      }
      case Outcome::kSubmitted:
        r.jobs.emplace_back(what, job_id);
        break;
      case Outcome::kRefused:
      case Outcome::kQueueFull:
      case Outcome::kDraining:
        r.not_submitted.push_back(absl::StrCat(what, ": ", why));
        break;
    }
  }
  Log(WatchLogLevel::kInfo,
      absl::StrCat("watch: final scan: ", complete, " complete step(s): ", r.jobs.size(),
                   " with a job, ", r.already_exported, " already exported, ",
                   r.not_submitted.size(), " not submitted"));
  return r;
}

int Watcher::ReportUnfinished(const FinalScanResult& final) {
  int unfinished = 0;
  for (const auto& what : final.not_submitted) {
    Log(WatchLogLevel::kError, absl::StrCat("watch: ", what, ": not exported"));
    ++unfinished;
  }
  for (const auto& [what, id] : final.jobs) {
    auto job = jobs_->Get(id);
    if (job.ok() && job->state == JobState::kSucceeded) continue;
    ++unfinished;
    // A job the drain gave back stays queued in the job store.
    const bool waiting = job.ok() && !IsTerminal(job->state);
    Log(WatchLogLevel::kError,
        absl::StrCat("watch: ", what, ": not exported: job ", id, " ",
                     job.ok() ? JobStateName(job->state) : "unknown",
                     job.ok() && !job->error.ok() ? absl::StrCat(": ", job->error.message()) : "",
                     waiting ? " (it stays in the job store: the next start, or another replica, "
                               "exports it)"
                             : ""));
  }
  return unfinished;
}

void Watcher::Loop() {
  absl::Time next = absl::Now();
  while (!stopping_.load()) {
    if (Wait(next)) {
      // Let the burst finish, then rescan (further events are read and
      // folded into this scan).
      const absl::Time quiet = absl::Now() + kDebounce;
      while (!stopping_.load() && Wait(quiet)) {
      }
    }
    if (stopping_.load()) break;
    const absl::Time now = absl::Now();
    ScanOnce(now);
    next = now + options_.poll;
  }
}

}  // namespace neobert::server
