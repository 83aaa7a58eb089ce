# NeoBERT modeling code shipped inside every export (Hugging Face remote code).
#
# Written from the format reference (§6 config, §7 forward math); parameter
# names reproduce the training checkpoint's state-dict keys (§4.2) so weights
# load without renaming:
#   model.encoder.weight                          (V, H) token embedding
#   model.positional_embedding.weight             (P+1, H), only when rope is false
#   model.transformer_encoder.{i}.qkv.weight      (3H, H) head-interleaved q|k|v
#   model.transformer_encoder.{i}.wo.weight       (H, H)
#   model.transformer_encoder.{i}.ffn.w1/w2/w3    swiglu (gate, up, down)
#   model.transformer_encoder.{i}.ffn.0/ffn.2     gelu (up, down)
#   model.transformer_encoder.{i}.attention_norm / ffn_norm, model.layer_norm
#   decoder.weight (+ decoder.bias when config.decoder_bias)
#
# Portability contract: works with transformers 4.40+ and 5.x, with torch >= 2.0
# (scaled_dot_product_attention) and with torch 1.13 (eager attention). The only
# non-library import is the static relative `from .rotary import ...`, because
# the remote-code loader copies sibling files only for that import form.

import math
import operator
import re

import torch
import torch.nn.functional as F
from torch import nn

import transformers
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput

try:  # transformers 5 names the base class PreTrainedConfig; 4.x only has PretrainedConfig.
    from transformers import PreTrainedConfig as _ConfigBase
except ImportError:
    from transformers import PretrainedConfig as _ConfigBase
from transformers import PreTrainedModel

from .rotary import apply_rotary_emb, precompute_freqs_cis


def _transformers_major_version():
    match = re.match(r"\s*(\d+)", str(getattr(transformers, "__version__", "4")))
    return int(match.group(1)) if match else 4


_TRANSFORMERS_MAJOR = _transformers_major_version()

# None on torch 1.13, which then always takes the eager path. A module global read
# at call time, so tests can substitute an implementation.
_sdpa = getattr(F, "scaled_dot_product_attention", None)

