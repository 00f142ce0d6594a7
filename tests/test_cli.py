"""Bad input through the command line (DESIGN §7): exit status 2, exactly one line on stderr
naming the problem and the fix, no traceback, and no output folder created or left behind.

Most runs call ``lstmstate.cli.main`` in-process; a few go through a real subprocess, both as
``python -m lstmstate.cli`` and as the ``lstmstate`` console script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmstate.cli import main

FAST = ["--epochs", "1", "--quiet", "--window", "4", "--batch-size", "4"]
N = 40  # rows of the good series: 24 training rows, 20 training windows of 4 + 1


def series(n: int = N) -> pd.DataFrame:
    t = np.arange(n)
    y = 100 + 20 * np.sin(2 * np.pi * t / 12) + t + np.random.default_rng(0).normal(size=n)
    dates = pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "passengers": np.round(y, 3)})


def write(path: Path, frame: pd.DataFrame) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def run(capsys, tmp_path: Path, args: list[str]) -> tuple[int, str, str]:
    """``lstmstate train ARGS --out tmp_path/out`` in-process: (status, stdout, stderr)."""
    capsys.readouterr()
    status = main(["train", *args, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    return status, out, err


def assert_clean_failure(status: int, err: str, tmp_path: Path, *words: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert lines[0].startswith("lstmstate: error: ")
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*")), list(tmp_path.glob(".out.*"))


def assert_success(status: int, err: str, tmp_path: Path) -> dict:
    assert status == 0, err
    assert "Traceback" not in err
    out = tmp_path / "out"
    assert {"metrics.json", "checkpoint.pt", "history.csv", "backtest.csv"} <= {
        p.name for p in out.iterdir()
    }
    assert not list(tmp_path.glob(".out.*"))
    return json.loads((out / "metrics.json").read_text())


# -- the bad inputs ------------------------------------------------------------------------


@dataclass
class Case:
    """``make(tmp_path)`` writes what the case needs and returns the CLI arguments."""

    make: Callable[[Path], list[str]]
    words: tuple[str, ...]


def csv_args(frame: pd.DataFrame, *extra: str, target: str = "passengers", time: bool = True):
    def make(tmp: Path) -> list[str]:
        args = ["--csv", write(tmp / "data.csv", frame), "--target", target, *extra]
        return args + (["--time-col", "date"] if time else [])

    return make


def raw_file(name: str, content: bytes, *extra: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        (tmp / name).write_bytes(content)
        return ["--csv", str(tmp / name), "--target", "passengers", *extra]

    return make


def _with(column: str, row: int, value: object) -> pd.DataFrame:
    frame = series().astype(object)
    frame.loc[row, column] = value
    return frame


def _good(*extra: str) -> Callable[[Path], list[str]]:
    return csv_args(series(), *extra)


def _directory(tmp: Path) -> list[str]:
    (tmp / "folder.csv").mkdir()
    return ["--csv", str(tmp / "folder.csv"), "--target", "passengers"]


DATES = series()["date"]

BAD: dict[str, Case] = {
    "missing file": Case(
        lambda tmp: ["--csv", str(tmp / "nope.csv"), "--target", "passengers"],
        ("file not found", "nope.csv"),
    ),
    "a directory": Case(_directory, ("is a directory", "folder.csv")),
    "empty file": Case(raw_file("empty.csv", b""), ("empty.csv is empty", "header row")),
    "only blank lines": Case(raw_file("blank.csv", b"\n \n\n"), ("is empty",)),
    "header only": Case(raw_file("header.csv", b"date,passengers\n"), ("no data rows",)),
    "no --target": Case(
        lambda tmp: ["--csv", write(tmp / "d.csv", series())], ("--csv needs --target",)
    ),
    "misspelt target": Case(
        csv_args(series(), target="pasengers"),
        ("target column 'pasengers' not found", "did you mean 'passengers'?"),
    ),
    "absent target": Case(
        csv_args(series(), target="sales"),
        ("target column 'sales' not found", "the columns are date, passengers"),
    ),
    "absent covariate": Case(
        _good("--covariates", "temperature"), ("covariate column 'temperature' not found",)
    ),
    "target as covariate": Case(_good("--covariates", "passengers"), ("leave it out",)),
    "absent time column": Case(
        csv_args(series(), "--time-col", "dat", time=False), ("time column 'dat'", "'date'")
    ),
    "absent series column": Case(_good("--series-col", "store"), ("series column 'store'",)),
    "non-numeric target": Case(
        csv_args(_with("passengers", 5, "n/a?")),
        ("column 'passengers'", "1 non-numeric", "'n/a?'", "data row 6"),
    ),
    "missing values": Case(
        csv_args(_with("passengers", 7, np.nan)),
        ("column 'passengers'", "1 missing value", "data row 8", "--fill"),
    ),
    "infinite value": Case(
        csv_args(_with("passengers", 3, "inf")), ("'passengers'", "infinite", "data row 4")
    ),
    "duplicated timestamps": Case(
        csv_args(_with("date", 9, DATES[8])),
        ("'date' repeats at 2000-09-01", "row 10", "strictly increasing"),
    ),
    "decreasing timestamps": Case(
        csv_args(_with("date", 9, "1999-01-01")),
        ("'date' goes back at 1999-01-01", "row 10", "strictly increasing", "sort"),
    ),
    "unreadable date": Case(
        csv_args(_with("date", 4, "someday")), ("cannot be read as dates", "'someday'")
    ),
    "empty time cell": Case(csv_args(_with("date", 4, np.nan)), ("'date' is empty", "row 5")),
    "too short (fractions)": Case(
        csv_args(series(9)), ("9 rows", "too short", "needs at least 10 rows", "--window")
    ),
    "too short (--test-size)": Case(
        csv_args(series(11), "--test-size", "3"), ("11 rows", "needs at least 12 rows")
    ),
    "batch larger than the windows": Case(
        _good("--batch-size", "1000"),
        ("batch size 1000", "20 training windows", "--batch-size 20 or less"),
    ),
    "unknown dataset": Case(
        lambda _tmp: ["--dataset", "airlines"],
        ("unknown dataset 'airlines'", "did you mean 'airline'", "nile", "us_employment"),
    ),
    "unknown dataset, no close name": Case(
        lambda _tmp: ["--dataset", "zzzz"], ("unknown dataset", "airline, nile, co2_weekly")
    ),
    "both --dataset and --csv": Case(_good("--dataset", "airline"), ("either --dataset or --csv",)),
    "unknown mode": Case(
        _good("--mode", "stateful_batches"),
        ("unknown mode 'stateful_batches'", "stateless, stateful, chained"),
    ),
    "unknown layout": Case(
        _good("--layout", "diagonal"), ("unknown layout 'diagonal'", "sequential, lanes, shuffled")
    ),
    "unknown loss steps": Case(_good("--loss-steps", "some"), ("unknown loss_steps", "last, all")),
    "shuffled stateful": Case(
        _good("--layout", "shuffled", "--mode", "stateful"),
        ("shuffled layout", "stateful", "--mode stateless"),
    ),
    "lanes chained": Case(
        _good("--layout", "lanes", "--mode", "chained"),
        ("chained mode", "sequential layout only", "--layout sequential"),
    ),
    "stateful-batches without stateful": Case(
        _good("--stateful-batches", "--no-stateful"),
        ("--stateful-batches needs --stateful", "--mode chained"),
    ),
    "mode contradicts the flags": Case(
        _good("--mode", "stateless", "--stateful"), ("--mode stateless contradicts", "stateful")
    ),
    "split of two parts": Case(_good("--split", "0.5,0.5"), ("--split", "three fractions")),
    "split of words": Case(_good("--split", "a,b,c"), ("--split", "three fractions", "'a,b,c'")),
    "split not adding up": Case(_good("--split", "0.6,0.3,0.3"), ("add up to 1",)),
    "split without test": Case(_good("--split", "0.8,0.2,0"), ("training and a test part",)),
    "zero test size": Case(_good("--test-size", "0"), ("test size must be >= 1",)),
    "stride beyond window": Case(_good("--stride", "9"), ("stride 9", "--stride 4 or less")),
    "zero window": Case(_good("--window", "0"), ("window must be an integer >= 1",)),
    "zero season": Case(_good("--season", "0"), ("--season must be >= 1",)),
    "negative lr": Case(_good("--lr", "-1"), ("lr must be positive",)),
    "unknown fill": Case(_good("--fill", "mean"), ("'--fill'", "interpolate", "ffill")),
    "unknown scaler": Case(_good("--scaler", "log"), ("'--scaler'", "minmax")),
    "not an integer": Case(_good("--epochs", "two"), ("'--epochs'", "'two'")),
    "unknown option": Case(_good("--epoch", "1"), ("no such option", "--epoch")),
    "direct horizon beyond the test part": Case(
        _good("--strategy", "direct", "--horizon", "3", "--test-size", "2"),
        ("test part of 2 rows", "--test-size 3"),
    ),
    "corrupt parquet": Case(
        raw_file("data.parquet", b"PAR1 this is not really parquet"),
        ("cannot read", "data.parquet", "as parquet"),
    ),
    "not utf-8": Case(
        raw_file("latin.csv", "date,passengers\n2000-01-01,café\n".encode("latin-1")),
        ("latin.csv is not utf-8", "save it as a utf-8 csv"),
    ),
    "corrupt gzip": Case(
        raw_file("data.csv.gz", b"\x1f\x8b but not really gzip"), ("cannot parse", "data.csv.gz")
    ),
    "ragged rows": Case(
        raw_file("ragged.csv", b"date,passengers\n2000-01-01,1\n2000-02-01,2,3,4\n"),
        ("cannot parse", "ragged.csv"),
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_clean_line_and_status_2(name, capsys, tmp_path):
    case = BAD[name]
    status, _, err = run(capsys, tmp_path, [*FAST, *case.make(tmp_path)])
    assert_clean_failure(status, err, tmp_path, *case.words)


def test_recursive_horizon_beyond_the_test_part_is_bad_input(capsys, tmp_path):
    args = [*FAST, *_good("--horizon", "3", "--test-size", "2")(tmp_path)]
    status, _, err = run(capsys, tmp_path, args)
    assert_clean_failure(status, err, tmp_path, "horizon")


def test_missing_values_train_with_fill_interpolate(capsys, tmp_path):
    args = [*FAST, *csv_args(_with("passengers", 7, np.nan), "--fill", "interpolate")(tmp_path)]
    status, _, err = run(capsys, tmp_path, args)
    metrics = assert_success(status, err, tmp_path)
    assert any("filled 1 missing value" in note for note in metrics["notes"])


def test_a_parquet_file_trains(capsys, tmp_path):
    frame = series()
    frame["date"] = pd.to_datetime(frame["date"])
    frame.to_parquet(tmp_path / "data.parquet")
    args = [*FAST, "--csv", str(tmp_path / "data.parquet"), "--target", "passengers"]
    status, _, err = run(capsys, tmp_path, [*args, "--time-col", "date"])
    metrics = assert_success(status, err, tmp_path)
    assert metrics["dataset"] == "data" and metrics["origins"] == 8
    backtest = pd.read_csv(tmp_path / "out" / "backtest.csv")
    assert backtest["time"].iloc[-1].startswith("2003-04-01")  # dates, not row numbers


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".zip"])
def test_a_compressed_csv_trains(suffix, capsys, tmp_path):
    path = tmp_path / f"data{suffix}"
    series().to_csv(path, index=False, sep=";")  # pandas compresses by the suffix
    args = [*FAST, "--csv", str(path), "--target", "passengers", "--time-col", "date"]
    status, _, err = run(capsys, tmp_path, args)
    assert_success(status, err, tmp_path)


def test_non_empty_out_needs_overwrite(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = [*FAST, *_good()(tmp_path)]
    status, _, err = run(capsys, tmp_path, args)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "not empty" in err and "--overwrite" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]  # untouched
    assert not list(tmp_path.glob(".out.*"))
    status, _, err = run(capsys, tmp_path, [*args, "--overwrite"])
    assert status == 0, err
    assert not (out / "keep.txt").exists() and (out / "metrics.json").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_an_out_path_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "out").write_text("a file")
    status, _, err = run(capsys, tmp_path, [*FAST, *_good()(tmp_path)])
    assert status == 2 and "is a file" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "out").read_text() == "a file"


def test_several_series_in_long_format_train(capsys, tmp_path):
    a = series(40).assign(store="north")
    b = series(33).assign(store="south")
    b["passengers"] += 500
    frame = pd.concat([a, b], ignore_index=True).sample(frac=1, random_state=0)  # any row order
    frame = frame.sort_values("date", kind="stable")  # ... as long as each series is in order
    args = [*FAST, *csv_args(frame, "--series-col", "store")(tmp_path)]
    status, _, err = run(capsys, tmp_path, args)
    metrics = assert_success(status, err, tmp_path)
    backtest = pd.read_csv(tmp_path / "out" / "backtest.csv")
    assert sorted(backtest["series"].unique()) == ["north", "south"]
    assert metrics["origins"] == 8 + 7  # each series' own test part: 40 - 32, 33 - 26


# -- through a real process ----------------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("lstmstate")


@pytest.mark.slow  # a fresh interpreter imports torch and pandas: 3-5 s each
@pytest.mark.parametrize(
    "how,args,words",
    [
        ("module", ["--csv", "nope.csv", "--target", "y"], ("file not found",)),
        ("module", ["--dataset", "airline", "--mode", "stateful_batches"], ("unknown mode",)),
        ("script", ["--dataset", "airline", "--layout", "shuffled", "--stateful"], ("shuffled",)),
    ],
)
def test_bad_input_through_a_real_process(how, args, words, tmp_path):
    command = [sys.executable, "-m", "lstmstate.cli"] if how == "module" else [str(SCRIPT)]
    done = subprocess.run(
        [*command, "train", *FAST, *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"},
        timeout=120,
    )
    assert_clean_failure(done.returncode, done.stderr, tmp_path, *words)
    assert done.stdout == ""


def test_the_console_script_is_installed_next_to_the_interpreter():
    assert SCRIPT.exists(), SCRIPT


# -- the embedded datasets through the command line ----------------------------------------
# In a fresh process with one BLAS/OpenMP thread: the ETS baseline of us_employment's 148
# series dominates the run, and many BLAS threads on a busy machine make it minutes longer.


def _train_process(tmp_path: Path, *args: str) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(SCRIPT), "train", *args, "--epochs", "1", "--quiet", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert "Traceback" not in done.stderr
    metrics = assert_success(done.returncode, done.stderr, tmp_path)
    assert f"wrote {tmp_path / 'out'}/" in done.stdout
    return metrics


@pytest.mark.slow
def test_fulda_river_stateful_lanes_one_epoch(tmp_path):
    args = ["--dataset", "fulda_river", "--mode", "stateful", "--layout", "lanes"]
    metrics = _train_process(tmp_path, *args)
    assert (metrics["dataset"], metrics["mode"], metrics["layout"]) == (
        "fulda_river",
        "stateful",
        "lanes",
    )


@pytest.mark.slow
def test_us_employment_one_epoch_stride_12(tmp_path):
    metrics = _train_process(tmp_path, "--dataset", "us_employment", "--stride", "12")
    assert metrics["stride"] == 12
    assert pd.read_csv(tmp_path / "out" / "backtest.csv")["series"].nunique() == 148


# -- a corpus of malformed CSV files -------------------------------------------------------


def _lines(sep: str = ",", value=None, date=None, header: str | None = None, n: int = N) -> str:
    frame = series(n)
    rows = [header if header is not None else f"date{sep}passengers"]
    for i, (d, y) in enumerate(zip(frame["date"], frame["passengers"], strict=True)):
        rows.append(f"{date(i, d) if date else d}{sep}{value(i, y) if value else y}")
    return "\n".join(rows) + "\n"


# name: (file content, extra arguments, expected status, words of the error)
CORPUS: dict[str, tuple[bytes, list[str], int, tuple[str, ...]]] = {
    "utf-8 BOM": (("\ufeff" + _lines()).encode(), [], 0, ()),
    "semicolons": (_lines(";").encode(), [], 0, ()),
    "tabs": (_lines("\t").encode(), [], 0, ()),
    "pipes": (_lines("|").encode(), [], 0, ()),
    "quoted numbers": (_lines(value=lambda _i, y: f'"{y}"').encode(), [], 0, ()),
    "numbers padded with spaces": (_lines(value=lambda _i, y: f" {y} ").encode(), [], 0, ()),
    "header padded with spaces": (_lines(header="date , passengers ").encode(), [], 0, ()),
    "trailing empty lines": ((_lines() + "\n\n").encode(), [], 0, ()),
    "blank lines inside": (_lines().replace("\n", "\n\n", 6).encode(), [], 0, ()),
    "trailing commas": (_lines().replace("\n", ",\n").encode(), [], 0, ()),
    "windows line endings": (_lines().replace("\n", "\r\n").encode(), [], 0, ()),
    "old mac line endings": (_lines().replace("\n", "\r").encode(), [], 0, ()),
    "time zones": (_lines(date=lambda _i, d: d + "T00:00:00+02:00").encode(), [], 0, ()),
    "mixed time zones": (
        _lines(date=lambda i, d: d + ("T00:00:00+02:00" if i % 2 else "T00:00:00Z")).encode(),
        [],
        0,
        (),
    ),
    "magnitudes near 1e300": (_lines(value=lambda _i, y: f"{y:.4f}e298").encode(), [], 0, ()),
    "magnitudes near 1e300, standard": (
        _lines(value=lambda _i, y: f"{y:.4f}e298").encode(),
        ["--scaler", "standard"],
        0,
        (),
    ),
    "subnormal magnitudes": (_lines(value=lambda _i, y: f"{y:.4f}e-312").encode(), [], 0, ()),
    "constant target": (_lines(value=lambda _i, _y: "7").encode(), [], 0, ()),
    "single column, no time": (
        ("passengers\n" + "\n".join(str(y) for y in series()["passengers"]) + "\n").encode(),
        ["--no-time"],
        0,
        (),
    ),
    "integer time column": (_lines(date=lambda i, _d: str(1900 + i)).encode(), [], 0, ()),
    "whole-number float time column": (_lines(date=lambda i, _d: f"{i}.0").encode(), [], 0, ()),
    "two columns with one name": (
        _lines(header="date,passengers,passengers", value=lambda _i, y: f"{y},{y}").encode(),
        [],
        0,
        (),
    ),
    "an unused column of all NaN": (
        _lines(header="date,passengers,empty", value=lambda _i, y: f"{y},").encode(),
        [],
        0,
        (),
    ),
    "infinity": (
        _lines(value=lambda i, y: "-inf" if i == 11 else y).encode(),
        [],
        2,
        ("infinite", "-inf", "data row 12"),
    ),
    "beyond the largest float": (
        _lines(value=lambda i, y: "1e400" if i == 2 else y).encode(),
        [],
        2,
        ("infinite", "data row 3"),
    ),
    "NaN spelt out": (
        _lines(value=lambda i, y: "NaN" if i == 6 else y).encode(),
        [],
        2,
        ("1 missing", "data row 7", "--fill"),
    ),
    "a covariate of all NaN": (
        _lines(header="date,passengers,rain", value=lambda _i, y: f"{y},").encode(),
        ["--covariates", "rain", "--fill", "ffill"],
        2,
        ("'rain'", "no values at all"),
    ),
    "a covariate empty in the training part": (
        _lines(
            header="date,passengers,rain", value=lambda i, y: f"{y},{i if i > 30 else ''}"
        ).encode(),
        ["--covariates", "rain", "--fill", "interpolate"],
        2,
        ("'rain'", "no values in the training part"),
    ),
    "mixed date formats, day first": (
        _lines(date=lambda i, d: d if i % 2 else f"{d[8:]}/{d[5:7]}/{d[:4]}").encode(),
        [],
        2,
        ("goes back",),
    ),
    "fractional time column": (
        _lines(date=lambda i, _d: f"{i}.5").encode(),
        [],
        2,
        ("not whole", "0.5"),
    ),
    "true/false time column": (
        _lines(date=lambda i, _d: "True" if i % 2 else "False").encode(),
        [],
        2,
        ("true/false",),
    ),
    "single data row": (_lines(n=1).encode(), [], 2, ("1 rows", "too short")),
    "no header row": (
        _lines().split("\n", 1)[1].encode(),
        [],
        2,
        ("'passengers' not found", "no", "header row"),
    ),
    "decimal commas": (
        _lines(";", value=lambda _i, y: str(y).replace(".", ",")).encode(),
        [],
        2,
        ("non-numeric", "'passengers'"),
    ),
    "utf-16": (_lines().encode("utf-16"), [], 2, ("not utf-8",)),
    "binary junk": (bytes(range(256)) * 8, [], 2, ("not utf-8",)),
    "a NUL byte": (_lines().replace("2000-03-01", "2000-03-01\x00").encode(), [], None, ()),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_csv_runs_or_fails_cleanly(name, capsys, tmp_path):
    content, extra, expected, words = CORPUS[name]
    (tmp_path / "data.csv").write_bytes(content)
    args = ["--csv", str(tmp_path / "data.csv"), "--target", "passengers"]
    if "--no-time" in extra:
        extra = [e for e in extra if e != "--no-time"]
    else:
        args += ["--time-col", "date"]
    status, _, err = run(capsys, tmp_path, [*FAST, *args, *extra])
    assert "Traceback" not in err
    assert status in (0, 2), err
    if status == 2:
        assert_clean_failure(status, err, tmp_path, *words)
    else:
        assert_success(status, err, tmp_path)
    if expected is not None:
        assert status == expected, err
