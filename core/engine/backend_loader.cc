// dlopen of libneobert_engine_torch.so (see backend.h for why).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/engine/backend.h"

namespace neobert::engine {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Candidates() {
  if (const char* env = std::getenv("NEOBERT_ENGINE_LIBRARY"); env != nullptr && *env != '\0') {
    return {env};  // an explicit choice is the only one tried
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {kBackendLibrary};  // the loader's own search path
  const fs::path dir = exe.parent_path();
  return {(dir / kBackendLibrary).string(),
          (dir / ".." / "lib" / "neobert-export" / kBackendLibrary).lexically_normal().string()};
}

absl::StatusOr<const BackendApi*> Open() {
  std::vector<std::string> tried;
  for (const std::string& path : Candidates()) {
    std::error_code ec;
    if (path.find('/') != std::string::npos && !fs::exists(path, ec)) {
      tried.push_back(absl::StrCat(path, " (absent)"));
      continue;
    }
    // RTLD_LOCAL: LibTorch's symbols stay out of the global namespace.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* err = ::dlerror();
      tried.push_back(absl::StrCat(path, " (", err != nullptr ? err : "dlopen failed", ")"));
      continue;
    }
    using EntryFn = const BackendApi* (*)();
    auto entry = reinterpret_cast<EntryFn>(::dlsym(handle, kBackendSymbol));
    const BackendApi* api = entry != nullptr ? entry() : nullptr;
    const BackendApi expected;
    if (api == nullptr || api->abi != expected.abi || api->spec_size != expected.spec_size ||
        api->options_size != expected.options_size || api->tensor_size != expected.tensor_size ||
        api->input_size != expected.input_size || api->create == nullptr ||
        api->visible_cuda_devices == nullptr) {
      tried.push_back(absl::StrCat(path, " (not from this build of neobert-export)"));
      ::dlclose(handle);
      continue;
    }
    return api;  // the handle stays open for the life of the process
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot load the LibTorch engine (", kBackendLibrary, "): tried ", absl::StrJoin(tried, "; "),
      ". Set NEOBERT_ENGINE_LIBRARY to its path"));
}

}  // namespace

absl::StatusOr<const BackendApi*> LoadBackend() {
  static std::once_flag once;
  static absl::StatusOr<const BackendApi*>* result = nullptr;  // never destroyed
  std::call_once(once, [] { result = new absl::StatusOr<const BackendApi*>(Open()); });
  return *result;
}

}  // namespace neobert::engine
