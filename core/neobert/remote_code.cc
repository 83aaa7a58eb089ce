#include "core/neobert/remote_code.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace neobert::embedded {
struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile kEmbeddedFiles[];
}  // namespace neobert::embedded

namespace neobert::core {

const std::vector<std::string>& RemoteCodeFileNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto* f = embedded::kEmbeddedFiles; f->name != nullptr; ++f) {
      names.push_back(f->name);
    }
    return names;
  }();
  return kNames;
}

absl::StatusOr<std::string> RemoteCodeFile(const std::string& name) {
  for (const auto* f = embedded::kEmbeddedFiles; f->name != nullptr; ++f) {
    if (name == f->name) return std::string(reinterpret_cast<const char*>(f->data), f->size);
  }
  return absl::NotFoundError(absl::StrCat("no embedded remote-code file '", name, "'"));
}

}  // namespace neobert::core
