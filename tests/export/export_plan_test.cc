// PlanExport: the plan decides every file and reads and checks everything
// before anything is written; it is the dry run. Runs on a copy of a
// generated fixture checkpoint (real torch.save).
#include "core/export/export_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/export/exporter.h"
#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Entries;

class ExportPlanTest : public testing::ExportTest {};

// Tokenizer files of the fixture as an export writes them.
const std::vector<std::string> kTokenizerFiles = {
    "added_tokens.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    "vocab.txt"};

std::vector<std::string> Expected(const std::vector<std::string>& weights) {
  std::vector<std::string> files = {"config.json"};
  files.insert(files.end(), weights.begin(), weights.end());
  files.push_back("model.py");
  files.push_back("rotary.py");
  files.insert(files.end(), kTokenizerFiles.begin(), kTokenizerFiles.end());
  files.push_back("README.md");
  files.push_back("manifest.json");
  return files;
}

TEST_F(ExportPlanTest, PlansEveryFileInWriteOrderAndWritesNothing) {
  const auto before = Entries(c.root());
  auto plan = PlanExport(Options(), progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ExportPlan& p = **plan;
  EXPECT_FALSE(p.done);
  EXPECT_EQ(p.output_dir, c.out());
  EXPECT_EQ(p.Files(), Expected({"model.safetensors", "pytorch_model.bin"}));
  EXPECT_EQ(p.steps.front().kind, ExportStep::Kind::kConfigJson);
  EXPECT_EQ(p.steps.back().kind, ExportStep::Kind::kManifest);
  // What was read and decided.
  EXPECT_EQ(p.result.dtype, "float32");
  EXPECT_EQ(p.result.tensor_count, p.tensors.size());
  EXPECT_EQ(p.result.mapping.size(), p.tensors.size());
  EXPECT_GT(p.result.tensor_bytes, 0u);
  EXPECT_EQ(p.weight_files.tensor_bytes, p.result.tensor_bytes);
  EXPECT_EQ(p.manifest.weights, "state_dict.pt");
  EXPECT_FALSE(p.manifest.fingerprint.empty());
  EXPECT_TRUE(p.manifest.files.empty());  // filled by the writer
  // Nothing written: the checkpoint's folder is as it was, no destination.
  EXPECT_EQ(Entries(c.root()), before);
  EXPECT_FALSE(fs::exists(c.out()));
}

TEST_F(ExportPlanTest, OptionsChangeTheFiles) {
  ExportOptions o = Options();
  o.write_pytorch_bin = false;
  o.max_shard_bytes = 40000;  // the fixture's weights are a few hundred KB
  o.dtype = "bfloat16";
  auto plan = PlanExport(o, progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ExportPlan& p = **plan;
  ASSERT_GT(p.weight_files.shards.size(), 1u);
  std::vector<std::string> weights;
  for (const auto& s : p.weight_files.shards) weights.push_back(s.name);
  weights.push_back("model.safetensors.index.json");
  EXPECT_EQ(p.Files(), Expected(weights));
  EXPECT_EQ(p.result.dtype, "bfloat16");
  for (const auto& t : p.tensors) {
    if (format::IsFloatingPoint(t.dtype)) {
      EXPECT_EQ(t.dtype, format::DType::kBFloat16) << t.name;
    }
  }
  EXPECT_THAT(p.result.mapping.front(), HasSubstr("-> bfloat16"));
  EXPECT_EQ(p.manifest.options.at("dtype"), "bfloat16");
  EXPECT_EQ(p.manifest.options.at("pytorch_model_bin"), "false");
}

TEST_F(ExportPlanTest, TheDryRunIsThePlan) {
  ExportOptions o = Options();
  o.dry_run = true;
  auto dry = ExportCheckpoint(o, progress, cancel);
  ASSERT_TRUE(dry.ok()) << dry.status();
  auto plan = PlanExport(o, progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> names;
  for (const auto& f : dry->files) {
    names.push_back(f.name);
    EXPECT_EQ(f.size, 0u);
  }
  EXPECT_EQ(names, (*plan)->Files());
  EXPECT_TRUE(dry->dry_run);
  EXPECT_EQ(dry->mapping, (*plan)->result.mapping);
  EXPECT_EQ(dry->notes, (*plan)->result.notes);
  EXPECT_FALSE(fs::exists(c.out()));
}

TEST_F(ExportPlanTest, BadOptionsAndInputsFailBeforeAnythingIsWritten) {
  ExportOptions o = Options();
  o.dtype = "int8";
  auto bad_dtype = PlanExport(o, progress, cancel);
  EXPECT_EQ(bad_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_dtype.status().message(), HasSubstr("unknown dtype 'int8'"));

  o = Options();
  o.device = "gpu7";
  o.dry_run = true;  // the sanity pass never runs, the name is still refused
  auto bad_device = PlanExport(o, progress, cancel);
  EXPECT_EQ(bad_device.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_device.status().message(), HasSubstr("device 'gpu7'"));

  o = Options();
  testing::WriteText(c.ckpt() + "/tokenizer_info.json", R"({"pad_token_id": 12345})");
  ExportResult partial;
  auto bad_info = PlanExport(o, progress, cancel, &partial);
  EXPECT_EQ(bad_info.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_info.status().message(), HasSubstr("tokenizer_info.json: pad_token_id 12345"));
  EXPECT_EQ(partial.weights_file, c.ckpt() + "/state_dict.pt");  // what was found so far
  EXPECT_FALSE(fs::exists(c.out()));
}

TEST_F(ExportPlanTest, CancelledPlanningStops) {
  cancel.Cancel();
  auto plan = PlanExport(Options(), progress, cancel);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(ExportPlanTest, AnIdenticalExportAtTheDestinationIsDone) {
  const ExportOptions o = Options();
  auto first = ExportCheckpoint(o, progress, cancel);
  ASSERT_TRUE(first.ok()) << first.status();
  auto current = ExportIsCurrent(o);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_TRUE(*current);

  auto plan = PlanExport(o, progress, cancel);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE((*plan)->done);
  EXPECT_TRUE((*plan)->result.skipped);
  EXPECT_TRUE((*plan)->steps.empty());
  EXPECT_EQ((*plan)->result.files.size(), first->files.size());

  // Other options: a different export is there, refused without overwrite
  // (but a dry run may look).
  ExportOptions other = o;
  other.dtype = "float16";
  auto current_other = ExportIsCurrent(other);
  ASSERT_TRUE(current_other.ok());
  EXPECT_FALSE(*current_other);
  auto refused = PlanExport(other, progress, cancel);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr("--overwrite"));
  other.dry_run = true;
  EXPECT_TRUE(PlanExport(other, progress, cancel).ok());
}

}  // namespace
}  // namespace neobert::core
