#include "client/progress_printer.h"

#include <cstdint>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {

ProgressPrinter::Mode ProgressPrinter::ChooseMode(bool json) {
  if (json) return Mode::kJson;
  return ::isatty(STDERR_FILENO) ? Mode::kBar : Mode::kLines;
}

ProgressPrinter::ProgressPrinter(Mode mode) : mode_(mode) {}
ProgressPrinter::~ProgressPrinter() { Finish(); }

void ProgressPrinter::OnStage(const std::string& stage, const std::string& message,
                              uint64_t bytes_total) {
  Finish();
  stage_ = stage;
  total_ = bytes_total;
  done_ = 0;
  stage_start_ = std::chrono::steady_clock::now();
  switch (mode_) {
    case Mode::kJson:
      std::cout << nlohmann::json{{"event", "stage"}, {"stage", stage}, {"message", message},
                                  {"bytes_total", bytes_total}}
                       .dump()
                << std::endl;
      break;
    case Mode::kLines:
    case Mode::kBar:
      std::cerr << absl::StrFormat("[%s] %s\n", stage, message);
      break;
  }
}

void ProgressPrinter::OnBytes(uint64_t bytes_done) {
  done_ = bytes_done;
  if (mode_ == Mode::kBar && total_ > 0) {
    DrawBar(false);
  } else if (mode_ == Mode::kJson && total_ > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(200) && done_ < total_) return;
    last_draw_ = now;
    std::cout << nlohmann::json{{"event", "progress"}, {"stage", stage_}, {"bytes_done", done_},
                                {"bytes_total", total_}}
                     .dump()
              << std::endl;
  }
}

void ProgressPrinter::OnWarning(const std::string& message) {
  Finish();
  if (mode_ == Mode::kJson) {
    std::cout << nlohmann::json{{"event", "warning"}, {"message", message}}.dump() << std::endl;
  } else {
    std::cerr << "warning: " << message << "\n";
  }
}

void ProgressPrinter::DrawBar(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double secs = std::chrono::duration<double>(now - stage_start_).count();
  const double mbps = secs > 0 ? static_cast<double>(done_) / (1 << 20) / secs : 0.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::cerr << absl::StrFormat("\r  %-8s [%s] %5.1f%%  %8.1f MiB  %7.1f MiB/s", stage_, bar,
                               100.0 * frac, static_cast<double>(done_) / (1 << 20), mbps)
            << std::flush;
  bar_open_ = true;
}

void ProgressPrinter::Finish() {
  if (bar_open_) {
    DrawBar(true);
    std::cerr << "\n";
    bar_open_ = false;
  }
}

}  // namespace neobert::cli
