#!/usr/bin/env python3
"""Checks an export against its source checkpoint with Debian's torch (no
transformers needed): manifest hashes, weight bytes (safetensors and the
weights_only-loaded pytorch_model.bin), and the exported model.py's logits
against an independent reference forward pass on the source weights.

usage: /usr/bin/python3 scripts/check_export.py CKPT_DIR EXPORT_DIR
"""
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile

import torch
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "transformers_stub"))  # test stand-in
from reference_forward import neobert_forward  # noqa: E402
from weights_io import load_state_dict, tensor_bytes  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def main(ckpt, out):
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    for f in manifest["files"]:
        data = open(os.path.join(out, f["name"]), "rb").read()
        if len(data) != f["size"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
            fail(f"{f['name']} does not match manifest.json")
    print(f"ok   manifest: {len(manifest['files'])} files, sizes and sha256 verified")

    st = load_state_dict(os.path.join(out, "model.safetensors"))
    bin_sd = torch.load(os.path.join(out, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    src_name = "model.safetensors" if os.path.exists(os.path.join(ckpt, "model.safetensors")) else "state_dict.pt"
    src = load_state_dict(os.path.join(ckpt, src_name))
    if set(st) != set(bin_sd):
        fail("model.safetensors and pytorch_model.bin hold different tensors")
    for name, t in st.items():
        if tensor_bytes(t) != tensor_bytes(bin_sd[name]):
            fail(f"{name}: pytorch_model.bin differs from model.safetensors")
        if name in src and tensor_bytes(src[name]) != tensor_bytes(t):
            fail(f"{name}: exported bytes differ from the checkpoint")
    print(f"ok   weights: {len(st)} tensors bit-identical in both files and to the checkpoint")

    cfg = json.load(open(os.path.join(out, "config.json")))
    model_cfg = yaml.safe_load(open(os.path.join(ckpt, "config.yaml")))["model"]
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "vocab_size", "norm_eps", "pad_token_id", "rope", "rms_norm"):
        if cfg[key] != model_cfg[key]:
            fail(f"config.json {key}={cfg[key]} but config.yaml has {model_cfg[key]}")
    print("ok   config.json matches config.yaml")

    with tempfile.TemporaryDirectory() as tmp:
        pkg = os.path.join(tmp, "neobert_export_check")
        os.makedirs(pkg)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        for f in ("model.py", "rotary.py"):
            shutil.copy(os.path.join(out, f), pkg)
        sys.path.insert(0, tmp)
        mod = importlib.import_module("neobert_export_check.model")
        config = mod.NeoBERTConfig(**{k: v for k, v in cfg.items() if k not in ("auto_map", "architectures")})
        model = mod.NeoBERTLMHead(config).eval()
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in st.items()}, strict=False)
        if missing or unexpected:
            fail(f"model.py state dict mismatch: missing {missing}, unexpected {unexpected}")
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, cfg["vocab_size"], (2, 8), generator=g)
        mask = torch.ones(2, 8, dtype=torch.long)
        mask[1, 6:] = 0
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
        ref = neobert_forward({k: v.float() for k, v in src.items()}, model_cfg, ids, mask)["logits"]
        diff = (logits.double() - ref.double()).abs().max().item()
        if diff > 1e-4:
            fail(f"model.py logits differ from the reference forward by {diff:.3g}")
    print(f"ok   model.py forward matches an independent reference (max |diff| {diff:.2e})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
