#include "core/format/torch_reader.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/format/reader_test_util.h"

namespace neobert::format {
namespace {

using ::testing::HasSubstr;
using testutil::BuildZip;
using testutil::Mem;
using testutil::PickleBuilder;
using testutil::ZipSpec;

// Real torch.save output (python3-torch), plus the expected descriptors and
// bytes that torch itself reports for each tensor.
constexpr char kGenerate[] = R"PY(
import sys, json, collections, os, pickle, zipfile, torch
d = sys.argv[1]
torch.manual_seed(0)
sd = collections.OrderedDict()
sd['w32'] = torch.randn(3, 4)
sd['bf16'] = torch.randn(5).to(torch.bfloat16)
sd['f16'] = torch.randn(2, 3).half()
sd['f64'] = torch.randn(2).double()
sd['i64'] = torch.arange(7)
sd['i32'] = torch.arange(-3, 3, dtype=torch.int32)
sd['i16'] = torch.tensor([-5, 7], dtype=torch.int16)
sd['i8'] = torch.tensor([-1, 2, 3], dtype=torch.int8)
sd['u8'] = torch.tensor([200, 1], dtype=torch.uint8)
sd['flags'] = torch.tensor([True, False, True])
emb = torch.randn(4, 3)
sd['model.encoder.weight'] = emb
sd['decoder.weight'] = emb                      # tied: one storage
base = torch.randn(3, 5)
sd['base'] = base
sd['base_t'] = base.t()                         # transposed, non-contiguous
big = torch.arange(20, dtype=torch.float32)
sd['window'] = big[5:12]                        # storage_offset 5
sd['strided'] = big[1::3]                       # stride 3, offset 1
sd['param'] = torch.nn.Parameter(torch.randn(2, 2))
sd['scalar'] = torch.tensor(3.5)
sd['empty'] = torch.zeros(0, 3)
sd._metadata = collections.OrderedDict([('', {'version': 1}), ('encoder', {'version': 2})])
torch.save(sd, d + '/state_dict.pt')
torch.save(sd, d + '/p4.pt', pickle_protocol=4)
torch.save({'state_dict': sd, 'epoch': 3, 'lr': 0.5}, d + '/nested.pt')
torch.save({'step': 9, 'model': dict(sd)}, d + '/model_nested.pt')
torch.save(dict(sd), d + '/plain.bin')
torch.save(sd, d + '/legacy.pt', _use_new_zipfile_serialization=False)

expected = []
for k, t in sd.items():
    t = t.detach()
    expected.append(dict(
        name=k, dtype=str(t.dtype).replace('torch.', ''), shape=list(t.shape),
        stride=list(t.stride()), offset=t.storage_offset(),
        storage=t.storage().data_ptr(), storage_numel=t.storage().size(),
        hex=t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes().hex()))
json.dump(expected, open(d + '/expected.json', 'w'))

# Damaged copies of state_dict.pt (archive folder 'state_dict').
def rewrite(dst, drop=(), replace={}, add={}, deflate=()):
    with zipfile.ZipFile(d + '/state_dict.pt') as src, zipfile.ZipFile(d + '/' + dst, 'w') as out:
        for info in src.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, src.read(info.filename))
            method = zipfile.ZIP_DEFLATED if info.filename in deflate else zipfile.ZIP_STORED
            out.writestr(info.filename, data, compress_type=method)
        for name, data in add.items():
            out.writestr(name, data, compress_type=zipfile.ZIP_STORED)

class Evil:
    def __reduce__(self):
        return (os.system, ('true',))

rewrite('missing_record.pt', drop=('state_dict/data/0',))
rewrite('deflated.pt', deflate=('state_dict/data/0',))
rewrite('short_record.pt', replace={'state_dict/data/0': b'\0' * 8})
rewrite('two_pkl.pt', add={'other/data.pkl': b'\x80\x02}.'})
rewrite('big_endian.pt', add={'state_dict/byteorder': b'big'})
rewrite('little.pt', add={'state_dict/byteorder': b'little'})
rewrite('no_version.pt', drop=('state_dict/version',))
rewrite('bad_version.pt', replace={'state_dict/version': b'abcd\n'})
rewrite('evil.pt', replace={'state_dict/data.pkl': pickle.dumps({'w': Evil()}, protocol=2)})
rewrite('evil4.pt', replace={'state_dict/data.pkl': pickle.dumps({'w': Evil()}, protocol=4)})
raw = open(d + '/state_dict.pt', 'rb').read()
open(d + '/truncated.pt', 'wb').write(raw[:len(raw) // 2])
)PY";

class TorchReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testutil::HaveTorchPython()) return;
    dir_ = new std::string(testutil::MakeTempDir());
    if (!testutil::RunPython(*dir_, kGenerate)) return;
    expected_ = new nlohmann::json(
        nlohmann::json::parse(testutil::ReadFile(*dir_ + "/expected.json")));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete dir_;
    expected_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (expected_ == nullptr) GTEST_SKIP() << "/usr/bin/python3 with torch is not available";
  }
  static std::string Path(const std::string& f) { return *dir_ + "/" + f; }

  // Checks every tensor against what torch reported.
  static void ExpectMatchesTorch(const TensorSet& set) {
    const nlohmann::json& want = *expected_;
    ASSERT_EQ(set.tensors.size(), want.size());
    std::map<uint64_t, const StorageRef*> by_ptr;  // torch storage ptr -> our storage
    for (size_t i = 0; i < want.size(); ++i) {
      const TensorEntry& t = set.tensors[i];
      const auto& w = want[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(t.name, w["name"].get<std::string>());
      EXPECT_EQ(TorchName(t.dtype), w["dtype"].get<std::string>());
      EXPECT_EQ(t.shape, w["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(t.strides, w["stride"].get<std::vector<int64_t>>());
      EXPECT_EQ(t.storage_offset, w["offset"].get<int64_t>());
      EXPECT_EQ(t.storage.nbytes, w["storage_numel"].get<uint64_t>() * ElementSize(t.dtype));
      auto bytes = ReadContiguous(t);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                    reinterpret_cast<const char*>(bytes->data()), bytes->size())),
                w["hex"].get<std::string>());
      // Tensors share a storage exactly when torch says they do.
      auto [it, fresh] = by_ptr.emplace(w["storage"].get<uint64_t>(), &t.storage);
      if (!fresh) {
        EXPECT_EQ(it->second->key, t.storage.key);
        EXPECT_EQ(it->second->offset, t.storage.offset);
        EXPECT_EQ(it->second->source, t.storage.source);
      }
    }
    std::set<std::string> keys;
    for (const auto& t : set.tensors) keys.insert(t.storage.key);
    EXPECT_EQ(keys.size(), by_ptr.size());
  }

  static std::string* dir_;
  static nlohmann::json* expected_;
};
std::string* TorchReaderTest::dir_ = nullptr;
nlohmann::json* TorchReaderTest::expected_ = nullptr;

