// safetensors reader and writer; the byte layout is described in safetensors.h.
//
// The header is parsed with a SAX handler instead of a DOM: the handler knows
// the only shape a valid header can have (an object of objects holding a
// string and two short integer arrays, plus a string map), so it rejects
// duplicate keys (which a DOM silently overwrites), deep nesting and unknown
// fields the moment it sees them, and never builds a tree whose size is
// chosen by the file.
#include "core/format/safetensors.h"

#include <cstdint>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/format/le_cursor.h"
#include "nlohmann/json.hpp"

namespace neobert::format {
namespace {

constexpr size_t kMaxTensors = size_t{1} << 20;  // real models hold < 10^5

// One header entry as parsed, before cross-checks.
struct RawEntry {
  std::string name;
  std::optional<std::string> dtype;
  std::optional<std::vector<int64_t>> shape;
  std::optional<std::vector<uint64_t>> offsets;
};

using Json = nlohmann::json;

// SAX handler for the header. Any return of false stops the parse; `error`
// then says why (empty means nlohmann reported a syntax error instead).
class HeaderSax final : public nlohmann::json_sax<Json> {
 public:
  std::string error;
  std::vector<RawEntry> entries;
  std::map<std::string, std::string> metadata;

  bool null() override { return Scalar("null"); }
  bool boolean(bool) override { return Scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    // nlohmann reports non-negative integers through number_unsigned.
    if (state_ == State::kArray) return Fail(absl::StrCat("negative value ", v, " in ", Where()));
    return Scalar("a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (state_ != State::kArray) return Scalar("a number");
    if (v > kMaxTensorExtent) return Fail(absl::StrCat("value ", v, " too large in ", Where()));
    RawEntry& e = entries.back();
    if (field_ == "shape") {
      if (e.shape->size() >= kMaxTensorRank) {
        return Fail(absl::StrCat("more than ", kMaxTensorRank, " dimensions in ", Where()));
      }
      e.shape->push_back(static_cast<int64_t>(v));
    } else {
      if (e.offsets->size() >= 2) return Fail(absl::StrCat("more than 2 values in ", Where()));
      e.offsets->push_back(v);
    }
    return true;
  }
  bool number_float(number_float_t, const string_t&) override {
    if (state_ == State::kArray) return Fail(absl::StrCat("non-integer value in ", Where()));
    return Scalar("a number");
  }
  bool binary(binary_t&) override { return Scalar("binary data"); }

  bool string(string_t& v) override {
    if (state_ == State::kMetadata) {
      metadata[field_] = v;
      return true;
    }
    if (state_ == State::kEntry && field_ == "dtype") {
      entries.back().dtype = v;
      return true;
    }
    return Scalar("a string");
  }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::kStart:
        state_ = State::kTop;
        return true;
      case State::kTop:
        if (name_ == "__metadata__") {
          state_ = State::kMetadata;
          keys_.clear();
          return true;
        }
        if (entries.size() >= kMaxTensors) {
          return Fail(absl::StrCat("more than ", kMaxTensors, " tensors"));
        }
        entries.push_back(RawEntry{name_, {}, {}, {}});
        state_ = State::kEntry;
        keys_.clear();
        return true;
      default:
        return Scalar("an object");
    }
  }
  bool key(string_t& k) override {
    if (state_ == State::kTop) {
      if (!names_.insert(k).second) return Fail(absl::StrCat("duplicate key '", k, "'"));
      name_ = k;
      return true;
    }
    if (!keys_.insert(k).second) return Fail(absl::StrCat("duplicate key '", k, "' in ", Where()));
    field_ = k;
    if (state_ == State::kEntry && k != "dtype" && k != "shape" && k != "data_offsets") {
      return Fail(absl::StrCat("unknown field '", k, "' in ", Where()));
    }
    return true;
  }
  bool end_object() override {
    state_ = state_ == State::kTop ? State::kDone : State::kTop;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ == State::kEntry && (field_ == "shape" || field_ == "data_offsets")) {
      if (field_ == "shape") {
        entries.back().shape.emplace();
      } else {
        entries.back().offsets.emplace();
      }
      state_ = State::kArray;
      return true;
    }
    return Scalar("an array");
  }
  bool end_array() override {
    state_ = State::kEntry;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    syntax_error = ex.what();
    return false;
  }
  std::string syntax_error;

 private:
  enum class State { kStart, kTop, kEntry, kMetadata, kArray, kDone };

