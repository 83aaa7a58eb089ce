#include "client/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

namespace neobert::cli {

InterruptGuard::InterruptGuard() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  thread_ = std::thread([this] { Loop(); });
}

InterruptGuard::~InterruptGuard() {
  stop_.store(true);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void InterruptGuard::Loop() {
  const timespec tick{0, 100 * 1000 * 1000};
  while (!stop_.load()) {
    if (sigtimedwait(&set_, nullptr, &tick) != SIGINT) continue;
    interrupted_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    if (armed_) armed_->TryCancel();
  }
}

void InterruptGuard::Arm(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = ctx;
  if (interrupted_.load()) ctx->TryCancel();
}

void InterruptGuard::Disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = nullptr;
}

bool AskYesNo(const std::string& question) {
  if (!::isatty(STDIN_FILENO)) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

}  // namespace neobert::cli
