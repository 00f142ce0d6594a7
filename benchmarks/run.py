"""Benchmarks for lstmstate: framework overhead, the chained fast path, stream training,
memory and backtests, measured side by side in one run and printed as one table.

    python benchmarks/run.py            # full run (about 7 minutes on 2 cores)
    python benchmarks/run.py --quick    # smaller series, fewer epochs: under 2 minutes
    python benchmarks/run.py --only chained --only overhead
    python benchmarks/run.py --only profile   # torch.profiler op tables (not in the default run)

Every timing is the median of several epochs after one warm-up epoch. lstmstate's time
is ``History.seconds`` (the training pass of an epoch, without validation); the
hand-written loop times the same portion. Ratios come from one run, so they compare
like with like even on a busy machine; absolute seconds do not travel.

Sections (see README.md for what each row means):

overhead  seconds per epoch of each mode in lstmstate vs a minimal hand-written PyTorch
          loop doing the same math (same windows, batches, state carrying, detach, Adam,
          clip). The two run interleaved: after each lstmstate epoch (``on_epoch``) the
          hand loop runs one epoch, so load changes hit both alike. Same seed, same
          initial weights: the epoch-1 training losses agree (``epoch-1 loss d``).
chained   fast path (one LSTM call per batch) vs the seed's per-window chain
          (``StatefulLSTM.chained`` monkeypatched with ``chained_loop``) vs stateless, at
          batch 12, 32, 128, window 10, stride = window, on a 50,000-point series; and a
          profile of where an epoch's time goes (forward, backward, optimizer, data).
stream    ``stateful`` + ``lanes`` + ``stride = window`` + ``loss_steps = all`` vs the seed's
          stateless sliding windows (stride 1, loss last) on seattle_temps: seconds per epoch
          and wall time to reach the stateless run's best validation RMSE (within 2 %).
memory    peak RSS while training on synthetic series of 10^4, 10^5, 10^6 points, each in a
          fresh subprocess, minus the RSS after imports.
backtest  forecasts from all test origins at once (``Forecaster.backtest``) vs one
          ``forecast_scaled`` call per origin.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

SECTIONS = ("overhead", "chained", "stream", "memory", "backtest")
EXTRA = ("profile",)  # only on request: --only profile

WINDOW, HIDDEN, LAYERS, BATCH, LR, CLIP, SEED = 10, 30, 2, 32, 1e-2, 1.0, 0


# --------------------------------------------------------------------------- settings
@dataclass
class Settings:
    quick: bool
    series: int  # points of the synthetic series (overhead, chained)
    warmup: int  # epochs dropped before the median
    measured: int  # epochs in the median
    rounds: int  # chained: fits per case, interleaved (each warm-up + chained_measured epochs)
    chained_measured: int
    stateless_epochs: int  # stream: epochs of the seed's stateless run
    tol: float  # stream: "same RMSE" = within this fraction of the stateless best
    memory_sizes: tuple[int, ...]
    memory_seed_sizes: tuple[int, ...]  # the seed's stride-1 setup: 10^6 takes ~80 s
    backtest_sample: int  # per-origin calls timed on this many origins, extrapolated
    horizon: int
    threads: int

    @classmethod
    def make(cls, quick: bool, threads: int) -> Settings:
        if quick:
            return cls(
                quick=True,
                series=10_000,
                warmup=1,
                measured=2,
                rounds=1,
                chained_measured=2,
                stateless_epochs=6,
                tol=0.02,
                memory_sizes=(10**4, 10**5, 10**6),
                memory_seed_sizes=(10**4, 10**5),
                backtest_sample=10,
                horizon=24,
                threads=threads,
            )
        return cls(
            quick=False,
            series=50_000,
            warmup=1,
            measured=5,
            rounds=2,
            chained_measured=3,
            stateless_epochs=20,
            tol=0.02,
            memory_sizes=(10**4, 10**5, 10**6),
            memory_seed_sizes=(10**4, 10**5, 10**6),
            backtest_sample=40,
            horizon=24,
            threads=threads,
        )


# --------------------------------------------------------------------------- the clock
class _Clock:
    """``--clock wall`` (default) or ``cpu``: process CPU seconds, steady on a shared machine."""

    name = "wall"
    now: Callable[[], float] = staticmethod(time.perf_counter)


def clock() -> float:
    return _Clock.now()


class _CpuTime:
    """Stands in for the ``time`` module inside lstmstate.train: History.seconds in CPU seconds."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    perf_counter = staticmethod(time.process_time)


