"""The data layer (DESIGN §3): scaling fitted on the training rows only, round trips to
original units, several series in long format, and every embedded dataset through the API.

Bad input through the command line is in ``test_cli.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lstmstate
from lstmstate import StatefulLSTM, TrainConfig, UserError, detach
from lstmstate.api import Forecaster
from lstmstate.data import DataSpec, prepare, spec_for_dataset
from lstmstate.modes import strategy_for
from lstmstate.scaling import SCALERS, Scaler
from lstmstate.train import training_windows
from lstmstate.windows import plan_batches

MODES = ["stateless", "stateful", "chained"]


def frame(n: int = 60, seed: int = 0, start: str = "2000-01-01", level: float = 100.0):
    """A daily series: target ``y`` (seasonal, trending, noisy) and a covariate ``x``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = level + 10 * np.sin(2 * np.pi * t / 12) + 0.2 * t + rng.standard_normal(n)
    x = np.cos(2 * np.pi * t / 7) + 0.1 * rng.standard_normal(n)
    return pd.DataFrame({"date": pd.date_range(start, periods=n, freq="D"), "y": y, "x": x})


def long_frame(interleave: bool = True) -> pd.DataFrame:
    """Two series of different lengths and levels in long format ("a": 40 rows, "b": 27)."""
    a = frame(40, seed=1, level=10.0).assign(sid="a")
    b = frame(27, seed=2, start="2001-06-01", level=1000.0).assign(sid="b")
    df = pd.concat([a, b], ignore_index=True)
    if interleave:  # rows of the two series alternate where both have rows
        order = np.argsort(np.concatenate([np.arange(40), np.arange(27) + 0.5]), kind="stable")
        df = df.iloc[order].reset_index(drop=True)
    return df


SPEC = DataSpec(target="y", covariates=("x",), time_col="date")
LONG = DataSpec(target="y", covariates=("x",), time_col="date", series_col="sid")


