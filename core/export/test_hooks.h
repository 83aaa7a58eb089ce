// Deterministic pause points inside an export, for tests of what happens
// when the world changes mid-export (a trainer pruning the step dir that is
// being exported). Test-only and inert in production: nothing happens unless
// the environment variable NEOBERT_EXPORT_TEST_PAUSE_DIR names a folder.
//
// At point P ("inspect": before the checkpoint is read; "scan": weights
// described, before the NaN/Inf scan; "write": weight files written into the
// staging folder, before tokenizer files and the card; "validate": staged
// with its manifest, before the staged export is validated (with
// ExportOptions::validate); "commit": everything staged and validated,
// before publishing), when <dir>/P exists the export
// creates <dir>/P.reached and waits until <dir>/P is removed, the job is
// cancelled, or 10 minutes pass. A test creates P, waits for P.reached (no
// sleeps), changes the world, removes P.
//
// Thread-safety: any thread; every export reaching P pauses.
#pragma once

#include "core/base/progress.h"

namespace neobert::core {

void TestPausePoint(const char* point, const base::CancelToken& cancel);

}  // namespace neobert::core