def use_clock(name: str) -> None:
    if name == "cpu":
        import lstmstate.train

        lstmstate.train.time = _CpuTime()  # type: ignore[attr-defined]
        _Clock.name, _Clock.now = "cpu", staticmethod(time.process_time)


# --------------------------------------------------------------------------- the table
@dataclass
class Row:
    section: str
    case: str
    value: str  # "0.512 s", "212 MB", "31 %"
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: Any, **kw: Any) -> None:
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  [{row.section}] {row.case}: {row.value} {row.ratio} {row.target} {row.met}")
        sys.stdout.flush()

    def render(self) -> str:
        head = Row("section", "case", "value", "ratio", "target", "met?")
        rows = [head, *self.rows]
        cols = ["section", "case", "value", "ratio", "target", "met"]
        width = {c: max(len(getattr(r, c)) for r in rows) for c in cols}
        lines = []
        for i, r in enumerate(rows):
            lines.append("  ".join(getattr(r, c).ljust(width[c]) for c in cols).rstrip())
            if i == 0:
                lines.append("  ".join("-" * width[c] for c in cols))
        return "\n".join(lines)


def check(value: float, op: str, bound: float) -> str:
    ok = value <= bound if op == "<=" else value < bound if op == "<" else value >= bound
    return "yes" if ok else "NO"


def secs(x: float) -> str:
    return f"{x:.3f} s" if x < 100 else f"{x:.1f} s"


def median_after_warmup(values: list[float], warmup: int) -> float:
    kept = values[warmup:] or values
    return float(statistics.median(kept))


