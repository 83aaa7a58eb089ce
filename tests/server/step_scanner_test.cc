// Watch mode's rules without threads or inotify: which step dirs count, when
// they are finished, and the watcher's submission order and exactly-once
// bookkeeping (jobs run by a recording runner, not the exporter).
#include "server/step_scanner.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/job_manager.h"
#include "server/post_export_hook.h"
#include "server/server_config.h"
#include "server/watcher.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// A step dir the scanner accepts (content is not a real checkpoint).
void MakeStep(const fs::path& dir, const std::string& weight = "model.safetensors") {
  Write(dir / "config.yaml", "model: {}\n");
  Write(dir / weight, "weights");
  Write(dir / "tokenizer" / "special_tokens_map.json", "{}");
}

std::vector<std::string> Names(const std::vector<StepDir>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) {
    out.push_back(fs::path(s.path).parent_path().filename().string() + "/" +
                  fs::path(s.path).filename().string());
  }
  return out;
}

class StepScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::MakeTempDir("scan");
    ASSERT_FALSE(tmp_.empty());
  }
  void TearDown() override { fs::remove_all(tmp_); }
  fs::path tmp_;
};

TEST(IsStepNameTest, DigitsOnly) {
  EXPECT_TRUE(IsStepName("0"));
  EXPECT_TRUE(IsStepName("100000"));
  EXPECT_FALSE(IsStepName(""));
  EXPECT_FALSE(IsStepName("100.tmp"));
  EXPECT_FALSE(IsStepName("100.old"));
  EXPECT_FALSE(IsStepName("latest"));
  EXPECT_FALSE(IsStepName("step100"));
  EXPECT_FALSE(IsStepName("-1"));
  EXPECT_FALSE(IsStepName("12345678901234567890"));  // 20 digits: beyond uint64
}

TEST_F(StepScannerTest, BothLayoutsIgnoringTmpOldAndOtherNames) {
  const fs::path run = tmp_ / "run1";
  MakeStep(run / "model_checkpoints" / "100", "state_dict.pt");
  MakeStep(run / "model_checkpoints" / "300");
  MakeStep(run / "model_checkpoints" / "400.tmp");  // being written (older trainer)
  MakeStep(run / "model_checkpoints" / "300.old");  // promotion backup
  MakeStep(run / "model_checkpoints" / "best");
  Write(run / "model_checkpoints" / "latest", "300\n");
  Write(run / "model_checkpoints" / "500", "a file, not a folder");
  MakeStep(run / "checkpoints" / "200");
  // Accelerate resume state of the older trainers: no config.yaml.
  Write(run / "checkpoints" / "300" / "optimizer.bin", "x");
  Write(run / "checkpoints" / "300" / "model.safetensors", "x");

  ScanResult r = ScanWatchDirs({run.string()});
  EXPECT_EQ(Names(r.steps), (std::vector<std::string>{"checkpoints/300", "model_checkpoints/300",
                                                     "checkpoints/200", "model_checkpoints/100"}));
  ASSERT_EQ(r.steps.size(), 4u);
  EXPECT_FALSE(r.steps[0].complete);
  EXPECT_EQ(r.steps[0].missing, "config.yaml");
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(r.steps[i].complete) << r.steps[i].path << ": " << r.steps[i].missing;
    EXPECT_EQ(r.steps[i].run_name, "run1");
    EXPECT_FALSE(r.steps[i].signature.empty());
  }
  EXPECT_EQ(r.steps[1].step, 300u);
  EXPECT_EQ(r.steps[1].run_dir, run.string());
  // inotify must see new steps and files appear in these folders.
  auto has = [&](const fs::path& p) {
    return std::find(r.dirs.begin(), r.dirs.end(), p.string()) != r.dirs.end();
  };
  EXPECT_TRUE(has(run));
  EXPECT_TRUE(has(run / "model_checkpoints"));
  EXPECT_TRUE(has(run / "checkpoints"));
  EXPECT_TRUE(has(run / "model_checkpoints" / "300"));
  EXPECT_TRUE(has(run / "model_checkpoints" / "300" / "tokenizer"));
  EXPECT_FALSE(has(run / "model_checkpoints" / "400.tmp"));
}

