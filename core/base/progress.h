// How a long-running operation (an export, a validation, a conversion)
// reports progress and learns it was cancelled. Core code knows nothing of
// RPC: the server adapts these to JobEvents, the CLI to a progress bar or
// JSON lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace neobert::base {

// Receives progress from one operation. Called from the operation's thread
// only; an implementation shared between operations must synchronise itself.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // A new stage begins ("read", "validate", "write", "sanity", "commit", ...).
  // `bytes_total` is the work the stage expects, 0 if unknown.
  virtual void OnStage(const std::string& stage, const std::string& message,
                       uint64_t bytes_total) = 0;
  // Bytes done so far within the current stage.
  virtual void OnBytes(uint64_t bytes_done) = 0;
  // A non-fatal finding the user should see (e.g. a vocab-size mismatch).
  virtual void OnWarning(const std::string& message) = 0;
};

// Discards everything.
class NullProgress final : public ProgressSink {
 public:
  void OnStage(const std::string&, const std::string&, uint64_t) override {}
  void OnBytes(uint64_t) override {}
  void OnWarning(const std::string&) override {}
};

// Cooperative cancellation: the operation polls Check() between tensors or
// files. Thread-safe.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  absl::Status Check() const {
    return cancelled() ? absl::CancelledError("cancelled") : absl::OkStatus();
  }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace neobert::base
