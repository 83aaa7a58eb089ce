// ValidateExportDir on a real export of a fixture checkpoint: every check
// passes on a faithful export, and each kind of damage fails the check that
// owns it (with the reason in its detail), without making the call an error.
#include "core/export/validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/export/convert.h"
#include "core/export/exporter.h"
#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Each test validates a fresh export of the fixture (at c.out()).
class ValidatorTest : public testing::ExportTest {
 protected:
  void SetUp() override {
    auto r = ExportCheckpoint(Options(), progress, cancel);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  absl::StatusOr<ValidationReport> Validate(bool with_source = false) {
    return ValidateExportDir({.export_dir = c.out(),
                              .source_dir = with_source ? c.ckpt() : "",
                              .device = "cpu"},
                             progress, cancel);
  }
  static std::map<std::string, ValidationCheck> ByName(const ValidationReport& r) {
    std::map<std::string, ValidationCheck> out;
    for (const auto& c : r.checks) out[c.name] = c;
    return out;
  }
  std::string out(const std::string& name) const { return c.out() + "/" + name; }
};

TEST_F(ValidatorTest, AFaithfulExportPassesEveryCheck) {
  auto r = Validate(/*with_source=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> names;
  for (const auto& c : r->checks) names.push_back(c.name);
  EXPECT_THAT(names, ElementsAre("files", "config", "manifest", "tokenizer", "weights",
                                 "mlm_forward", "mask_parity", "end_to_end", "cosine_sanity",
                                 "source_parity"));
  for (const auto& c : r->checks) {
    // cosine_sanity measures training: an advisory miss on a random fixture.
    EXPECT_TRUE(c.passed || c.advisory) << c.name << ": " << c.detail;
  }
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(FailedChecksSummary(*r), "");
  const auto checks = ByName(*r);
  EXPECT_THAT(checks.at("weights").detail, HasSubstr("pytorch_model.bin holds the same bytes"));
  EXPECT_THAT(checks.at("source_parity").detail, HasSubstr("max-abs 0"));
  EXPECT_EQ(r->export_dir, fs::canonical(c.out()).string());
}

TEST_F(ValidatorTest, AMissingFileFailsFilesAndManifest) {
  fs::remove(out("rotary.py"));
  auto r = Validate();
  ASSERT_TRUE(r.ok()) << r.status();
  const auto checks = ByName(*r);
  EXPECT_FALSE(checks.at("files").passed);
  EXPECT_EQ(checks.at("files").detail, "missing: rotary.py");
  EXPECT_FALSE(checks.at("manifest").passed);
  EXPECT_THAT(checks.at("manifest").detail, HasSubstr("rotary.py"));
  EXPECT_FALSE(r->ok());
  EXPECT_THAT(FailedChecksSummary(*r), HasSubstr("files (missing: rotary.py); manifest ("));
}

TEST_F(ValidatorTest, AConfigWithoutARequiredFieldFailsConfig) {
  std::string config = testing::ReadText(out("config.json"));
  const size_t at = config.find("\"flash_attention\"");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, std::string("\"flash_attention\"").size(), "\"flash_attention_x\"");
  testing::WriteText(out("config.json"), config);
  auto r = Validate();
  ASSERT_TRUE(r.ok()) << r.status();
  const auto checks = ByName(*r);
  EXPECT_FALSE(checks.at("config").passed);
  EXPECT_EQ(checks.at("config").detail, "config.json lacks flash_attention");
  EXPECT_EQ(checks.count("weights"), 0u);  // no spec: nothing to load against
}

TEST_F(ValidatorTest, ADifferentTorchBinFailsWeights) {
  // pytorch_model.bin replaced by a bfloat16 copy of the same tensors.
  ConvertOptions o{.input = out("model.safetensors"), .output = out("pytorch_model.bin"),
                   .format = WeightFormat::kTorchBin, .dtype = format::DType::kBFloat16};
  ASSERT_TRUE(ConvertWeights(o, progress, cancel).ok());
  auto r = Validate();
  ASSERT_TRUE(r.ok()) << r.status();
  const auto checks = ByName(*r);
  EXPECT_FALSE(checks.at("weights").passed);
  EXPECT_THAT(checks.at("weights").detail, HasSubstr("pytorch_model.bin differs at '"));
}

TEST_F(ValidatorTest, ErrorsOnlyWhenTheFolderCannotBeExamined) {
  ValidateOptions nope;
  nope.export_dir = c.out() + "_nope";
  auto missing = ValidateExportDir(nope, progress, cancel);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  cancel.Cancel();
  EXPECT_EQ(Validate().status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace neobert::core
