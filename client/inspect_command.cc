#include "client/inspect_command.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli_args.h"
#include "core/format/sha256.h"
#include "core/format/weights.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export inspect PATH [--hash] [--json] [--confine DIR]\n"
    "  PATH   a state_dict.pt, pytorch_model.bin or model.safetensors file, or a\n"
    "         checkpoint/export directory containing one\n"
    "  --hash also print the sha256 of each tensor's contiguous little-endian bytes\n"
    "  --json print one JSON object instead of a table\n"
    "  --confine DIR  read only beneath DIR; symlinks may not lead out\n"
    "  Only regular files are read: a FIFO, socket, device or folder is refused.\n";

// The weight file inside a directory, newest trainer format first.
absl::StatusOr<std::string> ResolveWeightFile(const base::FsRoot& root, const std::string& path) {
  namespace fs = std::filesystem;
  auto st = root.StatIfExists(path);
  if (!st.ok()) return st.status();
  if (!st->has_value()) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (!S_ISDIR((*st)->st_mode)) return path;  // reading it refuses what is not a regular file
  for (const char* name : {"model.safetensors", "state_dict.pt", "pytorch_model.bin"}) {
    const std::string p = (fs::path(path) / name).string();
    auto inner = root.StatIfExists(p);
    if (!inner.ok()) return inner.status();
    if (inner->has_value()) return p;
  }
  return absl::NotFoundError(absl::StrCat(
      path, ": no model.safetensors, state_dict.pt or pytorch_model.bin in this directory"));
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

int RunInspect(const std::vector<std::string>& args) {
  FlagSpec spec{
      .boolean = {"hash", "json", "help"}, .valued = {"confine"}, .short_names = {{'h', "help"}}};
  auto parsed = ParseArgs(args, spec);
  if (!parsed.ok() || parsed->Has("help") || parsed->positional.size() != 1) {
    if (!parsed.ok()) std::cerr << "neobert-export inspect: " << parsed.status().message() << "\n";
    std::cerr << kUsage;
    return parsed.ok() && parsed->Has("help") ? kExitOk : kExitUsage;
  }
  const bool hash = parsed->Has("hash");
  const bool json = parsed->Has("json");

  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export inspect: " << root.status().message() << "\n";
    return kExitUsage;
  }
  auto file = ResolveWeightFile(*root, parsed->positional[0]);
  if (!file.ok()) {
    std::cerr << "error: " << file.status().message() << "\n";
    return kExitFailed;
  }
  auto set = format::ReadWeights(*root, *file);
  if (!set.ok()) {
    std::cerr << "error: " << set.status().message() << "\n";
    return kExitFailed;
  }

  nlohmann::ordered_json out;
  out["format"] = set->format;
  out["path"] = *file;
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  uint64_t total = 0;
  std::string table;
  for (const auto& t : set->tensors) {
    std::string digest;
    if (hash) {
      auto d = format::TensorSha256(t);
      if (!d.ok()) {
        std::cerr << "error: " << *file << ": tensor '" << t.name << "': " << d.status().message()
                  << "\n";
        return kExitFailed;
      }
      digest = *d;
    }
    total += t.nbytes();
    nlohmann::ordered_json j;
    j["name"] = t.name;
    j["dtype"] = std::string(format::TorchName(t.dtype));
    j["shape"] = t.shape;
    j["nbytes"] = t.nbytes();
    if (!t.is_contiguous()) j["stride"] = t.strides;
    if (hash) j["sha256"] = digest;
    tensors.push_back(std::move(j));
    if (!json) {
      absl::StrAppendFormat(&table, "%-60s %-9s %-18s %12d%s%s\n", t.name, format::TorchName(t.dtype),
                            ShapeText(t.shape), t.nbytes(), hash ? "  " : "", digest);
    }
  }
  out["tensors"] = std::move(tensors);
  out["count"] = set->tensors.size();
  out["total_bytes"] = total;
  out["metadata"] = set->metadata;
  if (json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << table;
    std::cout << absl::StrFormat("format: %s   tensors: %d   total: %d bytes (%.1f MiB)\n",
                                 set->format, set->tensors.size(), total,
                                 static_cast<double>(total) / (1 << 20));
  }
  return kExitOk;
}

}  // namespace neobert::cli
