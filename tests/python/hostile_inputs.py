"""Hostile and broken weight files, built byte by byte.

Each case is (name, filename, bytes, expected substring of the error). The
files imitate what an attacker or a disk fault produces: unsafe pickle
globals, corrupt zips, lying shapes and offsets, malformed safetensors.
Run by test_hostile_inputs.py; needs Debian's torch only to make the one
valid base checkpoint the zip cases are mutated from.
"""
import io
import json
import struct
import zipfile

import torch


class Pickle:
    """A minimal protocol-2 opcode writer (so we can say exactly what a file holds)."""

    def __init__(self, proto=2):
        self.b = bytearray()
        if proto is not None:
            self.b += b"\x80" + bytes([proto])

    def op(self, raw):
        self.b += raw
        return self

    def glob(self, mod, name):
        return self.op(b"c" + mod.encode() + b"\n" + name.encode() + b"\n")

    def s(self, text):
        data = text.encode()
        return self.op(b"X" + struct.pack("<I", len(data)) + data)

    def i(self, v):
        if 0 <= v < 256:
            return self.op(b"K" + bytes([v]))
        if -(2**31) <= v < 2**31:
            return self.op(b"J" + struct.pack("<i", v))
        raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
        return self.op(b"\x8a" + bytes([len(raw)]) + raw)

    def tup(self, items):
        self.op(b"(")
        for v in items:
            self.i(v)
        return self.op(b"t")

    def mark(self):
        return self.op(b"(")

    def bytes(self):
        return bytes(self.b)


