#include "server/step_scanner.h"

#include <cstdint>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/neobert/output_location.h"

namespace neobert::server {
namespace fs = std::filesystem;

namespace {

// A step dir is a handful of files (plus Accelerate state in the newer
// layout); this bounds the work a hostile tree can cause per scan.
constexpr size_t kMaxFilesPerStep = 10000;
constexpr size_t kMaxEntriesPerFolder = 100000;  // runs, steps
constexpr int kMaxStepDepth = 32;

bool IsCheckpointsFolderName(const std::string& name) {
  return name == "model_checkpoints" || name == "checkpoints";
}

// An entry's type beneath the root, links followed (0: absent, or a link
// that leaves the root).
mode_t TypeOf(const base::FsRoot& root, const fs::path& p) {
  auto st = root.StatIfExists(p.string());
  return st.ok() && st->has_value() ? ((*st)->st_mode & S_IFMT) : 0;
}

bool IsDir(const base::FsRoot& root, const fs::path& p) { return TypeOf(root, p) == S_IFDIR; }

// Size of a regular file (a final symlink is followed beneath the root: the
// exporter reads through it too); -1 when it is not a regular file.
int64_t RegularFileSize(const base::FsRoot& root, const fs::path& p) {
  auto st = root.StatIfExists(p.string());
  if (!st.ok() || !st->has_value() || !S_ISREG((*st)->st_mode)) return -1;
  return (*st)->st_size;
}

// The folder without a trailing separator ("a/b/" → "a/b") so that its
// filename() is the last component.
fs::path Normal(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

std::vector<fs::path> ChildDirs(const base::FsRoot& root, const fs::path& dir) {
  std::vector<fs::path> out;
  auto entries = root.ListDirectory(dir.string(), kMaxEntriesPerFolder);
  if (!entries.ok()) return out;
  for (const auto& e : *entries) {
    if (IsDir(root, dir / e.name)) out.push_back(dir / e.name);
  }
  return out;  // sorted: ListDirectory sorts by name
}

// (relative path, size, mtime in ns) of every file below `dir`, sorted;
// links are described themselves (lstat), never followed.
void SignatureLines(const base::FsRoot& root, const fs::path& dir, const fs::path& rel,
                    std::vector<std::string>& lines, int depth = 0) {
  if (depth > kMaxStepDepth) return;
  auto entries = root.ListDirectory(dir.string(), kMaxFilesPerStep);
  if (!entries.ok()) return;
  for (const auto& e : *entries) {
    if (lines.size() >= kMaxFilesPerStep) return;
    if (e.type == S_IFDIR) {
      SignatureLines(root, dir / e.name, rel / e.name, lines, depth + 1);
      continue;
    }
    auto st = root.StatIfExists((dir / e.name).string(), /*follow_final=*/false);
    if (!st.ok() || !st->has_value()) continue;
    lines.push_back(absl::StrCat((rel / e.name).string(), "\t", (*st)->st_size, "\t",
                                 (*st)->st_mtim.tv_sec, ".", (*st)->st_mtim.tv_nsec));
  }
}

std::string Signature(const base::FsRoot& root, const fs::path& dir) {
  std::vector<std::string> lines;
  SignatureLines(root, dir, fs::path(), lines);
  std::sort(lines.begin(), lines.end());
  std::string sig;
  for (const auto& l : lines) absl::StrAppend(&sig, l, "\n");
  return sig;
}

// What a step dir still lacks before the exporter can read it ("" = none).
std::string Missing(const base::FsRoot& root, const fs::path& step) {
  if (RegularFileSize(root, step / "config.yaml") < 0) return "config.yaml";
  // ZeRO files only: complete, so that the export fails once naming the
  // conversion needed, rather than the step waiting unnoticed.
  if (RegularFileSize(root, step / "model.safetensors") <= 0 &&
      RegularFileSize(root, step / "state_dict.pt") <= 0 &&
      !core::LooksLikeDeepSpeedCheckpoint(root, step.string())) {
    return "a weight file (model.safetensors or state_dict.pt)";
  }
  auto entries = root.ListDirectory((step / "tokenizer").string(), kMaxFilesPerStep);
  bool tokenizer_file = false;
  if (entries.ok()) {
    for (const auto& e : *entries) {
      if (RegularFileSize(root, step / "tokenizer" / e.name) >= 0) {
        tokenizer_file = true;
        break;
      }
    }
  }
  if (!tokenizer_file) return "tokenizer/";
  return "";
}

void ScanCheckpointsFolder(const base::FsRoot& root, const fs::path& folder, ScanResult* out) {
  out->dirs.push_back(folder.string());
  const fs::path run = folder.parent_path();
  for (const fs::path& child : ChildDirs(root, folder)) {
    const std::string name = child.filename().string();
    if (!IsStepName(name)) continue;  // *.tmp, *.old, latest, anything else
    StepDir s;
    s.path = child.string();
    s.run_dir = run.string();
    s.run_name = run.filename().string();
    s.step = std::stoull(name);
    s.missing = Missing(root, child);
    s.complete = s.missing.empty();
    if (s.complete) s.signature = Signature(root, child);
    out->dirs.push_back(s.path);
    if (IsDir(root, child / "tokenizer")) out->dirs.push_back((child / "tokenizer").string());
    out->steps.push_back(std::move(s));
  }
}

}  // namespace

bool IsStepName(const std::string& name) {
  if (name.empty() || name.size() > 19) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

ScanResult ScanWatchDirs(const std::vector<WatchFolder>& watch_dirs) {
  ScanResult out;
  // Checkpoints folders, each scanned once (with the root it was found in).
  std::map<fs::path, const base::FsRoot*> folders;
  for (const WatchFolder& w : watch_dirs) {
    const base::FsRoot& root = w.root;
    const fs::path dir = Normal(w.path);
    if (!IsDir(root, dir)) continue;
    if (IsCheckpointsFolderName(dir.filename().string())) {
      folders.emplace(dir, &root);
      continue;
    }
    out.dirs.push_back(dir.string());
    // The watched folder as a run dir, and each child as a run dir.
    std::vector<fs::path> runs = {dir};
    for (const fs::path& child : ChildDirs(root, dir)) {
      if (IsCheckpointsFolderName(child.filename().string())) continue;
      out.dirs.push_back(child.string());
      runs.push_back(child);
    }
    for (const fs::path& run : runs) {
      for (const char* name : {"model_checkpoints", "checkpoints"}) {
        if (IsDir(root, run / name)) folders.emplace(run / name, &root);
      }
    }
  }
  for (const auto& [f, root] : folders) ScanCheckpointsFolder(*root, f, &out);
  std::stable_sort(out.steps.begin(), out.steps.end(), [](const StepDir& a, const StepDir& b) {
    if (a.step != b.step) return a.step > b.step;
    return a.path < b.path;
  });
  return out;
}

ScanResult ScanWatchDirs(const std::vector<std::string>& watch_dirs) {
  std::vector<WatchFolder> folders;
  for (const auto& d : watch_dirs) folders.push_back({base::FsRoot::Unconfined(), d});
  return ScanWatchDirs(folders);
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
