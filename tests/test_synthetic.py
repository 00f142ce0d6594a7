import math

import numpy as np
import pandas as pd
import pytest

from lstmstate import synthetic
from lstmstate.datasets import DatasetInfo
from lstmstate.errors import UserError

NAMES = ["echo", "regimes", "ar", "seasonal"]


def _mse(name, df, skip, **params):
    """Empirical MSE of the ideal forecasts after ``skip`` start-up rows, and its standard error."""
    errors = (df["y"].to_numpy() - synthetic.ideal_predictor(name, df, **params))[skip:] ** 2
    return errors.mean(), errors.std() / math.sqrt(len(errors))


def test_names_and_registry_in_order():
    assert synthetic.names() == NAMES
    assert list(synthetic.GENERATORS) == NAMES
    assert synthetic.GENERATORS["echo"] is synthetic.echo


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_frame_other_seed_other(name):
    first = synthetic.make(name, n=500, seed=3)
    pd.testing.assert_frame_equal(first, synthetic.make(name, n=500, seed=3))
    pd.testing.assert_frame_equal(first, synthetic.GENERATORS[name](n=500, seed=3))
    assert not first["y"].equals(synthetic.make(name, n=500, seed=4)["y"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 4000])
def test_frame_form_like_an_embedded_dataset(name, n):
    df = synthetic.make(name, n=n)
    assert list(df.columns) == ["t", "y"]
    assert df["t"].dtype == np.int64
    assert df["y"].dtype == np.float64
    assert df.index.equals(pd.RangeIndex(n))
    np.testing.assert_array_equal(df["t"], np.arange(n))
    assert np.isfinite(df["y"]).all()


# name -> (params, start-up rows to skip, relative tolerance); regimes' filter is slow (~40 us
# a row), so it gets fewer rows and a band above its documented lower bound, see below
LONG = {
    "echo": ({"n": 200_000}, 1000, 0.03),
    "ar": ({"n": 200_000, "coefs": (0.5, 0.2, -0.1)}, 10, 0.03),
    "seasonal": ({"n": 200_000}, 0, 0.03),
}


@pytest.mark.parametrize("name", list(LONG))
def test_ideal_mse_is_what_the_ideal_predictor_gets(name):
    params, skip, rel = LONG[name]
    df = synthetic.make(name, seed=1, **params)
    mse, se = _mse(name, df, skip, **params)
    ideal = synthetic.ideal_mse(name, **params)
    assert 4 * se < rel * ideal  # the sample is long enough for the tolerance
    assert mse == pytest.approx(ideal, rel=rel)


def test_regimes_ideal_mse_is_a_tight_lower_bound_of_the_exact_filter():
    # documented: the exact filter is 6 % above the bound at the defaults (measured on 1e6 rows)
    # and below the best linear forecast's MSE, sigma^2 + P (the Riccati fixed point)
    df = synthetic.make("regimes", n=30_000, seed=1)
    mse, se = _mse("regimes", df, 500)
    bound = synthetic.ideal_mse("regimes")
    c, s2, v = 0.02 * 1.98, 1.0, 0.25
    linear = v + (c * (s2 - v) + math.sqrt(c**2 * (s2 - v) ** 2 + 4 * c * s2 * v)) / 2
    assert linear == pytest.approx(0.3655, abs=1e-4)
    assert bound - 3 * se < mse < min(1.1 * bound, linear - 3 * se)


# name -> (params, relative tolerance): regimes' variance comes from few regimes, so many rows
BASELINE = {
    "echo": ({"n": 200_000}, 0.03),
    "regimes": ({"n": 2_000_000}, 0.04),
    "ar": ({"n": 200_000}, 0.03),
    "seasonal": ({}, 0.03),
}


@pytest.mark.parametrize("name", NAMES)
def test_baseline_mse_is_the_variance(name):
    params, rel = BASELINE[name]
    y = synthetic.make(name, seed=2, **params)["y"]
    assert y.var(ddof=0) == pytest.approx(synthetic.baseline_mse(name, **params), rel=rel)


