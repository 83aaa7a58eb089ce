// How a long-running job reports progress and learns it was cancelled.
// Core code knows nothing of RPC: the server adapts these to JobEvents, the
// CLI to a progress bar or JSON lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace neobert::core {

struct ExportResult;

// Receives progress from one job. Called from the job's thread only; an
// implementation shared between jobs must synchronise itself.
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
  // A job that is about to fail hands over what it found by then (notes,
  // warnings, a failed validation report), so the failure keeps them. At
  // most once, just before the job returns its error. Default: ignored.
  virtual void OnPartialResult(const ExportResult& /*partial*/) {}
};

// Discards everything.
class NullProgress final : public ProgressSink {
 public:
  void OnStage(const std::string&, const std::string&, uint64_t) override {}
  void OnBytes(uint64_t) override {}
  void OnWarning(const std::string&) override {}
};

// Cooperative cancellation: the job polls Check() between tensors/files.
// Thread-safe.
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

}  // namespace neobert::core
