"""The LibTorch half of the engine is a library loaded on first use.

core/engine/backend.h: the binaries do not link LibTorch; the engine opens
libneobert_engine_torch.so when a forward pass is first needed. Checked here:
- neither binary has LibTorch among its NEEDED libraries, the library does,
  and it exports exactly one entry point;
- commands that run no forward pass work with the library made unfindable
  ($NEOBERT_ENGINE_LIBRARY pointing nowhere): inspect, convert, export
  --no-sanity, --version (which agrees with the server's and the manifest's);
- commands that need it fail cleanly (exit 1, the path tried and the loader's
  reason in one message, no destination left) when it is missing or is not a
  shared library, and neobert-exportd refuses to start (exit 2);
- with the library found, the sanity pass runs.

usage: /usr/bin/python3 test_engine_loading.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = FIXTURES = None
LIB = "libneobert_engine_torch.so"


def run(args, env_extra=None, timeout=300):
    env = dict(os.environ)
    env.pop("NEOBERT_ENGINE_LIBRARY", None)
    env.update(env_extra or {})
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


class EngineLoadingTest(unittest.TestCase):
    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="engine-loading-")
        self.ckpt = os.path.join(FIXTURES, "fp32_swiglu_rope_rms")
        self.missing = {"NEOBERT_ENGINE_LIBRARY": os.path.join(self.tmp, "absent", LIB)}

    def cli(self, *args, env_extra=None):
        return run([os.path.join(BIN, "neobert-export"), *args], env_extra)

    def test_only_the_engine_library_links_libtorch(self):
        for binary in ("neobert-export", "neobert-exportd"):
            libs = needed(os.path.join(BIN, binary))
            self.assertFalse([l for l in libs if "torch" in l or "c10" in l], (binary, libs))
        self.assertTrue([l for l in needed(os.path.join(BIN, LIB)) if l.startswith("libtorch")])
        syms = subprocess.run(["nm", "-D", "--defined-only", os.path.join(BIN, LIB)],
                              capture_output=True, text=True, check=True).stdout
        functions = sorted(l.split()[-1] for l in syms.splitlines() if l.split()[1:2] == ["T"])
        self.assertEqual(functions, ["neobert_engine_backend_v1"])

    def test_commands_without_forward_pass_never_load_it(self):
        r = self.cli("inspect", self.ckpt, "--json", env_extra=self.missing)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "w.safetensors")
        r = self.cli("convert", os.path.join(self.ckpt, "state_dict.pt"), out, env_extra=self.missing)
        self.assertEqual(r.returncode, 0, r.stderr)
        dest = os.path.join(self.tmp, "nosanity")
        r = self.cli("export", self.ckpt, "-o", dest, "--no-sanity", env_extra=self.missing)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(dest, "model.safetensors")))
        # --version of both binaries, and the manifest's "tool", name one version.
        version = self.cli("--version", env_extra=self.missing)
        self.assertEqual(version.returncode, 0, version.stderr)
        self.assertRegex(version.stdout, r"^neobert-export \d+\.\d+\.\d+\n$")
        server = run([os.path.join(BIN, "neobert-exportd"), "--version"], self.missing)
        self.assertEqual(server.stdout, version.stdout.replace("neobert-export", "neobert-exportd"))
        with open(os.path.join(dest, "manifest.json")) as f:
            self.assertEqual(json.load(f)["tool"], version.stdout.strip())

    def test_missing_library_is_a_clear_error(self):
        dest = os.path.join(self.tmp, "out")
        r = self.cli("export", self.ckpt, "-o", dest, env_extra=self.missing)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot load the LibTorch engine", r.stderr)
        self.assertIn(self.missing["NEOBERT_ENGINE_LIBRARY"] + " (absent)", r.stderr)
        self.assertFalse(os.path.exists(dest))

    def test_not_a_library_is_a_clear_error(self):
        bogus = os.path.join(self.tmp, LIB)
        with open(bogus, "w") as f:
            f.write("not an ELF file\n")
        dest = os.path.join(self.tmp, "out")
        r = self.cli("export", self.ckpt, "-o", dest, env_extra={"NEOBERT_ENGINE_LIBRARY": bogus})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot load the LibTorch engine", r.stderr)
        self.assertIn(bogus + " (", r.stderr)  # followed by dlopen's own reason
        self.assertFalse(os.path.exists(dest))

    def test_server_refuses_to_start_without_it(self):
        r = run([os.path.join(BIN, "neobert-exportd"), "--listen", "127.0.0.1:0",
                 "--input-root", self.tmp, "--output-root", self.tmp,
                 "--state-dir", os.path.join(self.tmp, "state")], self.missing, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot load the LibTorch engine", r.stdout + r.stderr)

    def test_found_next_to_the_binary(self):
        dest = os.path.join(self.tmp, "out")
        r = self.cli("export", self.ckpt, "-o", dest, "--device", "cpu")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sanity forward pass passed on cpu", r.stdout + r.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    BIN, FIXTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
