#include "core/export/export_folder.h"

#include <cstdint>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "core/format/weights.h"

namespace neobert::core {
namespace fs = std::filesystem;

namespace {
constexpr uint64_t kMaxConfigJsonBytes = 1 << 20;
constexpr uint64_t kMaxIndexJsonBytes = 64 << 20;
}  // namespace

absl::StatusOr<engine::ModelSpec> ReadExportSpec(const base::FsRoot& root,
                                                 const std::string& export_dir) {
  const std::string path = (fs::path(export_dir) / "config.json").string();
  bool via_symlink = false;
  ASSIGN_OR_RETURN(const std::string text, root.ReadFile(path, kMaxConfigJsonBytes, &via_symlink));
  auto spec = engine::ModelSpecFromHfConfigJson(text, path);
  if (via_symlink && !spec.ok()) return base::WithoutContent(spec.status(), path);
  return spec;
}

absl::StatusOr<std::vector<format::TensorEntry>> ReadExportWeights(
    const base::FsRoot& root, const std::string& export_dir) {
  const fs::path dir(export_dir);
  std::vector<std::string> files;
  ASSIGN_OR_RETURN(const auto single, root.StatIfExists((dir / "model.safetensors").string()));
  ASSIGN_OR_RETURN(const auto index_st,
                   root.StatIfExists((dir / "model.safetensors.index.json").string()));
  if (single.has_value()) {
    files.push_back("model.safetensors");
  } else if (index_st.has_value()) {
    ASSIGN_OR_RETURN(const nlohmann::json index,
                     base::ReadJsonObject(root, (dir / "model.safetensors.index.json").string(),
                                          {.max_bytes = kMaxIndexJsonBytes, .max_depth = 16}));
    const auto map = index.find("weight_map");
    if (map == index.end() || !map->is_object()) {
      return absl::InvalidArgumentError("model.safetensors.index.json: no weight_map object");
    }
    std::set<std::string> shards;
    for (const auto& [name, file] : map->items()) {
      if (!file.is_string()) {
        return absl::InvalidArgumentError(
            "model.safetensors.index.json: weight_map values must be file names");
      }
      shards.insert(file.get<std::string>());
    }
    files.assign(shards.begin(), shards.end());
  } else {
    return absl::NotFoundError(
        absl::StrCat(export_dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  std::vector<format::TensorEntry> out;
  for (const auto& f : files) {
    if (f.find('/') != std::string::npos || f.find("..") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("index names an unsafe shard '", base::Excerpt(f), "'"));
    }
    ASSIGN_OR_RETURN(const format::TensorSet set, format::ReadWeights(root, (dir / f).string()));
    out.insert(out.end(), set.tensors.begin(), set.tensors.end());
  }
  return out;
}

absl::StatusOr<std::unique_ptr<engine::NeoBertModel>> LoadExportModel(
    const base::FsRoot& root, const std::string& export_dir,
    const engine::EngineOptions& options) {
  ASSIGN_OR_RETURN(const engine::ModelSpec spec, ReadExportSpec(root, export_dir));
  ASSIGN_OR_RETURN(const std::vector<format::TensorEntry> weights,
                   ReadExportWeights(root, export_dir));
  return engine::NeoBertModel::Create(spec, weights, options);
}

absl::StatusOr<ExportTokenizer> LoadExportTokenizer(const base::FsRoot& root,
                                                    const std::string& export_dir) {
  ExportTokenizer out;
  ASSIGN_OR_RETURN(
      out.tokenizer,
      tokenizer::Tokenizer::FromFile(root, (fs::path(export_dir) / "tokenizer.json").string()));
  ASSIGN_OR_RETURN(out.special, ReadSpecialTokens(root, export_dir));
  const std::pair<const std::string*, uint32_t*> slots[] = {
      {&out.special.cls, &out.cls_id}, {&out.special.sep, &out.sep_id},
      {&out.special.pad, &out.pad_id}, {&out.special.mask, &out.mask_id},
      {&out.special.unk, &out.unk_id}};
  for (const auto& [token, id] : slots) {
    auto found = out.tokenizer->TokenToId(*token);
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          export_dir, "/tokenizer.json: special token '", base::Excerpt(*token),
          "' is not in the vocabulary"));
    }
    *id = *found;
  }
  return out;
}

engine::ForwardInput ForwardInputFromEncodings(const std::vector<tokenizer::Encoding>& rows) {
  engine::ForwardInput in;
  std::vector<std::vector<double>> mask;
  for (const auto& e : rows) {
    in.input_ids.emplace_back(e.ids.begin(), e.ids.end());
    mask.emplace_back(e.attention_mask.begin(), e.attention_mask.end());
  }
  in.attention_mask = std::move(mask);
  in.mask_kind = engine::ForwardInput::kInt;
  return in;
}

}  // namespace neobert::core