const TensorEntry* FindTensor(const TensorSet& s, const std::string& name) {
  for (const auto& t : s.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST_F(TorchReaderTest, ReadsRealStateDict) {
  auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), Path("state_dict.pt"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->format, "torch-zip");
  EXPECT_EQ(set->path, Path("state_dict.pt"));
  EXPECT_EQ(set->metadata.at("archive"), "state_dict");
  EXPECT_EQ(set->metadata.at("version"), "3");
  EXPECT_EQ(set->metadata.at("byteorder"), "little");
  EXPECT_EQ(set->metadata.count("nested_under"), 0u);
  ExpectMatchesTorch(*set);

  const TensorEntry* enc = FindTensor(*set, "model.encoder.weight");
  const TensorEntry* dec = FindTensor(*set, "decoder.weight");
  ASSERT_TRUE(enc && dec);
  EXPECT_EQ(enc->storage.key, dec->storage.key);
  EXPECT_EQ(enc->storage.offset, dec->storage.offset);
  const TensorEntry* bt = FindTensor(*set, "base_t");
  ASSERT_NE(bt, nullptr);
  EXPECT_FALSE(bt->is_contiguous());
  EXPECT_EQ(FindTensor(*set, "window")->storage_offset, 5);
  EXPECT_EQ(FindTensor(*set, "scalar")->shape.size(), 0u);
  EXPECT_EQ(FindTensor(*set, "bf16")->dtype, DType::kBFloat16);
}

TEST_F(TorchReaderTest, ReadsProtocol4PlainDictAndLittleByteorder) {
  for (const char* f : {"p4.pt", "plain.bin", "little.pt"}) {
    SCOPED_TRACE(f);
    auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), Path(f));
    ASSERT_TRUE(set.ok()) << set.status();
    ExpectMatchesTorch(*set);
  }
}

