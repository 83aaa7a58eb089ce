// Tokenizer: loads a Hugging Face tokenizer.json and encodes text exactly as
// the reference library (HF `tokenizers`, Rust) does for single sequences:
//
//   text -> added tokens split out (raw, then per-piece normalizer + normalized
//   added tokens) -> pre-tokenizer -> model on every remaining piece ->
//   truncation (tokenizer.json "truncation") -> post-processor (special tokens)
//   -> padding (tokenizer.json "padding").
//
// Supported components are listed in normalizers.h, pre_tokenizers.h,
// models.h and post_processors.h; anything else makes loading fail with
// UNIMPLEMENTED and a message naming the component type and its JSON path,
// never a silently different encoding. The "decoder" section serves only
// DecodeToken (one token for display, decoders.h); sequences are not
// decoded. Pair encoding is not provided.
//
// Errors: INVALID_ARGUMENT for a malformed file or input text that is not
// UTF-8, UNIMPLEMENTED for unsupported components, NOT_FOUND for a missing
// file, FAILED_PRECONDITION when the model needs an unknown token its
// vocabulary lacks (the reference fails there too) or a batch must be padded
// without a pad id. Messages name the origin (file path) and JSON field.
//
// Thread-safety: a loaded Tokenizer is immutable; Encode / EncodeBatch may be
// called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::tokenizer {

// Hard caps.
inline constexpr uint64_t kMaxTokenizerJsonBytes = uint64_t{512} << 20;
inline constexpr size_t kMaxEncodeInputBytes = size_t{8} << 20;

struct Encoding {
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;        // UTF-8, as the library reports them
  std::vector<uint32_t> attention_mask;   // 1 for every token, 0 for padding
  std::vector<uint32_t> type_ids;         // from the post-processor template
};

class Model;
class Normalizer;
class PreTokenizer;
class PostProcessor;
class AddedVocabulary;
class TokenDecoder;
struct TruncationParams;
struct PaddingParams;

class Tokenizer {
 public:
  // Reads a tokenizer.json file through the door beneath `root`
  // (core/base/fs_root.h: a regular file, at most kMaxTokenizerJsonBytes).
  // Errors about a file reached through a symbolic link quote nothing of it.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const base::FsRoot& root,
                                                             const std::string& path);
  // Parses tokenizer.json text; `origin` names it in error messages.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(const std::string& text,
                                                             const std::string& origin);
  ~Tokenizer();

  // Encodes one UTF-8 text (at most kMaxEncodeInputBytes).
  absl::StatusOr<Encoding> Encode(const std::string& text, bool add_special_tokens = true) const;

  // Encodes every text; with `pad`, pads all rows to the longest one using the
  // tokenizer.json "padding" settings (strategy, side, multiple) when present,
  // else on the right. The pad id is `pad_id` if given, else the padding
  // section's pad_id; with neither, FAILED_PRECONDITION.
  absl::StatusOr<std::vector<Encoding>> EncodeBatch(const std::vector<std::string>& texts,
                                                    bool pad = true,
                                                    std::optional<uint32_t> pad_id = std::nullopt,
                                                    bool add_special_tokens = true) const;

  // Added tokens first, then the model vocabulary.
  std::optional<uint32_t> TokenToId(const std::string& token) const;
  std::optional<std::string> IdToToken(uint32_t id) const;
  // Model vocabulary, plus added tokens that are not in it.
  size_t VocabSize(bool with_added_tokens = true) const;
  // pad_id of the tokenizer.json "padding" section, if any.
  std::optional<uint32_t> PaddingId() const;
  // The text a vocabulary token stands for, per the "decoder" section
  // (decoders.h: "##" continuations, Metaspace "▁", GPT-2 byte characters).
  std::string DecodeToken(const std::string& token) const;

 private:
  Tokenizer();
  absl::Status Load(const std::string& text, const std::string& origin);
  void Pad(std::vector<Encoding>* batch, size_t length, uint32_t pad_id, const std::string& pad_token,
           bool left) const;

  std::string origin_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<AddedVocabulary> added_;
  std::unique_ptr<TruncationParams> truncation_;
  std::unique_ptr<PaddingParams> padding_;
  std::unique_ptr<TokenDecoder> decoder_;
};

}  // namespace neobert::tokenizer