def test_documented_values_at_the_defaults():
    assert synthetic.ideal_mse("echo") == pytest.approx(1.5**2 * 0.1 + 0.2**2)  # 0.265
    assert synthetic.baseline_mse("echo") == pytest.approx(2 * 1.5**2 * 0.1 + 0.2**2)  # 0.49
    assert synthetic.ideal_mse("ar") == 1.0
    phi1, phi2 = 0.6, -0.3
    gamma0 = (1 - phi2) / ((1 + phi2) * ((1 - phi2) ** 2 - phi1**2))
    assert synthetic.baseline_mse("ar") == pytest.approx(gamma0)  # 1.396
    assert synthetic.ideal_mse("seasonal") == pytest.approx(0.09)
    trend_var = 0.0005**2 * (4000**2 - 1) / 12
    approx = trend_var + (1.0**2 + 0.5**2) / 2 + 0.09  # without the trend x sine cross terms
    assert synthetic.baseline_mse("seasonal") == pytest.approx(approx, rel=0.02)
    assert synthetic.baseline_mse("regimes") == pytest.approx(1.25)
    assert synthetic.ideal_mse("regimes") == pytest.approx(0.3072, abs=1e-4)


def test_regimes_ideal_mse_limits():
    # a new level every step: nothing to learn; no noise: only the jumps are missed
    assert synthetic.ideal_mse("regimes", mean_length=1) == pytest.approx(
        synthetic.baseline_mse("regimes", mean_length=1)
    )
    assert synthetic.ideal_mse("regimes", noise=0.0, mean_length=4) == pytest.approx(0.25 * 1.75)


def test_regimes_ideal_mse_against_a_slow_sum():
    q, s2, v = 1 / 20, 2.0**2, 0.7**2
    unknown = sum(q * (1 - q) ** (r - 1) / (1 / s2 + r / v) for r in range(1, 5000))
    expected = v + q * (2 - q) * s2 + (1 - q) ** 2 * unknown
    assert synthetic.ideal_mse("regimes", mean_length=20, scale=2.0, noise=0.7) == pytest.approx(
        expected
    )


def test_echo_without_noise_misses_only_the_new_spikes():
    df = synthetic.make("echo", n=3000, delay=7, noise=0.0, seed=5)
    miss = df["y"].to_numpy() - synthetic.ideal_predictor("echo", df, delay=7, noise=0.0)
    np.testing.assert_allclose(np.abs(miss[100:]) % 1.5, 0, atol=1e-9)  # 0 or a new spike
    assert (np.abs(miss[100:]) > 0.75).mean() == pytest.approx(0.1, abs=0.02)


def test_echo_needs_memory_of_delay_steps():
    # the forecast of row t moves with row t - delay and with nothing after it
    df = synthetic.make("echo", n=200, delay=5, seed=6)
    base = synthetic.ideal_predictor("echo", df, delay=5)
    changed = df.copy()
    changed.loc[100, "y"] += 1.5
    moved = np.flatnonzero(synthetic.ideal_predictor("echo", changed, delay=5) != base)
    assert moved.min() == 105
    assert set(moved % 5) == {0}


def test_ar_predictor_by_hand():
    y = np.array([1.0, 2.0, -1.0, 0.5])
    pred = synthetic.ideal_predictor("ar", y, coefs=(0.6, -0.3))
    rho1 = 0.6 / (1 + 0.3)  # lag-1 autocorrelation of the AR(2)
    np.testing.assert_allclose(pred, [0.0, rho1 * 1.0, 0.6 * 2 - 0.3 * 1, 0.6 * -1 - 0.3 * 2])


def test_ar_white_noise_and_stationarity_check():
    assert synthetic.baseline_mse("ar", coefs=(), noise=2.0) == pytest.approx(4.0)
    assert synthetic.make("ar", n=10, coefs=()).shape == (10, 2)
    with pytest.raises(UserError) as err:
        synthetic.make("ar", coefs=(0.5, 0.6))
    assert str(err.value).startswith("ar: coefs=(0.5, 0.6) is not stationary")