# --------------------------------------------------------------------------- data
def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """A seeded series in [0, 1]: daily and weekly cycles (hourly points), trend, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    v = (
        np.sin(2 * np.pi * t / 24)
        + 0.4 * np.sin(2 * np.pi * t / 168)
        + 0.5 * t / max(n, 1)
        + 0.1 * rng.standard_normal(n)
    )
    return (v - v.min()) / (v.max() - v.min())


def synthetic_data(n_train: int, val: int = 200, test: int = 100) -> Any:
    """SeriesData with ``n_train`` training rows and a small validation part (cheap to score)."""
    from lstmstate import SeriesData

    values = synthetic(n_train + val + test)
    return SeriesData.single(values, n_train, n_train + val)


# --------------------------------------------------------------------------- hand loop
# A minimal hand-written PyTorch training loop: no lstmstate in here. Windows are
# materialised once (setup, not timed), batches are plain slices; the loop carries,
# detaches and clips exactly as lstmstate's modes say (DESIGN §1, §2).


class HandNet(nn.Module):
    def __init__(self, features: int, hidden: int, layers: int) -> None:
        super().__init__()  # same construction order as StatefulLSTM: same init per seed
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)


class HandLoop:
    def __init__(
        self,
        values: np.ndarray,
        train_end: int,
        mode: str,
        layout: str,
        window: int,
        stride: int,
        loss_steps: str,
        batch: int,
        seed: int = SEED,
    ) -> None:
        torch.manual_seed(seed)
        v = torch.as_tensor(values.reshape(len(values), -1), dtype=torch.float32)  # (N, F)
        self.model = HandNet(v.shape[1], HIDDEN, LAYERS)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.mode, self.last = mode, loss_steps == "last"
        starts = np.arange(0, train_end - window - 1 + 1, stride)  # inputs + 1 target in train
        rows = starts[:, None] + np.arange(window)  # (n, T)
        x = v[torch.as_tensor(rows)]  # -> (n, T, F)
        if self.last:
            y = v[torch.as_tensor(starts + window), :1]  # -> (n, 1)
        else:
            y = v[torch.as_tensor(rows + 1), :1]  # -> (n, T, 1)
        n = len(starts)
        if layout == "lanes":  # lane i = contiguous block i, oldest n % B dropped
            per = n // batch
            first = n - per * batch
            grid = torch.as_tensor(first + np.arange(batch)[:, None] * per + np.arange(per))
            xb, yb = x[grid.T].contiguous(), y[grid.T].contiguous()  # (per, B, ...)
            self.batches = [(xb[j], yb[j]) for j in range(per)]
        else:
            self.batches = [(x[j : j + batch], y[j : j + batch]) for j in range(0, n, batch)]

    def epoch(self) -> float:
        lstm, head, opt, params = self.model.lstm, self.model.head, self.opt, self.model.parameters
        state = None
        losses = []
        for x, y in self.batches:
            if self.mode == "stateless":
                out, _ = lstm(x)
            elif self.mode == "stateful":
                if state is not None and state[0].shape[1] != len(x):  # a last partial batch
                    state = (state[0][:, : len(x)], state[1][:, : len(x)])
                out, state = lstm(x, state)
            else:  # chained: the batch's windows back to back, one lane
                b, t, f = x.shape
                out, state = lstm(x.reshape(1, b * t, f), state)
                out = out.reshape(b, t, -1)
            pred = head(out[:, -1]) if self.last else head(out)
            loss = nn.functional.mse_loss(pred, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params(), CLIP)
            opt.step()
            if state is not None:
                state = (state[0].detach(), state[1].detach())
            losses.append(loss.detach())
        return float(torch.stack(losses).mean())


# --------------------------------------------------------------------------- helpers
def config(**kw: Any) -> Any:
    from lstmstate import TrainConfig

    base = dict(
        window=WINDOW,
        batch_size=BATCH,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        lr=LR,
        clip_grad=CLIP,
        seed=SEED,
        dtype="float32",
    )
    base.update(kw)
    return TrainConfig(**base)


def label(mode: str, layout: str, stride: int, loss_steps: str, batch: int = BATCH) -> str:
    return f"{mode} {layout} s{stride} {loss_steps} B{batch}"


@contextmanager
def per_window_chain() -> Iterator[None]:
    """``StatefulLSTM.chained`` replaced by the seed's per-window loop for the duration."""
    from lstmstate import StatefulLSTM

    fast = StatefulLSTM.chained

    def loop(self: Any, x: Any, state: Any = None, resets: Any = None) -> Any:
        if resets is not None:
            raise RuntimeError("per-window benchmark chain: one series only")
        return StatefulLSTM.chained_loop(self, x, state)

    StatefulLSTM.chained = loop  # type: ignore[method-assign]
    try:
        yield
    finally:
        StatefulLSTM.chained = fast  # type: ignore[method-assign]


# --------------------------------------------------------------------------- overhead
OVERHEAD_CASES = [
    # mode, layout, stride, loss_steps: each mode as the seed ran it and as a stream
    ("stateless", "sequential", 1, "last"),
    ("stateless", "sequential", WINDOW, "last"),
    ("stateful", "sequential", 1, "last"),
    ("stateful", "lanes", WINDOW, "all"),
    ("chained", "sequential", 1, "last"),
    ("chained", "sequential", WINDOW, "all"),
]


def run_overhead(s: Settings, table: Table) -> None:
    data = synthetic_data(s.series)
    for case in OVERHEAD_CASES:
        overhead_case(s, data, *case, table)


