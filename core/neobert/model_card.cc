#include "core/neobert/model_card.h"

#include <cstdio>
#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/neobert/hf_config.h"

namespace neobert::core {
namespace {

// A Python double-quoted literal; non-ASCII stays literal (source is UTF-8).
std::string PyStr(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Markdown inline code that cannot be broken by the text it shows.
std::string Code(const std::string& s) {
  std::string t;
  for (char c : s) t += (c == '`') ? '\'' : (static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  return absl::StrCat("`", t, "`");
}

std::string OneLine(const std::string& s) {
  std::string t;
  for (char c : s) t += (c == '\n' || c == '\r') ? ' ' : c;
  return t;
}

absl::StatusOr<std::string> FrontMatter(const NeoBertConfig& c) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "library_name" << YAML::Value << "transformers";
  e << YAML::Key << "license" << YAML::Value << "mit";
  if (!c.dataset_name.empty()) {
    e << YAML::Key << "datasets" << YAML::Value << YAML::BeginSeq << c.dataset_name
      << YAML::EndSeq;
  }
  e << YAML::Key << "language" << YAML::Value << YAML::BeginSeq << "en" << YAML::EndSeq;
  e << YAML::EndMap;
  if (!e.good()) return absl::InternalError(absl::StrCat("model card: ", e.GetLastError()));
  return absl::StrCat("---\n", e.c_str(), "\n---\n\n");
}

absl::StatusOr<std::string> ConfigYaml(const NeoBertConfig& c) {
  YAML::Emitter e;
  e.SetNullFormat(YAML::LowerNull);  // PyYAML writes `null`
  e << c.raw;
  if (!e.good()) {
    return absl::InternalError(absl::StrCat("model card: cannot re-dump config.yaml: ",
                                            e.GetLastError()));
  }
  return std::string(e.c_str());
}

std::string FillMaskSnippet(const ModelCardInputs& in) {
  const bool bert_style = in.mask_token == "[MASK]" || in.mask_token == "[mask]";
  const std::string shown = bert_style ? "[MASK]" : in.mask_token;
  std::string s = absl::StrCat(
      "```python\n"
      "import torch\n"
      "from transformers import AutoModelForMaskedLM, AutoTokenizer\n\n"
      "repo_id = ", PyStr(in.repo_id), "\n",
      "tokenizer = AutoTokenizer.from_pretrained(repo_id, trust_remote_code=True)\n"
      "model = AutoModelForMaskedLM.from_pretrained(repo_id, trust_remote_code=True)\n"
      "model.eval()\n\n"
      "text = ", PyStr(absl::StrCat("NeoBERT is the most ", shown, " model of its kind!")), "\n",
      "text = text.replace(", PyStr(shown), ", tokenizer.mask_token)\n",
      "inputs = tokenizer(text, return_tensors=\"pt\")\n");
  if (in.metaspace) {
    absl::StrAppend(
        &s,
        "\n# This tokenizer marks word starts with \"\xE2\x96\x81\" and emits it as a separate piece\n"
        "# before the mask; drop that piece so the mask stands where a word would.\n"
        "space_id = tokenizer.convert_tokens_to_ids(\"\xE2\x96\x81\")\n"
        "ids = inputs[\"input_ids\"][0].tolist()\n"
        "ids = [t for i, t in enumerate(ids)\n"
        "       if not (t == space_id and i + 1 < len(ids) and ids[i + 1] == tokenizer.mask_token_id)]\n"
        "inputs = {\n"
        "    \"input_ids\": torch.tensor([ids]),\n"
        "    \"attention_mask\": torch.ones(1, len(ids), dtype=torch.long),\n"
        "}\n");
  }
  absl::StrAppend(
      &s,
      "\nwith torch.no_grad():\n"
      "    logits = model(**inputs).logits\n\n"
      "mask_index = (inputs[\"input_ids\"][0] == tokenizer.mask_token_id).nonzero()[0].item()\n"
      "top = torch.topk(logits[0, mask_index], k=5)\n"
      "for score, token_id in zip(top.values.tolist(), top.indices.tolist()):\n"
      "    print(f\"{tokenizer.decode([token_id]).strip():>15}  {score:.3f}\")\n"
      "```\n");
  return s;
}

std::string EmbeddingSnippet(const ModelCardInputs& in) {
  return absl::StrCat(
      "```python\n"
      "import torch\n"
      "from transformers import AutoModel, AutoTokenizer\n\n"
      "repo_id = ", PyStr(in.repo_id), "\n",
      "tokenizer = AutoTokenizer.from_pretrained(repo_id, trust_remote_code=True)\n"
      "model = AutoModel.from_pretrained(repo_id, trust_remote_code=True)\n"
      "model.eval()\n\n"
      "inputs = tokenizer(\"NeoBERT turns text into vectors.\", return_tensors=\"pt\")\n"
      "with torch.no_grad():\n"
      "    outputs = model(**inputs)\n"
      "embedding = outputs.last_hidden_state[:, 0, :]  # first-token vector\n"
      "print(embedding.shape)\n"
      "```\n");
}

}  // namespace

absl::StatusOr<std::string> RenderModelCard(const NeoBertConfig& c, const ModelCardInputs& in) {
  try {
    ASSIGN_OR_RETURN(auto front, FrontMatter(c));
    ASSIGN_OR_RETURN(auto yaml, ConfigYaml(c));
    const std::string dtype(format::TorchName(in.dtype));

    std::string s = front;
    absl::StrAppend(&s, "# NeoBERT Model\n\n",
                    "This model was trained with the [NeoBERT training project](",
                    in.project_url, ") and exported to the Hugging Face transformers format.\n\n");

    absl::StrAppend(&s, "## Model Details\n\n", "- **Architecture:** NeoBERT\n",
                    "- **Hidden Size:** ", c.hidden_size, "\n", "- **Layers:** ",
                    c.num_hidden_layers, "\n", "- **Attention Heads:** ", c.num_attention_heads,
                    "\n", "- **Vocab Size:** ", c.vocab_size, "\n", "- **Max Length:** ",
                    c.max_position_embeddings, "\n", "- **Dtype:** ", dtype, "\n\n");

    absl::StrAppend(
        &s, "## Runtime Dependencies\n\n",
        "The modeling code (`model.py`, `rotary.py`) needs only `torch` and `transformers`: no "
        "flash-attn, no Liger kernels and no custom CUDA extensions. It targets transformers "
        "4.40+ and 5.x (config.json records ",
        kTargetTransformersVersion,
        ") and torch 2.x with SDPA attention; torch 1.13 runs it with the eager attention "
        "fallback. Reading `model.safetensors` requires the `safetensors` package.\n\n");

    absl::StrAppend(&s, "## Exported Artifacts\n\n",
                    "- `config.json`: model configuration (`auto_map` points at `model.py`)\n");
    for (const std::string& w : in.weight_files) {
      absl::StrAppend(&s, "- ", Code(w), ": weights (", dtype, ")\n");
    }
    absl::StrAppend(&s,
                    "- `model.py`, `rotary.py`: the modeling code, loaded with "
                    "`trust_remote_code=True`\n");
    if (!in.tokenizer_files.empty()) {
      std::vector<std::string> names;
      for (const std::string& f : in.tokenizer_files) names.push_back(Code(f));
      absl::StrAppend(&s, "- tokenizer: ", absl::StrJoin(names, ", "), "\n");
    }
    absl::StrAppend(&s,
                    "- `manifest.json`: size and SHA-256 of every file, and the source "
                    "checkpoint\n\n");

    absl::StrAppend(&s, "## Usage\n\n", "> [!IMPORTANT]\n",
                    "> The snippets load `repo_id` = ", Code(in.repo_id),
                    ", the name of the export folder. Replace it with your Hub repository id or "
                    "the path of this folder.\n\n",
                    "### For Masked Language Modeling (Fill-Mask)\n\n", FillMaskSnippet(in),
                    "\n### For Embeddings / Feature Extraction\n\n", EmbeddingSnippet(in), "\n");

    absl::StrAppend(&s, "## Training Configuration\n\n<details>\n<summary>Full Config</summary>\n\n",
                    "```yaml\n", yaml, "\n```\n\n</details>\n\n");

    absl::StrAppend(&s, "## Export Provenance\n\n", "- **Source checkpoint:** ",
                    Code(in.source_checkpoint), "\n", "- **Weights read from:** ",
                    in.weights_format, "\n", "- **Dtype:** ", dtype, "\n",
                    "- **Decoder bias:** ",
                    in.decoder_bias ? "kept (the LM head has a biased decoder)"
                                    : "absent (bias-free decoder)",
                    "\n", "- **Decoder weight:** ",
                    in.tied_decoder ? "tied to the token embedding in the checkpoint"
                                    : "stored separately in the checkpoint",
                    "\n");
    for (const std::string& note : in.notes) absl::StrAppend(&s, "- ", OneLine(note), "\n");
    return s;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("model card: ", e.what()));
  }
}

}  // namespace neobert::core
