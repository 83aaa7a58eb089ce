// Hash mode of OutputFile and the writers built on it: the digest computed
// while writing must be the file's SHA-256 (as read back from disk), or
// empty when the file was patched after the fact; never a wrong digest.
#include <gtest/gtest.h>

#include "core/format/byte_source.h"
#include "core/format/safetensors.h"
#include "core/format/sha256.h"
#include "core/format/torch_reader.h"
#include "core/format/torch_writer.h"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::MemTensor;
using testing::RandomBytes;
using testing::ReadFileBytes;
using testing::ScratchDir;

std::string DiskSha256(const std::string& path) {
  auto d = FileSha256(neobert::base::FsRoot(), path);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : "";
}

TEST(HashWhileWritingTest, OutputFileDigestIsTheFilesSha256) {
  ScratchDir dir;
  const auto src_bytes = RandomBytes((3 << 20) + 11, 1);
  testing::WriteFileBytes(dir.file("src"), std::string(src_bytes.begin(), src_bytes.end()));
  auto src = FileSource::Open(neobert::base::FsRoot(), dir.file("src"));
  ASSERT_TRUE(src.ok());
  const auto small = RandomBytes(777, 2);
  const auto large = RandomBytes((5 << 20) + 1, 3);
  MemorySource mem(RandomBytes((2 << 20) + 5, 4));
  for (bool writeback : {false, true}) {
    SCOPED_TRACE(writeback);
    const std::string path = dir.file(writeback ? "wb" : "plain");
    auto out = OutputFile::Create(neobert::base::FsRoot(), path, writeback);
    ASSERT_TRUE(out.ok());
    (*out)->EnableHash();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*out)->Write(absl::MakeConstSpan(small)).ok());
    ASSERT_TRUE((*out)->CopyFrom(**src, 7, src_bytes.size() - 7).ok());  // file source
    ASSERT_TRUE((*out)->Write(absl::MakeConstSpan(large)).ok());           // bypasses the buffer
    ASSERT_TRUE((*out)->CopyFrom(mem, 3, mem.size() - 3).ok());            // memory source
    ASSERT_TRUE((*out)->CopyFrom(**src, 0, 0).ok());
    ASSERT_TRUE((*out)->Close(false).ok());
    EXPECT_EQ((*out)->sha256().size(), 64u);
    EXPECT_EQ((*out)->sha256(), DiskSha256(path));
    // The bytes themselves are what was written.
    std::vector<uint8_t> want;
    for (int i = 0; i < 20; ++i) want.insert(want.end(), small.begin(), small.end());
    want.insert(want.end(), src_bytes.begin() + 7, src_bytes.end());
    want.insert(want.end(), large.begin(), large.end());
    want.insert(want.end(), mem.bytes().begin() + 3, mem.bytes().end());
    EXPECT_TRUE(ReadFileBytes(path) == want);
  }
}

TEST(HashWhileWritingTest, PatchOrLateStartGivesNoDigest) {
  ScratchDir dir;
  const auto bytes = RandomBytes(4096, 5);
  auto patched = OutputFile::Create(neobert::base::FsRoot(), dir.file("patched"));
  ASSERT_TRUE(patched.ok());
  (*patched)->EnableHash();
  ASSERT_TRUE((*patched)->Write(absl::MakeConstSpan(bytes)).ok());
  ASSERT_TRUE((*patched)->WriteAt(10, absl::MakeConstSpan(bytes.data(), 4)).ok());
  ASSERT_TRUE((*patched)->Close(false).ok());
  EXPECT_EQ((*patched)->sha256(), "");

  auto late = OutputFile::Create(neobert::base::FsRoot(), dir.file("late"));
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE((*late)->Write(absl::MakeConstSpan(bytes)).ok());
  (*late)->EnableHash();  // bytes already went by unhashed: refused
  ASSERT_TRUE((*late)->Close(false).ok());
  EXPECT_EQ((*late)->sha256(), "");
}

TEST(HashWhileWritingTest, WritersReportTheDigestOfWhatTheyWrote) {
  ScratchDir dir;
  std::vector<TensorEntry> tensors;
  tensors.push_back(MemTensor("w", DType::kFloat32, {300, 7}, RandomBytes(300 * 7 * 4, 6)));
  tensors.push_back(MemTensor("b", DType::kBFloat16, {64}, RandomBytes(128, 7)));
  tensors.push_back(MemTensor("empty", DType::kFloat32, {0}, {}));

  std::string st;
  SafetensorsWriteOptions so;
  so.sync = false;
  so.sha256 = &st;
  ASSERT_TRUE(WriteSafetensors(tensors, dir.file("m.safetensors"), so).ok());
  EXPECT_EQ(st, DiskSha256(dir.file("m.safetensors")));

  // From memory tensors the .bin entries have no recorded CRC: in hash mode
  // a CRC pass comes first, so no header is patched and the digest is known.
  std::string first;
  TorchWriteOptions to;
  to.sync = false;
  to.sha256 = &first;
  ASSERT_TRUE(WriteTorchBin(tensors, dir.file("a.bin"), to).ok());
  EXPECT_EQ(first.size(), 64u);
  EXPECT_EQ(first, DiskSha256(dir.file("a.bin")));
  // The same bytes as without hashing (which streams and patches instead).
  TorchWriteOptions plain;
  plain.sync = false;
  ASSERT_TRUE(WriteTorchBin(tensors, dir.file("plain.bin"), plain).ok());
  EXPECT_EQ(ReadFileBytes(dir.file("a.bin")), ReadFileBytes(dir.file("plain.bin")));

  // Re-written from that torch file, every entry is a whole record with a
  // recorded CRC: nothing is patched, so the digest is known and right.
  auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), dir.file("a.bin"));
  ASSERT_TRUE(set.ok()) << set.status();
  std::string second;
  to.sha256 = &second;
  ASSERT_TRUE(WriteTorchBin(set->tensors, dir.file("b.bin"), to).ok());
  EXPECT_EQ(second.size(), 64u);
  EXPECT_EQ(second, DiskSha256(dir.file("b.bin")));
  EXPECT_EQ(ReadFileBytes(dir.file("a.bin")), ReadFileBytes(dir.file("b.bin")));
}

}  // namespace
}  // namespace neobert::format