def _params(kind: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scaler's (offset, scale) computed directly from ``rows``."""
    if kind == "minmax":
        return rows.min(0), rows.max(0) - rows.min(0)
    if kind == "standard":
        return rows.mean(0), rows.std(0)
    return np.zeros(rows.shape[1]), np.ones(rows.shape[1])


# -- the scaler sees the training rows only ------------------------------------------------


@pytest.mark.parametrize("kind", SCALERS)
def test_scaler_parameters_come_from_the_training_rows(kind):
    df = frame()
    p = prepare(df, DataSpec(**{**SPEC.__dict__, "scaler": kind}), window=4)
    (_, train_end, val_end, end) = p.data.bounds[0]
    assert (train_end, val_end, end) == (36, 48, 60)  # 0.6 / 0.2 / 0.2 of 60 rows, by time
    train = df[["y", "x"]].to_numpy()[:train_end]
    offset, scale = _params(kind, train)
    np.testing.assert_allclose(p.scaler.offset[0], offset, rtol=1e-12)
    np.testing.assert_allclose(p.scaler.scale[0], scale, rtol=1e-12)
    if kind == "minmax":  # the training part spans exactly [0, 1]
        np.testing.assert_allclose(p.data.values[:train_end].min(0), 0, atol=1e-12)
        np.testing.assert_allclose(p.data.values[:train_end].max(0), 1, atol=1e-12)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
@pytest.mark.parametrize("row", [36, 47, 48, 59])  # first/last validation row, first/last test
@pytest.mark.parametrize("column", ["y", "x"])
def test_a_huge_value_after_the_split_changes_nothing_before_it(kind, row, column):
    spec = DataSpec(**{**SPEC.__dict__, "scaler": kind})
    before = prepare(frame(), spec, window=4)
    df = frame()
    df.loc[row, column] = 1e9
    after = prepare(df, spec, window=4)
    train_end = before.data.bounds[0][1]
    np.testing.assert_array_equal(after.scaler.offset, before.scaler.offset)
    np.testing.assert_array_equal(after.scaler.scale, before.scaler.scale)
    np.testing.assert_array_equal(after.data.values[:train_end], before.data.values[:train_end])
    np.testing.assert_array_equal(after.data.values[:row], before.data.values[:row])
    assert after.raw[row, ["y", "x"].index(column)] == 1e9  # the value is there, unscaled
    assert not np.array_equal(after.data.values[row], before.data.values[row])


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_scaler_is_per_series_and_from_each_series_training_rows(kind):
    spec = DataSpec(**{**LONG.__dict__, "scaler": kind})
    df = long_frame()
    p = prepare(df, spec, window=4)
    assert p.series_names == ["a", "b"]
    assert p.scaler.offset.shape == p.scaler.scale.shape == (2, 2)
    for i, (a, train_end, _, _) in enumerate(p.data.bounds):
        offset, scale = _params(kind, p.raw[a:train_end])
        np.testing.assert_allclose(p.scaler.offset[i], offset, rtol=1e-12)
        np.testing.assert_allclose(p.scaler.scale[i], scale, rtol=1e-12)
    # the two series live on very different levels: one shared scaler would not fit both
    assert p.scaler.offset[1, 0] > 50 * p.scaler.offset[0, 0]

    # a huge value in the test part of series b: nothing of series a changes, nor b's training
    last_b = int(np.flatnonzero(df["sid"] == "b")[-1])
    changed = df.copy()
    changed.loc[last_b, "y"] = 1e9
    q = prepare(changed, spec, window=4)
    np.testing.assert_array_equal(q.scaler.offset, p.scaler.offset)
    np.testing.assert_array_equal(q.scaler.scale, p.scaler.scale)
    (a0, _, _, e0), (a1, t1, _, _) = p.data.bounds
    np.testing.assert_array_equal(q.data.values[a0:e0], p.data.values[a0:e0])
    np.testing.assert_array_equal(q.data.values[a1:t1], p.data.values[a1:t1])


@pytest.mark.parametrize("fill", ["interpolate", "ffill"])
def test_filling_the_training_part_does_not_look_past_it(fill):
    """A gap at the end of the training part is filled from training rows only."""
    spec = DataSpec(**{**SPEC.__dict__, "fill": fill, "test_size": 12, "val_size": 0})
    df = frame()
    train_end = 60 - 12
    df.loc[train_end - 2 : train_end - 1, "y"] = np.nan  # the last two training rows
    before = prepare(df, spec, window=4)
    assert before.notes == [f"filled 2 missing value(s) in data by {fill}"]
    changed = df.copy()
    changed.loc[train_end, "y"] = 1e9  # the first test row, right after the gap
    after = prepare(changed, spec, window=4)
    np.testing.assert_array_equal(after.raw[:train_end], before.raw[:train_end])
    np.testing.assert_array_equal(after.scaler.offset, before.scaler.offset)
    np.testing.assert_array_equal(after.scaler.scale, before.scaler.scale)
    assert np.isfinite(before.raw).all()


def test_interior_gaps_are_interpolated_linearly():
    df = frame()
    df.loc[10:12, "y"] = np.nan
    p = prepare(df, DataSpec(**{**SPEC.__dict__, "fill": "interpolate"}), window=4)
    y = df["y"].to_numpy()
    np.testing.assert_allclose(p.raw[10:13, 0], y[9] + (y[13] - y[9]) * np.arange(1, 4) / 4)


def test_missing_values_without_fill_name_column_count_and_row():
    df = frame()
    df.loc[[7, 20], "y"] = np.nan
    with pytest.raises(UserError, match=r"'y' has 2 missing value\(s\), the first in data row 8"):
        prepare(df, SPEC, window=4)


def test_a_column_without_any_value_is_named():
    df = frame().assign(x=np.nan)
    with pytest.raises(UserError, match="column 'x' of data has no values at all"):
        prepare(df, DataSpec(**{**SPEC.__dict__, "fill": "ffill"}), window=4)


def test_a_column_name_given_twice_is_bad_input():
    df = pd.concat([frame(), frame()[["y"]]], axis=1)
    with pytest.raises(UserError, match="target column 'y' appears more than once"):
        prepare(df, SPEC, window=4)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_bad_input(value):
    df = frame()
    df.loc[5, "x"] = value
    with pytest.raises(UserError, match=r"'x' has 1 infinite value\(s\).*data row 6"):
        prepare(df, SPEC, window=4)


# -- round trips ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(SCALERS),
    x=arrays(
        np.float64,
        st.tuples(st.integers(2, 30), st.integers(1, 3)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    cut=st.floats(0.1, 1.0),
)
def test_inverse_of_transform_is_the_identity(kind, x, cut):
    x = np.round(x, 6)  # no training range so narrow that 1e6 / range overflows
    train = x[: max(1, int(len(x) * cut))]
    scaler = Scaler.fit(kind, [train, 2 * train + 1])
    for series in (0, 1):
        scaled = scaler.transform(x, series)
        assert np.isfinite(scaled).all()
        tol = 1e-9 * (1 + np.abs(x).max())
        np.testing.assert_allclose(scaler.inverse(scaled, series), x, rtol=0, atol=tol)
        np.testing.assert_allclose(
            scaler.inverse_target(scaled[:, 0], series), x[:, 0], rtol=0, atol=tol
        )
    # per-row series numbers, and (rows, steps) arrays of targets
    rows = np.arange(len(x)) % 2
    target = np.stack([scaler.transform(x[i : i + 1], int(s))[0, 0] for i, s in enumerate(rows)])
    back = scaler.inverse_target(np.stack([target, target], 1), rows)
    np.testing.assert_allclose(back, np.stack([x[:, 0], x[:, 0]], 1), rtol=0, atol=tol)
    again = Scaler.from_dict(scaler.to_dict())
    assert again.kind == scaler.kind
    np.testing.assert_array_equal(again.offset, scaler.offset)
    np.testing.assert_array_equal(again.scale, scaler.scale)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
@pytest.mark.parametrize("magnitude", [1e-310, 1e-150, 1.0, 1e150, 1e300])
def test_scaling_survives_extreme_magnitudes(kind, magnitude):
    """Neither squares overflowing (1e300) nor vanishing (1e-310) break the scaler."""
    x = magnitude * (1 + np.arange(20, dtype=np.float64))[:, None]
    scaler = Scaler.fit(kind, [x])
    assert np.isfinite(scaler.offset).all() and (scaler.scale > 0).all()
    scaled = scaler.transform(x, 0)
    if kind == "minmax":
        np.testing.assert_allclose([scaled.min(), scaled.max()], [0, 1], atol=1e-9)
    else:
        np.testing.assert_allclose([scaled.mean(), scaled.std()], [0, 1], atol=1e-9)
    np.testing.assert_allclose(scaler.inverse(scaled, 0), x, rtol=1e-9)


def test_a_range_beyond_the_largest_float_is_bad_input():
    x = np.array([[-1e308], [1e308]])
    with pytest.raises(UserError, match="too large to minmax-scale"):
        Scaler.fit("minmax", [x])


def test_constant_training_column_gets_scale_one():
    x = np.column_stack([np.full(10, 5.0), np.arange(10.0)])
    scaler = Scaler.fit("minmax", [x])
    np.testing.assert_array_equal(scaler.scale[0], [1.0, 9.0])
    np.testing.assert_array_equal(scaler.transform(x, 0)[:, 0], 0.0)


def test_unknown_scaler_lists_the_choices():
    with pytest.raises(UserError, match="unknown scaler 'log'.*minmax, standard, none"):
        prepare(frame(), DataSpec(**{**SPEC.__dict__, "scaler": "log"}), window=4)


def _fit(df: pd.DataFrame, spec: DataSpec, **config) -> Forecaster:
    base = dict(window=6, batch_size=8, hidden_size=4, epochs=1, seed=0, dtype="float64")
    return Forecaster.fit(df, TrainConfig(**{**base, **config}), spec)


@pytest.mark.parametrize("mode", MODES)
def test_backtest_reports_the_raw_test_values_and_forecasts_in_original_units(mode):
    df = frame(80, level=1000.0)
    f = _fit(df, SPEC, mode=mode)
    bt = f.backtest()
    (_, _, val_end, end) = f.prepared.data.bounds[0]
    y = df["y"].to_numpy()
    np.testing.assert_array_equal(bt.y_true[:, 0], y[val_end:end])  # bit for bit, unscaled
    np.testing.assert_array_equal(bt.y_last, y[val_end - 1 : end - 1])
    # an untrained model's scaled output is O(1): in original units that is around 1000,
    # nowhere near the [0, 1] of the scaled data
    low, high = y[: f.prepared.data.bounds[0][1]].min(), y[: f.prepared.data.bounds[0][1]].max()
    spread = high - low
    assert (bt.y_pred > low - 3 * spread).all() and (bt.y_pred < high + 3 * spread).all()
    forecast = f.forecast()["forecast"].to_numpy()
    assert (forecast > low - 3 * spread).all() and (forecast < high + 3 * spread).all()


def test_scaled_and_unscaled_models_forecast_in_the_same_units():
    """A model trained without scaling and one with min-max scaling both land on the data."""
    rng = np.random.default_rng(5)
    df = frame(120)
    df["y"] = 2 + np.sin(2 * np.pi * np.arange(120) / 12) + 0.05 * rng.standard_normal(120)
    # about 1 .. 3: learnable without scaling too; min-max maps it to [0, 1]
    maes = {}
    for kind in ("none", "minmax"):
        spec = DataSpec(**{**SPEC.__dict__, "scaler": kind})
        bt = _fit(df, spec, epochs=25, lr=2e-2, hidden_size=8, batch_size=16).backtest()
        maes[kind] = float(np.abs(bt.y_pred - bt.y_true).mean())
        # an uninverted min-max forecast would sit in [0, 1], about 1.5 below the data
        assert abs(bt.y_pred.mean() - bt.y_true.mean()) < 0.5, kind
    spread = float(df["y"].max() - df["y"].min())
    assert max(maes.values()) < 0.5 * spread, maes


# -- several series in long format ---------------------------------------------------------


def test_long_format_rows_are_grouped_per_series_and_split_by_time():
    df = long_frame(interleave=True)
    p = prepare(df, LONG, window=4)
    assert p.series_names == ["a", "b"]
    np.testing.assert_array_equal(p.data.bounds, [[0, 24, 32, 40], [40, 56, 61, 67]])
    rows = p.series_of_rows()
    for i, sid in enumerate(["a", "b"]):
        mine = df[df["sid"] == sid]
        np.testing.assert_array_equal(p.raw[rows == i], mine[["y", "x"]].to_numpy())
        times = p.times[rows == i]
        np.testing.assert_array_equal(times, mine["date"].to_numpy(dtype="datetime64[ns]"))
        a, train_end, val_end, end = p.data.bounds[i]
        # train | validation | test, each part later than the one before, within the series
        assert p.times[train_end - 1] < p.times[train_end] < p.times[val_end]
        assert (np.diff(p.times[a:end]) > np.timedelta64(0)).all()
        assert (train_end - a, val_end - a) == (int(0.6 * (end - a)), int(0.8 * (end - a)))


def test_duplicate_index_labels_do_not_mix_up_rows():
    """A frame glued together without ``ignore_index`` has labels 0.. twice."""
    a = frame(40, seed=1, level=10.0).assign(sid="a")
    b = frame(27, seed=2, level=1000.0).assign(sid="b")
    glued = prepare(pd.concat([a, b]), LONG, window=4)
    clean = prepare(pd.concat([a, b], ignore_index=True), LONG, window=4)
    assert len(glued.raw) == 67
    np.testing.assert_array_equal(glued.raw, clean.raw)
    np.testing.assert_array_equal(glued.data.bounds, clean.data.bounds)


def test_time_checks_are_per_series():
    """Series b starting before series a ends is fine; going back inside b is not."""
    df = long_frame(interleave=False)
    df.loc[df["sid"] == "b", "date"] = pd.date_range("2000-01-05", periods=27, freq="D")
    prepare(df, LONG, window=4)
    rows_b = np.flatnonzero(df["sid"] == "b")
    df.loc[rows_b[5], "date"] = df.loc[rows_b[3], "date"]
    with pytest.raises(UserError, match=r"goes back at 2000-01-08 .*series 'b', row 6"):
        prepare(df, LONG, window=4)


def test_too_short_series_is_named():
    df = long_frame()
    df = df[(df["sid"] == "a") | (df.groupby("sid").cumcount() < 9)]
    with pytest.raises(UserError, match=r"series 'b' has 9 rows.*at least 10 rows"):
        prepare(df, LONG, window=4)


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(stride=3),
        dict(loss_steps="all", stride=4),
        dict(horizon=2, strategy="direct"),
    ],
)
def test_no_training_window_mixes_rows_of_two_series(config):
    config = TrainConfig(window=4, batch_size=3, **config)
    p = prepare(long_frame(), LONG, window=config.window, horizon=config.output_size)
    w = training_windows(p.data, config)
    rows = p.series_of_rows()
    span = config.window + config.output_size  # inputs and the targets after them
    assert set(w.series) == {0, 1}
    for start, series in zip(w.starts, w.series, strict=True):
        covered = rows[start : start + span]
        assert len(covered) == span and (covered == series).all()
        a, train_end, _, _ = p.data.bounds[series]
        assert a <= start and start + span <= train_end


