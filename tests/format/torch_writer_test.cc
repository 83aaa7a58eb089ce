// torch .bin writer: files loaded by the real torch.load (weights_only and
// full), the pickle compared byte for byte with torch.save's, and failures.
#include "core/format/torch_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/format/pickle_writer.h"
#include "core/format/zip_writer.h"
#include "nlohmann/json.hpp"
#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::AsBytes;
using testing::MemTensor;
using testing::ScratchDir;
using testing::Sha256Hex;

std::vector<TensorEntry> Assortment() {
  std::vector<TensorEntry> v;
  v.push_back(MemTensor("model.encoder.weight", DType::kFloat32, {2, 3},
                        AsBytes(std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f})));
  v.push_back(MemTensor("bf16", DType::kBFloat16, {2, 2},
                        AsBytes(std::vector<uint16_t>{0x3F80, 0xC000, 0x3F00, 0x4040})));
  v.push_back(MemTensor("f16", DType::kFloat16, {3},
                        AsBytes(std::vector<uint16_t>{0x3C00, 0xBE00, 0x3400})));
  v.push_back(MemTensor("f64", DType::kFloat64, {2}, AsBytes(std::vector<double>{1e300, -2.5})));
  v.push_back(MemTensor("i64", DType::kInt64, {2},
                        AsBytes(std::vector<int64_t>{7, -9000000000})));
  v.push_back(MemTensor("i16", DType::kInt16, {2}, AsBytes(std::vector<int16_t>{-3, 300})));
  v.push_back(MemTensor("i8", DType::kInt8, {2}, AsBytes(std::vector<int8_t>{-3, 100})));
  v.push_back(MemTensor("u8", DType::kUInt8, {2}, {200, 1}));
  v.push_back(MemTensor("mask", DType::kBool, {5}, {1, 0, 1, 1, 0}));
  v.push_back(MemTensor("scalar", DType::kFloat32, {}, AsBytes(std::vector<float>{3.25f})));
  v.push_back(MemTensor("empty", DType::kFloat32, {0, 4}, {}));
  TensorEntry tr = MemTensor("transposed", DType::kInt32, {3, 2},
                             AsBytes(std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  tr.shape = {2, 3};
  tr.strides = {1, 2};
  v.push_back(tr);
  // A view at an element offset into a shared storage (as a tied weight).
  TensorEntry tail = v[0];
  tail.name = "decoder.weight";
  tail.shape = {3};
  tail.strides = {1};
  tail.storage_offset = 3;
  v.push_back(tail);
  return v;
}

constexpr const char* kPythonTorchCheck = R"PY(
import hashlib, json, struct, sys, zipfile
import torch
path, prefix = sys.argv[1], sys.argv[2]
sd = torch.load(path, weights_only=True)
full = torch.load(path)
out = {"type": type(sd).__name__, "full_type": type(full).__name__, "keys": list(sd.keys()),
       "tensors": {}}
for k, t in sd.items():
    c = t.contiguous()
    if c.dtype == torch.bfloat16:
        c = c.view(torch.int16)
    f = full[k]
    out["tensors"][k] = {
        "dtype": str(t.dtype)[len("torch."):],
        "shape": list(t.shape),
        "contiguous": t.is_contiguous(),
        "requires_grad": t.requires_grad,
        "sha256": hashlib.sha256(c.numpy().tobytes()).hexdigest(),
        "full_equal": f.dtype == t.dtype and torch.equal(f, t),
    }
with open(path, "rb") as raw, zipfile.ZipFile(path) as z:
    out["testzip"] = z.testzip()
    out["names"] = z.namelist()
    out["version"] = z.read(prefix + "/version").decode()
    out["byteorder"] = z.read(prefix + "/byteorder").decode()
    out["serialization_id"] = z.read(prefix + "/.data/serialization_id").decode()
    out["misaligned"] = []
    for info in z.infolist():
        raw.seek(info.header_offset + 26)
        n, e = struct.unpack("<HH", raw.read(4))
        if (info.header_offset + 30 + n + e) % 64:
            out["misaligned"].append(info.filename)
print(json.dumps(out))
)PY";

nlohmann::json LoadWithTorch(const ScratchDir& dir, const std::string& path,
                             const std::string& prefix) {
  auto r = testing::RunPython(dir.path(), kPythonTorchCheck, {path, prefix});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(testing::LastLine(r.output));
}

