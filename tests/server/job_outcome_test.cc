// What a finished job tells an orchestrator (issue 12): a failed job keeps
// its partial result; WatchJob resumes after a sequence; an idempotency key
// whose job failed retryably runs again; a job stopped by the shutdown is
// INTERRUPTED (retryable), one stopped by CancelJob is CANCELLED.
#include <filesystem>
#include <thread>

#include "core/export/exporter.h"
#include "core/status/error_reason.h"
#include "gtest/gtest.h"
#include "server/job_manager.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {

using testing::ExportSpec;
using testing::GatedRunner;
using testing::ManualExecutor;

std::unique_ptr<JobManager> Make(JobRunner runner, ManualExecutor** exec) {
  auto e = std::make_unique<ManualExecutor>();
  *exec = e.get();
  JobManagerOptions o;
  o.executor = std::move(e);
  o.runner = std::move(runner);
  auto m = JobManager::Create(std::move(o));
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

TEST(JobOutcome, FailedJobKeepsWhatItFound) {
  ManualExecutor* exec = nullptr;
  auto jobs = Make(
      [](const JobSpec&, core::ProgressSink& sink, const core::CancelToken&)
          -> absl::StatusOr<core::ExportResult> {
        core::ExportResult partial;
        partial.notes.push_back("stripped prefix 'module.' from 3 keys");
        partial.warnings.push_back("no tokenizer_info.json");
        partial.validation.emplace();
        partial.validation->checks.push_back({"manifest", false, "config.json: sha256 differs", false});
        sink.OnPartialResult(partial);
        return core::MakeError(core::ErrorReason::kValidationFailed, "failed validation");
      },
      &exec);
  auto job = jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok());
  auto watch = jobs->Watch(job->id);
  ASSERT_TRUE(watch.ok());
  exec->RunAll();
  auto done = jobs->Get(job->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_EQ(core::ReasonOf(done->error), core::ErrorReason::kValidationFailed);
  ASSERT_TRUE(done->result.has_value());
  EXPECT_EQ(done->result->warnings.size(), 1u);
  ASSERT_TRUE(done->result->validation.has_value());
  EXPECT_FALSE(done->result->validation->ok());
  std::optional<JobEvent> last;
  while (auto e = (*watch)->Next(absl::Seconds(10))) {
    last = e;
    if (e->final) break;
  }
  ASSERT_TRUE(last && last->final);
  EXPECT_TRUE(last->result.has_value());
  EXPECT_FALSE(last->error.ok());
}

TEST(JobOutcome, WatchResumesAfterASequence) {
  GatedRunner gate;
  ManualExecutor* exec = nullptr;
  auto jobs = Make(gate.AsRunner(), &exec);
  auto job = jobs->Submit(ExportSpec("/in/a", "/out/a"));
  ASSERT_TRUE(job.ok());
  std::thread worker([&] { exec->RunOne(); });
  gate.WaitStarted();
  // Running: events so far were published; resuming after the latest one
  // gives no snapshot, only what comes next.
  auto first = jobs->Watch(job->id);
  ASSERT_TRUE(first.ok());
  auto snapshot = (*first)->Next(absl::Seconds(10));
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_GT(snapshot->sequence, 0u);
  auto resumed = jobs->Watch(job->id, snapshot->sequence);
  auto behind = jobs->Watch(job->id, snapshot->sequence - 1);
  ASSERT_TRUE(resumed.ok() && behind.ok());
  EXPECT_FALSE((*resumed)->Next(absl::Milliseconds(50)).has_value());
  auto caught_up = (*behind)->Next(absl::Seconds(10));
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_EQ(caught_up->sequence, snapshot->sequence);  // the current state sums up what it missed
  gate.Release();
  worker.join();
  uint64_t seq = snapshot->sequence;
  bool final_seen = false;
  while (auto e = (*resumed)->Next(absl::Seconds(10))) {
    EXPECT_GT(e->sequence, seq);
    seq = e->sequence;
    if (e->final) {
      final_seen = true;
      break;
    }
  }
  EXPECT_TRUE(final_seen);
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

TEST(JobOutcome, KeyOfARetryableFailureRunsAgain) {
  ManualExecutor* exec = nullptr;
  int calls = 0;
  auto jobs = Make(
      [&calls](const JobSpec& spec, core::ProgressSink&, const core::CancelToken&)
          -> absl::StatusOr<core::ExportResult> {
        ++calls;
        if (spec.export_options.output_dir == "/out/io") return absl::InternalError("disk full");
        return absl::InvalidArgumentError("bad tensor");
      },
      &exec);
  auto a = jobs->Submit(ExportSpec("/in/a", "/out/io", "key-io"));
  auto b = jobs->Submit(ExportSpec("/in/b", "/out/bad", "key-bad"));
  ASSERT_TRUE(a.ok() && b.ok());
  exec->RunAll();
  auto a2 = jobs->Submit(ExportSpec("/in/a", "/out/io", "key-io"));
  auto b2 = jobs->Submit(ExportSpec("/in/b", "/out/bad", "key-bad"));
  ASSERT_TRUE(a2.ok() && b2.ok());
  EXPECT_NE(a2->id, a->id);  // INTERNAL is retryable: a new job under the same key
  EXPECT_EQ(a2->state, JobState::kQueued);
  EXPECT_EQ(b2->id, b->id);  // CHECKPOINT_INVALID is not: the same failed job
  EXPECT_EQ(b2->state, JobState::kFailed);
  exec->RunAll();
  EXPECT_EQ(calls, 3);
}

TEST(JobOutcome, ShutdownInterruptsCancelJobCancels) {
  GatedRunner gate;
  ManualExecutor* exec = nullptr;
  auto jobs = Make(gate.AsRunner(), &exec);
  auto user = jobs->Submit(ExportSpec("/in/a", "/out/a"));
  auto running = jobs->Submit(ExportSpec("/in/b", "/out/b"));
  auto queued = jobs->Submit(ExportSpec("/in/c", "/out/c"));
  ASSERT_TRUE(user.ok() && running.ok() && queued.ok());
  ASSERT_TRUE(jobs->Cancel(user->id).ok());
  exec->RunOne();  // the cancelled one: nothing to do
  std::thread worker([&] { exec->RunOne(); });
  gate.WaitStarted();
  jobs->StopAccepting();
  jobs->CancelAll();
  worker.join();
  exec->RunAll();
  auto reason = [&](const std::string& id) { return core::DetailsOf(jobs->Get(id)->error); };
  EXPECT_EQ(reason(user->id).reason, core::ErrorReason::kCancelled);
  EXPECT_FALSE(reason(user->id).retryable);
  for (const auto& id : {running->id, queued->id}) {
    EXPECT_EQ(jobs->Get(id)->state, JobState::kCancelled);
    EXPECT_EQ(reason(id).reason, core::ErrorReason::kInterrupted) << id;
    EXPECT_TRUE(reason(id).retryable);
  }
}

TEST(JobOutcome, JournalKeepsReasonsAndPartialResults) {
  const std::string dir = testing::MakeTempDir("journal-reasons");
  ASSERT_FALSE(dir.empty());
  std::string id;
  {
    JobManagerOptions o;
    o.state_dir = dir;
    o.runner = [](const JobSpec&, core::ProgressSink& sink, const core::CancelToken&)
        -> absl::StatusOr<core::ExportResult> {
      core::ExportResult partial;
      partial.warnings.push_back("kept");
      sink.OnPartialResult(partial);
      return core::WithRetryDelay(
          core::MakeError(core::ErrorReason::kValidationFailed, "no", {{"check", "manifest"}}),
          absl::Seconds(3));
    };
    auto jobs = JobManager::Create(std::move(o));  // inline executor: runs at Submit
    ASSERT_TRUE(jobs.ok());
    JobSpec spec;
    spec.kind = JobKind::kValidate;
    spec.validate_dir = "/out/x";
    spec.validate_strict = true;
    auto job = (*jobs)->Submit(spec);
    ASSERT_TRUE(job.ok());
    id = job->id;
  }
  JobManagerOptions o;
  o.state_dir = dir;
  auto reopened = JobManager::Create(std::move(o));
  ASSERT_TRUE(reopened.ok());
  auto job = (*reopened)->Get(id);
  ASSERT_TRUE(job.ok());
  const core::ErrorDetails d = core::DetailsOf(job->error);
  EXPECT_EQ(d.reason, core::ErrorReason::kValidationFailed);  // not the code's default
  EXPECT_EQ(d.metadata.at("check"), "manifest");
  EXPECT_EQ(d.retry_delay, absl::Seconds(3));
  EXPECT_TRUE(job->spec.validate_strict);
  ASSERT_TRUE(job->result.has_value());
  EXPECT_EQ(job->result->warnings, std::vector<std::string>{"kept"});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace neobert::server
