// What a finished job tells an orchestrator (issue 12), over the job store
// (issue 11), on SQLite and a real PostgreSQL (in memory where only that
// applies): a failed job keeps its partial result and its error's reason,
// seen again after a restart (SQLite) or from another replica (PostgreSQL);
// WatchJob resumes after a sequence while the job runs here and across a
// drain and restart; an idempotency key whose job failed retryably (INTERNAL,
// or INTERRUPTED after losing its lease on every attempt) runs that job
// again, and a reused key is IDEMPOTENCY_KEY_REUSED naming the field; a drain
// gives running jobs back and ends their streams with DRAINING; CancelJob is
// CANCELLED while the in-memory shutdown is INTERRUPTED.
#include <atomic>
#include <thread>

#include "core/export/exporter.h"
#include "core/status/error_reason.h"
#include "gtest/gtest.h"
#include "server/job_manager.h"
#include "server/store/job_codec.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
using testing::ExportSpec;
using testing::GatedRunner;
using testing::ManualExecutor;

// Every event up to the final one (or none more within the deadline).
std::vector<JobEvent> Drain(EventStream& s, absl::Duration deadline = absl::Seconds(30)) {
  std::vector<JobEvent> out;
  while (!s.done()) {
    auto e = s.Next(deadline);
    if (!e) break;
    out.push_back(*e);
  }
  return out;
}

class OutcomeTest : public testing::ManagerBackendTest {};

INSTANTIATE_TEST_SUITE_P(Backends, OutcomeTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// A validation that fails after finding things, with a reason, metadata and
// a retry hint on its error.
absl::StatusOr<core::ExportResult> FailWithFindings(const JobSpec&, JobProgress& sink,
                                                    const base::CancelToken&) {
  core::ExportResult partial;
  partial.output_dir = "/out/x";
  partial.notes.push_back("stripped prefix 'module.' from 3 keys");
  partial.warnings.push_back("no tokenizer_info.json");
  partial.weights_file = "/in/x/state_dict.pt";
  partial.validation.emplace();
  partial.validation->checks.push_back({"manifest", false, "config.json: sha256 differs", false});
  sink.OnPartialResult(partial);
  return core::WithRetryDelay(
      core::MakeError(core::ErrorReason::kValidationFailed, "failed validation", {{"check", "manifest"}}),
      absl::Seconds(3));
}

void ExpectFindings(const std::optional<core::ExportResult>& result, const absl::Status& error) {
  const core::ErrorDetails d = core::DetailsOf(error);
  EXPECT_EQ(d.reason, core::ErrorReason::kValidationFailed) << error;
  EXPECT_TRUE(d.explicit_reason);  // not the code's default
  EXPECT_EQ(d.metadata.count("check") ? d.metadata.at("check") : "", "manifest");
  EXPECT_EQ(d.retry_delay, absl::Seconds(3));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->notes, std::vector<std::string>{"stripped prefix 'module.' from 3 keys"});
  EXPECT_EQ(result->warnings, std::vector<std::string>{"no tokenizer_info.json"});
  EXPECT_EQ(result->weights_file, "/in/x/state_dict.pt");
  ASSERT_TRUE(result->validation.has_value());
  EXPECT_FALSE(result->validation->ok());
  EXPECT_EQ(result->validation->checks.at(0).detail, "config.json: sha256 differs");
}

TEST_P(OutcomeTest, FailedJobKeepsWhatItFoundForEveryServer) {
  core::ValidateOptions strict;
  strict.export_dir = "/out/x";
  strict.strict = true;
  JobSpec spec{.options = strict, .idempotency_key = "key-strict"};
  auto first = Make(Options(FailWithFindings, std::make_unique<ThreadPoolExecutor>(1), "first"));
  ASSERT_TRUE(first);
  auto job = first->Submit(spec);
  ASSERT_TRUE(job.ok()) << job.status();
  auto watch = first->Watch(job->id);
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(WaitState(*first, job->id, JobState::kFailed));
  auto events = Drain(**watch);
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().final);
  ExpectFindings(events.back().result, events.back().error);
  auto got = first->Get(job->id);
  ASSERT_TRUE(got.ok());
  ExpectFindings(got->result, got->error);

  // Another server sees the same: a replica on the same PostgreSQL, or the
  // next start on the SQLite state dir.
  if (!postgres()) first.reset();
  auto other = Make(Options(FailWithFindings, std::make_unique<ManualExecutor>(), "other"));
  ASSERT_TRUE(other);
  got = other->Get(job->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kFailed);
  ASSERT_EQ(got->spec.kind(), JobKind::kValidate);
  EXPECT_TRUE(got->spec.validate_options()->strict);
  EXPECT_EQ(got->spec.validate_options()->export_dir, "/out/x");
  ExpectFindings(got->result, got->error);
  for (uint64_t after : {uint64_t{0}, uint64_t{1}}) {
    auto w = other->Watch(job->id, after);
    ASSERT_TRUE(w.ok());
    auto replay = Drain(**w);
    ASSERT_FALSE(replay.empty()) << after;
    ASSERT_TRUE(replay.back().final);
    ExpectFindings(replay.back().result, replay.back().error);
  }
  // A key is bound to its whole request, strict included; VALIDATION_FAILED
  // is not retryable, so the key gives the failed job back.
  bool dedup = false;
  auto again = other->Submit(spec, &dedup);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(dedup);
  EXPECT_EQ(again->id, job->id);
  EXPECT_EQ(again->state, JobState::kFailed);
  spec.validate_options()->strict = false;
  auto reused = other->Submit(spec);
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  const core::ErrorDetails d = core::DetailsOf(reused.status());
  EXPECT_EQ(d.reason, core::ErrorReason::kIdempotencyKeyReused) << reused.status();
  EXPECT_EQ(d.metadata.count("field") ? d.metadata.at("field") : "", "strict");
  EXPECT_EQ(d.metadata.count("job_id") ? d.metadata.at("job_id") : "", job->id);
}

