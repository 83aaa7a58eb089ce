// safetensors writer/reader: round trips, an independent Python reader, and
// enumerated hostile files.
#include "core/format/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "nlohmann/json.hpp"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::AsBytes;
using testing::MemTensor;
using testing::ScratchDir;
using testing::Sha256Hex;

struct Expected {
  TensorEntry tensor;
  std::vector<double> values;  // logical values in row-major order
};

// One tensor of every kind the writers must handle.
std::vector<Expected> Assortment() {
  std::vector<Expected> v;
  std::vector<float> f32 = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
  v.push_back({MemTensor("w.f32", DType::kFloat32, {2, 3}, AsBytes(f32)),
               {-1.0, -0.5, 0.0, 0.5, 1.0, 1.5}});
  std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x3F00, 0x4040};  // 1, -2, 0.5, 3
  v.push_back({MemTensor("w.bf16", DType::kBFloat16, {4}, AsBytes(bf16)), {1, -2, 0.5, 3}});
  std::vector<uint16_t> f16 = {0x3C00, 0xBE00, 0x3400};  // 1, -1.5, 0.25
  v.push_back({MemTensor("w.f16", DType::kFloat16, {3}, AsBytes(f16)), {1, -1.5, 0.25}});
  std::vector<int64_t> i64 = {7, -9000000000};
  v.push_back({MemTensor("ids", DType::kInt64, {2}, AsBytes(i64)), {7, -9000000000.0}});
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0};
  v.push_back({MemTensor("mask", DType::kBool, {5}, mask), {1, 0, 1, 1, 0}});
  std::vector<float> scalar = {3.25f};
  v.push_back({MemTensor("scalar", DType::kFloat32, {}, AsBytes(scalar)), {3.25}});
  v.push_back({MemTensor("empty", DType::kFloat32, {0, 4}, {}), {}});
  // A [3, 2] int32 storage seen transposed as [2, 3]: element (i, j) is
  // storage[i + 2 j].
  std::vector<int32_t> base = {0, 1, 2, 3, 4, 5};
  TensorEntry tr = MemTensor("transposed", DType::kInt32, {3, 2}, AsBytes(base));
  tr.shape = {2, 3};
  tr.strides = {1, 2};
  v.push_back({tr, {0, 2, 4, 1, 3, 5}});
  return v;
}

std::vector<TensorEntry> Tensors(const std::vector<Expected>& v) {
  std::vector<TensorEntry> out;
  for (const auto& e : v) out.push_back(e.tensor);
  return out;
}

TEST(SafetensorsTest, RoundTripKeepsBytesDtypesAndShapes) {
  ScratchDir dir;
  const auto expected = Assortment();
  const std::string path = dir.file("model.safetensors");
  ASSERT_TRUE(WriteSafetensors(Tensors(expected), path).ok());

  auto set = ReadSafetensors(neobert::base::FsRoot(), path);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->format, "safetensors");
  EXPECT_EQ(set->path, path);
  EXPECT_EQ(set->metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(set->tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorEntry& got = set->tensors[i];
    const TensorEntry& want = expected[i].tensor;
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);  // data follows the given order
    EXPECT_EQ(got.dtype, want.dtype);
    EXPECT_EQ(got.shape, want.shape);
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_EQ(got.storage.key, want.name);
    auto a = ReadContiguous(got);
    auto b = ReadContiguous(want);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
  }
  // The transposed view was gathered, not copied raw.
  auto tr = ReadContiguous(set->tensors.back());
  ASSERT_TRUE(tr.ok());
  std::vector<int32_t> ints(6);
  std::memcpy(ints.data(), tr->data(), 24);
  EXPECT_EQ(ints, (std::vector<int32_t>{0, 2, 4, 1, 3, 5}));
}

TEST(SafetensorsTest, HeaderLayoutByHand) {
  ScratchDir dir;
  const auto expected = Assortment();
  const std::string path = dir.file("h.safetensors");
  SafetensorsWriteOptions opts;
  opts.metadata = {{"format", "pt"}, {"source", "unit \"test\""}};
  ASSERT_TRUE(WriteSafetensors(Tensors(expected), path, opts).ok());
  const auto bytes = testing::ReadFileBytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  EXPECT_EQ(n % 8, 0u);
  ASSERT_LE(8 + n, bytes.size());
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header.rfind("{\"__metadata__\":", 0), 0u) << header;
  const size_t last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(n - last - 1, 8u);  // at most 7 padding spaces
  auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["source"], "unit \"test\"");
  uint64_t offset = 0;
  for (const auto& e : expected) {
    const auto& h = j[e.tensor.name];
    EXPECT_EQ(h["dtype"], std::string(SafetensorsName(e.tensor.dtype)));
    EXPECT_EQ(h["shape"].get<std::vector<int64_t>>(), e.tensor.shape);
    EXPECT_EQ(h["data_offsets"][0].get<uint64_t>(), offset);
    offset += e.tensor.nbytes();
    EXPECT_EQ(h["data_offsets"][1].get<uint64_t>(), offset);
  }
  EXPECT_EQ(8 + n + offset, bytes.size());
}

