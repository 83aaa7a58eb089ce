// Post-processors of tokenizer.json ("post_processor" section) for a single
// sequence: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel
// (offsets only, so no effect on ids) and Sequence.
//
// Thread-safety: immutable after parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/tokenizer/normalized_string.h"

namespace neobert::tokenizer {

// One encoded sequence while it is being assembled.
struct TokenSequence {
  std::vector<Token> tokens;
  std::vector<uint32_t> type_ids;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Number of tokens Process adds to a single sequence.
  virtual size_t AddedTokens() const = 0;
  virtual void Process(TokenSequence* seq, bool add_special_tokens) const = 0;
};

absl::StatusOr<std::unique_ptr<PostProcessor>> ParsePostProcessor(const nlohmann::json& j,
                                                                  const std::string& where,
                                                                  int depth = 0);

}  // namespace neobert::tokenizer