def test_seasonal_predictor_uses_the_frames_own_times():
    df = synthetic.make("seasonal", n=500)
    full = synthetic.ideal_predictor("seasonal", df)
    np.testing.assert_allclose(
        synthetic.ideal_predictor("seasonal", df.iloc[100:300]), full[100:300]
    )


def test_parse_params_converts_to_the_defaults_types():
    assert synthetic.parse_params("echo", ["delay=15", "prob=0.1", " n = 2e3 "]) == {
        "delay": 15,
        "prob": 0.1,
        "n": 2000,
    }
    assert synthetic.parse_params("ar", ["coefs=0.6,-0.3"]) == {"coefs": (0.6, -0.3)}
    assert synthetic.parse_params("seasonal", ["periods=(12, 52)", "amplitudes=1,2"]) == {
        "periods": (12, 52),
        "amplitudes": (1.0, 2.0),
    }
    assert synthetic.parse_params("echo", []) == {}
    pd.testing.assert_frame_equal(
        synthetic.make("echo", delay="5", prob="0.2", n=100),
        synthetic.echo(delay=5, prob=0.2, n=100),
    )


@pytest.mark.parametrize(
    ("name", "items", "message"),
    [
        (
            "echo",
            ["dely=5"],
            "unknown parameter 'dely' for synthetic series 'echo': did you mean 'delay'? "
            "choose from n, delay, prob, amplitude, noise, seed",
        ),
        ("echo", ["delay=1.5"], "echo: delay must be an integer, got '1.5'"),
        ("echo", ["prob=high"], "echo: prob must be a number, got 'high'"),
        ("echo", ["prob=1.5"], "echo: prob must be in [0, 1], got 1.5"),
        ("echo", ["delay=0"], "echo: delay must be at least 1, got 0"),
        (
            "echo",
            ["delay"],
            "bad parameter 'delay' for synthetic series 'echo': write NAME=VALUE, e.g. delay=15",
        ),
        (
            "echo",
            ["delay=3", "delay=4"],
            "parameter 'delay' given twice for synthetic series 'echo'",
        ),
        (
            "seasonal",
            ["periods=24"],
            "seasonal: periods and amplitudes must have the same length, got 1 periods (24,) "
            "and 2 amplitudes (1.0, 0.5)",
        ),
        ("regimes", ["mean_length=0.5"], "regimes: mean_length must be at least 1, got 0.5"),
        (
            "ecco",
            [],
            "unknown synthetic series 'ecco': did you mean 'echo'? "
            "choose one of echo, regimes, ar, seasonal",
        ),
    ],
)
def test_parse_params_errors(name, items, message):
    with pytest.raises(UserError) as err:
        synthetic.parse_params(name, items)
    assert str(err.value) == message


def test_make_and_friends_reject_unknown_names_and_parameters():
    with pytest.raises(UserError, match=r"^unknown synthetic series 'walk': choose one of echo"):
        synthetic.make("walk")
    for call in (synthetic.make, synthetic.ideal_mse, synthetic.baseline_mse, synthetic.info):
        with pytest.raises(UserError, match=r"^unknown parameter 'lag' for synthetic series 'ar'"):
            call("ar", lag=3)
    with pytest.raises(UserError, match=r"^echo: noise must be at least 0, got -1"):
        synthetic.ideal_mse("echo", noise=-1)
    with pytest.raises(UserError, match=r"^echo: seed must be an integer, got None"):
        synthetic.echo(seed=None)


@pytest.mark.parametrize("name", NAMES)
def test_info_is_a_dataset_info_for_the_frame(name):
    meta = synthetic.info(name, seed=7)
    assert isinstance(meta, DatasetInfo)
    assert (meta.name, meta.time_col, meta.target, meta.covariates) == (name, "t", "y", ())
    assert (meta.series_col, meta.window, meta.split, meta.fill) == (
        None,
        10,
        (0.6, 0.2, 0.2),
        None,
    )
    assert meta.frequency == "synthetic"
    assert meta.season == (24 if name == "seasonal" else 1)
    assert f"ideal MSE {synthetic.ideal_mse(name):.4g}" in meta.description
    assert "seed 7" in meta.source
    df = synthetic.make(name, n=50)
    assert {meta.time_col, meta.target} <= set(df.columns)
