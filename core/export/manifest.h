// manifest.json: what an export contains and where it came from.
//
// {
//   "manifest_version": 1,
//   "tool": "neobert-export 0.1.0",
//   "source": {"checkpoint": "/abs/ckpt", "weights": "state_dict.pt",
//              "fingerprint": "<sha256 over (name, size, mtime_ns) of every input file>"},
//   "options": {"dtype": "keep", ...},          // every option that changes the output
//   "files": [{"name": "config.json", "size": 123, "sha256": "..."}, ...]
// }
// A repeat export of the same source with the same options finds an identical
// source+options pair in the destination's manifest and is skipped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::core {

struct FileRecord {
  std::string name;  // relative to the export directory
  uint64_t size = 0;
  std::string sha256;
};

struct Manifest {
  std::string tool;
  std::string checkpoint;   // absolute source checkpoint directory
  std::string weights;      // weight file name inside it
  std::string fingerprint;  // see SourceFingerprint
  std::map<std::string, std::string> options;
  std::vector<FileRecord> files;
};

inline constexpr char kManifestName[] = "manifest.json";

// Every function below that takes a directory reaches it, and the files in
// it, through the door beneath `root` (core/base/fs_root.h).

std::string ManifestToJson(const Manifest& m);
// `quote`: parse errors may carry a short excerpt of the failing line.
absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& origin,
                                       bool quote = true);
absl::StatusOr<Manifest> ReadManifest(const base::FsRoot& root, const std::string& export_dir);

// sha256 over the sorted (relative path, size, mtime_ns) of `files` (paths
// relative to `dir`): changes whenever an input file is rewritten.
absl::StatusOr<std::string> SourceFingerprint(const base::FsRoot& root, const std::string& dir,
                                              const std::vector<std::string>& files);

// Hashes the named files of `dir`, two at a time (hashing large weight files
// on both cores halves the wall time). Files in `known` (name -> hex digest,
// computed while they were written) are only sized, not read.
absl::StatusOr<std::vector<FileRecord>> HashFiles(
    const base::FsRoot& root, const std::string& dir, const std::vector<std::string>& names,
    const std::map<std::string, std::string>& known = {});

// Checks that every file listed exists with its size and sha256. The error
// names the first file that differs.
absl::Status VerifyManifestFiles(const base::FsRoot& root, const std::string& dir,
                                 const Manifest& m);

}  // namespace neobert::core
