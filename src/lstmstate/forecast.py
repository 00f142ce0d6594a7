"""Multi-step forecasts from any number of origins, recursive or direct.

``recursive`` (the seed's): predict one step, put the prediction in the
target column of the next row (covariates there must be known), repeat.
Stateless models slide their window over the predicted rows and rerun it from
zeros; stateful and chained models continue their state one row at a time,
as a stream would.

``direct``: the head outputs the ``H`` steps at once at the origin.

All origins run together (one lane each); stateless windows are independent,
so there is no loop over origins.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .config import TrainConfig
from .evaluate import CHUNK, origin_outputs
from .model import State, StatefulLSTM
from .modes import StateMode

__all__ = ["carry_on", "forecast_scaled", "slide"]


@torch.no_grad()
def forecast_scaled(
    model: StatefulLSTM,
    config: TrainConfig,
    values: Tensor,
    start: int,
    origins: np.ndarray,
) -> Tensor:
    """Forecasts (n, H) in scaled units from each origin of the series starting at ``start``.

    ``values`` (N, F) holds the series; target values after an origin are never
    read, covariates after it are (recursive strategy with covariates).
    """
    horizon = config.horizon
    if config.strategy == "direct":
        out, _ = origin_outputs(
            model, config.mode, values, start, origins, config.window, config.stride
        )
        return out[:, :horizon]
    rows = torch.as_tensor(origins)
    future = values[rows[:, None] + 1 + torch.arange(horizon - 1)]  # -> (n, H-1, F)
    if config.mode is StateMode.STATELESS:
        parts = []
        step = max(1, CHUNK // config.window)
        for a in range(0, len(origins), step):
            ends = rows[a : a + step]
            win = values[ends[:, None] - config.window + 1 + torch.arange(config.window)]
            parts.append(slide(model, win, future[a : a + step]))
        return torch.cat(parts) if parts else values.new_zeros(0, horizon)
    out, state = origin_outputs(
        model, config.mode, values, start, origins, config.window, config.stride, need_state=True
    )
    assert state is not None
    return carry_on(model, out[:, 0], state, future)


def slide(model: StatefulLSTM, win: Tensor, future: Tensor) -> Tensor:
    """Stateless recursive: predict, append the prediction, rerun the window from zeros.

    ``win`` (n, T, F) ends at the origin; ``future`` (n, H-1, F) holds the known
    covariates of the rows after it (its target column is ignored).
    """
    preds = []
    for h in range(future.shape[1] + 1):
        y = model(win)[0][:, -1, 0]  # -> (n,)
        preds.append(y)
        if h < future.shape[1]:
            nxt = future[:, h].clone()  # -> (n, F)
            nxt[:, 0] = y
            win = torch.cat([win[:, 1:], nxt[:, None]], dim=1)
    return torch.stack(preds, dim=1)  # -> (n, H)


def carry_on(model: StatefulLSTM, first: Tensor, state: State, future: Tensor) -> Tensor:
    """Stateful recursive: from the state at the origin, feed each prediction as the next row.

    ``first`` (n,) is the one-step forecast made at the origin.
    """
    preds = [first]
    for h in range(future.shape[1]):
        nxt = future[:, h].clone()  # -> (n, F)
        nxt[:, 0] = preds[-1]
        y, state = model(nxt[:, None], state)  # one step per origin lane
        preds.append(y[:, 0, 0])
    return torch.stack(preds, dim=1)  # -> (n, H)
