"""Every hostile or broken weight file gets exit code 1 and a one-line error
from `neobert-export inspect` and `convert`; none crashes, none executes
anything, none leaves an output file.

usage: /usr/bin/python3 test_hostile_inputs.py BIN_DIR
"""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_inputs  # noqa: E402

BIN = None


class HostileInputs(unittest.TestCase):
    def run_cli(self, cwd, *args):
        return subprocess.run([os.path.join(BIN, "neobert-export"), *args], cwd=cwd,
                              capture_output=True, text=True, timeout=60)

    def test_cases(self):
        cases = hostile_inputs.cases()
        self.assertGreaterEqual(len(cases), 25)
        for name, fname, data, expect in cases:
            with self.subTest(case=name), tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, fname)
                with open(path, "wb") as f:
                    f.write(data)
                for args in (["inspect", "--hash", path], ["convert", path, os.path.join(d, "out.safetensors")],
                             ["convert", path, os.path.join(d, "out.bin")]):
                    r = self.run_cli(d, *args)
                    self.assertEqual(r.returncode, 1, f"{name} {args[0]}: rc={r.returncode} stderr={r.stderr!r}")
                    lines = r.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, f"{name}: not one line: {r.stderr!r}")
                    self.assertTrue(lines[0].startswith("error: "), lines[0])
                    self.assertIn(expect.lower(), lines[0].lower(), f"{name}: {lines[0]}")
                self.assertFalse(os.path.exists(os.path.join(d, "PWNED_MARKER")), f"{name} executed code")
                leftovers = sorted(set(os.listdir(d)) - {fname})
                self.assertEqual(leftovers, [], f"{name} left output behind")


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main()
