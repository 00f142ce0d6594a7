"""The training loop: one loop for all three modes, the strategy decides the state."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .config import TrainConfig
from .errors import TrainingDiverged, UserError
from .evaluate import origin_outputs
from .model import State, StatefulLSTM, detach
from .modes import strategy_for
from .series import SeriesData
from .windows import LossSteps, batch_count, plan_batches, window_starts

__all__ = ["FitResult", "History", "TrainingWindows", "fit", "training_windows", "validation_loss"]


@dataclass
class History:
    """Per-epoch record of a fit."""

    train_loss: list[float] = field(default_factory=list)  # mean batch MSE, scaled units
    val_loss: list[float] = field(default_factory=list)  # MSE at validation origins
    seconds: list[float] = field(default_factory=list)  # wall seconds of the training pass
    train_windows: int = 0
    dropped_windows: int = 0  # left out by the lanes layout (the oldest n % B)
    batches: int = 0

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.median(self.seconds)) if self.seconds else float("nan")

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass
class FitResult:
    model: StatefulLSTM
    history: History
    config: TrainConfig


@dataclass(frozen=True)
class TrainingWindows:
    """Training windows of all series, series after series, each in time order."""

    starts: np.ndarray  # first row of each window
    series: np.ndarray  # series number of each window


def training_windows(data: SeriesData, config: TrainConfig) -> TrainingWindows:
    """Windows whose inputs and targets all lie in the training part."""
    span = config.window + config.output_size  # input rows + target rows after the window
    starts, series = [], []
    for i, (a, train_end, _, _) in enumerate(data.bounds):
        s = window_starts(int(a), int(train_end) - span, config.stride)
        starts.append(s)
        series.append(np.full(len(s), i))
    return TrainingWindows(np.concatenate(starts), np.concatenate(series))


class _Batches:
    """Gathers a batch's inputs (B, T, F) and targets from strided views of the series."""

    def __init__(self, values: Tensor, config: TrainConfig) -> None:
        self.window = config.window
        self.all_steps = config.loss_steps is LossSteps.ALL
        self.views = values.unfold(0, config.window, 1)  # -> (N-T+1, F, T), no copy
        self.targets = values[:, 0].unfold(0, config.output_size, 1)  # -> (N-O+1, O)
        self.steps = torch.arange(config.window)

    def __call__(self, starts: np.ndarray) -> tuple[Tensor, Tensor]:
        s = torch.as_tensor(starts)
        x = self.views[s].transpose(1, 2)  # -> (B, T, F)
        if self.all_steps:
            y = self.targets[s[:, None] + 1 + self.steps]  # -> (B, T, O): next O at every step
        else:
            y = self.targets[s + self.window]  # -> (B, O): the O targets after the window
        return x, y

    def select(self, out: Tensor) -> Tensor:
        return out if self.all_steps else out[:, -1]


def validation_origins(data: SeriesData, config: TrainConfig) -> list[np.ndarray]:
    """Per series: origins whose forecast targets all lie in the validation part."""
    out = []
    for a, train_end, val_end, _ in data.bounds:
        first = max(int(train_end) - 1, int(a) + config.window - 1)
        out.append(np.arange(first, int(val_end) - config.output_size, dtype=np.int64))
    return out


@torch.no_grad()
def validation_loss(
    model: StatefulLSTM, values: Tensor, data: SeriesData, config: TrainConfig
) -> float:
    """MSE (scaled units) of the model's forecast at every validation origin."""
    errors, count = values.new_zeros(()), 0
    targets = values[:, 0].unfold(0, config.output_size, 1)  # -> (N-O+1, O)
    for (a, *_), origins in zip(data.bounds, validation_origins(data, config), strict=True):
        if len(origins) == 0:
            continue
        out, _ = origin_outputs(
            model, config.mode, values, int(a), origins, config.window, config.stride
        )
        errors += ((out - targets[torch.as_tensor(origins) + 1]) ** 2).sum()
        count += out.numel()
    return float(errors / count) if count else float("nan")


