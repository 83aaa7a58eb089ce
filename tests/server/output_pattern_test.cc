#include "server/output_pattern.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "server/server_config.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

class OutputPatternTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(testing::MakeTempDir("pattern")).string();
    fs::create_directories(root_ + "/in/runs/r1/model_checkpoints/100");
    fs::create_directories(root_ + "/out");
    auto p = PathPolicy::Create({root_ + "/in"}, {root_ + "/out"});
    ASSERT_TRUE(p.ok()) << p.status();
    policy_ = std::make_unique<PathPolicy>(*p);
  }
  void TearDown() override { fs::remove_all(root_); }
  absl::StatusCode Check(const std::string& pattern) {
    return CheckOutputPattern(pattern, *policy_, "default-output-dir").code();
  }
  std::string root_;
  std::unique_ptr<PathPolicy> policy_;
};

TEST_F(OutputPatternTest, AcceptsPatternsUnderAnOutputRoot) {
  EXPECT_EQ(Check(root_ + "/out/{run}/{run}_{step}"), absl::StatusCode::kOk);
  EXPECT_EQ(Check(root_ + "/out/{step}"), absl::StatusCode::kOk);
  EXPECT_EQ(Check(root_ + "/out/not-yet/{run}-step-{step}"), absl::StatusCode::kOk);
}

TEST_F(OutputPatternTest, RefusesBadPatternsNamingTheFlag) {
  for (const std::string& bad : {std::string("out/{run}_{step}"), root_ + "/out/{run}",
                                root_ + "/out/{run}_{stp}", root_ + "/out/{step}}",
                                root_ + "/out/fixed", std::string("")}) {
    absl::Status s = CheckOutputPattern(bad, *policy_, "default-output-dir");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad << ": " << s;
    EXPECT_NE(s.message().find("--default-output-dir"), std::string::npos) << s;
  }
}

TEST_F(OutputPatternTest, RefusesPatternsOutsideTheOutputRoots) {
  // Under the (read-only in a cluster) input root: the bug this flag fixes.
  EXPECT_EQ(Check(root_ + "/in/{run}/hf/{run}_{step}"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check(root_ + "/out/../in/{step}"), absl::StatusCode::kPermissionDenied);
  // Above the output root.
  EXPECT_EQ(Check(root_ + "/{step}"), absl::StatusCode::kPermissionDenied);
}

TEST_F(OutputPatternTest, ExpandsFromTheCheckpointPath) {
  const std::string ckpt = root_ + "/in/runs/r1/model_checkpoints/100";
  auto out = OutputForCheckpoint(root_ + "/out/{run}/{run}_{step}", ckpt);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, root_ + "/out/r1/r1_100");
  EXPECT_EQ(ExpandOutputPattern("/x/{step}/{step}-{run}", "r", "7"), "/x/7/7-r");
  EXPECT_EQ(OutputForCheckpoint("/x/{run}_{step}", "/100").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OutputPatternFlag, ParsedFromFlagsAndConfig) {
  auto c = ParseServerFlags({"--input-root", "/i", "--output-root", "/o", "--default-output-dir",
                             "/o/{run}/{run}_{step}"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->default_output_dir, "/o/{run}/{run}_{step}");
}

}  // namespace
}  // namespace neobert::server