def test_lanes_start_every_new_series_from_zeros():
    """Planned: a lane resets exactly where its window belongs to another series than the
    lane's window one batch earlier; run: the state handed to the model there is zero."""
    config = TrainConfig(
        mode="stateful", layout="lanes", window=4, batch_size=3, hidden_size=4, epochs=1
    )
    p = prepare(long_frame(), LONG, window=4)
    w = training_windows(p.data, config)
    plan = plan_batches(len(w.starts), config.batch_size, config.layout)
    assert (len(w.starts), plan.dropped) == (32, 2)  # 20 windows of a, 12 of b; 10 per lane
    first_of_b = int(np.flatnonzero(w.series == 1)[0])
    strategy = strategy_for("stateful")
    carried = (torch.ones(1, 3, 4), torch.ones(1, 3, 4))
    previous, expected_resets = None, []
    for j, lanes in enumerate(plan.batches):
        series = w.series[lanes]
        resets = strategy.resets(series, previous)
        if previous is None:
            assert resets.all()
            assert strategy.initial(None, resets) is None  # zeros at the start of the epoch
        else:
            np.testing.assert_array_equal(resets, series != previous)
            h, c = strategy.initial(carried, resets)
            for i in range(len(lanes)):
                assert bool(h[:, i].any()) == bool(c[:, i].any()) == (not resets[i])
            expected_resets += [(j, i) for i in np.flatnonzero(resets)]
        previous = series
    assert len(expected_resets) == 1  # the one lane that moves from series a into b
    j, i = expected_resets[0]
    assert plan.batches[j][i] == first_of_b and 0 < j  # in the middle of the lane

    states = []
    forward = StatefulLSTM.forward

    def recording(model, x, state=None):
        y, final = forward(model, x, state)
        if model.training:
            states.append(None if state is None else detach(state))
        return y, final

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(StatefulLSTM, "forward", recording)
        lstmstate.fit(p.data, config)
    assert len(states) == len(plan.batches) and states[0] is None
    for k, state in enumerate(states[1:], start=1):
        for lane in range(config.batch_size):
            zero = not state[0][:, lane].any() and not state[1][:, lane].any()
            assert zero == ((k, lane) == (j, i)), (k, lane)


