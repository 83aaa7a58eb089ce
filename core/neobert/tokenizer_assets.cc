#include "core/neobert/tokenizer_assets.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;
// Sorted-key JSON: HF writes tokenizer_config.json and added_tokens.json with
// sort_keys=True, so re-dumping keeps their order. (ordered_json inserts in
// O(n), i.e. O(n^2) for a 250k-token vocab.) tokenizer.json is never
// re-dumped: placeholders are spliced into its text.
using Json = nlohmann::json;

constexpr const char* kReservedNames[] = {
    "config.json",       "model.safetensors",          "model.safetensors.index.json",
    "pytorch_model.bin", "pytorch_model.bin.index.json", "model.py",
    "rotary.py",         "README.md",                  "manifest.json",
};
constexpr int kMaxJsonDepth = 128;
constexpr const char* kSpecialKeys[] = {"cls_token", "sep_token", "pad_token", "mask_token",
                                        "unk_token"};

// A JSON object read through the door (base/json.h's limits). Errors name
// `shown`; a file reached through a symbolic link quotes nothing (its later
// checks get `*quote` false).
absl::StatusOr<Json> ParseJsonObject(const base::FsRoot& root, const std::string& path,
                                     const std::string& shown, uint64_t cap,
                                     std::string* text_out = nullptr, bool* quote = nullptr) {
  bool via_symlink = false;
  ASSIGN_OR_RETURN(std::string text, root.ReadFile(path, cap, &via_symlink), shown);
  if (quote != nullptr) *quote = !via_symlink;
  ASSIGN_OR_RETURN(Json j, base::ParseJsonObject(text, shown,
                                                 {.max_bytes = cap, .max_depth = kMaxJsonDepth},
                                                 /*quote=*/!via_symlink));
  if (text_out != nullptr) *text_out = std::move(text);
  return j;
}

// In valid JSON `text` whose top level is an object: the offset of the `]`
// that closes the array value of top-level key `key`. nullopt when the key
// is absent, not an array, or appears twice (the parser kept the last one).
std::optional<size_t> TopLevelArrayClose(absl::string_view text, absl::string_view key) {
  std::optional<size_t> found;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      const size_t start = i + 1;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      if (depth != 1) continue;
      const absl::string_view name = text.substr(start, i - start);
      size_t j = i + 1;
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size() || text[j] != ':' || name != key) continue;
      if (found.has_value()) return std::nullopt;
      for (++j; j < text.size() && std::isspace(static_cast<unsigned char>(text[j]));) ++j;
      if (j >= text.size() || text[j] != '[') return std::nullopt;
      // Find the matching bracket, skipping strings.
      int inner = 0;
      for (size_t k = j; k < text.size(); ++k) {
        if (text[k] == '"') {
          for (++k; k < text.size() && text[k] != '"'; ++k) {
            if (text[k] == '\\') ++k;
          }
        } else if (text[k] == '[' || text[k] == '{') {
          ++inner;
        } else if ((text[k] == ']' || text[k] == '}') && --inner == 0) {
          found = k;
          i = k;
          break;
        }
      }
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return found;
}

// tokenizer.json with `count` placeholder entries appended to added_tokens,
// every other byte unchanged.
std::optional<std::string> SplicePlaceholders(const std::string& text, int64_t first,
                                              int64_t count) {
  const std::optional<size_t> close = TopLevelArrayClose(text, "added_tokens");
  if (!close.has_value()) return std::nullopt;
  size_t last = *close;  // last non-space byte before `]`
  while (last > 0 && std::isspace(static_cast<unsigned char>(text[last - 1]))) --last;
  const bool empty = text[last - 1] == '[';
  std::string entries;
  for (int64_t id = first; id < first + count; ++id) {
    absl::StrAppend(&entries, (id == first && empty) ? "" : ",", "\n    {\"id\": ", id,
                    ", \"content\": \"", PlaceholderToken(id),
                    "\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                    "\"normalized\": true, \"special\": false}");
  }
  return absl::StrCat(text.substr(0, last), entries, "\n  ", text.substr(*close));
}

