#include "server/path_policy.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "server/export_service_impl.h"
#include "server/job_roots.h"
#include "core/status/error_reason.h"
#include "server/server_config.h"
#include "server/status_mapping.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("policy");
    fs::create_directories(root_ + "/in/ckpt");
    fs::create_directories(root_ + "/out");
    fs::create_directories(root_ + "/secret");
    fs::create_directory_symlink(root_ + "/secret", root_ + "/in/escape");
    fs::create_directory_symlink(root_ + "/secret", root_ + "/out/escape");
    fs::create_directory_symlink(root_ + "/in/ckpt", root_ + "/in/alias");
    auto p = PathPolicy::Create({root_ + "/in"}, {root_ + "/out"});
    ASSERT_TRUE(p.ok()) << p.status();
    policy_ = std::make_unique<PathPolicy>(*p);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
  std::unique_ptr<PathPolicy> policy_;
};

TEST_F(PathPolicyTest, Inputs) {
  auto ok = policy_->ResolveInput(root_ + "/in/ckpt");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->path, fs::canonical(root_ + "/in/ckpt").string());
  EXPECT_TRUE(ok->root.confined());
  EXPECT_EQ(ok->root.path(), fs::canonical(root_ + "/in").string());
  // A symlink inside the root that points inside is fine (resolved).
  EXPECT_EQ(policy_->ResolveInput(root_ + "/in/alias")->path, ok->path);
  // One that leaves it is denied, naming the link.
  auto escape = policy_->ResolveInput(root_ + "/in/escape");
  EXPECT_NE(escape.status().message().find(root_ + "/in/escape"), std::string::npos)
      << escape.status();
  EXPECT_EQ(policy_->ResolveInput(root_ + "/in/escape").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveInput(root_ + "/in/../secret").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveInput(root_ + "/secret").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveInput(root_ + "/in/missing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(policy_->ResolveInput("in/ckpt").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy_->ResolveInput("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PathPolicyTest, Outputs) {
  auto ok = policy_->ResolveOutput(root_ + "/out/new/export");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->path, fs::canonical(root_ + "/out").string() + "/new/export");
  EXPECT_EQ(policy_->ResolveOutput(root_ + "/out/escape/x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveOutput(root_ + "/out/../secret/x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveOutput(root_ + "/out").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveOutput(root_ + "/out/").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy_->ResolveOutput(root_ + "/outside").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(PathPolicy, RootsMustExistAndPrefixIsNotContainment) {
  EXPECT_EQ(PathPolicy::Create({"/definitely/not/here"}, {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(PathPolicy::Create({"relative"}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsWithin("/a/b", "/a"));
  EXPECT_TRUE(IsWithin("/a", "/a"));
  EXPECT_FALSE(IsWithin("/ab", "/a"));
  EXPECT_TRUE(IsWithin("/x", "/"));
}

TEST(StatusMapping, EveryDesignCode) {
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kNotFound), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kFailedPrecondition), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kResourceExhausted), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kPermissionDenied), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kUnauthenticated), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  auto s = ToGrpcStatus(absl::NotFoundError("no job 'x'"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no job 'x'");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

// The roots are opened once: renaming a root's path afterwards does not
// move the door (requests are still resolved beneath the directory opened).
TEST_F(PathPolicyTest, RootsAreOpenedOnce) {
  fs::create_directories(root_ + "/in/ckpt/inner");
  auto before = policy_->ResolveInput(root_ + "/in/ckpt/inner");
  ASSERT_TRUE(before.ok()) << before.status();
  fs::rename(root_ + "/in", root_ + "/in.moved");
  fs::create_directories(root_ + "/in/ckpt");  // an impostor at the old path
  auto after = before->root.StatIfExists(root_ + "/in/ckpt/inner");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->has_value()) << "resolved beneath the impostor, not the opened root";
}

TEST(Auth, BearerTokenMatches) {
  EXPECT_TRUE(BearerTokenMatches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("", "s3cret"));
}

TEST(ServerFlags, ParseAndRequireRoots) {
  auto c = ParseServerFlags({"--input-root", "/a", "--input-root=/b", "--output-root", "/c",
                             "--workers", "3", "--queue-capacity=4", "--log-format", "json"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->input_roots, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(c->workers, 3);
  EXPECT_EQ(c->queue_capacity, 4);
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->listen, "127.0.0.1:50051");
  EXPECT_FALSE(ParseServerFlags({"--output-root", "/c"}).ok());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/c", "--bogus", "1"}).ok());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/c", "--workers", "0"}).ok());
  EXPECT_FALSE(ParseServerFlags({"--input-root", "/a", "--output-root", "/c", "--log-format", "xml"}).ok());
}

}  // namespace
}  // namespace neobert::server

namespace neobert::server {
namespace {

// A job read back from the store holds paths only: the claiming server binds
// them beneath its own roots, refusing what no longer resolves there.
TEST_F(PathPolicyTest, StoredJobsAreBoundAgainBeneathTheRoots) {
  JobSpec spec;
  spec.export_options()->checkpoint_dir = root_ + "/in/alias";
  spec.export_options()->output_dir = root_ + "/out/e1";
  ASSERT_FALSE(spec.export_options()->input_root.confined());
  ASSERT_TRUE(BindJobRoots(*policy_, spec).ok());
  EXPECT_TRUE(spec.export_options()->input_root.confined());
  EXPECT_TRUE(spec.export_options()->output_root.confined());
  EXPECT_EQ(spec.export_options()->checkpoint_dir, fs::canonical(root_ + "/in/ckpt").string());

  // Swapped for a link leading out after it was accepted: denied at the claim.
  fs::remove(root_ + "/in/alias");
  fs::create_directory_symlink(root_ + "/secret", root_ + "/in/alias");
  spec.export_options()->checkpoint_dir = root_ + "/in/alias";
  EXPECT_EQ(BindJobRoots(*policy_, spec).code(), absl::StatusCode::kPermissionDenied);

  // Pruned while it waited: the exporter's own reason.
  JobSpec gone;
  gone.export_options()->checkpoint_dir = root_ + "/in/pruned";
  gone.export_options()->output_dir = root_ + "/out/e2";
  const absl::Status s = BindJobRoots(*policy_, gone);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(core::DetailsOf(s).reason, core::ErrorReason::kCheckpointNotFound);

  // A validation binds its folder (input or output root) and its source.
  fs::create_directories(root_ + "/out/e3");
  core::ValidateOptions vo;
  vo.export_dir = root_ + "/out/e3";
  vo.source_dir = root_ + "/in/ckpt";
  JobSpec v{.options = vo, .idempotency_key = ""};
  ASSERT_TRUE(BindJobRoots(*policy_, v).ok());
  EXPECT_TRUE(v.validate_options()->root.confined());
  EXPECT_TRUE(v.validate_options()->source_root.confined());
  EXPECT_EQ(v.validate_options()->export_dir, fs::canonical(root_ + "/out/e3").string());
}

}  // namespace
}  // namespace neobert::server
