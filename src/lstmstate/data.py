"""From a user's table to scaled model input: load, check, fill, split, scale.

Every problem with the input is a ``UserError`` with one line naming the
problem and the fix. Nothing is reordered silently: timestamps must already
increase within each series.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import lzma
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError
from .scaling import Scaler
from .series import SeriesData

__all__ = [
    "FILLS",
    "DataSpec",
    "Prepared",
    "named",
    "prepare",
    "read_table",
    "spec_for_dataset",
]

FILLS = ("interpolate", "ffill")


@dataclass(frozen=True)
class DataSpec:
    """Which columns mean what, and how to split and scale."""

    target: str
    time_col: str | None = None
    covariates: tuple[str, ...] = ()
    series_col: str | None = None
    fill: str | None = None
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    test_size: int | None = None
    val_size: int | None = None
    scaler: str = "minmax"
    season: int = 1
    name: str = "data"


def named(name: str) -> tuple[pd.DataFrame, Any]:
    """An embedded dataset, or a synthetic series: ``echo``, ``echo:delay=15,prob=0.1``.

    Returns the table and its ``DatasetInfo`` (defaults for target, window, split...).
    """
    from . import datasets, synthetic

    base, _, args = name.partition(":")
    if base in synthetic.names():
        items: list[str] = []
        for token in (t.strip() for t in args.split(",") if t.strip()):
            if "=" in token or not items:
                items.append(token)
            else:  # a tuple value: coefs=0.6,-0.3
                items[-1] += f",{token}"
        params = synthetic.parse_params(base, items)
        info = dataclasses.replace(synthetic.info(base, **params), name=name)
        return synthetic.make(base, **params), info
    if args:
        raise UserError(f"{base!r} is an embedded dataset and takes no parameters: drop :{args}")
    return datasets.load(name), datasets.info(name)


def spec_for_dataset(name: str, **overrides: object) -> DataSpec:
    """The named dataset's defaults, with ``overrides`` (``None`` values ignored)."""
    _, meta = named(name)
    spec = DataSpec(
        target=meta.target,
        time_col=meta.time_col,
        covariates=tuple(meta.covariates),
        series_col=meta.series_col,
        fill=meta.fill,
        split=tuple(meta.split),  # type: ignore[arg-type]
        test_size=meta.test_size,
        val_size=meta.val_size,
        season=meta.season,
        name=name,
    )
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "split" in changes:  # an explicit fractional split replaces the dataset's fixed sizes
        changes.setdefault("test_size", None)
        changes.setdefault("val_size", None)
    return DataSpec(**{**spec.__dict__, **changes})  # type: ignore[arg-type]


@dataclass
class Prepared:
    """The checked, filled, split and scaled data, and what is needed to undo the scaling."""

    data: SeriesData  # scaled model input
    raw: np.ndarray  # (N, F) in original units
    times: np.ndarray  # (N,) datetime64 or int64
    series_names: list[str]
    columns: list[str]  # target first, then covariates
    scaler: Scaler
    spec: DataSpec
    notes: list[str] = field(default_factory=list)  # what was filled, dropped, ...

    def series_of_rows(self) -> np.ndarray:
        """Series number of every row."""
        out = np.empty(len(self.raw), dtype=np.int64)
        for i, (a, _, _, e) in enumerate(self.data.bounds):
            out[a:e] = i
        return out


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (any common delimiter, BOM or not) or a Parquet file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"file not found: {path}: check the path given to --csv")
    if path.is_dir():
        raise UserError(f"{path} is a directory: give a CSV or Parquet file to --csv")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise UserError(
                "reading Parquet needs pyarrow: pip install 'lstmstate[parquet]'"
            ) from None
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise UserError(f"cannot read {path} as Parquet ({_first_line(exc)})") from None
    empty = f"{path} is empty: give a CSV with a header row and data rows"
    try:
        sample = _sample(path)
        if not sample.strip():
            raise UserError(empty)
        df = pd.read_csv(path, sep=_delimiter(sample), encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UserError(empty) from None
    except UnicodeError as exc:
        raise UserError(
            f"{path} is not UTF-8 text ({_first_line(exc)}): save it as a UTF-8 CSV"
        ) from None
    except (pd.errors.ParserError, csv.Error, *_ARCHIVE_ERRORS) as exc:
        raise UserError(f"cannot parse {path} as CSV ({_first_line(exc)})") from None
    if len(df) == 0:
        raise UserError(f"{path} has a header but no data rows")
    stripped = [c.strip() if isinstance(c, str) else c for c in df.columns]
    if len(set(stripped)) == len(stripped):
        df.columns = stripped
    return df


# a broken .gz/.bz2 (OSError, EOFError), .xz (LZMAError) or .zip (BadZipFile; IndexError: empty)
_ARCHIVE_ERRORS = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, IndexError)


def _sample(path: Path, size: int = 1 << 16) -> str:
    """The first ``size`` characters of a (possibly compressed) text file."""
    import bz2
    import gzip
    import io

    if path.suffix.lower() == ".zip":  # pandas reads a zip archive of one CSV file
        with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as raw:
            return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").read(size)
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower(), open)
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
        return fh.read(size)


