"""Baselines: naive and seasonal naive by hand and on airline; ETS against statsmodels."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.holtwinters import ExponentialSmoothing as HoltWinters
from statsmodels.tsa.statespace.exponential_smoothing import (
    ExponentialSmoothing as StateSpaceETS,
)

from lstmstate import baselines
from lstmstate.baselines import Baseline, EtsParams, baseline_forecasts, ets_forecasts, fit_ets

AIRLINE_CSV = Path(__file__).parents[1] / "src/lstmstate/datasets/data/airline.csv"


@pytest.fixture(scope="module")
def airline() -> pd.DataFrame:
    """144 monthly values, 1949-01 .. 1960-12; the test part is the last 12 (fit_end=132)."""
    return pd.read_csv(AIRLINE_CSV)


@pytest.fixture(scope="module")
def passengers(airline) -> np.ndarray:
    return airline["passengers"].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def test_year(passengers) -> dict[str, Baseline]:
    """The airline test year: one 12-month forecast from the last fitting month (origin 131)."""
    return baseline_forecasts(passengers, np.array([131]), horizon=12, season=12, fit_end=132)


@pytest.fixture(scope="module")
def params_132(passengers) -> EtsParams:
    """Seasonal damped-trend ETS parameters fitted once on the fitting part y[:132]."""
    return fit_ets(passengers[:132], season=12)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


# --- naive and seasonal naive -----------------------------------------------------------


def test_keys_types_and_shapes():
    y = np.arange(30.0)
    result = baseline_forecasts(y, np.array([20, 25]), horizon=3, season=4, fit_end=20)
    assert list(result) == ["naive", "seasonal_naive", "ets"]
    for name, baseline in result.items():
        assert isinstance(baseline, Baseline)
        assert baseline.name == name
        assert baseline.forecasts.shape == (2, 3)


def test_no_origins_give_empty_forecasts():
    result = baseline_forecasts(np.arange(30.0), np.array([], dtype=int), 3, 4, 20)
    assert [(b.forecasts.shape, b.note) for b in result.values()] == [((0, 3), "")] * 3


def test_naive_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    result = baseline_forecasts(y, np.array([3, 5]), horizon=2, season=1, fit_end=6)
    # yhat_{t+h} = y_t: origin 3 -> y_3 = 4, origin 5 -> y_5 = 6
    np.testing.assert_array_equal(result["naive"].forecasts, [[4.0, 4.0], [6.0, 6.0]])
    assert result["naive"].note == ""
    # season 1: the seasonal naive is the naive
    np.testing.assert_array_equal(result["seasonal_naive"].forecasts, result["naive"].forecasts)


def test_seasonal_naive_by_hand():
    y = np.array([10.0, 20.0, 30.0, 11.0, 21.0, 31.0, 12.0, 22.0])
    result = baseline_forecasts(y, np.array([5, 2]), horizon=4, season=3, fit_end=6)
    # yhat_{t+h} = y_{t+h-3*ceil(h/3)}
    # origin 5: h=1 -> y_3 = 11, h=2 -> y_4 = 21, h=3 -> y_5 = 31, h=4 -> y_{5+4-6} = y_3 = 11
    # origin 2: h=1 -> y_0 = 10, h=2 -> y_1 = 20, h=3 -> y_2 = 30, h=4 -> y_0 = 10
    expected = [[11.0, 21.0, 31.0, 11.0], [10.0, 20.0, 30.0, 10.0]]
    np.testing.assert_array_equal(result["seasonal_naive"].forecasts, expected)
    assert result["seasonal_naive"].note == ""


def test_seasonal_naive_on_airline_test_year_is_1959(airline, passengers, test_year):
    result = test_year
    year_before = airline["month"].str.startswith("1959")
    np.testing.assert_array_equal(
        result["seasonal_naive"].forecasts[0], passengers[year_before.to_numpy()]
    )
    np.testing.assert_array_equal(result["seasonal_naive"].forecasts[0], passengers[120:132])


def test_seasonal_naive_one_step_is_twelve_months_before_the_target(passengers):
    origins = np.arange(131, 143)
    result = baseline_forecasts(passengers, origins, horizon=1, season=12, fit_end=132)
    # the target of origin t is t + 1; twelve months before it is t + 1 - 12
    np.testing.assert_array_equal(
        result["seasonal_naive"].forecasts[:, 0], passengers[origins - 11]
    )


def test_seasonal_naive_falls_back_to_naive_before_a_full_season():
    y = np.arange(40.0)
    result = baseline_forecasts(y, np.array([5, 30]), horizon=2, season=12, fit_end=30)
    np.testing.assert_array_equal(result["seasonal_naive"].forecasts, result["naive"].forecasts)
    assert result["seasonal_naive"].note == (
        "seasonal naive fell back to the naive forecast: origin 5 has fewer than "
        "season=12 values up to it."
    )


def test_forecasts_use_only_values_up_to_the_origin(passengers):
    origins = np.array([120, 125])
    before = baseline_forecasts(passengers, origins, horizon=6, season=12, fit_end=121)
    changed = passengers.copy()
    changed[126:] = -1000.0  # after the last origin: must not matter
    after = baseline_forecasts(changed, origins, horizon=6, season=12, fit_end=121)
    for name in before:
        np.testing.assert_array_equal(before[name].forecasts, after[name].forecasts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origins": np.array([144])}, r"origins must lie in \[0, 143\] \(len\(y\) = 144\)"),
        ({"origins": np.array([1.0])}, "origins must be a 1-D integer array"),
        ({"horizon": 0}, "horizon must be >= 1, got 0"),
        ({"season": 0}, "season must be >= 1, got 0"),
        ({"fit_end": 145}, r"fit_end must lie in \[1, 144\], got 145"),
    ],
)
def test_bad_arguments_are_errors(passengers, kwargs, message):
    arguments = {"origins": np.array([131]), "horizon": 12, "season": 12, "fit_end": 132}
    with pytest.raises(ValueError, match=message):
        baseline_forecasts(passengers, **{**arguments, **kwargs})


# --- ETS --------------------------------------------------------------------------------


def test_ets_is_finite_and_beats_naive_on_airline(passengers, test_year):
    result = test_year
    ets = result["ets"]
    assert ets.forecasts.shape == (1, 12)
    assert np.isfinite(ets.forecasts).all()
    assert ets.note == ""
    actual = passengers[132:]
    assert _rmse(ets.forecasts[0], actual) < _rmse(result["naive"].forecasts[0], actual)


def test_ets_baseline_uses_parameters_fitted_on_the_fitting_part(passengers, test_year, params_132):
    expected = ets_forecasts(passengers, np.array([131]), 12, params_132)
    np.testing.assert_array_equal(test_year["ets"].forecasts, expected)


def _statespace_forecast(
    y_seen: np.ndarray, params: EtsParams, season: int, trend: bool, horizon: int
) -> np.ndarray:
    """A one-origin forecast from statsmodels' state-space ETS with the same fixed params."""
    seasonal = season > 1
    initial = {"initial_level": params.level0}
    if trend:
        initial["initial_trend"] = params.trend0
    if seasonal:
        # state-space order is lag 0, 1, .., m-1 as of t = 0, i.e. s_{-1}, .., s_{-m}
        initial["initial_seasonal"] = params.season0[::-1]
    model = StateSpaceETS(
        y_seen,
        trend=trend,
        damped_trend=trend,
        seasonal=season if seasonal else None,
        initialization_method="known",
        **initial,
    )
    vector = [params.alpha]
    vector += [params.beta] if trend else []
    vector += [params.gamma] if seasonal else []
    vector += [params.phi] if trend else []
    return model.filter(vector).forecast(horizon)


