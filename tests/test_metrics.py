"""Metrics: hand-computed cases, zero denominators, and slow obvious reference loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstmstate.metrics import (
    METRICS,
    compute_metrics,
    mae,
    mape,
    mase,
    per_horizon,
    rmse,
    seasonal_naive_scale,
    smape,
    theil_u2,
)

# --- hand-computed cases ----------------------------------------------------------------

TRUE = np.array([[1.0, 2.0], [3.0, 4.0]])
PRED = np.array([[2.0, 2.0], [1.0, 6.0]])  # e = pred - true = [[1, 0], [-2, 2]]


def test_rmse_by_hand():
    # e^2 = 1, 0, 4, 4 -> mean 9/4 -> sqrt 1.5
    assert rmse(TRUE, PRED) == 1.5


def test_mae_by_hand():
    # |e| = 1, 0, 2, 2 -> mean 5/4
    assert mae(TRUE, PRED) == 1.25


def test_mape_by_hand_skips_zero_actuals():
    true = [[2.0, 0.0], [4.0, 5.0]]
    pred = [[3.0, 1.0], [3.0, 5.0]]
    # the 0 actual is dropped; |e|/|y| = 1/2, 1/4, 0/5 -> mean 0.75/3 = 0.25 -> 25 %
    assert mape(true, pred) == pytest.approx(25.0, abs=1e-12)


def test_mape_is_nan_when_every_actual_is_zero():
    assert math.isnan(mape([[0.0, 0.0]], [[1.0, 2.0]]))


def test_smape_by_hand_counts_both_zero_as_zero():
    true = [[0.0, 2.0], [1.0, 3.0]]
    pred = [[0.0, 0.0], [3.0, 3.0]]
    # terms 2|e|/(|y|+|yhat|): both zero -> 0; 2*2/(2+0) = 2; 2*2/(1+3) = 1; 0/6 = 0
    # -> mean 3/4 -> 75 %
    assert smape(true, pred) == pytest.approx(75.0, abs=1e-12)


def test_smape_all_zero_is_zero():
    assert smape([[0.0, 0.0]], [[0.0, 0.0]]) == 0.0


def test_mase_by_hand_drops_zero_scale():
    true = [[1.0, 2.0], [3.0, 4.0]]
    pred = [[2.0, 4.0], [3.0, 7.0]]
    # origin 0, scale 2: |e|/2 = 1/2, 2/2 -> 0.5, 1; origin 1 has scale 0 and is dropped
    # -> mean (0.5 + 1) / 2 = 0.75
    assert mase(true, pred, scale=[2.0, 0.0]) == 0.75


def test_mase_scalar_scale_by_hand():
    # |e| = 1, 0, 2, 2 over scale 0.5 -> 2, 0, 4, 4 -> mean 2.5
    assert mase(TRUE, PRED, scale=0.5) == 2.5


def test_mase_is_nan_when_every_scale_is_zero():
    assert math.isnan(mase(TRUE, PRED, scale=[0.0, 0.0]))


def test_theil_u2_by_hand_drops_zero_last():
    true = [[3.0], [5.0], [6.0]]
    pred = [[2.0], [9.0], [5.0]]
    last = [2.0, 0.0, 4.0]
    # origin 0: model ((2-3)/2)^2 = 1/4,  naive ((3-2)/2)^2 = 1/4
    # origin 1: y_last = 0, dropped
    # origin 2: model ((5-6)/4)^2 = 1/16, naive ((6-4)/4)^2 = 1/4
    # -> sqrt((1/4 + 1/16) / (1/4 + 1/4)) = sqrt(5/8)
    assert theil_u2(true, pred, y_last=last) == pytest.approx(math.sqrt(5 / 8), abs=1e-15)


def test_theil_u2_broadcasts_last_across_the_horizon():
    # one origin, y_last = 2: model ((3-4)/2)^2 + ((6-6)/2)^2 = 1/4
    #                         naive ((4-2)/2)^2 + ((6-2)/2)^2 = 1 + 4 = 5 -> sqrt(1/20)
    assert theil_u2([[4.0, 6.0]], [[3.0, 6.0]], y_last=[2.0]) == pytest.approx(
        math.sqrt(0.05), abs=1e-15
    )


def test_theil_u2_is_nan_when_the_naive_denominator_is_zero():
    # every actual equals its y_last: the naive forecast is perfect
    assert math.isnan(theil_u2([[2.0, 2.0]], [[1.0, 3.0]], y_last=[2.0]))
    # every y_last is 0: nothing left to sum
    assert math.isnan(theil_u2([[2.0, 3.0]], [[1.0, 3.0]], y_last=0.0))


def test_naive_forecast_has_theil_u2_exactly_one():
    rng = np.random.default_rng(0)
    true = rng.normal(10.0, 3.0, size=(20, 6))
    last = rng.normal(10.0, 3.0, size=20)
    naive = np.repeat(last[:, None], 6, axis=1)
    assert theil_u2(true, naive, y_last=last) == 1.0


def test_one_dimensional_input_is_one_step():
    # 1-D means (n, 1): the same as the explicit column
    assert rmse([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]) == rmse(
        [[1.0], [2.0], [3.0]], [[2.0], [2.0], [5.0]]
    )


def test_seasonal_naive_scale_by_hand():
    y = [1.0, 3.0, 2.0, 5.0, 4.0]
    # season 2: |2-1|, |5-3|, |4-2| = 1, 2, 2 -> 5/3
    assert seasonal_naive_scale(y, 2) == pytest.approx(5 / 3, abs=1e-15)
    # season 1: |3-1|, |2-3|, |5-2|, |4-5| = 2, 1, 3, 1 -> 7/4
    assert seasonal_naive_scale(y, 1) == 1.75


def test_seasonal_naive_scale_needs_more_values_than_the_season():
    with pytest.raises(ValueError, match=r"more than season=12 values, got 12"):
        seasonal_naive_scale(np.arange(12.0), 12)


# --- shapes and errors ------------------------------------------------------------------


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"same shape, got \(2, 2\) and \(2, 1\)"):
        rmse(TRUE, [[1.0], [2.0]])


def test_nan_is_an_error():
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        mae(TRUE, [[1.0, np.nan], [2.0, 3.0]])


def test_per_origin_argument_must_match_the_origins():
    with pytest.raises(ValueError, match=r"scale must be a scalar or have shape \(n_origins,\)"):
        mase(TRUE, PRED, scale=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"theil_u2 needs y_last=..., got None"):
        theil_u2(TRUE, PRED)


def test_compute_metrics_returns_plain_floats_in_order():
    result = compute_metrics(TRUE, PRED, y_last=[1.0, 2.0], scale=1.0)
    assert list(result) == ["rmse", "mae", "mape", "smape", "mase", "theil_u2"]
    assert all(type(value) is float for value in result.values())
    assert result["rmse"] == 1.5


def test_per_horizon_column_h_is_the_metric_on_column_h():
    rng = np.random.default_rng(1)
    true = rng.normal(5.0, 2.0, size=(30, 4))
    pred = true + rng.normal(0.0, 1.0, size=(30, 4))
    last = rng.normal(5.0, 2.0, size=30)
    scale = rng.uniform(0.5, 2.0, size=30)
    table = per_horizon(true, pred, y_last=last, scale=scale)
    assert table.index.name == "horizon"
    assert table.index.tolist() == [1, 2, 3, 4]
    assert table.columns.tolist() == list(METRICS)
    for h in range(4):
        for name, metric in METRICS.items():
            expected = metric(true[:, h], pred[:, h], y_last=last, scale=scale)
            assert table.loc[h + 1, name] == expected


# --- every metric against a slow obvious reference loop ---------------------------------


def _ref_rmse(true, pred, _last, _scale):
    total = 0.0
    for i in range(len(true)):
        for j in range(len(true[i])):
            total += (pred[i][j] - true[i][j]) ** 2
    return math.sqrt(total / true.size)


def _ref_mae(true, pred, _last, _scale):
    total = 0.0
    for i in range(len(true)):
        for j in range(len(true[i])):
            total += abs(pred[i][j] - true[i][j])
    return total / true.size


def _ref_mape(true, pred, _last, _scale):
    terms = []
    for i in range(len(true)):
        for j in range(len(true[i])):
            if true[i][j] != 0:
                terms.append(abs(pred[i][j] - true[i][j]) / abs(true[i][j]))
    return 100 * sum(terms) / len(terms) if terms else math.nan


def _ref_smape(true, pred, _last, _scale):
    total = 0.0
    for i in range(len(true)):
        for j in range(len(true[i])):
            denominator = abs(true[i][j]) + abs(pred[i][j])
            if denominator != 0:
                total += 2 * abs(pred[i][j] - true[i][j]) / denominator
    return 100 * total / true.size


def _ref_mase(true, pred, _last, scale):
    terms = []
    for i in range(len(true)):
        for j in range(len(true[i])):
            if scale[i] != 0:
                terms.append(abs(pred[i][j] - true[i][j]) / scale[i])
    return sum(terms) / len(terms) if terms else math.nan


def _ref_theil_u2(true, pred, last, _scale):
    model = naive = 0.0
    for i in range(len(true)):
        for j in range(len(true[i])):
            if last[i] != 0:
                model += ((pred[i][j] - true[i][j]) / last[i]) ** 2
                naive += ((true[i][j] - last[i]) / last[i]) ** 2
    return math.sqrt(model / naive) if naive != 0 else math.nan


REFERENCES = {
    "rmse": _ref_rmse,
    "mae": _ref_mae,
    "mape": _ref_mape,
    "smape": _ref_smape,
    "mase": _ref_mase,
    "theil_u2": _ref_theil_u2,
}

# multiples of 1/4 in [-10, 10]: zeros come up often and no ratio overflows
QUARTERS = st.integers(-40, 40).map(lambda k: k / 4)


@st.composite
def forecast_cases(draw):
    n = draw(st.integers(1, 6))
    h = draw(st.integers(1, 4))
    true = draw(hnp.arrays(np.float64, (n, h), elements=QUARTERS))
    pred = draw(hnp.arrays(np.float64, (n, h), elements=QUARTERS))
    last = draw(hnp.arrays(np.float64, (n,), elements=QUARTERS))
    scale = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 0.5, 1.0, 2.5])))
    return true, pred, last, scale


def test_every_metric_has_a_reference():
    assert list(REFERENCES) == list(METRICS)


@pytest.mark.parametrize("name", list(METRICS))
@settings(max_examples=50, deadline=None)
@given(case=forecast_cases())
def test_metric_matches_reference_loop(name, case):
    true, pred, last, scale = case
    got = METRICS[name](true, pred, y_last=last, scale=scale)
    expected = REFERENCES[name](true, pred, last, scale)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
