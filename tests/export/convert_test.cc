// ConvertWeights (`neobert-export convert`): the export's writers and
// staging for one file: tensors and bytes kept (or cast), the same bytes the
// exporter's writer produces, an existing OUTPUT replaced atomically, and
// nothing left behind when the input is bad.
#include "core/export/convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "core/export/weight_files.h"
#include "core/format/cast.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Entries;
using testing::ReadText;

std::string FixtureWeights() {
  return testing::FixturesRoot() + "/fp32_swiglu_rope_rms/state_dict.pt";
}

absl::StatusOr<ConvertResult> Convert(const ConvertOptions& o) {
  base::NullProgress progress;
  base::CancelToken cancel;
  return ConvertWeights(o, progress, cancel);
}

// name -> (dtype, sha256 of the tensor's bytes)
std::map<std::string, std::pair<format::DType, std::string>> Digests(const std::string& path) {
  std::map<std::string, std::pair<format::DType, std::string>> out;
  auto set = format::ReadWeights(base::FsRoot(), path);
  EXPECT_TRUE(set.ok()) << path << ": " << set.status();
  if (!set.ok()) return out;
  for (const auto& t : set->tensors) out[t.name] = {t.dtype, format::TensorSha256(t).value_or("")};
  return out;
}

TEST(ConvertTest, BothFormatsKeepEveryTensorsBytes) {
  format::testing::ScratchDir dir;
  const auto input = Digests(FixtureWeights());
  ASSERT_FALSE(input.empty());
  for (const auto& [name, format] :
       {std::pair{"out.safetensors", WeightFormat::kSafetensors},
        std::pair{"out.bin", WeightFormat::kTorchBin}}) {
    auto r = Convert({.input = FixtureWeights(), .output = dir.file(name), .format = format,
                      .sync = false});
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    EXPECT_EQ(r->tensor_count, input.size());
    EXPECT_EQ(Digests(dir.file(name)), input) << name;
  }
  EXPECT_EQ(Entries(dir.path()), (std::set<std::string>{"out.bin", "out.safetensors"}));
}

TEST(ConvertTest, WritesWhatTheExportersWriterWrites) {
  format::testing::ScratchDir dir;
  auto r = Convert({.input = FixtureWeights(), .output = dir.file("c.safetensors"),
                    .dtype = format::DType::kBFloat16, .sync = false});
  ASSERT_TRUE(r.ok()) << r.status();
  auto set = format::ReadWeights(base::FsRoot(), FixtureWeights());
  ASSERT_TRUE(set.ok());
  auto cast = format::CastFloatingTensors(set->tensors, format::DType::kBFloat16);
  ASSERT_TRUE(cast.ok());
  fs::create_directories(dir.file("w"));
  base::NullProgress progress;
  base::CancelToken cancel;
  auto files = WriteWeightFiles(*cast, PlanWeightFiles(*cast, {.pytorch_bin_name = ""}),
                                {.dir = dir.file("w"), .sync = false}, progress, cancel);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(ReadText(dir.file("c.safetensors")), ReadText(dir.file("w/model.safetensors")));
  for (const auto& [name, d] : Digests(dir.file("c.safetensors"))) {
    EXPECT_EQ(d.first, format::DType::kBFloat16) << name;
  }
}

TEST(ConvertTest, AnExistingOutputIsReplaced) {
  format::testing::ScratchDir dir;
  testing::WriteText(dir.file("out.bin"), "old");
  auto r = Convert({.input = FixtureWeights(), .output = dir.file("out.bin"),
                    .format = WeightFormat::kTorchBin, .sync = true});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Digests(dir.file("out.bin")), Digests(FixtureWeights()));
  EXPECT_EQ(Entries(dir.path()), std::set<std::string>{"out.bin"});
}

TEST(ConvertTest, ABadInputLeavesNothingBehind) {
  format::testing::ScratchDir dir;
  testing::WriteText(dir.file("state_dict.pt"), "PK\x03\x04 not really a zip");
  auto r = Convert({.input = dir.file("state_dict.pt"), .output = dir.file("out.safetensors")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("state_dict.pt"));
  EXPECT_EQ(Entries(dir.path()), std::set<std::string>{"state_dict.pt"});
}

TEST(ConvertTest, FormatAndDtypeNames) {
  EXPECT_EQ(WeightFormatOfName("a/model.safetensors"), WeightFormat::kSafetensors);
  EXPECT_EQ(WeightFormatOfName("pytorch_model.bin"), WeightFormat::kTorchBin);
  EXPECT_EQ(WeightFormatOfName("state_dict.pt"), WeightFormat::kTorchBin);
  EXPECT_EQ(WeightFormatOfName("weights.npz"), std::nullopt);
  EXPECT_EQ(*ConvertDtype("keep"), std::nullopt);
  EXPECT_EQ(*ConvertDtype("float64"), format::DType::kFloat64);
  EXPECT_EQ(*ConvertDtype("bfloat16"), format::DType::kBFloat16);
  EXPECT_THAT(ConvertDtype("int8").status().message(), HasSubstr("unknown dtype 'int8'"));
}

}  // namespace
}  // namespace neobert::core
