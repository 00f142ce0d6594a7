"""What `lstmstate train` and `lstmstate forecast` write."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .api import Forecaster
from .backtest import Backtest
from .files import atomic_write, atomic_write_text

__all__ = ["train_metrics", "write_forecast", "write_train_outputs"]


def _clean(d: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: undefined metrics are null."""
    return {k: (None if not np.isfinite(v) else float(v)) for k, v in d.items()}


def train_metrics(forecaster: Forecaster, origin_step: int = 1) -> tuple[dict[str, Any], Backtest]:
    """The test metrics of the model and of the baselines on the same origins, and the backtest."""
    backtest = forecaster.backtest(origin_step)
    baselines, notes = forecaster.baselines(origin_step)
    config, history = forecaster.config, forecaster.history
    return {
        "dataset": forecaster.spec().name,
        "mode": str(config.mode),
        "layout": str(config.layout),
        "stride": config.stride,
        "loss_steps": str(config.loss_steps),
        "seed": config.seed,
        "epochs": config.epochs,
        "seconds_per_epoch": history.seconds_per_epoch,
        "origins": int(len(backtest.origins)),
        "horizon": config.horizon,
        "model": _clean(backtest.metrics()),
        "per_horizon": {
            k: [None if not np.isfinite(x) else float(x) for x in v]
            for k, v in backtest.per_horizon().to_dict(orient="list").items()
        },
        "baselines": {name: _clean(b.metrics()) for name, b in baselines.items()},
        "notes": notes + (forecaster.prepared.notes if forecaster.prepared else []),
        "config": config.to_dict(),
    }, backtest


def write_train_outputs(
    forecaster: Forecaster, out: Path, origin_step: int = 1, extra: dict[str, Any] | None = None
) -> str:
    """metrics.json, history.csv, backtest.csv, then the finished checkpoint.pt last.

    Every file is written atomically; the checkpoint goes last so that a run
    stopped in between is still resumable and writes the rest again.
    """
    metrics, backtest = train_metrics(forecaster, origin_step)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    h = forecaster.history
    history = pd.DataFrame(
        {
            "epoch": np.arange(1, len(h.train_loss) + 1),
            "train_loss": h.train_loss,
            "val_loss": h.val_loss,
            "seconds": h.seconds,
        }
    )
    _write_csv(out / "history.csv", history)
    assert forecaster.prepared is not None
    _write_csv(out / "backtest.csv", backtest.frame(forecaster.prepared))
    forecaster.save(out, extra)
    rows = {"model": metrics["model"], **metrics["baselines"]}
    table = pd.DataFrame(rows).T
    return table.to_string(float_format=lambda v: f"{v:.4g}")


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def write_forecast(forecaster: Forecaster, frame: pd.DataFrame, out: Path) -> None:
    """forecast.csv and forecast.png (the recent history and the forecast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _write_csv(out / "forecast.csv", frame)
    end = forecaster.end
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, name in enumerate(pd.unique(frame["series"])[:6]):
        part = frame[frame["series"] == name]
        hist = forecaster.meta.scaler.inverse_target(end.tail[i, :, 0].double().numpy(), i)
        last = pd.to_datetime(end.last_times[i]) if isinstance(end.last_times[i][0], str) else None
        if last is not None and len(last) >= 2:
            step = last[-1] - last[-2]
            times = [last[-1] - step * k for k in range(len(hist) - 1, -1, -1)]
        else:
            times = list(range(len(hist)))
        (line,) = ax.plot(times, hist, label=f"{name} history")
        ax.plot(
            part["time"],
            part["forecast"],
            "--o",
            ms=3,
            color=line.get_color(),
            label=f"{name} forecast",
        )
    ax.set_title("lstmstate forecast")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write(out / "forecast.png", lambda f: f.write(buffer.getvalue()))