def overhead_case(
    s: Settings, data: Any, mode: str, layout: str, stride: int, loss_steps: str, table: Table
) -> None:
    """One mode's lstmstate epochs, each followed (in ``on_epoch``) by one hand-loop epoch."""
    from lstmstate import fit

    cfg = config(
        mode=mode, layout=layout, stride=stride, loss_steps=loss_steps, epochs=s.warmup + s.measured
    )
    train_end = int(data.bounds[0][1])
    hand = HandLoop(data.values, train_end, mode, layout, WINDOW, stride, loss_steps, BATCH)
    hand_secs: list[float] = []
    hand_loss: list[float] = []
    marks: list[float] = []  # entry and exit of each on_epoch call

    def after_epoch(_epoch: int, _model: Any, _history: Any) -> None:
        marks.append(clock())
        tick = clock()
        hand_loss.append(hand.epoch())
        hand_secs.append(clock() - tick)
        marks.append(clock())

    start = clock()
    hist = fit(data, cfg, on_epoch=after_epoch).history
    lib = median_after_warmup(hist.seconds, s.warmup)
    ref = median_after_warmup(hand_secs, s.warmup)
    # each lstmstate epoch's time outside its training pass: validation, weight copy, setup
    begins = [start] + marks[1::2]
    outside = [m - b - t for b, m, t in zip(begins, marks[0::2], hist.seconds, strict=False)]
    val = median_after_warmup(outside, s.warmup)
    # same math: epoch-1 training losses agree to float32 rounding (later epochs drift)
    dloss = abs(hist.train_loss[0] - hand_loss[0]) / max(abs(hand_loss[0]), 1e-12)
    name = label(mode, layout, stride, loss_steps)
    table.add(
        "overhead",
        f"{name}: lstmstate / hand ({hist.batches} batches, epoch-1 loss d {dloss:.0e})",
        f"{secs(lib)} / {secs(ref)}",
        f"{lib / ref:.2f}x",
        "<= 1.10x",
        check(lib / ref, "<=", 1.10),
    )
    table.add(
        "overhead",
        f"{name}: lstmstate validation etc. per epoch (not in s/epoch)",
        secs(val),
        f"{val / lib:.2f}x train",
    )


# --------------------------------------------------------------------------- chained
class PhaseTimer:
    """Wall time of fit()'s phases, by wrapping the callables fit() looks up at call time."""

    def __init__(self) -> None:
        self.t = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
        self.saved: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)
        t = self.t

        def timed(*args: Any, **kw: Any) -> Any:
            tick = clock()
            try:
                return original(*args, **kw)
            finally:
                t[phase] += clock() - tick

        self.saved.append((owner, name, original))
        setattr(owner, name, timed)

    def __enter__(self) -> PhaseTimer:
        from lstmstate import modes, train

        self.wrap(train._Batches, "__call__", "data")
        for cls in (modes.Chained, modes.Stateless, modes.Stateful):
            self.wrap(cls, "resets", "data")
            self.wrap(cls, "initial", "data")
            self.wrap(cls, "run", "forward")
        self.wrap(nn.MSELoss, "forward", "forward")
        self.wrap(torch.Tensor, "backward", "backward")
        self.wrap(torch.optim.Optimizer, "zero_grad", "optimizer")
        self.wrap(torch.nn.utils, "clip_grad_norm_", "optimizer")
        self.wrap(torch.optim.Adam, "step", "optimizer")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self.saved):
            setattr(owner, name, original)

    def reset(self) -> None:
        for k in self.t:
            self.t[k] = 0.0


def profile_epoch(data: Any, cfg: Any, per_window: bool) -> tuple[dict[str, float], float]:
    """Phase seconds of the last of two epochs of ``fit`` (the first warms up)."""
    from lstmstate import fit

    phases: list[dict[str, float]] = []
    timer = PhaseTimer()

    def after_epoch(_epoch: int, _model: Any, _history: Any) -> None:
        phases.append(dict(timer.t))
        timer.reset()

    with timer, per_window_chain() if per_window else _nothing():
        hist = fit(data, cfg.replace(epochs=2), on_epoch=after_epoch).history
    # validation ran between the epochs, after the timer's snapshot: not counted
    return phases[-1], hist.seconds[-1]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def phase_line(phases: dict[str, float], total: float) -> str:
    other = total - sum(phases.values())
    parts = [f"{k} {100 * v / total:.0f}%" for k, v in phases.items()]
    return ", ".join(parts) + f", other {100 * other / total:.0f}%"