# -- the embedded datasets -----------------------------------------------------------------


def _dataset(name: str, series: int | None = 3) -> pd.DataFrame:
    df = lstmstate.datasets.load(name)
    column = lstmstate.datasets.info(name).series_col
    if column is not None and series is not None:
        keep = pd.unique(df[column])[:series]
        df = df[df[column].isin(keep)]
    return df


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", lstmstate.datasets.names())
def test_every_embedded_dataset_trains_one_epoch_in_every_mode(name, mode):
    df = _dataset(name)
    info = lstmstate.datasets.info(name)
    batch = 64 if len(df) > 1000 else 16
    config = TrainConfig(mode=mode, epochs=1, hidden_size=4, batch_size=batch, window=info.window)
    f = Forecaster.fit(df, config, spec_for_dataset(name))
    assert len(f.history.train_loss) == 1 and np.isfinite(f.history.train_loss[0])
    assert np.isfinite(f.history.val_loss[0])
    assert f.prepared.columns == [info.target, *info.covariates]
    assert np.isfinite(f.prepared.data.values).all()  # gaps filled, nothing left as NaN
    if name == "us_employment":
        assert len(f.prepared.series_names) == 3


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_all_us_employment_series_train_one_epoch_with_stride_window(mode):
    layout = "lanes" if mode == "stateful" else "sequential"
    config = TrainConfig(
        mode=mode, layout=layout, epochs=1, hidden_size=4, batch_size=64, window=12, stride=12
    )
    f = Forecaster.fit(_dataset("us_employment", None), config, spec_for_dataset("us_employment"))
    assert len(f.prepared.series_names) == 148
    assert np.isfinite(f.history.train_loss[0])
    assert f.prepared.scaler.offset.shape == (148, 1)


