// Progress output for the CLI: a live bar on a terminal, JSON lines with
// --json (or when stderr is not a terminal and JSON was asked for), plain
// stage lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/base/progress.h"

namespace neobert::cli {

class ProgressPrinter final : public base::ProgressSink {
 public:
  enum class Mode { kBar, kLines, kJson };
  // kBar when stderr is a TTY and !json; kJson when json; else kLines.
  static Mode ChooseMode(bool json);
  explicit ProgressPrinter(Mode mode);
  ~ProgressPrinter() override;

  void OnStage(const std::string& stage, const std::string& message,
               uint64_t bytes_total) override;
  void OnBytes(uint64_t bytes_done) override;
  void OnWarning(const std::string& message) override;
  // Ends the bar line (call before printing the result).
  void Finish();

 private:
  void DrawBar(bool force);
  Mode mode_;
  std::string stage_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point stage_start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace neobert::cli
