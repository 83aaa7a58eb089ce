#include "client/convert_command.h"

#include <iostream>

#include "client/cli_args.h"
#include "core/export/convert.h"

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
  core::ConvertOptions o;
  o.input = parsed->positional[0];
  o.output = parsed->positional[1];
  const std::string to = parsed->Value("to").value_or("");
  std::optional<core::WeightFormat> format =
      to == "safetensors" ? core::WeightFormat::kSafetensors
      : to == "bin"       ? core::WeightFormat::kTorchBin
      : to.empty()        ? core::WeightFormatOfName(o.output)
                          : std::nullopt;
  if (!format) {
    std::cerr << "neobert-export convert: cannot tell the output format of '" << o.output
              << "'; pass --to safetensors|bin\n";
    return kExitUsage;
  }
  o.format = *format;
  auto dtype = core::ConvertDtype(parsed->Value("dtype").value_or("keep"));
  if (!dtype.ok()) {
    std::cerr << "neobert-export convert: --dtype: " << dtype.status().message() << "\n";
    return kExitUsage;
  }
  o.dtype = *dtype;
  if (o.input == o.output) {
    std::cerr << "neobert-export convert: input and output are the same file\n";
    return kExitUsage;
  }
  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export convert: " << root.status().message() << "\n";
    return kExitUsage;
  }
  o.root = *root;
  base::NullProgress progress;
  base::CancelToken cancel;
  auto result = core::ConvertWeights(o, progress, cancel);
  if (!result.ok()) {
    std::cerr << "error: " << result.status().message() << "\n";
    return kExitFailed;
  }
  std::cout << "wrote " << o.output << " ("
            << (o.format == core::WeightFormat::kSafetensors ? "safetensors" : "bin") << ", "
            << result->tensor_count << " tensors)\n";
  return kExitOk;
}

}  // namespace neobert::cli
