#include "server/job_manager.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "server/store/job_codec.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {

using testing::ExportSpec;
using testing::GatedRunner;
using testing::ManualExecutor;

struct Harness {
  ManualExecutor* exec = nullptr;
  std::unique_ptr<JobManager> jobs;
};

Harness Make(JobRunner runner, int capacity = 16, const std::string& state_dir = "") {
  Harness h;
  auto exec = std::make_unique<ManualExecutor>();
  h.exec = exec.get();
  JobManagerOptions o;
  o.queue_capacity = capacity;
  o.state_dir = state_dir;
  o.executor = std::move(exec);
  o.runner = std::move(runner);
  auto m = JobManager::Create(std::move(o));
  EXPECT_TRUE(m.ok()) << m.status();
  h.jobs = std::move(*m);
  return h;
}

std::vector<JobEvent> Drain(EventStream& s) {
  std::vector<JobEvent> out;
  while (!s.done()) {
    auto e = s.Next(absl::Seconds(10));
    if (!e) break;
    out.push_back(*e);
  }
  return out;
}

TEST(JobManager, QueuedRunningSucceededWithEvents) {
  GatedRunner gate;
  Harness h = Make(gate.AsRunner());
  auto job = h.jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kQueued);
  auto watch1 = h.jobs->Watch(job->id);
  auto watch2 = h.jobs->Watch(job->id);
  ASSERT_TRUE(watch1.ok() && watch2.ok());
  std::thread worker([&] { h.exec->RunOne(); });
  gate.WaitStarted();
  EXPECT_EQ(h.jobs->Get(job->id)->state, JobState::kRunning);
  gate.Release();
  worker.join();
  auto done = h.jobs->Get(job->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kSucceeded);
  ASSERT_TRUE(done->result.has_value());
  EXPECT_EQ(done->result->output_dir, "/out/a");
  EXPECT_GT(done->finished_unix_ms, 0);
  for (auto* w : {&*watch1, &*watch2}) {
    auto events = Drain(**w);
    ASSERT_GE(events.size(), 5u);
    EXPECT_EQ(events.front().state, JobState::kQueued);
    EXPECT_EQ(events[1].state, JobState::kRunning);
    bool saw_warning = false, saw_half = false;
    for (const auto& e : events) {
      saw_warning |= e.warning == "a warning";
      saw_half |= e.percent == 50.0 && e.stage == "write";
    }
    EXPECT_TRUE(saw_warning);
    EXPECT_TRUE(saw_half);
    EXPECT_TRUE(events.back().final);
    EXPECT_EQ(events.back().state, JobState::kSucceeded);
    ASSERT_TRUE(events.back().result.has_value());
    for (size_t i = 2; i < events.size(); ++i) EXPECT_GT(events[i].sequence, events[i - 1].sequence);
  }
  // A watcher arriving after the end gets the final event at once.
  auto late = h.jobs->Watch(job->id);
  auto events = Drain(**late);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].final);
  EXPECT_EQ(events[0].state, JobState::kSucceeded);
}

TEST(JobManager, FailedJobCarriesItsStatus) {
  GatedRunner gate;
  gate.FailOnRelease();
  gate.Release();
  Harness h = Make(gate.AsRunner());
  auto job = h.jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok());
  h.exec->RunAll();
  auto j = h.jobs->Get(job->id);
  EXPECT_EQ(j->state, JobState::kFailed);
  EXPECT_EQ(j->error.code(), absl::StatusCode::kInvalidArgument);
  // A failed job is not reused for an equal request: a retry is a new job.
  auto again = h.jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->id, job->id);
}

TEST(JobManager, QueueFullIsResourceExhausted) {
  GatedRunner gate;
  Harness h = Make(gate.AsRunner(), /*capacity=*/2);
  ASSERT_TRUE(h.jobs->Submit(ExportSpec("/in/a", "/out/1")).ok());
  ASSERT_TRUE(h.jobs->Submit(ExportSpec("/in/a", "/out/2")).ok());
  auto third = h.jobs->Submit(ExportSpec("/in/a", "/out/3"));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  // An equal request is answered from the queue even when it is full.
  bool dedup = false;
  auto same = h.jobs->Submit(ExportSpec("/in/a", "/out/1"), &dedup);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(dedup);
  // Cancelling one frees its slot.
  auto list = h.jobs->List(JobState::kQueued, "");
  ASSERT_EQ(list.size(), 2u);
  ASSERT_TRUE(h.jobs->Cancel(list[0].id).ok());
  EXPECT_TRUE(h.jobs->Submit(ExportSpec("/in/a", "/out/3")).ok());
}

