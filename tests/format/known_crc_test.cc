// CRC-32s recorded by a torch zip: the reader attaches them only to whole
// records, casts and views do not carry them, ZipWriter::CopyEntry and the
// torch writer reuse them without reading the bytes; and OutputFile's
// writeback mode writes exactly the bytes the plain mode writes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <random>

#include "core/format/cast.h"
#include "core/format/pickle_writer.h"
#include "core/format/torch_reader.h"
#include "core/format/torch_writer.h"
#include "core/format/zip_reader.h"
#include "core/format/zip_writer.h"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::AsBytes;
using testing::MemTensor;
using testing::ReadFileBytes;
using testing::RandomBytes;
using testing::ScratchDir;
using testing::ZlibCrc;

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A file source that counts ReadAt calls but keeps the real descriptor, so
// that kernel copies still work: a writer that reads the bytes shows up.
class CountingSource final : public ByteSource {
 public:
  explicit CountingSource(std::shared_ptr<FileSource> file) : file_(std::move(file)) {}
  uint64_t size() const override { return file_->size(); }
  const std::string& name() const override { return file_->name(); }
  absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out) const override {
    reads_.fetch_add(1);
    return file_->ReadAt(offset, out);
  }
  int fd() const override { return file_->fd(); }
  int reads() const { return reads_.load(); }

 private:
  std::shared_ptr<FileSource> file_;
  mutable std::atomic<int> reads_{0};
};

std::shared_ptr<CountingSource> OpenCounting(const std::string& path) {
  auto f = FileSource::Open(neobert::base::FsRoot(), path);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::make_shared<CountingSource>(*f) : nullptr;
}

TorchWriteOptions NoSync(bool writeback = true) {
  TorchWriteOptions o;
  o.sync = false;
  o.writeback = writeback;
  return o;
}

uint32_t LocalHeaderCrc(const std::vector<uint8_t>& file, uint64_t header_offset) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{file[header_offset + 14 + i]} << (8 * i);
  return v;
}

TEST(ZipCopyEntryTest, CopiesWithoutReadingAndWritesTheGivenCrc) {
  ScratchDir dir;
  const auto data = RandomBytes((3 << 20) + 4321, 7);
  WriteFile(dir.file("src"), data);
  auto src = OpenCounting(dir.file("src"));
  ASSERT_NE(src, nullptr);
  const uint64_t off = 1000, n = data.size() - 2000;
  const uint32_t crc = ZlibCrc(absl::MakeConstSpan(data.data() + off, n));
  const std::string path = dir.file("out.zip");
  {
    auto zip = ZipWriter::Create(path, {.alignment = 64, .sync = false});
    ASSERT_TRUE(zip.ok());
    ASSERT_TRUE((*zip)->AddEntry("a/first", "xyz").ok());
    ASSERT_TRUE((*zip)->CopyEntry("a/known", *src, off, n, crc).ok());
    ASSERT_TRUE((*zip)->CopyEntry("a/empty", *src, 0, 0, 0).ok());
    // A wrong CRC is trusted, not checked: the entry then fails its check.
    ASSERT_TRUE((*zip)->CopyEntry("a/lie", *src, 0, 64, 0x12345678).ok());
    ASSERT_TRUE((*zip)->Finish().ok());
  }
  EXPECT_EQ(src->reads(), 0) << "CopyEntry read the bytes it was told the CRC of";

  const auto file = ReadFileBytes(path);
  auto f = FileSource::Open(neobert::base::FsRoot(), path);
  ASSERT_TRUE(f.ok());
  auto reader = ZipReader::Open(*f);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ZipEntry* e = (*reader)->Find("a/known");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->crc32, crc);
  EXPECT_EQ(LocalHeaderCrc(file, e->local_header_offset), crc);
  EXPECT_EQ(e->data_offset % 64, 0u);
  auto got = (*reader)->ReadSmall("a/known", 16 << 20, /*verify_crc=*/true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(std::equal(got->begin(), got->end(), data.begin() + off, data.begin() + off + n));
  EXPECT_TRUE((*reader)->ReadSmall("a/empty", 16, true).ok());
  EXPECT_TRUE((*reader)->ReadSmall("a/first", 16, true).ok());
  const ZipEntry* lie = (*reader)->Find("a/lie");
  ASSERT_NE(lie, nullptr);
  EXPECT_EQ(lie->crc32, 0x12345678u);
  EXPECT_FALSE((*reader)->ReadSmall("a/lie", 64, true).ok());
}

