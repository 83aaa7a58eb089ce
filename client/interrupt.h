// Ctrl-C while the CLI follows a server job.
//
// The job runs on the server, so a Ctrl-C must not silently abandon (or
// silently cancel) it. InterruptGuard blocks SIGINT in the calling thread —
// construct it before the first gRPC call so gRPC's own threads inherit the
// mask — and takes it on a helper thread with sigtimedwait. A Ctrl-C cancels
// the armed ClientContext (the local stream ends at once); the caller then
// asks whether to cancel the job itself (or --cancel-on-interrupt decides).
#pragma once

#include <signal.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "grpcpp/client_context.h"

namespace neobert::cli {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();  // stops the helper thread and restores the signal mask
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // A Ctrl-C from now on calls ctx->TryCancel(); `ctx` must outlive Disarm().
  void Arm(grpc::ClientContext* ctx);
  void Disarm();
  // A Ctrl-C arrived since construction or the last Reset().
  bool interrupted() const { return interrupted_.load(); }
  void Reset() { interrupted_.store(false); }

 private:
  void Loop();
  sigset_t set_{};
  sigset_t old_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
  std::mutex mu_;
  grpc::ClientContext* armed_ = nullptr;  // guarded by mu_
  std::thread thread_;
};

// Asks `question` on the terminal; true only for an answer starting with y/Y.
// False without asking when stdin is not a terminal.
bool AskYesNo(const std::string& question);

}  // namespace neobert::cli
