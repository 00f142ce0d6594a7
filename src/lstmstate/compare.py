"""The main job: train every variant for several seeds, backtest, and collect results.

A *variant* is a named set of TrainConfig changes. The default set (DESIGN §5)
is the seed's three modes as the seed ran them (sequential layout, stride 1,
loss on the last step) and the two exact stream variants. Runs are independent
and go to worker processes; each run uses one torch thread, so the numbers do
not depend on how many workers there are.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .config import TrainConfig
from .data import DataSpec, Prepared, prepare
from .metrics import METRICS

__all__ = [
    "DatasetRun",
    "RunResult",
    "Task",
    "Variant",
    "default_variants",
    "mode_variants",
    "run_grid",
]

METRIC_NAMES = list(METRICS)


@dataclass(frozen=True)
class Variant:
    """A named way to train: the config fields it changes."""

    name: str
    changes: tuple[tuple[str, Any], ...]

    def apply(self, base: TrainConfig, window: int) -> TrainConfig:
        changes = {k: (window if v == "window" else v) for k, v in self.changes}
        return base.replace(**changes)


def default_variants(modes: Iterable[str] = ("stateless", "stateful", "chained")) -> list[Variant]:
    """DESIGN §5: the seed's three modes as it ran them, plus the two exact streams."""
    modes = list(modes)
    seed_like = [
        Variant(m, (("mode", m), ("layout", "sequential"), ("stride", 1), ("loss_steps", "last")))
        for m in ("stateless", "stateful", "chained")
        if m in modes
    ]
    streams = []
    if "stateful" in modes:
        streams.append(
            Variant(
                "stateful-stream",
                (
                    ("mode", "stateful"),
                    ("layout", "lanes"),
                    ("stride", "window"),
                    ("loss_steps", "all"),
                ),
            )
        )
    if "chained" in modes:
        streams.append(
            Variant(
                "chained-stream",
                (
                    ("mode", "chained"),
                    ("layout", "sequential"),
                    ("stride", "window"),
                    ("loss_steps", "all"),
                ),
            )
        )
    return seed_like + streams


def mode_variants(modes: Iterable[str]) -> list[Variant]:
    """Each listed mode with the settings given on the command line."""
    return [Variant(m, (("mode", m),)) for m in modes]


@dataclass
class Task:
    """One run: a dataset, a variant, a seed."""

    dataset: str
    variant: Variant
    config: TrainConfig
    index: int


@dataclass
class RunResult:
    """What one run produced, in plain arrays (picklable across processes)."""

    row: dict[str, Any]  # one row of results.csv
    train_loss: list[float]
    val_loss: list[float]
    per_horizon: dict[str, list[float]]  # metric -> value per horizon step
    forecasts: np.ndarray  # (n_origins, H) test forecasts, original units


def run_key(task: Task) -> str:
    """File name (without suffix) under which a finished run is recorded."""
    return f"{task.dataset}__{task.variant.name}__seed{task.config.seed}"


def result_to_json(task: Task, result: RunResult) -> str:
    """A finished run as JSON text (floats round-trip exactly)."""
    return json.dumps(
        {
            "config": task.config.to_dict(),
            "row": result.row,
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "per_horizon": result.per_horizon,
            "forecasts": result.forecasts.tolist(),
        }
    )


def result_from_json(task: Task, text: str) -> RunResult | None:
    """The recorded run, or None when it was made with another configuration."""
    d = json.loads(text)
    if d["config"] != task.config.to_dict():
        return None
    return RunResult(
        row=d["row"],
        train_loss=d["train_loss"],
        val_loss=d["val_loss"],
        per_horizon=d["per_horizon"],
        forecasts=np.asarray(d["forecasts"], dtype=np.float64),
    )


