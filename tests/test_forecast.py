"""Forecasts, backtests and checkpoints (DESIGN §4, §6)."""

import numpy as np
import pandas as pd
import pytest
import torch

import lstmstate
from lstmstate import TrainConfig, UserError
from lstmstate.api import Forecaster
from lstmstate.data import DataSpec, spec_for_dataset
from lstmstate.forecast import forecast_scaled

VARIANTS = [
    dict(mode="stateless"),
    dict(mode="stateful"),
    dict(mode="chained"),
    dict(mode="stateful", layout="lanes", stride=6, loss_steps="all"),
    dict(mode="chained", stride=6, loss_steps="all"),
]


def _frame(n=150, covariate=False, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    df = pd.DataFrame(
        {
            "when": pd.date_range("2000-01-01", periods=n, freq="D"),
            "y": 10 + np.sin(t / 4) + 0.1 * rng.standard_normal(n),
        }
    )
    if covariate:
        df["x"] = np.cos(t / 3)
    return df


def _fit(frame=None, covariates=(), **changes):
    config = TrainConfig(
        **{**dict(window=6, batch_size=4, hidden_size=6, epochs=2, dtype="float64"), **changes}
    )
    spec = DataSpec(target="y", time_col="when", covariates=tuple(covariates))
    return Forecaster.fit(frame if frame is not None else _frame(), config, spec)


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_forecast_from_a_loaded_checkpoint_equals_the_one_in_process(tmp_path, variant, strategy):
    model = _fit(horizon=3, strategy=strategy, **variant)
    before = model.forecast()
    model.save(tmp_path)
    after = Forecaster.load(tmp_path).forecast()
    pd.testing.assert_frame_equal(before, after)
    assert len(before) == 3 and before["forecast"].notna().all()


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_end_forecast_equals_the_forecast_from_the_last_origin(variant):
    """The saved end state and the evaluation of an origin inside the data agree."""
    model = _fit(horizon=4, **variant)
    prepared = model.prepared
    values = torch.as_tensor(prepared.data.values)
    padded = torch.cat([values, values.new_zeros(4, values.shape[1])])  # rows after the end
    scaled = forecast_scaled(model.model, model.config, padded, 0, np.array([len(values) - 1]))
    expected = prepared.scaler.inverse_target(scaled.numpy(), 0)[0]
    np.testing.assert_allclose(model.forecast()["forecast"].to_numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_only_stateful_forecasts_remember_the_far_past(variant):
    frame = _frame()
    base = _fit(frame, **variant).forecast()["forecast"].to_numpy()
    changed = frame.copy()
    changed.loc[len(frame) - 15, "y"] += 3.0  # before the last two windows (window 6)
    # the same weights on the changed history: warm the state up on it
    model = _fit(frame, **variant)
    warmed = model.warm_up(changed).forecast()["forecast"].to_numpy()
    np.testing.assert_allclose(model.forecast()["forecast"].to_numpy(), base)
    if variant["mode"] == "stateless":
        np.testing.assert_allclose(warmed, base, atol=1e-12)
    else:
        assert np.abs(warmed - base).max() > 0  # decays with distance, but never exactly 0


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_forecast_length_and_timestamps(strategy):
    spec = spec_for_dataset("airline")
    config = TrainConfig(horizon=12, strategy=strategy, epochs=1, hidden_size=4)
    model = Forecaster.fit(lstmstate.datasets.load("airline"), config, spec)
    out = model.forecast()
    assert list(out.columns) == ["series", "time", "forecast"]
    assert len(out) == 12
    assert list(out["time"]) == list(pd.date_range("1961-01-01", periods=12, freq="MS"))


def test_recursive_forecast_with_covariates_needs_their_future_values():
    frame = _frame(covariate=True)
    model = _fit(frame, covariates=["x"], horizon=3, mode="stateful")
    with pytest.raises(UserError, match="known future values of x"):
        model.forecast()
    future = pd.DataFrame({"x": [0.5, 0.25]})
    assert len(model.forecast(future=future)) == 3
    direct = _fit(frame, covariates=["x"], horizon=3, strategy="direct")
    assert len(direct.forecast()) == 3  # direct needs no future covariates


def test_direct_model_refuses_a_longer_horizon():
    model = _fit(horizon=2, strategy="direct")
    with pytest.raises(UserError, match="forecasts 2 steps directly"):
        model.forecast(horizon=5)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_backtest_is_in_original_units_on_test_rows(variant):
    frame = _frame()
    model = _fit(frame, horizon=2, **variant)
    bt = model.backtest()
    bounds = model.prepared.data.bounds[0]
    assert bt.origins[0] == bounds[2] - 1 and bt.origins[-1] == bounds[3] - 3
    np.testing.assert_array_equal(bt.y_true[:, 0], frame["y"].to_numpy()[bt.origins + 1])
    assert np.isfinite(bt.y_pred).all() and abs(bt.y_pred.mean() - 10) < 5
    assert set(bt.metrics()) == {"rmse", "mae", "mape", "smape", "mase", "theil_u2"}


def test_corrupt_or_foreign_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable lstmstate checkpoint"):
        Forecaster.load(tmp_path)
    torch.save({"format": 99}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="checkpoint format 99"):
        Forecaster.load(tmp_path)
    with pytest.raises(UserError, match="no checkpoint"):
        Forecaster.load(tmp_path / "missing")


def test_train_then_forecast_on_the_command_line(tmp_path):
    from lstmstate.cli import main

    out = tmp_path / "run"
    args = ["train", "--dataset", "airline", "--mode", "stateful", "--epochs", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    metrics = __import__("json").loads((out / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"naive", "seasonal_naive", "ets"}
    assert set(metrics["model"]) == {"rmse", "mae", "mape", "smape", "mase", "theil_u2"}
    assert main(["forecast", "--checkpoint", str(out), "--horizon", "12"]) == 0
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == 12 and forecast["time"].iloc[0].startswith("1961-01-01")
    assert (out / "forecast.png").stat().st_size > 1000
    # warm the state up on new data: the same file gives the same forecast
    csv = tmp_path / "airline.csv"
    lstmstate.datasets.load("airline").to_csv(csv, index=False)
    assert (
        main(
            ["forecast", "--checkpoint", str(out), "--csv", str(csv), "--out", str(tmp_path / "w")]
        )
        == 0
    )
    again = pd.read_csv(tmp_path / "w" / "forecast.csv")
    np.testing.assert_allclose(again["forecast"].iloc[:1], forecast["forecast"].iloc[:1], rtol=1e-6)
