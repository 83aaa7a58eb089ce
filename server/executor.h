// Where jobs run. The job manager hands each job to an Executor; production
// uses a fixed pool of worker threads, tests run jobs inline (or hold them in
// a queue of their own) so state transitions are deterministic.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace neobert::server {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` at some point; must not block for the task to finish (except
  // InlineExecutor, which runs it right here). Thread-safe.
  virtual void Schedule(std::function<void()> task) = 0;
};

// Runs each task on the calling thread before Schedule returns.
class InlineExecutor final : public Executor {
 public:
  void Schedule(std::function<void()> task) override { task(); }
};

// A fixed number of worker threads over one FIFO. The destructor runs every
// task already scheduled, then joins (the job manager cancels jobs first
// when it wants a quick stop).
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int threads);
  ~ThreadPoolExecutor() override;
  void Schedule(std::function<void()> task) override;

 private:
  void WorkerLoop();
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace neobert::server
