"""Command line: a thin layer over the Python API (``lstmstate --help``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd

from .config import TrainConfig
from .data import DataSpec, named, read_table, spec_for_dataset
from .errors import Interrupted, TrainingDiverged, UserError
from .modes import StateMode

__all__ = ["cli", "main"]


def _split(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise UserError(f"--split takes three fractions like 0.6,0.2,0.2, got {text!r}") from None
    if len(parts) != 3:
        raise UserError(f"--split takes three fractions like 0.6,0.2,0.2, got {text!r}")
    return parts  # type: ignore[return-value]


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--dataset or --csv with its columns, plus split, scaling and filling."""
    options = [
        click.option("--dataset", help="An embedded dataset (see `lstmstate datasets`)."),
        click.option("--csv", "csv_path", type=click.Path(), help="A CSV or Parquet file."),
        click.option("--target", help="Target column of --csv."),
        click.option("--time-col", help="Time column (dates or integers); default: row order."),
        click.option("--covariates", help="Past covariate columns, comma-separated: A,B."),
        click.option("--series-col", help="Series id column (long format, several series)."),
        click.option("--fill", type=click.Choice(["interpolate", "ffill"]), help="Fill gaps."),
        click.option("--split", help="Train,validation,test fractions (default 0.6,0.2,0.2)."),
        click.option("--test-size", type=int, help="Hold out the last N rows for testing."),
        click.option("--val-size", type=int, help="Validation rows before the test part."),
        click.option("--scaler", type=click.Choice(["minmax", "standard", "none"])),
        click.option("--season", type=int, help="Seasonal period for MASE and baselines."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Everything in TrainConfig; the seed's two flags are aliases of --mode."""
    d = TrainConfig()
    options = [
        click.option("--mode", help="stateless | stateful | chained (default stateless)."),
        click.option("--stateful/--no-stateful", default=None, help="The seed's flag."),
        click.option(
            "--stateful-batches/--no-stateful-batches", default=None, help="The seed's flag."
        ),
        click.option("--layout", help="sequential | lanes | shuffled (default sequential)."),
        click.option("--window", type=int, help="Input window T (default: dataset's, or 12)."),
        click.option("--stride", type=int, help="Rows between window starts (default 1)."),
        click.option("--loss-steps", help="last | all (default last)."),
        click.option("--batch-size", type=int, help=f"Lanes per batch (default {d.batch_size})."),
        click.option("--hidden-size", type=int, help=f"default {d.hidden_size}"),
        click.option("--num-layers", type=int, help=f"default {d.num_layers}"),
        click.option("--dropout", type=float, help=f"default {d.dropout}"),
        click.option("--epochs", type=int, help=f"default {d.epochs}"),
        click.option("--lr", type=float, help=f"Adam learning rate (default {d.lr})."),
        click.option(
            "--clip-grad", type=float, help=f"Gradient norm clip, 0 = off ({d.clip_grad})."
        ),
        click.option("--seed", type=int, help="default 0"),
        click.option("--horizon", type=int, help="Forecast steps (default 1)."),
        click.option("--strategy", type=click.Choice(["recursive", "direct"])),
        click.option("--dtype", type=click.Choice(["float32", "float64"])),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def resolve_mode(mode: str | None, stateful: bool | None, batches: bool | None) -> str | None:
    """--mode, or the mode the seed's flags name; a contradiction is an error."""
    if stateful is None and batches is None:
        return mode
    if batches and stateful is None:
        stateful = True
    try:
        from_flags = StateMode.from_flags(bool(stateful), bool(batches))
    except ValueError:
        raise UserError(
            "--stateful-batches needs --stateful: use --stateful --stateful-batches "
            "(or --mode chained), or drop --stateful-batches"
        ) from None
    if mode is not None and StateMode.parse(mode) is not from_flags:
        raise UserError(f"--mode {mode} contradicts the flags, which mean {from_flags}: keep one")
    return from_flags.value


def build_config(opts: dict[str, Any], default_window: int) -> TrainConfig:
    mode = resolve_mode(opts.pop("mode"), opts.pop("stateful"), opts.pop("stateful_batches"))
    fields = {k: v for k, v in opts.items() if v is not None}
    if mode is not None:
        fields["mode"] = mode
    fields.setdefault("window", default_window)
    if fields.get("clip_grad") == 0:
        fields["clip_grad"] = None
    return TrainConfig(**fields)


MODEL_KEYS = (
    "mode stateful stateful_batches layout window stride loss_steps batch_size hidden_size "
    "num_layers dropout epochs lr clip_grad seed horizon strategy dtype"
).split()
DATA_KEYS = (
    "dataset csv_path target time_col covariates series_col fill split test_size val_size "
    "scaler season"
).split()


def build_data(opts: dict[str, Any]) -> tuple[pd.DataFrame, DataSpec, int]:
    """The table, its spec and the default window, from --dataset or --csv."""

    dataset, path = opts["dataset"], opts["csv_path"]
    covariates = opts["covariates"]
    overrides = {
        "time_col": opts["time_col"],
        "covariates": tuple(c.strip() for c in covariates.split(",") if c.strip())
        if covariates is not None
        else None,
        "series_col": opts["series_col"],
        "fill": opts["fill"],
        "split": _split(opts["split"]),
        "test_size": opts["test_size"],
        "val_size": opts["val_size"],
        "scaler": opts["scaler"],
        "season": opts["season"],
    }
    if dataset is not None and path is not None:
        raise UserError("give either --dataset or --csv, not both")
    if path is None:
        name = dataset or "airline"
        if opts["target"] is not None:
            overrides["target"] = opts["target"]
        frame, meta = named(name)
        return frame, spec_for_dataset(name, **overrides), meta.window
    if opts["target"] is None:
        raise UserError("--csv needs --target COL: the column to forecast")
    fields = {k: v for k, v in overrides.items() if v is not None}
    if fields.get("split") is not None:
        fields.setdefault("test_size", None)
    spec = DataSpec(target=opts["target"], name=Path(path).stem, **fields)
    if spec.season < 1:
        raise UserError(f"--season must be >= 1, got {spec.season}")
    return read_table(path), spec, 12


def _take(kwargs: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: kwargs.pop(k) for k in keys}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstmstate")
def cli() -> None:
    """LSTM forecasting with the hidden-state strategy as the first-class question."""


@cli.command()
def datasets() -> None:
    """List the embedded datasets and the synthetic generators."""
    import inspect

    from . import datasets as ds
    from . import synthetic

    click.echo(ds.table().to_string(index=False))
    click.echo("\nSynthetic series (seeded), e.g. --dataset echo:delay=15,prob=0.1:")
    for name in synthetic.names():
        params = inspect.signature(synthetic.GENERATORS[name]).parameters.values()
        defaults = ", ".join(f"{p.name}={p.default}" for p in params)
        click.echo(f"  {name:9s} {synthetic.info(name).description}")
        click.echo(f"  {'':9s} parameters: {defaults}")


@cli.command()
@data_options
@model_options
@click.option("--origin-step", type=int, default=1, show_default=True, help="Backtest every k-th.")
@click.option("--out", type=click.Path(), help="Output folder (default runs/<data>-<mode>).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out.")
@click.option("--resume", type=click.Path(), help="Finish an interrupted run in this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(
    origin_step: int,
    out: str | None,
    overwrite: bool,
    resume: str | None,
    quiet: bool,
    **kwargs: Any,
) -> None:
    """Train one model, backtest it on the test part, write checkpoint and metrics.

    A checkpoint is written after every epoch; a run that was stopped goes on
    with `--resume DIR` and ends with the same numbers as an uninterrupted one.
    """
    from .api import Forecaster, data_hash, spec_dict, write_checkpoint
    from .data import prepare
    from .outdir import check_out, clear_dir
    from .report_train import write_train_outputs
    from .train import check_trainable

    if resume is not None:
        target, prepared, config, source, state = _resume_train(resume, kwargs)
    else:
        data_opts = _take(kwargs, DATA_KEYS)
        df, spec, window = build_data(data_opts)
        config = build_config(_take(kwargs, MODEL_KEYS), window)
        prepared = prepare(df, spec, config.window, config.horizon)
        check_trainable(prepared.data, config)
        target = Path(out or f"runs/{spec.name}-{config.mode}")
        check_out(target, overwrite)
        clear_dir(target)
        source = _source(data_opts)
        state = None
    stamp = {"source": source, "data_hash": data_hash(prepared)}

    def save_epoch(training: dict[str, Any]) -> None:
        write_checkpoint(
            target,
            {
                "format": 1,
                "complete": False,
                "config": config.to_dict(),
                "spec": spec_dict(prepared.spec),
                "training": training,
                **stamp,
            },
        )

    for note in prepared.notes:
        click.echo(note, err=True)
    try:
        forecaster = Forecaster.fit_prepared(
            prepared, config, progress=not quiet, resume=state, checkpoint=save_epoch
        )
    except BaseException:
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # nothing good to keep: leave no empty folder behind
        raise
    if forecaster.history.dropped_windows:
        click.echo(
            f"lanes layout: dropped the {forecaster.history.dropped_windows} oldest training "
            f"window(s) so that {config.batch_size} lanes have equal length",
            err=True,
        )
    summary = write_train_outputs(forecaster, target, origin_step, extra=stamp)
    click.echo(summary)
    click.echo(f"wrote {target}/")


def _source(opts: dict[str, Any]) -> dict[str, str]:
    if opts["csv_path"] is not None:
        return {"csv": str(Path(opts["csv_path"]).resolve())}
    return {"dataset": opts["dataset"] or "airline"}


def _resume_train(folder: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Everything a stopped run needs to go on, from its last checkpoint."""
    from .api import data_hash, read_checkpoint, spec_from_dict
    from .data import prepare

    given = [k for k, v in kwargs.items() if v is not None]
    if given:
        raise UserError(
            f"--resume takes its settings from the checkpoint; drop --{given[0].replace('_', '-')}"
        )
    _, ck = read_checkpoint(folder)
    if ck.get("complete"):
        raise UserError(f"{folder} holds a finished run: nothing to resume")
    config = TrainConfig.from_dict(ck["config"])
    spec = spec_from_dict(ck["spec"])
    source = ck["source"]
    frame = named(source["dataset"])[0] if "dataset" in source else read_table(source["csv"])
    prepared = prepare(frame, spec, config.window, config.horizon)
    if data_hash(prepared) != ck["data_hash"]:
        raise UserError(f"the data of {folder} changed since the run started: start a new run")
    return Path(folder), prepared, config, source, ck["training"]


@cli.command()
@click.option("--checkpoint", type=click.Path(), required=True, help="A `train` --out folder.")
@click.option("--horizon", type=int, help="Steps to forecast (default: the model's).")
@click.option("--csv", "csv_path", type=click.Path(), help="Warm the state up on this data.")
@click.option("--future", type=click.Path(), help="Known future covariates (recursive).")
@click.option("--out", type=click.Path(), help="Folder for forecast.csv/png (default: checkpoint).")
def forecast(
    checkpoint: str, horizon: int | None, csv_path: str | None, future: str | None, out: str | None
) -> None:
    """Forecast after the end of the data, continuing from the saved state."""
    from .api import Forecaster
    from .report_train import write_forecast

    model = Forecaster.load(checkpoint)
    if horizon is not None and horizon < 1:
        raise UserError(f"--horizon must be >= 1, got {horizon}")
    if csv_path is not None:
        model = model.warm_up(read_table(csv_path))
    future_df = read_table(future) if future is not None else None
    frame = model.forecast(horizon, future_df)
    target = Path(out or checkpoint)
    target.mkdir(parents=True, exist_ok=True)
    write_forecast(model, frame, target)
    click.echo(frame.to_string(index=False))
    click.echo(f"wrote {target}/forecast.csv and forecast.png")


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and status 2 for bad input, 3 for divergence."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from .compare_cli import compare, reach

    for command in (compare, reach):
        if command.name not in cli.commands:
            cli.add_command(command)
    try:
        result = cli.main(args=argv, prog_name="lstmstate", standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__.startswith("NoArgsIsHelp") and exc.ctx is not None:
            click.echo(exc.ctx.get_help())
            return 0
        click.echo(f"lstmstate: error: {exc.format_message()}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("lstmstate: interrupted", err=True)
        return 130
    except UserError as exc:
        click.echo(f"lstmstate: error: {exc}", err=True)
        return 2
    except TrainingDiverged as exc:
        click.echo(f"lstmstate: error: {exc}", err=True)
        return 3
    except Interrupted as exc:
        click.echo(f"lstmstate: {exc}", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("lstmstate: interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
