// libFuzzer target: config.yaml parsing (ParseCheckpointConfig) over
// arbitrary text. Any crash, sanitizer report or hang is a bug; so is an
// accepted config that breaks the invariants the exporter relies on, or an
// error message that quotes more of the input than an excerpt allows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/base/excerpt.h"
#include "core/neobert/checkpoint_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace neobert::core;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = ParseCheckpointConfig(text, "config.yaml");
  if (!config.ok()) {
    // Errors carry the file name, a field and at most one short excerpt: far
    // less than a hostile file can hold.
    if (config.status().message().size() > 1024) std::abort();
    return 0;
  }
  const NeoBertConfig& c = *config;
  if (c.hidden_size < 1 || c.hidden_size > kMaxHiddenSize) std::abort();
  if (c.num_attention_heads < 1 || c.hidden_size % c.num_attention_heads != 0) std::abort();
  if (c.rope && c.head_dim() % 2 != 0) std::abort();
  if (c.vocab_size < 1 || c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size) std::abort();
  if (c.ffn_width() <= 0 || !(c.norm_eps > 0)) std::abort();
  if (c.hidden_act != "swiglu" && c.hidden_act != "gelu") std::abort();
  return 0;
}