def _delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the sample's lines consistently (default ,)."""

    lines = sample.splitlines()
    text = "\n".join(lines[:-1] if len(lines) > 1 else lines)  # the last line may be cut off
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_column(df: pd.DataFrame, name: str, role: str) -> None:
    if name in df.columns:
        if list(df.columns).count(name) > 1:
            raise UserError(f"{role} column {name!r} appears more than once: rename the others")
        return
    columns = [str(c) for c in df.columns]
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    if columns and all(_looks_like_data(c) for c in columns):
        hint += "the first row looks like data, not a header row: add a header row; "
    raise UserError(f"{role} column {name!r} not found: {hint}the columns are {', '.join(columns)}")


def _looks_like_data(name: str) -> bool:
    """A column name that is a number or a date (a CSV without a header row)."""
    try:
        float(name)
        return True
    except ValueError:
        pass
    try:
        pd.Timestamp(name)
    except (ValueError, TypeError, OverflowError):
        return False
    return any(ch.isdigit() for ch in name)


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(
            f"column {column!r} has {int(bad.sum())} non-numeric value(s), e.g. "
            f"{_plain(df[column].iloc[row])!r} in data row {row + 1}: clean the file or pick "
            "another column"
        )
    values = values.astype(np.float64)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise UserError(
            f"column {column!r} has {int(infinite.sum())} infinite value(s), e.g. "
            f"{_plain(df[column].iloc[row])!r} in data row {row + 1}: replace them by finite "
            "numbers, or empty the cells and use --fill"
        )
    return values


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value (``inf``, not ``np.float64(inf)``) for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _times(df: pd.DataFrame, column: str) -> np.ndarray:
    raw = df[column]
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise UserError(f"time column {column!r} is empty in data row {row + 1}: fill it in")
    if pd.api.types.is_bool_dtype(raw):
        raise UserError(f"time column {column!r} holds true/false values: give dates or integers")
    if pd.api.types.is_integer_dtype(raw):
        return raw.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(raw):
        numbers = raw.to_numpy(dtype=np.float64)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        if not whole.all():
            sample = float(numbers[int(np.flatnonzero(~whole)[0])])
            raise UserError(
                f"time column {column!r} holds numbers that are not whole (e.g. {sample!r}): "
                "give integers or dates, or leave out --time-col"
            )
        return numbers.astype(np.int64)
    try:
        parsed = _to_datetime(raw)
    except (ValueError, TypeError, OverflowError):
        raise UserError(
            f"time column {column!r} cannot be read as dates (e.g. {_unreadable(raw)!r}): "
            "use ISO dates like 2020-01-31, integers, or leave out --time-col"
        ) from None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


def _to_datetime(raw: pd.Series) -> pd.Series:
    """Dates in any common format; mixed time-zone offsets are converted to UTC."""
    try:
        return pd.to_datetime(raw, format="mixed")
    except (ValueError, TypeError):
        return pd.to_datetime(raw, format="mixed", utc=True)


def _unreadable(raw: pd.Series) -> object:
    """The first value of ``raw`` that is not a date (the first value if each one alone is)."""
    for value in raw.iloc[:10000]:
        try:
            pd.to_datetime(value, format="mixed")
        except (ValueError, TypeError, OverflowError):
            return value
    return raw.iloc[0]


def _when(t: np.generic) -> str:
    """A timestamp or integer time for a message."""
    return str(pd.Timestamp(t)) if isinstance(t, np.datetime64) else str(t)


def _fill(
    values: pd.DataFrame, method: str | None, name: str, notes: list[str], train_end: int
) -> pd.DataFrame:
    """Fill gaps; the training rows are filled from training rows only (no look-ahead)."""
    missing = values.isna()
    if not missing.any().any():
        return values
    column = str(missing.any().idxmax())
    count = int(missing[column].sum())
    if method is None:
        row = int(np.flatnonzero(missing[column].to_numpy())[0])
        raise UserError(
            f"column {column!r} has {count} missing value(s), the first in data row {row + 1} "
            f"of {name}: choose --fill interpolate or --fill ffill"
        )
    if method not in FILLS:
        raise UserError(f"unknown fill {method!r}: choose interpolate or ffill")
    for col in values.columns:
        if missing[col].all():
            raise UserError(f"column {col!r} of {name} has no values at all: drop it")
        if missing[col].iloc[:train_end].all():
            raise UserError(
                f"column {col!r} of {name} has no values in the training part: "
                "drop it or choose another --split"
            )
    total = int(missing.sum().sum())

    def fill(frame: pd.DataFrame) -> pd.DataFrame:
        if method == "interpolate":
            return frame.interpolate(method="linear", limit_direction="both")
        return frame.ffill().bfill()

    head = fill(values.iloc[:train_end])
    filled = fill(pd.concat([head, values.iloc[train_end:]]))
    notes.append(f"filled {total} missing value(s) in {name} by {method}")
    return filled