TEST_F(StepScannerTest, CheckpointsFolderDirectlyAndFolderOfRuns) {
  MakeStep(tmp_ / "runs" / "a" / "checkpoints" / "10");
  MakeStep(tmp_ / "runs" / "b" / "model_checkpoints" / "20");
  // Given directly (trailing slash too): only its own steps.
  ScanResult direct = ScanWatchDirs({(tmp_ / "runs" / "a" / "checkpoints").string() + "/"});
  ASSERT_EQ(direct.steps.size(), 1u);
  EXPECT_EQ(direct.steps[0].run_name, "a");
  EXPECT_EQ(direct.steps[0].step, 10u);
  // A folder of runs: every run's steps, newest first.
  ScanResult runs = ScanWatchDirs({(tmp_ / "runs").string()});
  ASSERT_EQ(runs.steps.size(), 2u);
  EXPECT_EQ(runs.steps[0].run_name, "b");
  EXPECT_EQ(runs.steps[1].run_name, "a");
  // Not there yet (sidecar started before the trainer): nothing, no error.
  EXPECT_TRUE(ScanWatchDirs({(tmp_ / "later").string()}).steps.empty());
}

TEST_F(StepScannerTest, IncompleteStepDirs) {
  const fs::path mc = tmp_ / "run" / "model_checkpoints";
  Write(mc / "1" / "model.safetensors", "w");  // weights only so far
  Write(mc / "1" / "tokenizer" / "tokenizer.json", "{}");
  MakeStep(mc / "2");
  fs::remove(mc / "2" / "model.safetensors");
  Write(mc / "2" / "model.safetensors", "");  // created, nothing written yet
  MakeStep(mc / "3");
  fs::remove_all(mc / "3" / "tokenizer");
  MakeStep(mc / "4");
  fs::remove(mc / "4" / "tokenizer" / "special_tokens_map.json");  // empty tokenizer/
  MakeStep(mc / "5", "state_dict.pt");

  ScanResult r = ScanWatchDirs({(tmp_ / "run").string()});
  ASSERT_EQ(r.steps.size(), 5u);
  EXPECT_TRUE(r.steps[0].complete);  // 5
  EXPECT_EQ(r.steps[1].missing, "tokenizer/");  // 4
  EXPECT_EQ(r.steps[2].missing, "tokenizer/");  // 3
  EXPECT_NE(r.steps[3].missing.find("weight file"), std::string::npos);  // 2
  EXPECT_EQ(r.steps[4].missing, "config.yaml");  // 1
  for (size_t i = 1; i < 5; ++i) EXPECT_FALSE(r.steps[i].complete);
}