TEST(ZipCopyEntryTest, MisuseFailsAndPoisons) {
  ScratchDir dir;
  WriteFile(dir.file("src"), RandomBytes(1000, 1));
  auto src = OpenCounting(dir.file("src"));
  ASSERT_NE(src, nullptr);
  auto zip = ZipWriter::Create(dir.file("a.zip"), {.sync = false});
  ASSERT_TRUE(zip.ok());
  // Past the end of the source: the entry could not be whole.
  EXPECT_EQ((*zip)->CopyEntry("x", *src, 900, 101, 0).code(), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE((*zip)->Finish().ok());  // poisoned

  auto zip2 = ZipWriter::Create(dir.file("b.zip"), {.sync = false});
  ASSERT_TRUE(zip2.ok());
  ASSERT_TRUE((*zip2)->BeginEntry("open", 10).ok());
  // Inside another entry.
  EXPECT_EQ((*zip2)->CopyEntry("x", *src, 0, 10, 0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*zip2)->Finish().ok());
}

// A few tensors of different dtypes, plus a view, written by our writer.
std::vector<TensorEntry> Sample() {
  std::vector<TensorEntry> v;
  v.push_back(MemTensor("w", DType::kFloat32, {300, 7}, RandomBytes(300 * 7 * 4, 3)));
  v.push_back(MemTensor("ids", DType::kInt64, {5}, AsBytes(std::vector<int64_t>{1, 2, 3, -4, 5})));
  v.push_back(MemTensor("h", DType::kBFloat16, {64}, RandomBytes(128, 4)));
  v.push_back(MemTensor("empty", DType::kFloat32, {0}, {}));
  return v;
}

TEST(KnownCrcTest, ReaderAttachesRecordedCrcOfWholeRecords) {
  ScratchDir dir;
  const std::string a = dir.file("a.pt");
  ASSERT_TRUE(WriteTorchBin(Sample(), a, NoSync()).ok());
  auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), a);
  ASSERT_TRUE(set.ok()) << set.status();
  auto f = FileSource::Open(neobert::base::FsRoot(), a);
  ASSERT_TRUE(f.ok());
  auto zip = ZipReader::Open(*f);
  ASSERT_TRUE(zip.ok());
  ASSERT_EQ(set->tensors.size(), 4u);
  for (size_t i = 0; i < set->tensors.size(); ++i) {
    const TensorEntry& t = set->tensors[i];
    SCOPED_TRACE(t.name);
    const std::string record = "archive/data/" + std::to_string(i);
    EXPECT_EQ(t.storage.record, record);
    ASSERT_TRUE(t.storage.crc32.has_value());
    EXPECT_EQ(*t.storage.crc32, (*zip)->Find(record)->crc32);
    auto bytes = ReadContiguous(t);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(*t.storage.crc32, ZlibCrc(*bytes));
    EXPECT_EQ(RecordedCrc32(t), t.storage.crc32);
  }

  // Views and casts do not describe the recorded bytes: no CRC for them.
  TensorEntry view = set->tensors[0];
  view.shape = {299, 7};
  EXPECT_FALSE(RecordedCrc32(view).has_value());  // a prefix of the storage
  view.storage_offset = 7;
  EXPECT_FALSE(RecordedCrc32(view).has_value());  // a suffix
  TensorEntry transposed = set->tensors[0];
  transposed.shape = {7, 300};
  transposed.strides = {1, 7};
  EXPECT_FALSE(RecordedCrc32(transposed).has_value());
  auto same = CastTensor(set->tensors[0], DType::kFloat32);  // no-op: same bytes
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(RecordedCrc32(*same), set->tensors[0].storage.crc32);
  auto half = CastTensor(set->tensors[0], DType::kFloat16);
  ASSERT_TRUE(half.ok());
  EXPECT_FALSE(half->storage.crc32.has_value());
  EXPECT_FALSE(RecordedCrc32(*half).has_value());
  auto strided_cast = CastTensor(transposed, DType::kBFloat16);
  ASSERT_TRUE(strided_cast.ok());
  EXPECT_FALSE(strided_cast->storage.crc32.has_value());
}

TEST(KnownCrcTest, RecordLargerThanItsStorageHasNoCrc) {
  // torch accepts a record longer than the storage it declares; its CRC then
  // covers bytes the tensor does not have.
  ScratchDir dir;
  const std::string path = dir.file("long_record.pt");
  const auto record = RandomBytes(40, 9);  // storage needs 8 floats = 32 bytes
  PickledTensor p{"t", DType::kFloat32, "0", 8, 0, {8}, {1}};
  auto pickle = PickleTensorDict({p});
  ASSERT_TRUE(pickle.ok());
  {
    auto zip = ZipWriter::Create(path, {.sync = false});
    ASSERT_TRUE(zip.ok());
    ASSERT_TRUE((*zip)->AddEntry("archive/data.pkl", *pickle).ok());
    ASSERT_TRUE((*zip)->AddEntry("archive/data/0", absl::MakeConstSpan(record)).ok());
    ASSERT_TRUE((*zip)->AddEntry("archive/version", "3\n").ok());
    ASSERT_TRUE((*zip)->Finish().ok());
  }
  auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), path);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->tensors.size(), 1u);
  EXPECT_FALSE(set->tensors[0].storage.crc32.has_value());
  EXPECT_EQ(set->tensors[0].storage.record, "archive/data/0");

  // Written the ordinary way: the output's CRC is computed from the 32 bytes.
  const std::string out = dir.file("out.bin");
  ASSERT_TRUE(WriteTorchBin(set->tensors, out, NoSync()).ok());
  auto f = FileSource::Open(neobert::base::FsRoot(), out);
  ASSERT_TRUE(f.ok());
  auto zip = ZipReader::Open(*f);
  ASSERT_TRUE(zip.ok());
  EXPECT_EQ((*zip)->Find("archive/data/0")->crc32,
            ZlibCrc(absl::MakeConstSpan(record.data(), 32)));
  EXPECT_TRUE((*zip)->ReadSmall("archive/data/0", 64, true).ok());
}

