// neobert-forward-tool (test-only): runs the engine on a weight file and a
// JSON input, writes last_hidden_state and logits as float32 safetensors.
//
//   neobert-forward-tool --weights FILE (--config config.yaml | --hf-config config.json)
//                        --input in.json --out OUT.safetensors
//                        [--dtype float32|float64|bfloat16|float16|native] [--device auto]
//   neobert-forward-tool --weights FILE --config config.yaml --sanity [--seed N]
//
// With --config the training keys are mapped by the knowledge layer
// (MapCheckpointTensors: prefixes, packed w12, decoder alias); with --hf-config
// the file must already use the exported names. Input JSON: the request
// format of core/engine/forward_request.h (also read by `neobert-export
// forward`, which runs an export folder; this tool exists for what the CLI
// does not do: training checkpoints via --config, native 16-bit compute,
// the sanity pass and many requests per LibTorch start-up).
// Batch mode (one LibTorch start-up for many requests): when the input JSON
// is an array of such objects, --out names a directory (created if needed)
// and request i is written to OUT/i.safetensors.
// Prints one JSON line ({"device", "compute_dtype", "decoder_bias"}) on success;
// errors go to stderr with exit code 1 (2 for usage).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/engine/engine.h"
#include "core/engine/forward_request.h"
#include "core/format/weights.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/key_mapping.h"

namespace {

using neobert::engine::ForwardInput;

struct Args {
  std::map<std::string, std::string> values;
  bool sanity = false;
};

int Usage(const std::string& why) {
  std::cerr << "neobert-forward-tool: " << why
            << "\nusage: neobert-forward-tool --weights FILE (--config config.yaml | --hf-config "
               "config.json) (--input in.json --out OUT.safetensors | --sanity [--seed N]) "
               "[--dtype float32|float64|bfloat16|float16|native] [--device auto|cpu|cuda|cuda:N]\n";
  return 2;
}

int Fail(const absl::Status& s) {
  std::cerr << "neobert-forward-tool: " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sanity") {
      args.sanity = true;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      args.values[a.substr(2)] = argv[++i];
    } else {
      return Usage("bad argument " + a);
    }
  }
  auto get = [&](const char* k) { return args.values.count(k) ? args.values[k] : std::string(); };
  if (get("weights").empty() || (get("config").empty() == get("hf-config").empty())) {
    return Usage("need --weights and exactly one of --config / --hf-config");
  }
  if (!args.sanity && (get("input").empty() || get("out").empty())) {
    return Usage("need --input and --out (or --sanity)");
  }

  neobert::engine::EngineOptions options;
  if (!get("device").empty()) options.device = get("device");
  const std::string dtype = get("dtype");
  if (dtype == "native") {
    options.compute_dtype = std::nullopt;
  } else if (!dtype.empty()) {
    std::optional<neobert::format::DType> d = neobert::format::FromTorchName(dtype);
    if (!d) return Usage("unknown --dtype " + dtype);
    options.compute_dtype = *d;
  }

  absl::StatusOr<neobert::format::TensorSet> weights = neobert::format::ReadWeights(neobert::base::FsRoot(), get("weights"));
  if (!weights.ok()) return Fail(weights.status());
  neobert::engine::ModelSpec spec;
  std::vector<neobert::format::TensorEntry> tensors;
  if (!get("config").empty()) {
    absl::StatusOr<neobert::core::NeoBertConfig> config =
        neobert::core::LoadCheckpointConfig(neobert::base::FsRoot(), get("config"));
    if (!config.ok()) return Fail(config.status());
    absl::StatusOr<neobert::core::TensorMapping> plan =
        neobert::core::MapCheckpointTensors(weights->tensors, *config, {}, get("weights"));
    if (!plan.ok()) return Fail(plan.status());
    spec = neobert::engine::ModelSpecFromConfig(*config, plan->decoder_bias);
    tensors = plan->tensors;
  } else {
    absl::StatusOr<std::string> text = neobert::base::FsRoot().ReadFile(get("hf-config"), 1 << 20);
    if (!text.ok()) return Fail(text.status());
    absl::StatusOr<neobert::engine::ModelSpec> s =
        neobert::engine::ModelSpecFromHfConfigJson(*text, get("hf-config"));
    if (!s.ok()) return Fail(s.status());
    spec = *s;
    tensors = weights->tensors;
  }
  absl::StatusOr<std::unique_ptr<neobert::engine::NeoBertModel>> model =
      neobert::engine::NeoBertModel::Create(spec, tensors, options);
  if (!model.ok()) return Fail(model.status());

  if (args.sanity) {
    uint64_t seed = 0;
    if (!get("seed").empty() && !absl::SimpleAtoi(get("seed"), &seed)) return Usage("bad --seed");
    if (absl::Status s = neobert::engine::SanityCheck(**model, spec.vocab_size,
                                                      spec.max_position_embeddings, seed);
        !s.ok()) {
      return Fail(s);
    }
  } else {
    absl::StatusOr<std::string> text =
        neobert::base::FsRoot().ReadFile(get("input"), neobert::engine::kMaxForwardRequestBytes);
    if (!text.ok()) return Fail(text.status());
    bool batch = false;
    absl::StatusOr<std::vector<ForwardInput>> inputs =
        neobert::engine::ParseForwardRequests(*text, get("input"), /*allow_batch=*/true, &batch);
    if (!inputs.ok()) return Fail(inputs.status());
    if (batch) {
      std::error_code ec;
      std::filesystem::create_directories(get("out"), ec);
      if (ec) return Fail(absl::InternalError(absl::StrCat(get("out"), ": ", ec.message())));
    }
    for (size_t i = 0; i < inputs->size(); ++i) {
      absl::StatusOr<neobert::engine::ForwardOutput> out = (*model)->Forward((*inputs)[i]);
      if (!out.ok()) {
        return Fail(batch ? absl::Status(out.status().code(),
                                         absl::StrCat("request ", i, ": ", out.status().message()))
                          : out.status());
      }
      const std::string path =
          batch ? absl::StrCat(get("out"), "/", i, ".safetensors") : get("out");
      if (absl::Status s = neobert::engine::WriteForwardOutputSafetensors(*out, neobert::base::FsRoot(), path); !s.ok()) {
        return Fail(s);
      }
    }
  }
  nlohmann::json summary = {{"device", (*model)->device()},
                            {"compute_dtype", (*model)->compute_dtype()},
                            {"decoder_bias", spec.decoder_bias}};
  std::cout << summary.dump() << "\n";
  return 0;
}
