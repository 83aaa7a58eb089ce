// StagingDir: files are written into a hidden sibling of the destination and
// appear there only when committed; a failed export leaves nothing; an
// existing destination is replaced only with overwrite; `convert`'s single
// file is published the same way (CommitFile).
#include "core/export/staging_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Entries;
using testing::ReadText;

class StagingDirTest : public ::testing::Test {
 protected:
  std::string dest() const { return dir_.file("export"); }
  absl::StatusOr<std::unique_ptr<StagingDir>> Create(bool overwrite = false) {
    return StagingDir::Create({.destination = dest(), .overwrite = overwrite, .sync = true});
  }
  absl::Status Write(const StagingDir& s, const std::string& name, const std::string& text) {
    return WriteTextFile(s.root(), s.File(name), text);
  }
  format::testing::ScratchDir dir_;
};

TEST_F(StagingDirTest, NothingAtTheDestinationUntilCommit) {
  auto s = Create();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->destination(), dest());
  const std::string staged = fs::path((*s)->path()).filename().string();
  EXPECT_TRUE(absl::StartsWith(staged, ".export.partial-")) << staged;
  EXPECT_EQ(fs::path((*s)->path()).parent_path(), fs::path(dir_.path()));
  ASSERT_TRUE(Write(**s, "config.json", "{}").ok());
  ASSERT_TRUE(Write(**s, "README.md", "# hi").ok());
  EXPECT_FALSE(fs::exists(dest()));

  ASSERT_TRUE((*s)->Commit().ok());
  EXPECT_THAT(Entries(dest()), ElementsAre("README.md", "config.json"));
  EXPECT_EQ(ReadText(dest() + "/config.json"), "{}");
  EXPECT_THAT(Entries(dir_.path()), ElementsAre("export"));  // the staging folder is gone
  EXPECT_FALSE((*s)->Commit().ok());                         // once only
}

TEST_F(StagingDirTest, AnExportThatIsNotCommittedLeavesNothing) {
  {
    auto s = Create();
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE(Write(**s, "model.safetensors", "partial").ok());
    EXPECT_EQ(Entries(dir_.path()).size(), 1u);
  }
  EXPECT_TRUE(Entries(dir_.path()).empty());
}

TEST_F(StagingDirTest, CreatesTheDestinationsParents) {
  auto s = StagingDir::Create({.destination = dir_.file("a/b/export")});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(fs::is_directory(dir_.file("a/b")));
  ASSERT_TRUE((*s)->Commit().ok());
  EXPECT_TRUE(fs::is_directory(dir_.file("a/b/export")));
}

TEST_F(StagingDirTest, AnExistingDestinationIsReplacedOnlyWithOverwrite) {
  fs::create_directories(dest());
  testing::WriteText(dest() + "/old.txt", "old");
  auto refused = Create(/*overwrite=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr("--overwrite"));

  auto s = Create(/*overwrite=*/true);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(Write(**s, "new.txt", "new").ok());
  EXPECT_THAT(Entries(dest()), ElementsAre("old.txt"));  // untouched until Commit
  ASSERT_TRUE((*s)->Commit().ok());
  EXPECT_THAT(Entries(dest()), ElementsAre("new.txt"));
  EXPECT_THAT(Entries(dir_.path()), ElementsAre("export"));  // the old folder was removed
}

TEST_F(StagingDirTest, ADestinationThatAppearsMeanwhileIsNotReplaced) {
  auto s = Create();
  ASSERT_TRUE(s.ok()) << s.status();
  fs::create_directories(dest());
  testing::WriteText(dest() + "/theirs.txt", "theirs");
  absl::Status c = (*s)->Commit();
  EXPECT_EQ(c.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(c.message(), HasSubstr("appeared while exporting"));
  EXPECT_THAT(Entries(dest()), ElementsAre("theirs.txt"));
}

TEST_F(StagingDirTest, CommitFilePublishesOneFile) {
  testing::WriteText(dest(), "previous");
  auto s = Create(/*overwrite=*/true);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(Write(**s, "export", "converted").ok());
  EXPECT_EQ(ReadText(dest()), "previous");
  ASSERT_TRUE((*s)->CommitFile("export").ok());
  EXPECT_EQ(ReadText(dest()), "converted");
  EXPECT_THAT(Entries(dir_.path()), ElementsAre("export"));  // no staging folder left
}

TEST_F(StagingDirTest, CommitFileWithoutOverwriteKeepsAFileThatAppeared) {
  auto s = Create(/*overwrite=*/false);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(Write(**s, "export", "converted").ok());
  testing::WriteText(dest(), "theirs");
  EXPECT_FALSE((*s)->CommitFile("export").ok());
  EXPECT_EQ(ReadText(dest()), "theirs");
}

TEST_F(StagingDirTest, RemoveStaleRemovesOnlyLeftoversOfDeadProcesses) {
  // A live process's staging folder (ours) and a dead one's (a pid that
  // cannot exist: above the kernel's pid_max).
  auto live = Create();
  ASSERT_TRUE(live.ok()) << live.status();
  // <prefix><host>-<pid>-<n>, '-' in the host name written as '_'.
  const std::string prefix = ".export.partial-";
  const std::string tail = fs::path((*live)->path()).filename().string().substr(prefix.size());
  const std::string host = tail.substr(0, tail.find('-'));
  const std::string dead = dir_.file(absl::StrCat(prefix, host, "-99999999-0"));
  const std::string other_host = dir_.file(".export.partial-elsewhere-99999999-0");
  fs::create_directories(dead + "/sub");
  fs::create_directories(other_host);
  StagingDir::RemoveStale(base::FsRoot(), dest());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists((*live)->path()));
  EXPECT_TRUE(fs::exists(other_host));  // another machine's: not ours to judge
}

}  // namespace
}  // namespace neobert::core
