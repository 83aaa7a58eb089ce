// neobert-export: the command-line tool. Subcommands run in-process (inspect,
// export, validate) or talk to neobert-exportd.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/convert_command.h"
#include "client/export_command.h"
#include "client/forward_command.h"
#include "client/predict_command.h"
#include "client/validate_command.h"
#include "client/inspect_command.h"
#include "client/remote_client.h"

namespace {

constexpr char kUsage[] =
    "usage: neobert-export <command> [options]\n"
    "commands:\n"
    "  export CKPT_DIR [-o DIR] [...]    convert a training checkpoint into a Hugging Face folder\n"
    "  inspect PATH [--hash] [--json]   list the tensors of a weight file or directory\n"
    "  convert INPUT OUTPUT [--to F]     rewrite a weight file as safetensors or torch .bin\n"
    "  validate EXPORT_DIR [--source CKPT] [--json]   check an export (forward passes, parity)\n"
    "  forward EXPORT_DIR --input-ids F.json --out O.safetensors   run an export on given ids\n"
    "  predict EXPORT_DIR \"text with [MASK]\" [--top-k K]   fill-mask with an export\n"
    "client mode (neobert-exportd at --server or $NEOBERT_EXPORT_SERVER):\n"
    "  export CKPT_DIR --server ADDR      export on the server, streaming progress\n"
    "  submit CKPT_DIR [-o DIR]           queue an export, print the job id\n"
    "  validate EXPORT_DIR --server ADDR  validate an export folder on the server (every check)\n"
    "  get JOB [-o text|json]             one job: state, result or error with its reason\n"
    "  jobs [-o table|wide|json]          list jobs\n"
    "  watch JOB | cancel JOB | info | health\n"
    "exit codes (every command):\n"
    "  0 ok   1 invalid input (bad checkpoint, missing file, ...) or other failure   2 usage\n"
    "  3 server unreachable, draining, queue full or deadline passed (retry later)\n"
    "  4 validation failed   5 path denied or not authenticated   6 job cancelled or interrupted\n"
    "  130 Ctrl-C while following a server job that keeps running\n"
    "--json: JSON lines; the last is {\"event\":\"result\", \"ok\", \"exit_code\", \"state\", \"reason\", ...},\n"
    "  the same schema in-process and against a server (README: \"--json output\").\n"
    "run 'neobert-export <command> --help' for a command's options; --version prints the version.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cerr << kUsage;
    return args.empty() ? neobert::cli::kExitUsage : neobert::cli::kExitOk;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "neobert-export " << NEOBERT_VERSION << "\n";
    return neobert::cli::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "export" || command == "validate") {
    // --local forces the in-process path even when NEOBERT_EXPORT_SERVER is set.
    bool local = false, server_flag = false;
    for (auto it = args.begin(); it != args.end();) {
      if (*it == "--local") {
        local = true;
        it = args.erase(it);
        continue;
      }
      if (*it == "--server" || it->rfind("--server=", 0) == 0) server_flag = true;
      ++it;
    }
    const bool remote = !local && (server_flag || neobert::cli::ServerFromEnv());
    if (command == "validate") {
      return remote ? neobert::cli::RunRemoteValidate(args) : neobert::cli::RunValidate(args);
    }
    return remote ? neobert::cli::RunRemoteExport(args) : neobert::cli::RunExport(args);
  }
  if (command == "submit") return neobert::cli::RunSubmit(args);
  if (command == "watch") return neobert::cli::RunWatch(args);
  if (command == "jobs") return neobert::cli::RunJobs(args);
  if (command == "cancel") return neobert::cli::RunCancel(args);
  if (command == "health") return neobert::cli::RunHealth(args);
  if (command == "get") return neobert::cli::RunGet(args);
  if (command == "info") return neobert::cli::RunInfo(args);
  if (command == "inspect") return neobert::cli::RunInspect(args);
  if (command == "convert") return neobert::cli::RunConvert(args);
  if (command == "forward") return neobert::cli::RunForward(args);
  if (command == "predict") return neobert::cli::RunPredict(args);
  std::cerr << "neobert-export: unknown command '" << command << "'\n" << kUsage;
  return neobert::cli::kExitUsage;
}
