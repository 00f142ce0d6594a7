"""One configuration dataclass for a model and its training, validated once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from .errors import UserError
from .modes import StateMode
from .windows import Layout, LossSteps

__all__ = ["DTYPES", "STRATEGIES", "TrainConfig"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
STRATEGIES = ("recursive", "direct")


@dataclass
class TrainConfig:
    """Everything that decides a trained model. Defaults reproduce the seed's setup.

    ``horizon`` is the forecast length. With ``strategy="recursive"`` (the seed's)
    the model predicts one step and forecasts feed predictions back; with
    ``"direct"`` the head outputs ``horizon`` steps at once.
    """

    mode: StateMode = StateMode.STATELESS  # names ("stateful") are accepted and converted
    layout: Layout = Layout.SEQUENTIAL
    window: int = 12
    stride: int = 1
    loss_steps: LossSteps = LossSteps.LAST
    horizon: int = 1
    strategy: str = "recursive"
    batch_size: int = 16
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    epochs: int = 100
    lr: float = 1e-2
    clip_grad: float | None = 1.0
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        self.mode = _parse(StateMode, self.mode, "mode")
        self.layout = _parse(Layout, self.layout, "layout")
        self.loss_steps = _parse(LossSteps, self.loss_steps, "loss_steps")
        for name in ("window", "stride", "horizon", "batch_size", "hidden_size", "num_layers"):
            _at_least(name, getattr(self, name), 1)
        _at_least("epochs", self.epochs, 0)
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.lr > 0:
            raise UserError(f"lr must be positive, got {self.lr}")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise UserError(f"clip_grad must be positive (None: no clipping), got {self.clip_grad}")
        if self.strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {self.strategy!r}: choose recursive or direct")
        if self.dtype not in DTYPES:
            raise UserError(f"unknown dtype {self.dtype!r}: choose float32 or float64")
        if self.layout is Layout.SHUFFLED and self.mode is not StateMode.STATELESS:
            raise UserError(
                f"the shuffled layout destroys the order a {self.mode} model carries its state "
                "along: use --layout sequential or lanes, or --mode stateless"
            )
        if self.mode is StateMode.CHAINED and self.layout is not Layout.SEQUENTIAL:
            raise UserError(
                f"the chained mode chains the windows of a batch in time order, so it is defined "
                f"on the sequential layout only, not {self.layout}: use --layout sequential"
            )

    @property
    def output_size(self) -> int:
        """Target steps the head predicts at every step."""
        return self.horizon if self.strategy == "direct" else 1

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (for checkpoints and result tables)."""
        out = dataclasses.asdict(self)
        for key in ("mode", "layout", "loss_steps"):
            out[key] = str(out[key])
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _parse(kind: Any, value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise UserError(f"unknown {field} {value!r}: choose one of {names}") from None


def _at_least(field: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{field} must be an integer >= {low}, got {value!r}")
