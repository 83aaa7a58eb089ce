"""Independent functional NeoBERT forward pass written from reference §7.

Plain torch, no nn.Module and nothing shared with core/neobert/remote_code/:
it exists to check that modeling code (and later the C++ engine) against a
second, deliberately different implementation of the same math:

- the fused qkv weight is split explicitly into per-head W_q / W_k / W_v row
  blocks (head a owns rows a*3d .. a*3d+3d-1: q, then k, then v, §7.5);
- attention runs head by head with einsum and a -inf masked softmax whose
  fully masked rows are replaced by zeros (§7.5 step 5);
- RoPE uses explicit cos/sin tables on adjacent pairs (2j, 2j+1), with
  inverse frequencies and angles in float32 as the format prescribes (§7.4);
- everything else runs in `dtype` (float64 by default) so the result is a
  near-exact target for float32 implementations.

Entry point: neobert_forward(state_dict, config, input_ids, attention_mask=None,
position_ids=None, dtype=torch.float64) -> dict with last_hidden_state,
logits, hidden_states (L + 1 entries, last = final-normed output).
`state_dict` uses the checkpoint keys of §4.2 (`model.` prefix) or the bare
encoder keys (no prefix); `config` is a config.json-style dict.
"""

import math

import torch

_INTEGER_TYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def reduced_swiglu_width(intermediate_size):
    """floor(2I/3) rounded up to the next multiple of 8 (§4.1)."""
    r = int(2 * intermediate_size / 3)  # truncating the float, as the training code does
    return -(-r // 8) * 8


def keep_mask_from(attention_mask):
    """(B, S) bool, True = key may be attended; None means every key is kept (§7.2)."""
    if attention_mask is None:
        return None
    m = attention_mask
    if m.dim() != 2:
        raise ValueError("reference: attention_mask must be 2-D")
    if m.dtype is torch.bool:
        return m.clone()
    if m.numel() == 0:
        return m.to(torch.bool)
    if torch.is_floating_point(m):
        if torch.isnan(m).any().item():
            raise ValueError("reference: NaN in attention_mask")
        additive = m.min().item() < 0 or m.max().item() <= 0
        return (m >= 0) if additive else (m != 0)
    if m.dtype in _INTEGER_TYPES:
        return m != 0
    raise TypeError(f"reference: unsupported mask dtype {m.dtype}")


def _normalise(x, weight, bias, eps, rms):
    if rms:
        scale = 1.0 / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)
        return x * scale * weight
    mean = x.mean(dim=-1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=-1, keepdim=True)
    return centred / torch.sqrt(var + eps) * weight + bias


def _rope_cos_sin(positions, head_dim, dtype):
    """cos/sin tables (B, S, d/2) from float32 inverse frequencies and angles."""
    half = head_dim // 2
    j = torch.arange(half, dtype=torch.float32)
    exponent = (2.0 * j) / float(head_dim)
    inv_freq = 1.0 / torch.pow(torch.tensor(10000.0, dtype=torch.float32), exponent)
    angle = positions.to(torch.float32).unsqueeze(-1) * inv_freq  # float32 product
    angle = angle.to(torch.float64)
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


def _rotate_adjacent_pairs(x, cos, sin):
    """x: (B, S, d). Pair j = (x[2j], x[2j+1]) rotated by its angle."""
    even = x[..., 0::2]
    odd = x[..., 1::2]
    new_even = even * cos - odd * sin
    new_odd = even * sin + odd * cos
    out = torch.empty_like(x)
    out[..., 0::2] = new_even
    out[..., 1::2] = new_odd
    return out


def _gelu_exact(z):
    return 0.5 * z * (1.0 + torch.erf(z / math.sqrt(2.0)))


def _silu(z):
    return z * torch.sigmoid(z)


