#include "core/format/cast.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/checked_math.h"
#include "core/base/status_macros.h"

namespace neobert::format {

float BFloat16ToFloat(uint16_t v) {
  uint32_t bits = uint32_t{v} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToBFloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7FFF + ((bits >> 16) & 1);                                      // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: value = mant * 2^-24
      float f = std::ldexp(static_cast<float>(mant), -24);
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00;  // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00;  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {                       // below the smallest normal half: 2^-14
    // Subnormal (or zero): the value in units of 2^-24, rounded to nearest even.
    float a;
    std::memcpy(&a, &abs, 4);
    float scaled = a * 16777216.0f;  // exact: a power-of-two scaling
    float r = std::nearbyint(scaled);  // default rounding mode: to nearest even
    return sign | static_cast<uint16_t>(r);
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits.
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return sign | static_cast<uint16_t>(h);
}

namespace {

float LoadAsFloat(DType t, const uint8_t* p) {
  switch (t) {
    case DType::kFloat32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::kFloat64: {
      double d;
      std::memcpy(&d, p, 8);
      return static_cast<float>(d);
    }
    case DType::kBFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return BFloat16ToFloat(v);
    }
    default: {  // kFloat16
      uint16_t v;
      std::memcpy(&v, p, 2);
      return HalfToFloat(v);
    }
  }
}

void StoreFromFloat(DType t, float f, uint8_t* p) {
  switch (t) {
    case DType::kFloat32:
      std::memcpy(p, &f, 4);
      break;
    case DType::kFloat64: {
      double d = f;
      std::memcpy(p, &d, 8);
      break;
    }
    case DType::kBFloat16: {
      uint16_t v = FloatToBFloat16(f);
      std::memcpy(p, &v, 2);
      break;
    }
    default: {
      uint16_t v = FloatToHalf(f);
      std::memcpy(p, &v, 2);
      break;
    }
  }
}

// Presents the contiguous bytes of `src` converted to `to`.
class CastSource final : public ByteSource {
 public:
  CastSource(TensorEntry src, DType to)
      : src_(std::move(src)), to_(to), name_(absl::StrCat(src_.name, " as ", TorchName(to))) {}
  uint64_t size() const override { return src_.numel() * ElementSize(to_); }
  const std::string& name() const override { return name_; }
  absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out) const override {
    const uint64_t out_es = ElementSize(to_), in_es = ElementSize(src_.dtype);
    if (!base::RangeInside(offset, out.size(), size())) {
      return absl::OutOfRangeError(absl::StrCat(name_, ": read past the end"));
    }
    if (out.empty()) return absl::OkStatus();
    const uint64_t first = offset / out_es, last = (offset + out.size() - 1) / out_es;
    std::vector<uint8_t> in((last - first + 1) * in_es);
    const uint64_t base = src_.storage.offset + static_cast<uint64_t>(src_.storage_offset) * in_es;
    RETURN_IF_ERROR(src_.storage.source->ReadAt(base + first * in_es, absl::MakeSpan(in)));
    uint8_t tmp[8];
    for (uint64_t e = first; e <= last; ++e) {
      StoreFromFloat(to_, LoadAsFloat(src_.dtype, in.data() + (e - first) * in_es), tmp);
      const uint64_t lo = std::max(offset, e * out_es);
      const uint64_t hi = std::min(offset + out.size(), (e + 1) * out_es);
      std::memcpy(out.data() + (lo - offset), tmp + (lo - e * out_es), hi - lo);
    }
    return absl::OkStatus();
  }

 private:
  TensorEntry src_;
  DType to_;
  std::string name_;
};

}  // namespace

absl::StatusOr<TensorEntry> CastTensor(const TensorEntry& t, DType to) {
  if (t.dtype == to) return t;
  if (!IsFloatingPoint(t.dtype) || !IsFloatingPoint(to)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': cannot cast ",
                                                   TorchName(t.dtype), " to ", TorchName(to)));
  }
  TensorEntry contiguous = t;
  if (!t.is_contiguous()) {
    ASSIGN_OR_RETURN(auto bytes, ReadContiguous(t));
    // New bytes: no recorded CRC (crc32, record left empty).
    contiguous.storage = {std::make_shared<MemorySource>(std::move(bytes), t.name), 0,
                          t.nbytes(), t.name, std::nullopt, {}};
    contiguous.storage_offset = 0;
    contiguous.strides = ContiguousStrides(t.shape);
  }
  TensorEntry out = contiguous;
  auto source = std::make_shared<CastSource>(contiguous, to);
  out.dtype = to;
  // Cast bytes differ from the input's: never carry its recorded CRC over.
  out.storage = {source, 0, source->size(), t.name, std::nullopt, {}};
  out.storage_offset = 0;
  out.strides = ContiguousStrides(t.shape);
  return out;
}

absl::StatusOr<std::vector<TensorEntry>> CastFloatingTensors(const std::vector<TensorEntry>& tensors,
                                                             DType to) {
  std::vector<TensorEntry> out;
  out.reserve(tensors.size());
  for (const TensorEntry& t : tensors) {
    if (!IsFloatingPoint(t.dtype)) {
      out.push_back(t);
      continue;
    }
    ASSIGN_OR_RETURN(TensorEntry cast, CastTensor(t, to));
    out.push_back(std::move(cast));
  }
  return out;
}

}  // namespace neobert::format
