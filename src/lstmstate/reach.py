"""`lstmstate reach`: how far back can each state strategy learn?

The echo task (``lstmstate.synthetic.echo``) repeats every random spike
``delay`` steps later. A model can only predict the echo if it remembers the
spike, so the test error against the delay measures each variant's memory
reach. Errors are read on a scale where 0 is the ideal predictor (knows every
past spike) and 1 is the no-memory predictor (the series mean)::

    normalised = (test MSE - ideal MSE) / (no-memory MSE - ideal MSE)

A variant *reaches* a delay when its mean normalised error there is at most
``REACHED`` (it predicts at least half of what memory can predict).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import synthetic
from .compare import RunResult, Task
from .files import atomic_write_text
from .report import _CSS, _color, _figure, _html_image, _html_table, _inline, _save

__all__ = ["REACHED", "plot_reach", "reach_summary", "reach_text", "write_reach_report"]

REACHED = 0.5


def reach_rows(
    tasks: list[Task], runs: list[RunResult], delays: dict[str, int], params: dict[str, Any]
) -> pd.DataFrame:
    """One row per run: variant, delay, seed, test MSE and its normalised error."""
    rows = []
    for task, run in zip(tasks, runs, strict=True):
        delay = delays[task.dataset]
        ideal = synthetic.ideal_mse("echo", **{**params, "delay": delay})
        memoryless = synthetic.baseline_mse("echo", **{**params, "delay": delay})
        mse = float(run.row["rmse"]) ** 2
        rows.append(
            {
                "variant": task.variant.name,
                "mode": str(task.config.mode),
                "layout": str(task.config.layout),
                "stride": task.config.stride,
                "loss_steps": str(task.config.loss_steps),
                "delay": delay,
                "seed": task.config.seed,
                "mse": mse,
                "ideal_mse": ideal,
                "no_memory_mse": memoryless,
                "normalised": (mse - ideal) / (memoryless - ideal),
                "seconds_per_epoch": run.row["seconds_per_epoch"],
                "window": task.config.window,
                "batch_size": task.config.batch_size,
                "epochs": task.config.epochs,
            }
        )
    return pd.DataFrame(rows)


def reach_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max normalised error per variant and delay."""
    grouped = rows.groupby(["variant", "delay"], sort=False)["normalised"]
    out = grouped.agg(["mean", "min", "max", "count"]).reset_index()
    return out.rename(columns={"count": "seeds"})


def reach_of(summary: pd.DataFrame) -> dict[str, int | None]:
    """Per variant: the longest delay whose mean normalised error is at most REACHED."""
    out: dict[str, int | None] = {}
    for variant, part in summary.groupby("variant", sort=False):
        reached = part.loc[part["mean"] <= REACHED, "delay"]
        out[str(variant)] = int(reached.max()) if len(reached) else None
    return out


def reach_text(summary: pd.DataFrame, window: int, batch: int) -> str:
    """One sentence per variant, plus how to read them."""
    lines = [
        f"Window T = {window}, batch B = {batch}: a chained batch backpropagates through "
        f"B·T = {batch * window} LSTM steps. A variant reaches a delay when its mean normalised "
        f"test error there is at most {REACHED} (0 = ideal, 1 = no memory)."
    ]
    for variant, delay in reach_of(summary).items():
        part = summary[summary["variant"] == variant]
        worst = part.sort_values("delay").iloc[-1]
        if delay is None:
            lines.append(
                f"**{variant}**: reaches none of the delays tested (normalised error "
                f"{part['mean'].min():.2f} at best)."
            )
        else:
            lines.append(
                f"**{variant}**: reaches delay **{delay}** (normalised error "
                f"{part.loc[part['delay'] == delay, 'mean'].iloc[0]:.2f}); at delay "
                f"{int(worst['delay'])} it is {worst['mean']:.2f}."
            )
    return "\n\n".join(lines)


def plot_reach(out: Path, summary: pd.DataFrame, window: int, batch: int) -> Path:
    """The memory reach chart: normalised test error against delay, one line per variant."""
    fig, axes = _figure(1, 1, (8.5, 4.2))
    ax = axes[0, 0]
    for i, (variant, part) in enumerate(summary.groupby("variant", sort=False)):
        part = part.sort_values("delay")
        ax.plot(part["delay"], part["mean"], "o-", color=_color(i), label=str(variant), ms=4)
        ax.fill_between(part["delay"], part["min"], part["max"], color=_color(i), alpha=0.15)
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(1, color="grey", lw=0.8, ls="--")
    ax.axhline(REACHED, color="grey", lw=0.6, ls=":")
    for x, label in [(window, "window T"), (batch * window, "chain B·T")]:
        ax.axvline(x, color="grey", lw=0.8, ls="-.")
        ax.annotate(label, (x, 1.05), fontsize=8, ha="center", color="dimgrey")
    ax.set_xscale("log")
    ax.set_xlabel("echo delay (steps)")
    ax.set_ylabel("normalised test MSE\n0 = ideal, 1 = no memory")
    ax.set_ylim(-0.1, 1.25)
    ax.set_title("Memory reach: how far back each state strategy learns (band: min-max over seeds)")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, Path(out) / "reach.png")


def write_reach_report(
    out: Path, rows: pd.DataFrame, window: int, batch: int, command: str
) -> list[Path]:
    """results.csv, summary.csv, reach.png, report.md and report.html (self-contained)."""
    out = Path(out)
    summary = reach_summary(rows)
    atomic_write_text(out / "results.csv", rows.to_csv(index=False))
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    chart = plot_reach(out, summary, window, batch)
    text = reach_text(summary, window, batch)
    delays = sorted(summary["delay"].unique())
    header = ["variant", *[f"delay {d}" for d in delays]]
    table = []
    for variant, part in summary.groupby("variant", sort=False):
        by_delay = dict(zip(part["delay"], part["mean"], strict=True))
        table.append([str(variant), *[f"{by_delay.get(d, np.nan):.2f}" for d in delays]])
    md = [
        "# lstmstate memory reach",
        "",
        f"Command: `{command}`",
        "",
        text,
        "",
        "Mean normalised test MSE per delay (0 = ideal predictor, 1 = predicting the mean):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(r) + " |" for r in table],
        "",
        "![Memory reach](reach.png)",
        "",
    ]
    atomic_write_text(out / "report.md", "\n".join(md))
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lstmstate memory reach</title><style>{_CSS}</style></head><body>",
        "<h1>lstmstate memory reach</h1>",
        f"<p>Command: <code>{html.escape(command)}</code></p>",
        *[f'<p class="verdict">{_inline(p)}</p>' for p in text.split("\n\n")],
        _html_table(header, table),
        _html_image(chart),
        "</body></html>",
    ]
    atomic_write_text(out / "report.html", "\n".join(page) + "\n")
    return [out / "results.csv", out / "summary.csv", chart, out / "report.md", out / "report.html"]
