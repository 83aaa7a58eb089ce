"""Python half of scripts/gpu_check.sh (see its header).

Loads each export with the real transformers (AutoTokenizer, AutoModel,
AutoModelForMaskedLM, AutoModelForSequenceClassification; trust_remote_code)
and compares with `neobert-export forward`:
  * AutoTokenizer ids == the ids we feed (the tokenizer is the export's);
  * MaskedLM logits and AutoModel last_hidden_state vs `forward` on cpu and on
    cuda:0, fp32, with a padded batch (max-abs; cpu <= 1e-5, cuda <= 1e-4,
    since GPU kernels sum in another order);
  * SequenceClassification loads (fresh head), its encoder equals AutoModel's,
    logits have shape (B, num_labels) and are finite.
bfloat16 / float16 exports are loaded upcast to float32 (exact), which is what
`forward` computes in by default, so the same tolerances hold for every export.
Writes OUT/gpu_check.json (scratch files go to --work); exit 1 when any
comparison fails.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import traceback

import torch
import transformers
from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoTokenizer)

TEXTS = ["NeoBERT efficiency check.", "Models improve rapidly.", "The quick brown fox jumps.",
         "sanity [MASK] token."]


def read_safetensors_f32(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", (name, meta["dtype"])
        a, b = meta["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(meta["shape"])
    return out


def run_forward(cli, export, ids, mask, device, work):
    req = os.path.join(work, "request.json")
    with open(req, "w") as f:
        json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist()}, f)
    dst = os.path.join(work, f"forward_{device.replace(':', '_')}.safetensors")
    r = subprocess.run([cli, "forward", export, "--input-ids", req, "--out", dst, "--device", device,
                        "--json"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"forward on {device}: {r.stderr}")
    return json.loads(r.stdout), read_safetensors_f32(dst)


def max_abs(a, b):
    return (a.detach().double().cpu() - b.detach().double().cpu()).abs().max().item()


def check_export(export, work, cli, check):
    name = os.path.basename(export.rstrip("/"))
    tok = AutoTokenizer.from_pretrained(export, trust_remote_code=True)
    texts = [t.replace("[MASK]", tok.mask_token) for t in TEXTS]
    enc = tok(texts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    check(f"{name}/tokenizer", ids.shape[0] == len(texts) and (mask == 0).any().item(),
          shape=list(ids.shape), mask_token=tok.mask_token)

    # transformers 5 names it `dtype`, 4.x `torch_dtype`.
    f32 = {"dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype":
           torch.float32}
    mlm = AutoModelForMaskedLM.from_pretrained(export, trust_remote_code=True, **f32).eval()
    base = AutoModel.from_pretrained(export, trust_remote_code=True, **f32).eval()
    cls = AutoModelForSequenceClassification.from_pretrained(export, trust_remote_code=True,
                                                             num_labels=3, **f32).eval()
    devices = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])
    for device in devices:
        tol = 1e-5 if device == "cpu" else 1e-4
        summary, ours = run_forward(cli, export, ids, mask, device, work)
        check(f"{name}/forward_device_{device}", summary["device"] == device, summary=summary)
        with torch.no_grad():
            ids_d, mask_d = ids.to(device), mask.to(device)
            logits = mlm.to(device)(input_ids=ids_d, attention_mask=mask_d).logits
            hidden = base.to(device)(input_ids=ids_d, attention_mask=mask_d).last_hidden_state
            c = cls.to(device)
            cls_logits = c(input_ids=ids_d, attention_mask=mask_d).logits
            cls_hidden = c.model(input_ids=ids_d, attention_mask=mask_d).last_hidden_state
        d_logits = max_abs(logits, ours["logits"])
        d_hidden = max_abs(hidden, ours["last_hidden_state"])
        d_cls = max_abs(cls_hidden, ours["last_hidden_state"])
        check(f"{name}/masked_lm_logits_{device}", d_logits <= tol, max_abs=d_logits, tol=tol)
        check(f"{name}/auto_model_hidden_{device}", d_hidden <= tol, max_abs=d_hidden, tol=tol)
        check(f"{name}/sequence_classification_{device}",
              tuple(cls_logits.shape) == (len(texts), 3) and torch.isfinite(cls_logits).all().item()
              and d_cls <= tol, shape=list(cls_logits.shape), encoder_max_abs=d_cls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", required=True, help="where gpu_check.json goes")
    ap.add_argument("--work", required=True, help="scratch folder")
    ap.add_argument("exports", nargs="+")
    args = ap.parse_args()
    report = {"torch": torch.__version__, "transformers": transformers.__version__,
              "cuda": torch.cuda.is_available(), "checks": []}
    failures = 0

    def check(name, ok, **detail):
        nonlocal failures
        failures += 0 if ok else 1
        report["checks"].append({"name": name, "ok": bool(ok), **detail})
        print(("PASS " if ok else "FAIL ") + name, json.dumps(detail))

    for export in args.exports:
        try:
            check_export(export, args.work, args.cli, check)
        except Exception as e:  # one export's crash must not hide the others' results
            check(f"{os.path.basename(export)}/loads", False, error=f"{type(e).__name__}: {e}")
            traceback.print_exc()

    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"{len(report['checks']) - failures}/{len(report['checks'])} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