@dataclass
class DatasetRun:
    """Per dataset: the data, the test origins' actuals and the baselines."""

    name: str
    spec: DataSpec
    prepared: Prepared
    series: np.ndarray  # (n,) series number per origin
    origin_times: np.ndarray  # (n,)
    target_times: np.ndarray  # (n, H)
    actuals: np.ndarray  # (n, H)
    baselines: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, H)
    baseline_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fit_batch_size(config: TrainConfig, prepared: Prepared, explicit: bool) -> TrainConfig:
    """Stream variants have `window` times fewer windows: shrink B when it was not given."""
    from .train import training_windows

    n = len(training_windows(prepared.data, config).starts)
    if explicit or config.batch_size * 3 <= n:
        return config
    return config.replace(batch_size=max(1, min(config.batch_size, n // 3)))


def _run(task: Task, frame: pd.DataFrame, spec: DataSpec, origin_step: int) -> RunResult:
    """Train and backtest one variant/seed (in a worker process)."""
    import torch

    from .api import Forecaster

    torch.set_num_threads(1)
    tick = time.perf_counter()
    forecaster = Forecaster.fit(frame, task.config, spec)
    backtest = forecaster.backtest(origin_step)
    config, history = task.config, forecaster.history
    metrics = backtest.metrics()
    row = {
        "dataset": task.dataset,
        "variant": task.variant.name,
        "mode": str(config.mode),
        "layout": str(config.layout),
        "stride": config.stride,
        "loss_steps": str(config.loss_steps),
        "seed": config.seed,
        **metrics,
        "seconds_per_epoch": history.seconds_per_epoch,
        "epochs": config.epochs,
        "window": config.window,
        "batch_size": config.batch_size,
        "horizon": config.horizon,
        "train_windows": history.train_windows,
        "dropped_windows": history.dropped_windows,
        "final_val_loss": history.val_loss[-1] if history.val_loss else float("nan"),
        "run_seconds": time.perf_counter() - tick,
    }
    ph = backtest.per_horizon()
    return RunResult(
        row=row,
        train_loss=history.train_loss,
        val_loss=history.val_loss,
        per_horizon={k: ph[k].tolist() for k in METRIC_NAMES},
        forecasts=backtest.y_pred,
    )


def _worker_init() -> None:
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)


def prepare_dataset(
    name: str, frame: pd.DataFrame, spec: DataSpec, config: TrainConfig, origin_step: int
) -> DatasetRun:
    """Split and scale once, compute the baselines on the test origins."""
    from .backtest import baseline_backtests, test_origins

    prepared = prepare(frame, spec, config.window, config.horizon)
    origins = test_origins(prepared, config.window, config.horizon, origin_step)
    baselines, notes = baseline_backtests(prepared, origins, config.horizon)
    first = next(iter(baselines.values()))
    rows = first.origins
    steps = rows[:, None] + 1 + np.arange(config.horizon)
    run = DatasetRun(
        name=name,
        spec=spec,
        prepared=prepared,
        series=first.series,
        origin_times=prepared.times[rows],
        target_times=prepared.times[steps],
        actuals=first.y_true,
        notes=notes + prepared.notes,
    )
    for bname, b in baselines.items():
        run.baselines[bname] = b.y_pred
        run.baseline_rows.append({"dataset": name, "variant": bname, "mode": "", **b.metrics()})
    return run


def run_grid(
    tasks: list[Task],
    frames: dict[str, tuple[pd.DataFrame, DataSpec]],
    *,
    jobs: int = 1,
    origin_step: int = 1,
    on_result: Callable[[Task, RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every task, in ``jobs`` processes; results come back in task order."""
    results: dict[int, RunResult] = {}
    if jobs <= 1 or len(tasks) <= 1:
        import torch

        threads = torch.get_num_threads()
        try:
            for task in tasks:
                frame, spec = frames[task.dataset]
                results[task.index] = _run(task, frame, spec, origin_step)
                if on_result is not None:
                    on_result(task, results[task.index])
        finally:
            torch.set_num_threads(threads)
    else:
        context = mp.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init) as pool:
            futures = {pool.submit(_run, t, *frames[t.dataset], origin_step): t for t in tasks}
            try:
                for future in as_completed(futures):
                    task = futures[future]
                    results[task.index] = future.result()
                    if on_result is not None:
                        on_result(task, results[task.index])
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()  # stop the runs in flight: they are redone on resume
                raise
    return [results[t.index] for t in tasks]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
