"""`cmake --install` gives a layout in which the installed CLI finds its engine.

Usage: test_install.py CMAKE BUILD_DIR FIXTURES_DIR

Installs the build into a fresh prefix P (what the Dockerfile does, with
/usr/local), then checks:
- the layout: P/bin/{neobert-export,neobert-exportd} and the LibTorch half of
  the engine in P/lib/neobert-export/ (not in P/bin, where a build tree has it);
- P/bin/neobert-export exports a fixture (sanity forward pass) and
  `forward` runs that export, writing finite logits of the right shape: the
  engine library was found from P/bin alone ($NEOBERT_ENGINE_LIBRARY unset);
- moved away, the same `forward` fails naming P/lib/neobert-export, so the
  library found above was the installed one;
- both installed binaries print the build's --version.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from weights_io import read_safetensors  # noqa: E402

CMAKE = BUILD = FIXTURES = None
LIB = "libneobert_engine_torch.so"


def run(args, timeout=300):
    env = dict(os.environ)
    env.pop("NEOBERT_ENGINE_LIBRARY", None)
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="install-test-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = run([CMAKE, "--install", BUILD, "--prefix", cls.prefix])
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def bin(self, name):
        return os.path.join(self.prefix, "bin", name)

    def test_layout(self):
        for b in ("neobert-export", "neobert-exportd"):
            self.assertTrue(os.access(self.bin(b), os.X_OK), b)
        self.assertTrue(os.path.isfile(os.path.join(self.prefix, "lib", "neobert-export", LIB)))
        self.assertFalse(os.path.exists(self.bin(LIB)), "the engine library belongs in lib/neobert-export/")

    def test_version(self):
        built = run([os.path.join(BUILD, "bin", "neobert-export"), "--version"]).stdout
        self.assertRegex(built, r"^neobert-export \d+\.\d+\.\d+\n$")
        self.assertEqual(run([self.bin("neobert-export"), "--version"]).stdout, built)
        self.assertEqual(run([self.bin("neobert-exportd"), "--version"]).stdout,
                         built.replace("neobert-export", "neobert-exportd"))

    def test_installed_cli_finds_the_engine(self):
        ckpt = os.path.join(FIXTURES, "fp32_swiglu_rope_rms")
        out = os.path.join(self.tmp, "export")
        r = run([self.bin("neobert-export"), "export", ckpt, "-o", out, "--no-fsync"])
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = os.path.join(self.tmp, "ids.json")
        with open(ids, "w") as f:
            json.dump({"input_ids": [[1, 2, 3, 4], [5, 6, 7, 8]], "attention_mask": [[1, 1, 1, 1], [1, 1, 0, 0]]}, f)
        logits = os.path.join(self.tmp, "out.safetensors")
        r = run([self.bin("neobert-export"), "forward", out, "--input-ids", ids, "--out", logits, "--device", "cpu"])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
        _, tensors = read_safetensors(logits)
        _, shape, raw = tensors["logits"]
        self.assertEqual(shape, [2, 4, vocab])
        values = struct.unpack(f"<{len(raw) // 4}f", raw)
        self.assertTrue(values and all(math.isfinite(v) for v in values))

        # Without the installed library the same command fails and says where it looked.
        lib_dir = os.path.join(self.prefix, "lib", "neobert-export")
        moved = lib_dir + ".moved"
        os.rename(lib_dir, moved)
        try:
            r = run([self.bin("neobert-export"), "forward", out, "--input-ids", ids, "--out", logits + "2"])
        finally:
            os.rename(moved, lib_dir)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(os.path.join(lib_dir, LIB), r.stderr)
        self.assertFalse(os.path.exists(logits + "2"))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    CMAKE, BUILD, FIXTURES = sys.argv[1:4]
    sys.argv[1:] = []
    unittest.main(verbosity=2)
