import dataclasses
from importlib.resources import files

import pandas as pd
import pytest

from lstmstate import datasets
from lstmstate.errors import UserError

NAMES = ["airline", "nile", "co2_weekly", "seattle_temps", "fulda_river", "us_employment"]
CHOICES = ", ".join(NAMES)

# name -> (rows, columns in file order, number of series, first timestamp)
EXPECTED = {
    "airline": (144, ["month", "passengers"], 1, "1949-01-01"),
    "nile": (100, ["year", "volume"], 1, "1871-01-01"),
    "co2_weekly": (2284, ["date", "co2"], 1, "1958-03-29"),
    "seattle_temps": (8759, ["time", "temp_f"], 1, "2010-01-01 00:00"),
    "fulda_river": (
        3653,
        ["date", "flow_m3s", "precip_mm", "tmean_c", "tmax_c", "tmin_c"],
        1,
        "1979-01-01",
    ),
    "us_employment": (72339, ["series_id", "month", "employed_thousands"], 148, "1939-01-01"),
}


def _series(name):
    """(series id, frame of that series) for each series of the dataset."""
    meta = datasets.info(name)
    df = datasets.load(name)
    if meta.series_col is None:
        return [(None, df)]
    return list(df.groupby(meta.series_col, sort=False))


def test_names_lists_the_six_in_order():
    assert datasets.names() == NAMES
    assert datasets.names() is not datasets.names()  # callers may modify their list


@pytest.mark.parametrize("name", NAMES)
def test_load_shape_columns_and_time_dtype(name):
    rows, columns, n_series, first = EXPECTED[name]
    meta = datasets.info(name)
    df = datasets.load(name)
    assert df.shape == (rows, len(columns))
    assert list(df.columns) == columns
    assert pd.api.types.is_datetime64_dtype(df[meta.time_col])
    assert df[meta.time_col].min() == pd.Timestamp(first)
    assert df.index.equals(pd.RangeIndex(rows))
    assert len(_series(name)) == n_series


@pytest.mark.parametrize("name", NAMES)
def test_time_strictly_increasing_within_each_series(name):
    meta = datasets.info(name)
    for sid, part in _series(name):
        t = part[meta.time_col]
        assert t.is_monotonic_increasing and t.is_unique, (name, sid)


def test_us_employment_is_long_format_sorted_by_series_then_month():
    meta = datasets.info("us_employment")
    df = datasets.load("us_employment")
    ordered = df.sort_values([meta.series_col, meta.time_col], ignore_index=True)
    pd.testing.assert_frame_equal(df, ordered)
    lengths = df.groupby(meta.series_col).size()
    assert (lengths.min(), lengths.max()) == (225, 969)


def test_months_and_years_parse_to_period_starts():
    assert (datasets.load("airline")["month"].dt.is_month_start).all()
    assert (datasets.load("us_employment")["month"].dt.is_month_start).all()
    years = datasets.load("nile")["year"]
    assert (years.dt.month == 1).all() and (years.dt.day == 1).all()
    assert years.dt.year.tolist() == list(range(1871, 1971))


@pytest.mark.parametrize("name", NAMES)
def test_missing_targets_only_in_co2(name):
    meta = datasets.info(name)
    df = datasets.load(name)
    expected = 59 if name == "co2_weekly" else 0
    assert int(df[meta.target].isna().sum()) == expected
    assert int(df.isna().sum().sum()) == expected
    # a dataset with gaps says how to fill them
    assert (meta.fill == "interpolate") if expected else (meta.fill is None)


def test_co2_gaps_are_interior_and_weeks_regular():
    df = datasets.load("co2_weekly")
    assert df["co2"].iloc[[0, -1]].notna().all()  # so interpolation fills every gap
    assert (df["date"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert df["co2"].interpolate().notna().all()


def test_load_returns_a_fresh_copy():
    first = datasets.load("airline")
    first.loc[0, "passengers"] = -1.0
    first["extra"] = 0
    second = datasets.load("airline")
    assert second.loc[0, "passengers"] == 112.0
    assert "extra" not in second.columns
    assert second is not datasets.load("airline")


def test_unknown_name_with_close_match_suggests_it():
    with pytest.raises(UserError) as err:
        datasets.load("airlin")
    assert str(err.value) == (
        f"unknown dataset 'airlin': did you mean 'airline'? choose one of {CHOICES}"
    )


def test_unknown_name_without_close_match_lists_choices():
    with pytest.raises(UserError) as err:
        datasets.info("sunspots")
    assert str(err.value) == f"unknown dataset 'sunspots': choose one of {CHOICES}"


def test_info_is_frozen():
    meta = datasets.info("nile")
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.window = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_info_consistent_with_data(name):
    meta = datasets.info(name)
    df = datasets.load(name)
    assert meta.name == name
    assert (files("lstmstate.datasets") / "data" / meta.file).is_file()
    assert meta.time_col in df.columns
    assert meta.target in df.columns and meta.target != meta.time_col
    assert set(meta.covariates) <= set(df.columns) - {meta.time_col, meta.target}
    if meta.series_col is not None:
        assert meta.series_col in df.columns
    assert meta.season >= 1 and meta.window >= 1
    assert sum(meta.split) == pytest.approx(1.0)
    assert meta.frequency and meta.description and meta.source
    assert "\n" not in meta.description + meta.source
    for _, part in _series(name):
        n = len(part)
        assert meta.window < n
        if meta.test_size is not None:
            # every series keeps at least one training window before val and test
            assert meta.window + 1 + meta.val_size + meta.test_size <= n
        else:
            assert meta.window < int(n * meta.split[0])


def test_table_has_one_row_per_dataset():
    t = datasets.table()
    assert list(t.columns) == [
        "name",
        "rows",
        "series",
        "frequency",
        "target",
        "covariates",
        "season",
        "window",
        "split",
        "missing",
        "description",
    ]
    assert t["name"].tolist() == NAMES
    by_name = t.set_index("name")
    for name, (rows, _, n_series, _) in EXPECTED.items():
        assert by_name.loc[name, "rows"] == rows
        assert by_name.loc[name, "series"] == n_series
    assert by_name.loc["co2_weekly", "missing"] == 59
    assert by_name["missing"].sum() == 59
    assert by_name.loc["airline", "split"] == "last 12 test, 12 val"
    assert by_name.loc["us_employment", "split"] == "last 24 test, 24 val"
    assert by_name.loc["nile", "split"] == "0.6/0.2/0.2"
    assert by_name.loc["fulda_river", "covariates"] == "precip_mm, tmean_c"


def test_sources_document_every_file():
    text = (files("lstmstate.datasets") / "SOURCES.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert datasets.info(name).file in text
    assert "public domain" in text.lower() and "MIT" in text
