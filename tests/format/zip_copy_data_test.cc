// ZipWriter::CopyData: entries filled from a file (kernel copy) or from memory
// must hold the same bytes and CRC-32 as WriteData would give; misuse fails.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "core/format/zip_reader.h"
#include "core/format/zip_writer.h"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::RandomBytes;
using testing::ScratchDir;
using testing::ZlibCrc;

class ZipCopyDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Larger than CopyData's 1 MiB piece, and not a multiple of it.
    data_ = RandomBytes((3 << 20) + 12345, 42);
    src_path_ = dir_.file("source.bin");
    std::ofstream(src_path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(data_.data()), static_cast<std::streamsize>(data_.size()));
    auto f = FileSource::Open(neobert::base::FsRoot(), src_path_);
    ASSERT_TRUE(f.ok()) << f.status();
    file_ = *f;
  }

  ScratchDir dir_;
  std::vector<uint8_t> data_;
  std::string src_path_;
  std::shared_ptr<FileSource> file_;
};

TEST_F(ZipCopyDataTest, FileAndMemorySourcesGiveTheRightBytesAndCrc) {
  MemorySource mem(data_);
  const std::string path = dir_.file("out.zip");
  {
    auto zip = ZipWriter::Create(path, {.alignment = 64, .sync = false});
    ASSERT_TRUE(zip.ok()) << zip.status();
    // Whole file range, an unaligned inner range, a range from memory, a
    // range split over two calls, and an empty one.
    const uint64_t inner_off = 777, inner_n = (1 << 20) + 3;
    ASSERT_TRUE((*zip)->BeginEntry("a/whole", data_.size()).ok());
    ASSERT_TRUE((*zip)->CopyData(*file_, 0, data_.size()).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
    ASSERT_TRUE((*zip)->BeginEntry("a/inner", inner_n).ok());
    ASSERT_TRUE((*zip)->CopyData(*file_, inner_off, inner_n).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
    ASSERT_TRUE((*zip)->BeginEntry("a/mem", 5000).ok());
    ASSERT_TRUE((*zip)->CopyData(mem, 100, 5000).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
    ASSERT_TRUE((*zip)->BeginEntry("a/split", 300000).ok());
    ASSERT_TRUE((*zip)->WriteData(absl::MakeConstSpan(data_.data(), 1000)).ok());
    ASSERT_TRUE((*zip)->CopyData(*file_, 1000, 299000).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
    ASSERT_TRUE((*zip)->BeginEntry("a/empty", 0).ok());
    ASSERT_TRUE((*zip)->CopyData(*file_, data_.size() + 99, 0).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
    ASSERT_TRUE((*zip)->Finish().ok());
  }
  auto src = FileSource::Open(neobert::base::FsRoot(), path);
  ASSERT_TRUE(src.ok());
  auto reader = ZipReader::Open(*src);
  ASSERT_TRUE(reader.ok()) << reader.status();
  struct Want {
    const char* name;
    uint64_t offset, n;
  } wants[] = {{"a/whole", 0, data_.size()},
               {"a/inner", 777, (1 << 20) + 3},
               {"a/mem", 100, 5000},
               {"a/split", 0, 300000},
               {"a/empty", 0, 0}};
  for (const Want& w : wants) {
    SCOPED_TRACE(w.name);
    const ZipEntry* e = (*reader)->Find(w.name);
    ASSERT_NE(e, nullptr);
    auto want = absl::MakeConstSpan(data_.data() + w.offset, w.n);
    EXPECT_EQ(e->crc32, ZlibCrc(want));
    auto got = (*reader)->ReadSmall(w.name, 16 << 20, /*verify_crc=*/true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(std::equal(got->begin(), got->end(), want.begin(), want.end()));
  }
}

TEST_F(ZipCopyDataTest, MisuseFailsAndPoisons) {
  const std::string path = dir_.file("bad.zip");
  auto zip = ZipWriter::Create(path, {.sync = false});
  ASSERT_TRUE(zip.ok());
  // Outside an entry.
  EXPECT_EQ((*zip)->CopyData(*file_, 0, 10).code(), absl::StatusCode::kFailedPrecondition);

  auto zip2 = ZipWriter::Create(dir_.file("bad2.zip"), {.sync = false});
  ASSERT_TRUE(zip2.ok());
  ASSERT_TRUE((*zip2)->BeginEntry("x", 10).ok());
  // More than declared.
  EXPECT_EQ((*zip2)->CopyData(*file_, 0, 11).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE((*zip2)->Finish().ok());  // poisoned

  auto zip3 = ZipWriter::Create(dir_.file("bad3.zip"), {.sync = false});
  ASSERT_TRUE(zip3.ok());
  ASSERT_TRUE((*zip3)->BeginEntry("x", 100).ok());
  // A range past the end of the source, and one whose end overflows.
  EXPECT_EQ((*zip3)->CopyData(*file_, data_.size() - 50, 100).code(),
            absl::StatusCode::kOutOfRange);
  auto zip4 = ZipWriter::Create(dir_.file("bad4.zip"), {.sync = false});
  ASSERT_TRUE(zip4.ok());
  ASSERT_TRUE((*zip4)->BeginEntry("x", 100).ok());
  EXPECT_EQ((*zip4)->CopyData(*file_, UINT64_MAX - 10, 100).code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace neobert::format
