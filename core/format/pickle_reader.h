// A restricted, weights-only unpickler for torch.save's data.pkl.
//
// Input: a pickle stream of protocol 2..5 (it must start with PROTO). The
// interpreter is a plain stack machine over the opcodes torch.save emits:
//   PROTO FRAME STOP MARK POP POP_MARK DUP
//   NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT
//   BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING
//   BINBYTES SHORT_BINBYTES BINBYTES8
//   EMPTY_LIST EMPTY_DICT EMPTY_TUPLE LIST DICT TUPLE TUPLE1 TUPLE2 TUPLE3
//   APPEND APPENDS SETITEM SETITEMS
//   BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET
//   GLOBAL STACK_GLOBAL REDUCE BUILD BINPERSID
// Nothing is ever executed: GLOBAL/STACK_GLOBAL only resolve names on an
// allowlist, and REDUCE only "calls" these by building values:
//   collections.OrderedDict()                     -> empty ordered dict
//   torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//       requires_grad, backward_hooks[, metadata]) -> tensor
//   torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks)
//                                                 -> tensor (is_parameter)
//   _codecs.encode(str, 'latin1')                -> bytes (protocol 2's bytes)
//   torch.<Float|Double|Half|BFloat16|Long|Int|Short|Char|Byte|Bool>Storage
//       only as the class inside a persistent id; never callable.
// BUILD is accepted only on a dict with a dict state (OrderedDict's
// `_metadata`), which is recorded. BINPERSID requires the persistent id
// ('storage', <storage class>, key: str, location: str, numel: int).
// Every other global (os.system, builtins.eval, ...) and NEWOBJ, NEWOBJ_EX,
// OBJ, INST, EXT*, PERSID are refused with an error naming them.
//
// Dicts keep insertion order and are not de-duplicated (callers that need
// unique keys check them). Values live in an arena owned by PickleDocument,
// so shared (memoised) and even cyclic structures are safe to hold and free.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/format/dtype.h"

namespace neobert::format {

enum class PickleKind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kBytes,
  kList,
  kTuple,
  kDict,
  kGlobal,   // an allowlisted global, e.g. "torch.FloatStorage"
  kStorage,  // a persistent-id storage reference
  kTensor,   // the result of _rebuild_tensor_v2 / _rebuild_parameter
};

absl::string_view PickleKindName(PickleKind k);

struct PickleStorage {
  DType dtype = DType::kFloat32;
  std::string key;       // record name under <archive>/data/
  std::string location;  // e.g. "cpu", "cuda:0" (informational)
  uint64_t numel = 0;    // elements; numel * ElementSize(dtype) fits in 63 bits
};

struct PickleValue;

struct PickleTensor {
  const PickleValue* storage = nullptr;  // kind kStorage
  int64_t storage_offset = 0;            // elements, >= 0
  std::vector<int64_t> size;             // each >= 0
  std::vector<int64_t> stride;           // each >= 0, same rank as size
  bool requires_grad = false;
  bool is_parameter = false;  // came through _rebuild_parameter
};

struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  bool ordered = false;    // kDict made by collections.OrderedDict
  int64_t int_value = 0;   // kInt; kBool as 0/1
  double float_value = 0;  // kFloat
  std::string text;        // kString (UTF-8), kBytes, kGlobal ("module.name")
  // kList / kTuple: the elements; kDict: keys and values interleaved
  // (k0, v0, k1, v1, ...), in insertion order.
  std::vector<PickleValue*> items;
  const PickleValue* state = nullptr;  // kDict: the BUILD state, if any
  std::unique_ptr<PickleStorage> storage;  // kStorage
  std::unique_ptr<PickleTensor> tensor;    // kTensor

  size_t dict_size() const { return items.size() / 2; }
  const PickleValue* dict_key(size_t i) const { return items[2 * i]; }
  const PickleValue* dict_value(size_t i) const { return items[2 * i + 1]; }
  // The value of the first item whose key is the string `key`, or nullptr.
  const PickleValue* DictGet(absl::string_view key) const;
};

struct UnpickleLimits {
  // Opcodes executed.
  uint64_t max_ops = 64ull << 20;
  // Values created (each costs ~130 bytes).
  uint64_t max_values = 4ull << 20;
  // Elements held in all containers together.
  uint64_t max_container_items = 16ull << 20;
  // Memo entries.
  uint64_t max_memo = 4ull << 20;
  // Values on the stack at once.
  uint64_t max_stack = 1ull << 20;
  // Open MARKs at once.
  uint64_t max_mark_depth = 1000;
  // Longest GLOBAL module or name.
  uint64_t max_global_name = 256;
};

class PickleDocument {
 public:
  const PickleValue* root() const { return root_; }
  int protocol() const { return protocol_; }

 private:
  friend class Unpickler;
  std::deque<PickleValue> arena_;
  const PickleValue* root_ = nullptr;
  int protocol_ = 0;
};

// Interprets `bytes`. `context` prefixes every error, e.g.
// "state_dict.pt: archive/data.pkl"; errors are INVALID_ARGUMENT, formatted
// "<context>: <problem> [pickle offset N]" where N is the opcode's offset.
absl::StatusOr<std::unique_ptr<PickleDocument>> UnpickleWeightsOnly(
    absl::Span<const uint8_t> bytes, const std::string& context,
    const UnpickleLimits& limits = {});

}  // namespace neobert::format
