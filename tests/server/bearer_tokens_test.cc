// Bearer tokens: several per file, comments and blank lines ignored, the
// file re-read when it changes (a rename over it, as a Secret rotation does),
// and a failed re-read keeps the tokens read before. Plus the start-up rule
// against a token in clear on a network address.
#include "server/bearer_tokens.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/server_config.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

class BearerTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("neobert_tokens_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "token").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Replaces the file by a new one (a new inode), as kubelet's swap does.
  void Publish(const std::string& text) {
    const std::string tmp = path_ + ".new";
    std::ofstream(tmp) << text;
    fs::rename(tmp, path_);
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(BearerTokensTest, SeveralTokensCommentsAndBlankLines) {
  Publish("# the operator's note\n\n  alpha  \nbeta\r\n\n");
  std::vector<std::string> logged;
  auto t = BearerTokens::FromFile(path_, [&](bool, const std::string& l) { logged.push_back(l); });
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->size(), 2u);
  EXPECT_TRUE((*t)->Matches("Bearer alpha"));
  EXPECT_TRUE((*t)->Matches("Bearer beta"));
  EXPECT_FALSE((*t)->Matches("Bearer # the operator's note"));
  EXPECT_FALSE((*t)->Matches("Bearer "));
  EXPECT_FALSE((*t)->Matches("bearer alpha"));
  EXPECT_FALSE((*t)->Matches("alpha"));
  EXPECT_TRUE(logged.empty());
}

TEST_F(BearerTokensTest, RotationIsPickedUpAndGlitchesKeepTheOldTokens) {
  Publish("old\n");
  std::vector<std::pair<bool, std::string>> logged;
  auto t = BearerTokens::FromFile(path_, [&](bool problem, const std::string& l) {
    logged.emplace_back(problem, l);
  });
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE((*t)->Matches("Bearer old"));
  Publish("new\n");
  EXPECT_TRUE((*t)->Matches("Bearer new"));
  EXPECT_FALSE((*t)->Matches("Bearer old"));
  ASSERT_FALSE(logged.empty());
  EXPECT_FALSE(logged.back().first);
  Publish("# empty for a moment\n");
  EXPECT_TRUE((*t)->Matches("Bearer new"));
  EXPECT_TRUE(logged.back().first);
  fs::remove(path_);
  EXPECT_TRUE((*t)->Matches("Bearer new"));
  const size_t lines = logged.size();
  EXPECT_TRUE((*t)->Matches("Bearer new"));
  EXPECT_EQ(logged.size(), lines) << "a failure is reported once, not on every call";
  Publish("newer\n");
  EXPECT_TRUE((*t)->Matches("Bearer newer"));
  EXPECT_FALSE((*t)->Matches("Bearer new"));
  for (const auto& [problem, line] : logged) {
    EXPECT_EQ(line.find("newer"), std::string::npos) << "a token was logged: " << line;
  }
}

TEST_F(BearerTokensTest, UnusableFilesAreRefusedAtStart) {
  EXPECT_EQ(BearerTokens::FromFile(path_).status().code(), absl::StatusCode::kNotFound);
  Publish("\n# only comments\n");
  EXPECT_EQ(BearerTokens::FromFile(path_).status().code(), absl::StatusCode::kInvalidArgument);
  Publish(std::string(5000, 'x'));
  EXPECT_EQ(BearerTokens::FromFile(path_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BearerTokens::FromFile(dir_.string()).status().code(),
            absl::StatusCode::kInvalidArgument);  // a directory
}

TEST(BearerTokensFixed, MatchesOnlyItsTokens) {
  auto t = BearerTokens::Fixed({"a", "b"});
  EXPECT_TRUE(t->Matches("Bearer a"));
  EXPECT_TRUE(t->Matches("Bearer b"));
  EXPECT_FALSE(t->Matches("Bearer c"));
  EXPECT_EQ(t->size(), 2u);
}

TEST(PlaintextToken, RefusedOnNetworkAddressesWithoutTls) {
  for (const char* listen : {"127.0.0.1:1", "127.3.4.5:1", "localhost:1", "[::1]:1", "unix:/s"}) {
    EXPECT_TRUE(IsLoopbackListen(listen)) << listen;
  }
  for (const char* listen : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "exportd.svc:1", "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopbackListen(listen)) << listen;
  }
  const std::vector<std::string> base = {"--input-root", "/a", "--output-root", "/b",
                                         "--token-file", "/t"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return ParseServerFlags(args);
  };
  auto refused = with({"--listen", "0.0.0.0:50051"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--allow-plaintext-token"), std::string::npos);
  EXPECT_NE(refused.status().message().find("in clear"), std::string::npos);
  EXPECT_TRUE(with({"--listen", "0.0.0.0:50051", "--allow-plaintext-token"}).ok());
  EXPECT_TRUE(with({"--listen", "0.0.0.0:50051", "--tls-cert", "c", "--tls-key", "k"}).ok());
  EXPECT_TRUE(with({"--listen", "127.0.0.1:50051"}).ok());
  EXPECT_TRUE(with({}).ok());  // the default listener is loopback
  // Without a token there is nothing to leak.
  EXPECT_TRUE(ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--listen",
                                "0.0.0.0:1"}).ok());
}

}  // namespace
}  // namespace neobert::server
