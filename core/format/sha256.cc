#include "core/format/sha256.h"

#include <cstdint>
#include <openssl/evp.h>

#include <vector>

#include "core/base/status_macros.h"

namespace neobert::format {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::Update(absl::Span<const uint8_t> bytes) {
  EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

absl::StatusOr<std::string> TensorSha256(const TensorEntry& t) {
  Sha256 h;
  RETURN_IF_ERROR(ForEachContiguousChunk(t, [&](absl::Span<const uint8_t> c) {
    h.Update(c);
    return absl::OkStatus();
  }));
  return h.HexDigest();
}

absl::StatusOr<std::string> FileSha256(const base::FsRoot& root, const std::string& path) {
  ASSIGN_OR_RETURN(auto src, FileSource::Open(root, path));
  Sha256 h;
  std::vector<uint8_t> buf(std::min<uint64_t>(src->size(), 8 << 20));
  for (uint64_t off = 0; off < src->size();) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(src->size() - off, buf.size()));
    RETURN_IF_ERROR(src->ReadAt(off, absl::MakeSpan(buf.data(), n)));
    h.Update(absl::MakeConstSpan(buf.data(), n));
    off += n;
  }
  return h.HexDigest();
}

}  // namespace neobert::format
