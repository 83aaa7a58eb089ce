#include "core/format/pickle_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/format/reader_test_util.h"

namespace neobert::format {
namespace {

using ::testing::HasSubstr;
using testutil::PickleBuilder;

absl::StatusOr<std::unique_ptr<PickleDocument>> Load(const std::string& bytes,
                                                     const UnpickleLimits& lim = {}) {
  return UnpickleWeightsOnly(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      "ckpt.pt: archive/data.pkl", lim);
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Pickles made by CPython's own pickle module for protocols 2..5; each line of
// the output is "<protocol> <hex>".
std::vector<std::pair<int, std::string>> PythonPickles(const std::string& expr) {
  const std::string dir = testutil::MakeTempDir();
  const std::string script = "import sys, pickle, collections\nobj = " + expr +
                             "\nwith open(sys.argv[1] + '/out.txt', 'w') as f:\n"
                             "    for p in (2, 3, 4, 5):\n"
                             "        f.write('%d %s\\n' % (p, pickle.dumps(obj, protocol=p).hex()))\n";
  std::vector<std::pair<int, std::string>> out;
  if (!testutil::RunPython(dir, script)) return out;
  std::istringstream in(testutil::ReadFile(dir + "/out.txt"));
  int p;
  std::string hex;
  while (in >> p >> hex) out.emplace_back(p, FromHex(hex));
  return out;
}

TEST(PickleReaderTest, PlainValuesFromCPythonAllProtocols) {
  auto pickles = PythonPickles(
      "{'ints': [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31, -2**40, 2**63 - 1, -2**63],"
      " 'f': 1.5, 'neg': -0.25, 't': True, 'n': None, 'u': 'h\\u00e9llo \\u2603',"
      " 'b': b'\\x00\\x01\\xff\\x80', 'tup': (1, 2), 'e': (), 't4': (1, 2, 3, 4), 'l': [[]],"
      " 'od': collections.OrderedDict([('x', 1), ('y', 2)])}");
  ASSERT_EQ(pickles.size(), 4u);
  for (const auto& [proto, bytes] : pickles) {
    SCOPED_TRACE(proto);
    auto doc = Load(bytes);
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ((*doc)->protocol(), proto);
    const PickleValue* r = (*doc)->root();
    ASSERT_EQ(r->kind, PickleKind::kDict);
    EXPECT_FALSE(r->ordered);
    ASSERT_EQ(r->dict_size(), 12u);
    EXPECT_EQ(r->dict_key(0)->text, "ints");
    const PickleValue* ints = r->DictGet("ints");
    ASSERT_EQ(ints->kind, PickleKind::kList);
    const std::vector<int64_t> want = {0,           1,          255,       256,
                                       65535,       65536,      -1,        -2147483648LL,
                                       2147483648,  -(1LL << 40), INT64_MAX, INT64_MIN};
    ASSERT_EQ(ints->items.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(ints->items[i]->kind, PickleKind::kInt);
      EXPECT_EQ(ints->items[i]->int_value, want[i]) << i;
    }
    EXPECT_EQ(r->DictGet("f")->float_value, 1.5);
    EXPECT_EQ(r->DictGet("neg")->float_value, -0.25);
    EXPECT_EQ(r->DictGet("t")->kind, PickleKind::kBool);
    EXPECT_EQ(r->DictGet("t")->int_value, 1);
    EXPECT_EQ(r->DictGet("n")->kind, PickleKind::kNone);
    EXPECT_EQ(r->DictGet("u")->text, "h\xc3\xa9llo \xe2\x98\x83");
    EXPECT_EQ(r->DictGet("b")->kind, PickleKind::kBytes);
    EXPECT_EQ(r->DictGet("b")->text, std::string("\0\1\xff\x80", 4));
    EXPECT_EQ(r->DictGet("tup")->items.size(), 2u);
    EXPECT_EQ(r->DictGet("e")->kind, PickleKind::kTuple);
    EXPECT_EQ(r->DictGet("e")->items.size(), 0u);
    EXPECT_EQ(r->DictGet("t4")->items[3]->int_value, 4);
    EXPECT_EQ(r->DictGet("l")->items[0]->kind, PickleKind::kList);
    const PickleValue* od = r->DictGet("od");
    ASSERT_EQ(od->kind, PickleKind::kDict);
    EXPECT_TRUE(od->ordered);
    ASSERT_EQ(od->dict_size(), 2u);
    EXPECT_EQ(od->dict_key(1)->text, "y");
    EXPECT_EQ(od->dict_value(1)->int_value, 2);
  }
}

TEST(PickleReaderTest, TensorRebuildAndOrderedDictMetadata) {
  PickleBuilder b;
  b.Proto().EmptyOrderedDict().Op('q').Byte(0).Mark();
  b.Str("w").Tensor("BFloat16Storage", "7", 12, 2, {2, 5}, {1, 2});
  b.Str("p").Global("torch._utils", "_rebuild_parameter").Mark();
  b.Tensor("FloatStorage", "8", 3, 0, {3}, {1}).Op(0x88).EmptyOrderedDict().Tuple().Op('R');
  b.Op('u');
  // BUILD state: {'_metadata': OrderedDict({'': {'version': 1}})}
  b.Op('}').Str("_metadata").EmptyOrderedDict().Str("").Op('}').Str("version").Int(1);
  b.Op('s').Op('s').Op('s').Op('b').Stop();
  auto doc = Load(b.str());
  ASSERT_TRUE(doc.ok()) << doc.status();
  const PickleValue* r = (*doc)->root();
  ASSERT_EQ(r->kind, PickleKind::kDict);
  EXPECT_TRUE(r->ordered);
  ASSERT_EQ(r->dict_size(), 2u);
  const PickleTensor& w = *r->dict_value(0)->tensor;
  EXPECT_EQ(w.storage->storage->dtype, DType::kBFloat16);
  EXPECT_EQ(w.storage->storage->key, "7");
  EXPECT_EQ(w.storage->storage->location, "cpu");
  EXPECT_EQ(w.storage->storage->numel, 12u);
  EXPECT_EQ(w.storage_offset, 2);
  EXPECT_EQ(w.size, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(w.stride, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(w.is_parameter);
  const PickleTensor& p = *r->dict_value(1)->tensor;
  EXPECT_TRUE(p.is_parameter);
  EXPECT_TRUE(p.requires_grad);
  EXPECT_EQ(p.storage->storage->dtype, DType::kFloat32);
  ASSERT_NE(r->state, nullptr);
  const PickleValue* md = r->state->DictGet("_metadata");
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(md->DictGet("")->DictGet("version")->int_value, 1);
}

TEST(PickleReaderTest, SharedAndCyclicValuesAreSafe) {
  // l = []; l.append(l); d = {'a': l, 'b': l}  (memo sharing and a cycle)
  PickleBuilder b;
  b.Proto().Op('}').Str("a").Op(']').Op('q').Byte(1).Op('h').Byte(1).Op('a');
  b.Op('s').Str("b").Op('h').Byte(1).Op('s').Stop();
  auto doc = Load(b.str());
  ASSERT_TRUE(doc.ok()) << doc.status();
  const PickleValue* r = (*doc)->root();
  EXPECT_EQ(r->DictGet("a"), r->DictGet("b"));
  EXPECT_EQ(r->DictGet("a")->items[0], r->DictGet("a"));
}

TEST(PickleReaderTest, StackOpsMarksFramesAndMemoize) {
  PickleBuilder body;
  body.Mark().Int(1).Int(2).Op('l').Op(0x94);    // LIST [1, 2], memo 0
  body.Op('2').Op('0');                          // DUP, POP
  body.Mark().Int(9).Op('0').Op('1');            // POP, POP_MARK
  body.Mark().Str("k").Op('h').Byte(0).Op('d');  // DICT {'k': [1, 2]}
  body.Op('0').Op('h').Byte(0).Stop();
  std::string frame_len;
  testutil::Put64(&frame_len, body.str().size());
  PickleBuilder b;
  b.Proto(4).Op(0x95).Raw(frame_len).Raw(body.str());
  PickleBuilder too_long;
  too_long.Proto(4).Op(0x95).Raw(std::string(8, '\x7f')).Raw(body.str());
  EXPECT_THAT(Load(too_long.str()).status().message(), HasSubstr("runs past the end"));
  auto doc = Load(b.str());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ((*doc)->root()->kind, PickleKind::kList);
  EXPECT_EQ((*doc)->root()->items[1]->int_value, 2);
}

// ---- Hostile pickles: each must be refused with a message naming the problem.

struct BadPickle {
  const char* label;
  std::string bytes;
  const char* expect;
};

std::vector<BadPickle> BadPickles() {
  std::vector<BadPickle> v;
  v.push_back({"os.system via GLOBAL + REDUCE",
               PickleBuilder().Proto().Global("os", "system").Str("id").Op(0x85).Op('R').Stop().str(),
               "global 'os.system' is not allowed (weights-only unpickler)"});
  v.push_back({"builtins.eval via STACK_GLOBAL",
               PickleBuilder().Proto(4).Op(0x8c).Byte(8).Raw("builtins").Op(0x8c).Byte(4).Raw("eval")
                   .Op(0x93).Str("1").Op(0x85).Op('R').Stop().str(),
               "global 'builtins.eval' is not allowed"});
  v.push_back({"subprocess.Popen", PickleBuilder().Proto().Global("subprocess", "Popen").Stop().str(),
               "global 'subprocess.Popen' is not allowed"});
  v.push_back({"torch.load is not a storage class",
               PickleBuilder().Proto().Global("torch", "load").Stop().str(),
               "global 'torch.load' is not allowed"});
  v.push_back({"NEWOBJ", PickleBuilder().Proto().EmptyOrderedDict().Op(')').Op(0x81).Stop().str(),
               "opcode NEWOBJ is not allowed"});
  v.push_back({"NEWOBJ_EX", PickleBuilder().Proto(4).Op(0x92).Stop().str(),
               "opcode NEWOBJ_EX is not allowed"});
  v.push_back({"INST", PickleBuilder().Proto().Mark().Op('i').Raw("os\nsystem\n").Stop().str(),
               "opcode INST is not allowed"});
  v.push_back({"OBJ", PickleBuilder().Proto().Mark().Op('o').Stop().str(), "opcode OBJ is not allowed"});
  v.push_back({"EXT1", PickleBuilder().Proto().Op(0x82).Byte(1).Stop().str(), "opcode EXT"});
  v.push_back({"text PERSID", PickleBuilder().Proto().Op('P').Raw("0\n").Stop().str(),
               "opcode PERSID is not allowed"});
  v.push_back({"protocol 1 (no PROTO)", PickleBuilder().Op('}').Stop().str(),
               "pickle protocol < 2 (no PROTO opcode at the start) is not supported"});
  v.push_back({"PROTO 1", PickleBuilder().Proto(1).Op('}').Stop().str(),
               "pickle protocol 1 is not supported (need 2..5)"});
  v.push_back({"protocol 6", PickleBuilder().Proto(6).Op('}').Stop().str(),
               "pickle protocol 6 is not supported (need 2..5)"});
  v.push_back({"empty input", "", "pickle protocol < 2"});
  v.push_back({"truncated in a string", PickleBuilder().Proto().Str("abcdef").str().substr(0, 8),
               "BINUNICODE: length 6 exceeds the 1 bytes left"});
  v.push_back({"no STOP", PickleBuilder().Proto().Op('}').str(), "truncated pickle: no STOP opcode"});
  v.push_back({"truncated BININT", PickleBuilder().Proto().Op('J').Raw("ab").str(),
               "truncated pickle: BININT needs 4 bytes but only 2 remain"});
  v.push_back({"BINGET of missing memo", PickleBuilder().Proto().Op('h').Byte(7).Stop().str(),
               "GET of memo key 7 which is not set"});
  v.push_back({"LONG_BINGET of missing memo",
               PickleBuilder().Proto().Op('j').Raw(std::string("\xff\xff\xff\x7f", 4)).Stop().str(),
               "GET of memo key 2147483647 which is not set"});
  v.push_back({"huge BINUNICODE length",
               PickleBuilder().Proto().Op('X').Raw(std::string("\xff\xff\xff\xff", 4)).Raw("ab").str(),
               "BINUNICODE: length 4294967295 exceeds the 2 bytes left"});
  v.push_back({"huge BINUNICODE8 length",
               PickleBuilder().Proto(4).Op(0x8d).Raw(std::string(8, '\xff')).str(),
               "BINUNICODE8: length 18446744073709551615 exceeds the 0 bytes left"});
  v.push_back({"negative BINSTRING length",
               PickleBuilder().Proto().Op('T').Raw(std::string("\xff\xff\xff\xff", 4)).str(),
               "BINSTRING: negative length"});
  v.push_back({"invalid UTF-8", PickleBuilder().Proto().Str("\xc3\x28").Stop().str(),
               "string is not valid UTF-8"});
  v.push_back({"UTF-16 surrogate", PickleBuilder().Proto().Str("\xed\xa0\x80").Stop().str(),
               "string is not valid UTF-8"});
  v.push_back({"LONG1 wider than 64 bits",
               PickleBuilder().Proto().Op(0x8a).Byte(9).Raw(std::string(9, '\1')).Stop().str(),
               "integer of 9 bytes does not fit in 64 bits"});
  {
    PickleBuilder b;
    b.Proto();
    for (int i = 0; i < 5000; ++i) b.Mark();
    v.push_back({"deep MARK nesting", b.Stop().str(), "MARK nesting deeper than 1000"});
  }
  v.push_back({"storage numel overflow",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", INT64_MAX / 2, 0, {1}, {1}).Stop().str(),
               "storage '0': numel 4611686018427387903 of FloatStorage overflows the byte size"});
  v.push_back({"negative numel",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", -1, 0, {1}, {1}).Stop().str(),
               "storage '0': numel must be a non-negative int"});
  v.push_back({"negative size",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", 6, 0, {2, -3}, {3, 1}).Stop().str(),
               "_rebuild_tensor_v2: size[1] is negative (-3)"});
  v.push_back({"negative stride",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", 6, 0, {2, 3}, {-3, 1}).Stop().str(),
               "stride[0] is negative (-3)"});
  v.push_back({"rank mismatch",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", 6, 0, {6}, {1, 1}).Stop().str(),
               "size has 1 dimensions but stride has 2"});
  v.push_back({"too many dimensions",
               PickleBuilder().Proto().Tensor("FloatStorage", "0", 1, 0, std::vector<int64_t>(17, 1),
                                              std::vector<int64_t>(17, 1)).Stop().str(),
               "size has 17 dimensions (limit 16)"});
  v.push_back({"storage class called",
               PickleBuilder().Proto().Global("torch", "FloatStorage").Op(')').Op('R').Stop().str(),
               "global 'torch.FloatStorage' cannot be called"});
  v.push_back({"OrderedDict with arguments",
               PickleBuilder().Proto().Global("collections", "OrderedDict").Mark().Op(']').Tuple()
                   .Op('R').Stop().str(),
               "collections.OrderedDict must be called with no arguments (got 1)"});
  v.push_back({"REDUCE on a tuple", PickleBuilder().Proto().Op(')').Op(')').Op('R').Stop().str(),
               "REDUCE on a tuple is not allowed"});
  v.push_back({"BUILD on a list", PickleBuilder().Proto().Op(']').Op('}').Op('b').Stop().str(),
               "BUILD on a list is not allowed"});
  v.push_back({"APPEND to a dict", PickleBuilder().Proto().Op('}').Int(1).Op('a').Stop().str(),
               "APPEND to a dict is not allowed"});
  v.push_back({"SETITEM on a list", PickleBuilder().Proto().Op(']').Int(1).Int(2).Op('s').Stop().str(),
               "SETITEM on a list is not allowed"});
  v.push_back({"stack underflow", PickleBuilder().Proto().Op('0').Stop().str(), "POP: no MARK"});
  v.push_back({"pop below mark", PickleBuilder().Proto().Op(']').Mark().Int(1).Op('a').Stop().str(),
               "APPEND: stack underflow"});
  v.push_back({"persistent id not a storage tuple",
               PickleBuilder().Proto().Str("x").Op('Q').Stop().str(),
               "persistent id must be ('storage', <storage class>, key, location, numel), got a str"});
  v.push_back({"persistent id with wrong class",
               PickleBuilder().Proto().Mark().Str("storage").Global("collections", "OrderedDict")
                   .Str("0").Str("cpu").Int(1).Tuple().Op('Q').Stop().str(),
               "element 1 must be a torch storage class, got 'collections.OrderedDict'"});
  v.push_back({"rebuild with a non-storage",
               PickleBuilder().Proto().Global("torch._utils", "_rebuild_tensor_v2").Mark().Int(0)
                   .Int(0).Op(')').Op(')').Op(0x89).Op('}').Tuple().Op('R').Stop().str(),
               "argument 0 must be a persistent-id storage, got int"});
  v.push_back({"rebuild with 2 args",
               PickleBuilder().Proto().Global("torch._utils", "_rebuild_tensor_v2").Int(0).Int(0)
                   .Op(0x86).Op('R').Stop().str(),
               "expected 6 or 7 arguments, got 2"});
  v.push_back({"_codecs.encode with another codec",
               PickleBuilder().Proto().Global("_codecs", "encode").Str("x").Str("utf-8").Op(0x86)
                   .Op('R').Stop().str(),
               "_codecs.encode is only allowed as (str, 'latin1')"});
  v.push_back({"_codecs.encode beyond latin-1",
               PickleBuilder().Proto().Global("_codecs", "encode").Str("\xe2\x98\x83").Str("latin1")
                   .Op(0x86).Op('R').Stop().str(),
               "text has characters outside latin-1"});
  v.push_back({"unsupported opcode", PickleBuilder().Proto().Op('I').Raw("1\n").Stop().str(),
               "unsupported pickle opcode 0x49"});
  v.push_back({"over-long GLOBAL name",
               PickleBuilder().Proto().Op('c').Raw(std::string(1000, 'a')).str(),
               "GLOBAL module is unterminated or longer than 256 bytes"});
  return v;
}

TEST(PickleReaderTest, RefusesHostilePickles) {
  const auto cases = BadPickles();
  ASSERT_GE(cases.size(), 40u);
  for (const BadPickle& c : cases) {
    SCOPED_TRACE(c.label);
    auto doc = Load(c.bytes);
    ASSERT_FALSE(doc.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(doc.status()));
    EXPECT_THAT(doc.status().message(), HasSubstr(c.expect));
    EXPECT_THAT(doc.status().message(), HasSubstr("ckpt.pt: archive/data.pkl: "));
    EXPECT_THAT(doc.status().message(), HasSubstr("[pickle offset "));
  }
}

TEST(PickleReaderTest, RefusesCPythonPicklesOfDangerousCallables) {
  auto pickles = PythonPickles("__import__('os').system");  // pickles as posix.system
  ASSERT_FALSE(pickles.empty());
  for (const auto& [proto, bytes] : pickles) {
    auto doc = Load(bytes);
    EXPECT_THAT(doc.status().message(), HasSubstr("global 'posix.system' is not allowed")) << proto;
  }
  pickles = PythonPickles("collections.Counter(a=1)");
  for (const auto& [proto, bytes] : pickles) {
    EXPECT_THAT(Load(bytes).status().message(),
                HasSubstr("global 'collections.Counter' is not allowed")) << proto;
  }
  pickles = PythonPickles("set([1])");
  for (const auto& [proto, bytes] : pickles) {
    EXPECT_FALSE(Load(bytes).ok()) << proto;
  }
}

TEST(PickleReaderTest, ResourceCapsAreEnforced) {
  PickleBuilder b;
  b.Proto().Op(']').Mark();
  for (int i = 0; i < 100; ++i) b.Int(i);
  b.Op('e').Op('q').Byte(0).Op('r').Raw(std::string("\1\0\0\0", 4)).Stop();
  {
    UnpickleLimits lim;
    lim.max_values = 50;
    EXPECT_THAT(Load(b.str(), lim).status().message(), HasSubstr("more than 50 values"));
  }
  {
    UnpickleLimits lim;
    lim.max_ops = 20;
    EXPECT_THAT(Load(b.str(), lim).status().message(), HasSubstr("more than 20 opcodes"));
  }
  {
    UnpickleLimits lim;
    lim.max_stack = 30;
    EXPECT_THAT(Load(b.str(), lim).status().message(), HasSubstr("stack deeper than 30 values"));
  }
  {
    UnpickleLimits lim;
    lim.max_container_items = 99;
    EXPECT_THAT(Load(b.str(), lim).status().message(),
                HasSubstr("more than 99 container elements"));
  }
  {
    UnpickleLimits lim;
    lim.max_memo = 1;
    EXPECT_THAT(Load(b.str(), lim).status().message(), HasSubstr("more than 1 memo entries"));
  }
  EXPECT_TRUE(Load(b.str()).ok());
}

TEST(PickleReaderTest, TruncationsAndBitFlipsNeverCrash) {
  PickleBuilder b;
  b.Proto().EmptyOrderedDict().Mark().Str("a").Tensor("HalfStorage", "0", 8, 1, {2, 3}, {3, 1});
  b.Str("b").Tensor("LongStorage", "1", 2, 0, {2}, {1}).Op('u').Stop();
  const std::string good = b.str();
  ASSERT_TRUE(Load(good).ok());
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(Load(good.substr(0, n)).ok());
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t x : {0x01, 0x02, 0x10, 0x80, 0xFF}) {
      std::string m = good;
      m[i] = static_cast<char>(m[i] ^ x);
      (void)Load(m);
    }
  }
}

}  // namespace
}  // namespace neobert::format
