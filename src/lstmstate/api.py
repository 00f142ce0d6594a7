"""The Python API: fit on a table or an array, backtest, forecast, save and load.

>>> f = Forecaster.fit(lstmstate.datasets.load("airline"), TrainConfig(mode="stateful"),
...                    spec_for_dataset("airline"))
>>> f.backtest().metrics()["rmse"]
>>> f.forecast(horizon=12)          # a DataFrame: series, time, forecast
>>> f.save("run/"); Forecaster.load("run/")
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import __version__
from .backtest import Backtest, baseline_backtests, test_origins
from .config import TrainConfig
from .data import DataSpec, Prepared, prepare
from .errors import UserError
from .evaluate import origin_outputs
from .files import atomic_write
from .forecast import carry_on, forecast_scaled, slide
from .model import StatefulLSTM
from .modes import StateMode
from .scaling import Scaler
from .train import History, fit

__all__ = ["CHECKPOINT_FORMAT", "EndState", "Forecaster"]

CHECKPOINT_FORMAT = 1
CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class EndState:
    """What a forecast from the end of the data needs, per series (stacked on dim 0)."""

    tail: Tensor  # (S, T, F) the last window, scaled
    output: Tensor  # (S, O) the model's output at the last row
    h: Tensor  # (layers, S, hidden) state after the last row (zeros when stateless)
    c: Tensor
    last_times: list[list[Any]]  # per series: the last few timestamps (for future times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tail": self.tail,
            "output": self.output,
            "h": self.h,
            "c": self.c,
            "last_times": self.last_times,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EndState:
        return cls(d["tail"], d["output"], d["h"], d["c"], d["last_times"])


@dataclass(frozen=True)
class DataMeta:
    """What a model needs to read new data and report in original units."""

    spec: DataSpec
    scaler: Scaler
    columns: list[str]  # target first, then covariates
    series_names: list[str]

    @classmethod
    def of(cls, prepared: Prepared) -> DataMeta:
        return cls(prepared.spec, prepared.scaler, prepared.columns, prepared.series_names)


class Forecaster:
    """A fitted model with its data handling: scaler, split, columns and end state.

    ``prepared`` is the data it was fitted on (``None`` after ``load``: a loaded
    model forecasts from its saved end state, or from data given to ``warm_up``).
    """

    def __init__(
        self,
        model: StatefulLSTM,
        config: TrainConfig,
        prepared: Prepared | None,
        history: History,
        end: EndState | None = None,
        *,
        meta: DataMeta | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.prepared = prepared
        self.history = history
        if meta is None:
            if prepared is None:
                raise ValueError("a Forecaster needs its data or its DataMeta")
            meta = DataMeta.of(prepared)
        self.meta = meta
        self.end = end if end is not None else self.end_state(prepared)

    # ----------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        data: pd.DataFrame | np.ndarray,
        config: TrainConfig | None = None,
        spec: DataSpec | None = None,
        *,
        progress: bool = False,
        on_epoch: Callable[..., None] | None = None,
        resume: dict[str, Any] | None = None,
        checkpoint: Callable[[dict[str, Any]], None] | None = None,
    ) -> Forecaster:
        """Check, split and scale ``data``, then train. An array is (N,) or (N, F), target first."""
        config = config or TrainConfig()
        if isinstance(data, np.ndarray):
            arr = data.reshape(len(data), -1)
            cols = ["y"] + [f"x{i}" for i in range(1, arr.shape[1])]
            data = pd.DataFrame(arr, columns=cols)
            spec = spec or DataSpec(target="y", covariates=tuple(cols[1:]))
        if spec is None:
            raise UserError("a DataFrame needs a DataSpec naming at least the target column")
        prepared = prepare(data, spec, config.window, config.horizon)
        return cls.fit_prepared(
            prepared,
            config,
            progress=progress,
            on_epoch=on_epoch,
            resume=resume,
            checkpoint=checkpoint,
        )

    @classmethod
    def fit_prepared(
        cls,
        prepared: Prepared,
        config: TrainConfig,
        *,
        progress: bool = False,
        on_epoch: Callable[..., None] | None = None,
        resume: dict[str, Any] | None = None,
        checkpoint: Callable[[dict[str, Any]], None] | None = None,
    ) -> Forecaster:
        """Train on data already checked, split and scaled by ``lstmstate.data.prepare``."""
        result = fit(
            prepared.data,
            config,
            progress=progress,
            on_epoch=on_epoch,
            resume=resume,
            checkpoint=checkpoint,
        )
        return cls(result.model, config, prepared, result.history)

    def _values(self) -> Tensor:
        assert self.prepared is not None
        return torch.as_tensor(self.prepared.data.values, dtype=self.config.torch_dtype)

    def _need_data(self) -> Prepared:
        if self.prepared is None:
            raise UserError("this forecaster was loaded without its data: warm it up with data")
        return self.prepared

    # --------------------------------------------------------------- backtests
    def backtest(self, origin_step: int = 1) -> Backtest:
        """Forecasts of ``horizon`` steps from every ``origin_step``-th test origin."""
        prepared = self._need_data()
        values = self._values()
        origins = test_origins(prepared, self.config.window, self.config.horizon, origin_step)
        preds = []
        for i, ((a, *_), o) in enumerate(zip(prepared.data.bounds, origins, strict=True)):
            scaled = forecast_scaled(self.model, self.config, values, int(a), o)
            preds.append(prepared.scaler.inverse_target(scaled.double().numpy(), i))
        return Backtest.build(prepared, origins, preds)

    def baselines(self, origin_step: int = 1) -> tuple[dict[str, Backtest], list[str]]:
        """Naive, seasonal naive and ETS on the backtest's origins, with fallback notes."""
        prepared = self._need_data()
        origins = test_origins(prepared, self.config.window, self.config.horizon, origin_step)
        return baseline_backtests(prepared, origins, self.config.horizon)

    # ------------------------------------------------------------- forecasting
    @torch.no_grad()
    def end_state(self, prepared: Prepared | None) -> EndState:
        """The state and output after the last row of each series (DESIGN §4 order)."""
        if prepared is None:
            raise ValueError("an end state needs data")
        values = torch.as_tensor(prepared.data.values, dtype=self.config.torch_dtype)
        tails, outs, hs, cs, last_times = [], [], [], [], []
        zero = self.model.zero_state(1)
        for a, _, _, e in prepared.data.bounds:
            origin = np.array([int(e) - 1])
            out, state = origin_outputs(
                self.model,
                self.config.mode,
                values,
                int(a),
                origin,
                self.config.window,
                self.config.stride,
                need_state=self.config.mode is not StateMode.STATELESS,
            )
            state = state if state is not None else zero
            tails.append(values[int(e) - self.config.window : int(e)])
            outs.append(out[0])
            hs.append(state[0])
            cs.append(state[1])
            last_times.append([_plain(t) for t in prepared.times[max(int(a), int(e) - 3) : int(e)]])
        return EndState(
            torch.stack(tails), torch.stack(outs), torch.cat(hs, 1), torch.cat(cs, 1), last_times
        )

    @torch.no_grad()
    def forecast(
        self, horizon: int | None = None, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of the data, in original units.

        With the recursive strategy and covariates, ``future`` must hold their
        known values for the ``horizon - 1`` rows after the end (one block per
        series, in series order, with the covariate columns).
        """
        config = self.config
        horizon = horizon or config.horizon
        if config.strategy == "direct" and horizon > config.horizon:
            raise UserError(
                f"this model forecasts {config.horizon} steps directly; ask for --horizon "
                f"{config.horizon} or less, or train with a longer --horizon"
            )
        end = self.end
        series_names, scaler, columns = (
            self.meta.series_names,
            self.meta.scaler,
            self.meta.columns,
        )
        S, _, F = end.tail.shape
        future_rows = self._future_rows(future, horizon, S, F, columns)
        if config.strategy == "direct":
            scaled = end.output[:, :horizon]
        elif config.mode is StateMode.STATELESS:
            scaled = slide(self.model, end.tail, future_rows)
        else:
            scaled = carry_on(self.model, end.output[:, 0], (end.h, end.c), future_rows)
        frames = []
        for i, name in enumerate(series_names):
            values = scaler.inverse_target(scaled[i].double().numpy(), i)
            times = future_times(end.last_times[i], horizon)
            frames.append(pd.DataFrame({"series": name, "time": times, "forecast": values}))
        return pd.concat(frames, ignore_index=True)

    def _future_rows(
        self, future: pd.DataFrame | None, horizon: int, S: int, F: int, columns: list[str]
    ) -> Tensor:
        rows = self.end.tail.new_zeros(S, horizon - 1, F)
        if F == 1 or horizon == 1 or self.config.strategy == "direct":
            return rows
        covs = columns[1:]
        if future is None:
            raise UserError(
                f"a recursive forecast of {horizon} steps needs the known future values of "
                f"{', '.join(covs)}: give them (--future PATH), or train with --strategy direct"
            )
        missing = [c for c in covs if c not in future.columns]
        if missing or len(future) < S * (horizon - 1):
            raise UserError(
                f"the future values need columns {', '.join(covs)} and {horizon - 1} rows per "
                f"series; got columns {', '.join(map(str, future.columns))} and {len(future)} rows"
            )
        block = future[covs].to_numpy(dtype=np.float64)
        for i in range(S):
            part = block[i * (horizon - 1) : (i + 1) * (horizon - 1)]
            full = np.concatenate([np.zeros((len(part), 1)), part], axis=1)
            scaled = (full - self.meta.scaler.offset[i]) / self.meta.scaler.scale[i]
            rows[i] = torch.as_tensor(scaled, dtype=rows.dtype)
        return rows

    # ------------------------------------------------------------- checkpoints
    def checkpoint(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A plain dict: weights, config, scaler, columns, end state, history, version."""
        series_names, scaler, columns = (
            self.meta.series_names,
            self.meta.scaler,
            self.meta.columns,
        )
        return {
            "format": CHECKPOINT_FORMAT,
            "version": __version__,
            "complete": True,
            "config": self.config.to_dict(),
            "input_size": self.model.input_size,
            "model": self.model.state_dict(),
            "scaler": scaler.to_dict(),
            "spec": spec_dict(self.spec()),
            "columns": list(columns),
            "series_names": list(series_names),
            "end": self.end.to_dict(),
            "history": self.history.to_dict(),
            **(extra or {}),
        }

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write ``checkpoint.pt`` atomically into ``directory``."""
        return write_checkpoint(directory, self.checkpoint(extra))

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Rebuild from ``save``'s output (a directory or the file itself)."""
        path, ck = read_checkpoint(path)
        if not ck.get("complete"):
            done = ck.get("training", {}).get("epoch", 0)
            raise UserError(
                f"{path.parent} holds an unfinished training run ({done} epochs done): "
                f"finish it with lstmstate train --resume {path.parent}"
            )
        config = TrainConfig.from_dict(ck["config"])
        model = StatefulLSTM(
            ck["input_size"],
            config.hidden_size,
            config.num_layers,
            config.output_size,
            config.dropout,
        ).to(config.torch_dtype)
        model.load_state_dict(ck["model"])
        model.eval()
        history = History(**ck["history"])
        meta = DataMeta(
            spec_from_dict(ck["spec"]),
            Scaler.from_dict(ck["scaler"]),
            list(ck["columns"]),
            list(ck["series_names"]),
        )
        return cls(model, config, None, history, EndState.from_dict(ck["end"]), meta=meta)

    def spec(self) -> DataSpec:
        return self.meta.spec

    def warm_up(self, data: pd.DataFrame) -> Forecaster:
        """The same model with its end state recomputed on new data (scaler kept)."""
        spec = self.spec()
        prepared = prepare(data, spec, self.config.window, self.config.horizon)
        prepared.scaler = self.meta.scaler
        raws = prepared.raw
        rows = prepared.series_of_rows()
        if len(prepared.series_names) != len(self.meta.series_names):
            raise UserError(
                f"the new data has {len(prepared.series_names)} series, the model was trained on "
                f"{len(self.meta.series_names)}"
            )
        scaled = np.empty_like(raws)
        for i in range(len(prepared.series_names)):
            scaled[rows == i] = self.meta.scaler.transform(raws[rows == i], i)
        prepared.data.values = scaled
        return Forecaster(self.model, self.config, prepared, self.history, meta=self.meta)


def spec_dict(spec: DataSpec) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.__dict__.items()}


