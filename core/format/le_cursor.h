// A bounded little-endian cursor over bytes already in memory.
//
// Every format parser (zip records, the unpickler's opcode stream, the
// safetensors length prefix) reads through one of these, so the question
// "are n more bytes there?" is asked in one place: a read either has all of
// its bytes and advances, or fails and leaves the cursor where it was. No
// read ever touches memory outside the span.
//
// Not thread-safe (it has a position); cheap to copy. The span is borrowed:
// the caller keeps the bytes alive while the cursor is used.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace neobert::format {

class LeCursor {
 public:
  explicit LeCursor(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}

  // Bytes consumed so far (the offset of the next read from the start).
  uint64_t position() const { return pos_; }
  // Bytes left to read.
  uint64_t remaining() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }
  // The unread bytes, without consuming them.
  absl::Span<const uint8_t> rest() const { return bytes_.subspan(pos_); }

  // Consumes `n` bytes and returns them. When fewer remain it fails with
  // INVALID_ARGUMENT ("<what> needs n bytes but only m remain": the input is
  // malformed) and the cursor does not move; the same holds for every read.
  absl::StatusOr<absl::Span<const uint8_t>> Take(uint64_t n, absl::string_view what) {
    if (n > remaining()) return Short(n, what);
    absl::Span<const uint8_t> out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  absl::Status Skip(uint64_t n, absl::string_view what) {
    if (n > remaining()) return Short(n, what);
    pos_ += n;
    return absl::OkStatus();
  }
  // An unsigned little-endian integer of `width` bytes (1 to 8).
  absl::StatusOr<uint64_t> Uint(size_t width, absl::string_view what) {
    if (width > remaining()) return Short(width, what);
    const uint64_t v = LoadLe(bytes_.data() + pos_, width);
    pos_ += width;
    return v;
  }
  absl::StatusOr<uint8_t> U8(absl::string_view what) { return Fixed<uint8_t>(what); }
  absl::StatusOr<uint16_t> U16(absl::string_view what) { return Fixed<uint16_t>(what); }
  absl::StatusOr<uint32_t> U32(absl::string_view what) { return Fixed<uint32_t>(what); }
  absl::StatusOr<uint64_t> U64(absl::string_view what) { return Fixed<uint64_t>(what); }

  // The `width`-byte little-endian integer at `p` (width 1 to 8). For callers
  // that have already bounded a fixed record and read its fields by offset.
  static uint64_t LoadLe(const uint8_t* p, size_t width) {
    uint64_t v = 0;
    for (size_t i = width; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }

 private:
  template <typename T>
  absl::StatusOr<T> Fixed(absl::string_view what) {
    auto v = Uint(sizeof(T), what);
    if (!v.ok()) return v.status();
    return static_cast<T>(*v);
  }
  absl::Status Short(uint64_t n, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " needs ", n, " bytes but only ",
                                              remaining(), " remain"));
  }

  absl::Span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace neobert::format
