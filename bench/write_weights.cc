// neobert-bench-write: the format half of an export in one process, for
// bench/run_benchmarks.py. Reads a weight file (any supported format) and
// writes model.safetensors and pytorch_model.bin into OUT_DIR with
// core::WriteWeightFiles — the exporter's own writer, both files at once on
// two threads — without the NeoBERT checks, key mapping, NaN scan, tokenizer
// or manifest. Prints one JSON line with the read and write times.
//
//   neobert-bench-write IN OUT_DIR [--no-fsync] [--no-bin]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/base/progress.h"
#include "core/export/weight_files.h"
#include "core/format/weights.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  std::string in, out;
  bool sync = true, bin = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-fsync") {
      sync = false;
    } else if (a == "--no-bin") {
      bin = false;
    } else if (in.empty()) {
      in = a;
    } else if (out.empty()) {
      out = a;
    } else {
      in.clear();
      break;
    }
  }
  if (in.empty() || out.empty()) {
    std::fprintf(stderr, "usage: neobert-bench-write IN OUT_DIR [--no-fsync] [--no-bin]\n");
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot create %s: %s\n", out.c_str(), ec.message().c_str());
    return 1;
  }
  const auto t0 = Clock::now();
  auto set = neobert::format::ReadWeights(neobert::base::FsRoot(), in);
  if (!set.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(set.status().message()).c_str());
    return 1;
  }
  const auto t1 = Clock::now();
  base::NullProgress progress;
  base::CancelToken cancel;
  const auto plan = neobert::core::PlanWeightFiles(
      set->tensors, {.pytorch_bin_name = bin ? "pytorch_model.bin" : ""});
  auto files = neobert::core::WriteWeightFiles(set->tensors, plan,
                                               {.dir = out, .sync = sync, .writeback = sync},
                                               progress, cancel);
  if (!files.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(files.status().message()).c_str());
    return 1;
  }
  const auto t2 = Clock::now();
  const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("{\"tensors\": %zu, \"files\": %zu, \"read_s\": %.3f, \"write_s\": %.3f}\n",
              set->tensors.size(), files->size(), secs(t0, t1), secs(t1, t2));
  return 0;
}
