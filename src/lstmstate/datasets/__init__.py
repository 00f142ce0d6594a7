"""Embedded real time series that load offline, with a sensible default setup for each.

=============  ======  =========  ===============================================================
name           rows    frequency  provenance
=============  ======  =========  ===============================================================
airline        144     monthly    Box & Jenkins international airline passengers 1949-1960
nile           100     yearly     Nile flow at Aswan 1871-1970 (Cobb 1978), public domain
co2_weekly     2284    weekly     Mauna Loa CO2 1958-2001 (Scripps), public domain; 59 weeks empty
seattle_temps  8759    hourly     NOAA hourly temperature, Seattle 2010, public domain
fulda_river    3653    daily      River Fulda discharge + rain + temperature 1979-1988 (spotpy, MIT)
us_employment  72339   monthly    BLS employment by sector, 148 series 1939-2019, public domain
=============  ======  =========  ===============================================================

The full provenance (with licences and notes on the data) is in ``SOURCES.md`` next to this
file. ``load(name)`` returns the file as a DataFrame: original column names and order, the
time column as ``datetime64[ns]``, value columns as float64, missing values kept as NaN (the
data layer fills them as ``info(name).fill`` says). ``info(name)`` gives the defaults
(target, covariates, season, window, split) that ``lstmstate --dataset NAME`` uses.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from importlib.resources import files

import pandas as pd

from lstmstate.errors import UserError

__all__ = ["DatasetInfo", "info", "load", "names", "table"]


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """One embedded dataset and the defaults that a run on it starts from (keyword arguments)."""

    name: str
    file: str  # file name inside datasets/data
    time_col: str
    target: str
    covariates: tuple[str, ...]  # past covariates used by default (model input after the target)
    series_col: str | None  # long-format series id column, or None
    season: int  # seasonal period for MASE / seasonal naive / ETS
    frequency: str  # human words: "monthly", "weekly", ...
    window: int  # default input window length T
    test_size: int | None  # None -> use the fractional split
    val_size: int | None
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)  # (train, val, test) fractions
    fill: str | None = None  # None, or "interpolate" when the data has gaps
    description: str  # one line
    source: str  # one line of provenance


_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="airline",
        file="airline.csv",
        time_col="month",
        target="passengers",
        covariates=(),
        series_col=None,
        season=12,
        frequency="monthly",
        window=12,
        test_size=12,
        val_size=12,
        description="International airline passengers (thousands), trend and growing yearly "
        "seasonality; the classic LSTM tutorial series, last 12 months held out",
        source="Box & Jenkins (1976), as R's datasets::AirPassengers",
    ),
    DatasetInfo(
        name="nile",
        file="nile.csv",
        time_col="year",
        target="volume",
        covariates=(),
        series_col=None,
        season=1,
        frequency="yearly",
        window=10,
        test_size=None,
        val_size=None,
        description="Annual Nile flow at Aswan (10^8 m^3), short, noisy, with a drop in level "
        "after 1898; no seasonality",
        source="Cobb (1978), as shipped by statsmodels; public domain",
    ),
    DatasetInfo(
        name="co2_weekly",
        file="co2_weekly.csv",
        time_col="date",
        target="co2",
        covariates=(),
        series_col=None,
        season=52,
        frequency="weekly",
        window=26,
        test_size=None,
        val_size=None,
        fill="interpolate",
        description="Atmospheric CO2 at Mauna Loa (ppm), smooth trend and yearly cycle; "
        "59 weeks missing (mostly 1958-1967), filled by interpolation",
        source="Keeling & Whorf (Scripps), as shipped by statsmodels; public domain",
    ),
    DatasetInfo(
        name="seattle_temps",
        file="seattle_temps.csv",
        time_col="time",
        target="temp_f",
        covariates=(),
        series_col=None,
        season=24,
        frequency="hourly",
        window=24,
        test_size=None,
        val_size=None,
        description="Hourly temperature in Seattle (F) over one year; very smooth (day-to-day "
        "changes under 0.5 F), so the seasonal naive is a strong baseline",
        source="NOAA, as shipped by vega_datasets; public domain",
    ),
    DatasetInfo(
        name="fulda_river",
        file="fulda_river.csv",
        time_col="date",
        target="flow_m3s",
        covariates=("precip_mm", "tmean_c"),
        series_col=None,
        season=1,
        frequency="daily",
        window=30,
        test_size=None,
        val_size=None,
        description="Daily discharge of the river Fulda (m^3/s) driven by rain and snowmelt; "
        "season 1 since yesterday's flow is the natural naive (4x better than last year's)",
        source="River Fulda catchment, as in the spotpy package's examples (MIT)",
    ),
    DatasetInfo(
        name="us_employment",
        file="us_employment.csv.gz",
        time_col="month",
        target="employed_thousands",
        covariates=(),
        series_col="series_id",
        season=12,
        frequency="monthly",
        window=12,
        test_size=24,
        val_size=24,
        description="US employment by sector (thousands), 148 series of 225-969 months in "
        "long format; last 24 months of each series held out",
        source="US Bureau of Labor Statistics, as in fpp3's us_employment; public domain",
    ),
)

_BY_NAME: dict[str, DatasetInfo] = {d.name: d for d in _DATASETS}

# How each file writes its time column: nile has bare integer years (-> Jan 1 of the year),
# airline and us_employment "YYYY-MM" (-> the first of the month).
_TIME_FORMATS: dict[str, str] = {
    "airline": "%Y-%m",
    "nile": "%Y",
    "co2_weekly": "%Y-%m-%d",
    "seattle_temps": "%Y-%m-%d %H:%M:%S",
    "fulda_river": "%Y-%m-%d",
    "us_employment": "%Y-%m",
}


def names() -> list[str]:
    """The embedded datasets in a fixed order, the classic airline series first and the
    multi-series one last: airline, nile, co2_weekly, seattle_temps, fulda_river, us_employment."""
    return [d.name for d in _DATASETS]


def info(name: str) -> DatasetInfo:
    """The defaults for dataset ``name``; an unknown name is a `UserError` listing the choices."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        pass
    choices = names()
    close = difflib.get_close_matches(str(name).lower(), choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"unknown dataset {name!r}: {hint}choose one of {', '.join(choices)}")