_SUPPORTED_ACTIVATIONS = ("swiglu", "gelu")
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def swiglu_width(intermediate_size):
    """Reduced SwiGLU width: r = floor(2I/3), rounded up to a multiple of 8 (§4.1)."""
    reduced = (2 * intermediate_size) // 3
    return 8 * ((reduced + 7) // 8)


class NeoBERTConfig(_ConfigBase):
    model_type = "neobert"

    def __init__(
        self,
        hidden_size=768,
        num_hidden_layers=28,
        num_attention_heads=12,
        intermediate_size=3072,
        embedding_init_range=0.02,
        decoder_init_range=0.02,
        norm_eps=1e-06,
        vocab_size=30522,
        pad_token_id=0,
        max_length=1024,
        rms_norm=True,
        rope=True,
        hidden_act="swiglu",
        dropout=0.0,
        flash_attention=False,
        tie_word_embeddings=True,
        ngpt=False,
        base_scale=1.0 / (960.0 ** 0.5),
        decoder_bias=False,
        **kwargs,
    ):
        # max_position_embeddings always mirrors max_length (§6, L9); a stale value in
        # config.json must not reach the base class as an independent attribute.
        kwargs.pop("max_position_embeddings", None)
        super().__init__(**kwargs)
        # Assigned after the base constructor: transformers 4 resets max_length (a
        # generation default) and transformers 5 no longer knows pad_token_id.
        self.hidden_size = _as_int("hidden_size", hidden_size)
        self.num_hidden_layers = _as_int("num_hidden_layers", num_hidden_layers)
        self.num_attention_heads = _as_int("num_attention_heads", num_attention_heads)
        self.intermediate_size = _as_int("intermediate_size", intermediate_size)
        self.vocab_size = _as_int("vocab_size", vocab_size)
        self.max_length = _as_int("max_length", max_length)
        self.max_position_embeddings = self.max_length
        self.pad_token_id = None if pad_token_id is None else _as_int("pad_token_id", pad_token_id)
        self.embedding_init_range = float(embedding_init_range)
        self.decoder_init_range = float(decoder_init_range)
        self.norm_eps = float(norm_eps)
        self.rms_norm = bool(rms_norm)
        self.rope = bool(rope)
        self.hidden_act = str(hidden_act).lower()
        self.dropout = float(dropout)
        self.flash_attention = bool(flash_attention)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.ngpt = bool(ngpt)
        self.base_scale = float(base_scale)
        self.decoder_bias = bool(decoder_bias)

        for name in ("hidden_size", "num_attention_heads", "intermediate_size", "vocab_size", "max_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"NeoBERTConfig: {name} must be positive, got {getattr(self, name)}")
        if self.num_hidden_layers < 0:
            raise ValueError(f"NeoBERTConfig: num_hidden_layers must be >= 0, got {self.num_hidden_layers}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"NeoBERTConfig: hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        self.dim_head = self.hidden_size // self.num_attention_heads
        if self.rope and self.dim_head % 2 != 0:
            raise ValueError(f"NeoBERTConfig: rotary embeddings need an even head dimension, got {self.dim_head}")
        if self.hidden_act not in _SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"NeoBERTConfig: unsupported hidden_act {hidden_act!r}; expected one of {_SUPPORTED_ACTIVATIONS}"
            )

    def _get_non_default_generation_parameters(self):
        # `max_length` here is the model's context size, not a generation setting;
        # without this transformers 4.41+ refuses to save_pretrained the config.
        return {}


def _as_int(name, value):
    # JSON may spell an integer as 768.0; bools and fractional values are refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"NeoBERTConfig: {name} must be an integer, got {value!r}")


class NeoBERTRMSNorm(nn.Module):
    """RMSNorm for torch versions without nn.RMSNorm; same math and parameter name.

    y = (x / sqrt(mean(x^2) + eps)) computed in float32, cast back to x's dtype,
    then multiplied by `weight` (§7.6).
    """

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return normed.to(x.dtype) * self.weight


_NORM_TYPES = (nn.LayerNorm, NeoBERTRMSNorm) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


def _make_norm(config):
    if not config.rms_norm:
        return nn.LayerNorm(config.hidden_size, eps=config.norm_eps)
    if hasattr(nn, "RMSNorm"):
        return nn.RMSNorm(config.hidden_size, eps=config.norm_eps)
    return NeoBERTRMSNorm(config.hidden_size, config.norm_eps)


class SwiGLU(nn.Module):
    """W3 (SiLU(W1 h) * W2 h) without biases; w1 = gate, w2 = up, w3 = down."""

    def __init__(self, hidden_size, width):
        super().__init__()
        self.w1 = nn.Linear(hidden_size, width, bias=False)
        self.w2 = nn.Linear(hidden_size, width, bias=False)
        self.w3 = nn.Linear(width, hidden_size, bias=False)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class EncoderBlock(nn.Module):
    """Pre-norm block: x + Drop(Attn(Norm(x))), then x + Drop(FFN(Norm(x)))."""

    def __init__(self, config):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = config.dim_head
        self.use_rope = config.rope
        self.dropout_p = config.dropout
        self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.wo = nn.Linear(hidden, hidden, bias=False)
        if config.hidden_act == "swiglu":
            self.ffn = SwiGLU(hidden, swiglu_width(config.intermediate_size))
        else:
            # Index 1 is the parameter-free exact (erf) GELU, so keys are ffn.0 / ffn.2.
            self.ffn = nn.Sequential(
                nn.Linear(hidden, config.intermediate_size, bias=False),
                nn.GELU(),
                nn.Linear(config.intermediate_size, hidden, bias=False),
            )
        self.attention_norm = _make_norm(config)
        self.ffn_norm = _make_norm(config)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, key_keep, row_has_key, freqs_cis, use_sdpa, output_attentions):
        attn_out, probs = self._attention(
            self.attention_norm(x), key_keep, row_has_key, freqs_cis, use_sdpa, output_attentions
        )
        x = x + self.resid_dropout(attn_out)
        x = x + self.resid_dropout(self.ffn(self.ffn_norm(x)))
        return x, probs

    def _attention(self, h, key_keep, row_has_key, freqs_cis, use_sdpa, output_attentions):
        batch, seq, _ = h.shape
        # The fused projection is head-interleaved: per head, d rows of q, then k, then v.
        qkv = self.qkv(h).view(batch, seq, self.num_heads, 3 * self.head_dim)
        q, k, v = qkv.split(self.head_dim, dim=-1)
        if self.use_rope:
            q, k = apply_rotary_emb(q, k, freqs_cis)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, A, S, d)
        dropout_p = self.dropout_p if self.training else 0.0
        # key_keep is (B, 1, 1, S) bool (True = attend) or None when every key is kept.
        if use_sdpa and not output_attentions:
            out = _sdpa(q, k, v, attn_mask=key_keep, dropout_p=dropout_p)
            probs = None
        else:
            scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(self.head_dim)
            if key_keep is not None:
                scores = scores.masked_fill(~key_keep, torch.finfo(scores.dtype).min)
            probs = torch.softmax(scores, dim=-1)
            if row_has_key is not None:
                probs = probs.masked_fill(~row_has_key, 0.0)
            probs = probs.to(v.dtype)
            out = torch.matmul(F.dropout(probs, p=dropout_p, training=self.training), v)
        if row_has_key is not None:
            # A query with no key to attend to gets a zero output; some SDPA kernels
            # return NaN or a uniform average there, so this does not trust them.
            out = torch.where(row_has_key, out, torch.zeros_like(out))
        out = out.transpose(1, 2).reshape(batch, seq, self.num_heads * self.head_dim)
        return self.wo(out), (probs if output_attentions else None)