TEST_F(TorchReaderTest, UnwrapsOneNestingLevel) {
  auto a = ReadTorchCheckpoint(neobert::base::FsRoot(), Path("nested.pt"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->metadata.at("nested_under"), "state_dict");
  ExpectMatchesTorch(*a);
  auto b = ReadTorchCheckpoint(neobert::base::FsRoot(), Path("model_nested.pt"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->metadata.at("nested_under"), "model");
  ExpectMatchesTorch(*b);
}

TEST_F(TorchReaderTest, RefusesDamagedRealFiles) {
  struct Case {
    const char* file;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"legacy.pt", "zip: no end of central directory record"},
      {"truncated.pt", "zip: no end of central directory record"},
      {"missing_record.pt",
       "tensor 'w32': storage '0' has no record 'state_dict/data/0'"},
      {"deflated.pt", "entry 'state_dict/data/0' is compressed (method 8)"},
      {"short_record.pt",
       "tensor 'w32': record 'state_dict/data/0' has 8 bytes but storage '0' needs 48"},
      {"two_pkl.pt", "several data.pkl records"},
      {"big_endian.pt", "byte order 'big' is not supported"},
      {"no_version.pt", "record 'state_dict/version' is missing"},
      {"bad_version.pt", "unsupported version 'abcd'"},
      {"evil.pt", "state_dict/data.pkl: global 'posix.system' is not allowed "
                  "(weights-only unpickler)"},
      {"evil4.pt", "state_dict/data.pkl: global 'posix.system' is not allowed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto set = ReadTorchCheckpoint(neobert::base::FsRoot(), Path(c.file));
    ASSERT_FALSE(set.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(set.status())) << set.status();
    EXPECT_THAT(set.status().message(), HasSubstr(c.expect));
    EXPECT_THAT(set.status().message(), HasSubstr(Path(c.file) + ": "));
  }
}

TEST_F(TorchReaderTest, BitFlipsInRealFileNeverCrash) {
  const std::string good = testutil::ReadFile(Path("state_dict.pt"));
  // Every byte of the directory and of data.pkl, with a stride elsewhere.
  for (size_t i = 0; i < good.size(); i += (i < 1200 || i + 800 > good.size()) ? 1 : 13) {
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    auto set = ReadTorchCheckpoint(Mem(b));
    if (set.ok()) {
      for (const auto& t : set->tensors) EXPECT_TRUE(ValidateTensorBounds(t).ok());
    }
  }
}

// ---- Checkpoints crafted byte by byte.

std::string Version() { return "3\n"; }

// archive/data.pkl = `pkl`, archive/version, plus `records`.
std::string TorchZip(const std::string& pkl, std::vector<ZipSpec> records, bool zip64 = false) {
  records.insert(records.begin(), ZipSpec{"archive/data.pkl", pkl});
  records.push_back({"archive/version", Version()});
  return BuildZip(records, zip64).bytes;
}

std::string Floats(std::initializer_list<float> v) {
  std::string s;
  for (float f : v) s.append(reinterpret_cast<const char*>(&f), sizeof f);
  return s;
}

TEST(TorchReaderCraftedTest, ViewsIntoOneStorageFromZip64Archive) {
  PickleBuilder p;
  p.Proto().Op('}').Mark();
  p.Str("all").Tensor("FloatStorage", "s", 6, 0, {2, 3}, {3, 1});
  p.Str("col").Tensor("FloatStorage", "s", 6, 1, {2}, {3});
  p.Str("tr").Tensor("FloatStorage", "s", 6, 0, {3, 2}, {1, 3});
  p.Op('u').Stop();
  const std::string file =
      TorchZip(p.str(), {{"archive/data/s", Floats({0, 1, 2, 3, 4, 5})}}, /*zip64=*/true);
  auto set = ReadTorchCheckpoint(Mem(file));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->tensors.size(), 3u);
  EXPECT_EQ(set->metadata.at("archive"), "archive");
  auto col = ReadContiguous(set->tensors[1]);
  ASSERT_TRUE(col.ok());
  EXPECT_EQ(std::string(col->begin(), col->end()), Floats({1, 4}));
  auto tr = ReadContiguous(set->tensors[2]);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(std::string(tr->begin(), tr->end()), Floats({0, 3, 1, 4, 2, 5}));
  for (const auto& t : set->tensors) {
    EXPECT_EQ(t.storage.offset, set->tensors[0].storage.offset);
    EXPECT_EQ(t.storage.nbytes, 24u);
  }
}

TEST(TorchReaderCraftedTest, RefusesHostileCheckpoints) {
  const std::string rec = Floats({0, 1, 2, 3, 4, 5});
  auto one = [](auto&& body) {
    PickleBuilder p;
    p.Proto().Op('}').Mark();
    body(p);
    return p.Op('u').Stop().str();
  };
  struct Case {
    const char* label;
    std::string file;
    const char* expect;
  };
  std::vector<Case> cases;
  cases.push_back({"view larger than storage",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("v").Tensor("FloatStorage", "0", 6, 0, {4, 2}, {2, 1});
                            }),
                            {{"archive/data/0", rec}}),
                   "tensor 'v': view needs 32 bytes but storage '0' has 24"});
  cases.push_back({"offset view past storage",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("v").Tensor("FloatStorage", "0", 6, 5, {2}, {1});
                            }),
                            {{"archive/data/0", rec}}),
                   "tensor 'v': view needs 28 bytes"});
  cases.push_back({"negative size",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("v").Tensor("FloatStorage", "0", 6, 0, {-2, 3}, {3, 1});
                            }),
                            {{"archive/data/0", rec}}),
                   "mem.pt: archive/data.pkl: torch._utils._rebuild_tensor_v2: size[0] is negative (-2)"});
  cases.push_back({"numel overflow",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("v").Tensor("DoubleStorage", "0", int64_t{1} << 61, 0, {1}, {1});
                            }),
                            {{"archive/data/0", rec}}),
                   "overflows the byte size"});
  cases.push_back({"non-tensor value",
                   TorchZip(one([](PickleBuilder& p) { p.Str("step").Int(3); }), {}),
                   "archive/data.pkl: entry 'step' is a int, not a tensor"});
  cases.push_back({"non-str key",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Int(4).Tensor("FloatStorage", "0", 6, 0, {6}, {1});
                            }),
                            {{"archive/data/0", rec}}),
                   "state dict key 0 is a int, not a str"});
  cases.push_back({"top object is a list",
                   TorchZip(PickleBuilder().Proto().Op(']').Stop().str(), {}),
                   "top object is a list, not a dict of tensors"});
  cases.push_back({"duplicate key",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("a").Tensor("FloatStorage", "0", 6, 0, {6}, {1});
                              p.Str("a").Tensor("FloatStorage", "0", 6, 0, {6}, {1});
                            }),
                            {{"archive/data/0", rec}}),
                   "duplicate key 'a'"});
  cases.push_back({"one storage, two sizes",
                   TorchZip(one([](PickleBuilder& p) {
                              p.Str("a").Tensor("FloatStorage", "0", 6, 0, {6}, {1});
                              p.Str("b").Tensor("FloatStorage", "0", 2, 0, {2}, {1});
                            }),
                            {{"archive/data/0", rec}}),
                   "tensor 'b': storage '0' is declared with 8 bytes here but 24 bytes earlier"});
  cases.push_back({"no data.pkl",
                   BuildZip({{"archive/version", "3\n"}, {"data.pkl", "x"}}).bytes,
                   "no '<archive>/data.pkl' record"});
  cases.push_back({"nested under an unknown key",
                   TorchZip(one([](PickleBuilder& p) { p.Str("weights").Op('}'); }), {}),
                   "entry 'weights' is a dict, not a tensor"});
  {
    auto z = BuildZip({{"archive/data.pkl", PickleBuilder().Proto().Op('}').Stop().str()},
                       {"archive/version", "3\n"}});
    testutil::Patch32(&z.bytes, z.central_offsets[0] + 16, 0xdeadbeef);
    cases.push_back({"data.pkl CRC mismatch", z.bytes,
                     "entry 'archive/data.pkl': CRC-32 mismatch"});
  }
  {
    auto z = BuildZip({{"archive/data.pkl", one([](PickleBuilder& p) {
                          p.Str("v").Tensor("FloatStorage", "0", 6, 0, {6}, {1});
                        })},
                       {"archive/data/0", rec},
                       {"archive/version", "3\n"}});
    testutil::Patch32(&z.bytes, z.central_offsets[1] + 42, 0xfffffff0u - 1);
    cases.push_back({"record offset past EOF", z.bytes,
                     "entry 'archive/data/0': local header at offset"});
  }
  cases.push_back({"version of 4 digits",
                   BuildZip({{"archive/data.pkl", PickleBuilder().Proto().Op('}').Stop().str()},
                             {"archive/version", "1000\n"}})
                       .bytes,
                   "record 'archive/version': unsupported version '1000'"});
  cases.push_back({"byteorder garbage",
                   BuildZip({{"archive/data.pkl", PickleBuilder().Proto().Op('}').Stop().str()},
                             {"archive/version", "3"},
                             {"archive/byteorder", "middle\xff"}})
                       .bytes,
                   "byte order 'middle\\xff' is not supported"});
  cases.push_back({"compressed data.pkl",
                   BuildZip({{"archive/data.pkl", "junk", 8}, {"archive/version", "3"}}).bytes,
                   "entry 'archive/data.pkl' is compressed (method 8)"});

  ASSERT_GE(cases.size(), 15u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    auto set = ReadTorchCheckpoint(Mem(c.file));
    ASSERT_FALSE(set.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(set.status())) << set.status();
    EXPECT_THAT(set.status().message(), HasSubstr(c.expect));
    EXPECT_THAT(set.status().message(), HasSubstr("mem.pt: "));
  }
}

TEST(TorchReaderCraftedTest, EmptyStateDictAndVersionVariants) {
  for (const char* v : {"1", "2\n", "3\r\n", "10"}) {
    auto file = BuildZip({{"x/data.pkl", PickleBuilder().Proto().Op('}').Stop().str()},
                          {"x/version", v}})
                    .bytes;
    auto set = ReadTorchCheckpoint(Mem(file));
    ASSERT_TRUE(set.ok()) << set.status();
    EXPECT_TRUE(set->tensors.empty());
    EXPECT_EQ(set->metadata.at("archive"), "x");
  }
  EXPECT_TRUE(absl::IsNotFound(ReadTorchCheckpoint(neobert::base::FsRoot(), "/nonexistent/ckpt.pt").status()));
}

}  // namespace
}  // namespace neobert::format
