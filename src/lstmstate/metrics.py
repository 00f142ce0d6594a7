"""Point-forecast metrics: small pure numpy functions with one shared signature.

Every metric is ``metric(y_true, y_pred, *, y_last=None, scale=None) -> float``:

- ``y_true``, ``y_pred``: (n_origins, H) actuals and forecasts (1-D is read as (n, 1));
- ``y_last``: the observed value at each forecast origin, a scalar or shape (n_origins,),
  broadcast across the horizon (used by Theil's U2 only);
- ``scale``: the MASE denominator, a scalar or shape (n_origins,) so that several series
  can each have their own (used by MASE only).

A metric ignores the keyword arguments it does not need, so a caller can pass the same
context to all of them (see ``compute_metrics``). With ``e = y_pred - y_true``, each
docstring gives the formula and what happens when a denominator is zero.
"""

from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "METRICS",
    "Metric",
    "compute_metrics",
    "mae",
    "mape",
    "mase",
    "per_horizon",
    "rmse",
    "seasonal_naive_scale",
    "smape",
    "theil_u2",
]


class Metric(Protocol):
    """The shared signature of every metric in ``METRICS``."""

    def __call__(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        y_last: ArrayLike | None = None,
        scale: ArrayLike | None = None,
    ) -> float: ...


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float (n_origins, H), after checking shape and the absence of NaN."""
    true = _as_2d(y_true, "y_true")
    pred = _as_2d(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {true.shape} and {pred.shape}"
        )
    return true, pred


def _as_2d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]  # -> (n, 1)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D or 2-D array, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains {int(np.isnan(array).sum())} NaN value(s)")
    return array


def _per_origin(values: ArrayLike | None, n_origins: int, name: str, metric: str) -> np.ndarray:
    """A scalar or (n_origins,) argument as an (n_origins, 1) column that broadcasts over H."""
    if values is None:
        raise ValueError(f"{metric} needs {name}=..., got None")
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return np.full((n_origins, 1), float(array))
    if array.shape != (n_origins,):
        raise ValueError(
            f"{name} must be a scalar or have shape (n_origins,) = ({n_origins},), "
            f"got shape {array.shape}"
        )
    return array[:, None]  # -> (n_origins, 1)


def rmse(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Root mean squared error: ``sqrt(mean(e**2))`` over all origins and steps.

    No denominator, so zeros need no special case. ``y_last`` and ``scale`` are ignored.
    """
    del y_last, scale  # the shared signature; RMSE needs neither
    true, pred = _pair(y_true, y_pred)
    e = pred - true
    top = float(np.max(np.abs(e))) if e.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return float(np.sqrt(np.mean(e**2)))
    return top * float(np.sqrt(np.mean((e / top) ** 2)))  # no overflow for |e| > 1e154


def mae(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Mean absolute error: ``mean(|e|)`` over all origins and steps.

    No denominator, so zeros need no special case. ``y_last`` and ``scale`` are ignored.
    """
    del y_last, scale  # the shared signature; MAE needs neither
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


def mape(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Mean absolute percentage error: ``100 * mean(|e| / |y_true|)``.

    Points with ``y_true == 0`` are left out of the mean; NaN when every ``y_true`` is 0.
    ``y_last`` and ``scale`` are ignored.
    """
    del y_last, scale  # the shared signature; MAPE needs neither
    true, pred = _pair(y_true, y_pred)
    keep = true != 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(pred - true)[keep] / np.abs(true[keep])))