std::string Dump(const Json& j) {
  return j.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// A special-token value: "[CLS]" or {"content": "[CLS]", ...}.
std::optional<std::string> TokenContent(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

// cls/sep/pad/mask/unk: special_tokens_map.json first, then
// tokenizer_config.json. Any missing → INVALID_ARGUMENT naming the tokens.
absl::StatusOr<SpecialTokens> SpecialTokensFrom(const std::optional<Json>& smap,
                                                const std::optional<Json>& tcfg,
                                                const std::string& shown) {
  SpecialTokens special;
  std::string* slots[] = {&special.cls, &special.sep, &special.pad, &special.mask, &special.unk};
  std::vector<std::string> missing;
  for (int k = 0; k < 5; ++k) {
    std::optional<std::string> v;
    if (smap) v = TokenContent(*smap, kSpecialKeys[k]);
    if (!v && tcfg) v = TokenContent(*tcfg, kSpecialKeys[k]);
    if (v) {
      *slots[k] = *v;
    } else {
      missing.push_back(kSpecialKeys[k]);
    }
  }
  if (!missing.empty()) {
    std::vector<std::string> looked;
    if (smap) looked.push_back("special_tokens_map.json");
    if (tcfg) looked.push_back("tokenizer_config.json");
    return absl::InvalidArgumentError(absl::StrCat(shown, ": special tokens ",
                                                   absl::StrJoin(missing, ", "), " not found in ",
                                                   absl::StrJoin(looked, " or ")));
  }
  return special;
}

bool IsReserved(const std::string& name) {
  for (const char* r : kReservedNames) {
    if (name == r) return true;
  }
  return false;
}

// The files the plan parses (a folder by one of these names is an error, not
// a sub-folder to skip).
bool IsReadJson(const std::string& name) {
  return name == "tokenizer.json" || name == "special_tokens_map.json" ||
         name == "tokenizer_config.json" || name == "added_tokens.json";
}

// Regular files of the folder `dir` (canonical), name → path to read
// (symlinks resolved beneath the root). Sub-folders are skipped with a note;
// FIFOs, sockets and devices are refused by name and type.
absl::StatusOr<std::map<std::string, std::string>> ListFiles(const base::FsRoot& root,
                                                             const std::string& dir,
                                                             const std::string& shown,
                                                             std::vector<std::string>& notes) {
  ASSIGN_OR_RETURN(const std::vector<base::DirEntry> entries,
                   root.ListDirectory(dir, kMaxTokenizerDirEntries), shown, ": cannot list");
  std::map<std::string, std::string> files;
  const std::string inside = dir + "/";
  for (const base::DirEntry& e : entries) {
    const std::string& name = e.name;
    if (name.empty() || name[0] == '.') {
      notes.push_back(absl::StrCat("tokenizer: skipped hidden entry '", base::Excerpt(name), "'"));
      continue;
    }
    std::string target = inside + name;
    // What the entry is, links followed beneath the root (one leaving it is
    // PERMISSION_DENIED naming it, before anything behind it is looked at).
    ASSIGN_OR_RETURN(auto st, root.StatIfExists(target));
    if (!st.has_value()) {
      if (e.type == S_IFLNK) {
        notes.push_back(
            absl::StrCat("tokenizer: skipped dangling symlink '", base::Excerpt(name), "'"));
      }
      continue;  // or removed while listing
    }
    const mode_t mode = st->st_mode;
    if (S_ISDIR(mode) && !IsReadJson(name)) {
      notes.push_back(
          absl::StrCat("tokenizer: skipped '", base::Excerpt(name), "' (not a regular file)"));
      continue;
    }
    if (!S_ISREG(mode)) {
      return absl::InvalidArgumentError(absl::StrCat(shown, "/", name, ": is a ",
                                                     base::FileTypeName(mode),
                                                     ", not a regular file"));
    }
    if (e.type == S_IFLNK) {
      ASSIGN_OR_RETURN(auto resolved, root.RealPath(target));
      if (!absl::StartsWith(resolved, inside)) {
        return absl::InvalidArgumentError(absl::StrCat(shown, "/", name, ": symlink points to ",
                                                       resolved,
                                                       ", outside the tokenizer folder"));
      }
      target = resolved;
    }
    files.emplace(name, target);
  }
  return files;
}

// Token strings and ids of tokenizer.json (model vocab + added tokens).
struct Vocab {
  std::set<std::string> tokens;
  std::vector<int64_t> ids;
};

absl::StatusOr<Vocab> ReadVocab(const Json& tj, const std::string& shown) {
  Vocab v;
  auto model = tj.find("model");
  if (model == tj.end() || !model->is_object() || !model->contains("vocab")) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": model.vocab is missing"));
  }
  const Json& vocab = (*model)["vocab"];
  if (vocab.is_object()) {  // WordPiece / BPE / WordLevel: token → id
    for (const auto& [token, id] : vocab.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, ": model.vocab['", base::Excerpt(token),
                         "'] is not a non-negative integer id"));
      }
      v.tokens.insert(token);
      v.ids.push_back(id.get<int64_t>());
    }
  } else if (vocab.is_array()) {  // Unigram: [[token, score], ...], id = index
    for (size_t k = 0; k < vocab.size(); ++k) {
      const Json& e = vocab[k];
      if (!e.is_array() || e.empty() || !e[0].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, ": model.vocab[", k, "] is not a [token, score] pair"));
      }
      v.tokens.insert(e[0].get<std::string>());
      v.ids.push_back(static_cast<int64_t>(k));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": model.vocab must be an object or a list"));
  }
  auto added = tj.find("added_tokens");
  if (added != tj.end() && !added->is_null()) {
    if (!added->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(shown, ": added_tokens must be a list"));
    }
    for (size_t k = 0; k < added->size(); ++k) {
      const Json& e = (*added)[k];
      auto id = e.find("id");
      auto content = e.find("content");
      if (!e.is_object() || id == e.end() || !id->is_number_integer() ||
          id->get<int64_t>() < 0 || content == e.end() || !content->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            shown, ": added_tokens[", k, "] needs a non-negative integer id and a content"));
      }
      v.tokens.insert(content->get<std::string>());
      v.ids.push_back(id->get<int64_t>());
    }
  }
  std::sort(v.ids.begin(), v.ids.end());
  v.ids.erase(std::unique(v.ids.begin(), v.ids.end()), v.ids.end());
  return v;
}

}  // namespace