def tensor_pickle(shape, stride, offset=0, numel=None, storage_cls="FloatStorage", key="0",
                  persid=None):
    """{"w": _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())}."""
    p = Pickle()
    p.op(b"}")  # EMPTY_DICT
    p.s("w")
    p.glob("torch._utils", "_rebuild_tensor_v2")
    p.mark()
    if persid is None:
        p.mark().s("storage").glob("torch", storage_cls).s(key).s("cpu")
        p.i(numel if numel is not None else max(1, _prod(shape))).op(b"t")
    else:
        p.op(persid)
    p.op(b"Q")  # BINPERSID
    p.i(offset).tup(shape).tup(stride).op(b"\x89")  # NEWFALSE
    p.glob("collections", "OrderedDict").op(b")R")  # OrderedDict()
    p.op(b"tR")  # TUPLE, REDUCE
    p.op(b"s.")  # SETITEM, STOP
    return p.bytes()


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def torch_zip(records, compress=None):
    """A zip with the given {name: bytes} records, STORED unless `compress`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in records.items():
            ct = compress if (compress and name.endswith("data.pkl")) else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo(name), data, compress_type=ct)
    return buf.getvalue()


def std_records(pkl, data=b"\0" * 64, extra=None):
    r = {"archive/data.pkl": pkl, "archive/data/0": data, "archive/version": b"3\n",
         "archive/byteorder": b"little"}
    if extra:
        r.update(extra)
    return r


def evil_reduce(module, name, arg):
    p = Pickle()
    p.glob(module, name).mark().s(arg).op(b"tR.")
    return p.bytes()


class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED_MARKER",))


def safetensors(header, data=b"", raw_len=None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(h) if raw_len is None else raw_len
    return struct.pack("<Q", n) + h + data


def valid_state_dict_bytes():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(16, dtype=torch.float32).reshape(4, 4)}, buf)
    return buf.getvalue()


def cases():
    ok = valid_state_dict_bytes()
    good_pkl = tensor_pickle([4, 4], [4, 1])
    out = []
    add = lambda name, data, expect, fname="state_dict.pt": out.append((name, fname, data, expect))

    # Code execution attempts: refused by name, never run.
    add("os_system", torch_zip(std_records(evil_reduce("os", "system", "touch PWNED_MARKER"))), "os.system")
    add("posix_system", torch_zip(std_records(evil_reduce("posix", "system", "touch PWNED_MARKER"))), "posix.system")
    add("builtins_eval", torch_zip(std_records(evil_reduce("builtins", "eval", "1+1"))), "builtins.eval")
    add("builtins_exec", torch_zip(std_records(evil_reduce("builtins", "exec", "import os"))), "builtins.exec")
    add("subprocess", torch_zip(std_records(evil_reduce("subprocess", "check_output", "id"))), "subprocess.check_output")
    add("reduce_class", torch_zip(std_records(__import__("pickle").dumps(Evil(), protocol=2))), "system")
    add("legacy_storage_loader", torch_zip(std_records(evil_reduce("torch.storage", "_load_from_bytes", "x"))), "torch.storage._load_from_bytes")
    p = Pickle().glob("collections", "OrderedDict").op(b")R").op(b"(").glob("os", "system").op(b"b.")
    add("build_with_global", torch_zip(std_records(p.bytes())), "os.system")
    # Pickle structure.
    add("protocol_0", torch_zip(std_records(b"(dp0\n.")), "protocol")
    add("protocol_6", torch_zip(std_records(b"\x80\x06}.")), "protocol")
    add("truncated_pickle", torch_zip(std_records(good_pkl[: len(good_pkl) // 2])), "data.pkl")
    add("memo_miss", torch_zip(std_records(b"\x80\x02h\x07.")), "memo")
    add("deep_nesting", torch_zip(std_records(b"\x80\x02" + b"]" * 200000 + b".")), "data.pkl")
    add("huge_string", torch_zip(std_records(b"\x80\x02X\xff\xff\xff\x7f")), "data.pkl")
    add("bad_persistent_id", torch_zip(std_records(tensor_pickle([4], [1], persid=b"K\x05"))), "persistent")
    add("not_a_tensor", torch_zip(std_records(b"\x80\x02}X\x01\x00\x00\x00wK\x05s.")), "'w'")
    # Tensor geometry.
    add("negative_shape", torch_zip(std_records(tensor_pickle([-1, 4], [4, 1], numel=16))), "negative")
    add("shape_overflow", torch_zip(std_records(tensor_pickle([2**40, 2**40], [2**40, 1], numel=16))), "overflow")
    add("numel_overflow", torch_zip(std_records(tensor_pickle([4], [1], numel=2**62))), "storage")
    add("view_past_storage", torch_zip(std_records(tensor_pickle([4, 4], [4, 1], offset=10, numel=16))), "storage")
    add("storage_record_short", torch_zip(std_records(good_pkl, data=b"\0" * 8)), "data/0")
    recs = std_records(good_pkl)
    del recs["archive/data/0"]
    add("missing_storage_record", torch_zip(recs), "data/0")
    add("unknown_storage_class", torch_zip(std_records(tensor_pickle([4], [1], storage_cls="ComplexFloatStorage"))), "ComplexFloatStorage")
    # Zip container.
    add("truncated_zip", ok[: len(ok) // 2], "")
    add("no_data_pkl", torch_zip({"archive/version": b"3\n", "archive/data/0": b"\0" * 64}), "data.pkl")
    two = std_records(good_pkl)
    two["other/data.pkl"] = good_pkl
    add("two_data_pkl", torch_zip(two), "data.pkl")
    add("deflated_pickle", torch_zip(std_records(good_pkl), compress=zipfile.ZIP_DEFLATED), "compress")
    add("byteorder_big", torch_zip(std_records(good_pkl, extra={"archive/byteorder": b"big"})), "big")
    plain = torch_zip(std_records(good_pkl))
    bad_eocd = bytearray(plain)
    idx = bad_eocd.rfind(b"PK\x05\x06")
    bad_eocd[idx + 16: idx + 20] = struct.pack("<I", len(plain) + 1000)  # central dir offset past EOF
    add("central_dir_past_eof", bytes(bad_eocd), "")
    add("random_bytes", bytes(range(256)) * 4, "")
    add("empty_file", b"", "")
    # safetensors.
    st = "model.safetensors"
    add("st_header_too_big", safetensors(b"{}", raw_len=2**40), "header", st)
    add("st_header_past_eof", safetensors(b"{}", raw_len=4096), "header", st)
    add("st_invalid_json", safetensors(b"{not json"), "JSON", st)
    add("st_unknown_dtype", safetensors({"w": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "Q7", st)
    add("st_negative_shape", safetensors({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "w", st)
    add("st_size_mismatch", safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4), "w", st)
    add("st_offsets_past_end", safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8), "w", st)
    add("st_overlap", safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "overlap", st)
    add("st_reversed_offsets", safetensors({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, b"\0" * 8), "w", st)
    add("st_metadata_not_strings", safetensors({"__metadata__": {"format": 1}}), "__metadata__", st)
    return out
