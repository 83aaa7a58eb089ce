// manifest.json: its JSON form, hashing the files of an export (digests
// computed while writing are trusted, the rest read), checking a folder
// against it, and the source fingerprint that decides whether an export is
// current.
#include "core/export/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/export/export_test_util.h"

namespace neobert::core {
namespace {

using ::testing::HasSubstr;
using testing::ReadText;
using testing::WriteText;

constexpr char kAbcSha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

Manifest Sample() {
  Manifest m;
  m.tool = "neobert-export 0.1.0";
  m.checkpoint = "/ckpt/run/step_100";
  m.weights = "state_dict.pt";
  m.fingerprint = "f00d";
  m.options = {{"dtype", "keep"}, {"max_shard_bytes", "0"}};
  m.files = {{"config.json", 3, kAbcSha256}, {"README.md", 0, ""}};
  return m;
}

TEST(ManifestTest, JsonRoundTrip) {
  const Manifest m = Sample();
  const std::string text = ManifestToJson(m);
  EXPECT_THAT(text, HasSubstr("\"manifest_version\": 1"));
  auto back = ParseManifest(text, "manifest.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tool, m.tool);
  EXPECT_EQ(back->checkpoint, m.checkpoint);
  EXPECT_EQ(back->weights, m.weights);
  EXPECT_EQ(back->fingerprint, m.fingerprint);
  EXPECT_EQ(back->options, m.options);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].name, "config.json");
  EXPECT_EQ(back->files[0].size, 3u);
  EXPECT_EQ(back->files[0].sha256, kAbcSha256);
  EXPECT_EQ(ManifestToJson(*back), text);  // stable: same text twice
}

TEST(ManifestTest, MalformedManifestsNameTheOrigin) {
  const struct {
    const char* text;
    const char* expect;
  } cases[] = {
      {"{", "not valid JSON"},
      {"[1]", "top level must be an object"},
      {R"({"manifest_version": 2})", "unsupported manifest_version"},
      {R"({"manifest_version": 1, "tool": "x"})", "malformed manifest"},
      {R"({"manifest_version": 1, "tool": "x", "source": {"checkpoint": "c", "weights": "w",
          "fingerprint": "f"}, "options": {}, "files": [{"name": "a", "size": "big",
          "sha256": ""}]})",
       "malformed manifest"},
  };
  for (const auto& c : cases) {
    auto m = ParseManifest(c.text, "/exports/a/manifest.json");
    ASSERT_FALSE(m.ok()) << c.text;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(m.status().message(), HasSubstr("/exports/a/manifest.json: ")) << c.text;
    EXPECT_THAT(m.status().message(), HasSubstr(c.expect)) << c.text;
  }
}

TEST(ManifestTest, ReadManifestOfAFolderWithoutOneIsNotFound) {
  format::testing::ScratchDir dir;
  auto m = ReadManifest(base::FsRoot(), dir.path());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("no manifest"));
}

TEST(ManifestTest, HashFilesReadsOnlyWhatWasNotHashedWhileWritten) {
  format::testing::ScratchDir dir;
  WriteText(dir.file("a.txt"), "abc");
  WriteText(dir.file("b.bin"), "0123456789");
  // A digest given for b.bin is taken as it is: the file is only sized (a
  // wrong digest proves it was not read).
  auto records = HashFiles(base::FsRoot(), dir.path(), {"a.txt", "b.bin"}, {{"b.bin", "given"}});
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].name, "a.txt");  // in the order asked, whatever the lanes did
  EXPECT_EQ((*records)[0].size, 3u);
  EXPECT_EQ((*records)[0].sha256, kAbcSha256);
  EXPECT_EQ((*records)[1].name, "b.bin");
  EXPECT_EQ((*records)[1].size, 10u);
  EXPECT_EQ((*records)[1].sha256, "given");

  auto missing = HashFiles(base::FsRoot(), dir.path(), {"a.txt", "gone"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("gone"));
}

TEST(ManifestTest, VerifyNamesTheFirstFileThatDiffers) {
  format::testing::ScratchDir dir;
  WriteText(dir.file("config.json"), "abc");
  Manifest m = Sample();
  m.files = {{"config.json", 3, kAbcSha256}};
  EXPECT_TRUE(VerifyManifestFiles(base::FsRoot(), dir.path(), m).ok());

  WriteText(dir.file("config.json"), "abd");  // same size, other bytes
  absl::Status s = VerifyManifestFiles(base::FsRoot(), dir.path(), m);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("config.json: sha256 differs"));

  WriteText(dir.file("config.json"), "abcd");
  s = VerifyManifestFiles(base::FsRoot(), dir.path(), m);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("config.json: size 4 differs"));

  m.files = {{"../escape", 1, "x"}};
  s = VerifyManifestFiles(base::FsRoot(), dir.path(), m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unsafe path"));
}

TEST(ManifestTest, FingerprintChangesWhenAnInputIsRewritten) {
  format::testing::ScratchDir dir;
  WriteText(dir.file("state_dict.pt"), "weights");
  WriteText(dir.file("config.yaml"), "model: {}");
  const base::FsRoot root;
  auto a = SourceFingerprint(root, dir.path(), {"state_dict.pt", "config.yaml"});
  ASSERT_TRUE(a.ok()) << a.status();
  // The order the files are named in does not matter.
  auto same = SourceFingerprint(root, dir.path(), {"config.yaml", "state_dict.pt"});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*a, *same);

  // Rewritten with the same size: the mtime differs (set explicitly, so the
  // test does not depend on the file system's timestamp granularity).
  WriteText(dir.file("config.yaml"), "model: []");
  struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 678}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dir.file("config.yaml").c_str(), times, 0), 0);
  auto b = SourceFingerprint(root, dir.path(), {"state_dict.pt", "config.yaml"});
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);

  auto missing = SourceFingerprint(root, dir.path(), {"state_dict.pt", "tokenizer_info.json"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("tokenizer_info.json"));
}

}  // namespace
}  // namespace neobert::core