absl::StatusOr<SpecialTokens> ReadSpecialTokens(const base::FsRoot& root, const std::string& dir) {
  std::optional<Json> smap, tcfg;
  for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
    const std::string path = (fs::path(dir) / name).string();
    ASSIGN_OR_RETURN(auto exists, root.StatIfExists(path));
    if (!exists.has_value()) continue;
    ASSIGN_OR_RETURN(auto j, ParseJsonObject(root, path, path, kMaxTokenizerSmallJsonBytes));
    (name[0] == 's' ? smap : tcfg) = std::move(j);
  }
  if (!smap && !tcfg) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": neither special_tokens_map.json nor tokenizer_config.json exists"));
  }
  return SpecialTokensFrom(smap, tcfg, dir);
}

std::string PlaceholderToken(int64_t id) {
  return absl::StrCat("<|neobert_extra_token_", id, "|>");
}

namespace {

using FileMap = std::map<std::string, std::string>;  // name -> path in the tokenizer folder

const std::string* PathOf(const FileMap& files, const char* name) {
  auto it = files.find(name);
  return it == files.end() ? nullptr : &it->second;
}

// Special tokens (R17/R18, generalised to transformers 5's layout), from
// special_tokens_map.json and/or tokenizer_config.json; the latter is kept
// in *tcfg for rewriting.
absl::Status PlanSpecialTokens(const base::FsRoot& root, const FileMap& files,
                               const std::string& shown, TokenizerPlan& plan,
                               std::optional<Json>* tcfg) {
  std::optional<Json> smap;
  if (const std::string* p = PathOf(files, "special_tokens_map.json")) {
    ASSIGN_OR_RETURN(auto j, ParseJsonObject(root, *p, shown + "/special_tokens_map.json",
                                             kMaxTokenizerSmallJsonBytes));
    smap = std::move(j);
  }
  if (const std::string* p = PathOf(files, "tokenizer_config.json")) {
    ASSIGN_OR_RETURN(auto j, ParseJsonObject(root, *p, shown + "/tokenizer_config.json",
                                             kMaxTokenizerSmallJsonBytes));
    *tcfg = std::move(j);
  }
  if (!smap && !*tcfg) {
    return absl::NotFoundError(absl::StrCat(
        shown, ": neither special_tokens_map.json nor tokenizer_config.json exists"));
  }
  ASSIGN_OR_RETURN(plan.special, SpecialTokensFrom(smap, *tcfg, shown));
  return absl::OkStatus();
}

// The tokenizer as read: tokenizer.json's text and parse, and its size.
struct ReadTokenizer {
  const std::string* path = nullptr;
  std::string text;
  Json json;
  int64_t size = 0;  // tokens (ids 0..size-1)
};

// tokenizer.json, tokenizer_config.json and added_tokens.json rewritten for
// `extra` placeholder tokens after the tokenizer's own (and
// tokenizer_config.json's model_max_length in any case).
absl::Status PlanRewrites(const base::FsRoot& root, const FileMap& files, const std::string& shown,
                          const NeoBertConfig& config, const std::optional<Json>& tcfg,
                          ReadTokenizer& tok, int64_t extra, TokenizerPlan& plan) {
  const int64_t n = tok.size, V = config.vocab_size;
  try {
    if (extra > 0) {
      std::optional<std::string> spliced = SplicePlaceholders(tok.text, n, extra);
      if (!spliced.has_value()) {  // no added_tokens list to extend: re-dump
        Json& added = tok.json["added_tokens"];
        if (!added.is_array()) added = Json::array();
        for (int64_t id = n; id < V; ++id) {
          added.push_back(Json{{"id", id},           {"content", PlaceholderToken(id)},
                               {"single_word", false}, {"lstrip", false},
                               {"rstrip", false},      {"normalized", true},
                               {"special", false}});
        }
        spliced = Dump(tok.json);
      }
      plan.files.push_back({"tokenizer.json", *std::move(spliced), *tok.path});
      plan.notes.push_back(absl::StrCat("tokenizer: added ", extra, " placeholder tokens (ids ", n,
                                        "..", V - 1, ") to match vocab_size ", V));
    }
    Json cfg = tcfg ? *tcfg : Json::object();
    if (!tcfg) {
      cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
      const std::string* slots[] = {&plan.special.cls, &plan.special.sep, &plan.special.pad,
                                    &plan.special.mask, &plan.special.unk};
      for (int k = 0; k < 5; ++k) cfg[kSpecialKeys[k]] = *slots[k];
      plan.notes.push_back("tokenizer: created tokenizer_config.json (none in the checkpoint)");
    }
    cfg["model_max_length"] = config.max_position_embeddings;
    if (extra > 0) {
      Json& decoder = cfg["added_tokens_decoder"];
      if (!decoder.is_object()) decoder = Json::object();
      for (int64_t id = n; id < V; ++id) {
        decoder[absl::StrCat(id)] = Json{{"content", PlaceholderToken(id)}, {"lstrip", false},
                                         {"normalized", true},            {"rstrip", false},
                                         {"single_word", false},          {"special", false}};
      }
    }
    const std::string* cfg_path = PathOf(files, "tokenizer_config.json");
    plan.files.push_back({"tokenizer_config.json", Dump(cfg), cfg_path ? *cfg_path : ""});

    if (const std::string* p = PathOf(files, "added_tokens.json"); p != nullptr && extra > 0) {
      ASSIGN_OR_RETURN(auto at, ParseJsonObject(root, *p, shown + "/added_tokens.json",
                                                kMaxTokenizerSmallJsonBytes));
      for (int64_t id = n; id < V; ++id) at[PlaceholderToken(id)] = id;
      plan.files.push_back({"added_tokens.json", Dump(at), *p});
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": cannot rewrite tokenizer files: ",
                                                   e.what()));
  }

