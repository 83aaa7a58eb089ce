// NeoBertModel: the checks that need no LibTorch, then the loaded backend
// (backend.h) does the device work.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/engine/backend.h"
#include "core/engine/engine.h"
#include "core/engine/internal.h"

namespace neobert::engine {

struct NeoBertModel::Impl {
  ModelSpec spec;
  std::unique_ptr<ModelBackend> backend;
};

NeoBertModel::NeoBertModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NeoBertModel::~NeoBertModel() = default;

std::string NeoBertModel::device() const { return impl_->backend->device(); }
std::string NeoBertModel::compute_dtype() const { return impl_->backend->compute_dtype(); }
const ModelSpec& NeoBertModel::spec() const { return impl_->spec; }

absl::StatusOr<std::unique_ptr<NeoBertModel>> NeoBertModel::Create(
    const ModelSpec& spec, const std::vector<format::TensorEntry>& tensors,
    const EngineOptions& options) {
  RETURN_IF_ERROR(ValidateModelSpec(spec));
  ASSIGN_OR_RETURN(auto by_name, CheckTensorSet(spec, tensors));  // name -> entry

  EngineOptions resolved = options;
  if (options.compute_dtype.has_value()) {
    if (!format::IsFloatingPoint(*options.compute_dtype)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "compute dtype ", format::TorchName(*options.compute_dtype), " is not floating point"));
    }
  } else {
    // Keeping the weights' dtype needs one dtype to keep.
    const format::TensorEntry* first = by_name.begin()->second;
    for (const auto& [name, t] : by_name) {
      if (t->dtype != first->dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            "compute dtype 'native' needs one weight dtype, but ", first->name, " is ",
            format::TorchName(first->dtype), " and ", name, " is ", format::TorchName(t->dtype),
            "; choose a compute dtype"));
      }
    }
    resolved.compute_dtype = first->dtype;
  }

  ASSIGN_OR_RETURN(const BackendApi* api, LoadBackend());
  ASSIGN_OR_RETURN(std::unique_ptr<ModelBackend> backend, api->create(spec, by_name, resolved));
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->backend = std::move(backend);
  return std::unique_ptr<NeoBertModel>(new NeoBertModel(std::move(impl)));
}

absl::StatusOr<ForwardOutput> NeoBertModel::Forward(const ForwardInput& input) const {
  ASSIGN_OR_RETURN(PreparedInput prepared, PrepareInput(impl_->spec, input));
  return impl_->backend->Forward(prepared);
}

int VisibleCudaDevices() {
  absl::StatusOr<const BackendApi*> api = LoadBackend();
  return api.ok() ? (*api)->visible_cuda_devices() : 0;
}

absl::Status EngineAvailable() { return LoadBackend().status(); }

}  // namespace neobert::engine
