#include "core/neobert/output_location.h"

#include <chrono>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(DefaultOutputDir, ReferenceExample) {
  TempDir d;
  fs::create_directories(d.path() / "runs/neobert_100m/model_checkpoints/100000");
  auto out = DefaultOutputDir(neobert::base::FsRoot(), d.str() + "/runs/neobert_100m/model_checkpoints/100000/");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, d.str() + "/runs/neobert_100m/hf/neobert_100m_100000");
  // 34f6a02+ layout gives the same result.
  fs::create_directories(d.path() / "runs/neobert_100m/checkpoints/100000");
  EXPECT_EQ(*DefaultOutputDir(neobert::base::FsRoot(), d.str() + "/runs/neobert_100m/checkpoints/100000"), *out);
}

TEST(DefaultOutputDir, ResolvesSymlinksAndRelativePaths) {
  TempDir d;
  fs::create_directories(d.path() / "runs/run7/model_checkpoints/20");
  fs::create_directory_symlink(d.path() / "runs/run7/model_checkpoints/20", d.path() / "latest");
  EXPECT_EQ(*DefaultOutputDir(neobert::base::FsRoot(), d.str() + "/latest"), d.str() + "/runs/run7/hf/run7_20");
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path() / "runs/run7");
  auto rel = DefaultOutputDir(neobert::base::FsRoot(), "model_checkpoints/20");
  fs::current_path(cwd);
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(*rel, d.str() + "/runs/run7/hf/run7_20");
}

TEST(DefaultOutputDir, Errors) {
  TempDir d;
  EXPECT_EQ(DefaultOutputDir(neobert::base::FsRoot(), d.str() + "/missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DefaultOutputDir(neobert::base::FsRoot(), "/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(DefaultOutputDir(neobert::base::FsRoot(), "/tmp").status().message(), HasSubstr("give an output directory"));
}

TEST(FindWeightFile, SingleFiles) {
  TempDir d;
  d.Write("a/model.safetensors", "x");
  auto st = FindWeightFile(neobert::base::FsRoot(), d.str() + "/a");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->path, d.str() + "/a/model.safetensors");
  EXPECT_EQ(st->format, "safetensors");
  EXPECT_TRUE(st->notes.empty());
  d.Write("b/state_dict.pt", "x");
  auto pt = FindWeightFile(neobert::base::FsRoot(), d.str() + "/b");
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(pt->format, "torch-zip");
}

TEST(FindWeightFile, BothFilesPreferSafetensorsOrNewer) {
  TempDir d;
  d.Write("model.safetensors", "x");
  d.Write("state_dict.pt", "x");
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(d.path() / "model.safetensors", now - std::chrono::hours(1));
  fs::last_write_time(d.path() / "state_dict.pt", now);
  auto def = FindWeightFile(neobert::base::FsRoot(), d.str());
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->format, "safetensors");
  EXPECT_THAT(def->notes, ElementsAre(HasSubstr("using model.safetensors (preferred)")));
  auto newer = FindWeightFile(neobert::base::FsRoot(), d.str(), {.prefer_newer = true});
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(newer->format, "torch-zip");
  EXPECT_THAT(newer->notes, ElementsAre(HasSubstr("using state_dict.pt (modified last)")));
}

TEST(FindWeightFile, NothingFound) {
  TempDir d;
  absl::Status s = FindWeightFile(neobert::base::FsRoot(), d.str()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("looked for model.safetensors and state_dict.pt"));
  // A folder in a weight file's place is named, not mistaken for "no weights".
  d.Write("model.safetensors/oops", "a directory is not a weight file");
  s = FindWeightFile(neobert::base::FsRoot(), d.str()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors: is a directory, not a regular file"));
}

TEST(FindWeightFile, DeepSpeedLayoutsRefused) {
  for (const char* marker :
       {"mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "bf16_zero_pp_rank_3_mp_rank_00_optim_states.pt", "latest",
        "pytorch_model/mp_rank_00_model_states.pt", "model/zero_pp_rank_1_mp_rank_00_optim_states.pt"}) {
    TempDir d;
    d.Write(marker, "x");
    absl::Status s = FindWeightFile(neobert::base::FsRoot(), d.str()).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << marker;
    EXPECT_THAT(s.message(), HasSubstr("DeepSpeed ZeRO checkpoint is not supported yet; convert "
                                       "with zero_to_fp32 first"));
  }
  TempDir unrelated;
  unrelated.Write("pytorch_model/readme.txt", "x");
  EXPECT_EQ(FindWeightFile(neobert::base::FsRoot(), unrelated.str()).status().code(), absl::StatusCode::kNotFound);
  // A portable file next to ZeRO shards wins, with a note.
  TempDir both;
  both.Write("pytorch_model/mp_rank_00_model_states.pt", "x");
  both.Write("model.safetensors", "x");
  auto w = FindWeightFile(neobert::base::FsRoot(), both.str());
  ASSERT_TRUE(w.ok());
  EXPECT_THAT(w->notes, Contains(HasSubstr("DeepSpeed ZeRO files present; ignored")));
}

TEST(InspectCheckpointDir, Layout) {
  TempDir d;
  EXPECT_EQ(InspectCheckpointDir(neobert::base::FsRoot(), d.str() + "/nope").status().code(), absl::StatusCode::kNotFound);
  d.Write("file", "x");
  EXPECT_EQ(InspectCheckpointDir(neobert::base::FsRoot(), d.str() + "/file").status().code(),
            absl::StatusCode::kInvalidArgument);
  fs::create_directories(d.path() / "100.tmp");
  absl::Status no_cfg = InspectCheckpointDir(neobert::base::FsRoot(), d.str() + "/100.tmp").status();
  EXPECT_EQ(no_cfg.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_cfg.message(), HasSubstr("100.tmp/config.yaml: not found"));
  d.Write("100.tmp/config.yaml", "model: {}\n");
  EXPECT_EQ(InspectCheckpointDir(neobert::base::FsRoot(), d.str() + "/100.tmp").status().code(),
            absl::StatusCode::kNotFound);  // no weights
  d.Write("100.tmp/model.safetensors", "x");
  auto layout = InspectCheckpointDir(neobert::base::FsRoot(), d.str() + "/100.tmp/");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->dir, d.str() + "/100.tmp");
  EXPECT_EQ(layout->config_yaml, d.str() + "/100.tmp/config.yaml");
  EXPECT_EQ(layout->tokenizer_dir, d.str() + "/100.tmp/tokenizer");
  EXPECT_EQ(layout->tokenizer_info_json, d.str() + "/100.tmp/tokenizer_info.json");
  EXPECT_EQ(layout->weights.path, d.str() + "/100.tmp/model.safetensors");
  EXPECT_THAT(layout->notes, ElementsAre(HasSubstr("staging/backup folder")));
}

}  // namespace
}  // namespace neobert::core
