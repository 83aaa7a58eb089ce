#!/usr/bin/python3
"""Parity test: our C++ tokenizer against the HF `tokenizers` library (npm).

    run_parity.py --node node --tool build/bin/tokenizer_parity \
        --fixtures build/fixtures --work build/tokenizer-parity [--no-sweep]

For every tokenizer under test (the fixture WordPiece and byte-level BPE
tokenizers, and the extra ones make_extra_tokenizers.js builds), the
reference library encodes the corpus (make_corpus.py, 2,400 lines) and, unless
--no-sweep, a sweep of every code point; tokenizer_parity then encodes the same
lines with our implementation and compares ids (with and without special
tokens) and token strings. Prints one "parity NAME: M/N" line per run and
exits non-zero unless every line of every run matches.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_TOKENIZERS = [
    ("wordpiece", "fp32_swiglu_rope_rms"),
    ("wordpiece_unpadded", "unpadded_tokenizer"),
    ("bpe", "bpe_tokenizer"),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node", default="node")
    ap.add_argument("--tool", required=True)
    ap.add_argument("--fixtures", default=os.environ.get("NEOBERT_FIXTURES"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.fixtures:
        sys.exit("--fixtures (or NEOBERT_FIXTURES) is required")
    os.makedirs(args.work, exist_ok=True)

    corpus = os.path.join(args.work, "corpus.json")
    sweep = os.path.join(args.work, "sweep.json")
    extra = os.path.join(args.work, "extra")
    steps = [[sys.executable, os.path.join(HERE, "make_corpus.py"), "--out", corpus],
             [args.node, os.path.join(HERE, "make_extra_tokenizers.js"),
              "--corpus", os.path.join(HERE, "..", "..", "fixtures", "corpus.txt"), "--out", extra]]
    if not args.no_sweep:
        steps.append([sys.executable, os.path.join(HERE, "make_corpus.py"), "--sweep", "--out", sweep])
    for cmd in steps:
        rc, out = run(cmd)
        if rc != 0:
            sys.exit("failed: %s\n%s" % (" ".join(cmd), out))

    tokenizers = [(name, os.path.join(args.fixtures, variant, "tokenizer", "tokenizer.json"))
                  for name, variant in FIXTURE_TOKENIZERS]
    for name in sorted(os.listdir(extra)):
        tokenizers.append((name, os.path.join(extra, name, "tokenizer.json")))

    jobs = []
    for name, path in tokenizers:
        if not os.path.isfile(path):
            sys.exit("missing tokenizer %s" % path)
        jobs.append((name, path, corpus, []))
        if not args.no_sweep:
            jobs.append((name + "/sweep", path, sweep, ["--no-tokens"]))

    def one(job):
        name, path, lines, flags = job
        ref = os.path.join(args.work, "reference_%s.json" % name.replace("/", "_"))
        rc, out = run([args.node, os.path.join(HERE, "encode_reference.js"), "--tokenizer", path,
                       "--corpus", lines, "--out", ref] + flags)
        if rc != 0:
            return 1, "reference encoding failed for %s:\n%s" % (name, out)
        return run([args.tool, "--tokenizer", path, "--corpus", lines, "--reference", ref, "--name", name])

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for rc, out in pool.map(one, jobs):
            sys.stdout.write(out)
            failed += rc != 0
    print("tokenizer parity: %d of %d runs fully identical" % (len(jobs) - failed, len(jobs)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
