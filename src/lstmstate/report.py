"""What `lstmstate compare` writes after the runs: summary.csv, the plots, report.md/.html.

Inputs are plain: the ``results.csv`` table (one row per dataset x variant x seed, and
the baselines as rows with an empty ``mode``), the per-run curves and forecasts
(``RunResult``) and per-dataset test actuals and baseline forecasts (``DatasetRun``).
Every metric here is an error, so lower is better. Plots use matplotlib's Agg canvas
directly (no pyplot, no global backend switch) and every file is written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy import stats

from .compare import DatasetRun, RunResult
from .files import atomic_write, atomic_write_text

__all__ = [
    "BASELINE_NAMES",
    "SUMMARY_METRICS",
    "plot_forecasts",
    "plot_horizon_error",
    "plot_loss_curves",
    "plot_path",
    "plot_rmse_spread",
    "plot_seconds_per_epoch",
    "summarize",
    "verdict",
    "write_report",
]

BASELINE_NAMES = ("naive", "seasonal_naive", "ets")
SUMMARY_METRICS = ("rmse", "mae", "mape", "smape", "mase", "theil_u2", "seconds_per_epoch")
_KEYS = ("dataset", "variant", "mode", "layout", "stride", "loss_steps")
_LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE",
    "smape": "sMAPE",
    "mase": "MASE",
    "theil_u2": "Theil U2",
    "seconds_per_epoch": "s/epoch",
}
_ALPHA = 0.05


# --- the table -----------------------------------------------------------------------


def _is_baseline(results: pd.DataFrame) -> pd.Series:
    """Baseline rows: an empty mode (NaN once read back from CSV) or a baseline's name."""
    named = results["variant"].isin(BASELINE_NAMES)
    if "mode" not in results:
        return named
    mode = results["mode"]
    return named | mode.isna() | (mode.astype(str).str.strip() == "")


def _ordered(results: pd.DataFrame) -> list[tuple[str, str]]:
    """(dataset, variant) in order of first appearance, models before baselines per dataset."""
    keys = results[["dataset", "variant"]].assign(baseline=_is_baseline(results).to_numpy())
    keys = keys.drop_duplicates(["dataset", "variant"])
    rank = {d: i for i, d in enumerate(pd.unique(keys["dataset"]))}
    keys = keys.assign(order=keys["dataset"].map(rank), position=np.arange(len(keys)))
    keys = keys.sort_values(["order", "baseline", "position"])
    return list(zip(keys["dataset"], keys["variant"], strict=True))


def _first(column: pd.Series) -> object:
    present = column.dropna()
    return present.iloc[0] if len(present) else np.nan


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x variant: ``<metric>_mean`` and ``<metric>_std`` over seeds.

    ``std`` uses ddof=1 (NaN for a single seed and for the baselines); NaN metric values
    are left out. ``n_seeds`` counts the rows with a seed (0 for a baseline).
    """
    rows = []
    for dataset, variant in _ordered(results):
        part = results[(results["dataset"] == dataset) & (results["variant"] == variant)]
        row: dict[str, object] = {k: _first(part[k]) if k in part else np.nan for k in _KEYS}
        row["n_seeds"] = int(part["seed"].notna().sum()) if "seed" in part else 0
        for metric in SUMMARY_METRICS:
            values = _numeric(part, metric)
            row[f"{metric}_mean"] = values.mean()
            row[f"{metric}_std"] = values.std(ddof=1)
        rows.append(row)
    columns = [*_KEYS, "n_seeds"]
    columns += [f"{m}_{s}" for m in SUMMARY_METRICS for s in ("mean", "std")]
    return pd.DataFrame(rows, columns=columns)


# --- the verdict ---------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.4g}"


def _mean_std(values: np.ndarray) -> str:
    """'1.234 ± 0.05 over 5 seeds', or '1.234 from one seed'."""
    mean = _fmt(float(np.mean(values)))
    if len(values) < 2:
        return f"{mean} from one seed"
    return f"{mean} ± {_fmt(float(np.std(values, ddof=1)))} over {len(values)} seeds"


def _per_variant(frame: pd.DataFrame, metric: str) -> dict[str, np.ndarray]:
    """Variant -> its metric values (NaN included), in order of first appearance."""
    values = _numeric(frame, metric)
    return {v: values[frame["variant"] == v].to_numpy(float) for v in pd.unique(frame["variant"])}


def _dataset_rows(results: pd.DataFrame, dataset: str) -> pd.DataFrame:
    frame = results[results["dataset"] == dataset]
    if frame.empty:
        known = ", ".join(map(str, pd.unique(results["dataset"]))) or "none"
        raise ValueError(f"dataset {dataset!r} has no rows in results; datasets: {known}")
    return frame


def _nan_notes(variants: Mapping[str, np.ndarray], label: str) -> list[str]:
    notes = []
    for name, values in variants.items():
        missing = int(np.sum(~np.isfinite(values)))
        if missing == len(values):
            notes.append(f"**{name}** has no finite {label} values and is left out.")
        elif missing:
            notes.append(f"Dropped {missing} NaN {label} value(s) of **{name}**.")
    return notes


def _finite(variants: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    kept = {k: v[np.isfinite(v)] for k, v in variants.items()}
    return {k: v for k, v in kept.items() if len(v)}


def _ranked(variants: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Lowest mean first; ties keep the order of first appearance."""
    return sorted(variants.items(), key=lambda kv: float(np.mean(kv[1])))


