#include "core/format/torch_reader.h"

#include <cstdint>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/pickle_reader.h"
#include "core/format/zip_reader.h"

namespace neobert::format {
namespace {

// data.pkl is read whole; tensor bytes never are.
constexpr uint64_t kMaxPickleBytes = 512ull << 20;
// version / byteorder records are a few bytes.
constexpr uint64_t kMaxSmallRecord = 64;

std::string Quote(absl::string_view s) { return absl::StrCat("'", absl::CHexEscape(s), "'"); }

class TorchZipParser {
 public:
  explicit TorchZipParser(std::shared_ptr<const ByteSource> src) : src_(std::move(src)) {}
  absl::StatusOr<TensorSet> Parse();

 private:
  absl::Status Error(absl::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrCat(src_->name(), ": ", msg));
  }
  absl::Status FindArchive();
  absl::Status ReadVersionAndByteorder();
  absl::StatusOr<const PickleValue*> SelectStateDict(const PickleValue* root);
  absl::Status AddTensor(const std::string& name, const PickleTensor& t);

  std::shared_ptr<const ByteSource> src_;
  std::unique_ptr<ZipReader> zip_;
  std::string archive_;  // top-level folder name
  TensorSet out_;
  // Storage key -> the StorageRef built for it, so tied tensors share one.
  std::map<std::string, StorageRef> storages_;
  std::set<std::string> names_;
};

absl::Status TorchZipParser::FindArchive() {
  std::vector<std::string> found;
  for (const ZipEntry& e : zip_->entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && slash > 0 && e.name.substr(slash) == "/data.pkl") {
      found.push_back(e.name);
    }
  }
  if (found.empty()) return Error("not a torch checkpoint: no '<archive>/data.pkl' record");
  if (found.size() > 1) {
    return Error(absl::StrCat("ambiguous torch checkpoint: several data.pkl records (",
                              Quote(found[0]), ", ", Quote(found[1]), ")"));
  }
  archive_ = found[0].substr(0, found[0].find('/'));
  out_.metadata["archive"] = archive_;
  return absl::OkStatus();
}

absl::Status TorchZipParser::ReadVersionAndByteorder() {
  // Newer torch writes ".data/version" next to "version"; either will do.
  std::string version_name = archive_ + "/version";
  if (zip_->Find(version_name) == nullptr) version_name = archive_ + "/.data/version";
  if (zip_->Find(version_name) == nullptr) {
    return Error(absl::StrCat("record '", archive_, "/version' is missing"));
  }
  ASSIGN_OR_RETURN(auto v, zip_->ReadSmall(version_name, kMaxSmallRecord));
  std::string version(v.begin(), v.end());
  absl::StripAsciiWhitespace(&version);
  if (version.empty() || version.size() > 3 ||
      version.find_first_not_of("0123456789") != std::string::npos) {
    return Error(absl::StrCat("record '", version_name, "': unsupported version ",
                              Quote(version)));
  }
  out_.metadata["version"] = version;

  const std::string byteorder_name = archive_ + "/byteorder";
  std::string byteorder = "little";  // absent in older files, which are little-endian
  if (zip_->Find(byteorder_name) != nullptr) {
    ASSIGN_OR_RETURN(auto b, zip_->ReadSmall(byteorder_name, kMaxSmallRecord));
    byteorder.assign(b.begin(), b.end());
    absl::StripAsciiWhitespace(&byteorder);
  }
  if (byteorder != "little") {
    return Error(absl::StrCat("record '", byteorder_name, "': byte order ", Quote(byteorder),
                              " is not supported (only little-endian checkpoints)"));
  }
  out_.metadata["byteorder"] = byteorder;
  return absl::OkStatus();
}

// The dict of tensors: the top object, or its "state_dict" / "model" value.
absl::StatusOr<const PickleValue*> TorchZipParser::SelectStateDict(const PickleValue* root) {
  const std::string where = absl::StrCat(archive_, "/data.pkl");
  if (root->kind != PickleKind::kDict) {
    return Error(absl::StrCat(where, ": top object is a ", PickleKindName(root->kind),
                              ", not a dict of tensors"));
  }
  bool all_tensors = true;
  for (size_t i = 0; i < root->dict_size() && all_tensors; ++i) {
    all_tensors = root->dict_value(i)->kind == PickleKind::kTensor;
  }
  if (all_tensors) return root;
  for (absl::string_view key : {"state_dict", "model"}) {
    const PickleValue* inner = root->DictGet(key);
    if (inner != nullptr && inner->kind == PickleKind::kDict) {
      out_.metadata["nested_under"] = std::string(key);
      return inner;
    }
  }
  return root;  // AddTensor's caller names the first non-tensor entry
}

