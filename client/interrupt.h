// Ctrl-C while the CLI follows a server job.
//
// The job runs on the server, so a Ctrl-C must not silently abandon (or
// silently cancel) it. InterruptGuard installs a SIGINT handler that only
// writes a byte to a pipe (async-signal-safe); a helper thread reads the pipe.
// A handler, not a blocked mask + sigwait: threads that libraries start
// before main (OpenBLAS's pool) never block the signal, and a blocked-mask
// scheme lets the default action kill the process through them. A Ctrl-C
// cancels the armed ClientContext (the local stream ends at once); the
// caller then asks whether to cancel the job itself (or
// --cancel-on-interrupt decides).
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
  ~InterruptGuard();  // stops the helper thread and restores the old handler
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
  struct sigaction old_action_ {};
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