class NeoBERTPreTrainedModel(PreTrainedModel):
    config_class = NeoBERTConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = False
    _supports_sdpa = True
    _no_split_modules = ["EncoderBlock"]

    @torch.no_grad()
    def _init_weights(self, module):
        # nn.init.* is looked up at call time: transformers 5 patches those functions
        # so that weights already loaded from a checkpoint are left untouched.
        if isinstance(module, nn.Linear):
            rng = self.config.decoder_init_range
            nn.init.uniform_(module.weight, -rng, rng)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            rng = self.config.embedding_init_range
            nn.init.uniform_(module.weight, -rng, rng)
        elif isinstance(module, _NORM_TYPES):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


def _check_input_ids(input_ids):
    if not torch.is_tensor(input_ids):
        raise TypeError(f"input_ids must be a torch.Tensor, got {type(input_ids).__name__}")
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be 2-D (batch, seq), got shape {tuple(input_ids.shape)}")
    if input_ids.dtype not in _INTEGER_DTYPES:
        raise TypeError(f"input_ids must have an integer dtype, got {input_ids.dtype}")
    return input_ids.long()


def _check_position_ids(position_ids, input_ids):
    if position_ids is None:
        return None
    if not torch.is_tensor(position_ids):
        raise TypeError(f"position_ids must be a torch.Tensor, got {type(position_ids).__name__}")
    if tuple(position_ids.shape) != tuple(input_ids.shape):
        raise ValueError(
            f"position_ids shape {tuple(position_ids.shape)} does not match input_ids shape {tuple(input_ids.shape)}"
        )
    if position_ids.dtype not in _INTEGER_DTYPES:
        raise TypeError(f"position_ids must have an integer dtype, got {position_ids.dtype}")
    position_ids = position_ids.to(device=input_ids.device, dtype=torch.long)
    if position_ids.numel() > 0 and bool((position_ids < 0).any()):
        raise ValueError("position_ids must be non-negative")
    return position_ids


def attention_keep_mask(attention_mask, input_ids):
    """Normalise any accepted mask to a (B, S) bool keep mask, True = attend (§7.2).

    bool: as is; empty: cast; float: NaN rejected, additive (min < 0 or max <= 0,
    which includes all zeros) -> mask >= 0, otherwise mask != 0; integer: mask != 0.
    So float zeros keep everything while integer zeros keep nothing.
    """
    if attention_mask is None:
        return None
    if not torch.is_tensor(attention_mask):
        raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be 2-D (batch, seq); got shape {tuple(attention_mask.shape)} "
            "(pre-expanded masks are not supported)"
        )
    mask = attention_mask.to(input_ids.device)
    if mask.dtype == torch.bool:
        keep = mask
    elif mask.numel() == 0:
        keep = mask.bool()
    elif mask.is_floating_point():
        if bool(torch.isnan(mask).any()):
            raise ValueError("attention_mask contains NaN")
        if bool(mask.min() < 0) or bool(mask.max() <= 0):
            keep = mask >= 0
        else:
            keep = mask != 0
    elif mask.dtype in _INTEGER_DTYPES:
        keep = mask != 0
    else:
        raise TypeError(f"attention_mask has unsupported dtype {mask.dtype}")
    if tuple(keep.shape) != tuple(input_ids.shape):
        raise ValueError(
            f"attention_mask shape {tuple(keep.shape)} does not match input_ids shape {tuple(input_ids.shape)}"
        )
    return keep