absl::Status TorchZipParser::AddTensor(const std::string& name, const PickleTensor& t) {
  const PickleStorage& ps = *t.storage->storage;
  const uint64_t need = ps.numel * ElementSize(ps.dtype);  // checked by the unpickler
  auto it = storages_.find(ps.key);
  if (it == storages_.end()) {
    const std::string record = absl::StrCat(archive_, "/data/", ps.key);
    auto range = zip_->StoredRange(record);
    if (absl::IsNotFound(range.status())) {
      return Error(absl::StrCat("tensor ", Quote(name), ": storage ", Quote(ps.key),
                                " has no record ", Quote(record)));
    }
    if (!range.ok()) return range.status();
    if (range->size < need) {
      return Error(absl::StrCat("tensor ", Quote(name), ": record ", Quote(record), " has ",
                                range->size, " bytes but storage ", Quote(ps.key), " needs ",
                                need, " (", ps.numel, " x ", TorchName(ps.dtype), ")"));
    }
    StorageRef ref{src_, range->offset, need, ps.key, std::nullopt, record};
    // The central directory's CRC covers the whole record; it describes the
    // storage only when the two are the same bytes. (Checked by CheckFinite
    // in an export; a writer reusing it unverified passes a corrupt record's
    // CRC on, so the copy stays detectably corrupt.)
    if (range->size == need) ref.crc32 = zip_->Find(record)->crc32;
    it = storages_.emplace(ps.key, std::move(ref)).first;
  } else if (it->second.nbytes != need) {
    // torch keeps the first declaration; differing ones mean a corrupt file.
    return Error(absl::StrCat("tensor ", Quote(name), ": storage ", Quote(ps.key),
                              " is declared with ", need, " bytes here but ",
                              it->second.nbytes, " bytes earlier"));
  }
  TensorEntry e;
  e.name = name;
  e.dtype = ps.dtype;
  e.shape = t.size;
  e.strides = t.stride;
  e.storage_offset = t.storage_offset;
  e.storage = it->second;
  if (auto s = ValidateTensorBounds(e); !s.ok()) return Error(s.message());
  out_.tensors.push_back(std::move(e));
  return absl::OkStatus();
}

absl::StatusOr<TensorSet> TorchZipParser::Parse() {
  ASSIGN_OR_RETURN(auto zip, ZipReader::Open(src_));
  zip_ = std::move(zip);
  out_.format = "torch-zip";
  out_.path = src_->name();
  RETURN_IF_ERROR(FindArchive());
  RETURN_IF_ERROR(ReadVersionAndByteorder());

  const std::string pkl_name = absl::StrCat(archive_, "/data.pkl");
  ASSIGN_OR_RETURN(auto pkl, zip_->ReadSmall(pkl_name, kMaxPickleBytes));
  ASSIGN_OR_RETURN(auto doc, UnpickleWeightsOnly(pkl, absl::StrCat(src_->name(), ": ", pkl_name)));

  ASSIGN_OR_RETURN(auto dict, SelectStateDict(doc->root()));
  const PickleValue* d = dict;
  for (size_t i = 0; i < d->dict_size(); ++i) {
    const PickleValue* k = d->dict_key(i);
    const PickleValue* v = d->dict_value(i);
    if (k->kind != PickleKind::kString) {
      return Error(absl::StrCat(pkl_name, ": state dict key ", i, " is a ",
                                PickleKindName(k->kind), ", not a str"));
    }
    if (v->kind != PickleKind::kTensor) {
      return Error(absl::StrCat(pkl_name, ": entry ", Quote(k->text), " is a ",
                                PickleKindName(v->kind), ", not a tensor"));
    }
    if (!names_.insert(k->text).second) {
      return Error(absl::StrCat(pkl_name, ": duplicate key ", Quote(k->text)));
    }
    RETURN_IF_ERROR(AddTensor(k->text, *v->tensor));
  }
  return std::move(out_);
}

}  // namespace

absl::StatusOr<TensorSet> ReadTorchCheckpoint(std::shared_ptr<const ByteSource> src) {
  if (!src) return absl::InvalidArgumentError("ReadTorchCheckpoint: no source");
  TorchZipParser p(std::move(src));
  return p.Parse();
}

absl::StatusOr<TensorSet> ReadTorchCheckpoint(const base::FsRoot& root,
                                              const std::string& path) {
  ASSIGN_OR_RETURN(auto src, FileSource::Open(root, path));
  return ReadTorchCheckpoint(std::shared_ptr<const ByteSource>(std::move(src)));
}

}  // namespace neobert::format
