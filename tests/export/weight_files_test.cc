// PlanWeightFiles / WriteWeightFiles: which file holds which tensor, and
// that both formats read back to the same bytes with the digests recorded
// while writing.
#include "core/export/weight_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "nlohmann/json.hpp"
#include "tests/format/writer_test_util.h"

namespace neobert::core {
namespace {

using format::DType;
using format::TensorEntry;
using format::testing::MemTensor;
using format::testing::RandomBytes;
using format::testing::ReadFileBytes;
using format::testing::ScratchDir;
using ::testing::ElementsAre;

// Four float32 tensors of 400, 400, 800 and 40 bytes.
std::vector<TensorEntry> Tensors() {
  std::vector<TensorEntry> v;
  v.push_back(MemTensor("a", DType::kFloat32, {10, 10}, RandomBytes(400, 1)));
  v.push_back(MemTensor("b", DType::kFloat32, {100}, RandomBytes(400, 2)));
  v.push_back(MemTensor("c", DType::kFloat32, {20, 10}, RandomBytes(800, 3)));
  v.push_back(MemTensor("d", DType::kFloat32, {10}, RandomBytes(40, 4)));
  return v;
}

TEST(WeightFilesPlanTest, OneFileOfEachFormatByDefault) {
  const WeightFilesPlan plan = PlanWeightFiles(Tensors(), {});
  ASSERT_EQ(plan.shards.size(), 1u);
  EXPECT_EQ(plan.shards[0].name, "model.safetensors");
  EXPECT_THAT(plan.shards[0].tensors, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(plan.tensor_bytes, 1640u);
  EXPECT_THAT(plan.Files(), ElementsAre("model.safetensors", "pytorch_model.bin"));
}

TEST(WeightFilesPlanTest, ShardsFillUpToTheLimit) {
  const WeightFilesPlan plan =
      PlanWeightFiles(Tensors(), {.max_shard_bytes = 900, .pytorch_bin_name = ""});
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_THAT(plan.shards[0].tensors, ElementsAre(0, 1));  // 800; + 800 > 900
  EXPECT_THAT(plan.shards[1].tensors, ElementsAre(2, 3));  // 840
  EXPECT_EQ(plan.shards[1].bytes, 840u);
  EXPECT_THAT(plan.Files(),
              ElementsAre("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"));
}

TEST(WeightFilesPlanTest, ATensorOverTheLimitGetsAShardOfItsOwn) {
  const WeightFilesPlan plan = PlanWeightFiles(Tensors(), {.max_shard_bytes = 500});
  ASSERT_EQ(plan.shards.size(), 4u);
  EXPECT_THAT(plan.shards[2].tensors, ElementsAre(2));
  EXPECT_EQ(plan.shards[2].bytes, 800u);
  EXPECT_EQ(plan.shards[3].name, "model-00004-of-00004.safetensors");
  EXPECT_EQ(plan.Files().back(), "pytorch_model.bin");
}

TEST(WeightFilesPlanTest, NamesAreTheCallersForConvert) {
  const WeightFilesPlan bin_only =
      PlanWeightFiles(Tensors(), {.safetensors_name = "", .pytorch_bin_name = "out.pt"});
  EXPECT_TRUE(bin_only.shards.empty());
  EXPECT_THAT(bin_only.Files(), ElementsAre("out.pt"));
  const WeightFilesPlan st_only =
      PlanWeightFiles(Tensors(), {.safetensors_name = "w.safetensors", .pytorch_bin_name = ""});
  EXPECT_THAT(st_only.Files(), ElementsAre("w.safetensors"));
}

TEST(WeightFilesWriteTest, BothFormatsReadBackWithTheirDigests) {
  ScratchDir dir;
  const std::vector<TensorEntry> tensors = Tensors();
  const WeightFilesPlan plan = PlanWeightFiles(tensors, {.max_shard_bytes = 900});
  std::map<std::string, std::string> sha256;
  base::NullProgress progress;
  base::CancelToken cancel;
  auto files = WriteWeightFiles(tensors, plan, {.dir = dir.path(), .sync = false,
                                                .writeback = false, .sha256 = &sha256},
                                progress, cancel);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, plan.Files());

  std::map<std::string, std::vector<uint8_t>> want;
  for (const TensorEntry& t : tensors) want[t.name] = *format::ReadContiguous(t);
  std::map<std::string, std::string> shard_of;
  for (const std::string& name : *files) {
    if (name == "model.safetensors.index.json") continue;
    auto digest = format::FileSha256(neobert::base::FsRoot(), dir.file(name));
    ASSERT_TRUE(digest.ok());
    EXPECT_EQ(sha256[name], *digest) << name;
    auto set = format::ReadWeights(neobert::base::FsRoot(), dir.file(name));
    ASSERT_TRUE(set.ok()) << set.status();
    for (const TensorEntry& t : set->tensors) {
      EXPECT_EQ(*format::ReadContiguous(t), want[t.name]) << name << " " << t.name;
      if (name != "pytorch_model.bin") shard_of[t.name] = name;
    }
  }
  EXPECT_EQ(shard_of.size(), tensors.size());
  const std::vector<uint8_t> index_bytes = ReadFileBytes(dir.file("model.safetensors.index.json"));
  const auto index = nlohmann::json::parse(index_bytes.begin(), index_bytes.end());
  EXPECT_EQ(index["metadata"]["total_size"], 1640);
  for (const auto& [tensor, shard] : shard_of) EXPECT_EQ(index["weight_map"][tensor], shard);
}

TEST(WeightFilesWriteTest, CancelStopsTheWrite) {
  ScratchDir dir;
  const std::vector<TensorEntry> tensors = Tensors();
  base::NullProgress progress;
  base::CancelToken cancel;
  cancel.Cancel();
  auto files = WriteWeightFiles(tensors, PlanWeightFiles(tensors, {}),
                                {.dir = dir.path(), .sync = false, .writeback = false}, progress,
                                cancel);
  EXPECT_TRUE(absl::IsCancelled(files.status())) << files.status();
}

}  // namespace
}  // namespace neobert::core
