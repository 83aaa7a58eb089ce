#include "core/export/manifest.h"

#include <cstdint>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "core/format/sha256.h"
#include "nlohmann/json.hpp"

namespace neobert::core {
namespace fs = std::filesystem;

namespace {
// Far above any real manifest (one line per file).
constexpr uint64_t kMaxManifestBytes = 16 << 20;
}  // namespace

std::string ManifestToJson(const Manifest& m) {
  nlohmann::ordered_json j;
  j["manifest_version"] = 1;
  j["tool"] = m.tool;
  j["source"] = {{"checkpoint", m.checkpoint},
                 {"weights", m.weights},
                 {"fingerprint", m.fingerprint}};
  j["options"] = m.options;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const auto& f : m.files) {
    files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  }
  j["files"] = std::move(files);
  return j.dump(2) + "\n";
}

absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& origin,
                                       bool quote) {
  ASSIGN_OR_RETURN(const nlohmann::json j,
                   base::ParseJsonObject(text, origin, {.max_bytes = kMaxManifestBytes}, quote));
  try {
    if (j.value("manifest_version", 0) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": unsupported manifest_version"));
    }
    Manifest m;
    m.tool = j.at("tool").get<std::string>();
    m.checkpoint = j.at("source").at("checkpoint").get<std::string>();
    m.weights = j.at("source").at("weights").get<std::string>();
    m.fingerprint = j.at("source").at("fingerprint").get<std::string>();
    m.options = j.at("options").get<std::map<std::string, std::string>>();
    for (const auto& f : j.at("files")) {
      m.files.push_back({f.at("name").get<std::string>(), f.at("size").get<uint64_t>(),
                         f.at("sha256").get<std::string>()});
    }
    return m;
  } catch (const std::exception& e) {  // a field missing or of another type
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": malformed manifest: ", base::JsonErrorText(e, text, quote)));
  }
}

absl::StatusOr<Manifest> ReadManifest(const base::FsRoot& root, const std::string& export_dir) {
  const std::string p = (fs::path(export_dir) / kManifestName).string();
  bool via_symlink = false;
  auto text = root.ReadFile(p, kMaxManifestBytes, &via_symlink);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(p, ": no manifest"));
  }
  RETURN_IF_ERROR(text.status());
  return ParseManifest(*text, p, /*quote=*/!via_symlink);
}

absl::StatusOr<std::string> SourceFingerprint(const base::FsRoot& root, const std::string& dir,
                                              const std::vector<std::string>& files) {
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  format::Sha256 h;
  for (const auto& name : sorted) {
    std::string path = (fs::path(dir) / name).string();
    ASSIGN_OR_RETURN(const std::optional<struct stat> found, root.StatIfExists(path));
    if (!found.has_value()) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot stat input file"));
    }
    const struct stat& st = *found;
    const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    std::string line = absl::StrCat(name, "\t", st.st_size, "\t", mtime_ns, "\n");
    h.Update(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
  }
  return h.HexDigest();
}

absl::StatusOr<std::vector<FileRecord>> HashFiles(const base::FsRoot& root,
                                                  const std::string& dir,
                                                  const std::vector<std::string>& names,
                                                  const std::map<std::string, std::string>& known) {
  std::vector<FileRecord> out(names.size());
  // Largest first so the two workers stay balanced.
  std::vector<size_t> order(names.size());
  std::vector<uint64_t> sizes(names.size(), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    order[i] = i;
    const std::string path = (fs::path(dir) / names[i]).string();
    ASSIGN_OR_RETURN(const std::optional<struct stat> st, root.StatIfExists(path));
    if (!st.has_value()) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    sizes[i] = static_cast<uint64_t>(st->st_size);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  std::vector<size_t> lanes[2];
  uint64_t load[2] = {0, 0};
  for (size_t i : order) {
    if (auto k = known.find(names[i]); k != known.end()) {
      out[i] = {names[i], sizes[i], k->second};  // hashed while written
      continue;
    }
    int lane = load[0] <= load[1] ? 0 : 1;
    lanes[lane].push_back(i);
    load[lane] += sizes[i];
  }
  auto work = [&](const std::vector<size_t>& lane) -> absl::Status {
    for (size_t i : lane) {
      ASSIGN_OR_RETURN(std::string digest,
                       format::FileSha256(root, (fs::path(dir) / names[i]).string()));
      out[i] = {names[i], sizes[i], std::move(digest)};
    }
    return absl::OkStatus();
  };
  auto second = std::async(std::launch::async, work, std::cref(lanes[1]));
  absl::Status first = work(lanes[0]);
  absl::Status other = second.get();
  RETURN_IF_ERROR(first);
  RETURN_IF_ERROR(other);
  return out;
}

absl::Status VerifyManifestFiles(const base::FsRoot& root, const std::string& dir,
                                 const Manifest& m) {
  std::vector<std::string> names;
  for (const auto& f : m.files) {
    if (f.name.empty() || f.name.find("..") != std::string::npos || f.name[0] == '/') {
      return absl::InvalidArgumentError(absl::StrCat("manifest lists an unsafe path '", f.name, "'"));
    }
    names.push_back(f.name);
  }
  ASSIGN_OR_RETURN(const std::vector<FileRecord> actual, HashFiles(root, dir, names));
  for (size_t i = 0; i < m.files.size(); ++i) {
    const auto& want = m.files[i];
    const auto& got = actual[i];
    if (got.size != want.size) {
      return absl::DataLossError(absl::StrCat(want.name, ": size ", got.size,
                                              " differs from the manifest (", want.size, ")"));
    }
    if (got.sha256 != want.sha256) {
      return absl::DataLossError(absl::StrCat(want.name, ": sha256 differs from the manifest"));
    }
  }
  return absl::OkStatus();
}

}  // namespace neobert::core
