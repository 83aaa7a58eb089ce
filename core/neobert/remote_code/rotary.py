# Rotary position embedding helpers for the exported NeoBERT remote code.
#
# Shipped next to the modeling file in every export and imported from it with a
# plain static relative import (`from .rotary import ...`), which is the only
# import form the Hugging Face remote-code loader follows.
#
# Convention (reference §7.4): theta = 10000, frequencies and angles in float32,
# and the pairs that rotate together are ADJACENT components (2j, 2j + 1) of a
# head vector, i.e. x[2j] + i*x[2j+1] is multiplied by exp(i * angle[pos, j]).
# The "rotate half" layout used by many other models is a different model.

import torch

ROPE_THETA = 10000.0


def precompute_freqs_cis(dim, end, theta=ROPE_THETA, device=None):
    """Unit complex rotations for positions [0, end): complex64 tensor (end, dim // 2).

    inv_freq[j] = 1 / theta^(2j / dim) and angle[p, j] = p * inv_freq[j], both in
    float32 so that every implementation of the format agrees to rounding.
    """
    if dim <= 0 or dim % 2 != 0:
        raise ValueError(f"rotary dimension must be a positive even number, got {dim}")
    if end < 0:
        raise ValueError(f"rotary cache length must be non-negative, got {end}")
    exponents = torch.arange(0, dim, 2, device=device, dtype=torch.float32)[: dim // 2] / dim
    inv_freq = 1.0 / (theta ** exponents)
    positions = torch.arange(end, device=device, dtype=torch.float32)
    angles = torch.outer(positions, inv_freq)
    return torch.polar(torch.ones_like(angles), angles)


def _broadcastable_freqs(freqs_cis, x):
    # x is (B, S, heads, dim/2) complex; freqs are (S, dim/2) shared by every row
    # or (B, S, dim/2) gathered per row from explicit position ids.
    if freqs_cis.dim() == 2:
        return freqs_cis.view(1, freqs_cis.shape[0], 1, freqs_cis.shape[1])
    if freqs_cis.dim() == 3:
        return freqs_cis.unsqueeze(2)
    raise ValueError(f"freqs_cis must be 2-D or 3-D, got shape {tuple(freqs_cis.shape)}")


def _rotate(x, freqs_cis):
    batch, seq, heads, dim = x.shape
    pairs = x.float().reshape(batch, seq, heads, dim // 2, 2).contiguous()
    rotated = torch.view_as_complex(pairs) * _broadcastable_freqs(freqs_cis, pairs)
    return torch.view_as_real(rotated).reshape(batch, seq, heads, dim).to(x.dtype)


def apply_rotary_emb(xq, xk, freqs_cis):
    """Rotate queries and keys of shape (B, S, heads, head_dim).

    The rotation runs in float32/complex64 whatever the activation dtype and the
    result is cast back to the input dtype. Values are never rotated.
    """
    if xq.shape[-1] % 2 != 0:
        raise ValueError(f"head dimension must be even for rotary embeddings, got {xq.shape[-1]}")
    return _rotate(xq, freqs_cis), _rotate(xk, freqs_cis)