TEST(KnownCrcTest, RewritingATorchFileReadsNoTensorBytesAndIsIdentical) {
  ScratchDir dir;
  const std::string a = dir.file("a.pt");
  ASSERT_TRUE(WriteTorchBin(Sample(), a, NoSync()).ok());
  auto src = OpenCounting(a);
  ASSERT_NE(src, nullptr);
  auto set = ReadTorchCheckpoint(src);
  ASSERT_TRUE(set.ok()) << set.status();
  const int reads_after_parse = src->reads();  // directory, pickle, small records

  const std::string b = dir.file("b.bin");
  ASSERT_TRUE(WriteTorchBin(set->tensors, b, NoSync()).ok());
  EXPECT_EQ(src->reads(), reads_after_parse) << "the writer read tensor bytes";
  // Same names, dtypes, shapes and bytes: the very same file, CRCs included.
  EXPECT_EQ(ReadFileBytes(a), ReadFileBytes(b));

  // A view of one of those storages still goes the computing way, correctly.
  auto views = set->tensors;
  views[0].shape = {150, 7};
  views[0].storage_offset = 150 * 7;
  const std::string c = dir.file("c.bin");
  ASSERT_TRUE(WriteTorchBin(views, c, NoSync()).ok());
  EXPECT_GT(src->reads(), reads_after_parse);
  auto f = FileSource::Open(neobert::base::FsRoot(), c);
  ASSERT_TRUE(f.ok());
  auto zip = ZipReader::Open(*f);
  ASSERT_TRUE(zip.ok());
  for (const char* name : {"archive/data/0", "archive/data/1", "archive/data/2"}) {
    EXPECT_TRUE((*zip)->ReadSmall(name, 1 << 20, /*verify_crc=*/true).ok()) << name;
  }
}

TEST(OutputFileTest, WritebackModeWritesTheSameBytes) {
  // More than two writeback chunks, through every way bytes reach the file:
  // buffered small writes, a large direct write, a kernel copy, a patch.
  ScratchDir dir;
  const auto big = RandomBytes(kWritebackChunk + (5 << 20) + 17, 11);
  WriteFile(dir.file("src"), big);
  auto src = FileSource::Open(neobert::base::FsRoot(), dir.file("src"));
  ASSERT_TRUE(src.ok());
  const auto small = RandomBytes(1000, 12);
  const auto large = RandomBytes((6 << 20) + 3, 13);
  MemorySource mem(large);
  std::vector<std::vector<uint8_t>> files;
  for (bool writeback : {false, true}) {
    SCOPED_TRACE(writeback);
    const std::string path = dir.file(writeback ? "wb" : "plain");
    auto out = OutputFile::Create(neobert::base::FsRoot(), path, writeback);
    ASSERT_TRUE(out.ok());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE((*out)->Write(absl::MakeConstSpan(small)).ok());
    ASSERT_TRUE((*out)->Write(absl::MakeConstSpan(large)).ok());
    ASSERT_TRUE((*out)->CopyFrom(**src, 5, big.size() - 5).ok());
    ASSERT_TRUE((*out)->Write(absl::MakeConstSpan(small)).ok());
    ASSERT_TRUE((*out)->CopyFrom(mem, 0, (5 << 20)).ok());   // no fd: read and written
    ASSERT_TRUE((*out)->CopyFrom(**src, 0, big.size()).ok());
    ASSERT_TRUE((*out)->WriteAt(3, absl::MakeConstSpan(small.data(), 10)).ok());
    ASSERT_TRUE((*out)->Close(/*sync=*/writeback).ok());
    files.push_back(ReadFileBytes(path));
  }
  std::vector<uint8_t> want;
  for (int i = 0; i < 50; ++i) want.insert(want.end(), small.begin(), small.end());
  want.insert(want.end(), large.begin(), large.end());
  want.insert(want.end(), big.begin() + 5, big.end());
  want.insert(want.end(), small.begin(), small.end());
  want.insert(want.end(), large.begin(), large.begin() + (5 << 20));
  want.insert(want.end(), big.begin(), big.end());
  std::copy(small.begin(), small.begin() + 10, want.begin() + 3);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0] == want);
  EXPECT_TRUE(files[1] == want);
}

TEST(OutputFileTest, WritebackWritersGiveTheSameFiles) {
  ScratchDir dir;
  auto tensors = Sample();
  for (bool wb : {false, true}) {
    ASSERT_TRUE(WriteTorchBin(tensors, dir.file(wb ? "wb.bin" : "plain.bin"),
                              NoSync(wb))
                    .ok());
  }
  EXPECT_EQ(ReadFileBytes(dir.file("wb.bin")), ReadFileBytes(dir.file("plain.bin")));
}

}  // namespace
}  // namespace neobert::format