  bool Fail(std::string why) {
    error = std::move(why);
    return false;
  }
  std::string Where() const {
    if (state_ == State::kMetadata) return "__metadata__";
    if (state_ == State::kArray) return absl::StrCat("'", field_, "' of tensor '", name_, "'");
    return absl::StrCat("tensor '", name_, "'");
  }
  // A value that is valid JSON but not allowed where it stands.
  bool Scalar(absl::string_view what) {
    switch (state_) {
      case State::kStart:
        return Fail(absl::StrCat("header is ", what, ", not a JSON object"));
      case State::kTop:
        return Fail(absl::StrCat("entry '", name_, "' is ", what, ", not an object"));
      case State::kMetadata:
        return Fail(absl::StrCat("__metadata__ value for '", field_, "' is ", what,
                                 ", not a string"));
      case State::kEntry:
        return Fail(absl::StrCat("field '", field_, "' of tensor '", name_, "' is ", what));
      case State::kArray:
        return Fail(absl::StrCat(Where(), " contains ", what));
      case State::kDone:
        break;
    }
    return Fail("unexpected value after the header object");
  }

  State state_ = State::kStart;
  std::string name_;                 // current top-level key
  std::string field_;                // current key inside an entry or __metadata__
  std::set<std::string> names_;      // top-level keys seen
  std::set<std::string> keys_;       // keys seen in the current inner object
};

// Builds the TensorEntry for one raw entry and checks it against the data size.
absl::StatusOr<TensorEntry> MakeEntry(const RawEntry& r, const std::shared_ptr<const ByteSource>& src,
                                      uint64_t data_start, uint64_t data_size) {
  const std::string& file = src->name();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": tensor '", r.name, "': ", why));
  };
  if (!r.dtype) return bad("missing 'dtype'");
  if (!r.shape) return bad("missing 'shape'");
  if (!r.offsets) return bad("missing 'data_offsets'");
  auto dtype = FromSafetensorsName(*r.dtype);
  if (!dtype) return bad(absl::StrCat("unsupported dtype '", *r.dtype, "'"));
  if (r.offsets->size() != 2) return bad("'data_offsets' must hold exactly 2 values");
  const uint64_t begin = (*r.offsets)[0], end = (*r.offsets)[1];
  if (end < begin) return bad(absl::StrCat("data_offsets end ", end, " < begin ", begin));
  if (end > data_size) {
    return bad(absl::StrCat("data_offsets end ", end, " is past the data section (", data_size,
                            " bytes)"));
  }
  const std::optional<uint64_t> nbytes = DenseBytes(*dtype, *r.shape);
  if (!nbytes) return bad("shape product overflows");
  if (end - begin != *nbytes) {
    return bad(absl::StrCat("data_offsets cover ", end - begin, " bytes but dtype and shape need ",
                            *nbytes));
  }
  TensorEntry t;
  t.name = r.name;
  t.dtype = *dtype;
  t.shape = *r.shape;
  t.strides = ContiguousStrides(t.shape);
  // safetensors records no checksums: no crc32, no separate record name.
  t.storage = StorageRef{src, data_start + begin, *nbytes, r.name, std::nullopt, {}};
  if (auto s = ValidateTensorBounds(t); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", s.message()));
  }
  return t;
}

}  // namespace

absl::StatusOr<TensorSet> ReadSafetensors(std::shared_ptr<const ByteSource> src) {
  if (!src) return absl::InvalidArgumentError("ReadSafetensors: no source");
  const std::string& file = src->name();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", why));
  };
  const uint64_t size = src->size();
  if (size < 8) return bad(absl::StrCat("file of ", size, " bytes is too short for a header"));
  uint8_t prefix[8];
  RETURN_IF_ERROR(src->ReadAt(0, absl::MakeSpan(prefix, 8)));
  ASSIGN_OR_RETURN(const uint64_t n, LeCursor(prefix).U64("header length"));
  if (n == 0) return bad("header length is 0");
  if (n > kMaxSafetensorsHeaderBytes) {
    return bad(absl::StrCat("header length ", n, " exceeds the limit of ",
                            kMaxSafetensorsHeaderBytes));
  }
  if (n > size - 8) {
    return bad(absl::StrCat("header length ", n, " is past the end of the file (", size,
                            " bytes)"));
  }
  ASSIGN_OR_RETURN(auto header, ReadRange(*src, 8, n, kMaxSafetensorsHeaderBytes));

  HeaderSax sax;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(header.begin(), header.end(), &sax);
  } catch (const std::exception& e) {  // allocation failure and the like
    return bad(absl::StrCat("cannot parse header: ", e.what()));
  }
  if (!parsed) {
    if (!sax.error.empty()) return bad(absl::StrCat("invalid header: ", sax.error));
    return bad(absl::StrCat("header is not valid JSON: ", sax.syntax_error));
  }
  header.clear();
  header.shrink_to_fit();

  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;
  TensorSet set;
  set.format = "safetensors";
  set.path = file;
  set.metadata = std::move(sax.metadata);
  set.tensors.reserve(sax.entries.size());
  for (const RawEntry& r : sax.entries) {
    ASSIGN_OR_RETURN(auto t, MakeEntry(r, src, data_start, data_size));
    set.tensors.push_back(std::move(t));
  }
  // Data order; ties (empty tensors) by name so the order is deterministic.
  std::sort(set.tensors.begin(), set.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.storage.offset, a.storage.nbytes, a.name) <
           std::tie(b.storage.offset, b.storage.nbytes, b.name);
  });
  // The tensors must tile the data section: no overlap, no gap, no tail.
  uint64_t cursor = data_start;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry& t : set.tensors) {
    if (t.storage.offset < cursor) {
      return bad(absl::StrCat("tensor '", t.name, "' overlaps tensor '", prev->name, "'"));
    }
    if (t.storage.offset > cursor) {
      return bad(absl::StrCat("gap of ", t.storage.offset - cursor, " bytes before tensor '",
                              t.name, "'"));
    }
    cursor += t.storage.nbytes;
    prev = &t;
  }
  if (cursor != size) {
    return bad(absl::StrCat(size - cursor, " trailing bytes after the last tensor"));
  }
  return set;
}

