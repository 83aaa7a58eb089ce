// WriteExport executes a plan into a staging directory: exactly the planned
// files, a manifest that verifies, nothing published until the caller
// commits, nothing left behind on failure. ExportCheckpoint (plan, lock,
// write, publish) end to end, with the sanity pass beside the writes.
#include "core/export/export_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "core/export/exporter.h"
#include "core/export/manifest.h"
#include "core/format/weights.h"
#include "core/status/error_reason.h"
#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Entries;

class ExportWriterTest : public testing::ExportTest {};
class ExportCheckpointTest : public testing::ExportTest {};

// Records the stages a job reports, in order.
class StageRecorder : public base::ProgressSink {
 public:
  void OnStage(const std::string& stage, const std::string& message, uint64_t) override {
    stages.push_back(stage + ": " + message);
  }
  void OnBytes(uint64_t) override {}
  void OnWarning(const std::string&) override {}
  std::vector<std::string> stages;
};

TEST_F(ExportWriterTest, WritesExactlyThePlannedFilesAndPublishesNothing) {
  auto plan = PlanExport(Options(), progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto staging = StagingDir::Create({.destination = c.out(), .sync = false});
  ASSERT_TRUE(staging.ok()) << staging.status();
  StageRecorder stages;
  ASSERT_TRUE(WriteExport(**plan, **staging, stages, cancel).ok());

  const std::vector<std::string> files = (*plan)->Files();
  EXPECT_EQ(Entries((*staging)->path()), std::set<std::string>(files.begin(), files.end()));
  EXPECT_FALSE(fs::exists(c.out()));
  // The manifest lists every other file, in write order, and verifies.
  const Manifest& m = (*plan)->manifest;
  ASSERT_EQ(m.files.size(), files.size() - 1);
  for (size_t i = 0; i < m.files.size(); ++i) EXPECT_EQ(m.files[i].name, files[i]);
  auto on_disk = ReadManifest(base::FsRoot(), (*staging)->path());
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_TRUE(VerifyManifestFiles(base::FsRoot(), (*staging)->path(), *on_disk).ok());
  EXPECT_EQ(on_disk->fingerprint, m.fingerprint);
  // Stages as a job reports them.
  EXPECT_THAT(stages.stages, ::testing::ElementsAre(
                                 "write: config.json", "write: model.safetensors, pytorch_model.bin",
                                 "write: model.py, rotary.py, tokenizer, README.md",
                                 "commit: hashing files and publishing"));
  // Both weight files hold the mapped tensors.
  auto st = format::ReadWeights(base::FsRoot(), (*staging)->File("model.safetensors"));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.size(), (*plan)->tensors.size());

  staging->reset();  // not committed: removed
  EXPECT_TRUE(Entries(c.root()).count("ckpt"));
  EXPECT_EQ(Entries(c.root()).size(), 1u);
}

TEST_F(ExportWriterTest, ACancelledWriteLeavesNothing) {
  auto plan = PlanExport(Options(), progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  {
    auto staging = StagingDir::Create({.destination = c.out(), .sync = false});
    ASSERT_TRUE(staging.ok()) << staging.status();
    cancel.Cancel();
    EXPECT_EQ(WriteExport(**plan, **staging, progress, cancel).code(),
              absl::StatusCode::kCancelled);
  }
  EXPECT_EQ(Entries(c.root()), std::set<std::string>{"ckpt"});
}

TEST_F(ExportCheckpointTest, PublishesTheExportWithTheSanityPassBesideTheWrites) {
  ExportOptions o = Options();
  o.sanity_check = true;
  o.device = "cpu";
  auto r = ExportCheckpoint(o, progress, cancel);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output_dir, c.out());
  EXPECT_EQ(r->sanity_device, "cpu");
  EXPECT_GT(r->sanity_seconds, 0);
  EXPECT_THAT(r->notes.back(), HasSubstr("sanity forward pass passed on cpu"));
  std::set<std::string> names;
  for (const auto& f : r->files) names.insert(f.name);
  names.insert(kManifestName);
  EXPECT_EQ(Entries(c.out()), names);
  auto m = ReadManifest(base::FsRoot(), c.out());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(VerifyManifestFiles(base::FsRoot(), c.out(), *m).ok());

  // Again: an identical export is there, nothing is written.
  auto again = ExportCheckpoint(o, progress, cancel);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->skipped);
}

// The export's pause points (test_hooks.h) read their folder once per
// process, so it is set before any test runs; without a gate file in it they
// do nothing.
const std::string& PauseDir() {
  static const std::string dir =
      (fs::temp_directory_path() / ("neobert_export_pause_" + std::to_string(::getpid()))).string();
  return dir;
}
const bool kPauseDirSet = [] {
  return ::setenv("NEOBERT_EXPORT_TEST_PAUSE_DIR", PauseDir().c_str(), 1) == 0;
}();

TEST_F(ExportCheckpointTest, AFailingValidationPublishesNothingAndKeepsTheReport) {
  ASSERT_TRUE(kPauseDirSet);
  ExportOptions o = Options();
  o.validate = true;
  o.device = "cpu";
  fs::create_directories(PauseDir());
  const std::string gate = PauseDir() + "/validate";
  testing::WriteText(gate, "");
  ExportResult partial;
  auto job = std::async(std::launch::async,
                        [&] { return ExportCheckpoint(o, progress, cancel, &partial); });
  // Staged with its manifest, not yet validated: change a staged file.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!fs::exists(gate + ".reached") && std::chrono::steady_clock::now() < deadline &&
         job.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
  }
  ASSERT_TRUE(fs::exists(gate + ".reached")) << "the export never reached the validate point";
  std::string staged;
  for (const std::string& name : Entries(c.root())) {
    if (name.rfind(".out.partial-", 0) == 0) staged = c.root() + "/" + name;
  }
  ASSERT_FALSE(staged.empty());
  testing::WriteText(staged + "/README.md", "changed after the manifest was written\n");
  fs::remove(gate);
  auto r = job.get();
  fs::remove_all(PauseDir());

  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ReasonOf(r.status()), ErrorReason::kValidationFailed);
  EXPECT_THAT(r.status().message(), HasSubstr("nothing was published: manifest (README.md"));
  ASSERT_TRUE(partial.validation.has_value());
  EXPECT_FALSE(partial.validation->ok());
  EXPECT_EQ(FailedChecksSummary(*partial.validation).rfind("manifest (README.md", 0), 0u);
  EXPECT_FALSE(fs::exists(c.out()));
  // No staging folder left; the empty lock file stays (destination_lock.h).
  EXPECT_EQ(Entries(c.root()), (std::set<std::string>{".out.lock", "ckpt"}));
}

}  // namespace
}  // namespace neobert::core
