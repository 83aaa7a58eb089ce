// Watch mode's pure half: which step directories exist below a watched
// folder, which of them are complete, and which have stopped changing. No
// threads, no inotify, no clock of its own (callers pass the time), so the
// rules are unit-tested directly (tests/server/step_scanner_test.cc).
//
// A watched folder may be (reference §1.1):
//   - a checkpoints folder itself: a folder named `model_checkpoints`
//     (a5f0198 … b383cf5) or `checkpoints` (34f6a02+);
//   - a training run's output dir holding one or both of those;
//   - a folder of run dirs (each child scanned as a run dir), so one sidecar
//     can follow runs that start after it.
// Step directories are the children of a checkpoints folder whose names are
// all digits. `<step>.tmp` (being written by the older trainer), `<step>.old`
// (its promotion backup) and every other name are ignored (reference §1.2).
//
// Complete = config.yaml, a non-empty weight file (model.safetensors or
// state_dict.pt) or DeepSpeed ZeRO files (which the exporter refuses, naming
// zero_to_fp32: a job that fails once beats a step that waits silently), and
// a non-empty tokenizer/ folder. An Accelerate-only
// `checkpoints/<step>` (resume state of the older trainers, no config.yaml)
// is therefore never complete. Completeness alone is not enough for the
// newer trainer, which writes straight into the step dir: a step counts as
// finished only when its signature (relative path, size and mtime of every
// file in it) is the same in two scans at least `settle` apart.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/base/fs_root.h"

namespace neobert::server {

struct StepDir {
  std::string path;      // <checkpoints folder>/<step>, as found (not canonicalised)
  std::string run_dir;   // the folder holding the checkpoints folder
  std::string run_name;  // its name: the <run> of <run>_<step>
  uint64_t step = 0;
  bool complete = false;
  std::string missing;    // when incomplete: what is missing (for logs)
  std::string signature;  // (path, size, mtime_ns) of every file, in order
};

struct ScanResult {
  // Every numeric step dir found, complete or not, newest step first (ties:
  // by path, so the order is stable).
  std::vector<StepDir> steps;
  // Every existing folder whose changes matter (watched folder, run dirs,
  // checkpoints folders, step dirs and their tokenizer/ folders): what an
  // inotify watcher should watch.
  std::vector<std::string> dirs;
};

// True for the names of step directories: non-empty, all ASCII digits, at
// most 19 of them (fits uint64).
bool IsStepName(const std::string& name);

// A watched folder and the root it lies beneath: everything below it is
// listed and stat()ed through that root's door (core/base/fs_root.h), so
// a link in a run folder cannot make the scan look outside the root.
struct WatchFolder {
  base::FsRoot root;
  std::string path;
};

// Scans the watched folders (missing ones are skipped: a sidecar may start
// before the trainer creates its output dir). Never throws; unreadable
// folders, and links that leave their root, are skipped.
ScanResult ScanWatchDirs(const std::vector<WatchFolder>& watch_dirs);
// The same for folders on the whole file system (tests, tools).
ScanResult ScanWatchDirs(const std::vector<std::string>& watch_dirs);

// Tells which complete steps have stopped changing.
class StabilityTracker {
 public:
  explicit StabilityTracker(absl::Duration settle) : settle_(settle) {}

  // Feeds one scan taken at `now`. Returns the complete steps whose
  // signature was first seen at least `settle` before `now` and is still the
  // same, in the scan's (newest first) order. Steps absent from the scan are
  // forgotten.
  std::vector<StepDir> Update(const std::vector<StepDir>& scan, absl::Time now);

  // True when some complete step is waiting to settle: the caller should
  // scan again after `settle` even if nothing else happens.
  bool settling() const { return settling_; }

 private:
  struct Seen {
    std::string signature;
    absl::Time since;
  };
  absl::Duration settle_;
  std::map<std::string, Seen> seen_;  // by step path
  bool settling_ = false;
};

}  // namespace neobert::server
