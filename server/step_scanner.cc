#include "server/step_scanner.h"

#include <cstdint>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/neobert/output_location.h"

namespace neobert::server {
namespace fs = std::filesystem;

namespace {

// A step dir is a handful of files (plus Accelerate state in the newer
// layout); this bounds the work a hostile tree can cause per scan.
constexpr size_t kMaxFilesPerStep = 10000;

bool IsCheckpointsFolderName(const std::string& name) {
  return name == "model_checkpoints" || name == "checkpoints";
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Size of a regular file (not following a final symlink is not needed: the
// exporter reads through symlinks too); -1 when it is not a regular file.
int64_t RegularFileSize(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return st.st_size;
}

// The folder without a trailing separator ("a/b/" → "a/b") so that its
// filename() is the last component.
fs::path Normal(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

std::vector<fs::path> ChildDirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_directory(ec2)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// (relative path, size, mtime in ns) of every file below `dir`, sorted.
std::string Signature(const fs::path& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end && lines.size() < kMaxFilesPerStep; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) continue;
    lines.push_back(absl::StrCat(it->path().lexically_relative(dir).string(), "\t", st.st_size, "\t",
                                 st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec));
  }
  std::sort(lines.begin(), lines.end());
  std::string sig;
  for (const auto& l : lines) absl::StrAppend(&sig, l, "\n");
  return sig;
}

// What a step dir still lacks before the exporter can read it ("" = none).
std::string Missing(const fs::path& step) {
  if (RegularFileSize(step / "config.yaml") < 0) return "config.yaml";
  // ZeRO files only: complete, so that the export fails once naming the
  // conversion needed, rather than the step waiting unnoticed.
  if (RegularFileSize(step / "model.safetensors") <= 0 && RegularFileSize(step / "state_dict.pt") <= 0 &&
      !core::LooksLikeDeepSpeedCheckpoint(step.string())) {
    return "a weight file (model.safetensors or state_dict.pt)";
  }
  bool tokenizer_file = false;
  std::error_code ec;
  for (fs::directory_iterator it(step / "tokenizer", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) {
      tokenizer_file = true;
      break;
    }
  }
  if (!tokenizer_file) return "tokenizer/";
  return "";
}

void ScanCheckpointsFolder(const fs::path& folder, ScanResult* out) {
  out->dirs.push_back(folder.string());
  const fs::path run = folder.parent_path();
  for (const fs::path& child : ChildDirs(folder)) {
    const std::string name = child.filename().string();
    if (!IsStepName(name)) continue;  // *.tmp, *.old, latest, anything else
    StepDir s;
    s.path = child.string();
    s.run_dir = run.string();
    s.run_name = run.filename().string();
    s.step = std::stoull(name);
    s.missing = Missing(child);
    s.complete = s.missing.empty();
    if (s.complete) s.signature = Signature(child);
    out->dirs.push_back(s.path);
    if (IsDir(child / "tokenizer")) out->dirs.push_back((child / "tokenizer").string());
    out->steps.push_back(std::move(s));
  }
}

}  // namespace

bool IsStepName(const std::string& name) {
  if (name.empty() || name.size() > 19) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

ScanResult ScanWatchDirs(const std::vector<std::string>& watch_dirs) {
  ScanResult out;
  std::set<fs::path> folders;  // checkpoints folders, each scanned once
  for (const std::string& w : watch_dirs) {
    const fs::path dir = Normal(w);
    if (!IsDir(dir)) continue;
    if (IsCheckpointsFolderName(dir.filename().string())) {
      folders.insert(dir);
      continue;
    }
    out.dirs.push_back(dir.string());
    // The watched folder as a run dir, and each child as a run dir.
    std::vector<fs::path> runs = {dir};
    for (const fs::path& child : ChildDirs(dir)) {
      if (IsCheckpointsFolderName(child.filename().string())) continue;
      out.dirs.push_back(child.string());
      runs.push_back(child);
    }
    for (const fs::path& run : runs) {
      for (const char* name : {"model_checkpoints", "checkpoints"}) {
        if (IsDir(run / name)) folders.insert(run / name);
      }
    }
  }
  for (const fs::path& f : folders) ScanCheckpointsFolder(f, &out);
  std::stable_sort(out.steps.begin(), out.steps.end(), [](const StepDir& a, const StepDir& b) {
    if (a.step != b.step) return a.step > b.step;
    return a.path < b.path;
  });
  return out;
}

std::vector<StepDir> StabilityTracker::Update(const std::vector<StepDir>& scan, absl::Time now) {
  std::vector<StepDir> ready;
  std::map<std::string, Seen> next;
  settling_ = false;
  for (const StepDir& s : scan) {
    if (!s.complete) continue;
    auto it = seen_.find(s.path);
    Seen seen = (it != seen_.end() && it->second.signature == s.signature)
                    ? it->second
                    : Seen{s.signature, now};
    if (now - seen.since >= settle_) {
      ready.push_back(s);
    } else {
      settling_ = true;
    }
    next[s.path] = std::move(seen);
  }
  seen_ = std::move(next);
  return ready;
}

}  // namespace neobert::server
