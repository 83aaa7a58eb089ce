#include "server/server_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/fs_root.h"
#include "core/base/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace neobert::server {

namespace {

// Flags that take no value.
bool IsSwitch(const std::string& name) {
  return name == "no-fsync" || name == "help" || name == "once" ||
         name == "allow-plaintext-token";
}

// One flag, and the config file it came from ("" = the command line).
struct Arg {
  std::string text;
  std::string origin;
};

absl::StatusOr<std::vector<Arg>> ExpandConfigFiles(const std::vector<std::string>& args) {
  std::vector<Arg> out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string path;
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--config needs a value");
      path = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      path = args[i].substr(9);
    } else {
      out.push_back({args[i], ""});
      continue;
    }
    ASSIGN_OR_RETURN(auto flags, ConfigFileFlags(path));
    for (auto& f : flags) out.push_back({std::move(f), path});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ConfigFileFlags(const std::string& path) {
  YAML::Node root;
  // Regular files only (a FIFO must not hang the start), and capped.
  ASSIGN_OR_RETURN(const std::string text, base::FsRoot::Unconfined().ReadFile(path, 1 << 20),
                   "config file '", path, "' cannot be read");
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config file '", path, "': ", e.what()));
  }
  if (root.IsNull()) return std::vector<std::string>{};
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file '", path, "': expected a mapping of flag names to values"));
  }
  std::vector<std::string> flags;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("config file '", path, "', key '", key, "': ", why));
    };
    if (key == "config") return bad("a config file cannot name another");
    if (IsSwitch(key)) {
      bool on = false;
      if (!v.IsScalar() || !YAML::convert<bool>::decode(v, on)) return bad("expected true or false");
      if (on) flags.push_back("--" + key);
    } else if (v.IsScalar()) {
      flags.push_back(absl::StrCat("--", key, "=", v.Scalar()));
    } else if (v.IsSequence()) {
      for (const auto& item : v) {
        if (!item.IsScalar()) return bad("list items must be plain values");
        flags.push_back(absl::StrCat("--", key, "=", item.Scalar()));
      }
    } else {
      return bad("expected a value or a list of values");
    }
  }
  return flags;
}

namespace {

// One valued flag, --NAME VALUE or --NAME=VALUE, into `c`. `where` names the
// config file it came from ("" on the command line).
absl::Status SetValuedFlag(ServerConfig& c, const std::string& name, const std::string& value,
                           const std::string& where, bool* job_store_set) {
  auto number = [&](int* out, int min) -> absl::Status {
    if (!absl::SimpleAtoi(value, out) || *out < min || *out > 1000000) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": bad number '", value, "'", where));
    }
    return absl::OkStatus();
  };
  absl::Status s;
  if (name == "listen") c.listen = value;
  else if (name == "input-root") c.input_roots.push_back(value);
  else if (name == "output-root") c.output_roots.push_back(value);
  else if (name == "default-output-dir") c.default_output_dir = value;
  else if (name == "workers") s = number(&c.workers, 1);
  else if (name == "queue-capacity") s = number(&c.queue_capacity, 1);
  else if (name == "grace-seconds") s = number(&c.grace_seconds, 0);
  else if (name == "state-dir") c.state_dir = value;
  else if (name == "job-store") {
    *job_store_set = true;
    c.job_store = value;
  }
  else if (name == "max-attempts") s = number(&c.max_attempts, 1);
  else if (name == "lease-seconds") s = number(&c.lease_seconds, 1);
  else if (name == "job-retention-days") s = number(&c.job_retention_days, 0);
  else if (name == "job-retention-count") s = number(&c.job_retention_count, 0);
  else if (name == "token-file") c.token_file = value;
  else if (name == "device") c.device = value;
  else if (name == "tls-cert") c.tls_cert = value;
  else if (name == "tls-key") c.tls_key = value;
  else if (name == "tls-client-ca") c.tls_client_ca = value;
  else if (name == "metrics-listen") {
    if (value.rfind(':') == std::string::npos || value.rfind(':') == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: expected HOST:PORT", where));
    }
    c.metrics_listen = value;
  }
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
      return absl::InvalidArgumentError(absl::StrCat("--log-format: expected text or json", where));
    }
    c.log_format = value;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, where));
  }
  return s;
}

// What no single flag can check: the combinations, the job store, and the
// token's transport.
absl::Status CheckServerConfig(ServerConfig& c, bool job_store_set) {
  // A Kubernetes Secret maps into the environment more easily than into flags.
  if (const char* env = std::getenv("NEOBERT_JOB_STORE"); !job_store_set && env && *env) c.job_store = env;
  if (c.job_store != "sqlite" && c.job_store.rfind("postgresql://", 0) != 0 &&
      c.job_store.rfind("postgres://", 0) != 0) {
    return absl::InvalidArgumentError("--job-store: expected sqlite or a postgresql://... DSN");
  }
  if (c.input_roots.empty() || c.output_roots.empty()) {
    return absl::InvalidArgumentError("at least one --input-root and one --output-root are required");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!c.tls_client_ca.empty() && c.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!c.help && !c.watch_output.empty() && c.watch_dirs.empty()) {
    return absl::InvalidArgumentError("--watch-output needs at least one --watch DIR");
  }
  if (!c.token_file.empty() && c.tls_cert.empty() && !c.allow_plaintext_token &&
      !IsLoopbackListen(c.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to start: --token-file with --listen ", c.listen,
        " (not a loopback address) and no TLS would send the bearer token in clear over the "
        "network. Serve TLS (--tls-cert and --tls-key), listen on 127.0.0.1, or, when TLS is "
        "terminated in front of the server, pass --allow-plaintext-token"));
  }
  if (!c.help && c.once && c.watch_dirs.empty()) {
    return absl::InvalidArgumentError("--once needs at least one --watch DIR");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& raw_args) {
  ASSIGN_OR_RETURN(const std::vector<Arg> args, ExpandConfigFiles(raw_args));
  ServerConfig c;
  bool job_store_set = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i].text;
    const std::string where =
        args[i].origin.empty() ? "" : absl::StrCat(" (in config file '", args[i].origin, "')");
    if (a == "--help" || a == "-h") {
      c.help = true;
      continue;
    }
    if (a == "--version") {
      c.version = true;
      continue;
    }
    if (a == "--no-fsync") {
      c.sync = false;
      continue;
    }
    if (a == "--once") {
      c.once = true;
      continue;
    }
    if (a == "--allow-plaintext-token") {
      c.allow_plaintext_token = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'", where));
    }
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i].text;
    }
    RETURN_IF_ERROR(SetValuedFlag(c, name, value, where, &job_store_set));
  }
  if (c.help || c.version) return c;
  RETURN_IF_ERROR(CheckServerConfig(c, job_store_set));
  return c;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& flag) {
  ASSIGN_OR_RETURN(std::string text, base::FsRoot::Unconfined().ReadFile(path, 1 << 20), "--", flag,
                   ": '", path, "' cannot be read");
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", path, "' is empty"));
  }
  return text;
}

bool IsLoopbackListen(const std::string& listen) {
  if (listen.rfind("unix:", 0) == 0 || listen.rfind("unix-abstract:", 0) == 0) return true;
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // 0.0.0.0, [::], a host name: reachable from elsewhere
}

}  // namespace neobert::server
