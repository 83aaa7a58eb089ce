#!/usr/bin/env python3
"""Byte-identity check between two builds of neobert-export.

Exports every fixture variant under several option sets, plus `convert` and
the dry run, once with each binary, and compares what they wrote: every file
byte for byte (manifest.json included, apart from its "tool" line; the model
card's sanity-pass timing is masked), the dry run's stdout and its JSON result
(timings masked). Use it before and after a
change that must not change the output (a refactoring of core/export, a new
writer path):

  python3 scripts/compare_exports.py OLD_BIN_DIR NEW_BIN_DIR FIXTURES_DIR [--work DIR]

BIN_DIR holds neobert-export (and libneobert_engine_torch.so beside it);
FIXTURES_DIR is a build's `fixtures/` (ctest -R fixtures). Both binaries read
the same fixture paths, so the manifests' source paths agree. Exit 0 when all
outputs agree, 1 with one line per difference. Takes about a minute.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Option sets: every fixture variant is exported under each. The first keeps the
# sanity pass (it must not change the bytes); the others skip it to stay quick.
OPTION_SETS = {
    "default": [],
    "float32": ["--no-sanity", "--dtype", "float32"],
    "bfloat16": ["--no-sanity", "--dtype", "bfloat16"],
    "float16": ["--no-sanity", "--dtype", "float16"],
    "sharded": ["--no-sanity", "--max-shard-size", "40KB"],
    "no_bin": ["--no-sanity", "--no-pytorch-bin"],
    "drop_bias": ["--no-sanity", "--drop-decoder-bias"],
}
CONVERT_SETS = {
    "st": ["out.safetensors"],
    "bin": ["out.bin"],
    "st_bf16": ["out.safetensors", "--dtype", "bfloat16"],
    "bin_f16": ["out.bin", "--dtype", "float16"],
}
_SECONDS = re.compile(r"\d+(\.\d+)? s\b")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def tree_digest(root):
    """{relative path: sha256} of every file under root (manifest's "tool" dropped)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read()
            if name == "README.md":  # the model card says how long the sanity pass took
                data = _SECONDS.sub("N s", data.decode()).encode()
            if name == "manifest.json":
                doc = json.loads(data)
                doc.pop("tool", None)
                doc.get("options", {}).pop("tool", None)
                for entry in doc.get("files", []):
                    if entry["name"] == "README.md":  # compared above, timing masked
                        entry["size"] = entry["sha256"] = "masked"
                data = json.dumps(doc, sort_keys=True).encode()
            out[os.path.relpath(path, root)] = hashlib.sha256(data).hexdigest()
    return out


def dry_run_digest(stdout):
    """The dry run's text, or its JSON result with timings and the path masked."""
    lines = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            for key in ("seconds", "sanity_seconds"):
                doc.pop(key, None)
            line = json.dumps(doc, sort_keys=True)
        lines.append(_SECONDS.sub("N s", line))
    return "\n".join(lines)


def outcome(bin_dir, work, fixtures, dry_out):
    """Everything both binaries are compared on: {case: digest}."""
    exe = os.path.join(bin_dir, "neobert-export")
    result = {}
    variants = sorted(json.load(open(os.path.join(fixtures, "index.json")))["variants"])
    for variant in variants:
        ckpt = os.path.join(fixtures, variant)
        for set_name, options in OPTION_SETS.items():
            out = os.path.join(work, f"{variant}.{set_name}")
            proc = run([exe, "export", ckpt, "-o", out, "--no-fsync", *options])
            case = f"export {variant} {set_name}"
            result[case] = (proc.returncode, tree_digest(out) if proc.returncode == 0
                            else proc.stderr.strip().splitlines()[-1:])
        for json_flag in ([], ["--json"]):
            proc = run([exe, "export", ckpt, "-o", dry_out, "--dry-run",
                        "--no-sanity", *json_flag])
            result[f"dry-run {variant} {json_flag}"] = (proc.returncode,
                                                       dry_run_digest(proc.stdout))
        weights = [n for n in ("state_dict.pt", "model.safetensors")
                   if os.path.exists(os.path.join(ckpt, n))]
        for set_name, args in CONVERT_SETS.items():
            out_dir = os.path.join(work, f"{variant}.convert.{set_name}")
            os.makedirs(out_dir)
            target = os.path.join(out_dir, args[0])
            proc = run([exe, "convert", os.path.join(ckpt, weights[0]), target, *args[1:]])
            result[f"convert {variant} {set_name}"] = (proc.returncode, tree_digest(out_dir))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_bin")
    parser.add_argument("new_bin")
    parser.add_argument("fixtures")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="compare-exports-")
    digests = []
    for label, bin_dir in (("old", args.old_bin), ("new", args.new_bin)):
        side = os.path.join(work, label)
        shutil.rmtree(side, ignore_errors=True)
        os.makedirs(side)
        # A dry run writes nothing: both name the same destination, so its path agrees.
        digests.append(outcome(os.path.abspath(bin_dir), side, os.path.abspath(args.fixtures),
                               os.path.join(work, "dry-run-destination")))
    old, new = digests
    differ = [case for case in old if old[case] != new.get(case)]
    for case in differ:
        print(f"DIFFERS {case}\n  old: {old[case]}\n  new: {new.get(case)}")
    exported = sum(1 for case, (rc, _) in old.items() if rc == 0)
    print(f"{len(old)} cases ({exported} succeeded with the old binary), "
          f"{len(differ)} differ")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
