"""The three state strategies, chosen once from the mode.

Each strategy answers two questions for the trainer and the evaluator:
*which state does this batch start from* (``initial``) and *how is the
batch run* (``run``). Every strategy starts from zeros when nothing is
carried (``carried is None``: the start of training and of every epoch), and
the trainer detaches what it carries at every batch boundary.

A lane is reset to zeros (``resets[i]``) when the window its state would come
from belongs to another series.
"""

from __future__ import annotations

import enum

import numpy as np
import torch
from torch import Tensor

from .errors import UserError
from .model import State, StatefulLSTM

__all__ = ["Chained", "StateMode", "Stateful", "Stateless", "Strategy", "strategy_for"]


class StateMode(str, enum.Enum):
    """How hidden states are initialised and carried during training."""

    STATELESS = "stateless"  # zeros for every window (Keras default)
    STATEFUL = "stateful"  # lane i carries to lane i of the next batch (Keras stateful=True)
    CHAINED = "chained"  # window to window inside a batch and on to the next batch

    @classmethod
    def from_flags(cls, stateful: bool, stateful_batches: bool) -> StateMode:
        """The mode named by the seed's two flags."""
        if stateful_batches and not stateful:
            raise UserError(
                "stateful_batches=True needs stateful=True: use stateful=True, "
                "stateful_batches=True for the chained mode, or stateful_batches=False"
            )
        if not stateful:
            return cls.STATELESS
        return cls.CHAINED if stateful_batches else cls.STATEFUL

    @classmethod
    def parse(cls, value: str | StateMode) -> StateMode:
        """A mode from its name, with an error that lists the names."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise UserError(f"unknown mode {value!r}: choose one of {names}") from None

    def __str__(self) -> str:
        return self.value


def _zero_lanes(state: State, keep: Tensor) -> State:
    """Zero the lanes where ``keep`` is 0; ``keep`` is (lanes,) of 0/1."""
    mask = keep.to(state[0].dtype).view(1, -1, 1)
    return state[0] * mask, state[1] * mask


class Strategy:
    """Interface: ``initial`` state of a batch, ``run`` the batch, ``resets`` per lane."""

    mode: StateMode

    def resets(self, series: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """Lanes that start from zeros, given the series id of each window."""
        raise NotImplementedError

    def initial(self, carried: State | None, resets: np.ndarray) -> State | None:
        raise NotImplementedError

    def run(
        self, model: StatefulLSTM, x: Tensor, state: State | None, resets: np.ndarray
    ) -> tuple[Tensor, State]:
        raise NotImplementedError


class Stateless(Strategy):
    mode = StateMode.STATELESS

    def resets(self, series: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        return np.ones(len(series), dtype=bool)

    def initial(self, carried: State | None, resets: np.ndarray) -> State | None:
        return None

    def run(
        self, model: StatefulLSTM, x: Tensor, state: State | None, resets: np.ndarray
    ) -> tuple[Tensor, State]:
        return model(x, None)


class Stateful(Strategy):
    """Lane i of batch j+1 starts from the final state of lane i of batch j.

    A shorter batch (the last, partial one) takes the first lanes it has.
    """

    mode = StateMode.STATEFUL

    def resets(self, series: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        if previous is None:
            return np.ones(len(series), dtype=bool)
        return series != previous[: len(series)]

    def initial(self, carried: State | None, resets: np.ndarray) -> State | None:
        if carried is None:
            return None
        lanes = len(resets)
        state = carried[0][:, :lanes], carried[1][:, :lanes]
        if resets.any():
            keep = state[0].new_tensor(~resets)
            state = _zero_lanes(state, keep)
        return state

    def run(
        self, model: StatefulLSTM, x: Tensor, state: State | None, resets: np.ndarray
    ) -> tuple[Tensor, State]:
        return model(x, state)


class Chained(Strategy):
    """Window i starts from window i-1; the first of a batch from the last of the batch before."""

    mode = StateMode.CHAINED

    def resets(self, series: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        before = np.empty_like(series)
        before[1:] = series[:-1]
        out = series != before
        out[0] = previous is None or series[0] != previous[-1]
        return out

    def initial(self, carried: State | None, resets: np.ndarray) -> State | None:
        return None if carried is None or resets[0] else carried

    def run(
        self, model: StatefulLSTM, x: Tensor, state: State | None, resets: np.ndarray
    ) -> tuple[Tensor, State]:
        return model.chained(x, state, resets=torch.as_tensor(resets) if resets[1:].any() else None)


def strategy_for(mode: StateMode | str) -> Strategy:
    """The strategy object for a mode: the only place that maps modes to behaviour."""
    mode = StateMode.parse(mode)
    return {
        StateMode.STATELESS: Stateless,
        StateMode.STATEFUL: Stateful,
        StateMode.CHAINED: Chained,
    }[mode]()