# -- minimum length ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "window,split,test_size,horizon",
    [
        (4, (0.6, 0.2, 0.2), None, 1),
        (10, (0.6, 0.2, 0.2), None, 1),
        (7, (0.7, 0.15, 0.15), None, 1),
        (5, (0.5, 0.0, 0.5), None, 3),
        (12, (0.6, 0.2, 0.2), 12, 1),
        (4, (0.6, 0.2, 0.2), 3, 3),
    ],
)
def test_the_needed_row_count_in_the_message_is_exact(window, split, test_size, horizon):
    spec = DataSpec(target="y", split=split, test_size=test_size)
    with pytest.raises(UserError, match=r"needs at least (\d+) rows") as info:
        prepare(pd.DataFrame({"y": np.arange(3.0)}), spec, window=window, horizon=horizon)
    needed = int(info.value.args[0].split("needs at least ")[1].split()[0])
    ok = pd.DataFrame({"y": np.sin(np.arange(needed, dtype=float))})
    prepare(ok, spec, window=window, horizon=horizon)
    with pytest.raises(UserError, match=f"has {needed - 1} rows"):
        prepare(ok.iloc[:-1], spec, window=window, horizon=horizon)


def test_a_test_part_shorter_than_the_direct_horizon_is_bad_input():
    spec = DataSpec(target="y", test_size=2, val_size=2)
    with pytest.raises(UserError, match="2 rows is shorter than the forecast horizon of 3"):
        prepare(pd.DataFrame({"y": np.sin(np.arange(50.0))}), spec, window=4, horizon=3)