# Loading an MLM export into the encoder or a classifier leaves decoder.* unused.
# Not set on the MLM head, where an unexpected decoder.bias must stay visible.
_UNUSED_MLM_KEYS = [r"^decoder\."]


class NeoBERT(NeoBERTPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = _UNUSED_MLM_KEYS

    def __init__(self, config):
        super().__init__(config)
        if getattr(config, "ngpt", False):
            raise ValueError("NeoBERT: ngpt (normalised GPT) checkpoints are not supported by this model")
        pad = config.pad_token_id
        if pad is not None and not 0 <= pad < config.vocab_size:
            raise ValueError(f"NeoBERT: pad_token_id {pad} is outside the vocabulary [0, {config.vocab_size})")
        self.encoder = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=pad)
        if not config.rope:
            # Row 0 is the padding position; real tokens count from 1 (§7.3).
            self.positional_embedding = nn.Embedding(config.max_length + 1, config.hidden_size, padding_idx=0)
        self.transformer_encoder = nn.ModuleList([EncoderBlock(config) for _ in range(config.num_hidden_layers)])
        self.layer_norm = _make_norm(config)
        # Plain attribute, not a buffer: never saved, never cast by .to(dtype),
        # rebuilt lazily for a new device or a longer sequence.
        self._freqs_cis = None
        self.post_init()

    def get_input_embeddings(self):
        return self.encoder

    def set_input_embeddings(self, value):
        self.encoder = value

    def _rotary_freqs(self, seq_len, position_ids, device):
        needed = max(seq_len, self.config.max_length)
        if position_ids is not None and position_ids.numel() > 0:
            needed = max(needed, int(position_ids.max()) + 1)
        cache = self._freqs_cis
        if cache is None or cache.device != device or cache.shape[0] < needed:
            cache = precompute_freqs_cis(self.config.dim_head, needed, device=device)
            self._freqs_cis = cache
        if position_ids is not None:
            return cache[position_ids]  # (B, S, d/2), per-row positions
        return cache[:seq_len]  # (S, d/2)

    def _learned_positions(self, input_ids, position_ids):
        if position_ids is None:
            pad = self.config.pad_token_id
            if pad is None:
                real = torch.ones_like(input_ids)
            else:
                real = (input_ids != pad).long()
            position_ids = torch.cumsum(real, dim=1) * real
        if position_ids.numel() > 0 and int(position_ids.max()) > self.config.max_length:
            raise ValueError(
                f"position id {int(position_ids.max())} exceeds max_length {self.config.max_length} "
                "of the learned positional embedding"
            )
        return self.positional_embedding(position_ids)

    def forward(
        self,
        input_ids,
        position_ids=None,
        attention_mask=None,
        output_hidden_states=False,
        output_attentions=False,
        return_dict=None,
        **kwargs,
    ):
        if output_hidden_states is None:
            output_hidden_states = bool(getattr(self.config, "output_hidden_states", False))
        if output_attentions is None:
            output_attentions = bool(getattr(self.config, "output_attentions", False))
        return_dict = _resolve_return_dict(self.config, return_dict)

        input_ids = _check_input_ids(input_ids)
        position_ids = _check_position_ids(position_ids, input_ids)
        keep = attention_keep_mask(attention_mask, input_ids)
        batch, seq = input_ids.shape

        key_keep = row_has_key = None
        if keep is not None and not bool(keep.all()):
            key_keep = keep.view(batch, 1, 1, seq)
            row_has_key = keep.any(dim=-1).view(batch, 1, 1, 1)
            if bool(row_has_key.all()):
                row_has_key = None

        x = self.encoder(input_ids)
        freqs_cis = None
        if self.config.rope:
            freqs_cis = self._rotary_freqs(seq, position_ids, input_ids.device)
        else:
            x = x + self._learned_positions(input_ids, position_ids)

        # SDPA unless torch lacks it or the user explicitly asked for eager attention.
        use_sdpa = _sdpa is not None and getattr(self.config, "_attn_implementation_internal", None) != "eager"
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for block in self.transformer_encoder:
            x, probs = block(x, key_keep, row_has_key, freqs_cis, use_sdpa, output_attentions)
            if output_hidden_states:
                hidden_states.append(x)
            if output_attentions:
                attentions.append(probs)
        x = self.layer_norm(x)
        if output_hidden_states:
            # HF convention: L + 1 entries, the last one is the final-normed output.
            hidden_states[-1] = x
            hidden_states = tuple(hidden_states)
        if output_attentions:
            attentions = tuple(attentions)

        if not return_dict:
            return tuple(t for t in (x, hidden_states, attentions) if t is not None)
        return BaseModelOutput(last_hidden_state=x, hidden_states=hidden_states, attentions=attentions)


