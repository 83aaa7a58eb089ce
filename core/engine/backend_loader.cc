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
        api->visible_cuda_devices == nullptr || api->set_cpu_threads == nullptr) {
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

// SetCpuThreads' wish (-1: none) and the loaded API, so that the wish is
// applied exactly once the library is there, whichever comes first.
std::mutex g_threads_mu;
int g_cpu_threads = -1;                 // guarded by g_threads_mu
const BackendApi* g_loaded = nullptr;   // guarded by g_threads_mu

}  // namespace

absl::StatusOr<const BackendApi*> LoadBackend() {
  static std::once_flag once;
  static absl::StatusOr<const BackendApi*>* result = nullptr;  // never destroyed
  std::call_once(once, [] {
    result = new absl::StatusOr<const BackendApi*>(Open());
    if (!result->ok()) return;
    std::lock_guard<std::mutex> lock(g_threads_mu);
    g_loaded = **result;
    if (g_cpu_threads >= 0) g_loaded->set_cpu_threads(g_cpu_threads);
  });
  return *result;
}

void SetCpuThreads(int threads) {
  std::lock_guard<std::mutex> lock(g_threads_mu);
  g_cpu_threads = threads < 0 ? 0 : threads;
  if (g_loaded != nullptr) g_loaded->set_cpu_threads(g_cpu_threads);
}

}  // namespace neobert::engine
