#include "client/job_flags.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace neobert::cli {
namespace {

// The server resolves paths itself, with no working directory of ours.
std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

std::string PathFor(const std::string& path, JobMode mode) {
  return mode == JobMode::kRemote ? Absolute(path) : path;
}

}  // namespace

FlagSpec ExportFlags(JobMode mode) {
  FlagSpec spec{.boolean = {"no-pytorch-bin", "drop-decoder-bias", "overwrite", "dry-run",
                            "prefer-newest-file", "validate"},
                .valued = {"output", "dtype", "max-shard-size", "device"},
                .short_names = {{'o', "output"}}};
  if (mode == JobMode::kLocal) {
    spec.boolean.insert({"help", "json", "no-fsync", "no-sanity"});
    spec.valued.insert("confine");
    spec.short_names['h'] = "help";
  } else {
    spec.boolean.insert({"no-validate", "cancel-on-interrupt"});
    spec.valued.insert("idempotency-key");
  }
  return spec;
}

FlagSpec ValidateFlags(JobMode mode) {
  FlagSpec spec{.boolean = {"strict"}, .valued = {"source", "device"}, .short_names = {}};
  if (mode == JobMode::kLocal) {
    spec.boolean.insert({"help", "json"});
    spec.valued.insert("confine");
    spec.short_names['h'] = "help";
  } else {
    spec.boolean.insert("cancel-on-interrupt");
  }
  return spec;
}

absl::StatusOr<core::ExportOptions> ExportOptionsFromFlags(const ParsedArgs& parsed, JobMode mode) {
  const bool remote = mode == JobMode::kRemote;
  core::ExportOptions o;
  o.checkpoint_dir = PathFor(parsed.positional.at(0), mode);
  o.output_dir = PathFor(parsed.Value("output").value_or(""), mode);
  o.dtype = parsed.Value("dtype").value_or("keep");
  o.write_pytorch_bin = !parsed.Has("no-pytorch-bin");
  o.drop_decoder_bias = parsed.Has("drop-decoder-bias");
  o.overwrite = parsed.Has("overwrite");
  o.dry_run = parsed.Has("dry-run");
  o.prefer_newest_file = parsed.Has("prefer-newest-file");
  o.sync = !parsed.Has("no-fsync");
  o.sanity_check = !parsed.Has("no-sanity");
  o.device = parsed.Value("device").value_or(remote ? "" : "auto");
  if (parsed.Has("validate") && parsed.Has("no-validate")) {
    return absl::InvalidArgumentError("--validate and --no-validate contradict each other");
  }
  o.validate = remote ? !parsed.Has("no-validate") : parsed.Has("validate");
  if (auto s = parsed.Value("max-shard-size")) {
    o.max_shard_bytes = ParseByteSize(*s);
    if (o.max_shard_bytes == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --max-shard-size '", *s, "'"));
    }
  }
  return o;
}

core::ValidateOptions ValidateOptionsFromFlags(const ParsedArgs& parsed, JobMode mode) {
  core::ValidateOptions o;
  o.export_dir = PathFor(parsed.positional.at(0), mode);
  o.source_dir = PathFor(parsed.Value("source").value_or(""), mode);
  o.device = parsed.Value("device").value_or(mode == JobMode::kRemote ? "" : "auto");
  o.strict = parsed.Has("strict");
  return o;
}

uint64_t ParseByteSize(const std::string& text) {
  std::string t = absl::AsciiStrToUpper(text);
  struct Unit {
    const char* suffix;
    uint64_t mult;
  };
  static const Unit kUnits[] = {{"GIB", 1ull << 30}, {"MIB", 1ull << 20}, {"KIB", 1ull << 10},
                                {"GB", 1000000000ull}, {"MB", 1000000ull}, {"KB", 1000ull},
                                {"B", 1}};
  uint64_t mult = 1;
  for (const auto& u : kUnits) {
    const std::string suffix = u.suffix;
    if (t.size() > suffix.size() && t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0) {
      t.resize(t.size() - suffix.size());
      mult = u.mult;
      break;
    }
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(t, &n) || n == 0 || n > UINT64_MAX / mult) return 0;
  return n * mult;
}

}  // namespace neobert::cli
