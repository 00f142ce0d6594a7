"""Rolling-origin backtests over the test part, for the model and the baselines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .baselines import baseline_forecasts
from .data import Prepared
from .metrics import compute_metrics, per_horizon, seasonal_naive_scale

__all__ = ["Backtest", "baseline_backtests", "test_origins"]


def test_origins(prepared: Prepared, window: int, horizon: int, step: int = 1) -> list[np.ndarray]:
    """Per series: every ``step``-th origin whose ``horizon`` targets lie in the test part."""
    if step < 1:
        raise ValueError(f"origin step must be >= 1, got {step}")
    out = []
    for a, _, val_end, end in prepared.data.bounds:
        first = max(int(val_end) - 1, int(a) + window - 1)
        out.append(np.arange(first, int(end) - horizon, step, dtype=np.int64))
    return out


@dataclass
class Backtest:
    """Forecasts in original units from many origins, with what the metrics need."""

    series: np.ndarray  # (n,) series number of each origin
    origins: np.ndarray  # (n,) row of each origin
    y_true: np.ndarray  # (n, H)
    y_pred: np.ndarray  # (n, H)
    y_last: np.ndarray  # (n,) observed value at the origin (for Theil's U2)
    scale: np.ndarray  # (n,) MASE denominator of the origin's series

    def metrics(self) -> dict[str, float]:
        return compute_metrics(self.y_true, self.y_pred, y_last=self.y_last, scale=self.scale)

    def per_horizon(self) -> pd.DataFrame:
        return per_horizon(self.y_true, self.y_pred, y_last=self.y_last, scale=self.scale)

    @classmethod
    def build(
        cls, prepared: Prepared, origins: list[np.ndarray], preds: list[np.ndarray]
    ) -> Backtest:
        """Assemble per-series origins and forecasts (original units) into one backtest."""
        horizon = preds[0].shape[1] if preds else 1
        target = prepared.raw[:, 0]
        season = prepared.spec.season
        series, scales = [], []
        for i, ((a, train_end, _, _), o) in enumerate(
            zip(prepared.data.bounds, origins, strict=True)
        ):
            series.append(np.full(len(o), i))
            scale = seasonal_naive_scale(target[a:train_end], season) if len(o) else 0.0
            scales.append(np.full(len(o), scale))
        rows = np.concatenate(origins)
        steps = rows[:, None] + 1 + np.arange(horizon)
        return cls(
            series=np.concatenate(series),
            origins=rows,
            y_true=target[steps],
            y_pred=np.concatenate(preds).reshape(len(rows), horizon),
            y_last=target[rows],
            scale=np.concatenate(scales),
        )

    def frame(self, prepared: Prepared) -> pd.DataFrame:
        """Long table: series, origin time, step, target time, actual, forecast."""
        n, horizon = self.y_true.shape
        steps = np.tile(np.arange(1, horizon + 1), n)
        rows = np.repeat(self.origins, horizon)
        return pd.DataFrame(
            {
                "series": np.asarray(prepared.series_names, dtype=object)[
                    np.repeat(self.series, horizon)
                ],
                "origin": prepared.times[rows],
                "step": steps,
                "time": prepared.times[rows + steps],
                "actual": self.y_true.ravel(),
                "forecast": self.y_pred.ravel(),
            }
        )


def baseline_backtests(
    prepared: Prepared, origins: list[np.ndarray], horizon: int
) -> tuple[dict[str, Backtest], list[str]]:
    """Naive, seasonal naive and ETS on the same origins; notes on any fallback."""
    target = prepared.raw[:, 0]
    per_name: dict[str, list[np.ndarray]] = {}
    notes: list[str] = []
    for i, ((a, _, val_end, end), o) in enumerate(zip(prepared.data.bounds, origins, strict=True)):
        fits = baseline_forecasts(
            target[a:end], o - a, horizon, prepared.spec.season, int(val_end - a)
        )
        for name, b in fits.items():
            per_name.setdefault(name, []).append(b.forecasts)
            if b.note and len(notes) < 5:
                label = "" if len(origins) == 1 else f" (series {prepared.series_names[i]})"
                notes.append(f"{name}{label}: {b.note}")
    return {k: Backtest.build(prepared, origins, v) for k, v in per_name.items()}, notes