TEST_P(OutcomeTest, WatchResumesAfterASequenceWhileTheJobRunsHere) {
  GatedRunner gate;
  auto jobs = Make(Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "solo"));
  ASSERT_TRUE(jobs);
  auto job = jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok());
  gate.WaitStarted();
  auto first = jobs->Watch(job->id);
  ASSERT_TRUE(first.ok());
  auto snapshot = (*first)->Next(absl::Seconds(10));
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_GT(snapshot->sequence, 1u);
  // Resuming after the latest event: nothing until the job moves on.
  auto resumed = jobs->Watch(job->id, snapshot->sequence);
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE((*resumed)->Next(absl::Milliseconds(50)).has_value());
  // One behind: exactly the event missed.
  auto behind = jobs->Watch(job->id, snapshot->sequence - 1);
  ASSERT_TRUE(behind.ok());
  auto caught_up = (*behind)->Next(absl::Seconds(10));
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_EQ(caught_up->sequence, snapshot->sequence);
  // After the QUEUED event: the run's events, whether stored yet or not.
  auto from_start = jobs->Watch(job->id, 1);
  ASSERT_TRUE(from_start.ok());
  bool saw_running = false, saw_warning = false;
  uint64_t prev = 1;
  for (;;) {
    auto e = (*from_start)->Next(absl::Seconds(10));
    ASSERT_TRUE(e.has_value()) << "missed events of the running job";
    EXPECT_GT(e->sequence, prev);
    prev = e->sequence;
    saw_running |= e->state == JobState::kRunning && e->stage == "starting";
    saw_warning |= e->warning == "a warning";
    if (e->sequence == snapshot->sequence) break;
  }
  EXPECT_TRUE(saw_running);
  EXPECT_TRUE(saw_warning);
  gate.Release();
  uint64_t seq = snapshot->sequence;
  bool final_seen = false;
  while (auto e = (*resumed)->Next(absl::Seconds(30))) {
    EXPECT_GT(e->sequence, seq);
    seq = e->sequence;
    if (e->final) {
      final_seen = true;
      break;
    }
  }
  ASSERT_TRUE(final_seen);
  // Finished: the final event always comes, whatever after_sequence says.
  for (uint64_t after : {uint64_t{0}, seq, seq + 100}) {
    auto w = jobs->Watch(job->id, after);
    ASSERT_TRUE(w.ok());
    auto e = (*w)->Next(absl::Seconds(10));
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->final);
    EXPECT_EQ(e->sequence, seq);
  }
}

