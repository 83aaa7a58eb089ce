// The export's NaN/Inf scan: the one pass that reads every weight byte before
// anything is written.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "core/base/progress.h"
#include "core/format/tensor.h"

namespace neobert::core {

// Scans floating tensors for NaN/Inf; the error names the first tensor and
// counts its non-finite values. In the same read pass it checks the CRC-32 of
// every tensor (floating or not) that carries its storage's recorded CRC
// (format::RecordedCrc32), the CRC the .bin writer then reuses without
// reading: a mismatch is INVALID_ARGUMENT naming the tensor and the record,
// and takes precedence over NaN/Inf findings. Uses two threads.
absl::Status CheckFinite(const std::vector<format::TensorEntry>& tensors,
                         const base::CancelToken& cancel);

}  // namespace neobert::core
