// Helpers shared by the server tests: a temp dir, an executor that holds
// tasks until told to run them, and a runner whose jobs block until released.
#pragma once

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <atomic>
#include <fstream>
#include <unistd.h>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/executor.h"
#include "server/job_manager.h"
#include "server/store/drivers.h"

namespace neobert::server::testing {

inline std::string MakeTempDir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("neobert-" + tag + "-XXXXXX")).string();
  char* p = mkdtemp(tmpl.data());
  return p ? std::string(p) : std::string();
}

// $NEOBERT_FIXTURES (ctest sets it), else <build>/fixtures (where the ctest
// fixture writes them; a test binary run by hand).
inline std::string FixturesDir() {
  const char* env = std::getenv("NEOBERT_FIXTURES");
  if (env && *env) return env;
#ifdef NEOBERT_BINARY_DIR
  if (std::filesystem::exists(std::string(NEOBERT_BINARY_DIR) + "/fixtures/index.json")) {
    return std::string(NEOBERT_BINARY_DIR) + "/fixtures";
  }
#endif
  return "";
}

// The DSN of the test PostgreSQL (scripts/pg_test_cluster.sh, started by
// CTest's fixture into <build>/pg/dsn), or $NEOBERT_TEST_PG_DSN; "" if none.
inline std::string PostgresDsn() {
  if (const char* env = std::getenv("NEOBERT_TEST_PG_DSN"); env && *env) return env;
#ifdef NEOBERT_BINARY_DIR
  std::ifstream in(std::string(NEOBERT_BINARY_DIR) + "/pg/dsn");
  std::string dsn;
  if (in && std::getline(in, dsn)) return dsn;
#endif
  return "";
}

// A new, empty database on the test PostgreSQL (each test its own); its DSN,
// or "" when no test PostgreSQL runs.
inline std::string FreshPostgresDatabase(const std::string& tag) {
  const std::string base = PostgresDsn();
  if (base.empty()) return "";
  static std::atomic<int> counter{0};
  const std::string name = "t_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  auto admin = sql::OpenPostgres(base, "test PostgreSQL");
  if (!admin.ok()) return "";
  if (!(*admin)->Script("DROP DATABASE IF EXISTS " + name).ok() ||
      !(*admin)->Script("CREATE DATABASE " + name).ok()) {
    return "";
  }
  return base.substr(0, base.rfind('/') + 1) + name;
}

// Holds scheduled tasks until RunOne/RunAll (on the calling thread).
class ManualExecutor final : public Executor {
 public:
  void Schedule(std::function<void()> task) override {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }
  bool RunOne() {
    std::function<void()> t;
    {
      absl::MutexLock lock(&mu_);
      if (tasks_.empty()) return false;
      t = std::move(tasks_.front());
      tasks_.pop_front();
    }
    t();
    return true;
  }
  void RunAll() {
    while (RunOne()) {
    }
  }
  size_t pending() {
    absl::MutexLock lock(&mu_);
    return tasks_.size();
  }

 private:
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
};

// A runner that reports a stage and some bytes, then waits for Release()
// (or for cancellation) before succeeding.
class GatedRunner {
 public:
  JobRunner AsRunner() {
    return [this](const JobSpec& spec, JobProgress& sink,
                  const base::CancelToken& cancel) -> absl::StatusOr<core::ExportResult> {
      sink.OnStage("write", "writing", 100);
      sink.OnBytes(50);
      sink.OnWarning("a warning");
      std::call_once(started_once_, [this] { started_.Notify(); });
      while (!release_.WaitForNotificationWithTimeout(absl::Milliseconds(5))) {
        if (cancel.cancelled()) return cancel.Check();
      }
      if (fail_) return absl::InvalidArgumentError("bad checkpoint (test)");
      sink.OnBytes(100);
      core::ExportResult r;
      r.output_dir = spec.export_options()->output_dir;
      r.files.push_back({"config.json", 3, "abc"});
      r.notes.push_back("note");
      return r;
    };
  }
  void WaitStarted() { started_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  void FailOnRelease() { fail_ = true; }

 private:
  std::once_flag started_once_;
  absl::Notification started_;
  absl::Notification release_;
  bool fail_ = false;
};

// A test run on each job store backend: GetParam() "sqlite" (a temporary
// state dir) or "postgres" (a fresh database on the test PostgreSQL; the
// test is skipped when none runs).
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    state_ = MakeTempDir("backend");
    if (postgres()) {
      dsn_ = FreshPostgresDatabase("backend");
      if (dsn_.empty()) GTEST_SKIP() << "no test PostgreSQL (run through ctest, or set NEOBERT_TEST_PG_DSN)";
    }
  }
  void TearDown() override { std::filesystem::remove_all(state_); }
  bool postgres() const { return GetParam() == "postgres"; }
  // --job-store for this backend.
  std::string store_spec() const { return postgres() ? dsn_ : "sqlite"; }

  std::string state_, dsn_;
};

// JobManagers (servers) over the backend's store: short leases and polls.
class ManagerBackendTest : public BackendTest {
 protected:
  JobManagerOptions Options(JobRunner runner, std::unique_ptr<Executor> exec, const std::string& name) {
    JobManagerOptions o;
    o.job_store = store_spec();
    o.state_dir = state_;
    o.sync = false;
    o.executor = std::move(exec);
    o.runner = std::move(runner);
    o.replica_id = name;
    o.lease = absl::Seconds(2);
    o.poll = absl::Milliseconds(20);
    return o;
  }
  std::unique_ptr<JobManager> Make(JobManagerOptions o) {
    auto m = JobManager::Create(std::move(o));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }
  // Polls (with a generous deadline) until the job is in `want`.
  static bool WaitState(JobManager& m, const std::string& id, JobState want,
                        absl::Duration deadline = absl::Seconds(60)) {
    const absl::Time end = absl::Now() + deadline;
    while (absl::Now() < end) {
      auto j = m.Get(id);
      if (j.ok() && j->state == want) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
};

inline JobSpec ExportSpec(const std::string& ckpt, const std::string& out,
                          const std::string& key = "") {
  core::ExportOptions o;
  o.checkpoint_dir = ckpt;
  o.output_dir = out;
  return JobSpec{.options = std::move(o), .idempotency_key = key};
}

}  // namespace neobert::server::testing
