// The job store (server/store/) on both backends: SQLite in a temporary
// state dir and a real PostgreSQL (scripts/pg_test_cluster.sh, a fresh
// database per test). The same tests run on each; a few are per backend
// (SQLite's single-server lock, PostgreSQL's password handling). Servers are
// stood in for by owner names: a "dead" server is one that claimed a job and
// never renews its lease.
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/status/error_reason.h"
#include "gtest/gtest.h"
#include "server/store/job_codec.h"
#include "server/store/job_store.h"
#include "server/store/state_dir_lock.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;
using testing::ExportSpec;

// Waits (polling, with a generous deadline) until `done` holds.
template <typename F>
bool Eventually(F done, absl::Duration deadline = absl::Seconds(30)) {
  const absl::Time end = absl::Now() + deadline;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class JobStoreTest : public testing::BackendTest {
 protected:
  JobStoreOptions Options() {
    JobStoreOptions o;
    o.spec = store_spec();
    o.state_dir = state_;
    o.sync = false;
    o.replica = {"test-replica", "testhost", 1, false};
    return o;
  }
  std::unique_ptr<JobStore> Open() {
    auto s = OpenJobStore(Options());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Always creates (keyless requests are never equal here: distinct outputs).
  static StoredJob Submit(JobStore& store, JobSpec spec, int capacity = 100000) {
    SubmitRequest r;
    r.id = "job-" + std::to_string(next_id_++) + "-" + std::to_string(::getpid());
    r.spec_key = SpecKey(spec);
    r.needs_gpu = spec.device().rfind("cuda", 0) == 0;
    r.queue_capacity = capacity;
    r.spec = std::move(spec);
    auto out = store.Submit(r, [](const StoredJob&, bool) { return SubmitAction::kReturnExisting; });
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->job : StoredJob();
  }
  static std::optional<StoredJob> Claim(JobStore& store, const std::string& owner,
                                        absl::Duration lease = absl::Seconds(30), bool gpu = false) {
    auto c = store.Claim({.owner = owner, .lease = lease, .has_gpu = gpu});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::nullopt;
  }

  static inline int next_id_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(JobStoreTest, LifeOfAJobWithEventsResultAndFullError) {
  auto store = Open();
  ASSERT_TRUE(store);
  StoredJob j = Submit(*store, ExportSpec("/in/a", "/out/a"));
  EXPECT_EQ(j.snap.state, JobState::kQueued);
  EXPECT_GT(j.snap.created_unix_ms, 0);
  auto claimed = Claim(*store, "server-a");
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->snap.id, j.snap.id);
  EXPECT_EQ(claimed->snap.state, JobState::kRunning);
  EXPECT_EQ(claimed->attempts, 1);
  EXPECT_EQ(claimed->owner, "server-a");
  EXPECT_FALSE(Claim(*store, "server-b")) << "one job, claimed once";
  const RunRef ref{j.snap.id, "server-a", claimed->run};
  JobEvent stage;
  stage.state = JobState::kRunning;
  stage.stage = "write";
  stage.percent = 50;
  stage.warning = "a warning";
  stage.sequence = (static_cast<uint64_t>(ref.run) << 32) | 2;
  ASSERT_TRUE(store->AppendEvents({{ref, stage}}).ok());
  EXPECT_EQ(store->Get(j.snap.id)->snap.stage, "write");
  // A failed job keeps its result and every payload of its error.
  FinishRequest f;
  f.ref = ref;
  f.state = JobState::kFailed;
  f.error = absl::InvalidArgumentError("bad checkpoint");
  f.error.SetPayload("type.googleapis.com/test.Reason", absl::Cord(std::string("\x08\x07\x00\xff", 4)));
  f.error.SetPayload("type.googleapis.com/test.Other", absl::Cord("x"));
  f.result = core::ExportResult();
  f.result->output_dir = "/out/a";
  f.result->warnings = {"w1"};
  f.result->validation = core::ValidationReport{"/out/a", {{"weights", false, "mismatch", false}}};
  JobEvent final;
  final.state = JobState::kFailed;
  final.final = true;
  final.error = f.error;
  final.sequence = stage.sequence + 1;
  f.events = {final};
  auto done = store->Finish(f);
  ASSERT_TRUE(done.ok()) << done.status();
  for (const StoredJob& got : {*done, *store->Get(j.snap.id)}) {
    EXPECT_EQ(got.snap.state, JobState::kFailed);
    EXPECT_EQ(got.snap.error.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(got.snap.error.message(), "bad checkpoint");
    ASSERT_TRUE(got.snap.error.GetPayload("type.googleapis.com/test.Reason").has_value());
    EXPECT_EQ(std::string(*got.snap.error.GetPayload("type.googleapis.com/test.Reason")),
              std::string("\x08\x07\x00\xff", 4));
    EXPECT_EQ(std::string(*got.snap.error.GetPayload("type.googleapis.com/test.Other")), "x");
    ASSERT_TRUE(got.snap.result.has_value());
    EXPECT_EQ(got.snap.result->warnings, std::vector<std::string>{"w1"});
    ASSERT_TRUE(got.snap.result->validation.has_value());
    EXPECT_EQ(got.snap.result->validation->checks.at(0).detail, "mismatch");
    EXPECT_GT(got.snap.finished_unix_ms, 0);
  }
  // Events: QUEUED, RUNNING, the stage, the final one, in sequence order.
  auto events = store->Events({{j.snap.id, 0}}, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].state, JobState::kQueued);
  EXPECT_EQ((*events)[1].state, JobState::kRunning);
  EXPECT_EQ((*events)[2].warning, "a warning");
  EXPECT_TRUE((*events)[3].final);
  EXPECT_TRUE((*events)[3].error.GetPayload("type.googleapis.com/test.Reason").has_value());
  for (size_t i = 1; i < events->size(); ++i) EXPECT_GT((*events)[i].sequence, (*events)[i - 1].sequence);
  auto tail = store->Events({{j.snap.id, (*events)[1].sequence}}, 100);
  EXPECT_EQ(tail->size(), 2u);
  // Only the owner of the current run may finish it.
  EXPECT_EQ(store->Finish(f).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store->Get("job-nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(JobStoreTest, IdempotencyKeyIsUniqueUnderConcurrentSubmits) {
  auto store = Open();
  ASSERT_TRUE(store);
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      SubmitRequest r;
      r.id = "job-key-" + std::to_string(i);
      r.spec = ExportSpec("/in/a", "/out/a", "the-key");
      r.spec_key = SpecKey(r.spec);
      auto out = store->Submit(r, [](const StoredJob&, bool by_key) {
        EXPECT_TRUE(by_key);
        return SubmitAction::kReturnExisting;
      });
      ASSERT_TRUE(out.ok()) << out.status();
      ids[i] = out->job.snap.id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(store->List({})->jobs.size(), 1u);
  // A refusal from the decider is the answer.
  SubmitRequest r;
  r.id = "job-other";
  r.spec = ExportSpec("/in/b", "/out/a", "the-key");
  auto refused = store->Submit(r, [](const StoredJob&, bool) -> absl::StatusOr<SubmitAction> {
    return absl::AlreadyExistsError("different");
  });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(JobStoreTest, QueueCapacityIsStoreWideAndGpuJobsWaitForAGpu) {
  auto store = Open();
  ASSERT_TRUE(store);
  Submit(*store, ExportSpec("/in/a", "/out/1"), 2);
  auto gpu = ExportSpec("/in/a", "/out/2");
  gpu.export_options()->device = "cuda:0";
  StoredJob g = Submit(*store, gpu, 2);
  SubmitRequest r;
  r.id = "job-third";
  r.spec = ExportSpec("/in/a", "/out/3");
  r.queue_capacity = 2;
  EXPECT_EQ(store->Submit(r, nullptr).status().code(), absl::StatusCode::kResourceExhausted);
  auto counts = store->CountQueued();
  EXPECT_EQ(counts->queued, 2);
  EXPECT_EQ(counts->queued_cpu, 1);
  auto cpu_claim = Claim(*store, "cpu-server");
  ASSERT_TRUE(cpu_claim);
  EXPECT_NE(cpu_claim->snap.id, g.snap.id);
  EXPECT_FALSE(Claim(*store, "cpu-server")) << "a server without a GPU took a CUDA job";
  auto gpu_claim = Claim(*store, "gpu-server", absl::Seconds(30), /*gpu=*/true);
  ASSERT_TRUE(gpu_claim);
  EXPECT_EQ(gpu_claim->snap.id, g.snap.id);
  // Servers with a GPU announce it in their heartbeat.
  EXPECT_FALSE(*store->GpuReplicaAlive(absl::Seconds(30)));
  ASSERT_TRUE(store->Heartbeat({"gpu-server", "h", 2, true}, absl::Seconds(30), true, {}).ok());
  EXPECT_TRUE(*store->GpuReplicaAlive(absl::Seconds(30)));
}

TEST_P(JobStoreTest, ExpiredLeaseIsTakenOverThenFailsAfterMaxAttempts) {
  auto store = Open();
  ASSERT_TRUE(store);
  StoredJob j = Submit(*store, ExportSpec("/in/a", "/out/a"));
  uint64_t last_seq = 0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto c = Claim(*store, "dying-server-" + std::to_string(attempt), absl::Milliseconds(50));
    ASSERT_TRUE(c) << "attempt " << attempt;
    EXPECT_EQ(c->attempts, attempt);
    EXPECT_GT(c->last_sequence, last_seq) << "sequences grow across runs";
    last_seq = c->last_sequence;
    // The server never renews: once the lease is over, anyone may reap it.
    std::vector<StoredJob> reaped;
    ASSERT_TRUE(Eventually([&] {
      auto r = store->ReapExpired(3);
      EXPECT_TRUE(r.ok()) << r.status();
      reaped = r.ok() ? *r : reaped;
      return !reaped.empty();
    }));
    ASSERT_EQ(reaped.size(), 1u);
    if (attempt < 3) {
      EXPECT_EQ(reaped[0].snap.state, JobState::kQueued);
      EXPECT_NE(reaped[0].snap.stage.find("queued"), std::string::npos);
    } else {
      EXPECT_EQ(reaped[0].snap.state, JobState::kFailed);
      EXPECT_EQ(reaped[0].snap.error.code(), absl::StatusCode::kAborted);
      EXPECT_NE(reaped[0].snap.error.message().find("--max-attempts 3"), std::string::npos)
          << reaped[0].snap.error;
      EXPECT_NE(reaped[0].snap.error.message().find("dying-server-3"), std::string::npos);
      // An orchestrator reads why: INTERRUPTED, retryable, after how many runs.
      const core::ErrorDetails d = core::DetailsOf(reaped[0].snap.error);
      EXPECT_EQ(d.reason, core::ErrorReason::kInterrupted);
      EXPECT_TRUE(d.explicit_reason && d.retryable);
      EXPECT_EQ(d.metadata.at("attempts"), "3");
      EXPECT_EQ(d.metadata.at("max_attempts"), "3");
      EXPECT_EQ(core::ReasonOf(store->Get(j.snap.id)->snap.error), core::ErrorReason::kInterrupted);
    }
  }
  // The final event was stored with the failure.
  auto events = store->Events({{j.snap.id, last_seq}}, 100);
  ASSERT_FALSE(events->empty());
  EXPECT_TRUE(events->back().final);
  EXPECT_EQ(events->back().state, JobState::kFailed);
}

TEST_P(JobStoreTest, HeartbeatRenewsAndReportsCancelsAndLostRuns) {
  auto store = Open();
  ASSERT_TRUE(store);
  StoredJob a = Submit(*store, ExportSpec("/in/a", "/out/a"));
  StoredJob b = Submit(*store, ExportSpec("/in/b", "/out/b"));
  auto ca = Claim(*store, "me", absl::Milliseconds(300));
  auto cb = Claim(*store, "me", absl::Milliseconds(300));
  ASSERT_TRUE(ca && cb);
  const std::vector<RunRef> mine = {{a.snap.id, "me", ca->run}, {b.snap.id, "me", cb->run}};
  // Renewed well before expiry, repeatedly: nothing is reaped.
  const absl::Time end = absl::Now() + absl::Milliseconds(900);
  while (absl::Now() < end) {
    ASSERT_TRUE(store->Heartbeat({"me", "h", 1, false}, absl::Milliseconds(300), true, mine).ok());
    EXPECT_TRUE(store->ReapExpired(3)->empty());
    absl::SleepFor(absl::Milliseconds(50));
  }
  // A cancel from elsewhere reaches the owner's next poll.
  auto c = store->Cancel(a.snap.id, absl::CancelledError("cancelled (test)"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->snap.state, JobState::kRunning);
  EXPECT_TRUE(c->cancel_requested);
  auto st = store->Heartbeat({"me", "h", 1, false}, absl::Milliseconds(300), false, mine);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->cancel_requested, std::vector<std::string>{a.snap.id});
  EXPECT_TRUE(st->lost.empty());
  // Without renewal b is reaped and claimed by another server: lost to "me".
  // (a was asked to cancel: reaped, it ends CANCELLED rather than re-run.)
  ASSERT_TRUE(Eventually([&] { return store->ReapExpired(3)->size() == 2; }));
  EXPECT_EQ(store->Get(a.snap.id)->snap.state, JobState::kCancelled);
  ASSERT_TRUE(Claim(*store, "other"));
  st = store->Heartbeat({"me", "h", 1, false}, absl::Milliseconds(300), false, mine);
  EXPECT_EQ(std::set<std::string>(st->lost.begin(), st->lost.end()),
            (std::set<std::string>{a.snap.id, b.snap.id}));
}

TEST_P(JobStoreTest, ReleaseGivesTheJobBackWithoutCountingTheAttempt) {
  auto store = Open();
  ASSERT_TRUE(store);
  StoredJob j = Submit(*store, ExportSpec("/in/a", "/out/a"));
  auto c = Claim(*store, "draining");
  ASSERT_TRUE(c);
  ASSERT_TRUE(store->Release({j.snap.id, "draining", c->run}, "draining").ok());
  auto back = store->Get(j.snap.id);
  EXPECT_EQ(back->snap.state, JobState::kQueued);
  EXPECT_EQ(back->attempts, 0);
  EXPECT_EQ(back->owner, "");
  auto again = Claim(*store, "other");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempts, 1);
  // A stale owner cannot release what is no longer its run.
  ASSERT_TRUE(store->Release({j.snap.id, "draining", c->run}, "late").ok());
  EXPECT_EQ(store->Get(j.snap.id)->owner, "other");
}

TEST_P(JobStoreTest, CancelQueuedAtOnceFinishedRefused) {
  auto store = Open();
  ASSERT_TRUE(store);
  StoredJob j = Submit(*store, ExportSpec("/in/a", "/out/a"));
  // The caller's error is the job's, reason included.
  auto c = store->Cancel(j.snap.id, core::MakeError(core::ErrorReason::kInterrupted, "stopping",
                                                    {{"why", "test"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->snap.state, JobState::kCancelled);
  EXPECT_EQ(c->snap.error.message(), "stopping");
  EXPECT_EQ(core::DetailsOf(store->Get(j.snap.id)->snap.error).metadata.at("why"), "test");
  EXPECT_EQ(store->Cancel(j.snap.id, absl::CancelledError("cancelled (test)")).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Cancel("job-nope", absl::CancelledError("cancelled (test)")).status().code(), absl::StatusCode::kNotFound);
  auto events = store->Events({{j.snap.id, 0}}, 10);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_TRUE(events->back().final);
}

TEST_P(JobStoreTest, ListPagesThrough1500JobsNewestFirst) {
  auto store = Open();
  ASSERT_TRUE(store);
  std::vector<std::string> ids;
  for (int i = 0; i < 1500; ++i) {
    ids.push_back(Submit(*store, ExportSpec(i % 2 ? "/in/odd" : "/in/even", "/out/" + std::to_string(i))).snap.id);
  }
  ASSERT_TRUE(Claim(*store, "x"));  // the oldest is RUNNING
  std::vector<std::string> seen;
  ListQuery q;
  q.page_size = 100;
  int pages = 0;
  for (;;) {
    auto page = store->List(q);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const auto& j : page->jobs) seen.push_back(j.snap.id);
    if (page->next_page_token.empty()) break;
    EXPECT_EQ(page->jobs.size(), 100u);
    q.page_token = page->next_page_token;
  }
  EXPECT_EQ(pages, 15);
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, newest_first);
  // Filters page too.
  ListQuery odd;
  odd.source_contains = "odd";
  odd.page_size = 1000;
  auto first = store->List(odd);
  EXPECT_EQ(first->jobs.size(), 750u);
  EXPECT_TRUE(first->next_page_token.empty());
  ListQuery running;
  running.state = JobState::kRunning;
  EXPECT_EQ(store->List(running)->jobs.size(), 1u);
  ListQuery bad;
  bad.page_token = "not-a-token";
  EXPECT_EQ(store->List(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreTest, RetentionPurgesFinishedJobsAndFreesTheirKeys) {
  auto store = Open();
  ASSERT_TRUE(store);
  auto finish = [&](JobSpec spec) {
    StoredJob j = Submit(*store, std::move(spec));
    return store->Cancel(j.snap.id, absl::CancelledError("cancelled (test)"))->snap.id;  // finished (CANCELLED) at once
  };
  const std::string old_keyed = finish(ExportSpec("/in/a", "/out/1", "key-1"));
  const std::string newer = finish(ExportSpec("/in/a", "/out/2"));
  StoredJob active = Submit(*store, ExportSpec("/in/a", "/out/3"));
  // Count cap: only the newest finished job stays; active jobs always stay.
  auto n = store->Purge({.max_age = absl::ZeroDuration(), .max_count = 1});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(store->Get(old_keyed).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Events({{old_keyed, 0}}, 10)->empty()) << "events go with their job";
  EXPECT_TRUE(store->Get(newer).ok());
  // The purged job's key is free: the same key makes a new job.
  StoredJob reused = Submit(*store, ExportSpec("/in/a", "/out/1", "key-1"));
  EXPECT_NE(reused.snap.id, old_keyed);
  // Age: finished more than 1 ms ago.
  ASSERT_TRUE(Eventually([&] { return *store->Purge({.max_age = absl::Milliseconds(1), .max_count = 0}) >= 1; }));
  EXPECT_EQ(store->Get(newer).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get(active.snap.id).ok());
}

TEST_P(JobStoreTest, SchemaIsVersionedAndOldJournalImportedOnce) {
  // An old server's journal: a finished job, a queued one, one left running,
  // an interrupted one with a key, and a torn last line.
  auto line = [](const std::string& id, JobState state, const std::string& key = "") {
    JobSnapshot j;
    j.id = id;
    j.spec = ExportSpec("/in/" + id, "/out/" + id, key);
    j.state = state;
    j.created_unix_ms = 1000;
    if (state == JobState::kSucceeded) {
      j.result = core::ExportResult();
      j.result->output_dir = "/out/" + id;
      j.result->files = {{"config.json", 3, "abc"}};
    }
    if (state == JobState::kInterrupted) j.error = absl::AbortedError("stopped");
    return EncodeJournalLine(j) + "\n";
  };
  std::ofstream(state_ + "/jobs.jsonl") << line("job-done", JobState::kRunning) << line("job-done", JobState::kSucceeded)
                                       << line("job-q", JobState::kQueued) << line("job-r", JobState::kRunning)
                                       << line("job-i", JobState::kInterrupted, "k-i") << "{\"torn\":";
  {
    auto store = Open();
    ASSERT_TRUE(store);
    EXPECT_FALSE(fs::exists(state_ + "/jobs.jsonl"));
    EXPECT_TRUE(fs::exists(state_ + "/jobs.jsonl.imported"));
    auto done = store->Get("job-done");
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->snap.state, JobState::kSucceeded);
    EXPECT_EQ(done->snap.result->files.size(), 1u);
    EXPECT_EQ(store->Get("job-q")->snap.state, JobState::kQueued);
    EXPECT_EQ(store->Get("job-r")->snap.state, JobState::kQueued) << "unfinished jobs run again";
    EXPECT_EQ(store->Get("job-i")->snap.state, JobState::kInterrupted);
    EXPECT_EQ(store->List({})->jobs.size(), 4u);
  }
  // Reopened: nothing imported twice, and a store from a newer server refused.
  {
    auto store = Open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->List({})->jobs.size(), 4u);
  }
  std::unique_ptr<sql::Connection> c;
  auto conn = postgres() ? sql::OpenPostgres(dsn_, "test") : sql::OpenSqlite(state_ + "/jobs.db", false);
  ASSERT_TRUE(conn.ok());
  auto v = (*conn)->Run("SELECT version FROM schema_version");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(sql::AsInt(v->rows.at(0).at(0)), kJobStoreSchemaVersion);
  ASSERT_TRUE((*conn)->Run("UPDATE schema_version SET version = 99").ok());
  auto newer = OpenJobStore(Options());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos) << newer.status();
}

// --- Per backend ---------------------------------------------------------------

TEST(SqliteStore, SecondServerOnTheStateDirIsRefusedNamingTheHolder) {
  const std::string dir = testing::MakeTempDir("sqlite-lock");
  JobStoreOptions o;
  o.state_dir = dir;
  o.replica = {"first", "host-one", 4242, false};
  auto first = OpenJobStore(o);
  ASSERT_TRUE(first.ok()) << first.status();
  o.replica = {"second", "host-two", 4343, false};
  auto second = OpenJobStore(o);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("pid 4242 on host host-one"), std::string::npos) << second.status();
  EXPECT_NE(second.status().message().find("postgresql://"), std::string::npos);
  first->reset();
  EXPECT_TRUE(OpenJobStore(o).ok()) << "the lock goes with the server";
  fs::remove_all(dir);
}

TEST(SqliteStore, NetworkFileSystemsAreNamed) {
  EXPECT_EQ(NetworkFileSystemName(0x6969), "NFS");
  EXPECT_EQ(NetworkFileSystemName(0xFF534D42), "CIFS");
  EXPECT_EQ(NetworkFileSystemName(0x65735546), "FUSE");
  EXPECT_EQ(NetworkFileSystemName(0x00C36400), "Ceph");
  EXPECT_EQ(NetworkFileSystemName(0x0BD00BD0), "Lustre");
  EXPECT_EQ(NetworkFileSystemName(0x47504653), "GPFS");
  EXPECT_EQ(NetworkFileSystemName(0xEF53), "");  // ext4
  EXPECT_EQ(NetworkFileSystemName(0x01021994), "");  // tmpfs
  EXPECT_TRUE(CheckLocalFileSystem(testing::MakeTempDir("localfs")).ok());
}

TEST(PostgresStore, PasswordNeverInErrorsOrDescriptions) {
  const std::string dsn = testing::PostgresDsn();
  if (dsn.empty()) GTEST_SKIP() << "no test PostgreSQL";
  const std::string password = sql::DsnPassword(dsn);
  ASSERT_FALSE(password.empty());
  const std::string host = dsn.substr(dsn.find('@'));  // @127.0.0.1:PORT/postgres
  const std::string wrong = "postgresql://neobert:Wr0ng-" + password + host;
  const std::string unreachable = "postgresql://neobert:" + password + "@127.0.0.1:1/postgres";
  for (const std::string& bad : {wrong, unreachable, "postgresql://neobert:" + password + "@/x?bogus=1"}) {
    JobStoreOptions o;
    o.spec = bad;
    auto s = OpenJobStore(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(std::string(s.status().message()).find(password), std::string::npos) << s.status();
    EXPECT_EQ(RedactDsn(bad).find(password), std::string::npos);
  }
  JobStoreOptions o;
  o.spec = testing::FreshPostgresDatabase("pw");
  auto store = OpenJobStore(o);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Describe().find(password), std::string::npos);
  EXPECT_NE((*store)->Describe().find("PostgreSQL"), std::string::npos);
  EXPECT_TRUE((*store)->shared());
}

}  // namespace
}  // namespace neobert::server
