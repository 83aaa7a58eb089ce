// A minimal pickler for the one object torch.save writes for a state dict:
// a dict (or collections.OrderedDict) mapping names to tensors, each tensor a
// torch._utils._rebuild_tensor_v2 call over a persistent-id storage.
//
// Opcode stream (protocol 2, as CPython's pickler emits it):
//   PROTO 2
//   EMPTY_DICT BINPUT                                   (plain dict), or
//   GLOBAL 'collections\nOrderedDict' BINPUT EMPTY_TUPLE REDUCE BINPUT
//   per batch of up to 1000 items: MARK (key value)* SETITEMS
//                                  (a batch of one: key value SETITEM)
//     key:   BINUNICODE name BINPUT
//     value: GLOBAL 'torch._utils\n_rebuild_tensor_v2' BINPUT
//            MARK
//              MARK BINUNICODE 'storage' | GLOBAL 'torch\n<Type>Storage'
//                   | BINUNICODE key | BINUNICODE 'cpu' | int numel
//              TUPLE BINPUT BINPERSID
//              int storage_offset  size-tuple  stride-tuple  NEWFALSE
//              GLOBAL 'collections\nOrderedDict' EMPTY_TUPLE REDUCE BINPUT
//            TUPLE BINPUT REDUCE BINPUT
//   STOP
// Repeated globals and strings are memoized once (BINPUT) and fetched again
// with BINGET/LONG_BINGET, as CPython does for the same objects. Integers use
// the smallest of BININT1 / BININT2 / BININT / LONG1; tuples of up to three
// items use TUPLE1..3, the empty tuple EMPTY_TUPLE.
//
// Every opcode used is accepted by torch.load(weights_only=True) (torch 1.13
// and later) and by our own restricted unpickler.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/format/dtype.h"

namespace neobert::format {

// One dict item: name -> tensor view of a storage.
struct PickledTensor {
  std::string name;         // dict key (UTF-8)
  DType dtype = DType::kFloat32;
  std::string storage_key;  // the data/<key> record of its storage
  uint64_t storage_numel = 0;
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // same rank as shape
};

struct PickleOptions {
  // collections.OrderedDict instead of dict as the top object.
  bool ordered_dict = false;
  // Persistent-id location string.
  std::string location = "cpu";
};

// Returns the pickle bytes. Fails (INVALID_ARGUMENT) on names that are not
// UTF-8, negative sizes, or rank mismatches.
absl::StatusOr<std::string> PickleTensorDict(absl::Span<const PickledTensor> tensors,
                                             const PickleOptions& options = {});

}  // namespace neobert::format
