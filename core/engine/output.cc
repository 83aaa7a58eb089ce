// The sanity forward of the export and the safetensors dump of a forward
// output. Torch-free: both use only the public engine API.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "core/format/byte_source.h"
#include "core/format/safetensors.h"
#include "core/format/tensor.h"

namespace neobert::engine {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::Status CheckShape(const char* what, const std::vector<int64_t>& got,
                        const std::vector<int64_t>& want) {
  if (got == want) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("sanity forward: ", what, " shape ", ShapeString(got),
                                          ", expected ", ShapeString(want)));
}

absl::Status CheckFinite(const char* what, const std::vector<float>& v,
                         const std::vector<int64_t>& shape) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i])) continue;
    // Index → (b, s, k) for the message.
    const int64_t k = shape[2], s = shape[1];
    const int64_t n = static_cast<int64_t>(i);
    return absl::InternalError(absl::StrCat("sanity forward: ", what, "[", n / (k * s), "][",
                                            (n / k) % s, "][", n % k, "] is ", v[i]));
  }
  return absl::OkStatus();
}

// A float32 tensor over its own bytes.
absl::StatusOr<format::TensorEntry> FloatTensor(const std::string& name,
                                                const std::vector<int64_t>& shape,
                                                const std::vector<float>& data) {
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && numel > (uint64_t{1} << 40) / static_cast<uint64_t>(d))) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": bad shape ", ShapeString(shape)));
    }
    numel *= static_cast<uint64_t>(d);
  }
  if (numel != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": shape ", ShapeString(shape), " holds ",
                                                   numel, " values, data has ", data.size()));
  }
  std::vector<uint8_t> bytes(data.size() * sizeof(float));
  if (!bytes.empty()) std::memcpy(bytes.data(), data.data(), bytes.size());
  format::TensorEntry t;
  t.name = name;
  t.dtype = format::DType::kFloat32;
  t.shape = shape;
  t.strides = format::ContiguousStrides(shape);
  t.storage.nbytes = bytes.size();
  t.storage.key = name;
  t.storage.source = std::make_shared<format::MemorySource>(std::move(bytes), name);
  return t;
}

}  // namespace

absl::Status SanityCheck(NeoBertModel& model, int64_t vocab, int64_t max_len, uint64_t seed) {
  const ModelSpec& spec = model.spec();
  if (vocab != spec.vocab_size || max_len != spec.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sanity forward: vocab ", vocab, " / max_len ", max_len, " differ from the model's ",
        spec.vocab_size, " / ", spec.max_position_embeddings));
  }
  const int64_t len = std::max<int64_t>(1, std::min<int64_t>(8, max_len));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> id(0, vocab - 1);
  ForwardInput in;
  in.input_ids.assign(2, std::vector<int64_t>(static_cast<size_t>(len)));
  for (auto& row : in.input_ids) {
    for (int64_t& t : row) t = id(rng);
  }
  in.attention_mask = std::vector<std::vector<double>>(2, std::vector<double>(len, 1.0));
  in.mask_kind = ForwardInput::kInt;
  if (len > 1) {
    // One padded position: exercises the mask path the original check never did.
    (*in.attention_mask)[1][len - 1] = 0.0;
    if (spec.pad_token_id.has_value()) in.input_ids[1][len - 1] = *spec.pad_token_id;
  }
  ASSIGN_OR_RETURN(const ForwardOutput out, model.Forward(in), "sanity forward");
  RETURN_IF_ERROR(CheckShape("last_hidden_state", out.hidden_shape, {2, len, spec.hidden_size}));
  RETURN_IF_ERROR(CheckShape("logits", out.logits_shape, {2, len, vocab}));
  if (out.last_hidden_state.size() != static_cast<size_t>(2 * len * spec.hidden_size) ||
      out.logits.size() != static_cast<size_t>(2 * len * vocab)) {
    return absl::InternalError("sanity forward: output sizes do not match their shapes");
  }
  RETURN_IF_ERROR(CheckFinite("last_hidden_state", out.last_hidden_state, out.hidden_shape));
  return CheckFinite("logits", out.logits, out.logits_shape);
}

absl::Status WriteForwardOutputSafetensors(const ForwardOutput& output, const base::FsRoot& root,
                                           const std::string& path) {
  ASSIGN_OR_RETURN(format::TensorEntry hidden,
                   FloatTensor("last_hidden_state", output.hidden_shape, output.last_hidden_state));
  ASSIGN_OR_RETURN(format::TensorEntry logits,
                   FloatTensor("logits", output.logits_shape, output.logits));
  format::SafetensorsWriteOptions options;
  options.root = root;
  return format::WriteSafetensors({std::move(hidden), std::move(logits)}, path, options);
}

}  // namespace neobert::engine
