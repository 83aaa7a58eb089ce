#include "core/neobert/checkpoint_config.h"

#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"

namespace neobert::core {
namespace {

// R3, in the order the reference lists them.
constexpr const char* kRequiredFields[] = {
    "hidden_size",  "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "vocab_size",   "max_position_embeddings", "norm_eps",      "pad_token_id",
    "rope",         "rms_norm",          "hidden_act",
};

// Field access with typed conversion; every failure names file and field.
class ModelSection {
 public:
  ModelSection(const YAML::Node& node, const std::string& source)
      : node_(node), source_(source) {}

  // Absent and null both count as "not given".
  bool Has(const char* key) const {
    const YAML::Node v = node_[key];
    return v.IsDefined() && !v.IsNull();
  }

  absl::StatusOr<int64_t> Int(const char* key, int64_t lo, int64_t hi) const {
    const YAML::Node v = node_[key];
    int64_t out = 0;
    if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, out)) {
      return Bad(key, v, "an integer");
    }
    if (out < lo || out > hi) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": model.", key, " = ", out,
                                                     " is out of range [", lo, ", ", hi, "]"));
    }
    return out;
  }

  absl::StatusOr<bool> Bool(const char* key) const {
    const YAML::Node v = node_[key];
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) return Bad(key, v, "a boolean");
    return out;
  }

  absl::StatusOr<double> Float(const char* key) const {
    const YAML::Node v = node_[key];
    double out = 0;
    if (!v.IsScalar() || !YAML::convert<double>::decode(v, out)) return Bad(key, v, "a number");
    if (!std::isfinite(out)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": model.", key, " must be finite, got '",
                       base::Excerpt(v.Scalar()), "'"));
    }
    return out;
  }

  absl::StatusOr<std::string> String(const char* key) const {
    const YAML::Node v = node_[key];
    if (!v.IsScalar()) return Bad(key, v, "a string");
    return v.Scalar();
  }

 private:
  absl::Status Bad(const char* key, const YAML::Node& v, const char* what) const {
    std::string shown = !v.IsDefined() ? std::string("nothing")
                        : v.IsScalar()   ? absl::StrCat("'", base::Excerpt(v.Scalar()), "'")
                        : v.IsSequence() ? std::string("a list")
                        : v.IsMap()      ? std::string("a mapping")
                                         : std::string("nothing");
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": model.", key, " must be ", what, ", got ", shown));
  }

  const YAML::Node& node_;
  const std::string& source_;
};

// yaml-cpp throws when a missing key's node is asked its type; ask
// IsDefined() first.
bool IsScalarNode(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }

std::string DatasetName(const YAML::Node& root) {
  const YAML::Node ds = root["dataset"];
  if (!ds.IsDefined() || !ds.IsMap()) return "";
  const YAML::Node name = ds["name"];
  if (IsScalarNode(name) && !name.Scalar().empty()) return name.Scalar();
  const YAML::Node path = ds["path"];
  if (!IsScalarNode(path)) return "";
  std::string p = path.Scalar();
  // A trailing slash would otherwise give an empty name.
  while (!p.empty() && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// The model card re-dumps the document; the trainer's yaml.dump wrote block
// style, so hand-edited flow collections are switched to block too. The
// visit budget matters because aliases turn the tree into a DAG with
// exponentially many paths; past it the remaining styles are left alone.
void UseBlockStyle(YAML::Node node, int64_t& budget) {
  if (--budget < 0) return;
  if ((node.IsMap() || node.IsSequence()) && node.size() == 0) {
    node.SetStyle(YAML::EmitterStyle::Flow);  // `key: []`, as PyYAML writes it
  } else if (node.IsMap()) {
    node.SetStyle(YAML::EmitterStyle::Block);
    for (auto kv : node) UseBlockStyle(kv.second, budget);
  } else if (node.IsSequence()) {
    node.SetStyle(YAML::EmitterStyle::Block);
    for (auto item : node) UseBlockStyle(item, budget);
  }
}

absl::StatusOr<NeoBertConfig> ParseModel(const YAML::Node& root, const std::string& source) {
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": top level must be a mapping with a 'model' section"));
  }
  const YAML::Node model = root["model"];
  if (!model.IsDefined() || model.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": missing 'model' section"));
  }
  if (!model.IsMap() || model.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": 'model' section must be a non-empty mapping"));
  }
  // yaml-cpp keeps the first of duplicate keys, PyYAML the last: refuse the
  // ambiguity instead of silently picking one.
  std::set<std::string> seen;
  for (const auto& kv : model) {
    if (!kv.first.IsScalar()) continue;
    if (!seen.insert(kv.first.Scalar()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": duplicate key model.", base::Excerpt(kv.first.Scalar())));
    }
  }

  ModelSection m(model, source);
  std::vector<std::string> missing;
  for (const char* key : kRequiredFields) {
    if (!m.Has(key)) missing.push_back(key);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model section is missing required fields: ", absl::StrJoin(missing, ", ")));
  }

  NeoBertConfig c;
  // R12 before anything shape-related: ngpt checkpoints have other tensors.
  if (m.Has("ngpt")) {
    ASSIGN_OR_RETURN(c.ngpt, m.Bool("ngpt"));
    if (c.ngpt) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": model.ngpt is true; nGPT (NormNeoBERT) checkpoints are not "
                               "supported"));
    }
  }
  ASSIGN_OR_RETURN(c.hidden_act, m.String("hidden_act"));
  c.hidden_act = absl::AsciiStrToLower(c.hidden_act);
  if (c.hidden_act != "swiglu" && c.hidden_act != "gelu") {  // R8
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model.hidden_act '", base::Excerpt(c.hidden_act),
        "' is not supported (swiglu or gelu)"));
  }
  ASSIGN_OR_RETURN(c.hidden_size, m.Int("hidden_size", 1, kMaxHiddenSize));
  ASSIGN_OR_RETURN(c.num_hidden_layers, m.Int("num_hidden_layers", 1, kMaxLayers));
  ASSIGN_OR_RETURN(c.num_attention_heads, m.Int("num_attention_heads", 1, c.hidden_size));
  ASSIGN_OR_RETURN(c.intermediate_size, m.Int("intermediate_size", 1, kMaxIntermediateSize));
  ASSIGN_OR_RETURN(c.max_position_embeddings, m.Int("max_position_embeddings", 1, kMaxPositions));
  ASSIGN_OR_RETURN(c.vocab_size, m.Int("vocab_size", 1, kMaxVocabSize));
  // The embedding's padding row must exist (torch refuses padding_idx >= V).
  ASSIGN_OR_RETURN(c.pad_token_id, m.Int("pad_token_id", 0, c.vocab_size - 1));
  ASSIGN_OR_RETURN(c.rope, m.Bool("rope"));
  ASSIGN_OR_RETURN(c.rms_norm, m.Bool("rms_norm"));
  ASSIGN_OR_RETURN(c.norm_eps, m.Float("norm_eps"));
  if (c.norm_eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": model.norm_eps must be positive, got ", c.norm_eps));
  }

  if (c.hidden_size % c.num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model.hidden_size ", c.hidden_size,
        " is not divisible by model.num_attention_heads ", c.num_attention_heads));
  }
  if (c.rope && c.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": head dim hidden_size/num_attention_heads = ", c.head_dim(),
        " must be even with rope: true"));
  }
  if (c.swiglu() && SwiGluWidth(c.intermediate_size) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model.intermediate_size ", c.intermediate_size, " is too small for swiglu"));
  }

  // §3.3: `dropout` wins over the deprecated `dropout_prob`.
  const char* dropout_key = m.Has("dropout") ? "dropout"
                            : m.Has("dropout_prob") ? "dropout_prob"
                                                    : nullptr;
  if (dropout_key != nullptr) {
    ASSIGN_OR_RETURN(c.dropout, m.Float(dropout_key));
    if (c.dropout < 0 || c.dropout > 1) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": model.", dropout_key,
                                                     " must be in [0, 1], got ", c.dropout));
    }
  }
  for (auto [key, field] : {std::pair<const char*, double*>{"embedding_init_range",
                                                             &c.embedding_init_range},
                            {"decoder_init_range", &c.decoder_init_range}}) {
    if (!m.Has(key)) continue;
    ASSIGN_OR_RETURN(*field, m.Float(key));
    if (*field < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": model.", key, " must not be negative, got ", *field));
    }
  }
  if (m.Has("attn_backend")) {
    ASSIGN_OR_RETURN(c.attn_backend, m.String("attn_backend"));
  }
  // The project's own loader treats backend names case-insensitively.
  c.flash_attention = absl::AsciiStrToLower(c.attn_backend) != "sdpa";

  c.dataset_name = DatasetName(root);
  int64_t budget = 1 << 20;
  UseBlockStyle(root, budget);
  c.raw = root;
  return c;
}

}  // namespace

int64_t NeoBertConfig::ffn_width() const {
  return swiglu() ? SwiGluWidth(intermediate_size) : intermediate_size;
}

int64_t SwiGluWidth(int64_t intermediate_size) {
  const int64_t r = (2 * intermediate_size) / 3;
  return 8 * ((r + 7) / 8);
}

absl::StatusOr<NeoBertConfig> ParseCheckpointConfig(const std::string& yaml_text,
                                                    const std::string& source) {
  if (yaml_text.size() > kMaxConfigYamlBytes) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", yaml_text.size(),
                                                   " bytes exceeds the limit of ",
                                                   kMaxConfigYamlBytes));
  }
  try {
    YAML::Node root = YAML::Load(yaml_text);
    return ParseModel(root, source);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.msg));
    // The line that failed, shortened and escaped: never more of the file.
    const auto line = static_cast<size_t>(e.mark.line);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid YAML at line ", line + 1, ", column ", e.mark.column + 1,
                     ": ", e.msg, " (in '", base::Excerpt(base::LineOf(yaml_text, line)), "')"));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": cannot parse: ", e.what()));
  }
}

absl::StatusOr<NeoBertConfig> LoadCheckpointConfig(const base::FsRoot& root,
                                                   const std::string& path) {
  bool via_symlink = false;
  ASSIGN_OR_RETURN(auto text, root.ReadFile(path, kMaxConfigYamlBytes, &via_symlink));
  auto config = ParseCheckpointConfig(text, path);
  if (via_symlink && !config.ok()) return base::WithoutContent(config.status(), path);
  return config;
}

}  // namespace neobert::core
