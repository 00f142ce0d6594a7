"""Baseline forecasts reported beside every model: naive, seasonal naive and ETS.

All baselines work on the original (unscaled) values of one series ``y``. A forecast from
origin ``t`` sees ``y[:t+1]`` only and targets ``y[t+1 : t+1+H]``::

    y:  y_0 ... y_t | y_{t+1} ... y_{t+H}
        seen        | forecast, steps h = 1..H

ETS parameters are estimated once on the fitting part ``y[:fit_end]``; the forecasts from
every origin then come from the same fixed parameters, the states filtered up to the
origin, all origins at once.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.tsa.holtwinters import ExponentialSmoothing as HoltWinters

__all__ = ["Baseline", "EtsParams", "baseline_forecasts", "ets_forecasts", "fit_ets"]

_NAMES = ("naive", "seasonal_naive", "ets")


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class Baseline:
    """One baseline's forecasts, ``(len(origins), horizon)``, and a note on any fallback.

    ``note`` is empty when the baseline ran as planned, otherwise one sentence saying which
    fallback was used and why.
    """

    name: str
    forecasts: np.ndarray
    note: str = ""


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class EtsParams:
    """Fixed parameters of an additive ETS model in error-correction form.

    With the one-step error ``e_t = y_t - (l_{t-1} + phi*b_{t-1} + s_{t-m})``::

        l_t = l_{t-1} + phi*b_{t-1} + alpha*e_t
        b_t = phi*b_{t-1} + beta*e_t
        s_t = s_{t-m} + gamma*e_t
        yhat_{t+h|t} = l_t + (phi + ... + phi^h)*b_t + s_{t+h-m*ceil(h/m)}

    ``beta`` is statsmodels' state-space ``smoothing_trend``, i.e. the holtwinters
    ``smoothing_trend`` times ``alpha``. ``season0`` holds ``s_{-m} .. s_{-1}``, so its
    length is the period m. A model without trend has ``beta = trend0 = 0``, ``phi = 1``;
    one without seasonality has ``gamma = 0`` and ``season0 = [0.0]``.
    """

    alpha: float
    beta: float
    gamma: float
    phi: float
    level0: float
    trend0: float
    season0: np.ndarray
    label: str


def baseline_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int
) -> dict[str, Baseline]:
    """``naive``, ``seasonal_naive`` and ``ets`` forecasts from every origin, in that order.

    ``y``: the full target series (1-D, original units); ``origins``: integer indices t,
    each forecast uses ``y[:t+1]``; ``horizon``: steps H per origin; ``season``: period m
    (1 = none); ``fit_end``: first index of the test part, ETS is fitted on ``y[:fit_end]``.
    Empty ``origins`` give empty (0, H) forecasts and fit nothing.
    """
    y, origins = _checked(y, origins, horizon, season, fit_end)
    naive = Baseline("naive", _naive(y, origins, horizon))
    if origins.size == 0:  # a series without test origins: nothing to forecast or fit
        return {name: Baseline(name, naive.forecasts.copy()) for name in _NAMES}
    return {
        "naive": naive,
        "seasonal_naive": _seasonal_naive_baseline(y, origins, horizon, season, naive),
        "ets": _ets_baseline(y, origins, horizon, season, fit_end, naive),
    }


def _checked(
    y: ArrayLike, origins: ArrayLike, horizon: int, season: int, fit_end: int
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(y, dtype=float)
    starts = np.asarray(origins)
    if values.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {values.shape}")
    if starts.ndim != 1 or not (starts.size == 0 or np.issubdtype(starts.dtype, np.integer)):
        raise ValueError(f"origins must be a 1-D integer array, got {starts!r}")
    if starts.size and (starts.min() < 0 or starts.max() >= values.size):
        raise ValueError(
            f"origins must lie in [0, {values.size - 1}] (len(y) = {values.size}), "
            f"got {starts.min()}..{starts.max()}"
        )
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    if not 1 <= fit_end <= values.size:
        raise ValueError(f"fit_end must lie in [1, {values.size}], got {fit_end}")
    seen = max(fit_end, int(starts.max()) + 1) if starts.size else fit_end
    if not np.isfinite(values[:seen]).all():
        raise ValueError(f"y must be finite up to fit_end and the last origin (index {seen - 1})")
    return values, starts.astype(np.int64)


def _naive(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``yhat_{t+h} = y_t`` for every step h."""
    return np.repeat(y[origins, None], horizon, axis=1)  # -> (n_origins, H)


