// A tensor as the format layer sees it: a dtype, a shape, strides and a byte
// range in some ByteSource. No LibTorch here; only the engine turns these into
// at::Tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/format/byte_source.h"
#include "core/format/dtype.h"

namespace neobert::format {

// A storage: [offset, offset + nbytes) of `source`. Several tensors may name
// the same storage (tied weights, views).
struct StorageRef {
  std::shared_ptr<const ByteSource> source;
  uint64_t offset = 0;  // byte offset of the storage inside `source`
  uint64_t nbytes = 0;  // storage size in bytes
  std::string key;      // the format's id for the storage ("0", "data/3", tensor name)
  // CRC-32 of the storage's whole byte range [offset, offset + nbytes) as
  // recorded by its container (a torch zip record's central directory), set
  // only when the record is exactly that range; unverified until someone
  // reads the bytes (core::CheckFinite does). Whoever derives new bytes or a
  // new range (casts, copies, unpacking) builds a fresh StorageRef without it.
  std::optional<uint32_t> crc32;
  // The container's name for those bytes, for messages ("archive/data/3");
  // empty when the container has no separate record.
  std::string record;
};

struct TensorEntry {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements; same rank as shape
  int64_t storage_offset = 0;    // in elements
  StorageRef storage;

  // Product of `shape` (1 for a scalar). Callers validate first (see
  // ValidateTensorBounds), so this cannot overflow for accepted tensors.
  uint64_t numel() const;
  // numel() * ElementSize(dtype).
  uint64_t nbytes() const;
  // True when the elements are laid out densely in row-major order.
  bool is_contiguous() const;
};

// Same bytes by construction: the same view (dtype, shape, strides, offset)
// of the same storage. Tied weights are two names for one view.
bool SameView(const TensorEntry& a, const TensorEntry& b);

// The CRC-32 of the tensor's bytes when they are exactly its storage's whole
// recorded range (contiguous, storage_offset 0, nbytes == storage nbytes) and
// the container recorded one; nullopt otherwise. Writers may reuse it instead
// of reading the bytes.
std::optional<uint32_t> RecordedCrc32(const TensorEntry& t);

// Every element count, byte count and strided extent of a tensor must fit in
// an int64 (LibTorch's sizes, torch.save's numel): readers refuse more.
inline constexpr uint64_t kMaxTensorExtent = (uint64_t{1} << 63) - 1;
// The most dimensions a tensor may have (real weights have at most 2).
inline constexpr size_t kMaxTensorRank = 16;

// *out = a * b; false when the product exceeds kMaxTensorExtent. The one
// shape-product check: readers and ValidateTensorBounds all use it.
bool MulWithinExtent(uint64_t a, uint64_t b, uint64_t* out);

// Bytes of a dense tensor of `dtype` and `shape` (dimensions non-negative),
// or nullopt when that exceeds kMaxTensorExtent.
std::optional<uint64_t> DenseBytes(DType dtype, absl::Span<const int64_t> shape);

// Row-major strides for `shape`.
std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape);

// Checks that shape/strides/offset are non-negative, that every product fits in
// 63 bits, and that every addressed element lies inside the storage. The error
// names the tensor. Readers call this before handing a tensor out.
absl::Status ValidateTensorBounds(const TensorEntry& t);

// Streams the tensor's elements in row-major order as contiguous
// little-endian bytes, in chunks of at most `chunk_bytes`. Contiguous tensors
// are read straight from their storage; strided views are gathered from a
// bounded window of the storage.
using ChunkFn = std::function<absl::Status(absl::Span<const uint8_t>)>;
absl::Status ForEachContiguousChunk(const TensorEntry& t, const ChunkFn& fn,
                                    size_t chunk_bytes = 8 << 20);

// Reads the whole tensor as contiguous bytes (for small tensors and tests).
absl::StatusOr<std::vector<uint8_t>> ReadContiguous(const TensorEntry& t);

// What a reader returns: tensors in file order, plus format facts.
struct TensorSet {
  std::string format;                          // "torch-zip" | "safetensors"
  std::string path;                            // where it came from
  std::vector<TensorEntry> tensors;            // in the file's order
  std::map<std::string, std::string> metadata;  // safetensors __metadata__, zip records
};

}  // namespace neobert::format
