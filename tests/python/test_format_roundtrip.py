"""Every fixture checkpoint, read by our C++ readers and rewritten by our
writers, loads back in real PyTorch bit-identical (names, dtypes, shapes,
bytes); `inspect --hash` agrees with sha256s computed by Python.

usage: /usr/bin/python3 test_format_roundtrip.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights_io import load_state_dict, read_safetensors, tensor_bytes, tensor_sha256  # noqa: E402

BIN = FIXTURES = None
WEIGHT_FILES = ("state_dict.pt", "model.safetensors")


def fixture_weight_files():
    for variant in sorted(os.listdir(FIXTURES)):
        for name in WEIGHT_FILES:
            p = os.path.join(FIXTURES, variant, name)
            if os.path.isfile(p):
                yield variant, p


def flip_byte(path, info, at):
    """Flips one bit of byte `at` of zip entry `info`'s data, in place."""
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        n, m = (int.from_bytes(f.read(2), "little") for _ in range(2))
        pos = info.header_offset + 30 + n + m + at
        f.seek(pos)
        b = f.read(1)[0]
        f.seek(pos)
        f.write(bytes([b ^ 0x01]))


class FormatRoundTrip(unittest.TestCase):
    def cli(self, *args):
        r = subprocess.run([os.path.join(BIN, "neobert-export"), *args], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr}")
        return r.stdout

    def test_fixtures_exist(self):
        self.assertGreaterEqual(len(list(fixture_weight_files())), 10)

    def test_inspect_hashes_match_python(self):
        for variant, path in fixture_weight_files():
            with self.subTest(variant=variant):
                report = json.loads(self.cli("inspect", "--hash", "--json", path))
                sd = load_state_dict(path)
                self.assertEqual([t["name"] for t in report["tensors"]].__len__(), len(sd))
                for t in report["tensors"]:
                    ref = sd[t["name"]]
                    self.assertEqual(t["dtype"], str(ref.dtype).replace("torch.", ""), t["name"])
                    self.assertEqual(t["shape"], list(ref.shape), t["name"])
                    self.assertEqual(t["sha256"], tensor_sha256(ref), t["name"])

    def test_convert_round_trips_bit_exact(self):
        for variant, path in fixture_weight_files():
            with self.subTest(variant=variant), tempfile.TemporaryDirectory() as d:
                src = load_state_dict(path)
                st = os.path.join(d, "model.safetensors")
                pt = os.path.join(d, "pytorch_model.bin")
                self.cli("convert", path, st)
                self.cli("convert", path, pt)
                meta, tensors = read_safetensors(st)
                self.assertEqual(meta, {"format": "pt"})
                loaded = torch.load(pt, map_location="cpu", weights_only=True)
                self.assertEqual(type(loaded).__name__, "OrderedDict")
                self.assertEqual(set(loaded), set(src))
                self.assertEqual(set(tensors), set(src))
                for name, ref in src.items():
                    dtype, shape, raw = tensors[name]
                    self.assertEqual((dtype, shape), (ref.dtype, list(ref.shape)), name)
                    self.assertEqual(raw, tensor_bytes(ref), name)
                    got = loaded[name]
                    self.assertEqual((got.dtype, list(got.shape)), (ref.dtype, list(ref.shape)), name)
                    self.assertEqual(tensor_bytes(got), tensor_bytes(ref), name)
                with zipfile.ZipFile(pt) as z:
                    # Every CRC right, the reused recorded ones included.
                    self.assertIsNone(z.testzip())
                    for info in z.infolist():
                        if "/data/" in info.filename:
                            # Local header: 30 bytes + name + extra, data 64-byte aligned.
                            with open(pt, "rb") as f:
                                f.seek(info.header_offset + 26)
                                n, m = (int.from_bytes(f.read(2), "little") for _ in range(2))
                            self.assertEqual((info.header_offset + 30 + n + m) % 64, 0, info.filename)

    def test_convert_keeps_a_corrupt_records_crc(self):
        # convert reuses the CRC-32 recorded for whole storages without reading
        # them: a corrupt record must come out with its recorded CRC, which no
        # longer matches the bytes, so that any zip check still catches it.
        path = os.path.join(FIXTURES, "fp32_swiglu_rope_rms", "state_dict.pt")
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "state_dict.pt")
            with open(path, "rb") as f, open(bad, "wb") as g:
                g.write(f.read())
            with zipfile.ZipFile(bad) as z:
                self.assertIsNone(z.testzip())
                info = max((i for i in z.infolist() if "/data/" in i.filename),
                           key=lambda i: i.file_size)
            flip_byte(bad, info, info.file_size // 2)
            with zipfile.ZipFile(bad) as z:
                self.assertEqual(z.testzip(), info.filename)
            pt = os.path.join(d, "pytorch_model.bin")
            self.cli("convert", bad, pt)
            with zipfile.ZipFile(pt) as z:
                self.assertIsNotNone(z.testzip())

    def test_cast_to_bfloat16_matches_torch(self):
        for variant, path in fixture_weight_files():
            if variant not in ("fp32_swiglu_rope_rms", "fp16"):
                continue
            with self.subTest(variant=variant), tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "cast.bin")
                self.cli("convert", path, out, "--dtype", "bfloat16")
                got = torch.load(out, map_location="cpu", weights_only=True)
                for name, ref in load_state_dict(path).items():
                    if ref.is_floating_point():
                        self.assertEqual(tensor_bytes(got[name]), tensor_bytes(ref.to(torch.bfloat16)), name)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
