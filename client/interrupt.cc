#include "client/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <cerrno>
#include <unistd.h>

#include <iostream>

namespace neobert::cli {
namespace {

// The write end for the handler; one guard at a time (the CLI runs one
// command per process).
int g_pipe[2] = {-1, -1};

void OnSigint(int) {
  const int saved = errno;
  char c = 1;
  (void)!::write(g_pipe[1], &c, 1);
  errno = saved;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_action_);
  thread_ = std::thread([this] { Loop(); });
}

InterruptGuard::~InterruptGuard() {
  stop_.store(true);
  thread_.join();
  ::sigaction(SIGINT, &old_action_, nullptr);
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
}

void InterruptGuard::Loop() {
  while (!stop_.load()) {
    pollfd p{g_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[16];
    if (::read(g_pipe[0], buf, sizeof(buf)) <= 0) continue;
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