def run_chained(s: Settings, table: Table) -> None:
    from lstmstate import fit

    data = synthetic_data(s.series)
    variants = {
        "fast": ("chained", False),
        "per-window": ("chained", True),
        "stateless": ("stateless", False),
    }
    results: dict[tuple[int, str], list[float]] = {}
    for _ in range(s.rounds):  # interleaved rounds: load changes hit every variant alike
        for batch in (12, 32, 128):
            for name, (mode, per_window) in variants.items():
                cfg = config(
                    mode=mode,
                    stride=WINDOW,
                    loss_steps="all",
                    batch_size=batch,
                    epochs=s.warmup + s.chained_measured,
                )
                with per_window_chain() if per_window else _nothing():
                    hist = fit(data, cfg).history
                results.setdefault((batch, name), []).extend(hist.seconds[s.warmup :])
    for batch in (12, 32, 128):
        fast = statistics.median(results[(batch, "fast")])
        loop = statistics.median(results[(batch, "per-window")])
        free = statistics.median(results[(batch, "stateless")])
        main = batch == 32
        table.add(
            "chained",
            f"B{batch}: fast / stateless (s{WINDOW} all)",
            f"{secs(fast)} / {secs(free)}",
            f"{fast / free:.2f}x",
            "<= 1.7x" if main else "(info)",
            check(fast / free, "<=", 1.7) if main else "",
        )
        table.add(
            "chained",
            f"B{batch}: per-window chain / fast",
            f"{secs(loop)} / {secs(fast)}",
            f"{loop / fast:.1f}x",
            ">= 5x" if main else "(info)",
            check(loop / fast, ">=", 5) if main else "",
        )
    for name, per_window in (("fast", False), ("per-window", True)):
        cfg = config(mode="chained", stride=WINDOW, loss_steps="all", batch_size=32)
        phases, total = profile_epoch(data, cfg, per_window)
        table.add("chained", f"B32 {name} profile: {phase_line(phases, total)}", secs(total))
    cfg = config(mode="stateless", stride=WINDOW, loss_steps="all", batch_size=32)
    phases, total = profile_epoch(data, cfg, False)
    table.add("chained", f"B32 stateless profile: {phase_line(phases, total)}", secs(total))


# --------------------------------------------------------------------------- stream
class Stop(Exception):
    pass


