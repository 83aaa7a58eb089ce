// libFuzzer target: the weights-only unpickler over arbitrary bytes. Any
// crash, sanitizer report, leak or runaway allocation is a bug; so is an
// accepted tensor whose fields break the unpickler's documented promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/format/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace neobert::format;
  UnpickleLimits limits;
  // Small caps keep each run fast; the logic under test is the same.
  limits.max_ops = 1 << 16;
  limits.max_values = 1 << 16;
  limits.max_container_items = 1 << 18;
  auto doc = UnpickleWeightsOnly(absl::MakeConstSpan(data, size), "fuzz.pkl", limits);
  if (!doc.ok()) return 0;
  const PickleValue* root = (*doc)->root();
  if (root == nullptr) std::abort();
  // Walk one level of the result the way torch_reader does.
  if (root->kind == PickleKind::kDict) {
    if (root->items.size() % 2 != 0) std::abort();
    for (size_t i = 0; i < root->dict_size(); ++i) {
      const PickleValue* v = root->dict_value(i);
      if (v->kind != PickleKind::kTensor) continue;
      const PickleTensor& t = *v->tensor;
      if (t.storage == nullptr || t.storage->kind != PickleKind::kStorage) std::abort();
      if (t.size.size() != t.stride.size() || t.storage_offset < 0) std::abort();
      for (int64_t d : t.size) {
        if (d < 0) std::abort();
      }
    }
  }
  return 0;
}
