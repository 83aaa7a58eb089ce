// Byte-pair encoding as the reference library runs it: each character of the
// piece (with the continuing-subword prefix after the first and the
// end-of-word suffix on the last) becomes a symbol, unknown characters go to
// byte fallback or the unknown token, then the merge with the lowest rank
// (leftmost among equals) is applied until none applies.
#include <cstdint>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/models.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

using json_util::Json;

struct PairHash {
  size_t operator()(const std::pair<uint32_t, uint32_t>& p) const {
    return absl::HashOf(p.first, p.second);
  }
};

struct MergeInfo {
  uint32_t rank, new_id;
};

class Bpe : public Model {
 public:
  struct Options {
    std::optional<std::string> unk, prefix, suffix;
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  };

  Bpe(Vocab vocab, absl::flat_hash_map<std::pair<uint32_t, uint32_t>, MergeInfo, PairHash> merges,
      Options opt)
      : vocab_(std::move(vocab)), merges_(std::move(merges)), opt_(std::move(opt)) {}

  absl::Status Tokenize(const std::u32string& piece, std::vector<Token>* out) const override {
    if (piece.empty()) return absl::OkStatus();
    if (opt_.ignore_merges) {
      std::string whole = unicode::ToUtf8(piece);
      if (std::optional<uint32_t> id = vocab_.Find(whole)) {
        out->push_back({*id, std::move(whole)});
        return absl::OkStatus();
      }
    }
    std::vector<Symbol> word;
    RETURN_IF_ERROR(InitialSymbols(piece, &word));
    MergeAll(&word);
    for (const Symbol& s : word) {
      if (s.len == 0) continue;
      std::optional<std::string> value = vocab_.Token(s.id);
      out->push_back({s.id, value.value_or(std::string())});
    }
    return absl::OkStatus();
  }

  std::optional<uint32_t> TokenToId(const std::string& t) const override { return vocab_.Find(t); }
  std::optional<std::string> IdToToken(uint32_t id) const override { return vocab_.Token(id); }
  size_t VocabSize() const override { return vocab_.ids.size(); }

 private:
  struct Symbol {
    uint32_t id;
    int64_t prev, next;
    size_t len;  // bytes; 0 once merged into its left neighbour
  };

  static void Add(std::vector<Symbol>* w, uint32_t id, size_t len) {
    const int64_t n = static_cast<int64_t>(w->size());
    if (!w->empty()) w->back().next = n;
    w->push_back({id, n - 1, -1, len});
  }

