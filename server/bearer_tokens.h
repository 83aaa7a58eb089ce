// The bearer tokens the server accepts (--token-file), re-read when the file
// changes so a rotated Kubernetes Secret takes effect without a restart.
//
// File format: one token per line; blank lines and lines whose first
// non-blank character is '#' are ignored; surrounding whitespace is trimmed.
// Every token listed is accepted, so a rotation can overlap: add the new
// token, move the clients over, remove the old one.
//
// Re-reading: each check stat()s the path (following links: a Secret volume
// swaps its `..data` symlink atomically) and re-reads the file when its
// device, inode, size, mtime or ctime changed. A re-read that fails (the file
// missing for a moment mid-rotation, empty, unreadable, not a regular file)
// keeps the tokens read before and is reported once through `log`; the
// server never falls back to accepting anything.
//
// Comparison: the presented "Bearer <token>" header and every accepted one
// are compared as SHA-256 digests with CRYPTO_memcmp, always against every
// token (no early exit), so the time taken does not tell how much of a
// guess was right or which token it was close to.
//
// Thread-safe: Matches may be called from any number of RPC threads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace neobert::server {

// The tokens of a token file's text. INVALID_ARGUMENT naming `path` when
// there are none or one is longer than 4096 bytes.
absl::StatusOr<std::vector<std::string>> ParseTokenFile(absl::string_view text,
                                                        const std::string& path);

class BearerTokens {
 public:
  // Reads `path` now (an error if it cannot be read or holds no token).
  // `log` receives a line when a later re-read fails (`problem` true) or
  // succeeds.
  using Log = std::function<void(bool problem, const std::string& line)>;
  static absl::StatusOr<std::shared_ptr<BearerTokens>> FromFile(const std::string& path,
                                                                Log log = nullptr);
  // A fixed set (tests, embedding).
  static std::shared_ptr<BearerTokens> Fixed(const std::vector<std::string>& tokens);

  // True when `authorization` is "Bearer <t>" for an accepted token t.
  bool Matches(absl::string_view authorization);
  // How many tokens are accepted now.
  size_t size();

 private:
  using Digest = std::array<uint8_t, 32>;
  // What identifies one version of the file.
  struct Version {
    uint64_t dev = 0, ino = 0;
    int64_t size = -1, mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Version&) const = default;
  };
  BearerTokens() = default;
  static Version StatVersion(const std::string& path);
  // Re-reads the file if it changed since the last look.
  void Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Load(const Version& version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string path_;  // empty: a fixed set
  Log log_;
  absl::Mutex mu_;
  std::vector<Digest> digests_ ABSL_GUARDED_BY(mu_);  // of "Bearer <token>"
  Version version_ ABSL_GUARDED_BY(mu_);   // of the file the digests came from
  Version failed_ ABSL_GUARDED_BY(mu_);    // last version that could not be read
};

}  // namespace neobert::server