// Issue 13: the scan reaches everything through the root's door. A run
// folder or a step folder that is a link leading out of the root is skipped
// (nothing outside is listed or watched), a link that stays inside is
// followed, and a FIFO in a weight file's place neither hangs the scan nor
// counts as a weight file.
TEST_F(StepScannerTest, LinksLeavingTheRootAreSkippedSpecialFilesDoNotHang) {
  const fs::path root = tmp_ / "root";
  const fs::path outside = tmp_ / "outside";
  MakeStep(outside / "x" / "checkpoints" / "7");
  MakeStep(root / "runs" / "a" / "checkpoints" / "10");
  fs::create_directory_symlink(outside / "x", root / "runs" / "escaped");
  fs::create_directories(root / "runs" / "b" / "checkpoints");
  fs::create_directory_symlink(outside / "x" / "checkpoints" / "7",
                               root / "runs" / "b" / "checkpoints" / "20");
  MakeStep(root / "shared" / "40");
  fs::create_directories(root / "runs" / "d" / "checkpoints");
  fs::create_directory_symlink("../../../shared/40", root / "runs" / "d" / "checkpoints" / "40");
  MakeStep(root / "runs" / "c" / "checkpoints" / "30");
  fs::remove(root / "runs" / "c" / "checkpoints" / "30" / "model.safetensors");
  ASSERT_EQ(::mkfifo((root / "runs" / "c" / "checkpoints" / "30" / "model.safetensors").c_str(),
                     0600), 0);

  auto door = base::FsRoot::Open(root.string());
  ASSERT_TRUE(door.ok()) << door.status();
  ScanResult r = ScanWatchDirs({WatchFolder{*door, (root / "runs").string()}});
  EXPECT_EQ(Names(r.steps),
            (std::vector<std::string>{"checkpoints/40", "checkpoints/30", "checkpoints/10"}));
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_TRUE(r.steps[0].complete) << r.steps[0].missing;  // through the inside link
  EXPECT_FALSE(r.steps[1].complete);                       // the FIFO is no weight file
  EXPECT_NE(r.steps[1].missing.find("weight file"), std::string::npos) << r.steps[1].missing;
  EXPECT_TRUE(r.steps[2].complete) << r.steps[2].missing;
  for (const auto& dir : r.dirs) {
    EXPECT_EQ(dir.find(outside.string()), std::string::npos) << dir;
    EXPECT_EQ(dir.find("escaped"), std::string::npos) << dir;
  }
}

TEST_F(StepScannerTest, StableOnlyAfterSettleWithoutChanges) {
  const fs::path mc = tmp_ / "run" / "checkpoints";
  MakeStep(mc / "7");
  const fs::path half = mc / "8";
  Write(half / "model.safetensors", "w");
  StabilityTracker t(absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);

  EXPECT_TRUE(t.Update(ScanWatchDirs({mc.string()}).steps, t0).empty());
  EXPECT_TRUE(t.settling());
  EXPECT_TRUE(t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Milliseconds(500)).empty());
  auto ready = t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(1));
  EXPECT_EQ(Names(ready), (std::vector<std::string>{"checkpoints/7"}));
  EXPECT_FALSE(t.settling());

  // Step 8 completes; then one of its files changes before it settled: the
  // clock restarts from that change.
  MakeStep(half);
  EXPECT_EQ(t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(2)).size(), 1u);
  Write(half / "tokenizer" / "vocab.txt", "[PAD]\n");
  EXPECT_EQ(t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(3)).size(), 1u);
  EXPECT_TRUE(t.settling());
  ready = t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(4));
  EXPECT_EQ(Names(ready), (std::vector<std::string>{"checkpoints/8", "checkpoints/7"}));

  // A file growing in place (same name set, new size) is a change as well.
  std::ofstream(half / "model.safetensors", std::ios::app) << "more";
  ready = t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(10));
  EXPECT_EQ(Names(ready), (std::vector<std::string>{"checkpoints/7"}));

  // A step that disappears (pruned) is forgotten, and settles anew if it
  // comes back.
  fs::remove_all(mc / "7");
  EXPECT_EQ(t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(11)).size(), 1u);
  MakeStep(mc / "7");
  ready = t.Update(ScanWatchDirs({mc.string()}).steps, t0 + absl::Seconds(11));
  EXPECT_EQ(Names(ready), (std::vector<std::string>{"checkpoints/8"}));
}