constexpr const char* kPythonReader = R"PY(
import hashlib, json, struct, sys
import numpy as np
path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
         "BOOL": np.bool_, "BF16": np.uint16}
out = {"metadata": header.pop("__metadata__", None), "tensors": {}}
order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
out["order"] = order
for name in order:
    h = header[name]
    b, e = h["data_offsets"]
    raw = body[b:e]
    arr = np.frombuffer(raw, dtype=kinds[h["dtype"]]).reshape(h["shape"])
    if h["dtype"] == "BF16":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    out["tensors"][name] = {"dtype": h["dtype"], "shape": list(arr.shape),
                            "sha256": hashlib.sha256(raw).hexdigest(),
                            "values": [float(x) for x in arr.reshape(-1)]}
print(json.dumps(out))
)PY";

TEST(SafetensorsTest, IndependentPythonReaderAgrees) {
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  const auto expected = Assortment();
  const std::string path = dir.file("py.safetensors");
  ASSERT_TRUE(WriteSafetensors(Tensors(expected), path).ok());
  auto r = testing::RunPython(dir.path(), kPythonReader, {path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(testing::LastLine(r.output));
  EXPECT_EQ(j["metadata"], nlohmann::json({{"format", "pt"}}));
  ASSERT_EQ(j["order"].size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorEntry& t = expected[i].tensor;
    SCOPED_TRACE(t.name);
    EXPECT_EQ(j["order"][i], t.name);
    const auto& got = j["tensors"][t.name];
    EXPECT_EQ(got["dtype"], std::string(SafetensorsName(t.dtype)));
    EXPECT_EQ(got["shape"].get<std::vector<int64_t>>(), t.shape);
    auto bytes = ReadContiguous(t);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(got["sha256"], Sha256Hex(*bytes));
    EXPECT_EQ(got["values"].get<std::vector<double>>(), expected[i].values);
  }
}

TEST(SafetensorsTest, FileSourcesAreCopiedByteForByte) {
  // Re-writing tensors read from a file takes the copy_file_range path; with
  // the same order and metadata the result is the identical file.
  ScratchDir dir;
  const std::string a = dir.file("a.safetensors"), b = dir.file("b.safetensors");
  ASSERT_TRUE(WriteSafetensors(Tensors(Assortment()), a).ok());
  auto set = ReadSafetensors(neobert::base::FsRoot(), a);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_GE(set->tensors.front().storage.source->fd(), 0);
  std::vector<uint64_t> progress;
  SafetensorsWriteOptions opts;
  opts.sync = false;
  opts.progress = [&](uint64_t n) {
    progress.push_back(n);
    return absl::OkStatus();
  };
  ASSERT_TRUE(WriteSafetensors(set->tensors, b, opts).ok());
  EXPECT_EQ(testing::ReadFileBytes(a), testing::ReadFileBytes(b));
  ASSERT_EQ(progress.size(), set->tensors.size());
  uint64_t total = 0;
  for (size_t i = 0; i < progress.size(); ++i) {
    total += set->tensors[i].nbytes();
    EXPECT_EQ(progress[i], total);
  }
}

TEST(SafetensorsTest, ProgressErrorAbortsAndRemovesFile) {
  ScratchDir dir;
  const std::string path = dir.file("cancelled.safetensors");
  SafetensorsWriteOptions opts;
  int calls = 0;
  opts.progress = [&](uint64_t) {
    return ++calls == 2 ? absl::CancelledError("stop") : absl::OkStatus();
  };
  auto s = WriteSafetensors(Tensors(Assortment()), path, opts);
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsTest, WriterRejectsBadInput) {
  ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  auto t = Tensors(Assortment());
  auto dup = t;
  dup.push_back(t[0]);
  auto s = WriteSafetensors(dup, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("duplicate tensor name 'w.f32'"), absl::string_view::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(path));

  auto reserved = t;
  reserved[1].name = "__metadata__";
  EXPECT_FALSE(WriteSafetensors(reserved, path).ok());

  auto out_of_bounds = t;
  out_of_bounds[0].shape = {3, 3};  // needs 36 bytes of a 24-byte storage
  out_of_bounds[0].strides = {3, 1};
  s = WriteSafetensors(out_of_bounds, path);
  EXPECT_NE(s.message().find("w.f32"), absl::string_view::npos) << s;

  auto bad_utf8 = t;
  bad_utf8[0].name = "\xff\xfe";
  EXPECT_EQ(WriteSafetensors(bad_utf8, path).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsTest, EmptyTensorListAndMetadata) {
  ScratchDir dir;
  const std::string path = dir.file("empty.safetensors");
  SafetensorsWriteOptions opts;
  opts.metadata.clear();
  ASSERT_TRUE(WriteSafetensors({}, path, opts).ok());
  auto set = ReadSafetensors(neobert::base::FsRoot(), path);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->tensors.empty());
  EXPECT_TRUE(set->metadata.empty());
}

// --- hostile files -------------------------------------------------------

std::string WithHeader(const std::string& json, size_t data_bytes, int64_t length = -1) {
  const uint64_t n = length < 0 ? json.size() : static_cast<uint64_t>(length);
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(n >> (8 * i)));
  return s + json + std::string(data_bytes, '\x01');
}

struct Hostile {
  const char* what;
  std::string bytes;
  const char* message;  // a substring the error must contain
};

std::vector<Hostile> HostileFiles() {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  return {
      {"too short", std::string("\x08\x00\x00", 3), "too short"},
      {"header length past file", WithHeader("{}", 0, 4096), "past the end of the file"},
      {"header length over cap", WithHeader("{}", 0, (100 << 20) + 1), "exceeds the limit"},
      {"header length 0", WithHeader("", 4), "header length is 0"},
      {"invalid json", WithHeader("{\"a\":", 0), "not valid JSON"},
      {"trailing garbage", WithHeader("{} x", 0), "not valid JSON"},
      {"not an object", WithHeader("[1,2]", 0), "not a JSON object"},
      {"entry not an object", WithHeader(R"({"a":3})", 0), "entry 'a' is a number"},
      {"unknown dtype", WithHeader(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1),
       "unsupported dtype 'F8_E4M3'"},
      {"dtype not a string", WithHeader(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4),
       "field 'dtype' of tensor 'a'"},
      {"negative shape", WithHeader(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       "negative value -1 in 'shape' of tensor 'a'"},
      {"float shape", WithHeader(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "non-integer value in 'shape'"},
      {"shape overflow",
       WithHeader(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
                  4),
       "shape product overflows"},
      {"too many dims",
       WithHeader(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],)"
                  R"("data_offsets":[0,4]}})",
                  4),
       "more than 16 dimensions"},
      {"end before begin", WithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
       "end 4 < begin 8"},
      {"end past data", WithHeader(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
       "past the data section"},
      {"huge offset",
       WithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})", 4),
       "too large"},
      {"three offsets",
       WithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 4),
       "more than 2 values"},
      {"size mismatch", WithHeader(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "cover 8 bytes but dtype and shape need 12"},
      {"overlap",
       WithHeader("{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "overlaps tensor 'a'"},
      {"gap", WithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "gap of 4 bytes before tensor 'a'"},
      {"trailing bytes", WithHeader("{" + ok_entry + "}", 12), "4 trailing bytes"},
      {"metadata non-string",
       WithHeader("{" + ok_entry + R"(,"__metadata__":{"format":1}})", 8),
       "__metadata__ value for 'format' is a number"},
      {"metadata not object", WithHeader("{" + ok_entry + R"(,"__metadata__":"pt"})", 8),
       "entry '__metadata__' is a string"},
      {"duplicate tensor", WithHeader("{" + ok_entry + "," + ok_entry + "}", 8),
       "duplicate key 'a'"},
      {"duplicate field",
       WithHeader(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate key 'dtype' in tensor 'a'"},
      {"duplicate metadata key",
       WithHeader("{" + ok_entry + R"(,"__metadata__":{"k":"1","k":"2"}})", 8),
       "duplicate key 'k' in __metadata__"},
      {"missing offsets", WithHeader(R"({"a":{"dtype":"F32","shape":[2]}})", 8),
       "missing 'data_offsets'"},
      {"unknown field",
       WithHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":[[[]]]}})", 8),
       "unknown field 'x'"},
      {"nested array in shape",
       WithHeader(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", 8),
       "contains an array"},
      {"invalid utf-8 key", WithHeader("{\"\xff\":{}}", 0), "not valid JSON"},
  };
}

TEST(SafetensorsTest, HostileFilesAreRejectedWithAReason) {
  for (const Hostile& h : HostileFiles()) {
    SCOPED_TRACE(h.what);
    std::vector<uint8_t> bytes(h.bytes.begin(), h.bytes.end());
    auto src = std::make_shared<MemorySource>(std::move(bytes), "hostile.safetensors");
    auto set = ReadSafetensors(src);
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << set.status();
    EXPECT_NE(set.status().message().find(h.message), absl::string_view::npos) << set.status();
    EXPECT_EQ(set.status().message().rfind("hostile.safetensors: ", 0), 0u) << set.status();
  }
}

TEST(SafetensorsTest, HostileFileOnDiskNamesThePath) {
  ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  testing::WriteFileBytes(path, WithHeader("[]", 0));
  auto set = ReadSafetensors(neobert::base::FsRoot(), path);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find(path), absl::string_view::npos) << set.status();
  EXPECT_EQ(ReadSafetensors(neobert::base::FsRoot(), dir.file("missing.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, EmptyTensorsMayShareAnOffset) {
  // Zero-byte tensors occupy no range, so several may sit at one offset.
  const std::string json =
      R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("y":{"dtype":"I64","shape":[0,3],"data_offsets":[4,4]}})";
  const std::string s = WithHeader(json, 4);
  auto set = ReadSafetensors(
      std::make_shared<MemorySource>(std::vector<uint8_t>(s.begin(), s.end()), "ok"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->tensors.size(), 3u);
  EXPECT_EQ(set->tensors[0].name, "a");
  EXPECT_EQ(set->tensors[1].name, "y");
  EXPECT_EQ(set->tensors[2].name, "z");
}

}  // namespace
}  // namespace neobert::format
