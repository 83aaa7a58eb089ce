// README.md of the exported folder (reference §8.5), plus two sections the
// original did not have: exported artifacts as we write them, and export
// provenance (source, weights format, dtype, decoder bias, plan notes).
//
// Layout: YAML front matter (library_name, license, datasets — omitted when
// the dataset name is empty —, language) and a blank line; "# NeoBERT Model";
// "## Model Details"; "## Runtime Dependencies"; "## Exported Artifacts";
// "## Usage" with an [!IMPORTANT] admonition about repo_id, a fill-mask
// snippet and an embeddings snippet; "## Training Configuration" with the
// parsed config.yaml re-dumped (block style, original key order) inside
// <details>; "## Export Provenance".
//
// Fill-mask snippet: the sentence shows `[MASK]` when the tokenizer's mask
// token is `[MASK]` or `[mask]`, else the real mask string; the code swaps
// in tokenizer.mask_token at run time. When `metaspace` is set the snippet
// also drops a "▁" id standing right before the mask and rebuilds an
// all-ones attention mask.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/dtype.h"
#include "core/neobert/checkpoint_config.h"

namespace neobert::core {

struct ModelCardInputs {
  std::string repo_id;            // the output folder's name, used in the snippets
  std::string source_checkpoint;  // canonical checkpoint path
  std::string weights_format;     // "safetensors" | "torch-zip" (what we read)
  format::DType dtype = format::DType::kFloat32;  // config.json torch_dtype
  bool decoder_bias = false;
  bool tied_decoder = false;
  // Weight files written, in order (e.g. "model.safetensors",
  // "pytorch_model.bin", or shards plus "model.safetensors.index.json").
  std::vector<std::string> weight_files = {"model.safetensors"};
  std::vector<std::string> tokenizer_files;  // names written from the tokenizer plan
  std::string mask_token = "[MASK]";
  bool metaspace = false;
  std::vector<std::string> notes;  // export plan and tokenizer notes
  std::string project_url = "https://github.com/chandar-lab/NeoBERT";
};

// Fails (INTERNAL) only if the YAML emitter rejects the parsed config.
absl::StatusOr<std::string> RenderModelCard(const NeoBertConfig& config,
                                            const ModelCardInputs& inputs);

}  // namespace neobert::core