TEST(JobManager, CancelQueuedRunningAndFinished) {
  GatedRunner gate;
  Harness h = Make(gate.AsRunner());
  auto a = h.jobs->Submit(ExportSpec("/in/a", "/out/a"));
  auto b = h.jobs->Submit(ExportSpec("/in/b", "/out/b"));
  ASSERT_TRUE(a.ok() && b.ok());
  // b is cancelled while still queued: CANCELLED at once, its task a no-op.
  auto cb = h.jobs->Cancel(b->id);
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb->state, JobState::kCancelled);
  // a is cancelled while running: the token stops it.
  std::thread worker([&] { h.exec->RunAll(); });
  gate.WaitStarted();
  auto ca = h.jobs->Cancel(a->id);
  ASSERT_TRUE(ca.ok());
  worker.join();
  EXPECT_EQ(h.jobs->Get(a->id)->state, JobState::kCancelled);
  EXPECT_EQ(h.jobs->Get(b->id)->state, JobState::kCancelled);
  EXPECT_EQ(h.jobs->Cancel(a->id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.jobs->Cancel("job-nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(h.jobs->Get("job-nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(h.jobs->Watch("job-nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobManager, DisconnectedWatcherDoesNotCancel) {
  GatedRunner gate;
  gate.Release();
  Harness h = Make(gate.AsRunner());
  auto job = h.jobs->Submit(ExportSpec("/in/a", "/out/a"));
  {
    auto w = h.jobs->Watch(job->id);
    ASSERT_TRUE(w.ok());
  }  // the watcher is gone
  h.exec->RunAll();
  EXPECT_EQ(h.jobs->Get(job->id)->state, JobState::kSucceeded);
}

TEST(JobManager, Idempotency) {
  GatedRunner gate;
  gate.Release();
  Harness h = Make(gate.AsRunner());
  std::string out = testing::MakeTempDir("idem");
  auto a = h.jobs->Submit(ExportSpec("/in/a", out, "key-1"));
  bool dedup = false;
  auto b = h.jobs->Submit(ExportSpec("/in/a", out, "key-1"), &dedup);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(dedup);
  EXPECT_EQ(a->id, b->id);
  // Same key, different request: refused, naming the field.
  auto reused = h.jobs->Submit(ExportSpec("/in/other", out, "key-1"));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(reused.status().message().find("checkpoint_dir differs"), std::string::npos) << reused.status();
  // No key: equal options find the queued job, then the finished one.
  auto c = h.jobs->Submit(ExportSpec("/in/a", out + "/x"));
  auto d = h.jobs->Submit(ExportSpec("/in/a", out + "/x"));
  EXPECT_EQ(c->id, d->id);
  auto other_dtype = ExportSpec("/in/a", out + "/x");
  other_dtype.export_options()->dtype = "bfloat16";
  auto e = h.jobs->Submit(other_dtype);
  EXPECT_NE(e->id, c->id);
  h.exec->RunAll();
  std::filesystem::create_directories(out + "/x");
  auto f = h.jobs->Submit(ExportSpec("/in/a", out + "/x"), &dedup);
  EXPECT_TRUE(dedup);
  EXPECT_EQ(f->id, c->id);
  // Once the destination is gone, the same request runs again.
  std::filesystem::remove_all(out + "/x");
  auto g = h.jobs->Submit(ExportSpec("/in/a", out + "/x"), &dedup);
  EXPECT_FALSE(dedup);
  EXPECT_NE(g->id, c->id);
  std::filesystem::remove_all(out);
}

TEST(JobManager, OverwriteDoesNotReuseAFinishedExport) {
  GatedRunner gate;
  gate.Release();
  Harness h = Make(gate.AsRunner());
  std::string out = testing::MakeTempDir("overwrite");
  auto spec = ExportSpec("/in/a", out);
  spec.export_options()->overwrite = true;
  auto a = h.jobs->Submit(spec);
  auto b = h.jobs->Submit(spec);
  EXPECT_EQ(a->id, b->id);  // still queued: shared
  h.exec->RunAll();
  auto c = h.jobs->Submit(spec);
  EXPECT_NE(c->id, a->id);
  std::filesystem::remove_all(out);
}

TEST(JobManager, DrainLetsRunningJobFinishThenCancelsTheRest) {
  GatedRunner gate;
  JobManagerOptions o;
  o.executor = std::make_unique<ThreadPoolExecutor>(1);
  o.runner = gate.AsRunner();
  auto m = JobManager::Create(std::move(o));
  ASSERT_TRUE(m.ok());
  JobManager& jobs = **m;
  auto running = jobs.Submit(ExportSpec("/in/a", "/out/a"));
  gate.WaitStarted();
  auto queued = jobs.Submit(ExportSpec("/in/b", "/out/b"));
  ASSERT_TRUE(running.ok() && queued.ok());
  jobs.StopAccepting();
  EXPECT_FALSE(jobs.accepting());
  EXPECT_EQ(jobs.Submit(ExportSpec("/in/c", "/out/c")).status().code(), absl::StatusCode::kUnavailable);
  // The grace period runs out: nothing finished yet.
  EXPECT_FALSE(jobs.WaitIdle(absl::Milliseconds(50)));
  jobs.CancelAll();
  EXPECT_TRUE(jobs.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(jobs.Get(running->id)->state, JobState::kCancelled);
  EXPECT_EQ(jobs.Get(queued->id)->state, JobState::kCancelled);
  // Reads still work while draining.
  EXPECT_EQ(jobs.List(JobState::kCancelled, "").size(), 2u);
}

TEST(JobManager, DrainWaitsForRunningJob) {
  GatedRunner gate;
  JobManagerOptions o;
  o.executor = std::make_unique<ThreadPoolExecutor>(2);
  o.runner = gate.AsRunner();
  auto m = JobManager::Create(std::move(o));
  ASSERT_TRUE(m.ok());
  auto job = (*m)->Submit(ExportSpec("/in/a", "/out/a"));
  gate.WaitStarted();
  (*m)->StopAccepting();
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(30));
    gate.Release();
  });
  EXPECT_TRUE((*m)->WaitIdle(absl::Seconds(10)));
  release.join();
  EXPECT_EQ((*m)->Get(job->id)->state, JobState::kSucceeded);
}

TEST(JobManager, ListFilters) {
  GatedRunner gate;
  gate.Release();
  Harness h = Make(gate.AsRunner());
  auto a = h.jobs->Submit(ExportSpec("/in/run1/ckpt", "/out/a"));
  h.exec->RunAll();
  auto b = h.jobs->Submit(ExportSpec("/in/run2/ckpt", "/out/b"));
  EXPECT_EQ(h.jobs->List(std::nullopt, "").size(), 2u);
  auto queued = h.jobs->List(JobState::kQueued, "");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].id, b->id);
  auto run1 = h.jobs->List(std::nullopt, "run1");
  ASSERT_EQ(run1.size(), 1u);
  EXPECT_EQ(run1[0].id, a->id);
  EXPECT_TRUE(h.jobs->List(JobState::kFailed, "").empty());
}

TEST(JobManager, StopAcceptingIsUnavailable) {
  GatedRunner gate;
  Harness h = Make(gate.AsRunner());
  h.jobs->StopAccepting();
  EXPECT_EQ(h.jobs->Submit(ExportSpec("/in/a", "/out/a")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(h.jobs->WaitIdle(absl::Milliseconds(10)));
}

TEST(ThreadPoolExecutor, RunsEveryTask) {
  std::atomic<int> n{0};
  {
    ThreadPoolExecutor pool(3);
    for (int i = 0; i < 100; ++i) pool.Schedule([&] { n.fetch_add(1); });
  }
  EXPECT_EQ(n.load(), 100);
}

}  // namespace
}  // namespace neobert::server
