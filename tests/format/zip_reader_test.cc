#include "core/format/zip_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/format/reader_test_util.h"

namespace neobert::format {
namespace {

using ::testing::HasSubstr;
using testutil::BuildZip;
using testutil::Mem;
using testutil::ZipSpec;

std::string RangeBytes(const std::string& file, const ZipRange& r) {
  return file.substr(r.offset, r.size);
}

TEST(ZipReaderTest, ReadsStoredEntriesInOrder) {
  auto z = BuildZip({{"arc/data.pkl", "PICKLE"}, {"arc/data/0", std::string(24, '\x7f')},
                     {"arc/version", "3\n"}});
  auto zip = ZipReader::Open(Mem(z.bytes));
  ASSERT_TRUE(zip.ok()) << zip.status();
  const auto& es = (*zip)->entries();
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[0].name, "arc/data.pkl");
  EXPECT_EQ(es[1].name, "arc/data/0");
  EXPECT_EQ(es[2].name, "arc/version");
  EXPECT_EQ(es[1].local_header_offset, z.local_offsets[1]);
  EXPECT_EQ(es[1].data_offset, z.local_offsets[1] + 30 + 10);
  EXPECT_FALSE((*zip)->is_zip64());

  auto r = (*zip)->StoredRange("arc/data/0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size, 24u);
  EXPECT_EQ(RangeBytes(z.bytes, *r), std::string(24, '\x7f'));

  auto v = (*zip)->ReadSmall("arc/version", 16);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(std::string(v->begin(), v->end()), "3\n");

  EXPECT_EQ((*zip)->Find("arc/nope"), nullptr);
  EXPECT_TRUE(absl::IsNotFound((*zip)->StoredRange("arc/nope").status()));
  auto too_big = (*zip)->ReadSmall("arc/data/0", 8);
  EXPECT_THAT(too_big.status().message(), HasSubstr("more than the limit of 8"));
}

TEST(ZipReaderTest, DataOffsetUsesLocalExtraNotCentral) {
  // torch pads the local extra field so that tensor data is 64-byte aligned;
  // the central directory does not repeat the padding.
  ZipSpec e{"a/data/0", "ALIGNED", 0, std::string(4, '\0') + std::string(23, 'Z')};
  testutil::Patch16(&e.local_extra, 0, 0x4246);  // "FB" as torch writes
  testutil::Patch16(&e.local_extra, 2, 23);
  auto z = BuildZip({e});
  auto zip = ZipReader::Open(Mem(z.bytes));
  ASSERT_TRUE(zip.ok()) << zip.status();
  auto r = (*zip)->StoredRange("a/data/0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->offset, 30u + 8u + 27u);
  EXPECT_EQ(RangeBytes(z.bytes, *r), "ALIGNED");
}

TEST(ZipReaderTest, FindsEocdBeforeComment) {
  auto z = BuildZip({{"x/y", "hello"}}, false, std::string(1000, 'c') + "PK\x05\x06 fake");
  auto zip = ZipReader::Open(Mem(z.bytes));
  ASSERT_TRUE(zip.ok()) << zip.status();
  auto r = (*zip)->StoredRange("x/y");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(RangeBytes(z.bytes, *r), "hello");
}

TEST(ZipReaderTest, ReadsZip64RecordsAndExtras) {
  auto z = BuildZip({{"big/data/0", "0123456789"}, {"big/data.pkl", "p"}}, /*zip64=*/true);
  auto zip = ZipReader::Open(Mem(z.bytes));
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_TRUE((*zip)->is_zip64());
  ASSERT_EQ((*zip)->entries().size(), 2u);
  auto r = (*zip)->StoredRange("big/data/0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size, 10u);
  EXPECT_EQ(RangeBytes(z.bytes, *r), "0123456789");
  EXPECT_EQ((*zip)->entries()[1].local_header_offset, z.local_offsets[1]);
  auto p = (*zip)->ReadSmall("big/data.pkl", 10);
  ASSERT_TRUE(p.ok()) << p.status();
}

TEST(ZipReaderTest, Zip64ArchiveFromPythonZipfile) {
  // More than 65535 entries forces Python's zipfile to write ZIP64 EOCD
  // records; a second, independent writer for the same layout.
  const std::string dir = testutil::MakeTempDir();
  ASSERT_TRUE(testutil::RunPython(dir, R"(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/many.zip', 'w', zipfile.ZIP_STORED) as z:
    for i in range(70000):
        z.writestr('m/%d' % i, str(i * 7))
)"));
  auto src = FileSource::Open(neobert::base::FsRoot(), dir + "/many.zip");
  ASSERT_TRUE(src.ok());
  auto zip = ZipReader::Open(*src);
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_TRUE((*zip)->is_zip64());
  ASSERT_EQ((*zip)->entries().size(), 70000u);
  for (int i : {0, 65535, 65536, 69999}) {
    auto v = (*zip)->ReadSmall("m/" + std::to_string(i), 64);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(std::string(v->begin(), v->end()), std::to_string(i * 7));
  }
}

TEST(ZipReaderTest, PythonZipfileReadsOurZip64Builder) {
  // Cross-check of the test writer itself, so the ZIP64 test above is honest.
  const std::string dir = testutil::MakeTempDir();
  testutil::WriteFile(dir + "/z64.zip", BuildZip({{"q/r", "payload"}}, true).bytes);
  ASSERT_TRUE(testutil::RunPython(dir, R"(
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1] + '/z64.zip')
assert z.read('q/r') == b'payload'
assert z.testzip() is None
)"));
}

// ---- Corrupt and hostile archives. Each must fail cleanly, naming the problem.

struct BadZip {
  const char* label;
  std::string bytes;
  const char* expect;  // substring of the error
};

std::vector<BadZip> BadZips() {
  std::vector<BadZip> v;
  const auto good = BuildZip({{"a/data.pkl", "abc"}, {"a/data/0", "0123456789abcdef"}});
  v.push_back({"empty file", "", "no end of central directory record"});
  v.push_back({"non-zip text", std::string(5000, 'x'), "no end of central directory record"});
  v.push_back({"truncated zip", good.bytes.substr(0, good.bytes.size() - 5),
               "no end of central directory record"});
  {
    auto b = good.bytes;
    testutil::Patch32(&b, b.size() - 22 + 16, static_cast<uint32_t>(b.size()));  // cd offset
    v.push_back({"central directory past EOF", b, "central directory ["});
  }
  {
    auto b = good.bytes;
    testutil::Patch16(&b, b.size() - 22 + 10, 60000);
    testutil::Patch16(&b, b.size() - 22 + 8, 60000);
    v.push_back({"entry count too large for directory", b, "cannot hold 60000 entries"});
  }
  {
    auto b = good.bytes;
    testutil::Patch32(&b, good.central_offsets[1] + 42, 0x7fffff00);
    v.push_back({"entry offset past EOF", b, "entry 'a/data/0': local header at offset"});
  }
  {
    auto b = good.bytes;
    testutil::Patch32(&b, good.central_offsets[1] + 20, 1u << 30);  // compressed size
    testutil::Patch32(&b, good.central_offsets[1] + 24, 1u << 30);
    v.push_back({"data range past EOF", b, "entry 'a/data/0': data ["});
  }
  {
    auto b = good.bytes;
    b[good.local_offsets[1]] = 'Q';
    v.push_back({"bad local signature", b, "entry 'a/data/0': bad local header signature"});
  }
  {
    auto b = good.bytes;
    b[good.local_offsets[1] + 30] = 'b';  // local name "b/data/0"
    v.push_back({"local name mismatch", b, "local header name does not match"});
  }
  {
    auto b = good.bytes;
    b[good.central_offsets[1]] = 'Q';
    v.push_back({"bad central signature", b, "bad central directory signature for entry 1"});
  }
  v.push_back({"duplicate names", BuildZip({{"a/x", "1"}, {"a/x", "2"}}).bytes,
               "duplicate entry name 'a/x'"});
  {
    auto b = good.bytes;
    testutil::Patch16(&b, b.size() - 22 + 4, 1);
    v.push_back({"multi-disk", b, "multi-disk archives are not supported"});
  }
  {
    auto b = BuildZip({{"a/x", "1"}}, true).bytes;
    // Locator's record offset -> past the file.
    testutil::Patch32(&b, b.size() - 22 - 20 + 8, 0x7ffffff0);
    v.push_back({"zip64 locator outside", b, "ZIP64 end of central directory offset"});
  }
  {
    auto z = BuildZip({{"a/x", "1"}}, true);
    auto b = z.bytes;
    // Drop the ZIP64 extra (id -> 0x9999) while fields stay saturated.
    testutil::Patch16(&b, z.central_offsets[0] + 46 + 3, 0x9999);
    v.push_back({"saturated fields without zip64 extra", b, "no ZIP64 extra field"});
  }
  {
    std::string big_name(5000, 'n');
    v.push_back({"name over limit", BuildZip({{big_name, "1"}}).bytes,
                 "name of 5000 bytes exceeds the limit of 4096"});
  }
  return v;
}

TEST(ZipReaderTest, RejectsCorruptArchives) {
  for (const BadZip& c : BadZips()) {
    SCOPED_TRACE(c.label);
    auto zip = ZipReader::Open(Mem(c.bytes, "bad.zip"));
    ASSERT_FALSE(zip.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(zip.status())) << zip.status();
    EXPECT_THAT(zip.status().message(), HasSubstr(c.expect));
    EXPECT_THAT(zip.status().message(), HasSubstr("bad.zip: zip: "));
  }
}

TEST(ZipReaderTest, EntryLevelErrorsNameTheEntry) {
  auto z = BuildZip({{"a/deflated", "xyz", 8}, {"a/crc", "data"}, {"a/enc", "e"}});
  testutil::Patch32(&z.bytes, z.central_offsets[1] + 16, 0x12345678);  // wrong CRC
  testutil::Patch16(&z.bytes, z.central_offsets[2] + 8, 1);            // encrypted flag
  auto zip = ZipReader::Open(Mem(z.bytes, "e.zip"));
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_THAT((*zip)->StoredRange("a/deflated").status().message(),
              HasSubstr("entry 'a/deflated' is compressed (method 8)"));
  EXPECT_THAT((*zip)->ReadSmall("a/crc", 10).status().message(),
              HasSubstr("entry 'a/crc': CRC-32 mismatch"));
  EXPECT_TRUE((*zip)->ReadSmall("a/crc", 10, /*verify_crc=*/false).ok());
  EXPECT_THAT((*zip)->StoredRange("a/enc").status().message(),
              HasSubstr("entry 'a/enc' is encrypted"));
}

TEST(ZipReaderTest, DeflatedEntryFromPythonIsRefused) {
  const std::string dir = testutil::MakeTempDir();
  ASSERT_TRUE(testutil::RunPython(dir, R"(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/d.zip', 'w') as z:
    z.writestr('k/stored', b'plain', compress_type=zipfile.ZIP_STORED)
    z.writestr('k/data/0', b'\0' * 4096, compress_type=zipfile.ZIP_DEFLATED)
)"));
  auto src = FileSource::Open(neobert::base::FsRoot(), dir + "/d.zip");
  ASSERT_TRUE(src.ok());
  auto zip = ZipReader::Open(*src);
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_TRUE((*zip)->ReadSmall("k/stored", 16).ok());
  auto r = (*zip)->StoredRange("k/data/0");
  EXPECT_THAT(r.status().message(), HasSubstr("entry 'k/data/0' is compressed (method 8)"));
}

TEST(ZipReaderTest, EntryCapIsEnforced) {
  std::vector<ZipSpec> es;
  for (int i = 0; i < 20; ++i) es.push_back({"e/" + std::to_string(i), "v"});
  ZipLimits lim;
  lim.max_entries = 10;
  auto zip = ZipReader::Open(Mem(BuildZip(es).bytes), lim);
  EXPECT_THAT(zip.status().message(), HasSubstr("claims 20 entries (limit 10)"));
}

TEST(ZipReaderTest, TruncationAndBitFlipsNeverCrash) {
  auto good = BuildZip({{"a/data.pkl", "abc"}, {"a/data/0", "0123456789abcdef"}}, true).bytes;
  for (size_t n = 0; n < good.size(); ++n) {
    (void)ZipReader::Open(Mem(good.substr(0, n)));
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xFF}) {
      auto b = good;
      b[i] = static_cast<char>(b[i] ^ x);
      auto zip = ZipReader::Open(Mem(b));
      if (zip.ok()) {
        for (const auto& e : (*zip)->entries()) (void)(*zip)->ReadSmall(e.name, 1 << 20);
      }
    }
  }
}

}  // namespace
}  // namespace neobert::format
