// ZipWriter: archives checked by Python's zipfile (names, CRCs, contents,
// alignment), the ZIP64 records, and misuse.
#include "core/format/zip_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "nlohmann/json.hpp"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::ScratchDir;

// Lists every member with its data offset (local header offset + 30 + name +
// extra, as torch's reader computes it), size, CRC check and SHA-256.
constexpr const char* kPythonZipCheck = R"PY(
import hashlib, json, struct, sys, zipfile
path = sys.argv[1]
out = {"members": []}
with open(path, "rb") as raw, zipfile.ZipFile(path) as z:
    out["testzip"] = z.testzip()
    for info in z.infolist():
        raw.seek(info.header_offset)
        local = raw.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        extra = raw.read(name_len + extra_len)[name_len:]
        ids = []
        i = 0
        while i + 4 <= len(extra):
            tag, ln = struct.unpack("<HH", extra[i:i + 4])
            ids.append(tag)
            i += 4 + ln
        data = z.read(info.filename)
        out["members"].append({
            "name": info.filename,
            "size": info.file_size,
            "stored": info.compress_type == zipfile.ZIP_STORED,
            "data_offset": info.header_offset + 30 + name_len + extra_len,
            "extra_ids": ids,
            "sha256": hashlib.sha256(data).hexdigest(),
        })
print(json.dumps(out))
)PY";

struct Member {
  std::string name;
  std::vector<uint8_t> data;
};

std::vector<Member> SampleMembers() {
  std::vector<uint8_t> big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 7);
  return {{"archive/data.pkl", {0x80, 0x02, '.'}},
          {"archive/empty", {}},
          {"archive/data/0", big},
          {"archive/n\xc3\xa4me", {'x'}},
          {"archive/version", {'3', '\n'}}};
}

void WriteSample(const std::string& path, const ZipWriterOptions& opts) {
  auto zip = ZipWriter::Create(path, opts);
  ASSERT_TRUE(zip.ok()) << zip.status();
  for (const Member& m : SampleMembers()) {
    if (m.data.size() < 1000) {
      ASSERT_TRUE((*zip)->AddEntry(m.name, m.data).ok());
      continue;
    }
    // Streamed in uneven chunks.
    ASSERT_TRUE((*zip)->BeginEntry(m.name, m.data.size()).ok());
    for (size_t done = 0; done < m.data.size();) {
      size_t n = std::min<size_t>(m.data.size() - done, 70001);
      ASSERT_TRUE((*zip)->WriteData(absl::MakeConstSpan(m.data.data() + done, n)).ok());
      done += n;
    }
    ASSERT_TRUE((*zip)->EndEntry().ok());
  }
  ASSERT_TRUE((*zip)->Finish().ok());
}

class ZipWriterPythonTest : public ::testing::TestWithParam<bool> {};