  return absl::OkStatus();
}

// Everything else in the folder is copied as is, but for the files the
// exporter writes itself and files too large or unreadable (each noted).
void PlanCopies(const base::FsRoot& root, const FileMap& files, TokenizerPlan& plan) {
  std::set<std::string> planned;
  for (const TokenizerFile& f : plan.files) planned.insert(f.name);
  for (const auto& [name, path] : files) {
    if (planned.count(name)) continue;
    if (IsReserved(name)) {
      plan.notes.push_back(
          absl::StrCat("tokenizer: skipped '", name, "' (the exporter writes that file)"));
      continue;
    }
    auto size = root.StatIfExists(path);
    if (!size.ok() || !size->has_value() ||
        static_cast<uint64_t>((*size)->st_size) > kMaxCopiedTokenizerFileBytes) {
      plan.notes.push_back(absl::StrCat("tokenizer: skipped '", base::Excerpt(name), "' (",
                                        size.ok() && size->has_value() ? "too large"
                                                                       : "unreadable",
                                        ")"));
      continue;
    }
    plan.files.push_back({name, std::nullopt, path});
  }
}

}  // namespace

absl::StatusOr<TokenizerPlan> PlanTokenizerAssets(const base::FsRoot& root,
                                                  const std::string& tokenizer_dir,
                                                  const NeoBertConfig& config) {
  const std::string& shown = tokenizer_dir;
  // Fails e.g. for a tokenizer/ link leaving the root.
  ASSIGN_OR_RETURN(auto st, root.StatIfExists(tokenizer_dir));
  if (!st.has_value()) {
    return absl::NotFoundError(absl::StrCat(shown, ": tokenizer folder not found"));
  }
  if (!S_ISDIR(st->st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(shown, ": not a directory (a ",
                                                   base::FileTypeName(st->st_mode), ")"));
  }
  ASSIGN_OR_RETURN(auto dir, root.RealPath(tokenizer_dir));
  TokenizerPlan plan;
  ASSIGN_OR_RETURN(const auto files, ListFiles(root, dir, shown, plan.notes));  // name -> path
  std::optional<Json> tcfg;
  RETURN_IF_ERROR(PlanSpecialTokens(root, files, shown, plan, &tcfg));

  // Vocabulary size and alignment (R19).
  ReadTokenizer tok;
  tok.path = PathOf(files, "tokenizer.json");
  if (tok.path == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        shown, ": tokenizer.json not found (only fast tokenizers are supported)"));
  }
  const std::string tok_shown = shown + "/tokenizer.json";
  bool quote_tokenizer = true;
  ASSIGN_OR_RETURN(tok.json, ParseJsonObject(root, *tok.path, tok_shown, kMaxTokenizerJsonBytes,
                                             &tok.text, &quote_tokenizer));
  auto vocab = ReadVocab(tok.json, tok_shown);
  if (!vocab.ok()) {
    return quote_tokenizer ? vocab.status() : base::WithoutContent(vocab.status(), tok_shown);
  }
  const int64_t n = static_cast<int64_t>(vocab->ids.size());
  const int64_t V = config.vocab_size;
  if (n > V) {
    return absl::InvalidArgumentError(absl::StrCat(tok_shown, ": tokenizer has ", n,
                                                   " tokens, more than model.vocab_size ", V));
  }
  if (n > 0 && vocab->ids.back() != n - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        tok_shown, ": token ids are not contiguous (", n, " distinct ids, largest ",
        vocab->ids.back(), ")"));
  }
  plan.tokenizer_size = tok.size = n;
  plan.metaspace = vocab->tokens.count("\xE2\x96\x81") > 0 && plan.special.unk != "\xE2\x96\x81";
  const int64_t extra = V - n;
  if (extra > kMaxPlaceholderTokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        tok_shown, ": tokenizer has ", n, " tokens but model.vocab_size is ", V,
        "; refusing to add more than ", kMaxPlaceholderTokens, " placeholder tokens"));
  }
  for (int64_t id = n; id < V; ++id) {
    if (vocab->tokens.count(PlaceholderToken(id))) {
      return absl::InvalidArgumentError(absl::StrCat(
          tok_shown, ": placeholder ", PlaceholderToken(id), " already exists with another id"));
    }
  }
  plan.placeholders_added = extra;

  RETURN_IF_ERROR(PlanRewrites(root, files, shown, config, tcfg, tok, extra, plan));
  PlanCopies(root, files, plan);
  std::sort(plan.files.begin(), plan.files.end(),
            [](const TokenizerFile& a, const TokenizerFile& b) { return a.name < b.name; });
  return plan;
}

}  // namespace neobert::core
