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
  std::string state_dir;                  // SQLite job store (jobs.db); empty = in memory
  // Job store (server/store/job_store.h): "sqlite" or a postgresql:// DSN;
  // from $NEOBERT_JOB_STORE when neither flag nor config key sets it.
  std::string job_store = "sqlite";
  int max_attempts = 3;                   // runs that may lose their lease before FAILED
  int lease_seconds = 30;                 // claim lease; heartbeat every third
  int job_retention_days = 30;            // finished jobs older are purged; 0 = never
  int job_retention_count = 100000;       // finished jobs kept at most; 0 = no cap
  std::string token_file;                 // bearer tokens (bearer_tokens.h); empty = no auth
  // Serve --token-file over plaintext on a non-loopback address anyway
  // (TLS terminated in front of the server); refused to start otherwise.
  bool allow_plaintext_token = false;
  std::string log_format = "text";        // text | json
  std::string metrics_listen;             // Prometheus /metrics HOST:PORT; empty = off
  int grace_seconds = 30;                 // SIGTERM: how long running jobs may finish
  bool sync = true;                       // --no-fsync turns it off (tests only)
  std::string device = "auto";            // auto | cpu | cuda[:N] (device_policy.h)
  std::string tls_cert;                   // PEM server certificate chain; empty = plaintext
  std::string tls_key;                    // PEM private key for tls_cert
  std::string tls_client_ca;              // PEM CA bundle: require client certs (mTLS)
  // Watch mode (watcher.h): folders whose finished steps are exported.
  std::vector<std::string> watch_dirs;
  std::string watch_output;               // empty: <run>/hf/<run>_<step>
  int watch_poll_seconds = 10;            // rescan + settle interval
  std::string watch_mode = "auto";        // auto | inotify | poll
  bool once = false;                      // --once: export every complete step, then exit
  // post_export_hook.h: run after each successful export; empty = none.
  std::string post_export_hook;
  int post_export_hook_timeout_seconds = 300;
  bool help = false;
  bool version = false;  // --version: print "neobert-exportd <version>" and exit
};

inline constexpr char kServerUsage[] =
    "usage: neobert-exportd --input-root DIR --output-root DIR [options]\n"
    "  --config FILE          YAML file of flags: keys are flag names without '--'\n"
    "                         (input-root: [a, b]; no-fsync: true); flags after it win,\n"
    "                         repeatable flags add to the file's list\n"
    "  --listen HOST:PORT     default 127.0.0.1:50051 (port 0: pick one; printed on stdout)\n"
    "  --input-root DIR       checkpoints may be read only below these (repeatable, required)\n"
    "  --output-root DIR      exports may be written only below these (repeatable, required)\n"
    "  --workers N            jobs run at once (default 1)\n"
    "  --queue-capacity N     jobs waiting beyond this are refused (default 16)\n"
    "  --state-dir DIR        SQLite job store DIR/jobs.db (jobs survive restarts; one\n"
    "                         server per dir); without it jobs are kept in memory\n"
    "  --job-store S          sqlite (default: in --state-dir) | postgresql://... DSN shared\n"
    "                         by several servers (default: $NEOBERT_JOB_STORE, else sqlite)\n"
    "  --max-attempts N       runs of a job whose server died (lease lost) before it\n"
    "                         FAILs (default 3)\n"
    "  --lease-seconds N      a running job's lease in the store; renewed every N/3 s;\n"
    "                         another server takes the job over once it expires (default 30)\n"
    "  --job-retention-days N finished jobs older than N days are purged (default 30; 0: keep)\n"
    "  --job-retention-count N  keep at most N finished jobs (default 100000; 0: no cap)\n"
    "  --token-file FILE      require 'authorization: Bearer <token>': one token per line\n"
    "                         (all accepted; blank lines, '#' comments ignored); re-read\n"
    "                         when the file changes (Secret rotation without a restart)\n"
    "  --allow-plaintext-token  start although --token-file is set, --listen is not a\n"
    "                         loopback address and there is no TLS (the token would cross\n"
    "                         the network in clear: only behind a TLS-terminating proxy)\n"
    "  --log-format text|json\n"
    "  --metrics-listen HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                         (default off; port 0: pick one; printed on stdout as 'metrics on ...')\n"
    "  --grace-seconds N      on SIGTERM, let running jobs finish this long (default 30);\n"
    "                         with --watch, every complete step not yet exported is\n"
    "                         exported within it too (newest first, no settle wait)\n"
    "  --device D             forward-pass device: auto (each visible GPU, round-robin;\n"
    "                         cpu without one) | cpu | cuda[:N]  (default auto)\n"
    "  --tls-cert FILE        serve TLS with this PEM certificate chain (needs --tls-key)\n"
    "  --tls-key FILE         PEM private key for --tls-cert\n"
    "  --tls-client-ca FILE   require client certificates signed by this CA (mTLS)\n"
    "  --no-fsync             skip fsync of exports (tests/benchmarks only)\n"
    "  --version              print the version and exit\n"
    "watch mode (sidecar): export every finished training step once\n"
    "  --watch DIR            a run's output dir, its model_checkpoints/ or checkpoints/\n"
    "                         folder, or a folder of runs (repeatable; inside an input root)\n"
    "  --watch-output DIR     exports go to DIR/<run>_<step> (default <run>/hf/<run>_<step>)\n"
    "  --watch-poll-seconds N rescan interval, and how long a step must stay unchanged\n"
    "                         before it counts as finished (default 10)\n"
    "  --watch-mode auto|inotify|poll   auto: inotify + periodic rescans (default);\n"
    "                         poll: rescans only (network file systems)\n"
    "  --once                 export every complete step under the --watch folders (no\n"
    "                         settle wait), then exit: 0 when all exported, 1 if any failed\n"
    "post-export hook\n"
    "  --post-export-hook CMD after each successful export run /bin/sh -c CMD with the export\n"
    "                         dir as $1 and NEOBERT_EXPORT_DIR, NEOBERT_CHECKPOINT_DIR,\n"
    "                         NEOBERT_JOB_ID set; its exit status is recorded in the job\n"
    "                         (a failing hook does not fail the export)\n"
    "  --post-export-hook-timeout N   kill the hook after N seconds (default 300)\n";

// `--config FILE` is expanded in place into the flags it holds (one level:
// a config file cannot name another).
absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args);

// The flags a YAML config file stands for, in file order. Errors name the
// file and the key.
absl::StatusOr<std::vector<std::string>> ConfigFileFlags(const std::string& path);

// Reads a whole (small, regular) file, e.g. a PEM; errors name the flag.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& flag);

// True when a --listen address only accepts local connections: 127.0.0.0/8,
// [::1], localhost, or a unix: socket.
bool IsLoopbackListen(const std::string& listen);

}  // namespace neobert::server
