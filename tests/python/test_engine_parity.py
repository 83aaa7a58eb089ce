"""The C++ engine (through neobert-forward-tool) against the independent
Python reference forward (reference_forward.py, float64) on every fixture
checkpoint: a padded batch (full row, right padding, left padding, a row with
no key at all) under int, bool, float 1/0 and additive 0/-inf masks, without
a mask, and with explicit position ids.

float32 compute (the default, also for bf16/fp16 files, which upcast exactly)
must match to 1e-5 max-abs on last_hidden_state and logits. Native 16-bit
compute is checked with a tolerance scaled by the dtype's epsilon.

usage: /usr/bin/python3 test_engine_parity.py FORWARD_TOOL FIXTURES_DIR
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_forward import neobert_forward, reduced_swiglu_width  # noqa: E402
from weights_io import load_state_dict, read_safetensors  # noqa: E402

TOOL = FIXTURES = None
WEIGHT_FILES = ("state_dict.pt", "model.safetensors")
FP32_TOL = 1e-5
# Native 16-bit runs: max-abs error allowed per unit of output magnitude, in
# multiples of the dtype's machine epsilon (bf16 2^-7, fp16 2^-10). Two
# blocks of rounding at every matmul/residual add stay well inside this;
# a semantic bug (mask, RoPE pairing, qkv layout) is O(1).
NATIVE_EPS_MULTIPLE = 4


def fixture_variants():
    for name in sorted(os.listdir(FIXTURES)):
        d = os.path.join(FIXTURES, name)
        if not os.path.isfile(os.path.join(d, "expected.json")):
            continue
        for w in WEIGHT_FILES:
            if os.path.isfile(os.path.join(d, w)):
                yield name, d, os.path.join(d, w)


def canonical_state_dict(path, intermediate_size):
    """Training keys → §4.2 names, done independently of the C++ key mapping:
    wrapper prefixes stripped, model.decoder.* read as decoder.*, packed
    ffn.w12 split into w1 (first I_s rows) and w2."""
    out = {}
    width = reduced_swiglu_width(intermediate_size)
    for key, t in load_state_dict(path).items():
        while True:
            m = re.match(r"^(module\.|_orig_mod\.)", key)
            if not m:
                break
            key = key[m.end():]
        if key.startswith("model.decoder."):
            key = key[len("model."):]
        if key.endswith(".ffn.w12.weight"):
            base = key[: -len("w12.weight")]
            out[base + "w1.weight"] = t[:width]
            out[base + "w2.weight"] = t[width:]
            continue
        out[key] = t
    return out


def reference_config(config_yaml):
    with open(config_yaml) as f:
        m = yaml.safe_load(f)["model"]
    return {
        "hidden_size": m["hidden_size"], "num_hidden_layers": m["num_hidden_layers"],
        "num_attention_heads": m["num_attention_heads"], "intermediate_size": m["intermediate_size"],
        "vocab_size": m["vocab_size"], "max_length": m["max_position_embeddings"],
        "norm_eps": float(m["norm_eps"]), "rms_norm": m["rms_norm"], "rope": m["rope"],
        "hidden_act": str(m["hidden_act"]).lower(), "pad_token_id": m.get("pad_token_id", 0),
    }


def make_batch(cfg, seed):
    """(ids, keep) with B=4, S=9: full row, 3 right pads, 2 left pads, and a
    row whose mask keeps nothing. Real ids avoid the pad id."""
    g = torch.Generator().manual_seed(seed)
    vocab, pad = cfg["vocab_size"], cfg["pad_token_id"]
    ids = torch.randint(0, vocab - 1, (4, 9), generator=g)
    ids = ids + (ids >= pad).long()  # skip the pad id
    keep = torch.ones(4, 9, dtype=torch.bool)
    keep[1, 6:] = False
    keep[2, :2] = False
    keep[3, :] = False
    ids[1, 6:] = pad
    ids[2, :2] = pad
    return ids, keep


def masks(keep):
    """The same keep mask in the four spellings: (json values, kind, torch tensor)."""
    as_int = keep.long()
    as_float = keep.float()
    additive = torch.zeros(keep.shape).masked_fill(~keep, float("-inf"))
    add_json = [[0.0 if k else "-inf" for k in row] for row in keep.tolist()]
    return {
        "int": (as_int.tolist(), "int", as_int),
        "bool": (keep.tolist(), "bool", keep),
        "float": (as_float.tolist(), "float", as_float),
        "additive": (add_json, "float", additive),
    }


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class EngineParity(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def run_tool(self, args, inputs=None, expect_ok=True):
        """Runs the tool; `inputs` is one request dict (→ one result dict) or a
        list of them (batch mode, → a list of result dicts)."""
        argv = [TOOL, *args]
        batch = isinstance(inputs, list)
        if inputs is not None:
            inp = os.path.join(self.tmp.name, "in.json")
            out = os.path.join(self.tmp.name, "out" if batch else "out.safetensors")
            with open(inp, "w") as f:
                json.dump(inputs, f)
            argv += ["--input", inp, "--out", out]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if not expect_ok:
            return r
        self.assertEqual(r.returncode, 0, f"{argv}: {r.stderr}")
        summary = json.loads(r.stdout)
        if inputs is None:
            return summary, None
        files = [os.path.join(out, f"{i}.safetensors") for i in range(len(inputs))] if batch else [out]
        results = []
        for path in files:
            _, tensors = read_safetensors(path)
            result = {}
            for name, (dtype, shape, raw) in tensors.items():
                self.assertEqual(dtype, torch.float32, name)
                result[name] = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape)
            results.append(result)
        return summary, (results if batch else results[0])

    def compare(self, what, got, ref, tol):
        for name in ("last_hidden_state", "logits"):
            want = ref[name]
            self.assertEqual(list(got[name].shape), list(want.shape), f"{what}: {name} shape")
            err = (got[name].double() - want).abs().max().item()
            self.assertLessEqual(err, tol, f"{what}: {name} max-abs error {err:.3g} > {tol:.3g}")

    def test_fixtures_exist(self):
        self.assertGreaterEqual(len(list(fixture_variants())), 15)

    def test_parity_float32_compute(self):
        for seed, (variant, d, weights) in enumerate(fixture_variants()):
            with self.subTest(variant=variant):
                cfg = reference_config(os.path.join(d, "config.yaml"))
                sd = canonical_state_dict(weights, cfg["intermediate_size"])
                args = ["--weights", weights, "--config", os.path.join(d, "config.yaml"),
                        "--device", "cpu"]
                ids, keep = make_batch(cfg, 100 + seed)
                # (label, request, reference) triples, run in one tool call.
                cases = []
                for label, (values, kind, tensor) in masks(keep).items():
                    cases.append((label, {"input_ids": ids.tolist(), "attention_mask": values,
                                          "mask_kind": kind},
                                  neobert_forward(sd, cfg, ids, attention_mask=tensor)))
                cases.append(("no-mask", {"input_ids": ids.tolist()}, neobert_forward(sd, cfg, ids)))
                # Explicit positions (RoPE: arbitrary; learned: <= P).
                limit = cfg["max_length"] if not cfg["rope"] else 1000
                pos = torch.randint(0, limit + 1, ids.shape, generator=torch.Generator().manual_seed(seed))
                cases.append(("positions", {"input_ids": ids.tolist(), "position_ids": pos.tolist(),
                                            "attention_mask": keep.long().tolist()},
                              neobert_forward(sd, cfg, ids, attention_mask=keep.long(), position_ids=pos)))
                summary, results = self.run_tool(args, [c[1] for c in cases])
                self.assertEqual(summary["compute_dtype"], "float32")
                self.assertEqual(summary["decoder_bias"], "decoder.bias" in sd)
                for (label, _, ref), got in zip(cases, results):
                    self.compare(f"{variant}/{label}", got, ref, FP32_TOL)

    def test_native_sixteen_bit(self):
        eps = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}
        for variant, d, weights in fixture_variants():
            with open(os.path.join(d, "expected.json")) as f:
                dtype = json.load(f)["model"]["dtype"]
            if dtype not in eps:
                continue
            with self.subTest(variant=variant, dtype=dtype):
                cfg = reference_config(os.path.join(d, "config.yaml"))
                sd = canonical_state_dict(weights, cfg["intermediate_size"])
                ids, keep = make_batch(cfg, 7)
                inputs = {"input_ids": ids.tolist(), "attention_mask": keep.long().tolist()}
                args = ["--weights", weights, "--config", os.path.join(d, "config.yaml"),
                        "--device", "cpu", "--dtype", "native"]
                r = self.run_tool(args, inputs, expect_ok=False)
                if r.returncode != 0:
                    # LibTorch without half kernels on CPU (1.13) must say so clearly.
                    self.assertEqual(dtype, "float16", r.stderr)
                    self.assertIn("float16 is not supported by this LibTorch on cpu", r.stderr)
                    continue
                summary, got = self.run_tool(args, inputs)
                self.assertEqual(summary["compute_dtype"], dtype)
                ref = neobert_forward(sd, cfg, ids, attention_mask=keep.long())
                for name in ("last_hidden_state", "logits"):
                    scale = max(1.0, ref[name].abs().max().item())
                    tol = NATIVE_EPS_MULTIPLE * eps[dtype] * scale
                    err = (got[name].double() - ref[name]).abs().max().item()
                    self.assertLessEqual(err, tol, f"{variant} native {name}: {err:.3g} > {tol:.3g}")
                    # ... and it really ran in 16 bits (not silently upcast).
                    self.assertGreater(err, 1e-5, f"{variant} native {name}")

    def test_hf_config_path_and_sanity(self):
        variant_dir = os.path.join(FIXTURES, "fp32_swiglu_rope_rms")
        weights = os.path.join(variant_dir, "state_dict.pt")
        cfg = reference_config(os.path.join(variant_dir, "config.yaml"))
        sd = canonical_state_dict(weights, cfg["intermediate_size"])
        # An export-shaped folder: final names, config.json.
        st = os.path.join(self.tmp.name, "model.safetensors")
        write_safetensors(st, sd)
        hf = os.path.join(self.tmp.name, "config.json")
        with open(hf, "w") as f:
            json.dump({**cfg, "max_position_embeddings": cfg["max_length"], "decoder_bias": False,
                       "model_type": "neobert"}, f)
        ids, keep = make_batch(cfg, 3)
        _, got = self.run_tool(["--weights", st, "--hf-config", hf, "--device", "cpu"],
                               {"input_ids": ids.tolist(), "attention_mask": keep.tolist()})
        self.compare("hf-config", got, neobert_forward(sd, cfg, ids, attention_mask=keep), FP32_TOL)
        # Sanity forward on every variant.
        for variant, d, w in fixture_variants():
            with self.subTest(variant=variant):
                summary, _ = self.run_tool(["--weights", w, "--config", os.path.join(d, "config.yaml"),
                                            "--sanity", "--seed", "5"])
                self.assertIn(summary["device"], ("cpu", "cuda:0"))
        # Bad input is a clean error naming the field.
        r = self.run_tool(["--weights", st, "--hf-config", hf],
                          {"input_ids": [[1, 2, cfg["vocab_size"]]]}, expect_ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("input_ids[0][2]", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_engine_parity.py FORWARD_TOOL FIXTURES_DIR")
    TOOL, FIXTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
