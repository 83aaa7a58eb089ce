// Binding a stored job to this server's roots.
//
// A job travels through the job store as paths (a database row cannot hold
// file descriptors), and the server that claims it may not be the one that
// accepted it. Before it runs, the claiming server resolves the job's paths
// again beneath its own roots (path_policy.h), so every file the job touches
// goes through this server's doors, and a link swapped in since submission
// is refused like at submission.
#pragma once

#include "absl/status/status.h"
#include "server/job.h"
#include "server/job_manager.h"
#include "server/path_policy.h"

namespace neobert::server {

// Sets the roots in spec's options (ExportOptions::input_root/output_root,
// or ValidateOptions::root/source_root) and canonical paths from `policy`.
// Also resolves a ValidateRequest at submission. The errors of
// PathPolicy::ResolveInput/ResolveOutput (PERMISSION_DENIED
// naming the path or link, NOT_FOUND for a checkpoint gone meanwhile).
absl::Status BindJobRoots(const PathPolicy& policy, JobSpec& spec);

// The production runner of a server confined to `policy`'s roots: binds the
// claimed job (BindJobRoots), then RunJobWithCore. A job whose paths no
// longer resolve fails with that error, and nothing is read or written.
JobRunner ConfinedJobRunner(PathPolicy policy);

}  // namespace neobert::server
