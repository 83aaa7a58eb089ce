#include "core/export/test_hooks.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace neobert::core {

void TestPausePoint(const char* point, const base::CancelToken& cancel) {
  static const char* const dir = std::getenv("NEOBERT_EXPORT_TEST_PAUSE_DIR");
  if (dir == nullptr || *dir == '\0') return;
  namespace fs = std::filesystem;
  const fs::path gate = fs::path(dir) / point;
  std::error_code ec;
  if (!fs::exists(gate, ec)) return;
  std::ofstream(fs::path(dir) / (std::string(point) + ".reached")) << "reached\n";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (fs::exists(gate, ec) && !cancel.cancelled() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace neobert::core