def _seasonal_naive_baseline(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, naive: Baseline
) -> Baseline:
    """``yhat_{t+h} = y_{t+h-m*ceil(h/m)}``: the last observed value of the same season.

    The earliest value it needs is ``y_{t+1-m}``; if an origin lies before ``m - 1`` there
    is none, and the naive forecast is used for every origin instead.
    """
    first = int(origins.min())
    if first < season - 1:
        note = (
            f"seasonal naive fell back to the naive forecast: origin {first} has fewer than "
            f"season={season} values up to it."
        )
        return Baseline("seasonal_naive", naive.forecasts.copy(), note)
    steps = np.arange(1, horizon + 1)
    back = season * -(-steps // season)  # m * ceil(h / m)
    return Baseline("seasonal_naive", y[origins[:, None] + steps - back])


def fit_ets(y_fit: np.ndarray, *, season: int = 1, trend: bool = True) -> EtsParams:
    """Estimate ETS parameters once on ``y_fit`` with statsmodels' Holt-Winters.

    The model has a damped additive trend when ``trend`` and an additive season of period
    ``season`` when ``season > 1``; initial states are estimated with the smoothing
    parameters (statsmodels' default). Warnings (e.g. ConvergenceWarning) are silenced.
    """
    model = HoltWinters(
        np.asarray(y_fit, dtype=float),
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="add" if season > 1 else None,
        seasonal_periods=season if season > 1 else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit().params
    alpha = float(fitted["smoothing_level"])
    return EtsParams(
        alpha=alpha,
        beta=alpha * float(fitted["smoothing_trend"]) if trend else 0.0,
        gamma=float(fitted["smoothing_seasonal"]) if season > 1 else 0.0,
        phi=float(fitted["damping_trend"]) if trend else 1.0,
        level0=float(fitted["initial_level"]),
        trend0=float(fitted["initial_trend"]) if trend else 0.0,
        season0=np.asarray(fitted["initial_seasons"], dtype=float) if season > 1 else np.zeros(1),
        label=_ets_label(season, trend),
    )


def _ets_label(season: int, trend: bool) -> str:
    if not trend:
        return "simple exponential smoothing"
    if season > 1:
        return f"damped-trend ETS with additive seasonality (period {season})"
    return "damped-trend ETS without seasonality"


def ets_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, params: EtsParams
) -> np.ndarray:
    """``yhat_{t+h|t}`` for every origin t and step h = 1..H, shape (len(origins), H).

    One filtering pass over ``y[:max(origins)+1]`` with the fixed ``params`` gives the
    states at every origin; the forecasts then follow in closed form (see ``EtsParams``)::

        yhat_{t+h|t} = l_t + (phi + ... + phi^h)*b_t + s_{t+h-m*ceil(h/m)}
    """
    origins = np.asarray(origins, dtype=np.int64)
    level, trend, season = _ets_states(np.asarray(y, dtype=float)[: origins.max() + 1], params)
    m = params.season0.size
    steps = np.arange(1, horizon + 1)
    damping = np.cumsum(params.phi**steps)  # phi + ... + phi^h, -> (H,)
    back = m * -(-steps // m)  # m * ceil(h / m)
    seasonal = season[m + origins[:, None] + steps - back]  # s_t lives at index m + t
    return level[origins, None] + damping * trend[origins, None] + seasonal  # -> (n, H)


def _ets_states(y: np.ndarray, params: EtsParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filtered ``l_t``, ``b_t`` (length n) and ``s`` (length m + n, ``s_t`` at m + t)."""
    alpha, beta, gamma, phi = params.alpha, params.beta, params.gamma, params.phi
    m = params.season0.size
    level = np.empty(y.size)
    trend = np.empty(y.size)
    season = params.season0.tolist() + [0.0] * y.size
    lvl, slope = params.level0, params.trend0
    # A plain-float loop: the recursion is sequential, and ~10k steps take milliseconds.
    for t, value in enumerate(y.tolist()):
        predicted = lvl + phi * slope
        error = value - predicted - season[t]
        lvl = predicted + alpha * error
        slope = phi * slope + beta * error
        season[t + m] = season[t] + gamma * error
        level[t] = lvl
        trend[t] = slope
    return level, trend, np.asarray(season)


def _ets_baseline(
    y: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int,
    fit_end: int,
    naive: Baseline,
) -> Baseline:
    """The first ETS model that fits and forecasts finite values, with a note on fallbacks.

    Order: seasonal damped trend -> damped trend -> simple exponential smoothing -> naive.
    """
    reasons: list[str] = []
    candidates = [(1, True), (1, False)]
    if season > 1 and fit_end >= 2 * season:
        candidates.insert(0, (season, True))
    elif season > 1:
        reasons.append(
            f"season={season} needs two full cycles, fit_end >= {2 * season}, got {fit_end}"
        )
    for period, trend in candidates:
        label = _ets_label(period, trend)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                forecasts = ets_forecasts(
                    y, origins, horizon, fit_ets(y[:fit_end], season=period, trend=trend)
                )
        except Exception as exc:  # statsmodels fails in many ways; any failure: next model
            reasons.append(f"{label} failed ({type(exc).__name__}: {_first_line(exc)})")
            continue
        if np.isfinite(forecasts).all():
            return Baseline("ets", forecasts, _fallback_note(label, reasons))
        reasons.append(f"{label} gave non-finite forecasts")
    return Baseline("ets", naive.forecasts.copy(), _fallback_note("the naive forecast", reasons))


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else "no message"


def _fallback_note(used: str, reasons: list[str]) -> str:
    """Empty when nothing went wrong, else one sentence: what was used and why."""
    if not reasons:
        return ""
    return f"ETS fell back to {used}: {'; '.join(reasons)}."