@pytest.mark.parametrize(("season", "trend"), [(12, True), (1, True), (1, False)])
def test_vectorised_ets_equals_one_origin_statsmodels_forecast(passengers, season, trend):
    params = fit_ets(passengers[:120], season=season, trend=trend)
    origins = np.array([119, 131, 143])
    forecasts = ets_forecasts(passengers, origins, 25, params)
    for row, origin in zip(forecasts, origins, strict=True):
        expected = _statespace_forecast(passengers[: origin + 1], params, season, trend, 25)
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-8)


def test_one_step_ets_forecasts_are_holtwinters_fitted_values(passengers, params_132):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = HoltWinters(
            passengers[:132], trend="add", damped_trend=True, seasonal="add", seasonal_periods=12
        ).fit()
    # the forecast from origin t for t + 1 is the fitted value at t + 1
    one_step = ets_forecasts(passengers, np.arange(131), 1, params_132)[:, 0]
    np.testing.assert_allclose(one_step, fitted.fittedvalues[1:], rtol=0, atol=1e-8)


def test_ets_drops_a_season_too_long_for_the_fitting_part(passengers):
    result = baseline_forecasts(passengers, np.array([131]), horizon=12, season=100, fit_end=132)
    assert np.isfinite(result["ets"].forecasts).all()
    assert result["ets"].note == (
        "ETS fell back to damped-trend ETS without seasonality: "
        "season=100 needs two full cycles, fit_end >= 200, got 132."
    )


def test_ets_falls_back_to_ses_when_trend_models_fail(passengers, monkeypatch):
    real_fit = baselines.fit_ets

    def trendless_only(y_fit, *, season=1, trend=True):
        if trend:
            raise ValueError("no trend today.\nsecond line")
        return real_fit(y_fit, season=season, trend=trend)

    monkeypatch.setattr(baselines, "fit_ets", trendless_only)
    result = baseline_forecasts(passengers, np.array([131]), horizon=3, season=12, fit_end=132)
    assert np.isfinite(result["ets"].forecasts).all()
    assert result["ets"].note == (
        "ETS fell back to simple exponential smoothing: "
        "damped-trend ETS with additive seasonality (period 12) failed "
        "(ValueError: no trend today); "
        "damped-trend ETS without seasonality failed (ValueError: no trend today)."
    )


def test_ets_falls_back_to_naive_on_non_finite_forecasts(passengers, monkeypatch):
    def diverging(_y_fit, *, season=1, trend=True):
        return EtsParams(
            alpha=np.nan,
            beta=0.0,
            gamma=0.0,
            phi=1.0,
            level0=0.0,
            trend0=0.0,
            season0=np.zeros(max(season, 1)),
            label=baselines._ets_label(season, trend),
        )

    monkeypatch.setattr(baselines, "fit_ets", diverging)
    result = baseline_forecasts(passengers, np.array([131]), horizon=3, season=1, fit_end=132)
    np.testing.assert_array_equal(result["ets"].forecasts, result["naive"].forecasts)
    assert result["ets"].note == (
        "ETS fell back to the naive forecast: "
        "damped-trend ETS without seasonality gave non-finite forecasts; "
        "simple exponential smoothing gave non-finite forecasts."
    )
