#include "core/format/tensor.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/checked_math.h"
#include "core/base/status_macros.h"

namespace neobert::format {
namespace {

std::string ShapeString(const std::vector<int64_t>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}

}  // namespace

uint64_t TensorEntry::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

uint64_t TensorEntry::nbytes() const { return numel() * ElementSize(dtype); }

bool TensorEntry::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;  // stride of a size-1 dim is irrelevant
    if (strides[i] != expected) return numel() == 0;
    expected *= shape[i];
  }
  return true;
}

bool SameView(const TensorEntry& a, const TensorEntry& b) {
  return a.storage.source == b.storage.source && a.storage.offset == b.storage.offset &&
         a.storage.key == b.storage.key && a.dtype == b.dtype && a.shape == b.shape &&
         a.strides == b.strides && a.storage_offset == b.storage_offset;
}

std::optional<uint32_t> RecordedCrc32(const TensorEntry& t) {
  if (!t.storage.crc32.has_value() || t.storage_offset != 0 || !t.is_contiguous() ||
      t.nbytes() != t.storage.nbytes) {
    return std::nullopt;
  }
  return t.storage.crc32;
}

bool MulWithinExtent(uint64_t a, uint64_t b, uint64_t* out) {
  const std::optional<uint64_t> product = base::CheckedMul(a, b);
  if (!product || *product > kMaxTensorExtent) return false;
  *out = *product;
  return true;
}

std::optional<uint64_t> DenseBytes(DType dtype, absl::Span<const int64_t> shape) {
  uint64_t n = ElementSize(dtype);
  for (int64_t d : shape) {
    if (d < 0 || !MulWithinExtent(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(shape[i], 1);
  return s;
}

absl::Status ValidateTensorBounds(const TensorEntry& t) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': ", why, " (shape ",
                                                   ShapeString(t.shape), ", stride ",
                                                   ShapeString(t.strides), ", offset ",
                                                   t.storage_offset, ")"));
  };
  if (t.shape.size() != t.strides.size()) return bad("shape and stride ranks differ");
  if (t.shape.size() > kMaxTensorRank) {
    return bad(absl::StrCat("more than ", kMaxTensorRank, " dimensions"));
  }
  if (t.storage_offset < 0) return bad("negative storage offset");
  uint64_t numel = 1;
  uint64_t max_index = 0;  // last element addressed, relative to storage_offset
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] < 0) return bad("negative dimension");
    if (t.strides[i] < 0) return bad("negative stride");
    if (!MulWithinExtent(numel, static_cast<uint64_t>(t.shape[i]), &numel)) {
      return bad("element count overflows");
    }
  }
  if (numel == 0) return absl::OkStatus();
  for (size_t i = 0; i < t.shape.size(); ++i) {
    uint64_t span;
    if (!MulWithinExtent(static_cast<uint64_t>(t.shape[i] - 1),
                         static_cast<uint64_t>(t.strides[i]), &span)) {
      return bad("strided extent overflows");
    }
    const std::optional<uint64_t> next = base::CheckedAdd(max_index, span);
    if (!next || *next > kMaxTensorExtent) return bad("strided extent overflows");
    max_index = *next;
  }
  const uint64_t esize = ElementSize(t.dtype);
  const std::optional<uint64_t> end_elem =
      base::CheckedAdd(static_cast<uint64_t>(t.storage_offset), max_index + 1);
  uint64_t end_bytes, nbytes;
  if (!end_elem || !MulWithinExtent(*end_elem, esize, &end_bytes) ||
      !MulWithinExtent(numel, esize, &nbytes)) {
    return bad("byte extent overflows");
  }
  if (end_bytes > t.storage.nbytes) {
    return bad(absl::StrCat("view needs ", end_bytes, " bytes but storage '", t.storage.key,
                            "' has ", t.storage.nbytes));
  }
  if (!t.storage.source) return bad("no storage source");
  if (!base::RangeInside(t.storage.offset, t.storage.nbytes, t.storage.source->size())) {
    return bad(absl::StrCat("storage '", t.storage.key, "' lies outside ",
                            t.storage.source->name()));
  }
  return absl::OkStatus();
}

absl::Status ForEachContiguousChunk(const TensorEntry& t, const ChunkFn& fn, size_t chunk_bytes) {
  const uint64_t esize = ElementSize(t.dtype);
  const uint64_t total = t.nbytes();
  if (total == 0) return absl::OkStatus();
  chunk_bytes = std::max<size_t>(chunk_bytes, esize);
  const uint64_t base = t.storage.offset + static_cast<uint64_t>(t.storage_offset) * esize;
  if (t.is_contiguous()) {
    std::vector<uint8_t> buf(std::min<uint64_t>(total, chunk_bytes));
    for (uint64_t done = 0; done < total;) {
      size_t len = static_cast<size_t>(std::min<uint64_t>(total - done, buf.size()));
      auto span = absl::MakeSpan(buf.data(), len);
      RETURN_IF_ERROR(t.storage.source->ReadAt(base + done, span));
      RETURN_IF_ERROR(fn(span));
      done += len;
    }
    return absl::OkStatus();
  }
  // Strided view: read the storage window the view spans once, then gather.
  // The window is bounded by the storage size, which ValidateTensorBounds
  // checked against the source.
  uint64_t extent = 1;
  for (size_t i = 0; i < t.shape.size(); ++i) {
    extent += static_cast<uint64_t>(t.shape[i] - 1) * static_cast<uint64_t>(t.strides[i]);
  }
  std::vector<uint8_t> window(extent * esize);
  RETURN_IF_ERROR(t.storage.source->ReadAt(base, absl::MakeSpan(window)));
  std::vector<uint8_t> out;
  out.reserve(std::min<uint64_t>(total, chunk_bytes));
  std::vector<int64_t> idx(t.shape.size(), 0);
  const uint64_t n = t.numel();
  for (uint64_t e = 0; e < n; ++e) {
    uint64_t off = 0;
    for (size_t i = 0; i < idx.size(); ++i) off += static_cast<uint64_t>(idx[i] * t.strides[i]);
    const uint8_t* p = window.data() + off * esize;
    out.insert(out.end(), p, p + esize);
    if (out.size() + esize > chunk_bytes) {
      RETURN_IF_ERROR(fn(absl::MakeConstSpan(out)));
      out.clear();
    }
    for (size_t i = idx.size(); i-- > 0;) {
      if (++idx[i] < t.shape[i]) break;
      idx[i] = 0;
    }
  }
  if (!out.empty()) return fn(absl::MakeConstSpan(out));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> ReadContiguous(const TensorEntry& t) {
  std::vector<uint8_t> out;
  out.reserve(t.nbytes());
  RETURN_IF_ERROR(ForEachContiguousChunk(t, [&](absl::Span<const uint8_t> c) {
    out.insert(out.end(), c.begin(), c.end());
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace neobert::format
