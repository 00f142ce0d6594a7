"""The model's output at forecast origins, with the state it would have there.

At evaluation the model runs over a series' history in time order in ONE lane,
with the training window and stride, under no gradient (DESIGN §4):

* ``stateless``: the window that ends at origin ``t`` runs from zeros;
* ``stateful`` / ``chained``: the grid windows ``start, start+stride, ...``
  run as one chain from zeros at the series start (the first training window),
  each from the final state of the one before. The output at origin ``t``
  comes from the last grid window that ends at or before ``t``, continued over
  the rows after it up to ``t`` (fewer than ``stride`` rows). No row after
  ``t`` is ever fed, so nothing leaks from the future.

With ``stride == window`` the chain is the plain stream of rows, and with
``stride == 1`` every origin is a window end; both are one LSTM call. Other
strides walk the windows near the origins one by one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .model import State, StatefulLSTM
from .modes import StateMode

__all__ = ["CHUNK", "origin_outputs", "stream"]

CHUNK = 8192  # rows per LSTM call on long histories: bounds memory, keeps the gates in cache


def stream(model: StatefulLSTM, rows: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """Run ``rows`` (N, F) as one lane in chunks; returns outputs (N, O) and the final state."""
    outs = []
    for a in range(0, rows.shape[0], CHUNK):
        y, state = model(rows[a : a + CHUNK].unsqueeze(0), state)  # -> (1, n, O)
        outs.append(y[0])
    assert state is not None
    return torch.cat(outs), state


def _windows(values: Tensor, starts: np.ndarray, window: int) -> Tensor:
    """Windows as a (n, T, F) tensor gathered from the (N, F) values."""
    views = values.unfold(0, window, 1)  # -> (N-T+1, F, T), a view
    return views[torch.as_tensor(starts)].transpose(1, 2)  # -> (n, T, F)


def _last_outputs(model: StatefulLSTM, values: Tensor, ends: np.ndarray, window: int) -> Tensor:
    """Stateless: each window ending at ``ends`` from zeros; output at its last step."""
    outs, step = [], max(1, CHUNK // window)
    for a in range(0, len(ends), step):
        x = _windows(values, ends[a : a + step] - window + 1, window)
        outs.append(model(x)[0][:, -1])
    return torch.cat(outs)


@torch.no_grad()
def origin_outputs(
    model: StatefulLSTM,
    mode: StateMode,
    values: Tensor,
    start: int,
    origins: np.ndarray,
    window: int,
    stride: int,
    need_state: bool = False,
) -> tuple[Tensor, State | None]:
    """Outputs (n, O) at each origin of one series that begins at row ``start``.

    ``origins`` are sorted row indices, each at least ``start + window - 1``.
    With ``need_state`` also the state after the origin row, one lane per
    origin (stateful and chained modes only; ``None`` for stateless).
    """
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) == 0:
        empty = values.new_zeros(0, model.output_size)
        return empty, None
    if origins[0] < start + window - 1:
        raise ValueError(f"origin {origins[0]} has less than one window of history")
    if mode is StateMode.STATELESS:
        return _last_outputs(model, values, origins, window), None
    last = int(origins[-1])
    if not need_state and stride == window:
        out, _ = stream(model, values[start : last + 1])
        return out[origins - start], None
    if not need_state and stride == 1:
        starts = np.arange(start, last - window + 2)
        return _chain_last(model, values, starts, window)[origins - start - window + 1], None
    return _walk(model, values, start, origins, window, stride)


def _chain_last(model: StatefulLSTM, values: Tensor, starts: np.ndarray, window: int) -> Tensor:
    """Chain the windows at ``starts`` in one lane; the output at each window's last step."""
    outs, state, step = [], None, max(1, CHUNK // window)
    for a in range(0, len(starts), step):
        y, state = model.chained(_windows(values, starts[a : a + step], window), state)
        outs.append(y[:, -1])
    return torch.cat(outs)


def _walk(
    model: StatefulLSTM,
    values: Tensor,
    start: int,
    origins: np.ndarray,
    window: int,
    stride: int,
) -> tuple[Tensor, State]:
    """General case: final state of every grid window near the origins, then the tails."""
    # k(t): the last grid window that ends at or before t; tail: rows after it up to t
    k = (origins - start - window + 1) // stride
    ends = start + k * stride + window - 1
    tails = origins - ends
    k0 = int(k[0])
    state: State | None = None
    if k0 > 0:  # the chain before the first window needed, in one call
        before = start + np.arange(k0) * stride
        _, state = model.chained(_windows(values, before, window), None)
    finals_h, finals_c, last_out = [], [], []
    for j in range(k0, int(k[-1]) + 1):
        x = _windows(values, np.array([start + j * stride]), window)
        y, state = model(x, state)
        finals_h.append(state[0])
        finals_c.append(state[1])
        last_out.append(y[0, -1])
    h_all, c_all = torch.cat(finals_h, dim=1), torch.cat(finals_c, dim=1)  # (layers, K, H)
    lane = torch.as_tensor(k - k0)
    out = torch.stack(last_out)[lane]  # -> (n, O)
    h, c = h_all[:, lane].clone(), c_all[:, lane].clone()
    for length in np.unique(tails[tails > 0]):
        sel = np.flatnonzero(tails == length)
        rows = ends[sel, None] + 1 + np.arange(length)  # -> (m, length)
        y, (hs, cs) = model(values[torch.as_tensor(rows)], (h[:, sel], c[:, sel]))
        out[sel] = y[:, -1]
        h[:, sel], c[:, sel] = hs, cs
    return out, (h, c)