TEST(TorchWriterTest, TorchLoadsEveryTensor) {
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  const auto tensors = Assortment();
  const std::string path = dir.file("pytorch_model.bin");
  std::vector<uint64_t> progress;
  TorchWriteOptions opts;
  opts.progress = [&](uint64_t n) {
    progress.push_back(n);
    return absl::OkStatus();
  };
  ASSERT_TRUE(WriteTorchBin(tensors, path, opts).ok());
  ASSERT_EQ(progress.size(), tensors.size());
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.nbytes();
  EXPECT_EQ(progress.back(), total);

  auto j = LoadWithTorch(dir, path, "archive");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["type"], "OrderedDict");  // the default, as torch.save(state_dict()) writes
  EXPECT_EQ(j["full_type"], "OrderedDict");
  EXPECT_TRUE(j["testzip"].is_null());
  EXPECT_TRUE(j["misaligned"].empty()) << j["misaligned"];
  EXPECT_EQ(j["version"], "3\n");
  EXPECT_EQ(j["byteorder"], "little");
  const std::string id = j["serialization_id"];
  EXPECT_EQ(id.size(), 20u);
  EXPECT_EQ(id.find_first_not_of("0123456789"), std::string::npos) << id;
  std::vector<std::string> names = j["names"];
  ASSERT_EQ(names.size(), tensors.size() + 4);
  EXPECT_EQ(names.front(), "archive/data.pkl");  // torch takes the folder from entry 0
  EXPECT_EQ(names[2], "archive/data/0");
  ASSERT_EQ(j["keys"].size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry& t = tensors[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(j["keys"][i], t.name);  // insertion order kept
    const auto& got = j["tensors"][t.name];
    EXPECT_EQ(got["dtype"], std::string(TorchName(t.dtype)));
    EXPECT_EQ(got["shape"].get<std::vector<int64_t>>(), t.shape);
    EXPECT_TRUE(got["contiguous"].get<bool>());
    EXPECT_FALSE(got["requires_grad"].get<bool>());
    EXPECT_TRUE(got["full_equal"].get<bool>());
    auto bytes = ReadContiguous(t);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(got["sha256"], Sha256Hex(*bytes));
  }
}

TEST(TorchWriterTest, PlainDictOptionAndCustomArchiveName) {
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  auto tensors = Assortment();
  const std::string path = dir.file("state_dict.pt");
  TorchWriteOptions opts;
  opts.ordered_dict = false;  // the reference exporter's plain dict (§8.2)
  opts.archive_name = "step_100";
  opts.sync = false;
  ASSERT_TRUE(WriteTorchBin(tensors, path, opts).ok());
  auto j = LoadWithTorch(dir, path, "step_100");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["type"], "dict");
  EXPECT_EQ(j["full_type"], "dict");
  EXPECT_EQ(j["keys"].size(), tensors.size());
  EXPECT_TRUE(j["misaligned"].empty());
}

// Builds, in Python, the same state dict our writer is handed and saves it
// with torch.save; returns the data.pkl bytes of a dict and an OrderedDict.
constexpr const char* kPythonTorchSave = R"PY(
import collections, sys, zipfile
import torch
items = [
    ("a", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
    ("huge_empty", torch.zeros(0, 3000000000)),
    ("bf16_scalar", torch.tensor(1.5, dtype=torch.bfloat16)),
    ("mid", torch.zeros(0, 70000, dtype=torch.int8)),
    ("rank4", torch.zeros(1, 1, 2, 300, dtype=torch.bool)),
]
items += [("t%d" % i, torch.zeros(1, dtype=torch.float16)) for i in range(1000)]
for kind, obj in (("dict", dict(items)), ("odict", collections.OrderedDict(items))):
    torch.save(obj, sys.argv[1] + "/" + kind + ".pt")
    with zipfile.ZipFile(sys.argv[1] + "/" + kind + ".pt") as z:
        with open(sys.argv[1] + "/" + kind + ".pkl", "wb") as f:
            f.write(z.read(kind + "/data.pkl"))
print("ok")
)PY";

std::vector<PickledTensor> SameAsPythonItems() {
  std::vector<PickledTensor> v;
  auto add = [&](std::string name, DType dtype, std::vector<int64_t> shape) {
    PickledTensor p;
    p.name = std::move(name);
    p.dtype = dtype;
    p.storage_key = std::to_string(v.size());
    p.storage_numel = 1;
    for (int64_t d : shape) p.storage_numel *= static_cast<uint64_t>(d);
    p.strides = ContiguousStrides(shape);
    p.shape = std::move(shape);
    v.push_back(std::move(p));
  };
  add("a", DType::kFloat32, {2, 3});
  add("huge_empty", DType::kFloat32, {0, 3000000000});
  add("bf16_scalar", DType::kBFloat16, {});
  add("mid", DType::kInt8, {0, 70000});
  add("rank4", DType::kBool, {1, 1, 2, 300});
  for (int i = 0; i < 1000; ++i) add("t" + std::to_string(i), DType::kFloat16, {1});
  return v;
}

