// torch.save-compatible writer; the archive layout is in torch_writer.h.
//
// Each tensor gets its own storage holding exactly its elements (contiguous,
// offset 0), so tied or strided inputs become independent dense copies — the
// same bytes torch.save would write for tensor.contiguous().clone().
#include "core/format/torch_writer.h"

#include <cstdint>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/crc32.h"
#include "core/format/pickle_writer.h"
#include "core/format/zip_writer.h"

namespace neobert::format {
namespace {

// Strided views are gathered in pieces this size (cache-sized: the gather,
// the CRC and the write then work on bytes still in cache).
constexpr size_t kGatherChunk = 1 << 20;

// A stable id for .data/serialization_id: FNV-1a over names, dtypes and
// shapes. torch only requires an ASCII token here.
std::string SerializationId(const std::vector<TensorEntry>& tensors) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](absl::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
    h ^= 0xFF;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ull;
  };
  for (const TensorEntry& t : tensors) {
    mix(t.name);
    mix(TorchName(t.dtype));
    for (int64_t d : t.shape) mix(absl::StrCat(d));
  }
  std::string id = absl::StrCat(h);
  return std::string(20 - id.size(), '0') + id;  // fixed width, as torch's ids
}

// An entry whose CRC-32 is computed here from the bytes as they pass. With
// `crc_first` (the file is hashed while written) a CRC pass over the bytes
// comes first, so that the header is written right and never patched: a
// patch would void the running SHA-256 and cost a re-read of the whole file.
absl::Status WriteComputingCrc(ZipWriter& zip, const std::string& entry, const TensorEntry& t,
                               bool crc_first) {
  uint32_t header_crc = 0;
  if (crc_first) {
    RETURN_IF_ERROR(ForEachContiguousChunk(
        t,
        [&](absl::Span<const uint8_t> c) {
          header_crc = Crc32(header_crc, c);
          return absl::OkStatus();
        },
        kGatherChunk));
  }
  RETURN_IF_ERROR(zip.BeginEntry(entry, t.nbytes(), header_crc));
  absl::Status s;
  if (t.is_contiguous()) {
    // One byte range of the source: CRC it in cache-sized pieces and let
    // the kernel copy it (half the CPU of reading and writing it here).
    const uint64_t begin =
        t.storage.offset + static_cast<uint64_t>(t.storage_offset) * ElementSize(t.dtype);
    s = zip.CopyData(*t.storage.source, begin, t.nbytes());
  } else {
    s = ForEachContiguousChunk(
        t, [&](absl::Span<const uint8_t> c) { return zip.WriteData(c); }, kGatherChunk);
  }
  if (!s.ok()) return s;
  return zip.EndEntry();
}

absl::Status WriteArchive(ZipWriter& zip, const std::vector<TensorEntry>& tensors,
                          const std::string& pickle, const TorchWriteOptions& options) {
  const std::string prefix = options.archive_name + "/";
  RETURN_IF_ERROR(zip.AddEntry(prefix + "data.pkl", pickle));
  RETURN_IF_ERROR(zip.AddEntry(prefix + "byteorder", "little"));
  uint64_t written = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry& t = tensors[i];
    const std::string entry = absl::StrCat(prefix, "data/", i);
    absl::Status s;
    if (const std::optional<uint32_t> crc = RecordedCrc32(t)) {
      // A whole storage of a torch zip: the same bytes as its record, whose
      // CRC the central directory gives us. Reuse it and let the kernel copy
      // without reading a byte here. Trusted, not checked: export verifies it
      // in its NaN/Inf scan (core::CheckFinite); convert passes a corrupt
      // record's CRC on, so the output stays detectably corrupt.
      s = zip.CopyEntry(entry, *t.storage.source, t.storage.offset, t.nbytes(), *crc);
    } else {
      s = WriteComputingCrc(zip, entry, t, /*crc_first=*/options.sha256 != nullptr);
    }
    RETURN_IF_ERROR(s, "writing tensor '", t.name, "'");
    written += t.nbytes();
    if (options.progress) {
      RETURN_IF_ERROR(options.progress(written));
    }
  }
  RETURN_IF_ERROR(zip.AddEntry(prefix + "version", "3\n"));
  RETURN_IF_ERROR(zip.AddEntry(prefix + ".data/serialization_id", SerializationId(tensors)));
  return zip.Finish();
}

}  // namespace

absl::Status WriteTorchBin(const std::vector<TensorEntry>& tensors, const std::string& path,
                           const TorchWriteOptions& options) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
  };
  const std::string& archive = options.archive_name;
  if (archive.empty() || archive.find('/') != std::string::npos || archive == "." ||
      archive == "..") {
    return bad(absl::StrCat("archive name '", archive, "' is not a single folder name"));
  }
  std::vector<PickledTensor> pickled;
  pickled.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry& t = tensors[i];
    if (auto s = ValidateTensorBounds(t); !s.ok()) return bad(s.message());
    pickled.push_back(PickledTensor{t.name, t.dtype, absl::StrCat(i), t.numel(), 0, t.shape,
                                    ContiguousStrides(t.shape)});
  }
  PickleOptions popts;
  popts.ordered_dict = options.ordered_dict;
  auto pickle = PickleTensorDict(pickled, popts);
  if (!pickle.ok()) return bad(pickle.status().message());
  pickled.clear();

  ZipWriterOptions zopts;
  zopts.root = options.root;
  zopts.alignment = 64;
  zopts.sync = options.sync;
  zopts.writeback = options.writeback;
  zopts.hash = options.sha256 != nullptr;
  ASSIGN_OR_RETURN(auto zip, ZipWriter::Create(path, zopts));
  // On failure the ZipWriter's destructor removes the partial file.
  absl::Status s = WriteArchive(*zip, tensors, *pickle, options);
  if (s.ok() && options.sha256 != nullptr) *options.sha256 = zip->sha256();
  return s;
}

}  // namespace neobert::format
