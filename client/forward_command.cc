#include "client/forward_command.h"

#include <iostream>

#include "absl/strings/str_join.h"
#include "client/cli_args.h"
#include "core/engine/engine.h"
#include "core/engine/forward_request.h"
#include "core/export/export_folder.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export forward EXPORT_DIR --input-ids FILE.json --out OUT.safetensors\n"
    "                              [--device auto|cpu|cuda|cuda:N] [--json]\n"
    "  Runs the exported model (float32) on the ids in FILE.json and writes float32\n"
    "  last_hidden_state (B, S, H) and logits (B, S, V) as safetensors. FILE.json:\n"
    "    {\"input_ids\": [[...], ...], \"attention_mask\": [[...], ...]}\n"
    "  attention_mask is optional (none = attend to every token); 0/1 integers are the\n"
    "  usual form, and true/false (bool) or floats (\"-inf\" allowed: additive) are read\n"
    "  as the exported model reads those dtypes. Optional \"mask_kind\": int|bool|float\n"
    "  and \"position_ids\": [[...]]. Rows must all have one length; ids must be < vocab.\n"
    "  --confine DIR  read and write only beneath DIR; symlinks may not lead out\n";

int Fail(const absl::Status& s) {
  std::cerr << "neobert-export forward: " << s.message() << "\n";
  return kExitFailed;
}

}  // namespace

int RunForward(const std::vector<std::string>& args) {
  FlagSpec spec{.boolean = {"help", "json"},
                .valued = {"input-ids", "out", "device", "confine"},
                .short_names = {{'h', "help"}, {'o', "out"}}};
  auto parsed = ParseArgs(args, spec);
  const bool help = parsed.ok() && parsed->Has("help");
  if (!parsed.ok() || help || parsed->positional.size() != 1 || !parsed->Value("input-ids") ||
      !parsed->Value("out")) {
    if (!parsed.ok()) std::cerr << "neobert-export forward: " << parsed.status().message() << "\n";
    std::cerr << kUsage;
    return help ? kExitOk : kExitUsage;
  }
  const std::string export_dir = parsed->positional[0];
  const std::string input_path = *parsed->Value("input-ids");
  const std::string out_path = *parsed->Value("out");

  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export forward: " << root.status().message() << "\n";
    return kExitUsage;
  }
  // Input first: a bad request fails fast, before the weights are read.
  auto text = root->ReadFile(input_path, engine::kMaxForwardRequestBytes);
  if (!text.ok()) return Fail(text.status());
  auto input = engine::ParseForwardRequest(*text, input_path);
  if (!input.ok()) return Fail(input.status());

  auto model = core::LoadExportModel(*root, export_dir,
                                     {.device = parsed->Value("device").value_or("auto")});
  if (!model.ok()) return Fail(model.status());
  auto out = (*model)->Forward(*input);
  if (!out.ok()) return Fail(out.status());
  if (auto s = engine::WriteForwardOutputSafetensors(*out, *root, out_path); !s.ok()) {
    return Fail(s);
  }

  if (parsed->Has("json")) {
    nlohmann::ordered_json j;
    j["out"] = out_path;
    j["device"] = (*model)->device();
    j["compute_dtype"] = (*model)->compute_dtype();
    j["last_hidden_state"] = out->hidden_shape;
    j["logits"] = out->logits_shape;
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "wrote " << out_path << ": last_hidden_state ("
              << absl::StrJoin(out->hidden_shape, ", ") << "), logits ("
              << absl::StrJoin(out->logits_shape, ", ") << ") float32, computed on "
              << (*model)->device() << " in " << (*model)->compute_dtype() << "\n";
  }
  return kExitOk;
}

}  // namespace neobert::cli
