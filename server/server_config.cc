#include "server/server_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace neobert::server {

absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args) {
  ServerConfig c;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") {
      c.help = true;
      continue;
    }
    if (a == "--no-fsync") {
      c.sync = false;
      continue;
    }
    if (a.rfind("--", 0) != 0) return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'"));
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    auto number = [&](int* out, int min) -> absl::Status {
      if (!absl::SimpleAtoi(value, out) || *out < min || *out > 1000000) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": bad number '", value, "'"));
      }
      return absl::OkStatus();
    };
    absl::Status s;
    if (name == "listen") c.listen = value;
    else if (name == "input-root") c.input_roots.push_back(value);
    else if (name == "output-root") c.output_roots.push_back(value);
    else if (name == "workers") s = number(&c.workers, 1);
    else if (name == "queue-capacity") s = number(&c.queue_capacity, 1);
    else if (name == "grace-seconds") s = number(&c.grace_seconds, 0);
    else if (name == "state-dir") c.state_dir = value;
    else if (name == "token-file") c.token_file = value;
    else if (name == "watch") c.watch_dirs.push_back(value);
    else if (name == "watch-output") c.watch_output = value;
    else if (name == "watch-poll-seconds") s = number(&c.watch_poll_seconds, 1);
    else if (name == "watch-mode") {
      if (value != "auto" && value != "inotify" && value != "poll") {
        return absl::InvalidArgumentError("--watch-mode: expected auto, inotify or poll");
      }
      c.watch_mode = value;
    } else if (name == "post-export-hook") c.post_export_hook = value;
    else if (name == "post-export-hook-timeout") s = number(&c.post_export_hook_timeout_seconds, 1);
    else if (name == "log-format") {
      if (value != "text" && value != "json") {
        return absl::InvalidArgumentError("--log-format: expected text or json");
      }
      c.log_format = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!s.ok()) return s;
  }
  if (!c.help && (c.input_roots.empty() || c.output_roots.empty())) {
    return absl::InvalidArgumentError("at least one --input-root and one --output-root are required");
  }
  if (!c.help && !c.watch_output.empty() && c.watch_dirs.empty()) {
    return absl::InvalidArgumentError("--watch-output needs at least one --watch DIR");
  }
  return c;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("token file '", path, "' cannot be read"));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(ss.str()));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("token file '", path, "' is empty"));
  if (token.size() > 4096) return absl::InvalidArgumentError(absl::StrCat("token file '", path, "' is too long"));
  return token;
}

}  // namespace neobert::server
