"""TEST STAND-IN named `transformers` (see ../README.md). Not Hugging Face code.

Implements only the pieces the NeoBERT remote-code files use, with the
behaviour of transformers 4.x where it matters to them.
"""

from torch import nn

from . import modeling_outputs

__all__ = ["PretrainedConfig", "PreTrainedModel", "modeling_outputs", "__version__"]
__version__ = "4.99.0-stub"
IS_TEST_STUB = True


class PretrainedConfig:
    model_type = ""

    def __init__(self, **kwargs):
        self.return_dict = kwargs.pop("return_dict", True)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.output_attentions = kwargs.pop("output_attentions", False)
        self.tie_word_embeddings = kwargs.pop("tie_word_embeddings", True)
        self.problem_type = kwargs.pop("problem_type", None)
        self.num_labels = kwargs.pop("num_labels", 2)
        # Mimics transformers 4: the base class owns a generation-length default.
        self.max_length = kwargs.pop("max_length", 20)
        self.pad_token_id = kwargs.pop("pad_token_id", None)
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def use_return_dict(self):
        return self.return_dict

    def to_dict(self):
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        out["model_type"] = self.model_type
        return out


class PreTrainedModel(nn.Module):
    config_class = None
    base_model_prefix = ""
    _tied_weights_keys = None

    def __init__(self, config, *args, **kwargs):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"config must be a PretrainedConfig, got {type(config).__name__}")
        self.config = config

    def _init_weights(self, module):
        pass

    def post_init(self):
        self.apply(self._init_weights)
        self.tie_weights()

    def get_input_embeddings(self):
        base = getattr(self, self.base_model_prefix, self)
        if base is not self:
            return base.get_input_embeddings()
        raise NotImplementedError

    def get_output_embeddings(self):
        return None

    def tie_weights(self):
        if not getattr(self.config, "tie_word_embeddings", True):
            return
        output_embeddings = self.get_output_embeddings()
        if output_embeddings is None:
            return
        output_embeddings.weight = self.get_input_embeddings().weight

    @classmethod
    def from_state_dict(cls, config, state_dict, strict=True):
        """Build, load weights (tied target keys may be missing), tie, eval()."""
        model = cls(config)
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        tied = cls._tied_weights_keys or []
        tied = list(tied.keys()) if isinstance(tied, dict) else list(tied)
        missing = [k for k in missing if k not in tied]
        if strict and (missing or unexpected):
            raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
        model.tie_weights()
        model.eval()
        return model