def check_trainable(data: SeriesData, config: TrainConfig) -> TrainingWindows:
    """Every check that can fail before training starts (so nothing is written first)."""
    if config.stride > config.window:
        raise UserError(
            f"stride {config.stride} is larger than the window {config.window}, which skips rows: "
            f"use --stride {config.window} or less"
        )
    windows = training_windows(data, config)
    if len(windows.starts) == 0:
        raise UserError(
            f"no training window fits: the training part needs at least "
            f"{config.window + config.output_size} rows per series; use a shorter --window"
        )
    plan_batches(len(windows.starts), config.batch_size, config.layout, np.random.default_rng(0))
    return windows


def fit(
    data: SeriesData,
    config: TrainConfig,
    *,
    progress: bool = False,
    on_epoch: Callable[[int, StatefulLSTM, History], None] | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> FitResult:
    """Train a model on ``data`` (already scaled) under ``config``.

    States are zeros at the start of every epoch; what a batch passes on is
    detached at the batch boundary. After every epoch ``checkpoint`` receives
    the full training state (weights, optimizer, random generators, history);
    ``resume`` continues from such a state exactly as if never stopped.
    Raises ``TrainingDiverged`` (holding the last good weights) when a loss
    becomes non-finite.
    """
    windows = check_trainable(data, config)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    values = torch.as_tensor(data.values, dtype=config.torch_dtype)
    model = StatefulLSTM(
        data.values.shape[1],
        config.hidden_size,
        config.num_layers,
        config.output_size,
        config.dropout,
    ).to(config.torch_dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)
    history = History(train_windows=len(windows.starts))
    first = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        history = History(**resume["history"])
        torch.set_rng_state(resume["torch_rng"])
        rng.bit_generator.state = resume["numpy_rng"]
        first = resume["epoch"]
    strategy = strategy_for(config.mode)
    batches = _Batches(values, config)
    loss_fn = nn.MSELoss()
    good = copy.deepcopy(model.state_dict())
    per_epoch = batch_count(len(windows.starts), config.batch_size, config.layout)
    bar = tqdm(
        total=config.epochs * per_epoch,
        initial=first * per_epoch,
        disable=not progress,
        desc=f"{config.mode}",
        unit="batch",
        leave=False,
    )
    for epoch in range(first, config.epochs):
        plan = plan_batches(len(windows.starts), config.batch_size, config.layout, rng)
        history.dropped_windows, history.batches = plan.dropped, len(plan.batches)
        model.train()
        tick = time.perf_counter()
        carried: State | None = None  # zeros at the start of every epoch
        previous: np.ndarray | None = None
        # preallocated: a list of 0-d tensors would keep each loss's storage alive (~3 GB at 1e6)
        losses = values.new_empty(len(plan.batches))
        for j, lanes in enumerate(plan.batches):
            series = windows.series[lanes]
            resets = strategy.resets(series, previous)
            x, y = batches(windows.starts[lanes])
            out, final = strategy.run(model, x, strategy.initial(carried, resets), resets)
            loss = loss_fn(batches.select(out), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimizer.step()
            carried = detach(final)  # truncated backprop: no gradient crosses a batch boundary
            previous = series
            losses[j] = loss.detach()
            if j % 16 == 15:
                bar.update(16)
        bar.update(len(plan.batches) % 16)
        history.seconds.append(time.perf_counter() - tick)
        if not torch.isfinite(losses).all():
            bad = int(torch.nonzero(~torch.isfinite(losses))[0])
            model.load_state_dict(good)
            bar.close()
            raise TrainingDiverged(
                f"training loss became non-finite at epoch {epoch + 1}, batch {bad + 1}: "
                "lower --lr, set --clip-grad (e.g. 1.0), or check the scaling of the data",
                last_good=good,
            )
        model.eval()
        history.train_loss.append(float(losses.mean()))
        history.val_loss.append(validation_loss(model, values, data, config))
        good = copy.deepcopy(model.state_dict())
        bar.set_postfix(
            epoch=f"{epoch + 1}/{config.epochs}",
            train=f"{history.train_loss[-1]:.4g}",
            val=f"{history.val_loss[-1]:.4g}",
        )
        if checkpoint is not None:
            checkpoint(
                {
                    "epoch": epoch + 1,
                    "model": good,
                    "optimizer": copy.deepcopy(optimizer.state_dict()),
                    "history": history.to_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "numpy_rng": rng.bit_generator.state,
                }
            )
        if on_epoch is not None:
            on_epoch(epoch, model, history)
    bar.close()
    model.eval()
    return FitResult(model, history, config)