// A drain gives the running job back to the store and ends its streams with
// DRAINING; the next server (a restart, or a replica) runs it, and a watcher
// resuming after the last sequence it saw follows it to the end: sequences
// only grow.
TEST_P(OutcomeTest, DrainGivesTheJobBackAndAWatcherResumesOnTheNextServer) {
  GatedRunner held, quick;
  quick.Release();
  auto leaving = Make(Options(held.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "leaving"));
  ASSERT_TRUE(leaving);
  auto job = leaving->Submit(ExportSpec("/in/a", "/out/a", "key-drain"));
  ASSERT_TRUE(job.ok());
  held.WaitStarted();
  auto watch = leaving->Watch(job->id);
  ASSERT_TRUE(watch.ok());
  auto now = (*watch)->Next(absl::Seconds(10));  // the running job's state
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->state, JobState::kRunning);
  uint64_t last = now->sequence;
  leaving->StopAccepting();
  EXPECT_FALSE(leaving->WaitIdle(absl::Milliseconds(50)));
  leaving->ReleaseAll();
  ASSERT_TRUE(leaving->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(leaving->Get(job->id)->state, JobState::kQueued);
  leaving->CloseStreams();
  // The store poll may deliver the release's QUEUED event before the close.
  bool requeued = false, reran = false;
  for (auto e = (*watch)->Next(absl::Seconds(10)); e; e = (*watch)->Next(absl::Seconds(10))) {
    EXPECT_FALSE(e->final) << "the job did not end";
    EXPECT_GT(e->sequence, last);
    last = e->sequence;
    requeued |= e->state == JobState::kQueued;
  }
  auto why = (*watch)->closed();
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->code(), absl::StatusCode::kUnavailable);
  const core::ErrorDetails d = core::DetailsOf(*why);
  EXPECT_EQ(d.reason, core::ErrorReason::kDraining);
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.metadata.count("job_id") ? d.metadata.at("job_id") : "", job->id);

  if (!postgres()) leaving.reset();
  auto next = Make(Options(quick.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "next"));
  ASSERT_TRUE(next);
  auto resumed = next->Watch(job->id, last);
  ASSERT_TRUE(resumed.ok());
  auto events = Drain(**resumed, absl::Seconds(60));
  ASSERT_FALSE(events.empty());
  for (const auto& e : events) {
    EXPECT_GT(e.sequence, last);
    last = e.sequence;
    requeued |= e.state == JobState::kQueued;
    reran |= e.state == JobState::kRunning;
  }
  EXPECT_TRUE(requeued && reran);
  EXPECT_TRUE(events.back().final);
  EXPECT_EQ(events.back().state, JobState::kSucceeded);
  EXPECT_TRUE(events.back().error.ok()) << events.back().error;
}

