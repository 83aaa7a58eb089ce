#!/usr/bin/python3
"""Tests for the exported NeoBERT remote code (core/neobert/remote_code/).

Run with Debian's torch:  /usr/bin/python3 tests/python/test_remote_code.py
(exit status non-zero on failure).

The real transformers package is not available here, so `transformers` is the
clearly labelled stand-in in tests/python/transformers_stub/. model.py and
rotary.py are copied into a throw-away package so that the static relative
import `from .rotary import ...` is exercised the way the Hugging Face
remote-code loader uses it. Numerical truth comes from reference_forward.py,
an independent functional implementation of reference §7.
"""

import ast
import atexit
import contextlib
import importlib
import itertools
import math
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REMOTE_DIR = os.path.join(REPO, "core", "neobert", "remote_code")
sys.path.insert(0, os.path.join(HERE, "transformers_stub"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402

import reference_forward as ref  # noqa: E402

assert getattr(transformers, "IS_TEST_STUB", False), "expected the test stand-in transformers package"

_TEMP_DIRS = []


@atexit.register
def _remove_temp_dirs():
    for d in _TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def load_remote_package(package_name):
    """Copy model.py + rotary.py into a fresh package and import package.model."""
    root = tempfile.mkdtemp(prefix="neobert_remote_")
    _TEMP_DIRS.append(root)
    pkg = os.path.join(root, package_name)
    os.makedirs(pkg)
    for name in ("model.py", "rotary.py"):
        shutil.copy(os.path.join(REMOTE_DIR, name), os.path.join(pkg, name))
    open(os.path.join(pkg, "__init__.py"), "w").close()
    sys.path.insert(0, root)
    try:
        return importlib.import_module(f"{package_name}.model")
    finally:
        sys.path.remove(root)


M = load_remote_package("neobert_remote_pkg")
NATIVE_SDPA = getattr(F, "scaled_dot_product_attention", None)


class FakeSDPA:
    """Pure-torch SDPA with PyTorch's boolean convention (True = attend).

    Fully masked query rows come out as NaN (softmax over only -inf), the
    behaviour of some torch versions, so the model must zero them itself.
    """

    def __init__(self):
        self.calls = 0

    def __call__(self, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
        self.calls += 1
        scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            else:
                scores = scores + attn_mask.float()
        probs = torch.softmax(scores, dim=-1)
        if dropout_p > 0:
            probs = F.dropout(probs, p=dropout_p, training=True)
        return torch.matmul(probs.to(v.dtype), v)


@contextlib.contextmanager
def sdpa_impl(fn):
    saved = M._sdpa
    M._sdpa = fn
    try:
        yield fn
    finally:
        M._sdpa = saved


def sdpa_variants():
    """(label, implementation) pairs covering every attention branch available."""
    out = [("eager-only", None), ("fake-sdpa", FakeSDPA())]
    if NATIVE_SDPA is not None:
        out.append(("native-sdpa", NATIVE_SDPA))
    return out


# ---------------------------------------------------------------- fixtures ---

VARIANTS = list(itertools.product(("swiglu", "gelu"), (True, False), (True, False), (False, True)))


def small_config(act="swiglu", rope=True, rms=True, decoder_bias=False, **overrides):
    cfg = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 50,  # swiglu width: floor(100/3)=33 -> 40
        "vocab_size": 61,
        "max_length": 12,
        "max_position_embeddings": 12,
        "embedding_init_range": 0.02,
        "decoder_init_range": 0.02,
        "norm_eps": 1e-5,
        "rms_norm": rms,
        "rope": rope,
        "hidden_act": act,
        "dropout": 0.0,
        "flash_attention": False,
        "pad_token_id": 3,
        "decoder_bias": decoder_bias,
    }
    cfg.update(overrides)
    return cfg


def expected_lm_keys(cfg):
    """Key -> shape table of reference §4.2, written out independently of model.py."""
    H, L, V, P = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["max_length"]
    inter = cfg["intermediate_size"]
    width = {3072: 2048, 50: 40, 64: 48}[inter] if cfg["hidden_act"] == "swiglu" else inter
    keys = {"model.encoder.weight": (V, H), "model.layer_norm.weight": (H,), "decoder.weight": (V, H)}
    if not cfg["rope"]:
        keys["model.positional_embedding.weight"] = (P + 1, H)
    if not cfg["rms_norm"]:
        keys["model.layer_norm.bias"] = (H,)
    if cfg.get("decoder_bias"):
        keys["decoder.bias"] = (V,)
    for i in range(L):
        p = f"model.transformer_encoder.{i}."
        keys[p + "qkv.weight"] = (3 * H, H)
        keys[p + "wo.weight"] = (H, H)
        if cfg["hidden_act"] == "swiglu":
            keys[p + "ffn.w1.weight"] = (width, H)
            keys[p + "ffn.w2.weight"] = (width, H)
            keys[p + "ffn.w3.weight"] = (H, width)
        else:
            keys[p + "ffn.0.weight"] = (inter, H)
            keys[p + "ffn.2.weight"] = (H, inter)
        for norm in ("attention_norm", "ffn_norm"):
            keys[p + norm + ".weight"] = (H,)
            if not cfg["rms_norm"]:
                keys[p + norm + ".bias"] = (H,)
    return keys


def random_state_dict(cfg, seed=0):
    """Checkpoint-like weights scaled so activations stay O(1) (a weak test otherwise)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in expected_lm_keys(cfg).items():
        if key.endswith("norm.weight"):
            sd[key] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif key.endswith(".bias"):
            sd[key] = 0.1 * torch.randn(shape, generator=gen)
        elif key in ("model.encoder.weight", "model.positional_embedding.weight"):
            sd[key] = torch.randn(shape, generator=gen)
        elif key == "decoder.weight":
            continue
        else:
            sd[key] = torch.randn(shape, generator=gen) / math.sqrt(shape[1])
    sd["decoder.weight"] = sd["model.encoder.weight"].clone()
    return sd


def build(cls, cfg, sd):
    return cls.from_state_dict(M.NeoBERTConfig(**cfg), sd)


def padded_batch(cfg, seed=1, seq=9):
    """Row 0 full, row 1 right-padded, row 2 left-padded; int64 mask of ones/zeros."""
    gen = torch.Generator().manual_seed(seed)
    pad = cfg["pad_token_id"]
    ids = torch.randint(0, cfg["vocab_size"], (3, seq), generator=gen)
    ids[ids == pad] = (pad + 1) % cfg["vocab_size"]
    mask = torch.ones(3, seq, dtype=torch.int64)
    mask[1, 6:] = 0
    mask[2, :4] = 0
    ids[mask == 0] = pad
    return ids, mask


def max_abs(a, b):
    return (a.double() - b.double()).abs().max().item()


# ------------------------------------------------------------------ config ---


class ConfigTests(unittest.TestCase):
    def test_defaults_follow_reference(self):
        c = M.NeoBERTConfig()
        self.assertEqual(c.model_type, "neobert")
        expected = dict(hidden_size=768, num_hidden_layers=28, num_attention_heads=12, intermediate_size=3072,
                        embedding_init_range=0.02, decoder_init_range=0.02, norm_eps=1e-6, vocab_size=30522,
                        pad_token_id=0, max_length=1024, max_position_embeddings=1024, rms_norm=True, rope=True,
                        hidden_act="swiglu", dropout=0.0, flash_attention=False, tie_word_embeddings=True,
                        ngpt=False, decoder_bias=False, dim_head=64)
        for name, value in expected.items():
            self.assertEqual(getattr(c, name), value, name)
        self.assertAlmostEqual(c.base_scale, 1 / math.sqrt(960))

    def test_max_position_embeddings_mirrors_max_length(self):
        c = M.NeoBERTConfig(max_length=77, max_position_embeddings=5)
        self.assertEqual((c.max_length, c.max_position_embeddings), (77, 77))
        d = c.to_dict()
        self.assertEqual(d["max_position_embeddings"], 77)
        self.assertEqual(d["decoder_bias"], False)

    def test_round_trip_through_to_dict(self):
        c = M.NeoBERTConfig(**small_config(decoder_bias=True))
        c2 = M.NeoBERTConfig(**{k: v for k, v in c.to_dict().items() if k != "model_type"})
        for name in ("hidden_size", "max_length", "dim_head", "decoder_bias", "norm_eps", "pad_token_id"):
            self.assertEqual(getattr(c2, name), getattr(c, name))

    def test_rejects_bad_geometry_and_activation(self):
        with self.assertRaises(ValueError):
            M.NeoBERTConfig(hidden_size=30, num_attention_heads=4)
        with self.assertRaises(ValueError):
            M.NeoBERTConfig(hidden_size=36, num_attention_heads=4, rope=True)  # d = 9
        M.NeoBERTConfig(hidden_size=36, num_attention_heads=4, rope=False)  # odd d is fine without RoPE
        with self.assertRaises(ValueError):
            M.NeoBERTConfig(hidden_act="relu")
        with self.assertRaises(TypeError):
            M.NeoBERTConfig(hidden_size=31.5)
        self.assertEqual(M.NeoBERTConfig(hidden_act="GELU").hidden_act, "gelu")
        self.assertEqual(M.NeoBERTConfig(hidden_size=768.0).hidden_size, 768)

    def test_ngpt_is_refused_by_the_model(self):
        with self.assertRaises(ValueError):
            M.NeoBERT(M.NeoBERTConfig(**small_config(ngpt=True)))

    def test_swiglu_width_examples(self):
        for inter, width in ((3072, 2048), (4096, 2736), (1024, 688), (128, 88), (64, 48), (12, 8), (50, 40)):
            self.assertEqual(M.swiglu_width(inter), width, inter)
            self.assertEqual(ref.reduced_swiglu_width(inter), width, inter)


# ------------------------------------------------------------------ layout ---


class LayoutTests(unittest.TestCase):
    def test_state_dict_keys_and_shapes_every_variant(self):
        for act, rope, rms, bias in VARIANTS:
            cfg = small_config(act, rope, rms, bias)
            with self.subTest(act=act, rope=rope, rms=rms, decoder_bias=bias):
                expected = expected_lm_keys(cfg)
                lm = M.NeoBERTLMHead(M.NeoBERTConfig(**cfg))
                got = {k: tuple(v.shape) for k, v in lm.state_dict().items()}
                self.assertEqual(got, expected)
                base = M.NeoBERT(M.NeoBERTConfig(**cfg))
                got = {k: tuple(v.shape) for k, v in base.state_dict().items()}
                want = {k[len("model."):]: s for k, s in expected.items() if k.startswith("model.")}
                self.assertEqual(got, want)
                clf = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**cfg, num_labels=3))
                got = {k: tuple(v.shape) for k, v in clf.state_dict().items()}
                want = {k: s for k, s in expected.items() if k.startswith("model.")}
                want.update({"dense.weight": (32, 32), "dense.bias": (32,),
                             "classifier.weight": (3, 32), "classifier.bias": (3,)})
                self.assertEqual(got, want)

    def test_decoder_tied_to_embedding(self):
        lm = M.NeoBERTLMHead(M.NeoBERTConfig(**small_config()))
        self.assertIs(lm.get_output_embeddings(), lm.decoder)
        self.assertIs(lm.get_input_embeddings(), lm.model.encoder)
        self.assertIs(lm.decoder.weight, lm.model.encoder.weight)
        untied = M.NeoBERTLMHead(M.NeoBERTConfig(**small_config(), tie_word_embeddings=False))
        self.assertIsNot(untied.decoder.weight, untied.model.encoder.weight)

    def test_tied_weights_keys_follow_transformers_major_version(self):
        self.assertEqual(M.NeoBERTLMHead._tied_weights_keys, ["decoder.weight"])
        saved = transformers.__version__
        transformers.__version__ = "5.0.0"
        try:
            m5 = load_remote_package("neobert_remote_pkg_v5")
        finally:
            transformers.__version__ = saved
        self.assertEqual(m5.NeoBERTLMHead._tied_weights_keys, {"decoder.weight": "model.encoder.weight"})
        lm5 = m5.NeoBERTLMHead.from_state_dict(m5.NeoBERTConfig(**small_config()), random_state_dict(small_config()))
        self.assertIs(lm5.decoder.weight, lm5.model.encoder.weight)

    def test_class_attributes(self):
        self.assertEqual(M.NeoBERTPreTrainedModel.base_model_prefix, "model")
        self.assertIs(M.NeoBERTPreTrainedModel.config_class, M.NeoBERTConfig)
        self.assertTrue(M.NeoBERTPreTrainedModel._supports_sdpa)
        self.assertFalse(M.NeoBERTPreTrainedModel.supports_gradient_checkpointing)
        # decoder.* is unused by the encoder and classifier, but must be reported for the MLM head.
        self.assertFalse(getattr(M.NeoBERTLMHead, "_keys_to_ignore_on_load_unexpected", None))
        self.assertTrue(M.NeoBERT._keys_to_ignore_on_load_unexpected)

    def test_gelu_is_exact_erf_form(self):
        block = M.NeoBERT(M.NeoBERTConfig(**small_config("gelu"))).transformer_encoder[0]
        self.assertIsInstance(block.ffn[1], torch.nn.GELU)
        self.assertEqual(getattr(block.ffn[1], "approximate", "none"), "none")

    def test_imports_are_static_and_loader_friendly(self):
        allowed = {"math", "operator", "re", "typing", "torch", "transformers"}
        for fname, relative_ok in (("model.py", {"rotary"}), ("rotary.py", set())):
            with open(os.path.join(REMOTE_DIR, fname)) as fh:
                tree = ast.parse(fh.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        self.assertIn(alias.name.split(".")[0], allowed, f"{fname}: import {alias.name}")
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        self.assertEqual(node.level, 1, fname)
                        self.assertIn(node.module, relative_ok, f"{fname}: relative import {node.module}")
                    else:
                        self.assertIn(node.module.split(".")[0], allowed, f"{fname}: from {node.module}")
                elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                    name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                    self.assertNotIn(name, ("__import__", "import_module"), f"{fname}: dynamic import")


# ----------------------------------------------------------------- forward ---


class ForwardParityTests(unittest.TestCase):
    TOL = 1e-5

    def check_against_reference(self, model, cfg, sd, ids, mask, label, **kwargs):
        want = ref.neobert_forward(sd, cfg, ids, attention_mask=mask, **kwargs)
        with torch.no_grad():
            out = model(ids, attention_mask=mask, **kwargs)
        self.assertLessEqual(max_abs(out.logits, want["logits"]), self.TOL, label)
        self.assertTrue(torch.isfinite(out.logits).all(), label)
        return out, want

    def test_every_variant_matches_reference(self):
        for index, (act, rope, rms, bias) in enumerate(VARIANTS):
            cfg = small_config(act, rope, rms, bias)
            sd = random_state_dict(cfg, seed=100 + index)
            lm = build(M.NeoBERTLMHead, cfg, sd)
            base = build(M.NeoBERT, cfg, {k[6:]: v for k, v in sd.items() if k.startswith("model.")})
            ids, mask = padded_batch(cfg)
            for label, impl in sdpa_variants():
                for m in (mask, None):
                    tag = f"{act} rope={rope} rms={rms} bias={bias} {label} mask={m is not None}"
                    with self.subTest(tag), sdpa_impl(impl):
                        _, want = self.check_against_reference(lm, cfg, sd, ids, m, tag)
                        with torch.no_grad():
                            h = base(ids, attention_mask=m).last_hidden_state
                        self.assertLessEqual(max_abs(h, want["last_hidden_state"]), self.TOL, tag)
                        with torch.no_grad():
                            eager = lm(ids, attention_mask=m, output_attentions=True).logits
                        self.assertLessEqual(max_abs(eager, want["logits"]), self.TOL, tag + " eager")
            if bias:
                self.assertGreater(sd["decoder.bias"].abs().max().item(), 0.0)

    def test_decoder_bias_is_applied(self):
        cfg = small_config(decoder_bias=True)
        sd = random_state_dict(cfg)
        lm = build(M.NeoBERTLMHead, cfg, sd)
        ids, mask = padded_batch(cfg)
        with torch.no_grad():
            out = lm(ids, attention_mask=mask)
            h = lm.model(ids, attention_mask=mask).last_hidden_state
        self.assertTrue(torch.equal(lm.decoder.bias.detach(), sd["decoder.bias"]))
        self.assertLessEqual(max_abs(out.logits, h @ sd["decoder.weight"].T + sd["decoder.bias"]), 1e-5)

    def test_hidden_states_and_attentions(self):
        for rope in (True, False):
            cfg = small_config(rope=rope)
            sd = random_state_dict(cfg, seed=5)
            lm = build(M.NeoBERTLMHead, cfg, sd)
            ids, mask = padded_batch(cfg)
            want = ref.neobert_forward(sd, cfg, ids, attention_mask=mask)
            with torch.no_grad():
                out = lm.model(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
            hs = out.hidden_states
            self.assertIsInstance(hs, tuple)
            self.assertEqual(len(hs), cfg["num_hidden_layers"] + 1)
            self.assertTrue(torch.equal(hs[-1], out.last_hidden_state))
            for got, exp in zip(hs, want["hidden_states"]):
                self.assertLessEqual(max_abs(got, exp), 1e-5)
            self.assertIsInstance(out.attentions, tuple)
            self.assertEqual(len(out.attentions), cfg["num_hidden_layers"])
            for probs in out.attentions:
                self.assertEqual(tuple(probs.shape), (3, 4, 9, 9))
                self.assertTrue(torch.allclose(probs.sum(-1), torch.ones(3, 4, 9), atol=1e-6))
                masked_cols = (mask == 0)[:, None, None, :].expand_as(probs)
                self.assertEqual(probs[masked_cols].abs().max().item(), 0.0)

    def test_hidden_states_with_sdpa_path(self):
        cfg = small_config()
        lm = build(M.NeoBERTLMHead, cfg, random_state_dict(cfg))
        ids, mask = padded_batch(cfg)
        with sdpa_impl(FakeSDPA()) as fake, torch.no_grad():
            out = lm.model(ids, attention_mask=mask, output_hidden_states=True)
            self.assertEqual(fake.calls, cfg["num_hidden_layers"])
            self.assertIsNone(out.attentions)
            lm.model(ids, attention_mask=mask, output_attentions=True)
            self.assertEqual(fake.calls, cfg["num_hidden_layers"])  # eager when attentions are requested
            lm.config._attn_implementation_internal = "eager"
            try:
                lm.model(ids, attention_mask=mask)
            finally:
                del lm.config._attn_implementation_internal
            self.assertEqual(fake.calls, cfg["num_hidden_layers"])  # explicit eager request honoured
        self.assertEqual(len(out.hidden_states), 3)

    def test_default_path_without_native_sdpa_is_eager(self):
        if NATIVE_SDPA is None:
            self.assertIsNone(M._sdpa)
        else:
            self.assertIs(M._sdpa, NATIVE_SDPA)


# ------------------------------------------------------------------- masks ---


class MaskTests(unittest.TestCase):
    def setUp(self):
        self.cfg = small_config()
        self.sd = random_state_dict(self.cfg, seed=11)
        self.lm = build(M.NeoBERTLMHead, self.cfg, self.sd)
        self.ids, self.mask = padded_batch(self.cfg)

    def run_model(self, mask, **kw):
        with torch.no_grad():
            return self.lm.model(self.ids, attention_mask=mask, **kw).last_hidden_state

    def test_mask_kinds_are_equivalent(self):
        # Validator parity check (§9.1 item 5) on every attention branch.
        m = self.mask
        kinds = {
            "int": m,
            "int32": m.to(torch.int32),
            "bool": m != 0,
            "additive -inf": torch.zeros(m.shape).masked_fill(m == 0, float("-inf")),
            "additive finite": torch.zeros(m.shape).masked_fill(m == 0, -1e4),
            "float 1/0": m.float(),
            "float 1/-inf": torch.ones(m.shape).masked_fill(m == 0, float("-inf")),
        }
        for label, impl in sdpa_variants():
            with sdpa_impl(impl):
                base = self.run_model(m)
                eager = self.run_model(m, output_attentions=True)
                self.assertTrue(torch.allclose(base, eager, atol=2e-5, rtol=1e-5), label)
                for name, variant in kinds.items():
                    self.assertTrue(torch.allclose(self.run_model(variant), base, atol=1e-6, rtol=1e-5),
                                    f"{label}: {name}")
                ones = torch.ones_like(m)
                self.assertTrue(torch.allclose(self.run_model(None), self.run_model(ones), atol=1e-6, rtol=1e-5))
                # Padding changes the result, otherwise the comparisons above prove nothing.
                self.assertGreater(max_abs(self.run_model(None), base), 1e-3, label)

    def test_float_zero_mask_keeps_everything(self):
        for label, impl in sdpa_variants():
            with sdpa_impl(impl):
                zeros = torch.zeros(self.mask.shape)
                self.assertLessEqual(max_abs(self.run_model(zeros), self.run_model(None)), 1e-6, label)

    def test_integer_zero_mask_masks_everything(self):
        zeros = torch.zeros_like(self.mask)
        want = ref.neobert_forward(self.sd, self.cfg, self.ids, attention_mask=zeros)
        outs = []
        for label, impl in sdpa_variants():
            with sdpa_impl(impl):
                got = self.run_model(zeros)
                self.assertTrue(torch.isfinite(got).all(), label)
                self.assertLessEqual(max_abs(got, want["last_hidden_state"]), 1e-5, label)
                outs.append(got)
        with torch.no_grad():
            probs = self.lm.model(self.ids, attention_mask=zeros, output_attentions=True).attentions
        for p in probs:
            self.assertEqual(p.abs().max().item(), 0.0)
        # With no attention at all a token's output depends only on its own id
        # (not on its position or neighbours).
        ids = self.ids.clone()
        ids[1, 2] = ids[0, 0]
        with torch.no_grad():
            h = self.lm.model(ids, attention_mask=zeros).last_hidden_state
        self.assertLessEqual(max_abs(h[1, 2], h[0, 0]), 1e-6)

    def test_one_fully_masked_row_among_others(self):
        mask = self.mask.clone()
        mask[1] = 0
        want = ref.neobert_forward(self.sd, self.cfg, self.ids, attention_mask=mask)
        for label, impl in sdpa_variants():
            with sdpa_impl(impl):
                for kw in ({}, {"output_attentions": True}):
                    got = self.run_model(mask, **kw)
                    self.assertLessEqual(max_abs(got, want["last_hidden_state"]), 1e-5, f"{label} {kw}")

    def test_bad_masks_are_rejected(self):
        bad = self.mask.float()
        bad[0, 0] = float("nan")
        with self.assertRaises(ValueError):
            self.run_model(bad)
        with self.assertRaises(ValueError):
            self.run_model(self.mask[:, None, :])
        with self.assertRaises(ValueError):
            self.run_model(self.mask[:, None, None, :])
        with self.assertRaises(ValueError):
            self.run_model(self.mask[:, :5])
        with self.assertRaises(TypeError):
            self.run_model(self.mask.tolist())

    def test_empty_batch(self):
        ids = torch.zeros(0, 4, dtype=torch.long)
        with torch.no_grad():
            out = self.lm(ids, attention_mask=torch.zeros(0, 4))
        self.assertEqual(tuple(out.logits.shape), (0, 4, 61))


# ----------------------------------------------------- inputs and positions ---


class InputAndPositionTests(unittest.TestCase):
    def test_input_id_checks(self):
        cfg = small_config()
        lm = build(M.NeoBERTLMHead, cfg, random_state_dict(cfg))
        ids, mask = padded_batch(cfg)
        with self.assertRaises(ValueError):
            lm(ids[0])
        with self.assertRaises(TypeError):
            lm(ids.float())
        with torch.no_grad():
            a = lm(ids.to(torch.int32), attention_mask=mask).logits
            b = lm(ids, attention_mask=mask).logits
        self.assertTrue(torch.equal(a, b))
        with self.assertRaises(ValueError):
            lm(ids, position_ids=torch.zeros(3, 4, dtype=torch.long))
        with self.assertRaises(TypeError):
            lm(ids, position_ids=torch.zeros(ids.shape))
        negative = torch.arange(9).expand(3, 9).clone()
        negative[0, 0] = -1
        with self.assertRaises(ValueError):
            lm(ids, position_ids=negative)

    def test_rope_explicit_positions_grow_cache(self):
        cfg = small_config()
        sd = random_state_dict(cfg, seed=3)
        lm = build(M.NeoBERTLMHead, cfg, sd)
        ids, mask = padded_batch(cfg)
        with torch.no_grad():
            lm(ids, attention_mask=mask)
        self.assertEqual(lm.model._freqs_cis.shape, (12, 4))  # max(S, max_length)
        pos = torch.arange(9).expand(3, 9) + torch.tensor([[0], [10], [25]])  # up to 33 > max_length
        want = ref.neobert_forward(sd, cfg, ids, attention_mask=mask, position_ids=pos)
        with torch.no_grad():
            got = lm(ids, attention_mask=mask, position_ids=pos)
        self.assertEqual(lm.model._freqs_cis.shape[0], 34)
        self.assertLessEqual(max_abs(got.logits, want["logits"]), 1e-5)
        # Explicit 0..S-1 equals the default positions.
        with torch.no_grad():
            explicit = lm(ids, attention_mask=mask, position_ids=torch.arange(9).expand(3, 9)).logits
            default = lm(ids, attention_mask=mask).logits
        self.assertLessEqual(max_abs(explicit, default), 1e-6)

    def test_rope_sequence_longer_than_max_length(self):
        cfg = small_config()
        sd = random_state_dict(cfg, seed=4)
        lm = build(M.NeoBERTLMHead, cfg, sd)
        ids = torch.randint(4, 61, (2, 20))
        with torch.no_grad():
            got = lm(ids).logits
        self.assertEqual(lm.model._freqs_cis.shape[0], 20)
        self.assertLessEqual(max_abs(got, ref.neobert_forward(sd, cfg, ids)["logits"]), 1e-5)

    def test_learned_positions(self):
        cfg = small_config(rope=False)
        sd = random_state_dict(cfg, seed=6)
        lm = build(M.NeoBERTLMHead, cfg, sd)
        ids, mask = padded_batch(cfg)
        # Default positions: cumsum over non-pad tokens, 0 at pads (row 2 is left-padded).
        with torch.no_grad():
            hs = lm.model(ids, attention_mask=mask, output_hidden_states=True).hidden_states
        real = (ids != cfg["pad_token_id"]).long()
        pos = torch.cumsum(real, 1) * real
        self.assertEqual(pos[2, :4].tolist(), [0, 0, 0, 0])
        self.assertEqual(pos[2, 4].item(), 1)
        emb = sd["model.encoder.weight"][ids] + sd["model.positional_embedding.weight"][pos]
        self.assertLessEqual(max_abs(hs[0], emb), 1e-6)
        # Explicit positions are used as-is (no +1 shift) and may reach max_length.
        explicit = torch.arange(9).expand(3, 9) + 3  # 3..11
        want = ref.neobert_forward(sd, cfg, ids, attention_mask=mask, position_ids=explicit)
        with torch.no_grad():
            got = lm(ids, attention_mask=mask, position_ids=explicit).logits
        self.assertLessEqual(max_abs(got, want["logits"]), 1e-5)
        with torch.no_grad():
            lm(ids, position_ids=torch.full(ids.shape, 12))  # == max_length: the last row exists
        with self.assertRaises(ValueError):
            lm(ids, position_ids=torch.full(ids.shape, 13))
        with self.assertRaises(ValueError):
            lm(torch.randint(4, 61, (1, 13)))  # default positions run past max_length

    def test_learned_positions_without_pad_id(self):
        cfg = small_config(rope=False, pad_token_id=None)
        sd = random_state_dict(cfg, seed=7)
        lm = build(M.NeoBERTLMHead, cfg, sd)
        ids = torch.tensor([[0, 5, 7, 0], [9, 9, 0, 0]])
        want = ref.neobert_forward(sd, cfg, ids)
        with torch.no_grad():
            got = lm(ids).logits
        self.assertLessEqual(max_abs(got, want["logits"]), 1e-5)
        self.assertIsNone(lm.model.encoder.padding_idx)


# ------------------------------------------------------------------- heads ---


class HeadTests(unittest.TestCase):
    def setUp(self):
        self.cfg = small_config()
        self.sd = random_state_dict(self.cfg, seed=21)
        self.ids, self.mask = padded_batch(self.cfg)

    def test_return_dict_false_gives_tuples(self):
        base = build(M.NeoBERT, self.cfg, {k[6:]: v for k, v in self.sd.items() if k.startswith("model.")})
        lm = build(M.NeoBERTLMHead, self.cfg, self.sd)
        with torch.no_grad():
            t = base(self.ids, attention_mask=self.mask, return_dict=False)
            self.assertIsInstance(t, tuple)
            self.assertEqual(len(t), 1)
            t = base(self.ids, attention_mask=self.mask, return_dict=False,
                     output_hidden_states=True, output_attentions=True)
            self.assertEqual(len(t), 3)
            self.assertEqual(len(t[1]), 3)
            self.assertEqual(len(t[2]), 2)
            d = base(self.ids, attention_mask=self.mask)
            self.assertTrue(torch.equal(d[0], t[0]))
            self.assertTrue(torch.equal(d["last_hidden_state"], t[0]))
            labels = torch.full(self.ids.shape, -100)
            labels[:, 1] = 5
            t = lm(self.ids, attention_mask=self.mask, labels=labels, return_dict=False, output_attentions=True)
            self.assertEqual(len(t), 3)
            self.assertEqual(t[0].dim(), 0)
            self.assertEqual(tuple(t[1].shape), (3, 9, 61))
            self.assertEqual(len(lm(self.ids, return_dict=False)), 1)
        cfg_tuple = M.NeoBERTConfig(**self.cfg, return_dict=False)
        lm2 = M.NeoBERTLMHead.from_state_dict(cfg_tuple, self.sd)
        with torch.no_grad():
            self.assertIsInstance(lm2(self.ids), tuple)
            self.assertIsInstance(lm2.model(self.ids), tuple)
            self.assertNotIsInstance(lm2(self.ids, return_dict=True), tuple)

    def test_mlm_loss(self):
        lm = build(M.NeoBERTLMHead, self.cfg, self.sd)
        labels = torch.randint(0, 61, self.ids.shape)
        labels[self.mask == 0] = -100
        labels[0, :3] = -100
        with torch.no_grad():
            out = lm(self.ids, attention_mask=self.mask, labels=labels)
        want = F.cross_entropy(out.logits.reshape(-1, 61), labels.reshape(-1), ignore_index=-100)
        self.assertLessEqual(abs(out.loss.item() - want.item()), 1e-6)
        self.assertIsNone(lm(self.ids).loss)

    def test_extra_kwargs_are_accepted(self):
        tt = torch.zeros_like(self.ids)
        lm = build(M.NeoBERTLMHead, self.cfg, self.sd)
        clf = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**self.cfg, num_labels=3))
        clf.eval()
        with torch.no_grad():
            lm(self.ids, attention_mask=self.mask, token_type_ids=tt)
            lm.model(self.ids, attention_mask=self.mask, token_type_ids=tt)
            out = clf(input_ids=self.ids, attention_mask=self.mask, token_type_ids=tt)
        self.assertEqual(tuple(out.logits.shape), (3, 3))

    def test_sequence_classification_math_and_losses(self):
        clf = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**self.cfg, num_labels=3))
        clf.model.load_state_dict({k[6:]: v for k, v in self.sd.items() if k.startswith("model.")})
        clf.eval()
        with torch.no_grad():
            out = clf(self.ids, attention_mask=self.mask)
            h = clf.model(self.ids, attention_mask=self.mask).last_hidden_state[:, 0]
            want = clf.classifier(torch.tanh(clf.dense(h)))
        self.assertLessEqual(max_abs(out.logits, want), 1e-6)
        self.assertEqual(clf.classifier_dropout, 0.1)

        labels = torch.tensor([0, 2, 1])
        out = clf(self.ids, attention_mask=self.mask, labels=labels)
        self.assertEqual(clf.config.problem_type, "single_label_classification")
        self.assertAlmostEqual(out.loss.item(), F.cross_entropy(out.logits, labels).item(), places=5)
        t = clf(self.ids, attention_mask=self.mask, labels=labels, return_dict=False)
        self.assertEqual(len(t), 2)

        multi = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**self.cfg, num_labels=3)).eval()
        y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
        out = multi(self.ids, labels=y)
        self.assertEqual(multi.config.problem_type, "multi_label_classification")
        self.assertAlmostEqual(out.loss.item(), F.binary_cross_entropy_with_logits(out.logits, y).item(), places=5)

        reg = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**self.cfg, num_labels=1)).eval()
        y = torch.tensor([0.5, -1.0, 2.0])
        out = reg(self.ids, labels=y)
        self.assertEqual(reg.config.problem_type, "regression")
        self.assertAlmostEqual(out.loss.item(), F.mse_loss(out.logits.squeeze(), y).item(), places=5)

    def test_weight_init(self):
        cfg = dict(self.cfg, decoder_init_range=0.05, embedding_init_range=0.01)
        lm = M.NeoBERTLMHead(M.NeoBERTConfig(**cfg))
        qkv = lm.model.transformer_encoder[0].qkv.weight
        self.assertLessEqual(qkv.abs().max().item(), 0.05)
        self.assertGreater(qkv.abs().max().item(), 0.04)  # uniform over the full range, not a tiny normal
        self.assertLessEqual(lm.model.encoder.weight.abs().max().item(), 0.01)
        clf = M.NeoBERTForSequenceClassification(M.NeoBERTConfig(**self.cfg, classifier_init_range=0.3))
        w = clf.dense.weight
        self.assertAlmostEqual(w.std().item(), 0.3, delta=0.03)
        self.assertEqual(clf.dense.bias.abs().max().item(), 0.0)
        self.assertEqual(clf.classifier.bias.abs().max().item(), 0.0)

    def test_backward_reaches_every_parameter(self):
        for label, impl in sdpa_variants():
            for cfg in (small_config(), small_config("gelu", rope=False, rms=False, decoder_bias=True)):
                lm = build(M.NeoBERTLMHead, cfg, random_state_dict(cfg, seed=31))
                lm.train()
                labels = torch.randint(0, cfg["vocab_size"], self.ids.shape)
                labels[self.mask == 0] = -100
                with sdpa_impl(impl):
                    lm(self.ids, attention_mask=self.mask, labels=labels).loss.backward()
                for name, param in lm.named_parameters():
                    if name == "model.positional_embedding.weight":
                        continue  # only the rows actually used receive gradient
                    self.assertIsNotNone(param.grad, f"{label} {name}")
                    self.assertTrue(torch.isfinite(param.grad).all(), f"{label} {name}")
                    self.assertGreater(param.grad.abs().max().item(), 0.0, f"{label} {name}")

    def test_dropout_only_in_training(self):
        cfg = small_config(dropout=0.5)
        lm = build(M.NeoBERTLMHead, cfg, self.sd)
        ref_lm = build(M.NeoBERTLMHead, self.cfg, self.sd)
        for label, impl in sdpa_variants():
            with sdpa_impl(impl), torch.no_grad():
                lm.eval()
                self.assertTrue(torch.equal(lm(self.ids).logits, ref_lm(self.ids).logits), label)
                lm.train()
                torch.manual_seed(0)
                a = lm(self.ids).logits
                b = lm(self.ids).logits
                self.assertGreater(max_abs(a, b), 1e-3, label)
        lm.eval()


# --------------------------------------------------------- precision, rope ---


class PrecisionAndRotaryTests(unittest.TestCase):
    def test_bf16_runs(self):
        for act, rope, rms, bias in VARIANTS[::3]:
            cfg = small_config(act, rope, rms, bias)
            sd = random_state_dict(cfg, seed=8)
            lm = build(M.NeoBERTLMHead, cfg, sd).to(torch.bfloat16)
            ids, mask = padded_batch(cfg)
            want = ref.neobert_forward(sd, cfg, ids, attention_mask=mask)["last_hidden_state"]
            for label, impl in sdpa_variants():
                for kw in ({}, {"output_attentions": True}):
                    with self.subTest(f"{act} {rope} {rms} {bias} {label} {kw}"), sdpa_impl(impl), torch.no_grad():
                        out = lm(ids, attention_mask=mask, output_hidden_states=True, **kw)
                        self.assertEqual(out.logits.dtype, torch.bfloat16)
                        self.assertTrue(torch.isfinite(out.logits.float()).all())
                        h = out.hidden_states[-1].double()
                        rel = (h - want).norm() / want.norm()
                        self.assertLess(rel.item(), 0.05)

    def test_rmsnorm_fallback_math(self):
        norm = M.NeoBERTRMSNorm(8, 1e-5)
        with torch.no_grad():
            norm.weight.copy_(torch.linspace(0.5, 1.5, 8))
        x = torch.randn(3, 8, dtype=torch.float64).float() * 3
        want = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
        self.assertLessEqual(max_abs(norm(x), want), 1e-6)
        xb = x.to(torch.bfloat16)
        xf = xb.float()
        want_b = (xf / torch.sqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(torch.bfloat16) * norm.weight
        self.assertTrue(torch.equal(norm(xb), want_b))
        self.assertEqual([n for n, _ in norm.named_parameters()], ["weight"])
        if hasattr(torch.nn, "RMSNorm"):
            builtin = torch.nn.RMSNorm(8, eps=1e-5)
            with torch.no_grad():
                builtin.weight.copy_(norm.weight)
            self.assertLessEqual(max_abs(builtin(x), norm(x)), 1e-6)

    def test_rotary_adjacent_pairs(self):
        rotary = sys.modules["neobert_remote_pkg.rotary"]
        freqs = rotary.precompute_freqs_cis(8, 20)
        self.assertEqual(freqs.dtype, torch.complex64)
        self.assertEqual(tuple(freqs.shape), (20, 4))
        inv = 1.0 / (10000.0 ** (torch.arange(0, 8, 2).double() / 8))
        self.assertLessEqual(max_abs(torch.angle(freqs[3]), 3 * inv), 1e-6)
        # Unit vector on component 2 (pair 1) at position 5: rotates within (2, 3) only.
        x = torch.zeros(1, 6, 1, 8)
        x[0, 5, 0, 2] = 1.0
        q, k = rotary.apply_rotary_emb(x, x.clone(), freqs[:6])
        a = 5 * inv[1].item()
        want = torch.zeros(8)
        want[2], want[3] = math.cos(a), math.sin(a)
        self.assertLessEqual(max_abs(q[0, 5, 0], want), 1e-6)
        self.assertTrue(torch.equal(q, k))
        self.assertEqual(q[0, :5].abs().max().item(), 0.0)
        # Per-row (gathered) frequencies give the same rotation.
        q2, _ = rotary.apply_rotary_emb(x, x, freqs[torch.arange(6)].unsqueeze(0))
        self.assertTrue(torch.equal(q, q2))
        with self.assertRaises(ValueError):
            rotary.precompute_freqs_cis(7, 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