TEST(TorchWriterTest, PickleMatchesTorchSaveByteForByte) {
  // Covers BININT1/2, BININT, LONG1 (3e9), TUPLE1..3 and MARK TUPLE, BINGET
  // and LONG_BINPUT/LONG_BINGET (> 256 memo slots) and two SETITEMS batches.
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  auto r = testing::RunPython(dir.path(), kPythonTorchSave, {dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto items = SameAsPythonItems();
  for (bool ordered : {false, true}) {
    SCOPED_TRACE(ordered ? "OrderedDict" : "dict");
    PickleOptions opts;
    opts.ordered_dict = ordered;
    auto ours = PickleTensorDict(items, opts);
    ASSERT_TRUE(ours.ok()) << ours.status();
    const auto theirs = testing::ReadFileBytes(dir.file(ordered ? "odict.pkl" : "dict.pkl"));
    ASSERT_FALSE(theirs.empty());
    EXPECT_EQ(*ours, std::string(theirs.begin(), theirs.end()));
  }
}

TEST(TorchWriterTest, TorchReadsZip64Records) {
  // Checkpoints over 4 GiB need ZIP64 records; torch's own zip reader must
  // accept ours, so build a small archive with them forced.
  if (!testing::HaveSystemPython()) GTEST_SKIP() << "no /usr/bin/python3";
  ScratchDir dir;
  const std::string path = dir.file("zip64.pt");
  const auto tensors = Assortment();
  std::vector<PickledTensor> pickled;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry& t = tensors[i];
    pickled.push_back({t.name, t.dtype, std::to_string(i), t.numel(), 0, t.shape,
                       ContiguousStrides(t.shape)});
  }
  auto pickle = PickleTensorDict(pickled);
  ASSERT_TRUE(pickle.ok());
  ZipWriterOptions zopts;
  zopts.force_zip64 = true;
  zopts.sync = false;
  auto zip = ZipWriter::Create(path, zopts);
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE((*zip)->AddEntry("archive/data.pkl", *pickle).ok());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto bytes = ReadContiguous(tensors[i]);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE((*zip)->AddEntry("archive/data/" + std::to_string(i), *bytes).ok());
  }
  ASSERT_TRUE((*zip)->AddEntry("archive/version", "3\n").ok());
  ASSERT_TRUE((*zip)->AddEntry("archive/byteorder", "little").ok());
  ASSERT_TRUE((*zip)->AddEntry("archive/.data/serialization_id", "1").ok());
  ASSERT_TRUE((*zip)->Finish().ok());
  auto j = LoadWithTorch(dir, path, "archive");
  ASSERT_FALSE(j.is_null());
  ASSERT_EQ(j["keys"].size(), tensors.size());
  for (const TensorEntry& t : tensors) {
    auto bytes = ReadContiguous(t);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(j["tensors"][t.name]["sha256"], Sha256Hex(*bytes)) << t.name;
  }
}

// Claims plenty of bytes but every read fails, like a disk error.
class FailingSource final : public ByteSource {
 public:
  uint64_t size() const override { return 1 << 20; }
  const std::string& name() const override { return name_; }
  absl::Status ReadAt(uint64_t, absl::Span<uint8_t>) const override {
    return absl::DataLossError("injected read failure");
  }

 private:
  std::string name_ = "failing";
};

TEST(TorchWriterTest, FailuresLeaveNoFile) {
  ScratchDir dir;
  const std::string path = dir.file("x.bin");
  auto tensors = Assortment();

  TorchWriteOptions cancel;
  cancel.progress = [](uint64_t n) {
    return n > 30 ? absl::CancelledError("cancelled by test") : absl::OkStatus();
  };
  EXPECT_EQ(WriteTorchBin(tensors, path, cancel).code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(path));

  auto dup = tensors;
  dup.push_back(tensors[1]);
  auto s = WriteTorchBin(dup, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'bf16': duplicate name"), absl::string_view::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(path));

  TorchWriteOptions bad_archive;
  bad_archive.archive_name = "a/b";
  EXPECT_EQ(WriteTorchBin(tensors, path, bad_archive).code(), absl::StatusCode::kInvalidArgument);
  bad_archive.archive_name = "";
  EXPECT_EQ(WriteTorchBin(tensors, path, bad_archive).code(), absl::StatusCode::kInvalidArgument);

  auto oob = tensors;
  oob[0].storage_offset = 1;  // 6 elements from offset 1 overrun 6-element storage
  s = WriteTorchBin(oob, path);
  EXPECT_NE(s.message().find("model.encoder.weight"), absl::string_view::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(path));

  // A source that fails mid-stream (after earlier tensors were written).
  auto failing = tensors;
  failing[5].storage.source = std::make_shared<FailingSource>();
  s = WriteTorchBin(failing, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("writing tensor 'i16'"), absl::string_view::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TorchWriterTest, PicklerRejectsBadNames) {
  PickledTensor p;
  p.name = "bad\xc0\x80";  // overlong NUL
  p.storage_key = "0";
  EXPECT_FALSE(PickleTensorDict({p}).ok());
  p.name = "ok\xe2\x82\xac";  // euro sign
  EXPECT_TRUE(PickleTensorDict({p}).ok());
  p.shape = {2};
  EXPECT_FALSE(PickleTensorDict({p}).ok());  // stride rank differs
}

}  // namespace
}  // namespace neobert::format
