"""`lstmstate compare`: the grid of datasets × variants × seeds, and its report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from .cli import (
    DATA_KEYS,
    MODEL_KEYS,
    _take,
    build_config,
    build_data,
    data_options,
    model_options,
)
from .compare import (
    DatasetRun,
    RunResult,
    Task,
    Variant,
    default_jobs,
    default_variants,
    fit_batch_size,
    mode_variants,
    prepare_dataset,
    result_from_json,
    result_to_json,
    run_grid,
    run_key,
)
from .config import TrainConfig
from .data import DataSpec, Prepared, spec_for_dataset
from .errors import Interrupted, UserError
from .files import atomic_write_text
from .metrics import METRICS
from .modes import StateMode
from .outdir import check_out, clear_dir, staged_dir
from .train import check_trainable

__all__ = ["compare", "reach"]

LAYOUT_KEYS = ("layout", "stride", "loss_steps")
REACH_DEFAULTS = {"batch_size": 32, "epochs": 20, "lr": 3e-3}


def _modes(text: str | None, single: str | None) -> list[str]:
    if text is None:
        return [single] if single else [m.value for m in StateMode]
    modes = [m.strip() for m in text.split(",") if m.strip()]
    for m in modes:
        StateMode.parse(m)
    if not modes:
        raise UserError("--modes needs at least one of stateless, stateful, chained")
    return list(dict.fromkeys(modes))


@click.command()
@data_options
@model_options
@click.option("--modes", help="Modes to compare, comma-separated (default all three).")
@click.option("--seeds", type=int, default=5, show_default=True, help="Seeds per variant.")
@click.option("--jobs", type=int, help="Worker processes (default: the number of cores).")
@click.option("--origin-step", type=int, default=1, show_default=True, help="Backtest every k-th.")
@click.option(
    "--metric",
    type=click.Choice(list(METRICS)),
    default="rmse",
    show_default=True,
    help="Metric that decides the verdict.",
)
@click.option("--out", type=click.Path(), help="Output folder (default runs/compare-<data>).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out.")
@click.option("--resume", is_flag=True, help="Keep the runs already finished in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compare(
    modes: str | None,
    seeds: int,
    jobs: int | None,
    origin_step: int,
    metric: str,
    out: str | None,
    overwrite: bool,
    resume: bool,
    quiet: bool,
    **kwargs: Any,
) -> None:
    """Train every state strategy for several seeds, backtest, and report which wins.

    Each finished run is recorded in OUT/runs/ as soon as it ends; after an
    interruption the same command with --resume runs only what is missing.
    """
    from tqdm.auto import tqdm

    from .report import write_report

    if seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {seeds}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {jobs}")
    data_opts = _take(kwargs, DATA_KEYS)
    model_opts = _take(kwargs, MODEL_KEYS)
    explicit_layout = any(model_opts[k] is not None for k in LAYOUT_KEYS)
    explicit_batch = model_opts["batch_size"] is not None
    names = _dataset_names(data_opts)
    frames, bases = {}, {}
    for name in names:
        opts = dict(data_opts, dataset=name) if name is not None else data_opts
        frame, spec, window = build_data(opts)
        config = build_config(dict(model_opts), window)
        frames[spec.name] = (frame, spec)
        bases[spec.name] = config
    mode_list = _modes(modes, str(next(iter(bases.values())).mode) if model_opts["mode"] else None)
    variants = mode_variants(mode_list) if explicit_layout else default_variants(mode_list)
    if not variants:
        raise UserError("no variant to run: check --modes")
    target = Path(out or f"runs/compare-{'all' if len(names) > 1 else next(iter(frames))}")
    if resume and overwrite:
        raise UserError("--resume keeps finished runs and --overwrite deletes them: choose one")
    if not resume:
        check_out(target, overwrite)

    datasets: dict[str, DatasetRun] = {}
    tasks: list[Task] = []
    for name, (frame, spec) in frames.items():
        base = bases[name]
        datasets[name] = run = prepare_dataset(name, frame, spec, base, origin_step)
        tasks += grid_tasks(name, variants, base, run.prepared, seeds, explicit_batch, len(tasks))

    if not resume:
        clear_dir(target)
    record = target / "runs"
    record.mkdir(parents=True, exist_ok=True)
    finished = _finished(record, tasks) if resume else {}
    pending = [t for t in tasks if t.index not in finished]
    bar = tqdm(total=len(tasks), initial=len(finished), disable=quiet, desc="compare", unit="run")
    scores: dict[str, list[float]] = {}

    def progress(task: Task, result: RunResult) -> None:
        atomic_write_text(record / f"{run_key(task)}.json", result_to_json(task, result))
        finished[task.index] = result
        scores.setdefault(f"{task.dataset}/{task.variant.name}", []).append(result.row[metric])
        best = min(scores, key=lambda k: float(np.nanmean(scores[k])))
        bar.set_postfix(best=f"{best} {metric}={np.nanmean(scores[best]):.4g}")
        bar.update(1)

    try:
        run_grid(pending, frames, jobs=jobs, origin_step=origin_step, on_result=progress)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: {len(finished)} of {len(tasks)} runs are saved in {record}; "
            "run the same command with --resume to finish"
        ) from None
    finally:
        bar.close()
    runs = [finished[t.index] for t in tasks]
    rows = [r.row for r in runs]
    for run in datasets.values():
        rows.extend(run.baseline_rows)
    results = pd.DataFrame(rows)
    command = "lstmstate compare " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    notes = [n for run in datasets.values() for n in run.notes]
    write_report(target, results, runs, datasets, metric=metric, command=command, notes=notes)
    atomic_write_text(target / "results.csv", results.to_csv(index=False))
    from .report import verdict

    for name in datasets:
        click.echo(verdict(results, name, metric))
    click.echo(f"wrote {target}/ (report.html, report.md, results.csv, summary.csv, plots)")


def grid_tasks(
    name: str,
    variants: list[Variant],
    base: TrainConfig,
    prepared: Prepared,
    seeds: int,
    explicit_batch: bool,
    first_index: int,
) -> list[Task]:
    """Every variant × seed of one dataset, each checked before anything is written."""
    tasks: list[Task] = []
    for variant in variants:
        for k in range(seeds):
            config = variant.apply(base.replace(seed=base.seed + k), base.window)
            config = fit_batch_size(config, prepared, explicit_batch)
            check_trainable(prepared.data, config)
            tasks.append(Task(name, variant, config, first_index + len(tasks)))
    return tasks


def _finished(record: Path, tasks: list[Task]) -> dict[int, RunResult]:
    """Runs recorded by an earlier, interrupted call with the same settings."""
    done = {}
    for task in tasks:
        path = record / f"{run_key(task)}.json"
        if path.exists():
            result = result_from_json(task, path.read_text())
            if result is None:
                raise UserError(
                    f"{path} was made with other settings: rerun without --resume "
                    "(and with --overwrite) or choose another --out"
                )
            done[task.index] = result
    return done


def _dataset_names(opts: dict[str, Any]) -> list[str | None]:
    from . import datasets

    if opts["dataset"] == "all":
        if opts["csv_path"] is not None:
            raise UserError("give either --dataset or --csv, not both")
        return list(datasets.names())
    return [opts["dataset"]] if opts["dataset"] is not None else [None]


@click.command()
@model_options
@click.option(
    "--delays", default="2,5,10,15,20,40,80", show_default=True, help="Echo delays to sweep."
)
@click.option(
    "--echo",
    "echo_params",
    default="n=30000",
    show_default=True,
    help="Other echo parameters: n=30000,prob=0.1",
)
@click.option(
    "--scaler",
    type=click.Choice(["minmax", "standard", "none"]),
    default="standard",
    show_default=True,
    help="standard: with minmax the sparse spikes leave every model at the mean.",
)
@click.option("--modes", help="Modes to compare, comma-separated (default all three).")
@click.option("--seeds", type=int, default=3, show_default=True, help="Seeds per variant.")
@click.option("--jobs", type=int, help="Worker processes (default: the number of cores).")
@click.option("--out", type=click.Path(), default="runs/reach", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reach(
    delays: str,
    echo_params: str,
    scaler: str,
    modes: str | None,
    seeds: int,
    jobs: int | None,
    out: str,
    overwrite: bool,
    quiet: bool,
    **kwargs: Any,
) -> None:
    """Sweep the echo delay: the memory reach of each state strategy (see the README)."""
    from tqdm.auto import tqdm

    from . import synthetic
    from .data import named, prepare
    from .reach import write_reach_report

    try:
        delay_list = sorted({int(d) for d in delays.split(",") if d.strip()})
    except ValueError:
        raise UserError(f"--delays takes whole numbers like 2,5,10, got {delays!r}") from None
    if not delay_list or min(delay_list) < 1:
        raise UserError(f"--delays needs positive whole numbers, got {delays!r}")
    if seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {seeds}")
    items = [p for p in echo_params.split(",") if p.strip()]
    params = synthetic.parse_params("echo", items)
    if "delay" in params:
        raise UserError("give the delays with --delays, not --echo delay=...")
    for key, value in REACH_DEFAULTS.items():  # the settings of the measured runs
        if kwargs.get(key) is None:
            kwargs[key] = value
    explicit_layout = any(kwargs[k] is not None for k in LAYOUT_KEYS)
    base_opts = _take(kwargs, MODEL_KEYS)
    mode_list = _modes(modes, base_opts["mode"])
    variants = mode_variants(mode_list) if explicit_layout else default_variants(mode_list)
    frames: dict[str, tuple[pd.DataFrame, DataSpec]] = {}
    by_name: dict[str, int] = {}
    tasks: list[Task] = []
    for delay in delay_list:
        name = "echo:" + ",".join([f"delay={delay}", *items])
        frame, info = named(name)
        config = build_config(dict(base_opts), info.window)
        spec = spec_for_dataset(name, scaler=scaler)
        prepared = prepare(frame, spec, config.window, config.horizon)
        frames[name], by_name[name] = (frame, spec), delay
        tasks += grid_tasks(name, variants, config, prepared, seeds, True, len(tasks))
    target = Path(out)
    check_out(target, overwrite)
    bar = tqdm(total=len(tasks), disable=quiet, desc="reach", unit="run")
    try:
        runs = run_grid(
            tasks,
            frames,
            jobs=default_jobs() if jobs is None else jobs,
            on_result=lambda *_: bar.update(1),
        )
    finally:
        bar.close()
    from .reach import reach_rows, reach_summary, reach_text

    rows = reach_rows(tasks, runs, by_name, params)
    base = tasks[0].config
    command = "lstmstate reach " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    with staged_dir(target, overwrite) as tmp:
        write_reach_report(tmp, rows, base.window, base.batch_size, command)
    click.echo(reach_text(reach_summary(rows), base.window, base.batch_size))
    click.echo(f"wrote {target}/ (report.html, report.md, reach.png, results.csv, summary.csv)")
