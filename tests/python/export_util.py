"""Shared by the export end-to-end tests: running `neobert-export export`, the
documented key mapping (reference §2.2, §4.5, §5.2), written here
independently of the C++ code, and file-system checks.

Mapping applied to a source state dict:
  * leading `module.` / `_orig_mod.` are stripped, in any order, until none
    remains (two raw keys collapsing to one name is a test error);
  * `model.decoder.*` is read as `decoder.*`;
  * a packed `...ffn.w12.weight` (2*I_s, H) becomes `ffn.w1.weight` =
    rows [0, I_s) and `ffn.w2.weight` = rows [I_s, 2*I_s);
  * everything else, `decoder.bias` included, keeps its name and values.
"""
import atexit
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from weights_io import read_safetensors

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_PACKED = re.compile(r"^(model\.transformer_encoder\.\d+\.ffn\.)w12\.weight$")


def exporter(bin_dir):
    return os.path.join(bin_dir, "neobert-export")


def run_export(bin_dir, ckpt, out, *options, timeout=300):
    """Runs the exporter; returns the CompletedProcess (text mode)."""
    cmd = [exporter(bin_dir), "export", ckpt, "-o", out, *options]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def staging_leftovers(out):
    """Hidden `.<name>.partial-*` staging directories next to `out`."""
    parent, name = os.path.split(os.path.abspath(out))
    if not os.path.isdir(parent):
        return []
    return sorted(n for n in os.listdir(parent) if n.startswith(f".{name}.partial-"))


def swiglu_width(intermediate_size):
    """Reference §4.1: r = floor(2I/3) (the trainer truncates the float), I_s = 8*ceil(r/8)."""
    r = int(2 * intermediate_size / 3)
    return -(-r // 8) * 8


def canonical_key(key):
    while True:
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        else:
            return key


def map_state_dict(state_dict, intermediate_size):
    """{exported name: tensor view} for a source state dict."""
    out = {}
    for raw, tensor in state_dict.items():
        key = canonical_key(raw)
        if key.startswith("model.decoder."):
            key = key[len("model."):]
        packed = _PACKED.match(key)
        if packed:
            width = swiglu_width(intermediate_size)
            assert tensor.shape[0] == 2 * width, (raw, tuple(tensor.shape), width)
            parts = {packed.group(1) + "w1.weight": tensor[:width],
                     packed.group(1) + "w2.weight": tensor[width:2 * width]}
        else:
            parts = {key: tensor}
        for name, value in parts.items():
            assert name not in out, f"two source keys map to {name}"
            out[name] = value
    return out


def read_export_weights(export_dir):
    """{name: (dtype, shape, bytes)} from model.safetensors or its shards, and
    the list of safetensors files read."""
    index = os.path.join(export_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        meta, part = read_safetensors(os.path.join(export_dir, name))
        assert meta == {"format": "pt"}, (name, meta)
        for key, value in part.items():
            assert key not in tensors, f"{key} in two shards"
            tensors[key] = value
    return tensors, files


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_mtimes(root):
    """{relative path: st_mtime_ns} of `root` and everything under it."""
    out = {".": os.stat(root).st_mtime_ns}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = os.stat(p).st_mtime_ns
    return out


def import_exported_model(export_dir, tag):
    """The export's own model.py + rotary.py, imported as package.model (static
    relative import of rotary, as the HF remote-code loader does). The
    transformers package in use is whatever is first on sys.path (the tests
    put the stand-in there). The temp package dir is removed at exit."""
    root = tempfile.mkdtemp(prefix="neobert_export_pkg_")
    atexit.register(shutil.rmtree, root, True)
    name = f"neobert_export_{tag}"
    pkg = os.path.join(root, name)
    os.makedirs(pkg)
    for f in ("model.py", "rotary.py"):
        shutil.copy(os.path.join(export_dir, f), os.path.join(pkg, f))
    open(os.path.join(pkg, "__init__.py"), "w").close()
    sys.path.insert(0, root)
    try:
        return importlib.import_module(f"{name}.model")
    finally:
        sys.path.remove(root)
