"""TEST STAND-IN for transformers.modeling_outputs (see ../README.md)."""

from dataclasses import dataclass, fields
from typing import Any, Optional


class ModelOutput:
    """Attribute, key and index access over the fields that are not None."""

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def to_tuple(self):
        return tuple(getattr(self, k) for k in self.keys())

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return key in self.keys()


@dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: Any = None
    hidden_states: Optional[Any] = None
    attentions: Optional[Any] = None


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: Optional[Any] = None
    logits: Any = None
    hidden_states: Optional[Any] = None
    attentions: Optional[Any] = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Optional[Any] = None
    logits: Any = None
    hidden_states: Optional[Any] = None
    attentions: Optional[Any] = None
