#include "core/format/dtype.h"

#include <array>

namespace neobert::format {
namespace {

struct DTypeInfo {
  DType type;
  size_t size;
  absl::string_view torch;
  absl::string_view storage;
  absl::string_view safetensors;
  bool floating;
};

constexpr std::array<DTypeInfo, 10> kTable = {{
    {DType::kFloat32, 4, "float32", "FloatStorage", "F32", true},
    {DType::kFloat64, 8, "float64", "DoubleStorage", "F64", true},
    {DType::kFloat16, 2, "float16", "HalfStorage", "F16", true},
    {DType::kBFloat16, 2, "bfloat16", "BFloat16Storage", "BF16", true},
    {DType::kInt64, 8, "int64", "LongStorage", "I64", false},
    {DType::kInt32, 4, "int32", "IntStorage", "I32", false},
    {DType::kInt16, 2, "int16", "ShortStorage", "I16", false},
    {DType::kInt8, 1, "int8", "CharStorage", "I8", false},
    {DType::kUInt8, 1, "uint8", "ByteStorage", "U8", false},
    {DType::kBool, 1, "bool", "BoolStorage", "BOOL", false},
}};

const DTypeInfo& Info(DType t) {
  for (const auto& i : kTable) {
    if (i.type == t) return i;
  }
  return kTable[0];  // unreachable: every enumerator is in the table
}

template <typename F>
std::optional<DType> Find(F field, absl::string_view name) {
  for (const auto& i : kTable) {
    if (field(i) == name) return i.type;
  }
  return std::nullopt;
}

}  // namespace

size_t ElementSize(DType t) { return Info(t).size; }
absl::string_view TorchName(DType t) { return Info(t).torch; }
absl::string_view StorageClassName(DType t) { return Info(t).storage; }
absl::string_view SafetensorsName(DType t) { return Info(t).safetensors; }
bool IsFloatingPoint(DType t) { return Info(t).floating; }

std::optional<DType> FromTorchName(absl::string_view n) {
  return Find([](const DTypeInfo& i) { return i.torch; }, n);
}
std::optional<DType> FromStorageClassName(absl::string_view n) {
  return Find([](const DTypeInfo& i) { return i.storage; }, n);
}
std::optional<DType> FromSafetensorsName(absl::string_view n) {
  return Find([](const DTypeInfo& i) { return i.safetensors; }, n);
}

}  // namespace neobert::format
