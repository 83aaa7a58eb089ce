"""Every export validation rule, each with a broken copy of a good fixture.

Each case copies a fixture checkpoint, breaks exactly ONE thing (weights are
rewritten with torch.save from the loaded state dict, never hand-edited
bytes), runs `neobert-export export --json` and asserts: exit status 1, stderr
is exactly one line `error: ...` naming the file / field / tensor at fault,
the JSON result says ok=false with the expected status code, and neither the
destination, nor its (not yet existing) parent, nor a hidden
`.<name>.partial-*` staging directory exists afterwards.

usage: /usr/bin/python3 test_export_rules.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import random
import shutil
import sys
import tempfile
import unittest
import zipfile

import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from export_util import run_export, staging_leftovers  # noqa: E402

BIN = FIXTURES = None
GOOD = "fp32_swiglu_rope_rms"
REQUIRED_FIELDS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                   "vocab_size", "max_position_embeddings", "norm_eps", "pad_token_id", "rope",
                   "rms_norm", "hidden_act"]
LAYER = "model.transformer_encoder.1."


class ExportRules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert_export_rules_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers --

    def checkpoint(self, variant=GOOD):
        """A private copy of a good fixture checkpoint."""
        dst = os.path.join(self.tmp, "ckpt")
        shutil.copytree(os.path.join(FIXTURES, variant), dst)
        os.remove(os.path.join(dst, "expected.json"))  # ground truth, not trainer output
        return dst

    def load_sd(self, ckpt):
        return torch.load(os.path.join(ckpt, "state_dict.pt"), map_location="cpu")

    def save_sd(self, ckpt, sd):
        torch.save(sd, os.path.join(ckpt, "state_dict.pt"))

    def edit_yaml(self, ckpt, fn):
        path = os.path.join(ckpt, "config.yaml")
        with open(path) as f:
            doc = yaml.safe_load(f)
        fn(doc["model"])
        with open(path, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)

    def edit_json(self, path, fn):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        fn(doc)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)

    def run_ok(self, ckpt):
        out = os.path.join(self.tmp, "fresh", "out")
        proc = run_export(BIN, ckpt, out, "--json", "--no-fsync")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def refused(self, ckpt, *needles, code="INVALID_ARGUMENT", options=(), staged=False):
        """Runs the export and checks the failure contract; returns the error line.
        `staged`: the failure comes after files were staged, so the parent
        exists, holding only the (empty) destination lock file."""
        parent = os.path.join(self.tmp, "fresh")
        out = os.path.join(parent, "out")
        proc = run_export(BIN, ckpt, out, "--json", "--no-fsync", *options)
        self.last_proc = proc
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"expected one error line, got: {proc.stderr!r}")
        line = lines[0]
        self.assertTrue(line.startswith("error: "), line)
        for needle in needles:
            self.assertIn(needle, line)
        results = [json.loads(l) for l in proc.stdout.splitlines() if '"result"' in l]
        self.assertEqual(len(results), 1, proc.stdout)
        self.assertFalse(results[0]["ok"])
        self.assertEqual(results[0]["code"], code, line)
        self.assertEqual("error: " + results[0]["error"], line)
        self.assertFalse(os.path.exists(out), "destination exists after a refused export")
        if staged:
            self.assertEqual(os.listdir(parent), [".out.lock"])
        else:
            self.assertFalse(os.path.exists(parent),
                             "refused export created the destination's parent")
        self.assertEqual(staging_leftovers(out), [])
        self.assertFalse([n for n in os.listdir(self.tmp) if ".partial-" in n])
        return line

    # --------------------------------------------------------- the folder --

    def test_control_good_copy_exports(self):
        self.run_ok(self.checkpoint())

    def test_checkpoint_dir_missing(self):
        self.refused(os.path.join(self.tmp, "nope"), "nope", "not found", code="NOT_FOUND")

    def test_checkpoint_path_is_a_file(self):
        path = os.path.join(self.tmp, "file")
        with open(path, "w") as f:
            f.write("x")
        self.refused(path, path, "not a directory")

    def test_missing_config_yaml(self):
        ckpt = self.checkpoint()
        os.remove(os.path.join(ckpt, "config.yaml"))
        self.refused(ckpt, os.path.join(os.path.realpath(ckpt), "config.yaml"), "not found",
                     code="NOT_FOUND")

    def test_missing_weights(self):
        ckpt = self.checkpoint()
        os.remove(os.path.join(ckpt, "state_dict.pt"))
        self.refused(ckpt, "no weights found", "model.safetensors", "state_dict.pt", code="NOT_FOUND")

    def test_empty_weights(self):
        ckpt = self.checkpoint()
        open(os.path.join(ckpt, "state_dict.pt"), "w").close()
        self.refused(ckpt, "state_dict.pt")

    def test_garbage_weights(self):
        ckpt = self.checkpoint()
        with open(os.path.join(ckpt, "state_dict.pt"), "wb") as f:
            f.write(random.Random(1234).randbytes(4096))
        self.refused(ckpt, "state_dict.pt")

    def test_garbage_safetensors(self):
        ckpt = self.checkpoint("safetensors")
        with open(os.path.join(ckpt, "model.safetensors"), "wb") as f:
            f.write((10 ** 6).to_bytes(8, "little") + b"{not json")
        self.refused(ckpt, "model.safetensors")

    def test_deepspeed_layout_refused(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        os.remove(os.path.join(ckpt, "state_dict.pt"))
        torch.save({"module": sd}, os.path.join(ckpt, "mp_rank_00_model_states.pt"))
        self.refused(ckpt, "DeepSpeed", "zero_to_fp32", code="FAILED_PRECONDITION")

    def test_nested_deepspeed_layout_refused(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        os.remove(os.path.join(ckpt, "state_dict.pt"))
        os.makedirs(os.path.join(ckpt, "pytorch_model"))
        torch.save({"module": sd}, os.path.join(ckpt, "pytorch_model", "mp_rank_00_model_states.pt"))
        with open(os.path.join(ckpt, "latest"), "w") as f:
            f.write("pytorch_model\n")
        self.refused(ckpt, "DeepSpeed", code="FAILED_PRECONDITION")

    # -------------------------------------------------------- config.yaml --

    def test_every_required_field_missing_is_listed(self):
        ckpt = self.checkpoint()
        self.edit_yaml(ckpt, lambda m: [m.pop(k) for k in REQUIRED_FIELDS])
        line = self.refused(ckpt, "config.yaml", "missing required fields")
        listed = line.split("missing required fields:", 1)[1]
        self.assertEqual([s.strip() for s in listed.split(",")], REQUIRED_FIELDS)

    def test_each_required_field_missing(self):
        for field in REQUIRED_FIELDS:
            with self.subTest(field=field):
                ckpt = self.checkpoint()
                self.edit_yaml(ckpt, lambda m: m.pop(field))
                line = self.refused(ckpt, "config.yaml", "missing required fields")
                self.assertEqual(line.split("missing required fields:", 1)[1].strip(), field)
                shutil.rmtree(ckpt)

    def test_missing_model_section(self):
        ckpt = self.checkpoint()
        path = os.path.join(ckpt, "config.yaml")
        with open(path) as f:
            doc = yaml.safe_load(f)
        del doc["model"]
        with open(path, "w") as f:
            yaml.safe_dump(doc, f)
        self.refused(ckpt, "config.yaml", "'model' section")

    def test_hidden_act_relu(self):
        ckpt = self.checkpoint()
        self.edit_yaml(ckpt, lambda m: m.update(hidden_act="relu"))
        self.refused(ckpt, "config.yaml", "model.hidden_act", "relu")

    def test_ngpt_true(self):
        ckpt = self.checkpoint()
        self.edit_yaml(ckpt, lambda m: m.update(ngpt=True))
        self.refused(ckpt, "config.yaml", "model.ngpt")

    def test_hidden_size_not_divisible_by_heads(self):
        ckpt = self.checkpoint()
        self.edit_yaml(ckpt, lambda m: m.update(num_attention_heads=5))
        self.refused(ckpt, "config.yaml", "model.hidden_size 32", "num_attention_heads 5")

    def test_odd_head_dim_with_rope(self):
        ckpt = self.checkpoint()
        self.edit_yaml(ckpt, lambda m: m.update(num_attention_heads=32))  # d = 1
        self.refused(ckpt, "config.yaml", "head dim", "= 1", "rope")

    def test_odd_head_dim_without_rope_is_fine_for_the_config(self):
        # Same geometry with learned positions passes the config checks (the
        # tensors of learned_positions have no head-dim dependence).
        ckpt = self.checkpoint("learned_positions")
        self.edit_yaml(ckpt, lambda m: m.update(num_attention_heads=32))
        self.run_ok(ckpt)

    # ------------------------------------------------ tokenizer_info.json --

    def test_tokenizer_info_pad_id_mismatch_is_an_error(self):
        ckpt = self.checkpoint()
        self.edit_json(os.path.join(ckpt, "tokenizer_info.json"), lambda d: d.update(pad_token_id=5))
        self.refused(ckpt, "tokenizer_info.json", "pad_token_id 5", "model.pad_token_id 0")

    def test_tokenizer_info_vocab_mismatch_is_a_warning(self):
        ckpt = self.checkpoint()
        self.edit_json(os.path.join(ckpt, "tokenizer_info.json"), lambda d: d.update(vocab_size=600))
        proc = self.run_ok(ckpt)
        warnings = [json.loads(l)["message"] for l in proc.stdout.splitlines() if '"warning"' in l]
        self.assertTrue(any("tokenizer_info.json" in w and "vocab_size 600" in w for w in warnings), warnings)
        result = [json.loads(l) for l in proc.stdout.splitlines() if '"result"' in l][0]
        self.assertTrue(any("vocab_size 600" in w for w in result["warnings"]))

    # ------------------------------------------------------------ tensors --

    def test_embedding_rows_differ_from_vocab_size(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["model.encoder.weight"] = sd["model.encoder.weight"][:-1].clone()
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "model.encoder.weight", "[639, 32]", "[640, 32]")

    def test_missing_layer_tensor(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        del sd[LAYER + "wo.weight"]
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "missing: " + LAYER + "wo.weight")

    def test_missing_decoder(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        del sd["decoder.weight"]
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "missing: decoder.weight")

    def test_wrong_shaped_qkv(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd[LAYER + "qkv.weight"] = sd[LAYER + "qkv.weight"][:90].clone()
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", LAYER + "qkv.weight", "[90, 32]", "[96, 32]")

    def test_wrong_shaped_decoder_bias(self):
        ckpt = self.checkpoint("decoder_bias")
        sd = self.load_sd(ckpt)
        sd["decoder.bias"] = sd["decoder.bias"][:10].clone()
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "decoder.bias", "[10]", "[640]")

    def test_wrong_shaped_packed_w12(self):
        ckpt = self.checkpoint("packed_w12")
        sd = self.load_sd(ckpt)
        key = "model.transformer_encoder.0.ffn.w12.weight"
        sd[key] = sd[key][:80].clone()
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", key, "[80, 32]", "[96, 32]")

    def test_unexpected_extra_tensor(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["model.transformer_encoder.2.wo.weight"] = sd[LAYER + "wo.weight"].clone()  # a layer beyond L
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "unexpected: model.transformer_encoder.2.wo.weight")

    def test_non_floating_tensor(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["model.layer_norm.weight"] = torch.ones(32, dtype=torch.int64)
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "not floating point", "model.layer_norm.weight")

    def test_mixed_dtypes_need_a_target_dtype(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["model.layer_norm.weight"] = sd["model.layer_norm.weight"].to(torch.bfloat16)
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "mixed dtypes", "model.layer_norm.weight", "--dtype")
        out = os.path.join(self.tmp, "cast")
        proc = run_export(BIN, ckpt, out, "--no-fsync", "--dtype", "float32")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_nan_in_a_weight(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        w = sd[LAYER + "ffn.w3.weight"].clone()
        w[3, 7] = float("nan")
        sd[LAYER + "ffn.w3.weight"] = w
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", LAYER + "ffn.w3.weight", "NaN/Inf", "1 NaN/Inf value ")

    def test_inf_in_a_bf16_weight(self):
        ckpt = self.checkpoint("bf16")
        sd = self.load_sd(ckpt)
        w = sd["model.layer_norm.weight"].clone()
        w[0] = float("-inf")
        sd["model.layer_norm.weight"] = w
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "model.layer_norm.weight", "NaN/Inf")

    def overflowing_final_norm(self, variant):
        """Finite weights whose forward pass is not: a final-norm weight near
        the dtype's largest value turns RMS-normalised values above ~1.2 into
        Inf. The NaN/Inf scan passes; only the sanity forward pass can see it."""
        ckpt = self.checkpoint(variant)
        sd = self.load_sd(ckpt)
        w = sd["model.layer_norm.weight"]
        sd["model.layer_norm.weight"] = torch.full_like(w, 3.0e38)
        self.save_sd(ckpt, sd)
        return ckpt

    def assert_failed_after_staging(self):
        """The failure came after the files were staged (the pass runs beside
        the writes and is awaited before publishing), and `refused` already
        checked that neither the destination nor a staging dir is left."""
        stages = [json.loads(l).get("stage") for l in self.last_proc.stdout.splitlines()
                  if '"event":"stage"' in l]
        self.assertIn("write", stages, self.last_proc.stdout)
        self.assertIn("commit", stages, self.last_proc.stdout)

    def test_sanity_pass_failure_after_staging_leaves_nothing(self):
        ckpt = self.overflowing_final_norm(GOOD)
        self.refused(ckpt, "sanity forward", "last_hidden_state", "inf", code="INTERNAL",
                     staged=True)
        self.assert_failed_after_staging()
        # Without the pass the same checkpoint exports: only the pass caught it.
        proc = run_export(BIN, ckpt, os.path.join(self.tmp, "unchecked"), "--no-fsync",
                          "--no-sanity")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_sanity_pass_in_bf16_failure_leaves_nothing(self):
        # bfloat16 weights: the pass computes in bfloat16 (sanity_pass.h).
        ckpt = self.overflowing_final_norm("bf16")
        self.refused(ckpt, "sanity forward", "last_hidden_state", "inf", code="INTERNAL",
                     staged=True)
        self.assert_failed_after_staging()

    def test_corrupt_storage_record_fails_its_crc(self):
        # One flipped bit in a weight's storage record (a low mantissa bit, so
        # the value stays finite), its recorded CRC-32 left alone: the scan
        # must refuse it, since the .bin writer reuses that CRC unread.
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        name = LAYER + "ffn.w3.weight"
        sd[name] = sd[name].clone()  # a storage of its own
        self.save_sd(ckpt, sd)
        path = os.path.join(ckpt, "state_dict.pt")
        want = sd[name].contiguous().numpy().tobytes()
        with zipfile.ZipFile(path) as z:
            records = [i for i in z.infolist() if "/data/" in i.filename and z.read(i) == want]
        self.assertEqual(len(records), 1)
        info = records[0]
        with open(path, "r+b") as f:
            f.seek(info.header_offset + 26)
            n, m = (int.from_bytes(f.read(2), "little") for _ in range(2))
            pos = info.header_offset + 30 + n + m + 4 * 5  # low byte of element 5
            f.seek(pos)
            b = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([b ^ 0x01]))
        self.refused(ckpt, "state_dict.pt", f"storage record '{info.filename}'",
                     "fails its CRC-32 check (recorded 0x", "the checkpoint file is corrupt")

    def test_prefix_collision(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["module.model.layer_norm.weight"] = sd["model.layer_norm.weight"].clone()
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "'model.layer_norm.weight'", "'module.model.layer_norm.weight'",
                     "both map to")

    def test_duplicate_decoder_alias_with_other_values(self):
        ckpt = self.checkpoint()
        sd = self.load_sd(ckpt)
        sd["model.decoder.weight"] = sd["decoder.weight"].clone() * 2
        self.save_sd(ckpt, sd)
        self.refused(ckpt, "state_dict.pt", "'decoder.weight'", "'model.decoder.weight'", "both map to")

    # ----------------------------------------------------------- tokenizer --

    def test_missing_tokenizer_dir(self):
        ckpt = self.checkpoint()
        shutil.rmtree(os.path.join(ckpt, "tokenizer"))
        self.refused(ckpt, os.path.join(os.path.realpath(ckpt), "tokenizer"), code="NOT_FOUND")

    def test_no_special_tokens_found(self):
        ckpt = self.checkpoint()
        tok = os.path.join(ckpt, "tokenizer")
        os.remove(os.path.join(tok, "special_tokens_map.json"))
        roles = ["cls_token", "sep_token", "pad_token", "mask_token", "unk_token"]
        self.edit_json(os.path.join(tok, "tokenizer_config.json"),
                       lambda d: [d.pop(k, None) for k in roles + ["bos_token", "eos_token"]])
        line = self.refused(ckpt, "tokenizer", "tokenizer_config.json", "not found")
        for role in roles:
            self.assertIn(role, line)

    def test_one_special_token_missing(self):
        ckpt = self.checkpoint("tokenizer_v5")  # transformers-5 layout: tokenizer_config.json only
        self.edit_json(os.path.join(ckpt, "tokenizer", "tokenizer_config.json"), lambda d: d.pop("mask_token"))
        line = self.refused(ckpt, "tokenizer_config.json", "mask_token")
        self.assertNotIn("cls_token", line)

    def test_neither_special_tokens_map_nor_tokenizer_config(self):
        ckpt = self.checkpoint()
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            os.remove(os.path.join(ckpt, "tokenizer", name))
        self.refused(ckpt, "special_tokens_map.json", "tokenizer_config.json", code="NOT_FOUND")

    def test_missing_tokenizer_json(self):
        ckpt = self.checkpoint()
        os.remove(os.path.join(ckpt, "tokenizer", "tokenizer.json"))
        self.refused(ckpt, "tokenizer.json", code="NOT_FOUND")

    def test_tokenizer_larger_than_vocab_size(self):
        ckpt = self.checkpoint()
        self.edit_json(os.path.join(ckpt, "tokenizer", "tokenizer.json"),
                       lambda d: d["added_tokens"].append({
                           "id": 640, "content": "<|one_too_many|>", "single_word": False, "lstrip": False,
                           "rstrip": False, "normalized": True, "special": False}))
        self.refused(ckpt, "tokenizer.json", "641 tokens", "model.vocab_size 640")

    def test_tokenizer_ids_with_a_hole(self):
        ckpt = self.checkpoint("unpadded_tokenizer")  # 600 tokens, V = 640
        self.edit_json(os.path.join(ckpt, "tokenizer", "tokenizer.json"),
                       lambda d: d["added_tokens"].append({
                           "id": 620, "content": "<|gap|>", "single_word": False, "lstrip": False,
                           "rstrip": False, "normalized": True, "special": False}))
        self.refused(ckpt, "tokenizer.json", "not contiguous")


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
