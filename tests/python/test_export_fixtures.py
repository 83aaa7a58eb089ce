"""End-to-end: `neobert-export export` on every fixture checkpoint.

For each variant the exported folder is complete; config.json is the §6
mapping of config.yaml (plus our `decoder_bias`, `dtype` and auto_map module
`model`); every tensor is bit-identical to the source after the documented
mapping (export_util.map_state_dict, written independently of the C++);
pytorch_model.bin loads with torch.load(weights_only=True) and equals the
safetensors; manifest.json hashes verify; the tokenizer is aligned to V with
model_max_length = P; README.md has the §8.5 front matter; and the exported
model.py (imported as a package through the transformers test stand-in)
reproduces tests/python/reference_forward.py on the ORIGINAL checkpoint.
Then the options: --dtype, --max-shard-size, --no-pytorch-bin, --dry-run,
--drop-decoder-bias, idempotent re-export, refusal/--overwrite.

usage: /usr/bin/python3 test_export_fixtures.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "transformers_stub"))
sys.path.insert(0, HERE)

import transformers  # noqa: E402

import reference_forward  # noqa: E402
from export_util import (file_sha256, import_exported_model, map_state_dict,  # noqa: E402
                         read_export_weights, run_export, staging_leftovers, tree_mtimes)
from weights_io import load_state_dict, read_safetensors, tensor_bytes  # noqa: E402

assert getattr(transformers, "IS_TEST_STUB", False), "expected the test stand-in transformers package"

BIN = FIXTURES = None
DEFAULT = "fp32_swiglu_rope_rms"
# Variants the exporter must refuse: name -> text the one-line error must hold.
# Every fixture variant exports today (fp16 with a warning, packed w12 unpacked);
# a variant missing from here that fails export is a test failure.
EXPECTED_REFUSALS = {}
CORE_FILES = {"config.json", "model.safetensors", "pytorch_model.bin", "model.py", "rotary.py",
              "README.md", "manifest.json", "tokenizer.json", "tokenizer_config.json"}
CONFIG_ORDER = ["architectures", "model_type", "auto_map", "hidden_size", "num_hidden_layers",
                "num_attention_heads", "intermediate_size", "vocab_size", "max_length",
                "max_position_embeddings", "embedding_init_range", "decoder_init_range",
                "norm_eps", "rms_norm", "rope", "hidden_act", "dropout", "flash_attention",
                "decoder_bias"]
TOLERANCE = 1e-5


def variant_names():
    return sorted(v for v in os.listdir(FIXTURES)
                  if os.path.isfile(os.path.join(FIXTURES, v, "expected.json")))


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def result_event(stdout):
    lines = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    results = [l for l in lines if l.get("event") == "result"]
    assert len(results) == 1, stdout
    return results[0]


def placeholder(i):
    return f"<|neobert_extra_token_{i}|>"


class Source:
    """What the test knows about one fixture, computed from its own files."""

    def __init__(self, variant):
        self.variant = variant
        self.dir = os.path.join(FIXTURES, variant)
        self.expected = load_json(os.path.join(self.dir, "expected.json"))
        with open(os.path.join(self.dir, "config.yaml")) as f:
            self.yaml = yaml.safe_load(f)
        self.model = self.yaml["model"]
        self.weights_path = os.path.join(self.dir, self.expected["weights_file"])
        self.state_dict = load_state_dict(self.weights_path)
        self.mapped = map_state_dict(self.state_dict, int(self.model["intermediate_size"]))
        enc, dec = self.mapped["model.encoder.weight"], self.mapped["decoder.weight"]
        # Same view of one storage in the file (torch.save of a tied Parameter).
        self.same_view = (enc.data_ptr() == dec.data_ptr() and enc.stride() == dec.stride()
                          and enc.shape == dec.shape)
        self.decoder_equals_embedding = torch.equal(enc, dec)
        self.dtype = str(enc.dtype).replace("torch.", "")
        self.V = int(self.model["vocab_size"])
        self.P = int(self.model["max_position_embeddings"])


def expected_config_json(model, dtype, decoder_bias, tie, version):
    """§6 field by field from config.yaml's model section (+ our extra fields)."""
    def number(key, default):
        value = model.get(key)
        return float(default if value is None else value)

    dropout = model.get("dropout")
    if dropout is None:
        dropout = model.get("dropout_prob")
    backend = model.get("attn_backend") or "sdpa"
    cfg = {
        "architectures": ["NeoBERTLMHead"],
        "model_type": "neobert",
        "auto_map": {
            "AutoConfig": "model.NeoBERTConfig",
            "AutoModel": "model.NeoBERT",
            "AutoModelForMaskedLM": "model.NeoBERTLMHead",
            "AutoModelForSequenceClassification": "model.NeoBERTForSequenceClassification",
        },
        "hidden_size": int(model["hidden_size"]),
        "num_hidden_layers": int(model["num_hidden_layers"]),
        "num_attention_heads": int(model["num_attention_heads"]),
        "intermediate_size": int(model["intermediate_size"]),
        "vocab_size": int(model["vocab_size"]),
        "max_length": int(model["max_position_embeddings"]),
        "max_position_embeddings": int(model["max_position_embeddings"]),
        "embedding_init_range": number("embedding_init_range", 0.02),
        "decoder_init_range": number("decoder_init_range", 0.02),
        "norm_eps": float(model["norm_eps"]),
        "rms_norm": bool(model["rms_norm"]),
        "rope": bool(model["rope"]),
        "hidden_act": str(model["hidden_act"]).lower(),
        "dropout": float(0.0 if dropout is None else dropout),
        "flash_attention": str(backend).lower() != "sdpa",
        "decoder_bias": decoder_bias,
    }
    if not tie:  # P7: without it HF would re-tie and lose the checkpoint's decoder
        cfg["tie_word_embeddings"] = False
    cfg["pad_token_id"] = int(model["pad_token_id"])
    cfg["torch_dtype"] = dtype
    cfg["dtype"] = dtype
    cfg["transformers_version"] = version
    return cfg


