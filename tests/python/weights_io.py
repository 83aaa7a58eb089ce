"""Test-side readers for weight files: torch.load for zips, and a small
safetensors parser (struct + json + numpy; the safetensors package is not in
Debian). Tensors are compared as raw bytes so bf16 needs no numpy support."""
import hashlib
import json
import struct

import numpy as np
import torch

ST_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
             "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
             "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def tensor_bytes(t):
    """Contiguous little-endian bytes of a tensor, any dtype."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def tensor_sha256(t):
    return hashlib.sha256(tensor_bytes(t)).hexdigest()


def read_safetensors(path):
    """Returns (metadata, {name: (dtype, shape, bytes)}) and checks the layout."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        assert b == end, f"{path}: gap or overlap before {name}"
        end = e
        out[name] = (ST_DTYPES[info["dtype"]], list(info["shape"]), body[b:e])
    assert end == len(body), f"{path}: trailing bytes"
    return meta, out


def load_state_dict(path):
    """{name: tensor} from a torch zip or a safetensors file."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        sd = torch.load(path, map_location="cpu")
        if isinstance(sd, dict) and set(sd) & {"state_dict", "model"} and len(sd) == 1:
            sd = next(iter(sd.values()))
        return dict(sd)
    _, tensors = read_safetensors(path)
    out = {}
    for name, (dtype, shape, raw) in tensors.items():
        if dtype == torch.bfloat16:
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            t = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(shape)
    return out