def _split_sizes(n: int, spec: DataSpec) -> tuple[int, int]:
    """(train_end, val_end) as row counts from the series start."""
    if spec.test_size is not None:
        test = spec.test_size
        val = spec.val_size if spec.val_size is not None else spec.test_size
        return n - test - val, n - test
    train_frac, val_frac, _ = spec.split
    return int(n * train_frac), int(n * (train_frac + val_frac))


def _min_rows(spec: DataSpec, need_train: int, test_rows: int = 1) -> int:
    """The fewest rows that leave ``need_train`` training rows and ``test_rows`` test rows."""
    if spec.test_size is not None:
        val = spec.val_size if spec.val_size is not None else spec.test_size
        return need_train + val + spec.test_size
    train, _, test = spec.split
    start = max(need_train, int(need_train / train) - 2, int(test_rows / test) - 2, 1)
    for n in range(start, start + 10_000):
        train_end, val_end = _split_sizes(n, spec)
        if train_end >= need_train and n - val_end >= test_rows:
            return n
    return int(np.ceil(max(need_train / train, test_rows / test)))


def _check_split(spec: DataSpec) -> None:
    if spec.test_size is not None:
        if spec.test_size < 1 or (spec.val_size is not None and spec.val_size < 0):
            raise UserError(
                f"test size must be >= 1 and validation size >= 0, got "
                f"{spec.test_size} and {spec.val_size}"
            )
        return
    if len(spec.split) != 3 or any(f < 0 for f in spec.split) or abs(sum(spec.split) - 1) > 1e-6:
        raise UserError(
            f"split must be three non-negative fractions that add up to 1, like 0.6,0.2,0.2; "
            f"got {','.join(str(f) for f in spec.split)}"
        )
    if spec.split[0] <= 0 or spec.split[2] <= 0:
        raise UserError("split needs a training and a test part: e.g. --split 0.6,0.2,0.2")


def prepare(df: pd.DataFrame, spec: DataSpec, window: int, horizon: int = 1) -> Prepared:
    """Check, fill, split and scale a table (one or several series, long format)."""
    _check_split(spec)
    df = df.reset_index(drop=True)  # labels are row numbers from here on (no duplicates)
    for name, role in [(spec.target, "target")] + [(c, "covariate") for c in spec.covariates]:
        _check_column(df, name, role)
    if spec.target in spec.covariates:
        raise UserError(f"{spec.target!r} is the target: leave it out of --covariates")
    for optional, role in [(spec.time_col, "time"), (spec.series_col, "series")]:
        if optional is not None:
            _check_column(df, optional, role)
    columns = [spec.target, *spec.covariates]
    notes: list[str] = []
    if spec.series_col is None:
        groups = [("all", df)]
    else:
        ids = df[spec.series_col].astype(str)
        groups = [(str(k), df.loc[ids == k]) for k in pd.unique(ids)]
    values = pd.DataFrame({c: _numeric(df, c) for c in columns})
    parts, raws, times, bounds, names = [], [], [], [], []
    start = 0
    for sid, part in groups:
        label = spec.name if spec.series_col is None else f"series {sid!r}"
        if spec.time_col is not None:
            t = _times(part, spec.time_col)
            steps = np.diff(t)
            if len(steps) and not (steps > steps.dtype.type(0)).all():
                row = int(np.flatnonzero(steps <= steps.dtype.type(0))[0]) + 1
                kind = "repeats" if steps[row - 1] == steps.dtype.type(0) else "goes back"
                raise UserError(
                    f"time column {spec.time_col!r} {kind} at {_when(t[row])} "
                    f"({label}, row {row + 1}): "
                    "timestamps must be strictly increasing; remove duplicates or sort the file"
                )
        else:
            t = np.arange(len(part), dtype=np.int64)
        n = len(part)
        train_end, val_end = _split_sizes(n, spec)
        need_train = window + horizon + 1
        test_rows = n - val_end
        if spec.test_size is not None and spec.test_size < horizon:
            raise UserError(
                f"a test part of {spec.test_size} rows is shorter than the forecast horizon of "
                f"{horizon} steps: use --test-size {horizon} or more, or a shorter --horizon"
            )
        if train_end < need_train or test_rows < horizon:
            needed = _min_rows(spec, need_train, horizon)
            raise UserError(
                f"{label} has {n} rows, too short for a window of {window} plus the validation "
                f"and test parts: it needs at least {needed} rows; use a shorter --window or a "
                "smaller --test-size"
            )
        vals = values.loc[part.index].reset_index(drop=True)
        vals = _fill(vals, spec.fill, label, notes, train_end)
        arr = vals.to_numpy(dtype=np.float64)
        parts.append(arr[:train_end])
        raws.append(arr)
        times.append(t)
        bounds.append((start, start + train_end, start + val_end, start + n))
        names.append(sid)
        start += n
    scaler = Scaler.fit(spec.scaler, parts)
    scaled = np.concatenate([scaler.transform(r, i) for i, r in enumerate(raws)])
    data = SeriesData(scaled, np.array(bounds, dtype=np.int64))
    time_arr = np.concatenate(times) if times else np.empty(0)
    return Prepared(data, np.concatenate(raws), time_arr, names, columns, scaler, spec, notes)