def run_stream(s: Settings, table: Table) -> None:
    from lstmstate import datasets, fit
    from lstmstate.data import prepare, spec_for_dataset

    name = "seattle_temps"
    prepared = prepare(datasets.load(name), spec_for_dataset(name), WINDOW, 1)
    data = prepared.data

    def track(cfg: Any, target: float | None, budget: float | None) -> tuple[list, Any]:
        curve: list[tuple[float, float, float]] = []  # (wall since start, val rmse, train s)
        start = clock()

        def after_epoch(_epoch: int, _model: Any, history: Any) -> None:
            rmse = float(np.sqrt(history.val_loss[-1]))
            curve.append((clock() - start, rmse, sum(history.seconds)))
            if target is not None and rmse <= target:
                raise Stop
            if budget is not None and curve[-1][0] > budget:
                raise Stop

        hist = None
        try:
            hist = fit(data, cfg, on_epoch=after_epoch).history
        except Stop:
            pass
        return curve, hist

    seed_cfg = config(mode="stateless", stride=1, loss_steps="last", epochs=s.stateless_epochs)
    stream_cfg = config(
        mode="stateful", layout="lanes", stride=WINDOW, loss_steps="all", epochs=5000
    )
    for cfg in (seed_cfg, stream_cfg):  # one-time torch start-up costs go to neither run
        fit(data, cfg.replace(epochs=1))
    seed_curve, _ = track(seed_cfg, None, None)
    best = min(r for _, r, _ in seed_curve)
    goal = best * (1 + s.tol)
    seed_hit = next(i for i, (_, r, _) in enumerate(seed_curve) if r <= goal)
    seed_wall = seed_curve[seed_hit][0]
    budget = 3 * seed_curve[-1][0]
    stream_curve, _ = track(stream_cfg, goal, budget)
    hit = next((i for i, (_, r, _) in enumerate(stream_curve) if r <= goal), None)

    def per_epoch(curve: list) -> float:
        train = np.diff([0.0] + [c[2] for c in curve])
        return median_after_warmup(list(train), s.warmup)

    sp, st = per_epoch(seed_curve), per_epoch(stream_curve)
    table.add(
        "stream",
        f"{name}: stream (stateful lanes s{WINDOW} all) / seed (stateless seq s1 last) s/epoch",
        f"{secs(st)} / {secs(sp)}",
        f"{st / sp:.2f}x",
        "(info)",
    )
    table.add(
        "stream",
        f"{name}: target val RMSE = seed best {best:.4f} x {1 + s.tol:g} (scaled); seed reached "
        f"it at epoch {seed_hit + 1}/{len(seed_curve)}",
        secs(seed_wall),
    )
    if hit is None:
        last = stream_curve[-1]
        table.add(
            "stream",
            f"{name}: stream did NOT reach {goal:.4f} in {len(stream_curve)} epochs "
            f"(best {min(r for _, r, _ in stream_curve):.4f})",
            secs(last[0]),
            f"> {last[0] / seed_wall:.2f}x",
            "<= 0.333x",
            "NO",
        )
        return
    wall, _, train = stream_curve[hit]
    table.add(
        "stream",
        f"{name}: wall to target, stream / seed (stream epoch {hit + 1}; incl. validation)",
        f"{secs(wall)} / {secs(seed_wall)}",
        f"{wall / seed_wall:.3f}x",
        "<= 0.333x",
        check(wall / seed_wall, "<=", 1 / 3),
    )
    seed_train = seed_curve[seed_hit][2]
    table.add(
        "stream",
        f"{name}: training seconds to target only, stream / seed",
        f"{secs(train)} / {secs(seed_train)}",
        f"{train / seed_train:.3f}x",
        "(info)",
    )


# --------------------------------------------------------------------------- memory
MEMORY_SETUPS = {
    "stream": dict(mode="stateful", layout="lanes", stride=WINDOW, loss_steps="all", batch_size=32),
    # the seed's sliding windows: one window per row (31,250 batches on 10^6 points: full run only)
    "seed": dict(mode="stateless", layout="sequential", stride=1, loss_steps="last", batch_size=32),
}


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB.

    ``ru_maxrss`` keeps the high-water mark across fork and exec, so a child started by a
    big parent reports at least the parent's size; ``VmHWM`` in /proc belongs to the
    child's own address space. Use it where there is one, ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(n: int, setup: str) -> None:
    """In a fresh interpreter: print JSON with the peak RSS (KiB) after imports and at the end."""
    import lstmstate  # noqa: F401  (the imports are part of the baseline)
    from lstmstate import fit

    base, base_ru = peak_rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = synthetic_data(n - 300)
    cfg = config(epochs=1, **MEMORY_SETUPS[setup])
    tick = time.perf_counter()
    fit(data, cfg)
    wall = time.perf_counter() - tick
    peak, peak_ru = peak_rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"base_kib": base, "peak_kib": peak, "ru_base": base_ru, "ru_peak": peak_ru}
    print(json.dumps({**out, "wall": wall}))


