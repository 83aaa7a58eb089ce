// JobManagers over a persistent store, on both backends: what a dead server
// left behind is run again at the next start (SQLite) or by another server
// (PostgreSQL); several JobManagers on one PostgreSQL behave as replicas
// (any of them watches and cancels a job another one runs; a draining one
// hands its jobs over).
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/store/job_codec.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
using testing::ExportSpec;
using testing::GatedRunner;

class ManagerStoreTest : public testing::ManagerBackendTest {};

INSTANTIATE_TEST_SUITE_P(Backends, ManagerStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// The old journal's restart test, now: a job a killed server left RUNNING and
// one it left QUEUED both run again (the killed one as attempt 2); a job an
// old journal left INTERRUPTED is retried when its key comes again.
TEST_P(ManagerStoreTest, WhatADeadServerLeftRunsAgain) {
  JobSnapshot interrupted;
  interrupted.id = "job-interrupted";
  interrupted.spec = ExportSpec("/in/i", "/out/i", "key-i");
  interrupted.state = JobState::kInterrupted;
  interrupted.error = absl::AbortedError("the server stopped while the job was RUNNING");
  std::ofstream(state_ + "/jobs.jsonl") << EncodeJournalLine(interrupted) << "\n";
  std::string running_id, queued_id;
  {
    JobStoreOptions so;
    so.spec = store_spec();
    so.state_dir = state_;
    auto store = OpenJobStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    auto submit = [&](const std::string& out) {
      SubmitRequest r;
      r.id = "job-" + out;
      r.spec = ExportSpec("/in/" + out, "/out/" + out);
      r.spec_key = SpecKey(r.spec);
      return (*store)->Submit(r, nullptr)->job.snap.id;
    };
    running_id = submit("r");
    queued_id = submit("q");
    // A server claims one and is killed (it never renews its short lease).
    auto claimed = (*store)->Claim({.owner = "killed-server", .lease = absl::Milliseconds(100)});
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
    ASSERT_EQ((**claimed).snap.id, running_id);
  }
  GatedRunner gate;
  gate.Release();
  auto m = Make(Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "restarted"));
  ASSERT_TRUE(m);
  EXPECT_TRUE(WaitState(*m, running_id, JobState::kSucceeded));
  EXPECT_TRUE(WaitState(*m, queued_id, JobState::kSucceeded));
  auto again = m->Get(running_id);
  ASSERT_TRUE(again->result.has_value());
  EXPECT_EQ(again->result->output_dir, "/out/r");
  // The INTERRUPTED job's key: the same job, queued again, runs to the end.
  EXPECT_EQ(m->Get("job-interrupted")->state, JobState::kInterrupted);
  bool dedup = true;
  auto retried = m->Submit(ExportSpec("/in/i", "/out/i", "key-i"), &dedup);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_FALSE(dedup);
  EXPECT_EQ(retried->id, "job-interrupted");
  EXPECT_TRUE(WaitState(*m, "job-interrupted", JobState::kSucceeded));
  auto done = m->Get("job-interrupted");
  EXPECT_TRUE(done->error.ok()) << done->error;
  // Same key, different request: ALREADY_EXISTS naming the field.
  auto reused = m->Submit(ExportSpec("/in/i", "/out/elsewhere", "key-i"));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(reused.status().message().find("output_dir"), std::string::npos);
}

// Resuming a watch: after_sequence N streams only what came after N.
TEST_P(ManagerStoreTest, WatchResumesAfterASequence) {
  GatedRunner gate;
  gate.Release();
  auto m = Make(Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "solo"));
  ASSERT_TRUE(m);
  auto job = m->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(WaitState(*m, job->id, JobState::kSucceeded));
  auto all = m->Watch(job->id, 1);  // after the QUEUED event
  ASSERT_TRUE(all.ok());
  std::vector<JobEvent> events;
  while (!(*all)->done()) {
    auto e = (*all)->Next(absl::Seconds(10));
    ASSERT_TRUE(e.has_value());
    events.push_back(*e);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().state, JobState::kRunning);
  EXPECT_TRUE(events.back().final);
  for (const auto& e : events) EXPECT_GT(e.sequence, 1u);
  // After the last one: just the final event again, so the stream ends.
  auto tail = m->Watch(job->id, events.back().sequence);
  auto e = (*tail)->Next(absl::Seconds(10));
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->final);
}

// --- Replicas on one PostgreSQL ---------------------------------------------

class ReplicaTest : public ManagerStoreTest {};
INSTANTIATE_TEST_SUITE_P(Postgres, ReplicaTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(ReplicaTest, AnyServerWatchesAndCancelsWhatAnotherRuns) {
  GatedRunner gate;
  // "front" never runs jobs (its executor is never driven); "worker" does.
  auto front_exec = std::make_unique<testing::ManualExecutor>();
  auto front = Make(Options(gate.AsRunner(), std::move(front_exec), "front"));
  auto worker = Make(Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(2), "worker"));
  ASSERT_TRUE(front && worker);
  auto job = front->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok());
  auto watch = front->Watch(job->id);
  ASSERT_TRUE(watch.ok());
  gate.WaitStarted();  // the worker claimed it from the shared queue
  EXPECT_TRUE(WaitState(*front, job->id, JobState::kRunning));
  // Events reach the front's watcher through the store.
  std::vector<JobEvent> events;
  bool saw_warning = false;
  while (!saw_warning) {
    auto e = (*watch)->Next(absl::Seconds(30));
    ASSERT_TRUE(e.has_value()) << "no event from the other server";
    saw_warning |= e->warning == "a warning";
    events.push_back(*e);
  }
  // A cancel sent to the front stops the job on the worker.
  const absl::Time asked = absl::Now();
  auto c = front->Cancel(job->id);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(WaitState(*front, job->id, JobState::kCancelled, absl::Seconds(10)));
  EXPECT_LT(absl::Now() - asked, absl::Seconds(2));
  for (;;) {
    auto e = (*watch)->Next(absl::Seconds(30));
    ASSERT_TRUE(e.has_value()) << "the stream did not reach its final event";
    events.push_back(*e);
    if (e->final) break;
  }
  EXPECT_EQ(events.back().state, JobState::kCancelled);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].sequence, events[i - 1].sequence);
}

TEST_P(ReplicaTest, DrainingServerHandsItsJobToAnother) {
  GatedRunner held, quick;
  quick.Release();
  auto leaving = Make(Options(held.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "leaving"));
  ASSERT_TRUE(leaving);
  auto job = leaving->Submit(ExportSpec("/in/a", "/out/a"));
  held.WaitStarted();
  // The staying server's worker only starts now: the job is the leaving one's.
  auto staying = Make(Options(quick.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "staying"));
  ASSERT_TRUE(staying);
  leaving->StopAccepting();
  EXPECT_FALSE(leaving->WaitIdle(absl::Milliseconds(50)));
  leaving->ReleaseAll();
  EXPECT_TRUE(leaving->WaitIdle(absl::Seconds(30)));
  ASSERT_TRUE(WaitState(*staying, job->id, JobState::kSucceeded));
  EXPECT_EQ(staying->Get(job->id)->result->output_dir, "/out/a");
  leaving.reset();
}

}  // namespace
}  // namespace neobert::server
