// core::CheckFinite: the exporter's NaN/Inf scan, which also verifies the
// CRC-32 recorded for every whole torch storage (the CRC the .bin writer then
// reuses without reading), so a corrupt checkpoint is refused, not laundered.
#include "core/export/finite_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/format/torch_reader.h"
#include "core/format/torch_writer.h"
#include "core/format/zip_reader.h"
#include "tests/format/writer_test_util.h"

namespace neobert::core {
namespace {

using format::DType;
using format::TensorEntry;
using format::testing::AsBytes;
using format::testing::MemTensor;
using format::testing::ScratchDir;

std::vector<TensorEntry> Sample(float first_value) {
  std::vector<float> w(4096);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.25f - 100.0f;
  w[0] = first_value;
  std::vector<TensorEntry> v;
  v.push_back(MemTensor("w", DType::kFloat32, {64, 64}, AsBytes(w)));
  v.push_back(MemTensor("ids", DType::kInt64, {4}, AsBytes(std::vector<int64_t>{1, 2, 3, 4})));
  v.push_back(MemTensor("b", DType::kFloat32, {3}, AsBytes(std::vector<float>{1, 2, 3})));
  return v;
}

// Writes `tensors` as a torch file, flips one byte of record `record` (not
// its recorded CRC), and reads it back.
absl::StatusOr<format::TensorSet> CorruptCheckpoint(const ScratchDir& dir,
                                                    const std::vector<TensorEntry>& tensors,
                                                    const std::string& record,
                                                    uint64_t byte_in_record) {
  const std::string path = dir.file("state_dict.pt");
  format::TorchWriteOptions options;
  options.sync = false;
  if (auto s = format::WriteTorchBin(tensors, path, options); !s.ok()) return s;
  if (!record.empty()) {
    uint64_t data_offset = 0;
    {
      auto f = format::FileSource::Open(neobert::base::FsRoot(), path);
      if (!f.ok()) return f.status();
      auto zip = format::ZipReader::Open(*f);
      if (!zip.ok()) return zip.status();
      const format::ZipEntry* e = (*zip)->Find(record);
      if (e == nullptr) return absl::NotFoundError(record);
      data_offset = e->data_offset;
    }
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(data_offset + byte_in_record));
    char c = 0;
    io.read(&c, 1);
    c ^= 0x10;
    io.seekp(static_cast<std::streamoff>(data_offset + byte_in_record));
    io.write(&c, 1);
    if (!io) return absl::InternalError("cannot flip the byte");
  }
  return format::ReadTorchCheckpoint(neobert::base::FsRoot(), path);
}

TEST(CheckFiniteTest, IntactCheckpointPasses) {
  ScratchDir dir;
  auto set = CorruptCheckpoint(dir, Sample(1.0f), "", 0);
  ASSERT_TRUE(set.ok()) << set.status();
  for (const auto& t : set->tensors) ASSERT_TRUE(t.storage.crc32.has_value()) << t.name;
  base::CancelToken cancel;
  EXPECT_TRUE(CheckFinite(set->tensors, cancel).ok());
}

TEST(CheckFiniteTest, FlippedByteInAFloatRecordFailsItsCrc) {
  ScratchDir dir;
  // A mantissa bit: the value stays finite, only the CRC can tell.
  auto set = CorruptCheckpoint(dir, Sample(1.0f), "archive/data/0", 1001);
  ASSERT_TRUE(set.ok()) << set.status();
  base::CancelToken cancel;
  auto s = CheckFinite(set->tensors, cancel);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor 'w': storage record 'archive/data/0' fails its CRC-32 "
                             "check (recorded 0x"),
            absl::string_view::npos)
      << s;
  EXPECT_NE(s.message().find("the checkpoint file is corrupt"), absl::string_view::npos) << s;
  // The recorded value is the record's, the computed one differs.
  const uint32_t recorded = *set->tensors[0].storage.crc32;
  EXPECT_NE(s.message().find(absl::StrFormat("recorded 0x%08x, computed 0x", recorded)),
            absl::string_view::npos)
      << s;
}

TEST(CheckFiniteTest, FlippedByteInAnIntegerRecordFailsItsCrc) {
  ScratchDir dir;
  auto set = CorruptCheckpoint(dir, Sample(1.0f), "archive/data/1", 3);
  ASSERT_TRUE(set.ok()) << set.status();
  base::CancelToken cancel;
  auto s = CheckFinite(set->tensors, cancel);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor 'ids': storage record 'archive/data/1' fails its CRC-32"),
            absl::string_view::npos)
      << s;
}

TEST(CheckFiniteTest, CrcFailureIsReportedBeforeNaN) {
  ScratchDir dir;
  auto set = CorruptCheckpoint(dir, Sample(std::numeric_limits<float>::quiet_NaN()),
                               "archive/data/2", 0);
  ASSERT_TRUE(set.ok()) << set.status();
  base::CancelToken cancel;
  auto s = CheckFinite(set->tensors, cancel);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'archive/data/2' fails its CRC-32"), absl::string_view::npos) << s;
}

TEST(CheckFiniteTest, NaNStillFoundWithAndWithoutRecordedCrc) {
  ScratchDir dir;
  auto set = CorruptCheckpoint(dir, Sample(std::numeric_limits<float>::infinity()), "", 0);
  ASSERT_TRUE(set.ok()) << set.status();
  base::CancelToken cancel;
  auto s = CheckFinite(set->tensors, cancel);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor 'w' has 1 NaN/Inf value (of 4096)"), absl::string_view::npos)
      << s;
  // Tensors from memory (no recorded CRC) are scanned as before.
  s = CheckFinite(Sample(std::nanf("")), cancel);
  EXPECT_NE(s.message().find("tensor 'w' has 1 NaN/Inf value"), absl::string_view::npos) << s;
  EXPECT_TRUE(CheckFinite(Sample(2.0f), cancel).ok());
}

TEST(CheckFiniteTest, ViewsOfACorruptStorageAreNotCrcChecked) {
  // A view is not the whole record: its bytes cannot be checked against the
  // record's CRC, and the writer does not reuse that CRC for it either.
  ScratchDir dir;
  auto set = CorruptCheckpoint(dir, Sample(1.0f), "archive/data/0", 8);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<TensorEntry> half = {set->tensors[0]};
  half[0].shape = {32, 64};
  half[0].storage_offset = 32 * 64;
  base::CancelToken cancel;
  EXPECT_TRUE(CheckFinite(half, cancel).ok());
}

}  // namespace
}  // namespace neobert::core