// The watcher's own round, with a recording runner: newest first, each
// finished step once, half-written steps never, queue-full retried.
class WatcherRoundTest : public StepScannerTest {
 protected:
  void SetUp() override {
    StepScannerTest::SetUp();
    fs::create_directories(tmp_ / "in");
    fs::create_directories(tmp_ / "out");
  }
  std::unique_ptr<JobManager> MakeJobs(int capacity = 16) {
    JobManagerOptions o;
    o.queue_capacity = capacity;
    auto exec = std::make_unique<testing::ManualExecutor>();
    exec_ = exec.get();
    o.executor = std::move(exec);
    o.runner = [this](const JobSpec& spec, JobProgress&,
                      const base::CancelToken&) -> absl::StatusOr<core::ExportResult> {
      ran_.push_back(spec.export_options()->checkpoint_dir + " -> " + spec.export_options()->output_dir);
      core::ExportResult r;
      r.output_dir = spec.export_options()->output_dir;
      return r;
    };
    auto m = JobManager::Create(std::move(o));
    EXPECT_TRUE(m.ok());
    return std::move(*m);
  }
  std::unique_ptr<Watcher> MakeWatcher(JobManager* jobs, const std::string& output_dir) {
    auto policy = PathPolicy::Create({(tmp_ / "in").string()}, {(tmp_ / "out").string()});
    EXPECT_TRUE(policy.ok());
    WatcherOptions o;
    o.dirs = {(tmp_ / "in" / "run").string()};
    o.output_dir = output_dir;
    o.poll = absl::Seconds(1);
    o.mode = WatchMode::kPoll;
    auto w = Watcher::Create(std::move(o), jobs, *policy);
    EXPECT_TRUE(w.ok()) << w.status();
    return std::move(*w);
  }
  testing::ManualExecutor* exec_ = nullptr;
  std::vector<std::string> ran_;
};

TEST_F(WatcherRoundTest, NewestFirstOnceEachNeverHalfWritten) {
  auto jobs = MakeJobs();
  auto w = MakeWatcher(jobs.get(), (tmp_ / "out").string());
  const fs::path mc = tmp_ / "in" / "run" / "model_checkpoints";
  MakeStep(mc / "100");
  MakeStep(mc / "300");
  MakeStep(mc / "200.tmp");
  Write(mc / "400" / "model.safetensors", "half");
  const absl::Time t0 = absl::FromUnixSeconds(5000);
  EXPECT_TRUE(w->ScanOnce(t0).empty());  // not settled yet
  auto ids = w->ScanOnce(t0 + absl::Seconds(1));
  ASSERT_EQ(ids.size(), 2u);
  exec_->RunAll();
  const std::string canon_mc = fs::canonical(mc).string();
  const std::string out = fs::canonical(tmp_ / "out").string();
  EXPECT_EQ(ran_, (std::vector<std::string>{canon_mc + "/300 -> " + out + "/run_300",
                                            canon_mc + "/100 -> " + out + "/run_100"}));
  EXPECT_TRUE(w->ScanOnce(t0 + absl::Seconds(2)).empty());  // exactly once

  // The older trainer promotes 200.tmp → 200; 400 is finished in place.
  fs::rename(mc / "200.tmp", mc / "200");
  MakeStep(mc / "400");
  EXPECT_TRUE(w->ScanOnce(t0 + absl::Seconds(3)).empty());
  ids = w->ScanOnce(t0 + absl::Seconds(4));
  EXPECT_EQ(ids.size(), 2u);
  exec_->RunAll();
  ASSERT_EQ(ran_.size(), 4u);
  EXPECT_EQ(ran_[2], canon_mc + "/400 -> " + out + "/run_400");
  EXPECT_EQ(ran_[3], canon_mc + "/200 -> " + out + "/run_200");
  EXPECT_TRUE(w->ScanOnce(t0 + absl::Seconds(5)).empty());
}

TEST_F(WatcherRoundTest, QueueFullIsRetriedDrainStops) {
  auto jobs = MakeJobs(/*capacity=*/1);
  auto w = MakeWatcher(jobs.get(), (tmp_ / "out").string());
  const fs::path mc = tmp_ / "in" / "run" / "checkpoints";
  MakeStep(mc / "1");
  MakeStep(mc / "2");
  const absl::Time t0 = absl::FromUnixSeconds(5000);
  w->ScanOnce(t0);
  EXPECT_EQ(w->ScanOnce(t0 + absl::Seconds(1)).size(), 1u);  // 2; 1 refused: queue full
  exec_->RunAll();
  EXPECT_EQ(w->ScanOnce(t0 + absl::Seconds(2)).size(), 1u);  // 1, retried
  exec_->RunAll();
  EXPECT_EQ(ran_.size(), 2u);
  MakeStep(mc / "3");
  jobs->StopAccepting();
  w->ScanOnce(t0 + absl::Seconds(3));
  EXPECT_TRUE(w->ScanOnce(t0 + absl::Seconds(4)).empty());
  exec_->RunAll();
  EXPECT_EQ(ran_.size(), 2u);
}

