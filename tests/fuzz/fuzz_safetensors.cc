// libFuzzer target: ReadSafetensors over arbitrary bytes, then every tensor it
// accepts is read back. Any crash, sanitizer report, or an accepted tensor
// whose bytes cannot be read is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/format/byte_source.h"
#include "core/format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace neobert::format;
  auto src = std::make_shared<MemorySource>(std::vector<uint8_t>(data, data + size),
                                            "fuzz.safetensors");
  auto set = ReadSafetensors(src);
  if (!set.ok()) return 0;
  for (const TensorEntry& t : set->tensors) {
    auto bytes = ReadContiguous(t);
    // The reader promised the range lies in the source: reading must work
    // and yield exactly nbytes().
    if (!bytes.ok() || bytes->size() != t.nbytes()) std::abort();
  }
  return 0;
}
