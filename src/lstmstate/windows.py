"""Windows and batch layouts: pure index arithmetic, no tensors copied.

A window is ``T`` consecutive rows starting at ``start``; windows of one series
start ``stride`` rows apart. Batches hold ``B`` windows, one per lane::

    windows in time order:   w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10      (11 windows, B = 3)

    sequential (the seed)    batch 0: w0 w1 w2   batch 1: w3 w4 w5   ...   batch 3: w9 w10
                             lane i of batch j+1 = the window B after lane i of batch j

    lanes (streams)          dropped: w0 w1 (the oldest 11 % 3)
                             lane 0:  w2 w3 w4     batch j = column j:
                             lane 1:  w5 w6 w7       batch 0: w2 w5 w8
                             lane 2:  w8 w9 w10      batch 1: w3 w6 w9 ...
                             each lane is a contiguous block: lane i of batch j+1
                             is the window right after lane i of batch j

    shuffled                 a new random order every epoch (stateless only)

With several series the windows of all series are listed series after series;
a lane that crosses from one series into the next is reset to zeros there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .errors import UserError

__all__ = ["Layout", "LossSteps", "Plan", "batch_count", "plan_batches", "window_starts"]


class Layout(str, enum.Enum):
    SEQUENTIAL = "sequential"
    LANES = "lanes"
    SHUFFLED = "shuffled"

    def __str__(self) -> str:
        return self.value


class LossSteps(str, enum.Enum):
    LAST = "last"  # many-to-one: the H targets after the window
    ALL = "all"  # many-to-many: the next H targets at every step

    def __str__(self) -> str:
        return self.value


def window_starts(first: int, last_start: int, stride: int) -> np.ndarray:
    """Starts ``first, first+stride, ...`` up to ``last_start`` inclusive (empty if none)."""
    if last_start < first:
        return np.empty(0, dtype=np.int64)
    return np.arange(first, last_start + 1, stride, dtype=np.int64)


@dataclass(frozen=True)
class Plan:
    """The batches of one epoch: ``batches[j][i]`` is the window index in lane i of batch j."""

    batches: list[np.ndarray]
    dropped: int  # windows left out this epoch (lanes layout only: the oldest n % B)


def batch_count(n_windows: int, batch_size: int, layout: Layout) -> int:
    """Batches per epoch: ``lanes`` drops the remainder, the others keep a partial batch."""
    if layout is Layout.LANES:
        return n_windows // batch_size
    return -(-n_windows // batch_size)


def plan_batches(
    n_windows: int,
    batch_size: int,
    layout: Layout | str,
    rng: np.random.Generator | None = None,
) -> Plan:
    """Window indices per batch for one epoch (see the module docstring)."""
    layout = Layout(layout)
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    if batch_size > n_windows:
        raise UserError(
            f"batch size {batch_size} is larger than the {n_windows} training windows: "
            f"use --batch-size {max(n_windows, 1)} or less, or a shorter window/stride"
        )
    if layout is Layout.LANES:
        per_lane = n_windows // batch_size
        dropped = n_windows - per_lane * batch_size
        grid = dropped + np.arange(batch_size)[:, None] * per_lane + np.arange(per_lane)
        return Plan([grid[:, j] for j in range(per_lane)], dropped)  # grid: (B, per_lane)
    if layout is Layout.SHUFFLED:
        if rng is None:
            raise ValueError("the shuffled layout needs a random generator")
        order = rng.permutation(n_windows)
    else:
        order = np.arange(n_windows)
    return Plan([order[j : j + batch_size] for j in range(0, n_windows, batch_size)], 0)