def _against_baseline(best: float, baselines: Mapping[str, np.ndarray], label: str) -> str:
    if not baselines:
        return f"No baseline has a finite {label} to compare with."
    name, values = _ranked(baselines)[0]
    base = float(np.mean(values))
    if base == 0:
        return f"The best baseline is **{name}** ({_fmt(base)})."
    change = (best - base) / abs(base) * 100
    if change == 0:
        return f"That equals the best baseline, **{name}** ({_fmt(base)})."
    side = "lower (better)" if change < 0 else "higher (worse)"
    return f"That is {abs(change):.1f}% {side} than the best baseline, **{name}** ({_fmt(base)})."


def _against_next(best: tuple[str, np.ndarray], second: tuple[str, np.ndarray]) -> str:
    (a, x), (b, y) = best, second
    other = f"**{b}** ({_mean_std(y)})"
    test = "Welch's t-test (two-sided, unequal variances, on the per-seed values)"
    unclear = f"no clear difference between **{a}** and **{b}**"
    if min(len(x), len(y)) < 2:
        return (
            f"The next-best variant is {other}. {test} needs >= 2 seeds per variant, "
            f"so there is {unclear}."
        )
    if np.std(x) == 0 and np.std(y) == 0:
        if np.mean(x) == np.mean(y):
            return f"The next-best variant is {other}: identical on every seed, {unclear}."
        return (
            f"Its lead over the next-best variant, {other}, exceeds the spread across seeds, "
            f"which is zero for both ({test} is undefined without spread)."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    if p < _ALPHA:
        return (
            f"Its lead over the next-best variant, {other}, exceeds the spread across seeds: "
            f"{test} gives p = {p:.2g}."
        )
    return (
        f"The next-best variant is {other}. There is {unclear}: {test} gives p = {p:.2g} "
        f"(>= {_ALPHA}), so the lead is within the spread across seeds."
    )


def verdict(results: pd.DataFrame, dataset: str, metric: str = "rmse") -> str:
    """A short paragraph (markdown): which model variant won on ``dataset`` and how clearly."""
    frame = _dataset_rows(results, dataset)
    if metric not in frame:
        raise ValueError(f"metric {metric!r} is not a column of results; try one of {_LABELS}")
    label = _LABELS.get(metric, metric)
    base = _is_baseline(frame)
    models, baselines = _per_variant(frame[~base], metric), _per_variant(frame[base], metric)
    ranked = _ranked(_finite(models))
    sentences = []
    if ranked:
        name, values = ranked[0]
        sentences.append(
            f"On **{dataset}**, the best model variant by mean {label} (lower is better) "
            f"is **{name}**: {_mean_std(values)}."
        )
        sentences.append(_against_baseline(float(np.mean(values)), _finite(baselines), label))
        if len(ranked) > 1:
            sentences.append(_against_next(ranked[0], ranked[1]))
    else:
        sentences.append(f"On **{dataset}**, no model variant has a finite {label}.")
        sentences.append(_best_baseline_only(_finite(baselines), label))
    sentences += _nan_notes({**models, **baselines}, label)
    return " ".join(sentences)


def _best_baseline_only(baselines: Mapping[str, np.ndarray], label: str) -> str:
    if not baselines:
        return f"No baseline has a finite {label} either."
    name, values = _ranked(baselines)[0]
    return f"The best baseline is **{name}** ({_fmt(float(np.mean(values)))})."


# --- plots ---------------------------------------------------------------------------

_BASELINE_STYLE: dict[str, dict[str, Any]] = {
    "naive": {"color": "0.45", "linestyle": ":"},
    "seasonal_naive": {"color": "0.45", "linestyle": "-."},
    "ets": {"color": "0.2", "linestyle": "--"},
}


def _baseline_style(name: str) -> dict[str, Any]:
    return _BASELINE_STYLE.get(name, {"color": "0.3", "linestyle": "--"})


def _color(i: int) -> str:
    """Model variant i of a dataset gets the same colour in every plot."""
    return f"C{i % 10}"


def _slug(name: str) -> str:
    """A dataset name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "dataset"


def plot_path(out: Path, dataset: str, kind: str) -> Path:
    """``<out>/<dataset>_<kind>.png``."""
    return Path(out) / f"{_slug(dataset)}_{kind}.png"


def _figure(
    rows: int = 1, cols: int = 1, size: tuple[float, float] = (8, 3.5)
) -> tuple[Figure, np.ndarray]:
    """A figure on the Agg canvas (no pyplot state) and its (rows, cols) axes."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return path


def _stack(arrays: Sequence[Sequence[float]]) -> np.ndarray:
    """(seeds, n) with NaN padding where the seeds' lengths differ."""
    n = max((len(a) for a in arrays), default=0)
    out = np.full((len(arrays), n), np.nan)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out


def _nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanmean(values, axis=axis)


def _forecast_stack(run: DatasetRun, name: str, seeds: Sequence[np.ndarray]) -> np.ndarray:
    """(seeds, n, H) forecasts of one variant, checked against the actuals' shape."""
    arrays = [np.asarray(f, dtype=float) for f in seeds]
    for a in arrays:
        if a.shape != run.actuals.shape:
            raise ValueError(
                f"forecasts of {name!r} have shape {a.shape}; expected {run.actuals.shape} "
                f"like the actuals of {run.name!r}"
            )
    return np.stack(arrays) if arrays else np.empty((0, *run.actuals.shape))


def plot_forecasts(
    out: Path, run: DatasetRun, forecasts: Mapping[str, Sequence[np.ndarray]]
) -> Path:
    """Test actuals vs each variant (mean and min-max band over seeds) and each baseline.

    First series only; the 1-step-ahead forecasts, and the h = H ones in a second panel
    when H > 1. ``forecasts`` maps variant -> one (n_origins, H) array per seed.
    """
    horizon = run.actuals.shape[1]
    rows = np.flatnonzero(np.asarray(run.series) == run.series[0])
    steps = [0] if horizon == 1 else [0, horizon - 1]
    stacks = {name: _forecast_stack(run, name, seeds) for name, seeds in forecasts.items()}
    fig, axes = _figure(len(steps), 1, (9, 3.2 * len(steps)))
    for ax, h in zip(axes[:, 0], steps, strict=True):
        times = run.target_times[rows, h]
        ax.plot(times, run.actuals[rows, h], color="black", lw=1.6, label="actual")
        for i, (name, stack) in enumerate(stacks.items()):
            if not len(stack):
                continue
            part = stack[:, rows, h]
            ax.plot(times, part.mean(axis=0), color=_color(i), lw=1, label=name)
            if len(stack) > 1:
                low, high = part.min(axis=0), part.max(axis=0)
                ax.fill_between(times, low, high, color=_color(i), alpha=0.2, lw=0)
        for name, pred in run.baselines.items():
            ax.plot(times, np.asarray(pred)[rows, h], lw=1, label=name, **_baseline_style(name))
        ax.set_title(f"{run.name}: {h + 1}-step-ahead test forecasts (first series)", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, plot_path(out, run.name, "forecasts"))


def _curve_panel(ax: Axes, curves: Mapping[str, Sequence[Sequence[float]]], title: str) -> None:
    positive = True
    for i, (name, seeds) in enumerate(curves.items()):
        mean = _nanmean(_stack(seeds))
        if not np.isfinite(mean).any():
            continue
        positive &= bool(np.all(mean[np.isfinite(mean)] > 0))
        ax.plot(np.arange(1, len(mean) + 1), mean, color=_color(i), label=name)
    if positive and ax.lines:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.lines:
        ax.legend(fontsize=7)


def plot_loss_curves(
    out: Path,
    dataset: str,
    train: Mapping[str, Sequence[Sequence[float]]],
    val: Mapping[str, Sequence[Sequence[float]]],
) -> Path:
    """Mean train and validation loss per epoch over seeds; variant -> one curve per seed."""
    fig, axes = _figure(1, 2, (10, 3.5))
    _curve_panel(axes[0, 0], train, f"{dataset}: training loss (mean over seeds)")
    _curve_panel(axes[0, 1], val, f"{dataset}: validation loss (mean over seeds)")
    return _save(fig, plot_path(out, dataset, "loss_curves"))


def _step_rmse(actuals: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RMSE per horizon step over the origins: (n, H) -> (H,)."""
    return np.sqrt(_nanmean((np.asarray(actuals) - np.asarray(pred)) ** 2, axis=0))


def plot_horizon_error(
    out: Path, run: DatasetRun, per_step: Mapping[str, Sequence[Sequence[float]]]
) -> Path:
    """RMSE per horizon step: variant -> one per-step list per seed; baselines from ``run``."""
    fig, axes = _figure()
    ax = axes[0, 0]
    steps = np.arange(1, run.actuals.shape[1] + 1)
    for i, (name, seeds) in enumerate(per_step.items()):
        ax.plot(
            steps, _nanmean(_stack(seeds))[: len(steps)], "o-", ms=3, color=_color(i), label=name
        )
    for name, pred in run.baselines.items():
        ax.plot(
            steps,
            _step_rmse(run.actuals, pred),
            ms=3,
            marker="s",
            label=name,
            **_baseline_style(name),
        )
    ax.set_xlabel("horizon step")
    ax.set_ylabel("RMSE")
    ax.set_xticks(steps)
    ax.set_title(f"{run.name}: test RMSE by horizon step (models: mean over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, plot_path(out, run.name, "horizon_error"))


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def plot_seconds_per_epoch(out: Path, dataset: str, seconds: Mapping[str, Sequence[float]]) -> Path:
    """Training seconds per epoch: mean over seeds as bars, ± std as error bars, seeds as dots."""
    fig, axes = _figure()
    ax = axes[0, 0]
    for i, values in enumerate(seconds.values()):
        kept = np.asarray(values, dtype=float)
        kept = kept[np.isfinite(kept)]
        if not len(kept):
            continue
        ax.bar(i, kept.mean(), yerr=_std(kept), color=_color(i), alpha=0.7, capsize=4)
        ax.plot(np.full(len(kept), i + 0.2), kept, "k.", ms=4)
    ax.set_xticks(range(len(seconds)), list(seconds), rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("seconds per epoch")
    ax.set_title(f"{dataset}: training time per epoch (mean ± std over seeds)", fontsize=9)
    return _save(fig, plot_path(out, dataset, "seconds_per_epoch"))


def plot_rmse_spread(
    out: Path, dataset: str, values: Mapping[str, Sequence[float]], baselines: Mapping[str, float]
) -> Path:
    """Per-seed test RMSE of each variant (box and dots); the baselines as horizontal lines."""
    fig, axes = _figure()
    ax = axes[0, 0]
    for i, seeds in enumerate(values.values()):
        kept = np.asarray(seeds, dtype=float)
        kept = kept[np.isfinite(kept)]
        if not len(kept):
            continue
        ax.boxplot([kept], positions=[i], widths=0.5, showfliers=False)
        jitter = np.linspace(-0.12, 0.12, len(kept)) if len(kept) > 1 else np.zeros(1)
        ax.plot(i + jitter, kept, "o", ms=4, color=_color(i), alpha=0.8)
    for name, value in baselines.items():
        if np.isfinite(value):
            ax.axhline(value, lw=1, label=f"{name} ({value:.4g})", **_baseline_style(name))
    ax.set_xticks(range(len(values)), list(values), rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.6, max(len(values), 1) - 0.4)
    ax.set_ylabel("test RMSE")
    ax.set_title(f"{dataset}: test RMSE across seeds", fontsize=9)
    if baselines:
        ax.legend(fontsize=7)
    return _save(fig, plot_path(out, dataset, "rmse_spread"))


# --- the report ----------------------------------------------------------------------

_PLOTS = {
    "forecasts": "Test forecasts, first series",
    "loss_curves": "Loss curves",
    "horizon_error": "Error by horizon step",
    "seconds_per_epoch": "Seconds per epoch",
    "rmse_spread": "RMSE across seeds",
}


@dataclass
class _Section:
    """One dataset's part of the report, rendered to markdown and to HTML alike."""

    dataset: str
    verdict: str
    header: list[str]
    rows: list[list[str]]
    images: list[Path]
    notes: list[str]


def _settings(row: pd.Series) -> str:
    if pd.isna(row["mode"]) or str(row["mode"]).strip() == "":
        return "baseline"
    parts = [str(row["mode"]), str(row["layout"])]
    if not pd.isna(row["stride"]):
        stride = row["stride"]
        parts.append(f"stride {int(stride) if float(stride).is_integer() else stride}")
    parts.append(f"loss {row['loss_steps']}")
    return ", ".join(p for p in parts if p != "nan")


def _cell(mean: float, std: float) -> str:
    return (
        _fmt(mean) if not np.isfinite(std) or not np.isfinite(mean) else f"{mean:.4g} ± {std:.4g}"
    )


def _table(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["variant", "settings", "seeds", *(_LABELS[m] for m in SUMMARY_METRICS)]
    rows = []
    for _, row in summary.iterrows():
        cells = [str(row["variant"]), _settings(row), str(row["n_seeds"] or "–")]
        cells += [_cell(row[f"{m}_mean"], row[f"{m}_std"]) for m in SUMMARY_METRICS]
        rows.append(cells)
    return header, rows


def _dropped_notes(frame: pd.DataFrame) -> list[str]:
    """The lanes layout leaves out the oldest n % B training windows of every epoch."""
    if "dropped_windows" not in frame:
        return []
    notes = []
    for variant in pd.unique(frame["variant"]):
        part = frame[frame["variant"] == variant]
        dropped = _numeric(part, "dropped_windows").max()
        if not dropped > 0:
            continue
        total = _numeric(part, "train_windows").max()
        of = f" of {int(total)}" if np.isfinite(total) else ""
        notes.append(
            f"**{variant}** ({_first(part['layout']) if 'layout' in part else '?'} layout) "
            f"left out the oldest {int(dropped)}{of} training windows in every epoch "
            "(the remainder that does not fill a batch of lanes)."
        )
    return notes


def _group_runs(
    runs: Iterable[RunResult], dataset: str, variants: list[str]
) -> dict[str, list[RunResult]]:
    grouped: dict[str, list[RunResult]] = {v: [] for v in variants}
    for run in runs:
        if run.row.get("dataset") == dataset and run.row.get("variant") in grouped:
            grouped[run.row["variant"]].append(run)
    return grouped


def _values(frame: pd.DataFrame, metric: str) -> dict[str, list[float]]:
    return {k: v.tolist() for k, v in _per_variant(frame, metric).items()}


def _plots(
    out: Path, dataset: str, frame: pd.DataFrame, runs: list[RunResult], data: DatasetRun | None
) -> tuple[list[Path], list[str]]:
    """Every plot of one dataset that the inputs allow, and notes on those left out."""
    base = _is_baseline(frame)
    models = frame[~base]
    grouped = _group_runs(runs, dataset, list(pd.unique(models["variant"])))
    paths, notes = [], []
    if data is not None:
        forecasts = {v: [r.forecasts for r in rs] for v, rs in grouped.items()}
        paths.append(plot_forecasts(out, data, forecasts))
    else:
        notes.append("No test data was passed for this dataset: no forecast or horizon plot.")
    train = {v: [r.train_loss for r in rs] for v, rs in grouped.items()}
    val = {v: [r.val_loss for r in rs] for v, rs in grouped.items()}
    paths.append(plot_loss_curves(out, dataset, train, val))
    if data is not None:
        steps = {v: [r.per_horizon.get("rmse", []) for r in rs] for v, rs in grouped.items()}
        paths.append(plot_horizon_error(out, data, steps))
    paths.append(plot_seconds_per_epoch(out, dataset, _values(models, "seconds_per_epoch")))
    baselines = {k: float(_nanmean(np.asarray(v))) for k, v in _values(frame[base], "rmse").items()}
    paths.append(plot_rmse_spread(out, dataset, _values(models, "rmse"), baselines))
    return paths, notes


def _section(
    out: Path,
    dataset: str,
    results: pd.DataFrame,
    summary: pd.DataFrame,
    runs: list[RunResult],
    data: DatasetRun | None,
    metric: str,
) -> _Section:
    frame = results[results["dataset"] == dataset]
    images, notes = _plots(out, dataset, frame, runs, data)
    notes = [*(data.notes if data is not None else []), *_dropped_notes(frame), *notes]
    header, rows = _table(summary[summary["dataset"] == dataset])
    return _Section(dataset, verdict(results, dataset, metric), header, rows, images, notes)


_TABLE_NOTE = (
    "Mean ± std over seeds (std with ddof=1; a single value where there is one run). "
    "Lower is better for every metric; seconds/epoch is training time."
)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code_span(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def _markdown(sections: list[_Section], command: str, notes: Sequence[str]) -> str:
    lines = ["# lstmstate comparison", ""]
    lines += [f"Command: {_code_span(command) if command else '(not recorded)'}", ""]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    for s in sections:
        lines += [f"## {s.dataset}", "", s.verdict, "", _TABLE_NOTE, ""]
        lines.append("| " + " | ".join(s.header) + " |")
        lines.append("|" + "|".join("---" for _ in s.header) + "|")
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.rows]
        lines.append("")
        for image in s.images:
            lines += [f"![{_caption(image)}]({image.name})", ""]
        if s.notes:
            lines += ["Notes:", "", *(f"- {n}" for n in s.notes), ""]
    return "\n".join(lines)


def _caption(image: Path) -> str:
    return next((c for k, c in _PLOTS.items() if image.stem.endswith(k)), image.stem)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1, h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: right; }
th { background: #f0f0f0; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
figure { margin: 1rem 0; }
img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .small { font-size: .85rem; color: #555; }
code { background: #f4f4f4; padding: .1rem .3rem; }
.verdict { background: #f7f9fc; border-left: 4px solid #4a78b0; padding: .5rem 1rem; }
"""


def _inline(text: str) -> str:
    """Escaped text with markdown's **bold** turned into <strong>."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(_caption(path))
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption} ({html.escape(path.name)})</figcaption></figure>"
    )


def _html_list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>" if items else ""


def _html(sections: list[_Section], command: str, notes: Sequence[str]) -> str:
    shown = f"<code>{html.escape(command)}</code>" if command else "(not recorded)"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>lstmstate comparison</title><style>{_CSS}</style></head><body>",
        "<h1>lstmstate comparison</h1>",
        f"<p>Command: {shown}</p>",
        _html_list(notes),
    ]
    for s in sections:
        parts += [
            f"<h2>{html.escape(s.dataset)}</h2>",
            f'<p class="verdict">{_inline(s.verdict)}</p>',
            f'<p class="small">{html.escape(_TABLE_NOTE)}</p>',
            _html_table(s.header, s.rows),
            *(_html_image(p) for p in s.images),
        ]
        if s.notes:
            parts += ["<p>Notes:</p>", _html_list(s.notes)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    out: Path,
    results: pd.DataFrame,
    runs: list[RunResult],
    datasets: dict[str, DatasetRun],
    *,
    metric: str = "rmse",
    command: str = "",
    notes: Sequence[str] = (),
) -> list[Path]:
    """summary.csv, every dataset's plots, report.md and report.html; the paths written.

    ``runs`` are matched to ``results`` by the dataset and variant in ``run.row``.
    ``datasets`` gives the test actuals and baselines for the forecast and horizon plots.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    sections = [
        _section(out, d, results, summary, runs, datasets.get(d), metric)
        for d in pd.unique(results["dataset"])
    ]
    atomic_write_text(out / "report.md", _markdown(sections, command, notes))
    atomic_write_text(out / "report.html", _html(sections, command, notes))
    images = [p for s in sections for p in s.images]
    return [out / "summary.csv", *images, out / "report.md", out / "report.html"]
