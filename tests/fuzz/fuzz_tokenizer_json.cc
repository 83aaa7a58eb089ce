// libFuzzer target: tokenizer.json loading (Tokenizer::FromJson) over
// arbitrary text; a tokenizer that loads then encodes a fixed sentence, and a
// padded batch of two. Any crash, sanitizer report or hang is a bug, and so
// is an encoding whose parallel arrays disagree, or an error message that
// quotes more of the input than an excerpt allows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/tokenizer/tokenizer.h"

namespace {

void CheckEncoding(const neobert::tokenizer::Encoding& e) {
  const size_t n = e.ids.size();
  if (e.attention_mask.size() != n || e.type_ids.size() != n || e.tokens.size() != n) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using neobert::tokenizer::Tokenizer;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto tok = Tokenizer::FromJson(text, "tokenizer.json");
  if (!tok.ok()) {
    // (JSON paths of deeply nested sections make long but bounded names.)
    if (tok.status().message().size() > 4096) std::abort();
    return 0;
  }
  auto one = (*tok)->Encode("Hello, world! na\xC3\xAFve caf\xC3\xA9 [MASK] <mask> \xE2\x96\x81x");
  if (one.ok()) CheckEncoding(*one);
  auto batch = (*tok)->EncodeBatch({"a question?", "an answer that is longer."}, true, 0);
  if (batch.ok()) {
    for (const auto& e : *batch) CheckEncoding(e);
    if (batch->size() == 2 && (*batch)[0].ids.size() != (*batch)[1].ids.size()) std::abort();
  }
  return 0;
}
