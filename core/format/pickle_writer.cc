// Protocol-2 pickler for state dicts; the opcode stream is in pickle_writer.h.
#include "core/format/pickle_writer.h"

#include <cstdint>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace neobert::format {
namespace {

// Opcodes (pickle protocol 2).
constexpr char kProto = '\x80';
constexpr char kStop = '.';
constexpr char kMark = '(';
constexpr char kGlobal = 'c';
constexpr char kReduce = 'R';
constexpr char kBinPersId = 'Q';
constexpr char kBinUnicode = 'X';
constexpr char kBinInt = 'J';
constexpr char kBinInt1 = 'K';
constexpr char kBinInt2 = 'M';
constexpr char kLong1 = '\x8a';
constexpr char kNewFalse = '\x89';
constexpr char kEmptyTuple = ')';
constexpr char kTuple = 't';
constexpr char kTuple1 = '\x85';
constexpr char kTuple2 = '\x86';
constexpr char kTuple3 = '\x87';
constexpr char kEmptyDict = '}';
constexpr char kSetItem = 's';
constexpr char kSetItems = 'u';
constexpr char kBinPut = 'q';
constexpr char kLongBinPut = 'r';
constexpr char kBinGet = 'h';
constexpr char kLongBinGet = 'j';

constexpr size_t kBatchSize = 1000;  // CPython's _BATCHSIZE

// UTF-8 as Python's decoder with "surrogatepass" accepts it: no overlong
// forms, nothing above U+10FFFF; encoded surrogates are allowed.
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

class Pickler {
 public:
  std::string out;

  void Op(char op) { out.push_back(op); }
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }

  void Int(uint64_t v) {
    if (v <= 0xFF) {
      Op(kBinInt1);
      Le(v, 1);
    } else if (v <= 0xFFFF) {
      Op(kBinInt2);
      Le(v, 2);
    } else if (v <= 0x7FFFFFFF) {
      Op(kBinInt);
      Le(v, 4);
    } else {
      // Two's complement, little-endian, with a zero byte added when the top
      // bit of the last byte is set so that the value stays positive.
      std::string bytes;
      for (uint64_t x = v; x != 0; x >>= 8) bytes.push_back(static_cast<char>(x & 0xFF));
      if (static_cast<unsigned char>(bytes.back()) & 0x80) bytes.push_back('\0');
      Op(kLong1);
      Le(bytes.size(), 1);
      out += bytes;
    }
  }

  // Memoizes the object on top of the stack; returns its index.
  uint32_t Put() {
    const uint32_t idx = next_memo_++;
    if (idx <= 0xFF) {
      Op(kBinPut);
      Le(idx, 1);
    } else {
      Op(kLongBinPut);
      Le(idx, 4);
    }
    return idx;
  }
  void Get(uint32_t idx) {
    if (idx <= 0xFF) {
      Op(kBinGet);
      Le(idx, 1);
    } else {
      Op(kLongBinGet);
      Le(idx, 4);
    }
  }

  // Strings and globals are immutable, so equal values may share one memo
  // slot, as CPython shares them for identical objects.
  void Str(const std::string& s) {
    if (auto it = strings_.find(s); it != strings_.end()) return Get(it->second);
    Op(kBinUnicode);
    Le(s.size(), 4);
    out += s;
    strings_[s] = Put();
  }
  void Global(absl::string_view module, absl::string_view name) {
    std::string key = absl::StrCat(module, "\n", name, "\n");
    if (auto it = globals_.find(key); it != globals_.end()) return Get(it->second);
    Op(kGlobal);
    out += key;
    globals_[key] = Put();
  }

  void IntTuple(const std::vector<int64_t>& v) {
    if (v.empty()) return Op(kEmptyTuple);  // the empty tuple is never memoized
    if (v.size() > 3) Op(kMark);
    for (int64_t x : v) Int(static_cast<uint64_t>(x));
    static constexpr char kSmall[] = {0, kTuple1, kTuple2, kTuple3};
    Op(v.size() <= 3 ? kSmall[v.size()] : kTuple);
    Put();
  }

  // collections.OrderedDict() — torch's backward_hooks and the top object.
  void EmptyOrderedDict() {
    Global("collections", "OrderedDict");
    Op(kEmptyTuple);
    Op(kReduce);
    Put();
  }

  void Tensor(const PickledTensor& t, const std::string& location) {
    Global("torch._utils", "_rebuild_tensor_v2");
    Op(kMark);
    // Persistent id ('storage', torch.<Type>Storage, key, location, numel).
    Op(kMark);
    Str("storage");
    Global("torch", StorageClassName(t.dtype));
    Str(t.storage_key);
    Str(location);
    Int(t.storage_numel);
    Op(kTuple);
    Put();
    Op(kBinPersId);
    Int(static_cast<uint64_t>(t.storage_offset));
    IntTuple(t.shape);
    IntTuple(t.strides);
    Op(kNewFalse);  // requires_grad
    EmptyOrderedDict();  // backward_hooks
    Op(kTuple);
    Put();
    Op(kReduce);
    Put();
  }

 private:
  uint32_t next_memo_ = 0;
  std::map<std::string, uint32_t> strings_;
  std::map<std::string, uint32_t> globals_;
};

absl::Status Check(const PickledTensor& t, std::set<absl::string_view>& names) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("pickling tensor '", t.name, "': ", why));
  };
  if (!names.insert(t.name).second) return bad("duplicate name");
  if (!IsUtf8(t.name)) return bad("name is not valid UTF-8");
  if (!IsUtf8(t.storage_key)) return bad("storage key is not valid UTF-8");
  if (t.shape.size() != t.strides.size()) return bad("shape and stride ranks differ");
  if (t.storage_offset < 0) return bad("negative storage offset");
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] < 0 || t.strides[i] < 0) return bad("negative size or stride");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> PickleTensorDict(absl::Span<const PickledTensor> tensors,
                                             const PickleOptions& options) {
  std::set<absl::string_view> names;
  for (const PickledTensor& t : tensors) {
    RETURN_IF_ERROR(Check(t, names));
  }
  if (!IsUtf8(options.location)) {
    return absl::InvalidArgumentError("pickle location is not valid UTF-8");
  }
  Pickler p;
  p.Op(kProto);
  p.Le(2, 1);
  if (options.ordered_dict) {
    p.EmptyOrderedDict();
  } else {
    p.Op(kEmptyDict);
    p.Put();
  }
  for (size_t begin = 0; begin < tensors.size(); begin += kBatchSize) {
    const size_t end = std::min(tensors.size(), begin + kBatchSize);
    if (end - begin > 1) p.Op(kMark);
    for (size_t i = begin; i < end; ++i) {
      p.Str(tensors[i].name);
      p.Tensor(tensors[i], options.location);
    }
    p.Op(end - begin > 1 ? kSetItems : kSetItem);
  }
  p.Op(kStop);
  return std::move(p.out);
}

}  // namespace neobert::format