def load(name: str) -> pd.DataFrame:
    """Dataset ``name`` as a new DataFrame (safe to modify), read from the package offline."""
    return _read(info(name).name).copy()


@functools.lru_cache(maxsize=len(_DATASETS))  # one parsed frame per dataset
def _read(name: str) -> pd.DataFrame:
    meta = _BY_NAME[name]
    path = files("lstmstate.datasets") / "data" / meta.file
    # ids and times as strings so that parsing is explicit (nile's years are not numbers)
    as_text = {meta.time_col: str} | ({meta.series_col: str} if meta.series_col else {})
    with path.open("rb") as fh:
        df = pd.read_csv(
            fh, dtype=as_text, compression="gzip" if meta.file.endswith(".gz") else None
        )
    times = pd.to_datetime(df[meta.time_col], format=_TIME_FORMATS[name])
    df[meta.time_col] = times.astype("datetime64[ns]")
    for col in df.columns:
        if col not in as_text:
            df[col] = df[col].astype("float64")
    order = [meta.series_col, meta.time_col] if meta.series_col else [meta.time_col]
    return df.sort_values(order, kind="stable", ignore_index=True)


def _split_text(meta: DatasetInfo) -> str:
    if meta.test_size is None:
        return "/".join(f"{f:g}" for f in meta.split)
    val = f"{meta.val_size} val" if meta.val_size is not None else f"{meta.split[1]:g} val"
    return f"last {meta.test_size} test, {val}"


def table() -> pd.DataFrame:
    """One row per dataset (what ``lstmstate datasets`` prints)."""
    rows = []
    for meta in _DATASETS:
        df = _read(meta.name)
        rows.append(
            {
                "name": meta.name,
                "rows": len(df),
                "series": df[meta.series_col].nunique() if meta.series_col else 1,
                "frequency": meta.frequency,
                "target": meta.target,
                "covariates": ", ".join(meta.covariates),
                "season": meta.season,
                "window": meta.window,
                "split": _split_text(meta),
                "missing": int(df[meta.target].isna().sum()),
                "description": meta.description,
            }
        )
    return pd.DataFrame(rows)