def smape(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Symmetric MAPE: ``100 * mean(2|e| / (|y_true| + |y_pred|))``, between 0 and 200.

    A term whose actual and forecast are both 0 counts as 0 (a perfect forecast) and stays
    in the mean. ``y_last`` and ``scale`` are ignored.
    """
    del y_last, scale  # the shared signature; sMAPE needs neither
    true, pred = _pair(y_true, y_pred)
    denominator = np.abs(true) + np.abs(pred)
    safe = np.where(denominator == 0, 1.0, denominator)
    terms = np.where(denominator == 0, 0.0, 2.0 * np.abs(pred - true) / safe)
    return float(100.0 * np.mean(terms))


def mase(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Mean absolute scaled error: ``mean(|e| / scale)``, scale per origin, broadcast over H.

    ``scale`` is usually ``seasonal_naive_scale`` of the training part of each origin's
    series. Terms whose scale is 0 are dropped; NaN when every scale is 0. ``y_last`` is
    ignored.
    """
    del y_last  # the shared signature; MASE does not need it
    true, pred = _pair(y_true, y_pred)
    column = _per_origin(scale, true.shape[0], "scale", "mase")
    if (column < 0).any() or np.isnan(column).any():
        raise ValueError(f"scale must be >= 0 and not NaN, got {column.ravel().tolist()}")
    scales = np.broadcast_to(column, true.shape)
    keep = scales != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs(pred - true)[keep] / scales[keep]))


def theil_u2(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_last: ArrayLike | None = None,
    scale: ArrayLike | None = None,
) -> float:
    """Theil's U2 against the naive (persistence) forecast ``y_last``, as the seed reports it.

    ``U2 = sqrt(sum(((y_pred - y_true) / y_last)**2) / sum(((y_true - y_last) / y_last)**2))``
    summed over all origins and steps, ``y_last`` broadcast across the horizon. U2 < 1 is
    better than persistence, and the naive forecast itself scores exactly 1. Terms with
    ``y_last == 0`` are dropped; NaN when the denominator is 0 (e.g. every kept actual equals
    its ``y_last``, or every ``y_last`` is 0). ``scale`` is ignored.
    """
    del scale  # the shared signature; U2 does not need it
    true, pred = _pair(y_true, y_pred)
    last = np.broadcast_to(_per_origin(y_last, true.shape[0], "y_last", "theil_u2"), true.shape)
    keep = last != 0
    model = np.sum(((pred[keep] - true[keep]) / last[keep]) ** 2)
    naive = np.sum(((true[keep] - last[keep]) / last[keep]) ** 2)
    if naive == 0:
        return float("nan")
    return float(np.sqrt(model / naive))


def seasonal_naive_scale(y_train: ArrayLike, season: int) -> float:
    """The MASE scale: ``mean(|y_t - y_{t-season}|)`` over the training values, t >= season.

    With ``season == 1`` this is the mean absolute first difference.
    """
    values = np.asarray(y_train, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"y_train must be 1-D, got shape {values.shape}")
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    if values.size <= season:
        raise ValueError(
            f"seasonal_naive_scale needs more than season={season} values, got {values.size}"
        )
    return float(np.mean(np.abs(values[season:] - values[:-season])))


METRICS: dict[str, Metric] = {
    "rmse": rmse,
    "mae": mae,
    "mape": mape,
    "smape": smape,
    "mase": mase,
    "theil_u2": theil_u2,
}


def compute_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, *, y_last: ArrayLike, scale: ArrayLike
) -> dict[str, float]:
    """Every metric in ``METRICS`` over all origins and steps, as plain Python floats."""
    return {
        name: float(metric(y_true, y_pred, y_last=y_last, scale=scale))
        for name, metric in METRICS.items()
    }


def per_horizon(
    y_true: ArrayLike, y_pred: ArrayLike, *, y_last: ArrayLike, scale: ArrayLike
) -> pd.DataFrame:
    """Every metric per horizon step: row h (1..H) is each metric on column h-1 only.

    Returns a DataFrame with index ``horizon`` (1..H) and one column per metric in
    ``METRICS`` order. ``y_last`` and ``scale`` are per origin, so they apply unchanged to
    every column.
    """
    true, pred = _pair(y_true, y_pred)
    rows = [
        compute_metrics(true[:, [h]], pred[:, [h]], y_last=y_last, scale=scale)
        for h in range(true.shape[1])
    ]
    index = pd.RangeIndex(1, true.shape[1] + 1, name="horizon")
    return pd.DataFrame(rows, index=index, columns=list(METRICS))
