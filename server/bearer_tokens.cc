#include "server/bearer_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>


#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/fs_root.h"
#include "core/base/status_macros.h"

namespace neobert::server {
namespace {

constexpr size_t kMaxTokenBytes = 4096;
constexpr uint64_t kMaxTokenFileBytes = 1 << 20;

std::array<uint8_t, 32> DigestOf(absl::string_view text) {
  std::array<uint8_t, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
  return d;
}

}  // namespace

BearerTokens::Version BearerTokens::StatVersion(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Version{};
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_size),
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
          int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

absl::StatusOr<std::vector<std::string>> ParseTokenFile(absl::string_view text,
                                                        const std::string& path) {
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > kMaxTokenBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file '", path, "': a token is longer than ", kMaxTokenBytes,
                       " bytes"));
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file '", path, "' holds no token"));
  }
  return tokens;
}

absl::StatusOr<std::shared_ptr<BearerTokens>> BearerTokens::FromFile(const std::string& path,
                                                                      Log log) {
  std::shared_ptr<BearerTokens> t(new BearerTokens());
  t->path_ = path;
  t->log_ = std::move(log);
  absl::MutexLock lock(&t->mu_);
  RETURN_IF_ERROR(t->Load(StatVersion(path)));
  return t;
}

std::shared_ptr<BearerTokens> BearerTokens::Fixed(const std::vector<std::string>& tokens) {
  std::shared_ptr<BearerTokens> t(new BearerTokens());
  absl::MutexLock lock(&t->mu_);
  for (const auto& token : tokens) t->digests_.push_back(DigestOf("Bearer " + token));
  return t;
}

absl::Status BearerTokens::Load(const Version& version) {
  ASSIGN_OR_RETURN(const std::string text,
                   base::FsRoot::Unconfined().ReadFile(path_, kMaxTokenFileBytes), "token file");
  ASSIGN_OR_RETURN(auto tokens, ParseTokenFile(text, path_));
  std::vector<Digest> digests;
  for (const auto& token : tokens) digests.push_back(DigestOf("Bearer " + token));
  digests_ = std::move(digests);
  version_ = version;
  return absl::OkStatus();
}

void BearerTokens::Refresh() {
  if (path_.empty()) return;
  const Version now = StatVersion(path_);
  if (now == version_ || now == failed_) return;
  if (now.size < 0) {  // gone for now (a rotation in progress)
    if (log_) {
      log_(true, absl::StrCat("token file ", path_,
                              " cannot be found; keeping the tokens read before"));
    }
    failed_ = now;
    return;
  }
  if (absl::Status s = Load(now); !s.ok()) {
    if (log_) log_(true, absl::StrCat(s.message(), "; keeping the tokens read before"));
    failed_ = now;
    return;
  }
  failed_ = Version{};
  if (log_) {
    log_(false, absl::StrCat("token file ", path_, " re-read: ", digests_.size(), " token(s)"));
  }
}

bool BearerTokens::Matches(absl::string_view authorization) {
  const Digest presented = DigestOf(authorization);
  absl::MutexLock lock(&mu_);
  Refresh();
  int matched = 0;
  for (const Digest& d : digests_) {
    matched |= CRYPTO_memcmp(presented.data(), d.data(), d.size()) == 0 ? 1 : 0;
  }
  return matched != 0;
}

size_t BearerTokens::size() {
  absl::MutexLock lock(&mu_);
  Refresh();
  return digests_.size();
}

}  // namespace neobert::server