def spec_from_dict(fields: dict[str, Any]) -> DataSpec:
    d = dict(fields)
    d["covariates"] = tuple(d["covariates"])
    d["split"] = tuple(d["split"])
    return DataSpec(**d)


def write_checkpoint(directory: str | Path, checkpoint: dict[str, Any]) -> Path:
    """``torch.save`` to ``directory/checkpoint.pt`` atomically (temp file, fsync, rename)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    path = directory / CHECKPOINT_FILE
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return path


def read_checkpoint(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The checkpoint dict at ``path`` (a folder or the file), with clear errors."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.exists():
        raise UserError(f"no checkpoint at {path}: give the --out folder of lstmstate train")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: many error types
        raise UserError(f"{path} is not a readable lstmstate checkpoint ({exc!s:.80})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        found = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
        raise UserError(
            f"{path} has checkpoint format {found!r}, this lstmstate ({__version__}) reads "
            f"format {CHECKPOINT_FORMAT}: retrain with this version"
        )
    return path, ck


def data_hash(prepared: Prepared) -> str:
    """Fingerprint of the scaled input, to refuse resuming on different data."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(prepared.data.values).tobytes())
    digest.update(np.ascontiguousarray(prepared.data.bounds).tobytes())
    return digest.hexdigest()[:16]


def _plain(t: Any) -> Any:
    """A timestamp as a plain value for checkpoints: ISO text or int."""
    if isinstance(t, np.datetime64):
        return str(pd.Timestamp(t).isoformat())
    return int(t)


def future_times(last: list[Any], horizon: int) -> list[Any]:
    """``horizon`` timestamps after ``last`` (ISO strings or ints), by the observed step."""
    if not last:
        return list(range(1, horizon + 1))
    if isinstance(last[0], str):
        stamps = pd.DatetimeIndex(pd.to_datetime(last))
        with warnings.catch_warnings():  # pandas 3 warns about infer_freq's return type
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(stamps) if len(stamps) >= 3 else None
        if freq is not None:
            return list(pd.date_range(stamps[-1], periods=horizon + 1, freq=freq)[1:])
        step = stamps[-1] - stamps[-2] if len(stamps) > 1 else pd.Timedelta(1, "D")
        return [stamps[-1] + step * k for k in range(1, horizon + 1)]
    step = last[-1] - last[-2] if len(last) > 1 else 1
    return [last[-1] + step * k for k in range(1, horizon + 1)]