def tokenizer_pairs(tj):
    """(token, id) pairs of a tokenizer.json: model vocab, then added tokens."""
    vocab = tj["model"]["vocab"]
    pairs = list(vocab.items()) if isinstance(vocab, dict) else [(e[0], i) for i, e in enumerate(vocab)]
    pairs += [(a["content"], a["id"]) for a in tj.get("added_tokens") or []]
    return pairs


def padded_batch(vocab_size, pad, seed=7, seq=10):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (3, seq), generator=gen)
    ids[ids == pad] = (pad + 1) % vocab_size
    mask = torch.ones(3, seq, dtype=torch.int64)
    mask[1, 7:] = 0   # right padding
    mask[2, :3] = 0   # left padding
    ids[mask == 0] = pad
    return ids, mask


class FixtureExports(unittest.TestCase):
    """One default export per variant, shared by the checks below."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert_export_fixtures_")
        cls.sources, cls.exports = {}, {}
        for v in variant_names():
            cls.sources[v] = Source(v)
            out = os.path.join(cls.tmp, v)
            cls.exports[v] = (out, run_export(BIN, cls.sources[v].dir, out, "--json", "--no-fsync"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def exported(self):
        """(variant, Source, out dir, result event) for every variant that must export."""
        for v in sorted(self.exports):
            if v in EXPECTED_REFUSALS:
                continue
            out, proc = self.exports[v]
            self.assertEqual(proc.returncode, 0, f"{v}: {proc.stderr}")
            yield v, self.sources[v], out, result_event(proc.stdout)

    def test_every_variant_is_exported_or_explicitly_refused(self):
        names = variant_names()
        index = load_json(os.path.join(FIXTURES, "index.json"))["variants"]
        self.assertEqual(sorted(index), names, "a fixture variant dir is missing or extra")
        self.assertGreaterEqual(len(names), 19)
        for v in EXPECTED_REFUSALS:
            self.assertIn(v, names, f"EXPECTED_REFUSALS names unknown variant {v}")
        for v in names:
            out, proc = self.exports[v]
            with self.subTest(variant=v):
                if v in EXPECTED_REFUSALS:
                    self.assertEqual(proc.returncode, 1, proc.stdout)
                    self.assertIn(EXPECTED_REFUSALS[v], proc.stderr)
                    self.assertFalse(os.path.exists(out))
                    self.assertEqual(staging_leftovers(out), [])
                else:
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    self.assertTrue(os.path.isdir(out))
                    self.assertEqual(staging_leftovers(out), [])

    def test_result_event(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                self.assertTrue(res["ok"])
                self.assertFalse(res["skipped"])
                self.assertEqual(res["output_dir"], os.path.realpath(out))
                self.assertEqual(res["weights_file"], os.path.realpath(src.weights_path))
                self.assertEqual(res["weights_format"],
                                 "safetensors" if src.weights_path.endswith(".safetensors") else "torch-zip")
                self.assertEqual(res["dtype"], src.expected["model"]["dtype"])
                self.assertEqual(res["dtype"], src.dtype)
                self.assertEqual(res["decoder_bias"], src.expected["model"]["decoder_bias"])
                self.assertEqual(res["tied_decoder"], src.same_view)
                self.assertEqual(res["tensor_count"], len(src.mapped))
                fp16_warned = any("float16" in w for w in res["warnings"])
                self.assertEqual(fp16_warned, src.dtype == "float16", res["warnings"])

    def test_file_set(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                tokenizer_files = set(src.expected["tokenizer"]["files"])
                self.assertTrue({"tokenizer.json", "tokenizer_config.json"} <= tokenizer_files)
                self.assertEqual(set(os.listdir(out)), CORE_FILES | tokenizer_files)
                for name in os.listdir(out):
                    self.assertTrue(os.path.isfile(os.path.join(out, name)), name)
                    self.assertGreater(os.path.getsize(os.path.join(out, name)), 0, name)
                for name in ("model.py", "rotary.py"):
                    self.assertEqual(read_bytes(os.path.join(out, name)),
                                     read_bytes(os.path.join(REPO, "core", "neobert", "remote_code", name)))

    def test_config_json_follows_the_mapping_table(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
                    text = f.read()
                got = json.loads(text)
                version = got.get("transformers_version")
                self.assertRegex(version, r"^\d+\.\d+")
                want = expected_config_json(src.model, src.dtype, src.expected["model"]["decoder_bias"],
                                            src.decoder_equals_embedding, version)
                self.assertEqual(got, want)
                self.assertEqual(list(got)[:len(CONFIG_ORDER)], CONFIG_ORDER)
                # Python's json.dumps(indent=2) layout, byte for byte, no trailing newline.
                self.assertEqual(text, json.dumps(want, indent=2))
        # The untied fixture must actually exercise tie_word_embeddings.
        self.assertFalse(self.sources["untied_decoder"].decoder_equals_embedding)

    def test_weights_bit_identical_to_source(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                tensors, files = read_export_weights(out)
                self.assertEqual(files, ["model.safetensors"])
                self.assertEqual(set(tensors), set(src.mapped))
                # expected.json's §4.2 table, with a packed w12 standing for w1 + w2.
                want_keys = set()
                for k in src.expected["expected_keys"]:
                    want_keys |= {k.replace(".w12.", ".w1."), k.replace(".w12.", ".w2.")}
                self.assertEqual(set(tensors), want_keys)
                for name, ref in src.mapped.items():
                    dtype, shape, raw = tensors[name]
                    self.assertEqual((dtype, shape), (ref.dtype, list(ref.shape)), name)
                    self.assertEqual(raw, tensor_bytes(ref), name)
                self.assertEqual("decoder.bias" in tensors, src.expected["model"]["decoder_bias"])
                if src.expected["model"]["packed_w12"]:
                    self.assertTrue(any(".ffn.w1." in k for k in tensors))
                    self.assertFalse(any(".w12." in k for k in tensors))

    def test_pytorch_bin_loads_weights_only_and_equals_safetensors(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                loaded = torch.load(os.path.join(out, "pytorch_model.bin"), map_location="cpu",
                                    weights_only=True)
                tensors, _ = read_export_weights(out)
                self.assertEqual(set(loaded), set(tensors))
                for name, t in loaded.items():
                    dtype, shape, raw = tensors[name]
                    self.assertEqual((t.dtype, list(t.shape)), (dtype, shape), name)
                    self.assertEqual(tensor_bytes(t), raw, name)
                # The tied decoder is its own copy, not an alias of the embedding.
                self.assertNotEqual(loaded["decoder.weight"].data_ptr(),
                                    loaded["model.encoder.weight"].data_ptr())

    def test_manifest_hashes_verify(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                m = load_json(os.path.join(out, "manifest.json"))
                self.assertEqual(m["manifest_version"], 1)
                self.assertEqual(m["source"]["checkpoint"], os.path.realpath(src.dir))
                self.assertEqual(m["source"]["weights"], src.expected["weights_file"])
                self.assertRegex(m["source"]["fingerprint"], r"^[0-9a-f]{64}$")
                self.assertEqual({k: m["options"][k] for k in ("dtype", "pytorch_model_bin", "max_shard_bytes",
                                                               "drop_decoder_bias")},
                                 {"dtype": "keep", "pytorch_model_bin": "true", "max_shard_bytes": "0",
                                  "drop_decoder_bias": "false"})
                names = [f["name"] for f in m["files"]]
                self.assertEqual(len(names), len(set(names)))
                self.assertEqual(set(names), set(os.listdir(out)) - {"manifest.json"})
                for f in m["files"]:
                    p = os.path.join(out, f["name"])
                    self.assertEqual(os.path.getsize(p), f["size"], f["name"])
                    self.assertEqual(file_sha256(p), f["sha256"], f["name"])
                self.assertEqual(m["files"], res["files"])

    def test_tokenizer_aligned_to_vocab_size(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                tok_src = os.path.join(src.dir, "tokenizer")
                V, P = src.V, src.P
                tj_src = load_json(os.path.join(tok_src, "tokenizer.json"))
                tj = load_json(os.path.join(out, "tokenizer.json"))
                before = tokenizer_pairs(tj_src)
                after = tokenizer_pairs(tj)
                n = len({i for _, i in before})
                self.assertEqual(n, src.expected["tokenizer"]["total_vocab_size"])
                self.assertEqual(sorted({i for _, i in after}), list(range(V)))
                self.assertTrue(set(before) <= set(after))
                added = [p for p in after if p not in set(before)]
                self.assertEqual(sorted(added, key=lambda p: p[1]), [(placeholder(i), i) for i in range(n, V)])
                for a in tj.get("added_tokens") or []:
                    if a["id"] >= n:
                        self.assertFalse(a["special"], a)
                if n == V:
                    self.assertEqual(read_bytes(os.path.join(out, "tokenizer.json")),
                                     read_bytes(os.path.join(tok_src, "tokenizer.json")))
                cfg_src = load_json(os.path.join(tok_src, "tokenizer_config.json"))
                cfg = load_json(os.path.join(out, "tokenizer_config.json"))
                self.assertEqual(cfg["model_max_length"], P)
                decoder = dict(cfg.get("added_tokens_decoder") or {})
                for i in range(n, V):
                    entry = decoder.pop(str(i))
                    self.assertEqual((entry["content"], entry["special"]), (placeholder(i), False))
                self.assertEqual(decoder, cfg_src.get("added_tokens_decoder") or {})
                rest = {k: x for k, x in cfg.items() if k not in ("model_max_length", "added_tokens_decoder")}
                rest_src = {k: x for k, x in cfg_src.items() if k not in ("model_max_length", "added_tokens_decoder")}
                self.assertEqual(rest, rest_src)
                for name in src.expected["tokenizer"]["files"]:
                    if name in ("tokenizer.json", "tokenizer_config.json"):
                        continue
                    if name == "added_tokens.json":
                        want = load_json(os.path.join(tok_src, name))
                        want.update({placeholder(i): i for i in range(n, V)})
                        self.assertEqual(load_json(os.path.join(out, name)), want)
                    else:
                        self.assertEqual(read_bytes(os.path.join(out, name)),
                                         read_bytes(os.path.join(tok_src, name)), name)

    def test_tokenizer_loads_in_hf_tokenizers(self):
        node = shutil.which("node")
        script = os.path.join(REPO, "tests", "fixtures", "make_tokenizer.js")
        if node is None:
            self.skipTest("node not installed: cannot load tokenizer.json with HF tokenizers")
        todo = list(self.exported())
        files = [os.path.join(out, "tokenizer.json") for _, _, out, _ in todo]
        r = subprocess.run([node, script, "--check", *files], capture_output=True, text=True, timeout=300,
                           cwd=REPO)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        for (v, src, out, _), path in zip(todo, files):
            with self.subTest(variant=v):
                got = report[path]
                self.assertEqual(got["total_vocab_size"], src.V)
                want = [(s["text"], s["ids"]) for s in src.expected["tokenizer"]["samples"]]
                self.assertEqual([(s["text"], s["ids"]) for s in got["samples"]], want)

    def test_readme_front_matter(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                with open(os.path.join(out, "README.md"), encoding="utf-8") as f:
                    text = f.read()
                self.assertTrue(text.startswith("---\n"))
                end = text.index("\n---\n", 4)
                front = yaml.safe_load(text[4:end])
                ds = src.yaml.get("dataset") or {}
                name = ds.get("name") or ((ds.get("path") or "").rstrip("/").split("/")[-1])
                want = {"library_name": "transformers", "license": "mit"}
                if name:
                    want["datasets"] = [name]
                want["language"] = ["en"]
                self.assertEqual(front, want)
                self.assertEqual(list(front), list(want))
                body = text[end + len("\n---\n"):]
                self.assertTrue(body.startswith("\n# NeoBERT Model\n"), body[:40])
                m = src.model
                for label, value in (("Hidden Size", m["hidden_size"]), ("Layers", m["num_hidden_layers"]),
                                     ("Attention Heads", m["num_attention_heads"]),
                                     ("Vocab Size", m["vocab_size"]),
                                     ("Max Length", m["max_position_embeddings"]), ("Dtype", src.dtype)):
                    self.assertIn(f"- **{label}:** {value}\n", body)
                block = body.split("```yaml\n", 1)[1].split("\n```", 1)[0]
                self.assertEqual(yaml.safe_load(block), src.yaml)
                self.assertIn(f'repo_id = "{v}"', body)

    def test_exported_model_matches_reference_forward(self):
        for v, src, out, res in self.exported():
            with self.subTest(variant=v):
                M = import_exported_model(out, v)
                cfg_json = load_json(os.path.join(out, "config.json"))
                config = M.NeoBERTConfig(**cfg_json)
                tensors, _ = read_export_weights(out)
                weights = {}
                for name, (dtype, shape, raw) in tensors.items():
                    t = torch.frombuffer(bytearray(raw), dtype=torch.int16 if dtype == torch.bfloat16 else dtype)
                    weights[name] = (t.view(torch.bfloat16) if dtype == torch.bfloat16 else t).reshape(shape)
                model = M.NeoBERTLMHead.from_state_dict(config, weights)  # strict, ties as HF does
                ids, mask = padded_batch(src.V, int(src.model["pad_token_id"]))
                with torch.no_grad():
                    logits = model(ids, attention_mask=mask).logits
                # Truth: the ORIGINAL checkpoint's tensors, mapped by the test, in float64.
                ref_cfg = {k: src.model[k] for k in ("hidden_size", "num_attention_heads", "num_hidden_layers",
                                                    "intermediate_size", "norm_eps", "rms_norm", "rope",
                                                    "hidden_act", "pad_token_id")}
                ref_cfg["max_length"] = src.P
                want = reference_forward.neobert_forward(src.mapped, ref_cfg, ids, attention_mask=mask)["logits"]
                self.assertEqual(tuple(logits.shape), (3, ids.shape[1], src.V))
                self.assertGreater(want.std().item(), 1e-2, "degenerate logits make a weak test")
                diff = (logits.double() - want).abs().max().item()
                self.assertLessEqual(diff, TOLERANCE, f"{v}: max |logits - reference| = {diff}")


class ExportOptions(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert_export_opts_")
        self.src = Source(DEFAULT)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def export(self, out, *opts, ckpt=None, expect=0):
        proc = run_export(BIN, ckpt or self.src.dir, out, "--no-fsync", *opts)
        self.assertEqual(proc.returncode, expect, proc.stdout + proc.stderr)
        return proc

    def manifest_ok(self, out):
        m = load_json(os.path.join(out, "manifest.json"))
        self.assertEqual({f["name"] for f in m["files"]}, set(os.listdir(out)) - {"manifest.json"})
        for f in m["files"]:
            self.assertEqual(file_sha256(os.path.join(out, f["name"])), f["sha256"], f["name"])
        return m

    def test_dtype_bfloat16_equals_torch_cast(self):
        out = os.path.join(self.tmp, "bf16")
        self.export(out, "--dtype", "bfloat16")
        tensors, _ = read_export_weights(out)
        loaded = torch.load(os.path.join(out, "pytorch_model.bin"), map_location="cpu", weights_only=True)
        self.assertEqual(set(tensors), set(self.src.mapped))
        for name, ref in self.src.mapped.items():
            want = tensor_bytes(ref.to(torch.bfloat16))
            dtype, shape, raw = tensors[name]
            self.assertEqual((dtype, shape), (torch.bfloat16, list(ref.shape)), name)
            self.assertEqual(raw, want, name)
            self.assertEqual(loaded[name].dtype, torch.bfloat16)
            self.assertEqual(tensor_bytes(loaded[name]), want, name)
        cfg = load_json(os.path.join(out, "config.json"))
        self.assertEqual((cfg["torch_dtype"], cfg["dtype"]), ("bfloat16", "bfloat16"))
        self.assertEqual(self.manifest_ok(out)["options"]["dtype"], "bfloat16")

    def test_dtype_float32_upcasts_bf16_checkpoint_exactly(self):
        src = Source("bf16")
        out = os.path.join(self.tmp, "f32")
        self.export(out, "--dtype", "float32", ckpt=src.dir)
        tensors, _ = read_export_weights(out)
        for name, ref in src.mapped.items():
            self.assertEqual(tensors[name][2], tensor_bytes(ref.to(torch.float32)), name)
        self.assertEqual(load_json(os.path.join(out, "config.json"))["torch_dtype"], "float32")

    def test_unknown_dtype_is_refused(self):
        out = os.path.join(self.tmp, "bad")
        proc = self.export(out, "--dtype", "int8", expect=1)
        self.assertIn("int8", proc.stderr)
        self.assertFalse(os.path.exists(out))

    def test_max_shard_size(self):
        limit = 100_000  # the largest tensor (640 x 32 fp32) is 81,920 bytes
        out = os.path.join(self.tmp, "sharded")
        self.export(out, "--max-shard-size", str(limit))
        self.assertFalse(os.path.exists(os.path.join(out, "model.safetensors")))
        index = load_json(os.path.join(out, "model.safetensors.index.json"))
        weight_map = index["weight_map"]
        self.assertEqual(set(weight_map), set(self.src.mapped))
        shards = sorted(set(weight_map.values()))
        self.assertGreater(len(shards), 2)
        self.assertEqual(shards, [f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                                  for i in range(1, len(shards) + 1)])
        tensors, files = read_export_weights(out)
        self.assertEqual(files, shards)
        total = 0
        for shard in shards:
            _, part = read_safetensors(os.path.join(out, shard))
            self.assertEqual(set(part), {k for k, s in weight_map.items() if s == shard})
            nbytes = sum(len(raw) for _, _, raw in part.values())
            total += nbytes
            self.assertTrue(nbytes <= limit or len(part) == 1, f"{shard}: {nbytes} bytes")
        self.assertEqual(index["metadata"]["total_size"], total)
        for name, ref in self.src.mapped.items():
            self.assertEqual(tensors[name][2], tensor_bytes(ref), name)
        listed = {f["name"] for f in self.manifest_ok(out)["files"]}
        self.assertTrue(set(shards) | {"model.safetensors.index.json", "pytorch_model.bin"} <= listed)
        with open(os.path.join(out, "README.md"), encoding="utf-8") as f:
            self.assertIn("model.safetensors.index.json", f.read())

    def test_no_pytorch_bin(self):
        out = os.path.join(self.tmp, "nobin")
        self.export(out, "--no-pytorch-bin")
        self.assertNotIn("pytorch_model.bin", os.listdir(out))
        self.assertIn("model.safetensors", os.listdir(out))
        m = self.manifest_ok(out)
        self.assertEqual(m["options"]["pytorch_model_bin"], "false")

    def test_dry_run_writes_nothing(self):
        out = os.path.join(self.tmp, "sub", "dry")
        before = sorted(os.listdir(self.tmp))
        proc = self.export(out, "--dry-run")
        self.assertIn("dry run", proc.stdout)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(os.path.dirname(out)))
        self.assertEqual(sorted(os.listdir(self.tmp)), before)
        res = result_event(self.export(out, "--dry-run", "--json").stdout)
        self.assertTrue(res["dry_run"])
        self.assertEqual({f["name"] for f in res["files"]},
                         CORE_FILES | set(self.src.expected["tokenizer"]["files"]))
        self.assertEqual(len(res["mapping"]), len(self.src.mapped))
        self.assertFalse(os.path.exists(os.path.dirname(out)))

    def test_reexport_is_up_to_date_and_untouched(self):
        out = os.path.join(self.tmp, "same")
        self.export(out)
        before = tree_mtimes(out)
        proc = self.export(out)
        self.assertIn("up to date", proc.stdout)
        self.assertEqual(tree_mtimes(out), before)
        self.assertEqual(staging_leftovers(out), [])
        res = result_event(self.export(out, "--json").stdout)
        self.assertTrue(res["skipped"])
        self.assertEqual(tree_mtimes(out), before)

    def test_different_destination_refused_then_overwritten(self):
        out = os.path.join(self.tmp, "dest")
        self.export(out)
        before = tree_mtimes(out)
        proc = self.export(out, "--no-pytorch-bin", "--json", expect=1)  # --json: stderr = the error only
        err = proc.stderr.splitlines()
        self.assertEqual(len(err), 1, proc.stderr)
        self.assertFalse(result_event(proc.stdout)["ok"])
        self.assertTrue(err[0].startswith("error: "), err)
        self.assertIn("already exists", err[0])
        self.assertIn("--overwrite", err[0])
        self.assertEqual(tree_mtimes(out), before)
        self.export(out, "--no-pytorch-bin", "--overwrite")
        self.assertNotIn("pytorch_model.bin", os.listdir(out))
        self.assertEqual(self.manifest_ok(out)["options"]["pytorch_model_bin"], "false")
        self.assertEqual(staging_leftovers(out), [])

        # A folder that is not an export at all: refused, left alone, then replaced.
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        with open(os.path.join(other, "notes.txt"), "w") as f:
            f.write("keep me")
        proc = self.export(other, expect=1)
        self.assertIn("already exists", proc.stderr)
        self.assertEqual(os.listdir(other), ["notes.txt"])
        self.export(other, "--overwrite")
        self.assertNotIn("notes.txt", os.listdir(other))
        self.manifest_ok(other)

    def test_drop_decoder_bias(self):
        src = Source("decoder_bias")
        out = os.path.join(self.tmp, "nobias")
        proc = self.export(out, "--drop-decoder-bias", ckpt=src.dir)
        self.assertIn("decoder.bias dropped", proc.stderr)
        tensors, _ = read_export_weights(out)
        self.assertEqual(set(tensors), set(src.mapped) - {"decoder.bias"})
        self.assertIs(load_json(os.path.join(out, "config.json"))["decoder_bias"], False)
        self.assertEqual(self.manifest_ok(out)["options"]["drop_decoder_bias"], "true")


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
