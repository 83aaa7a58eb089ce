// Helpers for the export pipeline tests: the generated fixture checkpoints
// (tests/fixtures, made by real torch.save), a scratch folder holding a
// copy of one, and small file helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/export/export_options.h"
#include "core/base/progress.h"
#include "tests/format/writer_test_util.h"

namespace neobert::core::testing {

namespace fs = std::filesystem;

// $NEOBERT_FIXTURES, else <build>/fixtures (gtest_discover_tests passes only
// the first ENVIRONMENT entry, so under ctest the variable is not set). The
// tests need them: ctest runs fixtures.generate first (FIXTURES_REQUIRED).
inline std::string FixturesRoot() {
  const char* env = std::getenv("NEOBERT_FIXTURES");
  if (env != nullptr && *env != '\0') return env;
  return std::string(NEOBERT_BINARY_DIR) + "/fixtures";
}

// A scratch folder with a copy of fixture `variant` at ckpt() and room for
// exports beside it (out(name)).
class CheckpointCopy {
 public:
  explicit CheckpointCopy(const std::string& variant = "fp32_swiglu_rope_rms") {
    const std::string from = FixturesRoot() + "/" + variant;
    std::error_code ec;
    if (!fs::is_directory(from, ec)) {
      ADD_FAILURE() << "no fixture " << from << ": run `ctest -R fixtures` first";
      return;
    }
    fs::copy(from, ckpt(), fs::copy_options::recursive, ec);
    if (ec) ADD_FAILURE() << "cannot copy " << from << ": " << ec.message();
  }
  std::string ckpt() const { return dir_.file("ckpt"); }
  std::string out(const std::string& name = "out") const { return dir_.file(name); }
  const std::string& root() const { return dir_.path(); }

 private:
  format::testing::ScratchDir dir_;
};

// A test with a fresh copy of one fixture checkpoint (`c`), quiet progress
// and a cancel token; Options() exports it to c.out() quickly (no sanity
// pass, no fsync).
class ExportTest : public ::testing::Test {
 protected:
  ExportOptions Options() const {
    ExportOptions o;
    o.checkpoint_dir = c.ckpt();
    o.output_dir = c.out();
    o.sanity_check = false;
    o.sync = false;
    return o;
  }
  CheckpointCopy c;
  base::NullProgress progress;
  base::CancelToken cancel;
};

// The names of the entries of `dir` (empty when it does not exist).
inline std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
  return names;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace neobert::core::testing