def run_memory(s: Settings, table: Table) -> None:
    target = 10**6
    for setup, sizes in (("stream", s.memory_sizes), ("seed", s.memory_seed_sizes)):
        growth = {}
        for n in sizes:
            cmd = [sys.executable, __file__, "--memory-child", str(n), setup]
            cmd += ["--threads", str(s.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                table.add("memory", f"{setup} n={n:.0e}: child failed: {out.stderr[-300:]}", "")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            net = (r["peak_kib"] - r["base_kib"]) / 1024
            growth[n] = net
            table.add(
                "memory",
                f"{setup} ({label(**_short(MEMORY_SETUPS[setup]))}) n={n:.0e}: peak RSS - after "
                f"imports (abs {r['peak_kib'] / 1024:.0f} MB, ru_maxrss "
                f"{r['ru_base'] / 1024:.0f}->{r['ru_peak'] / 1024:.0f} MB, 1 epoch "
                f"{r['wall']:.1f} s)",
                f"{net:.0f} MB",
                "",
                "< 1024 MB" if n == target else "",
                check(net, "<", 1024) if n == target else "",
            )
        done = sorted(growth)
        if len(done) < 2:
            continue
        a, b = done[-2], done[-1]
        per_point = (growth[b] - growth[a]) * 2**20 / (b - a)
        table.add(
            "memory",
            f"{setup}: growth per point between {a:.0e} and {b:.0e} (one float64 row = 8 B; "
            f"a materialised float32 window = {4 * WINDOW} B)",
            f"{per_point:.0f} B",
        )
        if b < target:
            guess = growth[b] + per_point * (target - b) / 2**20
            table.add(
                "memory",
                f"{setup} n=1e+06 extrapolated from {a:.0e}..{b:.0e} (full run measures it)",
                f"{guess:.0f} MB",
                "",
                "< 1024 MB",
                f"{check(guess, '<', 1024)} (extrap.)",
            )


def _short(d: dict) -> dict:
    return {
        "mode": d["mode"],
        "layout": d["layout"],
        "stride": d["stride"],
        "loss_steps": d["loss_steps"],
        "batch": d["batch_size"],
    }


# --------------------------------------------------------------------------- backtest
def run_backtest(s: Settings, table: Table) -> None:
    from lstmstate import datasets
    from lstmstate.api import Forecaster
    from lstmstate.backtest import test_origins
    from lstmstate.data import spec_for_dataset
    from lstmstate.forecast import forecast_scaled

    name = "seattle_temps"
    frame, spec = datasets.load(name), spec_for_dataset(name)
    setups = {
        "stateless s1": dict(mode="stateless", stride=1, loss_steps="last"),
        "stateful lanes s10": dict(
            mode="stateful", layout="lanes", stride=WINDOW, loss_steps="all"
        ),
    }
    for case, kw in setups.items():
        cfg = config(epochs=1, horizon=s.horizon, **kw)
        f = Forecaster.fit(frame, cfg, spec)
        values = f._values()
        start = int(f.prepared.data.bounds[0][0])
        origins = test_origins(f.prepared, cfg.window, cfg.horizon)[0]
        runs = []
        for _ in range(1 + s.measured):
            tick = clock()
            bt = f.backtest()
            runs.append(clock() - tick)
        together = median_after_warmup(runs, 1)
        sample = origins[np.linspace(0, len(origins) - 1, s.backtest_sample).astype(int)]
        forecast_scaled(f.model, cfg, values, start, sample[:1])  # warm-up
        n = len(sample)
        tick = clock()
        one = [forecast_scaled(f.model, cfg, values, start, sample[i : i + 1]) for i in range(n)]
        each = (clock() - tick) / len(sample) * len(origins)
        # the per-origin forecasts must equal the batched ones
        batched = forecast_scaled(f.model, cfg, values, start, sample)
        diff = float((torch.cat(one) - batched).abs().max())
        table.add(
            "backtest",
            f"{name} {case} H{cfg.horizon}, {len(origins)} origins ({bt.y_pred.shape[0]} in "
            f"backtest): per-origin calls (timed on {len(sample)}, scaled up; max diff "
            f"{diff:.0e}) / Forecaster.backtest()",
            f"{secs(each)} / {secs(together)}",
            f"{each / together:.0f}x",
            "(info)",
        )


# --------------------------------------------------------------------------- profile
def run_profile(s: Settings, table: Table) -> None:
    """torch.profiler op tables of one lstmstate epoch per overhead case (for diagnosis)."""
    data = synthetic_data(s.series)
    for case in OVERHEAD_CASES:
        profile_case(data, *case)
        table.add("profile", label(*case), "see above")


def profile_case(data: Any, mode: str, layout: str, stride: int, loss_steps: str) -> None:
    from torch.profiler import ProfilerActivity, profile

    from lstmstate import fit

    cfg = config(mode=mode, layout=layout, stride=stride, loss_steps=loss_steps, epochs=2)
    prof = profile(activities=[ProfilerActivity.CPU])

    def after_epoch(epoch: int, _model: Any, _history: Any) -> None:
        if epoch == 0:
            prof.__enter__()

    fit(data, cfg, on_epoch=after_epoch)  # profiles epoch 2 and its validation
    prof.__exit__(None, None, None)
    print(f"\n=== {label(mode, layout, stride, loss_steps)}: epoch 2 and its validation")
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25))