absl::StatusOr<TensorSet> ReadSafetensors(const base::FsRoot& root, const std::string& path) {
  ASSIGN_OR_RETURN(auto src, FileSource::Open(root, path));
  return ReadSafetensors(std::shared_ptr<const ByteSource>(std::move(src)));
}

namespace {

// Builds the padded header (without the length prefix). Assembled by hand,
// with nlohmann only escaping strings, so its cost stays linear in the
// number of tensors (an ordered_json object looks keys up linearly).
absl::StatusOr<std::string> BuildHeader(const std::vector<TensorEntry>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  std::string s = "{";
  try {
    auto quote = [](const std::string& v) { return Json(v).dump(); };
    if (!metadata.empty()) {
      s += "\"__metadata__\":{";
      bool first = true;
      for (const auto& [k, v] : metadata) {
        absl::StrAppend(&s, first ? "" : ",", quote(k), ":", quote(v));
        first = false;
      }
      s += "}";
    }
    uint64_t offset = 0;
    for (const TensorEntry& t : tensors) {
      const uint64_t end = offset + t.nbytes();
      absl::StrAppend(&s, s.size() > 1 ? "," : "", quote(t.name), ":{\"dtype\":\"",
                      SafetensorsName(t.dtype), "\",\"shape\":[", absl::StrJoin(t.shape, ","),
                      "],\"data_offsets\":[", offset, ",", end, "]}");
      offset = end;
    }
  } catch (const std::exception& e) {  // invalid UTF-8 in a name or metadata
    return absl::InvalidArgumentError(absl::StrCat("cannot encode safetensors header: ", e.what()));
  }
  s += "}";
  s.append((8 - s.size() % 8) % 8, ' ');
  if (s.size() > kMaxSafetensorsHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header of ", s.size(),
                                                   " bytes exceeds the limit"));
  }
  return s;
}

absl::Status WriteBody(OutputFile& out, const std::vector<TensorEntry>& tensors, std::string header,
                       const SafetensorsWriteOptions& options) {
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(header.size() >> (8 * i));
  RETURN_IF_ERROR(out.Write(absl::MakeConstSpan(prefix, 8)));
  RETURN_IF_ERROR(out.Write(header));
  header.clear();
  uint64_t written = 0;
  for (const TensorEntry& t : tensors) {
    absl::Status s;
    const ByteSource& src = *t.storage.source;
    if (t.is_contiguous() && src.fd() >= 0) {
      // Kernel-side copy: the bytes never pass through user space (unless
      // the file is hashed while written: see OutputFile::EnableHash).
      const uint64_t begin =
          t.storage.offset + static_cast<uint64_t>(t.storage_offset) * ElementSize(t.dtype);
      s = out.CopyFrom(src, begin, t.nbytes());
    } else {
      s = ForEachContiguousChunk(t, [&](absl::Span<const uint8_t> c) { return out.Write(c); });
    }
    RETURN_IF_ERROR(s, "writing tensor '", t.name, "'");
    written += t.nbytes();
    if (options.progress) {
      RETURN_IF_ERROR(options.progress(written));
    }
  }
  RETURN_IF_ERROR(out.Close(options.sync));
  if (options.sha256 != nullptr) *options.sha256 = out.sha256();
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSafetensors(const std::vector<TensorEntry>& tensors, const std::string& path,
                              const SafetensorsWriteOptions& options) {
  std::set<absl::string_view> names;
  for (const TensorEntry& t : tensors) {
    if (t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat(path, ": '__metadata__' is reserved"));
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": duplicate tensor name '", t.name,
                                                     "'"));
    }
    if (auto s = ValidateTensorBounds(t); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
  }
  auto header = BuildHeader(tensors, options.metadata);
  if (!header.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", header.status().message()));
  }
  ASSIGN_OR_RETURN(auto out, OutputFile::Create(options.root, path, options.writeback));
  if (options.sha256 != nullptr) out->EnableHash();
  absl::Status s = WriteBody(*out, tensors, *std::move(header), options);
  if (!s.ok()) {
    out.reset();
    (void)options.root.RemoveAll(path);
  }
  return s;
}

}  // namespace neobert::format
