// neobert-exportd's command line. Flags: --name value or --name=value;
// --input-root and --output-root repeat. Unknown flags are an error.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace neobert::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::vector<std::string> input_roots;   // allowed checkpoint / validate folders
  std::vector<std::string> output_roots;  // allowed export destinations
  int workers = 1;                        // concurrent jobs
  int queue_capacity = 16;                // waiting jobs beyond this: RESOURCE_EXHAUSTED
  std::string state_dir;                  // job journal; empty = none
  std::string token_file;                 // bearer token; empty = no auth
  std::string log_format = "text";        // text | json
  std::string metrics_listen;             // Prometheus /metrics HOST:PORT; empty = off
  int grace_seconds = 30;                 // SIGTERM: how long running jobs may finish
  bool sync = true;                       // --no-fsync turns it off (tests only)
  bool help = false;
};

inline constexpr char kServerUsage[] =
    "usage: neobert-exportd --input-root DIR --output-root DIR [options]\n"
    "  --listen HOST:PORT     default 127.0.0.1:50051 (port 0: pick one; printed on stdout)\n"
    "  --input-root DIR       checkpoints may be read only below these (repeatable, required)\n"
    "  --output-root DIR      exports may be written only below these (repeatable, required)\n"
    "  --workers N            jobs run at once (default 1)\n"
    "  --queue-capacity N     jobs waiting beyond this are refused (default 16)\n"
    "  --state-dir DIR        job journal (jobs survive restarts)\n"
    "  --token-file FILE      require 'authorization: Bearer <token>'\n"
    "  --log-format text|json\n"
    "  --metrics-listen HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                         (default off; port 0: pick one; printed on stdout as 'metrics on ...')\n"
    "  --grace-seconds N      on SIGTERM, let running jobs finish this long (default 30)\n"
    "  --no-fsync             skip fsync of exports (tests/benchmarks only)\n";

absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args);

// The token in `path`, surrounding whitespace removed. An empty token is an
// error (it would accept "Bearer ").
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace neobert::server