# --------------------------------------------------------------------------- main
RUNNERS: dict[str, Callable[[Settings, Table], None]] = {
    "overhead": run_overhead,
    "chained": run_chained,
    "stream": run_stream,
    "memory": run_memory,
    "backtest": run_backtest,
    "profile": run_profile,
}


def print_config(s: Settings, sections: list[str]) -> None:
    import lstmstate

    load = os.getloadavg()
    print("lstmstate benchmarks")
    print(
        f"  lstmstate {lstmstate.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cpus, torch threads {torch.get_num_threads()}, clock {_Clock.name}"
    )
    print(
        f"  load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
        "(on a busy machine read the ratios, not the seconds)"
    )
    print(
        f"  model: hidden {HIDDEN}, layers {LAYERS}, float32, window {WINDOW}, batch {BATCH} "
        f"unless stated, Adam lr {LR}, clip {CLIP}, seed {SEED}"
    )
    print(
        f"  {'quick' if s.quick else 'full'} run: synthetic series {s.series:,} points "
        f"(+200 validation +100 test), {s.warmup} warm-up + median of {s.measured} epochs"
        f" (chained: {s.chained_measured} epochs x {s.rounds} interleaved rounds); "
        f"stream: seattle_temps, seed run {s.stateless_epochs} epochs, same RMSE = within "
        f"{100 * s.tol:g}% of its best; memory sizes "
        f"{', '.join(f'{n:.0e}' for n in s.memory_sizes)} (stream setup), "
        f"{', '.join(f'{n:.0e}' for n in s.memory_seed_sizes)} (seed setup); "
        f"backtest horizon {s.horizon}"
    )
    print(f"  sections: {', '.join(sections)}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="lstmstate benchmarks: one table of timings, ratios and targets."
    )
    parser.add_argument("--quick", action="store_true", help="smaller and fewer: under 2 minutes")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS + EXTRA,
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: steady; 2 gain <= 20%% on an idle 2-core machine "
        "and run 15-200x slower on a loaded one)",
    )
    parser.add_argument("--memory-child", nargs=2, metavar=("N", "SETUP"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall seconds (default), or process CPU seconds: steadier when others load the "
        "machine (with --threads 1 the two agree on an idle machine)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    use_clock(args.clock)
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return 0
    s = Settings.make(args.quick, args.threads)
    sections = args.only or list(SECTIONS)
    print_config(s, sections)
    table = Table()
    began = time.perf_counter()
    for name in sections:
        tick = time.perf_counter()
        print(f"\n[{name}] ...")
        RUNNERS[name](s, table)
        print(f"[{name}] done in {time.perf_counter() - tick:.0f} s")
    print(
        f"\nall sections in {time.perf_counter() - began:.0f} s, load average now "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
