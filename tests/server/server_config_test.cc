// neobert-exportd's YAML config file, TLS flag rules and device policy.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/device_policy.h"
#include "server/server_config.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("neobert_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& text) {
    std::string path = (dir_ / "exportd.yaml").string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path dir_;
};

TEST_F(ConfigFileTest, KeysAreFlagNamesAndListsRepeat) {
  std::string path = Write(
      "listen: 0.0.0.0:6000\n"
      "input-root: [/ckpt/a, /ckpt/b]\n"
      "output-root:\n  - /exports\n"
      "workers: 3\n"
      "no-fsync: true\n"
      "device: cpu\n"
      "log-format: json\n");
  auto c = ParseServerFlags({"--config", path});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:6000");
  EXPECT_EQ(c->input_roots, (std::vector<std::string>{"/ckpt/a", "/ckpt/b"}));
  EXPECT_EQ(c->output_roots, (std::vector<std::string>{"/exports"}));
  EXPECT_EQ(c->workers, 3);
  EXPECT_FALSE(c->sync);
  EXPECT_EQ(c->device, "cpu");
  EXPECT_EQ(c->log_format, "json");
}

TEST_F(ConfigFileTest, LaterFlagsOverrideTheFileAndRepeatablesAdd) {
  std::string path = Write("workers: 3\ninput-root: /a\noutput-root: /o\nno-fsync: false\n");
  auto c = ParseServerFlags({"--config=" + path, "--workers", "5", "--input-root", "/b"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->workers, 5);
  EXPECT_EQ(c->input_roots, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_TRUE(c->sync);  // no-fsync: false adds nothing
}

TEST_F(ConfigFileTest, ErrorsNameTheFileAndTheKey) {
  std::string path = Write("input-root: /a\noutput-root: /o\nworkerz: 2\n");
  auto c = ParseServerFlags({"--config", path});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown flag --workerz"), std::string::npos);
  EXPECT_NE(c.status().message().find(path), std::string::npos);

  path = Write("no-fsync: maybe\n");
  c = ParseServerFlags({"--config", path});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'no-fsync'"), std::string::npos);

  path = Write("input-root: {a: 1}\n");
  EXPECT_FALSE(ParseServerFlags({"--config", path}).ok());
  path = Write("config: other.yaml\n");
  EXPECT_FALSE(ParseServerFlags({"--config", path}).ok());
  path = Write("- just\n- a list\n");
  EXPECT_FALSE(ParseServerFlags({"--config", path}).ok());
  path = Write("input-root: [unclosed\n");
  EXPECT_EQ(ParseServerFlags({"--config", path}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseServerFlags({"--config", (dir_ / "missing.yaml").string()}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ServerTlsFlags, CertAndKeyGoTogetherAndClientCaNeedsThem) {
  const std::vector<std::string> roots = {"--input-root", "/a", "--output-root", "/o"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), roots.begin(), roots.end());
    return ParseServerFlags(extra);
  };
  EXPECT_TRUE(with({"--tls-cert", "c.pem", "--tls-key", "k.pem"}).ok());
  EXPECT_TRUE(with({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}).ok());
  EXPECT_FALSE(with({"--tls-cert", "c.pem"}).ok());
  EXPECT_FALSE(with({"--tls-key", "k.pem"}).ok());
  EXPECT_FALSE(with({"--tls-client-ca", "ca.pem"}).ok());
}

TEST(ServerFlags, VersionNeedsNoRoots) {
  auto c = ParseServerFlags({"--version"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->version);
  EXPECT_FALSE(ParseServerFlags({}).ok());  // roots stay required otherwise
}

TEST(DevicePolicyTest, AutoSpreadsJobsOverVisibleGpusAndFallsBackToCpu) {
  auto none = DevicePolicy::Create("auto", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none->Assign(""), "cpu");
  EXPECT_EQ(none->Assign("cuda").status().code(), absl::StatusCode::kFailedPrecondition);

  auto two = DevicePolicy::Create("auto", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two->Assign(""), "cuda:0");
  EXPECT_EQ(*two->Assign("auto"), "cuda:1");
  EXPECT_EQ(*two->Assign(""), "cuda:0");
  EXPECT_EQ(*two->Assign("cpu"), "cpu");
  EXPECT_EQ(*two->Assign("cuda:1"), "cuda:1");
  EXPECT_EQ(two->Assign("cuda:2").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(two->Assign("tpu").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DevicePolicyTest, CpuPolicyRefusesCudaRequestsAndFixedPolicyPinsOneDevice) {
  auto cpu = DevicePolicy::Create("cpu", 4);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(*cpu->Assign(""), "cpu");
  auto refused = cpu->Assign("cuda:0");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("--device cpu"), std::string::npos);

  auto fixed = DevicePolicy::Create("cuda:1", 2);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(*fixed->Assign(""), "cuda:1");
  EXPECT_EQ(*fixed->Assign(""), "cuda:1");
  EXPECT_EQ(DevicePolicy::Create("cuda:1", 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DevicePolicy::Create("gpu", 1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace neobert::server
