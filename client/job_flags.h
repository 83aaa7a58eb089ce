// The flags of `export` and `validate`, whether the job runs here (local) or
// on neobert-exportd (remote: --server), and the one function each that
// turns them into core options. The remote commands then send those options
// (remote_client.h: ToExportRequest / ToValidateRequest); the local ones
// hand them to core. So a flag means the same thing in both modes, and a
// new option is added in one place.
//
// The modes differ only where the place the job runs decides:
//   local   --no-fsync, --no-sanity, --confine DIR, --validate (default off);
//           device default "auto"
//   remote  --no-validate (the server validates by default), --idempotency-key,
//           --cancel-on-interrupt; paths made absolute (the server has no
//           working directory of ours); device default "" (the server's
//           --device policy); fsync and the sanity pass are the server's.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "client/cli_args.h"
#include "core/export/exporter.h"
#include "core/export/validator.h"

namespace neobert::cli {

enum class JobMode { kLocal, kRemote };

FlagSpec ExportFlags(JobMode mode);
FlagSpec ValidateFlags(JobMode mode);

// The options of `export CKPT_DIR [flags]` (positional[0] is the checkpoint).
// INVALID_ARGUMENT (a usage error, exit 2) for a malformed --max-shard-size
// or contradicting flags. Values core checks (dtype, device) are left to
// core::CheckExportOptions, which the exporter and the server run.
absl::StatusOr<core::ExportOptions> ExportOptionsFromFlags(const ParsedArgs& parsed, JobMode mode);

// The options of `validate EXPORT_DIR [flags]`.
core::ValidateOptions ValidateOptionsFromFlags(const ParsedArgs& parsed, JobMode mode);

// Parses "1500000", "500MB", "2GiB", "5GB" into bytes (0 on error).
uint64_t ParseByteSize(const std::string& text);

}  // namespace neobert::cli
