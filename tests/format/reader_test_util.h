// Test helpers for the zip / pickle / torch readers: a tiny ZIP writer and a
// pickle opcode writer (to craft exact, including hostile, inputs), and a
// runner for inline /usr/bin/python3 scripts (to make real torch.save files).
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/format/byte_source.h"
#include "gtest/gtest.h"

namespace neobert::format::testutil {

inline void Put16(std::string* s, uint16_t v) {
  for (int i = 0; i < 2; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
inline void Put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
inline void Put64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
inline void Patch32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}
inline void Patch16(std::string* s, size_t at, uint16_t v) {
  for (int i = 0; i < 2; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

inline uint32_t Crc32(const std::string& data) {
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char ch : data) crc = table[(crc ^ ch) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

struct ZipSpec {
  ZipSpec(std::string n, std::string d, uint16_t m = 0, std::string extra = std::string())
      : name(std::move(n)), data(std::move(d)), method(m), local_extra(std::move(extra)) {}
  std::string name;
  std::string data;
  uint16_t method = 0;
  std::string local_extra;  // e.g. alignment padding, as torch writes
};

struct BuiltZip {
  std::string bytes;
  std::vector<size_t> local_offsets;    // per entry
  std::vector<size_t> central_offsets;  // per entry
  size_t cd_offset = 0;
  size_t eocd_offset = 0;
};

// Writes a ZIP with the given entries. `zip64` saturates every 32-bit field
// and writes ZIP64 extras, the ZIP64 EOCD record and its locator.
inline BuiltZip BuildZip(const std::vector<ZipSpec>& entries, bool zip64 = false,
                         const std::string& comment = "") {
  BuiltZip z;
  std::string& b = z.bytes;
  for (const ZipSpec& e : entries) {
    z.local_offsets.push_back(b.size());
    Put32(&b, 0x04034b50);
    Put16(&b, zip64 ? 45 : 20);
    Put16(&b, 0);
    Put16(&b, e.method);
    Put16(&b, 0);
    Put16(&b, 0);
    Put32(&b, Crc32(e.data));
    Put32(&b, static_cast<uint32_t>(e.data.size()));
    Put32(&b, static_cast<uint32_t>(e.data.size()));
    Put16(&b, static_cast<uint16_t>(e.name.size()));
    Put16(&b, static_cast<uint16_t>(e.local_extra.size()));
    b += e.name;
    b += e.local_extra;
    b += e.data;
  }
  z.cd_offset = b.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const ZipSpec& e = entries[i];
    z.central_offsets.push_back(b.size());
    std::string extra;
    if (zip64) {
      Put16(&extra, 0x0001);
      Put16(&extra, 24);
      Put64(&extra, e.data.size());
      Put64(&extra, e.data.size());
      Put64(&extra, z.local_offsets[i]);
    }
    Put32(&b, 0x02014b50);
    Put16(&b, zip64 ? 45 : 20);
    Put16(&b, zip64 ? 45 : 20);
    Put16(&b, 0);
    Put16(&b, e.method);
    Put16(&b, 0);
    Put16(&b, 0);
    Put32(&b, Crc32(e.data));
    Put32(&b, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(e.data.size()));
    Put32(&b, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(e.data.size()));
    Put16(&b, static_cast<uint16_t>(e.name.size()));
    Put16(&b, static_cast<uint16_t>(extra.size()));
    Put16(&b, 0);
    Put16(&b, 0);
    Put16(&b, 0);
    Put32(&b, 0);
    Put32(&b, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(z.local_offsets[i]));
    b += e.name;
    b += extra;
  }
  const size_t cd_size = b.size() - z.cd_offset;
  if (zip64) {
    const size_t rec = b.size();
    Put32(&b, 0x06064b50);
    Put64(&b, 44);
    Put16(&b, 45);
    Put16(&b, 45);
    Put32(&b, 0);
    Put32(&b, 0);
    Put64(&b, entries.size());
    Put64(&b, entries.size());
    Put64(&b, cd_size);
    Put64(&b, z.cd_offset);
    Put32(&b, 0x07064b50);
    Put32(&b, 0);
    Put64(&b, rec);
    Put32(&b, 1);
  }
  z.eocd_offset = b.size();
  Put32(&b, 0x06054b50);
  Put16(&b, 0);
  Put16(&b, 0);
  Put16(&b, zip64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  Put16(&b, zip64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  Put32(&b, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_size));
  Put32(&b, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(z.cd_offset));
  Put16(&b, static_cast<uint16_t>(comment.size()));
  b += comment;
  return z;
}

inline std::shared_ptr<const ByteSource> Mem(const std::string& s, std::string name = "mem.pt") {
  return std::make_shared<MemorySource>(std::vector<uint8_t>(s.begin(), s.end()),
                                        std::move(name));
}

// Appends pickle opcodes. Only what the tests need.
class PickleBuilder {
 public:
  PickleBuilder& Proto(int v = 2) { return Op(0x80).Byte(v); }
  PickleBuilder& Op(uint8_t op) { return Byte(op); }
  PickleBuilder& Byte(int v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  PickleBuilder& Raw(const std::string& r) {
    s_ += r;
    return *this;
  }
  PickleBuilder& Global(const std::string& module, const std::string& name) {
    return Op('c').Raw(module + "\n" + name + "\n");
  }
  PickleBuilder& Str(const std::string& v) {
    Op('X');
    Put32(&s_, static_cast<uint32_t>(v.size()));
    return Raw(v);
  }
  PickleBuilder& Int(int64_t v) {
    if (v >= 0 && v < 256) return Op('K').Byte(static_cast<int>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) {
      Op('J');
      Put32(&s_, static_cast<uint32_t>(v));
      return *this;
    }
    Op(0x8a).Byte(8);
    Put64(&s_, static_cast<uint64_t>(v));
    return *this;
  }
  PickleBuilder& Mark() { return Op('('); }
  PickleBuilder& Tuple() { return Op('t'); }
  PickleBuilder& IntTuple(const std::vector<int64_t>& v) {
    Mark();
    for (int64_t x : v) Int(x);
    return Tuple();
  }
  PickleBuilder& EmptyOrderedDict() { return Global("collections", "OrderedDict").Op(')').Op('R'); }
  // torch._utils._rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), ...)
  PickleBuilder& Tensor(const std::string& storage_class, const std::string& key, int64_t numel,
                        int64_t offset, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& stride) {
    Global("torch._utils", "_rebuild_tensor_v2").Mark();
    Mark().Str("storage").Global("torch", storage_class).Str(key).Str("cpu").Int(numel).Tuple();
    Op('Q').Int(offset).IntTuple(size).IntTuple(stride).Op(0x89).EmptyOrderedDict().Tuple();
    return Op('R');
  }
  PickleBuilder& Stop() { return Op('.'); }
  const std::string& str() const { return s_; }
  std::vector<uint8_t> bytes() const { return std::vector<uint8_t>(s_.begin(), s_.end()); }

 private:
  std::string s_;
};

// A fresh directory under the test temp dir.
inline std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/neobert_reader_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char* d = ::mkdtemp(buf.data());
  EXPECT_NE(d, nullptr);
  return d ? std::string(d) : std::string();
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline bool HaveTorchPython() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

// Runs `script` with /usr/bin/python3, argv[1] = `dir`. True on exit code 0.
inline bool RunPython(const std::string& dir, const std::string& script) {
  const std::string path = dir + "/gen.py";
  WriteFile(path, script);
  const std::string cmd = "/usr/bin/python3 " + path + " " + dir + " > " + dir + "/gen.log 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) ADD_FAILURE() << "python failed:\n" << ReadFile(dir + "/gen.log");
  return rc == 0;
}

}  // namespace neobert::format::testutil
