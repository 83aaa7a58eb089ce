"""`neobert-export validate` passes on good exports and fails, naming the right
check, on exports broken on purpose.

usage: /usr/bin/python3 test_validate.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights_io import read_safetensors  # noqa: E402

BIN = FIXTURES = None


def run(*args):
    return subprocess.run([os.path.join(BIN, "neobert-export"), *args], capture_output=True,
                          text=True, timeout=300)


def write_safetensors(path, meta, tensors):
    """tensors: {name: (dtype_code, shape, bytes)} in order."""
    import struct
    header = {"__metadata__": meta} if meta else {}
    off = 0
    for name, (code, shape, raw) in tensors.items():
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(raw for _, _, raw in tensors.values()))


def load_json(path):
    with open(path) as f:
        return json.load(f)


def save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


class Validate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.ckpt = os.path.join(FIXTURES, "fp32_swiglu_rope_rms")
        cls.good = os.path.join(cls.tmp, "good")
        r = run("export", cls.ckpt, "-o", cls.good, "--local")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def report(self, export_dir, source=True):
        args = ["validate", export_dir, "--json", "--local"]
        if source:
            args += ["--source", self.ckpt]
        r = run(*args)
        self.assertIn(r.returncode, (0, 4), r.stderr)  # 4: validation failed
        rep = json.loads(r.stdout)
        self.assertEqual(rep["ok"], r.returncode == 0)
        return {c["name"]: c for c in rep["checks"]}

    def rehash(self, d):
        """Re-record every file's size and sha256 in manifest.json (dropping
        removed files), so a test breaks only the thing it means to."""
        import hashlib
        path = os.path.join(d, "manifest.json")
        m = load_json(path)
        kept = []
        for entry in m["files"]:
            f = os.path.join(d, entry["name"])
            if not os.path.exists(f):
                continue
            with open(f, "rb") as fh:
                data = fh.read()
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            kept.append(entry)
        m["files"] = kept
        save_json(path, m)

    def broken_copy(self, name):
        d = os.path.join(self.tmp, name)
        shutil.copytree(self.good, d)
        return d

    def test_good_export_passes_every_check(self):
        checks = self.report(self.good)
        self.assertEqual(set(checks), {"files", "config", "manifest", "tokenizer", "weights",
                                       "mlm_forward", "mask_parity", "end_to_end",
                                       "cosine_sanity", "source_parity"})
        for name, c in checks.items():
            if name == "cosine_sanity":
                # Random fixture weights meet the trained-model thresholds
                # only by chance; a miss is advisory and never fails the report.
                self.assertTrue(c["passed"] or c["advisory"], c)
                continue
            self.assertTrue(c["passed"], c)
            self.assertFalse(c["advisory"], c)
        self.assertIn("max-abs 0", checks["source_parity"]["detail"])

    def test_every_fixture_variant_validates_against_its_source(self):
        for variant in sorted(os.listdir(FIXTURES)):
            src = os.path.join(FIXTURES, variant)
            if not os.path.isdir(src):
                continue
            with self.subTest(variant=variant):
                out = os.path.join(self.tmp, "v_" + variant)
                r = run("export", src, "-o", out, "--local")
                self.assertEqual(r.returncode, 0, r.stderr)
                r = run("validate", out, "--source", src, "--json", "--local")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_swapped_tensor_fails_source_parity(self):
        d = self.broken_copy("swapped")
        path = os.path.join(d, "model.safetensors")
        meta, tensors = read_safetensors(path)
        codes = {"torch.float32": "F32"}
        a, b = "model.transformer_encoder.0.wo.weight", "model.transformer_encoder.1.wo.weight"
        items = {k: (codes[str(v[0])], v[1], v[2]) for k, v in tensors.items()}
        items[a], items[b] = items[b], items[a]
        write_safetensors(path, meta, items)
        checks = self.report(d)
        self.assertFalse(checks["source_parity"]["passed"], checks["source_parity"])
        self.assertFalse(checks["manifest"]["passed"])
        self.assertTrue(checks["weights"]["passed"] is False)  # .bin no longer matches
        self.assertIn("pytorch_model.bin differs", checks["weights"]["detail"])

    def test_truncated_safetensors_fails_weights(self):
        d = self.broken_copy("truncated")
        path = os.path.join(d, "model.safetensors")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        checks = self.report(d)
        self.assertFalse(checks["weights"]["passed"])
        self.assertIn("model.safetensors", checks["weights"]["detail"])

    def test_missing_tokenizer_file_fails_files(self):
        d = self.broken_copy("no_tokenizer")
        os.remove(os.path.join(d, "tokenizer.json"))
        checks = self.report(d, source=False)
        self.assertFalse(checks["files"]["passed"])
        self.assertIn("tokenizer.json", checks["files"]["detail"])
        self.assertFalse(checks["tokenizer"]["passed"])
        self.assertIn("tokenizer.json", checks["tokenizer"]["detail"])
        self.assertTrue(checks["weights"]["passed"])

    def test_corrupt_tokenizer_json_fails_tokenizer(self):
        d = self.broken_copy("corrupt_tokenizer")
        path = os.path.join(d, "tokenizer.json")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 3)
        self.rehash(d)
        checks = self.report(d)
        self.assertFalse(checks["tokenizer"]["passed"], checks["tokenizer"])
        self.assertIn("tokenizer.json", checks["tokenizer"]["detail"])
        self.assertTrue(checks["manifest"]["passed"])
        self.assertTrue(checks["source_parity"]["passed"])  # the weights are fine
        self.assertFalse(checks["end_to_end"]["passed"])
        self.assertIn("not run", checks["end_to_end"]["detail"])

    def test_unsupported_tokenizer_component_fails_tokenizer(self):
        d = self.broken_copy("odd_tokenizer")
        path = os.path.join(d, "tokenizer.json")
        tj = load_json(path)
        tj["normalizer"] = {"type": "NoSuchNormalizer"}
        save_json(path, tj)
        self.rehash(d)
        checks = self.report(d, source=False)
        self.assertFalse(checks["tokenizer"]["passed"])
        self.assertIn("NoSuchNormalizer", checks["tokenizer"]["detail"])

    def test_pad_token_id_disagreeing_with_tokenizer_fails_tokenizer(self):
        d = self.broken_copy("bad_pad")
        cfg_path = os.path.join(d, "config.json")
        cfg = load_json(cfg_path)
        cfg["pad_token_id"] = cfg["pad_token_id"] + 5
        save_json(cfg_path, cfg)
        self.rehash(d)
        checks = self.report(d, source=False)
        self.assertFalse(checks["tokenizer"]["passed"])
        self.assertIn("pad_token_id", checks["tokenizer"]["detail"])
        self.assertTrue(checks["config"]["passed"])

    def test_cosine_sanity_is_advisory_unless_strict(self):
        # A zeroed embedding matrix (decoder tied to it) gives all-zero
        # embeddings: similarities 0 < 0.5, so the seed's thresholds fail, while
        # the export is still a faithful copy of ITS weights.
        d = self.broken_copy("zero_embeddings")
        path = os.path.join(d, "model.safetensors")
        meta, tensors = read_safetensors(path)
        items = {k: ("F32", v[1], v[2]) for k, v in tensors.items()}
        name = "model.encoder.weight"
        items[name] = ("F32", items[name][1], bytes(len(items[name][2])))
        write_safetensors(path, meta, items)
        os.remove(os.path.join(d, "pytorch_model.bin"))
        self.rehash(d)
        checks = self.report(d, source=False)
        cos = checks["cosine_sanity"]
        self.assertFalse(cos["passed"], cos)
        self.assertTrue(cos["advisory"], cos)
        self.assertIn("NOT met", cos["detail"])
        for n, c in checks.items():
            if n != "cosine_sanity":
                self.assertTrue(c["passed"], c)
        r = run("validate", d, "--local")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("WARN  cosine_sanity", r.stdout)
        r = run("validate", d, "--local", "--strict", "--json")
        self.assertEqual(r.returncode, 4, r.stdout)  # validation failed
        rep = json.loads(r.stdout)
        self.assertFalse(rep["ok"])
        strict = {c["name"]: c for c in rep["checks"]}["cosine_sanity"]
        self.assertFalse(strict["passed"])
        self.assertFalse(strict["advisory"])

    def test_wrong_config_field_fails(self):
        d = self.broken_copy("bad_config")
        cfg_path = os.path.join(d, "config.json")
        cfg = load_json(cfg_path)
        cfg["num_attention_heads"] = 8  # still divides H: loads, but computes another function
        save_json(cfg_path, cfg)
        checks = self.report(d)
        self.assertFalse(checks["source_parity"]["passed"], checks["source_parity"])
        cfg["hidden_size"] = 48
        save_json(cfg_path, cfg)
        checks = self.report(d)
        self.assertFalse(checks["weights"]["passed"])

    def test_missing_config_field_fails_config(self):
        d = self.broken_copy("no_field")
        cfg_path = os.path.join(d, "config.json")
        cfg = load_json(cfg_path)
        del cfg["flash_attention"]
        save_json(cfg_path, cfg)
        checks = self.report(d, source=False)
        self.assertFalse(checks["config"]["passed"])
        self.assertIn("flash_attention", checks["config"]["detail"])


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