def _resolve_return_dict(config, return_dict):
    if return_dict is not None:
        return bool(return_dict)
    # config.use_return_dict is deprecated in transformers 5; it meant this.
    if getattr(config, "torchscript", False):
        return False
    return bool(getattr(config, "return_dict", True))


class NeoBERTLMHead(NeoBERTPreTrainedModel):
    if _TRANSFORMERS_MAJOR >= 5:
        _tied_weights_keys = {"decoder.weight": "model.encoder.weight"}
    else:
        _tied_weights_keys = ["decoder.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.model = NeoBERT(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=bool(getattr(config, "decoder_bias", False)))
        self.post_init()

    def get_input_embeddings(self):
        return self.model.encoder

    def set_input_embeddings(self, value):
        self.model.encoder = value

    def get_output_embeddings(self):
        return self.decoder

    def set_output_embeddings(self, new_embeddings):
        self.decoder = new_embeddings

    def forward(
        self,
        input_ids,
        position_ids=None,
        attention_mask=None,
        output_hidden_states=False,
        output_attentions=False,
        return_dict=None,
        labels=None,
        **kwargs,
    ):
        return_dict = _resolve_return_dict(self.config, return_dict)
        base = self.model(
            input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        logits = self.decoder(base.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]),
                labels.to(logits.device).long().reshape(-1),
                ignore_index=-100,
            )
        if not return_dict:
            return tuple(t for t in (loss, logits, base.hidden_states, base.attentions) if t is not None)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=base.hidden_states, attentions=base.attentions)


class NeoBERTForSequenceClassification(NeoBERTPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = _UNUSED_MLM_KEYS

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = int(getattr(config, "num_labels", 2))
        dropout = getattr(config, "classifier_dropout", None)
        self.classifier_dropout = 0.1 if dropout is None else float(dropout)
        self.model = NeoBERT(config)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(self.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            std = getattr(self.config, "classifier_init_range", None)
            std = 0.02 if std is None else float(std)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        else:
            super()._init_weights(module)

    def get_input_embeddings(self):
        return self.model.encoder

    def set_input_embeddings(self, value):
        self.model.encoder = value

    def forward(
        self,
        input_ids,
        position_ids=None,
        attention_mask=None,
        output_hidden_states=False,
        output_attentions=False,
        labels=None,
        return_dict=None,
        **kwargs,
    ):
        # Extra tokenizer outputs such as token_type_ids are accepted and ignored (L3).
        return_dict = _resolve_return_dict(self.config, return_dict)
        base = self.model(
            input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        pooled = self.dropout(base.last_hidden_state[:, 0, :])
        pooled = torch.tanh(self.dense(pooled))
        logits = self.classifier(self.dropout(pooled))

        loss = None
        if labels is not None:
            loss = self._loss(logits, labels.to(logits.device))
        if not return_dict:
            return tuple(t for t in (loss, logits) if t is not None)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=base.hidden_states, attentions=base.attentions
        )

    def _loss(self, logits, labels):
        problem_type = getattr(self.config, "problem_type", None)
        if problem_type is None:
            if self.num_labels == 1:
                problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                problem_type = "single_label_classification"
            else:
                problem_type = "multi_label_classification"
            self.config.problem_type = problem_type
        if problem_type == "regression":
            if self.num_labels == 1:
                return F.mse_loss(logits.squeeze().float(), labels.squeeze().float())
            return F.mse_loss(logits.float(), labels.float())
        if problem_type == "single_label_classification":
            return F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1).long())
        if problem_type == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        raise ValueError(f"unsupported problem_type {problem_type!r}")