TEST_P(ZipWriterPythonTest, PythonZipfileReadsEveryMember) {
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  const std::string path = dir.file("t.zip");
  ZipWriterOptions opts;
  opts.force_zip64 = GetParam();
  opts.sync = false;
  ASSERT_NO_FATAL_FAILURE(WriteSample(path, opts));
  auto r = testing::RunPython(dir.path(), kPythonZipCheck, {path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(testing::LastLine(r.output));
  EXPECT_TRUE(j["testzip"].is_null()) << j["testzip"];  // every CRC matches
  const auto members = SampleMembers();
  ASSERT_EQ(j["members"].size(), members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = j["members"][i];
    SCOPED_TRACE(members[i].name);
    EXPECT_EQ(m["name"], members[i].name);
    EXPECT_EQ(m["size"], members[i].data.size());
    EXPECT_TRUE(m["stored"].get<bool>());
    EXPECT_EQ(m["data_offset"].get<uint64_t>() % 64, 0u);
    EXPECT_EQ(m["sha256"], testing::Sha256Hex(members[i].data));
    std::vector<int> ids = m["extra_ids"];
    if (GetParam()) {
      EXPECT_EQ(ids, (std::vector<int>{0x0001, 0x4246}));
    } else {
      EXPECT_EQ(ids, (std::vector<int>{0x4246}));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zip64, ZipWriterPythonTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Forced" : "Classic"; });

uint32_t Le32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

TEST(ZipWriterTest, EndRecordsByHand) {
  ScratchDir dir;
  for (bool force : {false, true}) {
    SCOPED_TRACE(force);
    const std::string path = dir.file(force ? "z64.zip" : "z.zip");
    ZipWriterOptions opts;
    opts.force_zip64 = force;
    opts.sync = false;
    ASSERT_NO_FATAL_FAILURE(WriteSample(path, opts));
    const auto b = testing::ReadFileBytes(path);
    ASSERT_GT(b.size(), 22u + 76u);
    const size_t eocd = b.size() - 22;
    EXPECT_EQ(Le32(b, eocd), 0x06054b50u);
    const uint16_t count = b[eocd + 10] | (b[eocd + 11] << 8);
    const bool has_locator = Le32(b, eocd - 20) == 0x07064b50u;
    EXPECT_EQ(has_locator, force);
    if (force) {
      EXPECT_EQ(count, 0xFFFF);
      EXPECT_EQ(Le32(b, eocd + 16), 0xFFFFFFFFu);
      const size_t rec = eocd - 20 - 56;
      EXPECT_EQ(Le32(b, rec), 0x06064b50u);
      EXPECT_EQ(Le32(b, eocd - 20 + 8), rec);  // locator points at the record
      EXPECT_EQ(Le32(b, rec + 24), SampleMembers().size());
    } else {
      EXPECT_EQ(count, SampleMembers().size());
    }
    // First local header: signature, STORED, CRC of the 3-byte pickle stub.
    EXPECT_EQ(Le32(b, 0), 0x04034b50u);
    EXPECT_EQ(b[8] | (b[9] << 8), 0);
    EXPECT_EQ(Le32(b, 14), 0xf094addfu) << "crc32(80 02 2e)";
  }
}

TEST(ZipWriterTest, ManyEntriesSwitchToZip64EndRecord) {
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  const std::string path = dir.file("many.zip");
  ZipWriterOptions opts;
  opts.alignment = 1;  // keeps the file small
  opts.sync = false;
  auto zip = ZipWriter::Create(path, opts);
  ASSERT_TRUE(zip.ok());
  const int n = 0xFFFF + 10;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE((*zip)->AddEntry("e/" + std::to_string(i), std::to_string(i)).ok());
  }
  ASSERT_TRUE((*zip)->Finish().ok());
  const auto b = testing::ReadFileBytes(path);
  EXPECT_EQ(Le32(b, b.size() - 22 - 20), 0x07064b50u);
  auto r = testing::RunPython(dir.path(), R"PY(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    assert z.testzip() is None
    assert z.read("e/65540") == b"65540"
    print(len(names), names[-1])
)PY",
                              {path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::LastLine(r.output), std::to_string(n) + " e/" + std::to_string(n - 1));
}

TEST(ZipWriterTest, MisuseFailsAndPoisons) {
  ScratchDir dir;
  {
    auto zip = ZipWriter::Create(dir.file("a.zip"));
    ASSERT_TRUE(zip.ok());
    ASSERT_TRUE((*zip)->AddEntry("x", "1").ok());
    auto s = (*zip)->AddEntry("x", "2");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("duplicate zip entry 'x'"), absl::string_view::npos) << s;
    // Poisoned: nothing more is accepted.
    EXPECT_EQ((*zip)->AddEntry("y", "1").code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE((*zip)->Finish().ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.zip")));  // removed, never finished

  auto zip = ZipWriter::Create(dir.file("b.zip"));
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE((*zip)->BeginEntry("d", 4).ok());
  EXPECT_EQ((*zip)->WriteData(std::vector<uint8_t>(5)).code(), absl::StatusCode::kInvalidArgument);

  zip = ZipWriter::Create(dir.file("c.zip"));
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE((*zip)->BeginEntry("d", 4).ok());
  ASSERT_TRUE((*zip)->WriteData(std::vector<uint8_t>(3)).ok());
  auto s = (*zip)->EndEntry();
  EXPECT_NE(s.message().find("declared 4 bytes but 3 were written"), absl::string_view::npos) << s;

  zip = ZipWriter::Create(dir.file("d.zip"));
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE((*zip)->BeginEntry("d", 1).ok());
  EXPECT_FALSE((*zip)->Finish().ok());
  EXPECT_FALSE((*zip)->BeginEntry("", 0).ok());

  zip = ZipWriter::Create(dir.file("e.zip"));
  ASSERT_TRUE(zip.ok());
  EXPECT_FALSE((*zip)->WriteData(std::vector<uint8_t>(1)).ok());
  EXPECT_FALSE((*zip)->EndEntry().ok());

  zip = ZipWriter::Create(dir.file("f.zip"));
  ASSERT_TRUE(zip.ok());
  EXPECT_FALSE((*zip)->AddEntry(std::string(70000, 'n'), "").ok());

  ZipWriterOptions bad;
  bad.alignment = 48;
  EXPECT_EQ(ZipWriter::Create(dir.file("g.zip"), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ZipWriter::Create(dir.path() + "/no/such/dir.zip").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ZipWriterTest, LargeAlignmentIsHonoured) {
  ScratchDir dir;
  const std::string path = dir.file("a4k.zip");
  ZipWriterOptions opts;
  opts.alignment = 4096;
  opts.sync = false;
  auto zip = ZipWriter::Create(path, opts);
  ASSERT_TRUE(zip.ok());
  std::vector<uint64_t> starts;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*zip)->BeginEntry("entry" + std::to_string(i), 100).ok());
    starts.push_back((*zip)->position());
    ASSERT_TRUE((*zip)->WriteData(std::vector<uint8_t>(100, static_cast<uint8_t>(i))).ok());
    ASSERT_TRUE((*zip)->EndEntry().ok());
  }
  ASSERT_TRUE((*zip)->Finish().ok());
  const auto b = testing::ReadFileBytes(path);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(starts[i] % 4096, 0u);
    EXPECT_EQ(b[starts[i]], i);
    EXPECT_EQ(b[starts[i] + 99], i);
  }
}

}  // namespace
}  // namespace neobert::format
