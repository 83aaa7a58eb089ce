// libFuzzer target: the ZIP reader and the torch checkpoint reader over
// arbitrary bytes. Every entry the ZIP reader accepts must have its data
// inside the source; every tensor the torch reader accepts must be readable.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/format/byte_source.h"
#include "core/format/torch_reader.h"
#include "core/format/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace neobert::format;
  auto src = std::make_shared<MemorySource>(std::vector<uint8_t>(data, data + size), "fuzz.zip");
  auto zip = ZipReader::Open(src);
  if (zip.ok()) {
    for (const ZipEntry& e : (*zip)->entries()) {
      if (e.data_offset > size || e.compressed_size > size - e.data_offset) std::abort();
      auto r = (*zip)->StoredRange(e.name);
      if (r.ok()) (void)(*zip)->ReadSmall(e.name, 1 << 20);
    }
  }
  auto set = ReadTorchCheckpoint(src);
  if (!set.ok()) return 0;
  for (const TensorEntry& t : set->tensors) {
    if (!ValidateTensorBounds(t).ok()) std::abort();
    if (t.nbytes() > (1u << 24)) continue;  // keep runs fast
    auto bytes = ReadContiguous(t);
    if (!bytes.ok() || bytes->size() != t.nbytes()) std::abort();
  }
  return 0;
}