  absl::Status InitialSymbols(const std::u32string& piece, std::vector<Symbol>* w) const {
    // The pending unknown token (id, bytes); GCC mis-tracks std::optional here.
    bool has_unk = false;
    uint32_t unk_id = 0;
    size_t unk_len = 0;
    std::string s;
    for (size_t i = 0; i < piece.size(); ++i) {
      s.clear();
      if (i > 0 && opt_.prefix.has_value()) s = *opt_.prefix;
      const size_t char_bytes = static_cast<size_t>(unicode::Utf8Length(piece[i]));
      unicode::AppendUtf8(piece[i], &s);
      if (i + 1 == piece.size() && opt_.suffix.has_value()) s += *opt_.suffix;
      if (std::optional<uint32_t> id = vocab_.Find(s)) {
        if (has_unk) {
          Add(w, unk_id, unk_len);
          has_unk = false;
        }
        Add(w, *id, char_bytes);
        continue;
      }
      if (opt_.byte_fallback) {
        std::vector<uint32_t> ids;
        for (unsigned char b : s) {
          std::optional<uint32_t> id = vocab_.Find(absl::StrFormat("<0x%02X>", b));
          if (!id.has_value()) break;
          ids.push_back(*id);
        }
        if (ids.size() == s.size()) {
          // The library leaves a pending unknown in place here (it is flushed
          // by the next known character), so byte tokens may precede it.
          for (uint32_t id : ids) Add(w, id, 1);
          continue;
        }
      }
      if (!opt_.unk.has_value()) continue;  // no unknown token: the character is dropped
      if (has_unk && opt_.fuse_unk) {
        unk_len += char_bytes;
        continue;
      }
      if (has_unk) Add(w, unk_id, unk_len);
      std::optional<uint32_t> id = vocab_.Find(*opt_.unk);
      if (!id.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("BPE model: unknown token '", base::Excerpt(*opt_.unk), "' is not in the vocabulary"));
      }
      has_unk = true;
      unk_id = *id;
      unk_len = char_bytes;
    }
    if (has_unk) Add(w, unk_id, unk_len);
    return absl::OkStatus();
  }

  const MergeInfo* FindMerge(uint32_t a, uint32_t b) const {
    auto it = merges_.find(std::make_pair(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  void MergeAll(std::vector<Symbol>* w) const {
    struct Candidate {
      size_t pos;
      uint32_t rank, new_id;
    };
    // Lowest rank first, then leftmost.
    auto worse = [](const Candidate& a, const Candidate& b) {
      return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
    for (size_t i = 0; i + 1 < w->size(); ++i) {
      if (const MergeInfo* m = FindMerge((*w)[i].id, (*w)[i + 1].id)) {
        queue.push({i, m->rank, m->new_id});
      }
    }
    std::vector<Symbol>& s = *w;
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      if (s[top.pos].len == 0 || s[top.pos].next == -1) continue;
      const size_t next = static_cast<size_t>(s[top.pos].next);
      const Symbol right = s[next];
      const MergeInfo* still = FindMerge(s[top.pos].id, right.id);
      if (still == nullptr || still->new_id != top.new_id) continue;  // stale entry
      s[top.pos].id = top.new_id;
      s[top.pos].len += right.len;
      s[top.pos].next = right.next;
      s[next].len = 0;
      if (right.next > -1 && static_cast<size_t>(right.next) < s.size()) {
        s[static_cast<size_t>(right.next)].prev = static_cast<int64_t>(top.pos);
      }
      const Symbol& cur = s[top.pos];
      if (cur.prev >= 0) {
        const size_t prev = static_cast<size_t>(cur.prev);
        if (const MergeInfo* m = FindMerge(s[prev].id, cur.id)) queue.push({prev, m->rank, m->new_id});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < s.size()) {
        if (const MergeInfo* m = FindMerge(cur.id, s[static_cast<size_t>(cur.next)].id)) {
          queue.push({top.pos, m->rank, m->new_id});
        }
      }
    }
  }

  Vocab vocab_;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, MergeInfo, PairHash> merges_;
  Options opt_;
};

absl::StatusOr<std::optional<std::string>> OptString(const Json& j, const char* key,
                                                     const std::string& where) {
  if (json_util::Find(j, key) == nullptr) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string s, json_util::GetString(j, key, where, std::nullopt));
  return std::optional<std::string>(std::move(s));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ParseBpe(const Json& j, const std::string& where) {
  using json_util::Field;
  const Json* vj = json_util::Find(j, "vocab");
  const Json* mj = json_util::Find(j, "merges");
  if (vj == nullptr || mj == nullptr) return json_util::Invalid(where, "BPE model needs vocab and merges");
  ASSIGN_OR_RETURN(Vocab vocab, ParseVocab(*vj, Field(where, "vocab")));

  Bpe::Options opt;
  if (const Json* d = json_util::Find(j, "dropout"); d != nullptr) {
    if (!d->is_number()) return json_util::Invalid(Field(where, "dropout"), "expected a number");
    const double p = d->get<double>();
    if (!(p >= 0.0 && p <= 1.0)) return json_util::Invalid(Field(where, "dropout"), "must be within [0, 1]");
    if (p > 0.0) {
      return json_util::Unsupported(Field(where, "dropout"),
                                    "BPE dropout > 0 makes encoding random; not supported");
    }
  }
  for (auto [key, dst] : {std::pair{"unk_token", &opt.unk},
                          std::pair{"continuing_subword_prefix", &opt.prefix},
                          std::pair{"end_of_word_suffix", &opt.suffix}}) {
    ASSIGN_OR_RETURN(std::optional<std::string> v, OptString(j, key, where));
    *dst = std::move(v);
  }
  for (auto [key, dst] : {std::pair{"fuse_unk", &opt.fuse_unk}, std::pair{"byte_fallback", &opt.byte_fallback},
                          std::pair{"ignore_merges", &opt.ignore_merges}}) {
    ASSIGN_OR_RETURN(bool v, json_util::GetBool(j, key, where, false));
    *dst = v;
  }

  const std::string mw = Field(where, "merges");
  RETURN_IF_ERROR(json_util::ExpectArray(*mj, mw));
  if (mj->size() > kMaxMerges) return json_util::Invalid(mw, "too many merges");
  const size_t prefix_len = opt.prefix.has_value() ? opt.prefix->size() : 0;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, MergeInfo, PairHash> merges;
  merges.reserve(mj->size());
  // Either every entry is a [left, right] pair or every entry is "left right".
  const bool legacy = !mj->empty() && (*mj)[0].is_string();
  for (size_t i = 0; i < mj->size(); ++i) {
    const Json& m = (*mj)[i];
    const std::string iw = json_util::Index(mw, i);
    std::string a, b;
    if (legacy) {
      if (!m.is_string()) return json_util::Invalid(iw, "expected \"left right\" like the first merge");
      const std::string line = m.get<std::string>();
      const size_t sp = line.find(' ');
      if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) {
        return json_util::Invalid(iw, absl::StrCat("merge '", base::Excerpt(line), "' is not two space-separated tokens"));
      }
      a = line.substr(0, sp);
      b = line.substr(sp + 1);
    } else {
      if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string()) {
        return json_util::Invalid(iw, absl::StrCat("expected [left, right], got ", json_util::Show(m)));
      }
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    }
    std::optional<uint32_t> a_id = vocab.Find(a), b_id = vocab.Find(b);
    if (!a_id.has_value() || !b_id.has_value()) {
      return json_util::Invalid(iw, absl::StrCat("merge token '", base::Excerpt(a_id ? b : a), "' is not in the vocabulary"));
    }
    if (b.size() < prefix_len) {
      return json_util::Invalid(iw, absl::StrCat("merge token '", base::Excerpt(b), "' is shorter than the subword prefix"));
    }
    std::optional<uint32_t> new_id = vocab.Find(a + b.substr(prefix_len));
    if (!new_id.has_value()) {
      return json_util::Invalid(iw, absl::StrCat("merged token '", base::Excerpt(a + b.substr(prefix_len)),
                                                 "' is not in the vocabulary"));
    }
    // A repeated pair keeps its last rank, as the library's map does.
    merges[std::make_pair(*a_id, *b_id)] = MergeInfo{static_cast<uint32_t>(i), *new_id};
  }
  return std::make_unique<Bpe>(std::move(vocab), std::move(merges), std::move(opt));
}

}  // namespace neobert::tokenizer
