#!/usr/bin/python3
"""NeoBERT-shaped training checkpoints of 250M to 2.5B parameters, for the
scale benchmark (bench/scale_bench.py), written by real torch.save.

  /usr/bin/python3 bench/scale_checkpoint.py --size 1b --dtype bfloat16 --out DIR [--cache DIR]
  /usr/bin/python3 bench/scale_checkpoint.py --list

Everything but the weights (config.yaml, tokenizer_info.json, tokenizer/) is
written by tests/fixtures/make_checkpoint.py's helpers, exactly as for the
large_250m fixture; only the shape changes.

Why not make_checkpoint.py's weights: it fills a whole nn.Module in memory, so
a 2.5B fp32 checkpoint would need 10 GB of RAM plus the page cache of the
10 GB it writes. Here every parameter is a private, read-only mapping
(torch.from_file, shared=False) of one "pool" file of random values, as large
as the largest tensor (the V x H embedding: 312 MB at 2.5B fp32). torch.save
writes each parameter as its own record, as for a trained model, while memory
holds only the pool's pages. Values: linear and embedding weights N(0, 0.02),
norm weights 1 + N(0, 0.1), decoder bias N(0, 0.05): the forward pass stays
finite. Parameters of the same size hold the same values (every tensor is a
prefix of the pool); the exporter and its sanity pass do not care, and
decoder.weight is the embedding's own Parameter (tied), as the trainer saves it.
"""

import argparse
import os
import shutil
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "fixtures"))
import fixture_model  # noqa: E402
import fixture_tokenizer  # noqa: E402
import make_checkpoint as mc  # noqa: E402

# name -> (H, L, A, I). I = 8H/3 (the swiglu width rounds it to a multiple of 8)
# except at 250M, which is the large_250m fixture's shape.
SIZES = {
    "250m": (768, 28, 12, 3072),    # 0.22B, 0.89 GB fp32
    "0.7b": (2048, 16, 16, 5461),   # 0.69B, 2.76 GB fp32 (the H 2048, L 16)
    "1b": (2048, 24, 16, 5461),     # 1.00B, 4.0 GB fp32
    "2.5b": (2560, 36, 20, 7680),   # 2.44B, 9.75 GB fp32
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
VOCAB = 30522
MAX_POSITIONS = 4096


def shape_facts(size):
    h, layers, heads, inter = SIZES[size]
    return {"hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": inter, "max_position_embeddings": MAX_POSITIONS}


def parameter_count(size):
    m = dict(shape_facts(size), vocab_size=VOCAB, hidden_act="swiglu", rms_norm=True, rope=True)
    return fixture_model.param_count(m, decoder_bias=True)


def weight_bytes(size, dtype):
    return parameter_count(size) * torch.tensor([], dtype=DTYPES[dtype]).element_size()


def write_pool(path, numel, dtype, seed):
    """numel random N(0, 0.02) values of `dtype`, written in 16M-value pieces."""
    gen = torch.Generator().manual_seed(seed)
    piece = 1 << 24
    with open(path, "wb") as f:
        for start in range(0, numel, piece):
            n = min(piece, numel - start)
            t = torch.empty(n, dtype=torch.float32).normal_(0.0, 0.02, generator=gen)
            f.write(t.to(dtype).view(torch.int16 if dtype == torch.bfloat16 else torch.int32)
                    .numpy().tobytes())


def pooled_state_dict(m, dtype, pool, seed):
    """The trainer's module tree (meta device) with every parameter mapped from `pool`."""
    model = fixture_model.NeoBERTLMHead(m, decoder_bias=True)  # on the meta device
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is None:
                continue
            if name == "weight" and p.dim() == 1:  # norm weights: small, near 1
                t = torch.empty(p.shape).normal_(0.0, 0.1, generator=gen).add_(1.0).to(dtype)
            elif name == "bias":
                t = torch.empty(p.shape).normal_(0.0, 0.05, generator=gen).to(dtype)
            else:
                t = torch.from_file(pool, shared=False, size=p.numel(), dtype=dtype).view(p.shape)
            module._parameters[name] = nn.Parameter(t, requires_grad=False)
    model.tie()
    return model.state_dict()


def generate(size, dtype, out, cache, node="node", seed=1234):
    """Writes the checkpoint dir `out` (replaced if present); returns seconds."""
    t0 = time.time()
    if os.path.exists(out):
        shutil.rmtree(out)
    opt = mc.options("large_250m")
    opt["dims"] = shape_facts(size)
    opt["dtype"] = dtype
    tok_dir, _ = fixture_tokenizer.ensure_tokenizers(cache, node)
    m, _, _ = mc.write_side_files("scale_" + size, opt, out, tok_dir)
    pool = os.path.join(out, ".pool")
    write_pool(pool, m["vocab_size"] * m["hidden_size"], DTYPES[dtype], seed)
    try:
        sd = pooled_state_dict(m, DTYPES[dtype], pool, seed)
        torch.save(sd, os.path.join(out, "state_dict.pt"))
        del sd
    finally:
        os.unlink(pool)
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print the sizes and exit")
    ap.add_argument("--size", choices=list(SIZES))
    ap.add_argument("--dtype", choices=list(DTYPES), default="float32")
    ap.add_argument("--out", help="checkpoint directory to write")
    ap.add_argument("--cache", required=False, help="tokenizer cache (make_checkpoint.py's)")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    args = ap.parse_args()
    if args.list:
        for s, (h, layers, heads, inter) in SIZES.items():
            print(f"{s:5s} H {h} L {layers} A {heads} I {inter}: {parameter_count(s) / 1e9:.2f}B "
                  f"parameters, {weight_bytes(s, 'float32') / 1e9:.2f} GB fp32")
        return 0
    if not (args.size and args.out and args.cache):
        ap.error("--size, --out and --cache are required")
    secs = generate(args.size, args.dtype, args.out, args.cache, args.node)
    print(f"{args.size} {args.dtype}: {os.path.getsize(os.path.join(args.out, 'state_dict.pt'))} "
          f"bytes in {secs:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