def neobert_forward(state_dict, config, input_ids, attention_mask=None, position_ids=None, dtype=torch.float64):
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    inter = int(config["intermediate_size"])
    max_len = int(config.get("max_length", config.get("max_position_embeddings")))
    eps = float(config["norm_eps"])
    rms = bool(config.get("rms_norm", True))
    rope = bool(config.get("rope", True))
    act = str(config.get("hidden_act", "swiglu")).lower()
    pad_id = config.get("pad_token_id", 0)
    d = hidden // heads
    if d * heads != hidden:
        raise ValueError("reference: hidden_size not divisible by heads")

    prefix = "model." if "model.encoder.weight" in state_dict else ""

    def t(name):
        return state_dict[prefix + name].detach().to(dtype)

    def opt(name):
        key = prefix + name
        return state_dict[key].detach().to(dtype) if key in state_dict else None

    ids = input_ids.to(torch.int64)
    batch, seq = ids.shape
    keep = keep_mask_from(attention_mask)

    x = t("encoder.weight")[ids]  # (B, S, H)
    if rope:
        rope_pos = position_ids.to(torch.int64) if position_ids is not None else (
            torch.arange(seq, dtype=torch.int64).unsqueeze(0).expand(batch, seq))
        cos, sin = _rope_cos_sin(rope_pos, d, dtype)
    else:
        if position_ids is None:
            real = torch.ones_like(ids) if pad_id is None else (ids != int(pad_id)).to(torch.int64)
            learned_pos = torch.cumsum(real, dim=1) * real
        else:
            learned_pos = position_ids.to(torch.int64)
        if learned_pos.numel() and learned_pos.max().item() > max_len:
            raise ValueError("reference: learned position beyond max_length")
        x = x + t("positional_embedding.weight")[learned_pos]

    hidden_states = [x]
    for layer in range(layers):
        p = f"transformer_encoder.{layer}."
        h = _normalise(x, t(p + "attention_norm.weight"), opt(p + "attention_norm.bias"), eps, rms)
        w_qkv = t(p + "qkv.weight")
        assert w_qkv.shape == (3 * hidden, hidden)
        per_head = []
        for a in range(heads):
            base = a * 3 * d
            w_q = w_qkv[base:base + d]
            w_k = w_qkv[base + d:base + 2 * d]
            w_v = w_qkv[base + 2 * d:base + 3 * d]
            q = torch.einsum("bsh,dh->bsd", h, w_q)
            k = torch.einsum("bsh,dh->bsd", h, w_k)
            v = torch.einsum("bsh,dh->bsd", h, w_v)
            if rope:
                q = _rotate_adjacent_pairs(q, cos, sin)
                k = _rotate_adjacent_pairs(k, cos, sin)
            scores = torch.einsum("bid,bjd->bij", q, k) / math.sqrt(d)
            if keep is not None:
                scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            if keep is not None:
                has_key = keep.any(dim=-1)[:, None, None]
                probs = torch.where(has_key, probs, torch.zeros_like(probs))
            per_head.append(torch.einsum("bij,bjd->bid", probs, v))
        attn = torch.cat(per_head, dim=-1)  # column a*d + c belongs to head a
        x = x + torch.einsum("bsh,oh->bso", attn, t(p + "wo.weight"))

        g = _normalise(x, t(p + "ffn_norm.weight"), opt(p + "ffn_norm.bias"), eps, rms)
        if act == "swiglu":
            width = reduced_swiglu_width(inter)
            w1, w2, w3 = t(p + "ffn.w1.weight"), t(p + "ffn.w2.weight"), t(p + "ffn.w3.weight")
            assert w1.shape == (width, hidden) and w2.shape == (width, hidden) and w3.shape == (hidden, width)
            gate = _silu(torch.einsum("bsh,ih->bsi", g, w1))
            up = torch.einsum("bsh,ih->bsi", g, w2)
            ffn = torch.einsum("bsi,hi->bsh", gate * up, w3)
        elif act == "gelu":
            w_in, w_out = t(p + "ffn.0.weight"), t(p + "ffn.2.weight")
            assert w_in.shape == (inter, hidden) and w_out.shape == (hidden, inter)
            ffn = torch.einsum("bsi,hi->bsh", _gelu_exact(torch.einsum("bsh,ih->bsi", g, w_in)), w_out)
        else:
            raise ValueError(f"reference: unknown activation {act}")
        x = x + ffn
        hidden_states.append(x)

    last = _normalise(x, t("layer_norm.weight"), opt("layer_norm.bias"), eps, rms)
    hidden_states[-1] = last

    dec_w = state_dict.get("decoder.weight")
    dec_w = t("encoder.weight") if dec_w is None else dec_w.detach().to(dtype)
    logits = torch.einsum("bsh,vh->bsv", last, dec_w)
    dec_b = state_dict.get("decoder.bias")
    if dec_b is not None:
        logits = logits + dec_b.detach().to(dtype)
    return {"last_hidden_state": last, "logits": logits, "hidden_states": hidden_states}