TEST_F(WatcherRoundTest, RefusesFoldersOutsideTheRoots) {
  auto jobs = MakeJobs();
  auto policy = PathPolicy::Create({(tmp_ / "in").string()}, {(tmp_ / "out").string()});
  ASSERT_TRUE(policy.ok());
  WatcherOptions o;
  o.dirs = {tmp_.string()};
  EXPECT_EQ(Watcher::Create(o, jobs.get(), *policy).status().code(),
            absl::StatusCode::kPermissionDenied);
  o.dirs = {(tmp_ / "in" / "not-yet").string()};  // inside, need not exist
  EXPECT_TRUE(Watcher::Create(o, jobs.get(), *policy).ok());
  o.output_dir = (tmp_ / "in").string();
  EXPECT_EQ(Watcher::Create(o, jobs.get(), *policy).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(PostExportHookTest, ArgsEnvExitCodeAndTimeout) {
  const std::string tmp = testing::MakeTempDir("hook");
  std::vector<std::string> lines;
  PostExportHookOptions o;
  o.command =
      "echo \"dir=$1\"; echo \"env=$NEOBERT_EXPORT_DIR $NEOBERT_CHECKPOINT_DIR $NEOBERT_JOB_ID "
      "$NEOBERT_JOB_ATTEMPT\" >&2; exit 3";
  o.log_line = [&](const std::string& l) { lines.push_back(l); };
  base::CancelToken cancel;
  // The server's own NEOBERT_JOB_ATTEMPT (a server started from a hook) never leaks through.
  ::setenv("NEOBERT_JOB_ATTEMPT", "99", 1);
  HookOutcome h = RunPostExportHook(o, {"/x/export dir", "/x/ckpt", "job-1", 2}, cancel);
  ::unsetenv("NEOBERT_JOB_ATTEMPT");
  EXPECT_TRUE(h.ran);
  EXPECT_EQ(h.exit_code, 3);
  EXPECT_EQ(lines,
            (std::vector<std::string>{"dir=/x/export dir", "env=/x/export dir /x/ckpt job-1 2"}));

  o.command = "sleep 30";
  o.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  h = RunPostExportHook(o, {"/x", "/y", "job-2"}, cancel);
  EXPECT_EQ(h.exit_code, 124);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  o.command = "";
  EXPECT_FALSE(RunPostExportHook(o, {"/x", "/y", "job-3"}, cancel).ran);
  fs::remove_all(tmp);
}

TEST(WatchFlagsTest, ParsedAndChecked) {
  auto c = ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--watch", "/a/r1",
                             "--watch=/a/r2", "--watch-output", "/b/x", "--watch-poll-seconds", "2",
                             "--watch-mode", "poll", "--post-export-hook", "upload \"$1\"",
                             "--post-export-hook-timeout", "60"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->watch_dirs, (std::vector<std::string>{"/a/r1", "/a/r2"}));
  EXPECT_EQ(c->watch_output, "/b/x");
  EXPECT_EQ(c->watch_poll_seconds, 2);
  EXPECT_EQ(c->watch_mode, "poll");
  EXPECT_EQ(c->post_export_hook, "upload \"$1\"");
  EXPECT_EQ(c->post_export_hook_timeout_seconds, 60);
  auto defaults = ParseServerFlags({"--input-root", "/a", "--output-root", "/b"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->watch_poll_seconds, 10);
  EXPECT_EQ(defaults->watch_mode, "auto");
  EXPECT_TRUE(defaults->post_export_hook.empty());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--watch", "/a",
                                 "--watch-mode", "fanotify"}).ok());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--watch", "/a",
                                 "--watch-poll-seconds", "0"}).ok());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--watch-output", "/b/x"}).ok());
}

}  // namespace
}  // namespace neobert::server