TEST_P(OutcomeTest, KeyOfARetryableFailureRunsTheJobAgain) {
  std::atomic<int> calls{0}, io_calls{0};
  auto jobs = Make(Options(
      [&](const JobSpec& spec, JobProgress&, const base::CancelToken&)
          -> absl::StatusOr<core::ExportResult> {
        ++calls;
        if (spec.export_options()->output_dir == "/out/io") {
          if (io_calls++ == 0) return absl::InternalError("disk full");  // INTERNAL by its code
          core::ExportResult r;
          r.output_dir = "/out/io";
          return r;
        }
        return absl::InvalidArgumentError("bad tensor");  // CHECKPOINT_INVALID
      },
      std::make_unique<ThreadPoolExecutor>(1), "solo"));
  ASSERT_TRUE(jobs);
  auto a = jobs->Submit(ExportSpec("/in/a", "/out/io", "key-io"));
  auto b = jobs->Submit(ExportSpec("/in/b", "/out/bad", "key-bad"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(WaitState(*jobs, a->id, JobState::kFailed));
  ASSERT_TRUE(WaitState(*jobs, b->id, JobState::kFailed));
  EXPECT_TRUE(core::DetailsOf(jobs->Get(a->id)->error).retryable);
  bool dedup_a = true, dedup_b = false;
  auto a2 = jobs->Submit(ExportSpec("/in/a", "/out/io", "key-io"), &dedup_a);
  auto b2 = jobs->Submit(ExportSpec("/in/b", "/out/bad", "key-bad"), &dedup_b);
  ASSERT_TRUE(a2.ok() && b2.ok());
  // INTERNAL is retryable: the key's job runs again (the same job, a new attempt).
  EXPECT_FALSE(dedup_a);
  EXPECT_EQ(a2->id, a->id);
  EXPECT_EQ(a2->state, JobState::kQueued);
  EXPECT_TRUE(a2->error.ok());
  // CHECKPOINT_INVALID is not: the same failed job comes back.
  EXPECT_TRUE(dedup_b);
  EXPECT_EQ(b2->id, b->id);
  EXPECT_EQ(b2->state, JobState::kFailed);
  ASSERT_TRUE(WaitState(*jobs, a->id, JobState::kSucceeded));
  EXPECT_TRUE(jobs->Get(a->id)->error.ok());
  EXPECT_EQ(calls.load(), 3);
}

// A job whose server died under it on every one of its --max-attempts runs
// FAILs with INTERRUPTED (retryable, with the attempts); its key runs it again.
TEST_P(OutcomeTest, LostOnEveryAttemptIsInterruptedAndItsKeyRunsItAgain) {
  std::string id;
  {
    JobStoreOptions so;
    so.spec = store_spec();
    so.state_dir = state_;
    so.sync = false;
    auto store = OpenJobStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    SubmitRequest r;
    r.id = "job-lost";
    r.spec = ExportSpec("/in/l", "/out/l", "key-lost");
    r.spec_key = SpecKey(r.spec);
    auto s = (*store)->Submit(r, nullptr);
    ASSERT_TRUE(s.ok()) << s.status();
    id = s->job.snap.id;
    // A server claims it and is killed (it never renews its short lease).
    auto claimed = (*store)->Claim({.owner = "killed-server", .lease = absl::Milliseconds(100)});
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
  }
  GatedRunner gate;
  gate.Release();
  JobManagerOptions o = Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "survivor");
  o.max_attempts = 1;
  auto jobs = Make(std::move(o));
  ASSERT_TRUE(jobs);
  ASSERT_TRUE(WaitState(*jobs, id, JobState::kFailed));
  auto failed = jobs->Get(id);
  const core::ErrorDetails d = core::DetailsOf(failed->error);
  EXPECT_EQ(failed->error.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(d.reason, core::ErrorReason::kInterrupted) << failed->error;
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.metadata.count("attempts") ? d.metadata.at("attempts") : "", "1");
  bool dedup = true;
  auto again = jobs->Submit(ExportSpec("/in/l", "/out/l", "key-lost"), &dedup);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(dedup);
  EXPECT_EQ(again->id, id);
  ASSERT_TRUE(WaitState(*jobs, id, JobState::kSucceeded));
  EXPECT_TRUE(jobs->Get(id)->error.ok());
}

// In memory nobody would run a job again: the shutdown cancels what is left,
// as INTERRUPTED (retryable); CancelJob is CANCELLED (not retryable).
TEST(JobOutcomeInMemory, ShutdownInterruptsCancelJobCancels) {
  GatedRunner gate;
  auto exec = std::make_unique<ManualExecutor>();
  ManualExecutor* manual = exec.get();
  JobManagerOptions o;
  o.executor = std::move(exec);
  o.runner = gate.AsRunner();
  auto m = JobManager::Create(std::move(o));
  ASSERT_TRUE(m.ok()) << m.status();
  JobManager& jobs = **m;
  auto user = jobs.Submit(ExportSpec("/in/a", "/out/a"));
  auto running = jobs.Submit(ExportSpec("/in/b", "/out/b"));
  auto queued = jobs.Submit(ExportSpec("/in/c", "/out/c"));
  ASSERT_TRUE(user.ok() && running.ok() && queued.ok());
  ASSERT_TRUE(jobs.Cancel(user->id).ok());  // while queued
  std::thread worker([&] { manual->RunOne(); });  // claims the oldest queued: `running`
  gate.WaitStarted();
  ASSERT_EQ(jobs.Get(running->id)->state, JobState::kRunning);
  jobs.StopAccepting();
  jobs.CancelAll();
  worker.join();
  manual->RunAll();
  auto details = [&](const std::string& id) { return core::DetailsOf(jobs.Get(id)->error); };
  EXPECT_EQ(details(user->id).reason, core::ErrorReason::kCancelled);
  EXPECT_FALSE(details(user->id).retryable);
  for (const auto& id : {running->id, queued->id}) {
    EXPECT_EQ(jobs.Get(id)->state, JobState::kCancelled);
    EXPECT_EQ(details(id).reason, core::ErrorReason::kInterrupted) << id;
    EXPECT_TRUE(details(id).retryable);
  }
}

TEST_P(OutcomeTest, CancelJobIsCancelledQueuedOrRunning) {
  GatedRunner gate;
  auto jobs = Make(Options(gate.AsRunner(), std::make_unique<ThreadPoolExecutor>(1), "solo"));
  ASSERT_TRUE(jobs);
  auto running = jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(running.ok());
  gate.WaitStarted();
  auto queued = jobs->Submit(ExportSpec("/in/b", "/out/b"));
  ASSERT_TRUE(queued.ok());
  ASSERT_TRUE(jobs->Cancel(queued->id).ok());
  ASSERT_TRUE(jobs->Cancel(running->id).ok());
  ASSERT_TRUE(WaitState(*jobs, running->id, JobState::kCancelled));
  for (const auto& id : {running->id, queued->id}) {
    auto j = jobs->Get(id);
    EXPECT_EQ(j->state, JobState::kCancelled);
    const core::ErrorDetails d = core::DetailsOf(j->error);
    EXPECT_EQ(d.reason, core::ErrorReason::kCancelled) << id;
    EXPECT_TRUE(d.explicit_reason);
    EXPECT_FALSE(d.retryable);
  }
  // A finished job cannot be cancelled.
  EXPECT_EQ(jobs->Cancel(running->id).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace neobert::server
