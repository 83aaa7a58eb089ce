// neobert-export: the command-line tool. Subcommands run in-process (inspect,
// export, validate) or talk to neobert-exportd.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/convert_command.h"
#include "client/export_command.h"
#include "client/inspect_command.h"

namespace {

constexpr char kUsage[] =
    "usage: neobert-export <command> [options]\n"
    "commands:\n"
    "  export CKPT_DIR [-o DIR] [...]    convert a training checkpoint into a Hugging Face folder\n"
    "  inspect PATH [--hash] [--json]   list the tensors of a weight file or directory\n"
    "  convert INPUT OUTPUT [--to F]     rewrite a weight file as safetensors or torch .bin\n"
    "run 'neobert-export <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cerr << kUsage;
    return args.empty() ? neobert::cli::kExitUsage : neobert::cli::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "export") return neobert::cli::RunExport(args);
  if (command == "inspect") return neobert::cli::RunInspect(args);
  if (command == "convert") return neobert::cli::RunConvert(args);
  std::cerr << "neobert-export: unknown command '" << command << "'\n" << kUsage;
  return neobert::cli::kExitUsage;
}
