#include "client/convert_command.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli_args.h"
#include "core/format/cast.h"
#include "core/format/safetensors.h"
#include "core/format/torch_writer.h"
#include "core/format/weights.h"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export convert INPUT OUTPUT [--to safetensors|bin] [--dtype D]\n"
    "  INPUT    state_dict.pt, pytorch_model.bin or model.safetensors\n"
    "  OUTPUT   file to write; the format follows --to, else the extension\n"
    "           (.safetensors, or .bin/.pt for a torch.load-able zip)\n"
    "  --dtype  keep (default) | float32 | bfloat16 | float16 | float64: cast\n"
    "           floating-point tensors (round to nearest even)\n"
    "  --confine DIR  read and write only beneath DIR; symlinks may not lead out\n";

}  // namespace

int RunConvert(const std::vector<std::string>& args) {
  FlagSpec spec{
      .boolean = {"help"}, .valued = {"to", "dtype", "confine"}, .short_names = {{'h', "help"}}};
  auto parsed = ParseArgs(args, spec);
  if (!parsed.ok() || parsed->Has("help") || parsed->positional.size() != 2) {
    if (!parsed.ok()) std::cerr << "neobert-export convert: " << parsed.status().message() << "\n";
    std::cerr << kUsage;
    return parsed.ok() && parsed->Has("help") ? kExitOk : kExitUsage;
  }
  const std::string& input = parsed->positional[0];
  const std::string& output = parsed->positional[1];
  std::string to = parsed->Value("to").value_or("");
  if (to.empty()) {
    to = absl::EndsWith(output, ".safetensors") ? "safetensors"
         : (absl::EndsWith(output, ".bin") || absl::EndsWith(output, ".pt")) ? "bin"
                                                                              : "";
  }
  if (to != "safetensors" && to != "bin") {
    std::cerr << "neobert-export convert: cannot tell the output format of '" << output
              << "'; pass --to safetensors|bin\n";
    return kExitUsage;
  }
  std::optional<format::DType> dtype;
  if (auto d = parsed->Value("dtype"); d && *d != "keep") {
    dtype = format::FromTorchName(*d);
    if (!dtype || !format::IsFloatingPoint(*dtype)) {
      std::cerr << "neobert-export convert: unknown --dtype '" << *d << "'\n";
      return kExitUsage;
    }
  }
  if (input == output) {
    std::cerr << "neobert-export convert: input and output are the same file\n";
    return kExitUsage;
  }

  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export convert: " << root.status().message() << "\n";
    return kExitUsage;
  }
  auto set = format::ReadWeights(*root, input);
  if (!set.ok()) {
    std::cerr << "error: " << set.status().message() << "\n";
    return kExitFailed;
  }
  std::vector<format::TensorEntry> tensors;
  for (const auto& t : set->tensors) {
    if (dtype && format::IsFloatingPoint(t.dtype)) {
      auto c = format::CastTensor(t, *dtype);
      if (!c.ok()) {
        std::cerr << "error: " << c.status().message() << "\n";
        return kExitFailed;
      }
      tensors.push_back(std::move(*c));
    } else {
      tensors.push_back(t);
    }
  }
  // Write next to the destination, then rename: never a half-written OUTPUT.
  const std::string tmp = absl::StrCat(output, ".partial-", ::getpid());
  format::SafetensorsWriteOptions st_options;
  st_options.root = *root;
  format::TorchWriteOptions bin_options;
  bin_options.root = *root;
  absl::Status s = to == "safetensors" ? format::WriteSafetensors(tensors, tmp, st_options)
                                       : format::WriteTorchBin(tensors, tmp, bin_options);
  if (s.ok()) s = root->Rename(tmp, output, 0);
  if (!s.ok()) {
    (void)root->RemoveAll(tmp);
    std::cerr << "error: " << s.message() << "\n";
    return kExitFailed;
  }
  std::cout << "wrote " << output << " (" << to << ", " << tensors.size() << " tensors)\n";
  return kExitOk;
}

}  // namespace neobert::cli
