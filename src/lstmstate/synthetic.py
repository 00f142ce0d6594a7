"""Seeded synthetic series whose best achievable error is known, to read results against.

Every generator returns the form of an embedded dataset (`lstmstate.datasets`): a DataFrame
with an integer time column ``t`` (int64, 0..n-1) and the target ``y`` (float64), identical
for the same parameters and seed. Beside each generator there is

- ``ideal_mse(name, **params)``: the one-step-ahead MSE of the ideal forecaster, which knows
  the generating process and the whole past (stationary value, closed form);
- ``baseline_mse(name, **params)``: the MSE of predicting the unconditional mean, the
  no-memory baseline;
- ``ideal_predictor(name, df, **params)``: the ideal forecasts themselves, ``pred[t] =
  E[y_t | y_0..y_{t-1}]`` for every row of ``df`` (``pred[0]`` is the unconditional mean).

A model's test MSE sits between the two numbers: at the baseline it has learnt nothing, at
the ideal it has learnt everything the past can tell. In the formulas below ``eps_t`` is iid
N(0, 1) and ``sigma`` is ``noise``.

=========  ============================================  ======================  ==============
name       model                                         ideal MSE               no-memory MSE
=========  ============================================  ======================  ==============
echo       y_t = a (s_t + s_{t-d}) + sigma eps_t,        a^2 p + sigma^2         2 a^2 p
           s_t = +-1 w.p. p/2 each, else 0               = 0.265                 + sigma^2 = 0.49
regimes    y_t = L_t + sigma eps_t, L_t redrawn from     sigma^2 + q(2-q) S^2    S^2 + sigma^2
           N(0, S^2) w.p. q = 1/mean_length              + (1-q)^2 E[V_R]        = 1.25
                                                         ~= 0.307 (a bound; see
                                                         regimes: exact 0.326)
ar         y_t = sum_i phi_i y_{t-i} + sigma eps_t       sigma^2 = 1.0           gamma_0 = 1.396
seasonal   y_t = c + b t + sum_j A_j sin(2 pi t / P_j)   sigma^2 = 0.09          var_t(f)
           + sigma eps_t  (f_t: all but the noise)                               + sigma^2 = 1.038
=========  ============================================  ======================  ==============

(values at the defaults). ``echo`` is the memory probe: the only predictable part of
``y_{t+1}`` is the echo of the spike at ``t+1-delay``, so a model whose reach falls short of
``delay`` steps stays at the baseline (0.49), one that reaches it gets to the ideal (0.265).

From a command line, ``parse_params(name, ["delay=15", "prob=0.1"])`` turns ``NAME=VALUE``
strings into typed keyword arguments for ``make(name, **params)``; ``info(name, **params)``
gives a `DatasetInfo` with the defaults a run on the series starts from.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmstate.datasets import DatasetInfo
from lstmstate.errors import UserError

__all__ = [
    "GENERATORS",
    "ar",
    "baseline_mse",
    "echo",
    "ideal_mse",
    "ideal_predictor",
    "info",
    "make",
    "names",
    "parse_params",
    "regimes",
    "seasonal",
]

# ---------------------------------------------------------------------------------------------
# checks shared by the generators: each names the series, the parameter and the bad value


def _as_int(series: str, key: str, value: object, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise UserError(f"{series}: {key} must be an integer, got {value!r}")
    if not float(value).is_integer():
        raise UserError(f"{series}: {key} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise UserError(f"{series}: {key} must be at least {low}, got {value!r}")
    return int(value)


def _as_float(
    series: str, key: str, value: object, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise UserError(f"{series}: {key} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise UserError(f"{series}: {key} must be finite, got {value!r}")
    if (low is not None and out < low) or (high is not None and out > high):
        bounds = f"in [{low:g}, {high:g}]" if high is not None else f"at least {low:g}"
        raise UserError(f"{series}: {key} must be {bounds}, got {value!r}")
    return out


def _frame(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"t": np.arange(len(y), dtype=np.int64), "y": y.astype(np.float64)})


def _target(df: pd.DataFrame | pd.Series | np.ndarray) -> np.ndarray:
    values = df["y"] if isinstance(df, pd.DataFrame) else df
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# echo


def echo(
    n: int = 4000,
    delay: int = 15,
    prob: float = 0.1,
    amplitude: float = 1.5,
    noise: float = 0.2,
    seed: int = 0,
) -> pd.DataFrame:
    """Sparse random spikes, each recurring once ``delay`` steps later, in Gaussian noise.

    ``y_t = a (s_t + s_{t-d}) + sigma eps_t`` with ``s_t`` iid: +1 or -1 with probability
    ``p/2`` each, else 0 (``a = amplitude``, ``d = delay``, ``p = prob``, ``sigma = noise``;
    the spikes before ``t = 0`` are drawn too, so the series is stationary from its start).

    New spikes are unpredictable, so the predictable part of ``y_{t+1}`` is exactly the echo
    ``a s_{t+1-d}``: it takes a memory of ``delay`` steps to forecast better than the mean.

    - ideal MSE ``= a^2 p + sigma^2`` (0.265 at the defaults): the forecaster that knows every
      past spike misses only the new spike and the noise. It bounds any forecast from past
      values from below, and the exact one (`ideal_predictor`) attains it up to the chance of
      mistaking spike levels ``a`` apart under noise ``sigma`` (measured 0.08 % above it at the
      defaults, on 2e6 rows);
    - no-memory MSE ``= Var(y) = 2 a^2 p + sigma^2`` (0.49; the mean is 0).
    """
    n, delay, prob, amplitude, noise, seed = _echo_checked(n, delay, prob, amplitude, noise, seed)
    rng = np.random.default_rng(seed)
    hit = rng.random(n + delay) < prob
    sign = 2.0 * rng.integers(0, 2, n + delay) - 1.0
    spikes = np.where(hit, sign, 0.0)  # spikes[k] is s_{k - delay}
    y = amplitude * (spikes[delay:] + spikes[:n]) + noise * rng.standard_normal(n)
    return _frame(y)


def _echo_checked(
    n: object, delay: object, prob: object, amplitude: object, noise: object, seed: object
) -> tuple[int, int, float, float, float, int]:
    return (
        _as_int("echo", "n", n, low=1),
        _as_int("echo", "delay", delay, low=1),
        _as_float("echo", "prob", prob, 0.0, 1.0),
        _as_float("echo", "amplitude", amplitude, 0.0),
        _as_float("echo", "noise", noise, 0.0),
        _as_int("echo", "seed", seed),
    )


def _echo_ideal(*, prob: float, amplitude: float, noise: float, **_: object) -> float:
    return amplitude**2 * prob + noise**2


def _echo_baseline(*, prob: float, amplitude: float, noise: float, **_: object) -> float:
    return 2 * amplitude**2 * prob + noise**2


def _echo_predict(
    y: np.ndarray, *, delay: int, prob: float, amplitude: float, noise: float, **_: object
) -> np.ndarray:
    """Exact ``E[y_t | y_<t]`` by a forward filter along each residue class ``t mod delay``.

    Along one class the spikes form a chain ``s_0, s_1, ...`` observed as
    ``a (s_k + s_{k-1}) + noise``, a 3-state hidden Markov model with independent chains, and
    ``E[y_t | past] = a E[s_{t-d} | past]``. The loop runs over ``ceil(n / delay)`` rows, each
    updating all ``delay`` chains at once.
    """
    n = len(y)
    if amplitude == 0.0 or prob == 0.0:
        return np.zeros(n)
    values = np.array([-1.0, 0.0, 1.0])
    with np.errstate(divide="ignore"):  # log(0) = -inf for a spike value prob rules out
        log_prior = np.log(np.array([prob / 2, 1.0 - prob, prob / 2]))
    level = amplitude * (values[:, None] + values[None, :])  # [previous spike, new spike]
    sigma = max(noise, 1e-6 * amplitude)  # noise 0: the levels are exact
    rows = -(-n // delay)
    padded = np.full(rows * delay, np.nan)
    padded[:n] = y
    chains = padded.reshape(rows, delay)  # row r, column j: y at t = r * delay + j
    log_post = np.tile(log_prior, (delay, 1))  # (delay, 3): log P(previous spike | chain so far)
    pred = np.empty((rows, delay))
    for r in range(rows):
        post = np.exp(log_post)
        pred[r] = amplitude * (post @ values)
        if r == rows - 1:
            break
        z = (chains[r][:, None, None] - level) / sigma  # -> (delay, 3, 3)
        log_joint = log_post[:, :, None] + log_prior[None, None, :] - 0.5 * z**2
        joint = np.exp(log_joint - log_joint.max(axis=(1, 2), keepdims=True)).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_post = np.log(joint / joint.sum(axis=1, keepdims=True))
    return pred.reshape(-1)[:n]


# ---------------------------------------------------------------------------------------------
# regimes


def regimes(
    n: int = 4000,
    mean_length: float = 50.0,
    scale: float = 1.0,
    noise: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """A piecewise-constant level that jumps at random times, in Gaussian noise.

    ``y_t = L_t + sigma eps_t``; ``L_0 ~ N(0, S^2)`` and at each later step, with probability
    ``q = 1 / mean_length``, the level is redrawn from ``N(0, S^2)``, else kept (``S = scale``,
    ``sigma = noise``). Regime lengths are geometric with mean ``mean_length``.

    The ideal forecast is ``(1 - q) E[L_t | past]``, and its error splits exactly into
    ``sigma^2 + q (2 - q) S^2 + (1 - q)^2 E[Var(L_t | past)]``: noise, the unforeseeable jumps,
    and what is still unknown about the current level. The last term has no closed form;
    ``ideal_mse`` takes it for a forecaster that also knows when the regimes switched, which
    leaves ``R`` (the age of the current regime, geometric: ``P(R = r) = q (1 - q)^(r - 1)``)
    noisy values to average: ``V_r = 1 / (1 / S^2 + r / sigma^2)``, so

        ideal MSE ~= sigma^2 + q (2 - q) S^2 + (1 - q)^2 sum_r q (1 - q)^(r - 1) V_r

    (0.3072 at the defaults). That is a lower bound for any forecast from past values, and a
    tight one: the exact forecast (`ideal_predictor`, a Bayesian change-point filter) was
    measured 6.1 % above it at the defaults (0.326 on 1e6 rows) and 2.5-6.4 % above it for
    mean_length 20-200 and noise 0.2-1, the cost of seeing a jump only a few values after it.
    An upper bound in closed form is the best linear forecast (exponential smoothing: the
    regime level has the autocovariance ``S^2 (1 - q)^k`` of an AR(1)), whose MSE is
    ``sigma^2 + P`` with ``P = (c (S^2 - sigma^2) + sqrt(c^2 (S^2 - sigma^2)^2
    + 4 c S^2 sigma^2)) / 2``, ``c = q (2 - q)`` (0.366 at the defaults).
    The no-memory MSE is ``Var(y) = S^2 + sigma^2`` (1.25; the mean is 0).
    """
    n, q, scale, noise, seed = _regimes_checked(n, mean_length, scale, noise, seed)
    rng = np.random.default_rng(seed)
    switch = rng.random(n) < q
    switch[0] = True
    regime = np.cumsum(switch) - 1
    levels = scale * rng.standard_normal(int(regime[-1]) + 1)
    return _frame(levels[regime] + noise * rng.standard_normal(n))


def _regimes_checked(
    n: object, mean_length: object, scale: object, noise: object, seed: object
) -> tuple[int, float, float, float, int]:
    return (
        _as_int("regimes", "n", n, low=1),
        1.0 / _as_float("regimes", "mean_length", mean_length, 1.0),
        _as_float("regimes", "scale", scale, 0.0),
        _as_float("regimes", "noise", noise, 0.0),
        _as_int("regimes", "seed", seed),
    )


def _regimes_ideal(*, mean_length: float, scale: float, noise: float, **_: object) -> float:
    q, s2, v = 1.0 / mean_length, scale**2, noise**2
    if v == 0.0 or s2 == 0.0:
        return v + q * (2 - q) * s2  # the level is seen exactly, or there is none
    # sum over regime ages r; past 50 / q terms the weights are below e^-50
    r = np.arange(1, min(math.ceil(50 / q), 2_000_000) + 1, dtype=np.float64)
    weights = q * np.exp((r - 1) * math.log1p(-q)) if q < 1 else (r == 1).astype(float)
    unknown = float(np.sum(weights * s2 * v / (v + r * s2)))
    return v + q * (2 - q) * s2 + (1 - q) ** 2 * unknown


def _regimes_baseline(*, scale: float, noise: float, **_: object) -> float:
    return scale**2 + noise**2


def _regimes_predict(
    y: np.ndarray, *, mean_length: float, scale: float, noise: float, **_: object
) -> np.ndarray:
    """Exact ``E[y_t | y_<t]`` by Bayesian online change-point filtering (Adams & MacKay 2007).

    A hypothesis is the start ``tau`` of the current regime, with the conjugate Gaussian
    posterior of its level given ``y_tau..y_{t-1}``; the oldest starts are dropped once their
    weight falls below e^-30 of the best. One step per row, ~40 us each: the hypotheses that
    the level was redrawn close to itself never die out, so a step costs O(regime age).
    """
    n, q = len(y), 1.0 / mean_length
    s2, v = scale**2, noise**2
    pred = np.zeros(n)
    if s2 == 0.0 or n < 2:
        return pred
    if v == 0.0:
        pred[1:] = (1 - q) * y[:-1]
        return pred
    log_stay = math.log1p(-q) if q < 1 else -math.inf
    log_fresh = math.log(q) - 0.5 * math.log(s2 + v)  # + the density of y_t under a new level
    csum = np.concatenate(([0.0], np.cumsum(y)))
    shrink = s2 / (v + np.arange(n + 1) * s2)  # by the number of values seen in the regime
    spread = v * shrink + v  # posterior variance of the level, plus the noise
    log_spread, inv_spread = np.log(spread), 1.0 / spread
    log_w = np.zeros(n)  # log weight of each start tau, relative to the best; live: [lo, t)
    lo = 0
    for t in range(1, n):
        ages = slice(t - lo, 0, -1)  # starts lo..t-1 have seen t-lo..1 values
        mean = (csum[t] - csum[lo:t]) * shrink[ages]  # -> (t - lo,) posterior level means
        w = np.exp(log_w[lo:t])
        total = w.sum()
        pred[t] = (1 - q) * (w @ mean) / total
        grow = (
            log_w[lo:t]
            + log_stay
            - 0.5 * (log_spread[ages] + (y[t] - mean) ** 2 * inv_spread[ages])
        )
        log_w[lo:t] = grow
        log_w[t] = log_fresh - 0.5 * y[t] ** 2 / (s2 + v) + math.log(total)
        best = max(grow.max(), log_w[t])
        lo += int(np.argmax(log_w[lo : t + 1] > best - 30))
        log_w[lo : t + 1] -= best
    return pred


# ---------------------------------------------------------------------------------------------
# ar


def ar(
    n: int = 4000,
    coefs: tuple[float, ...] = (0.6, -0.3),
    noise: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A stationary autoregressive process of order ``p = len(coefs)``.

    ``y_t = sum_{i=1..p} phi_i y_{t-i} + sigma eps_t`` (``phi = coefs``, ``sigma = noise``);
    the first ``p`` values are drawn from the stationary distribution, so there is no
    transient. ``coefs`` must be stationary (all roots of ``1 - sum_i phi_i z^i`` outside the
    unit circle).

    - ideal MSE ``= sigma^2`` (1.0): the forecast ``sum_i phi_i y_{t-i}`` misses only the
      innovation;
    - no-memory MSE ``= gamma_0 = Var(y)``, from the Yule-Walker equations
      ``gamma_k - sum_i phi_i gamma_|k-i| = sigma^2 [k = 0]``, ``k = 0..p``. For p = 2:
      ``gamma_0 = (1 - phi_2) sigma^2 / ((1 + phi_2) ((1 - phi_2)^2 - phi_1^2))`` (1.396).
    """
    n = _as_int("ar", "n", n, low=1)
    phi = _ar_coefs(coefs)
    noise = _as_float("ar", "noise", noise, 0.0)
    seed = _as_int("ar", "seed", seed)
    rng = np.random.default_rng(seed)
    p = len(phi)
    gamma = _ar_autocov(phi, noise)
    start = min(p, n)
    y = np.zeros(start)
    if start and gamma[0] > 0:
        cov = gamma[np.abs(np.subtract.outer(np.arange(start), np.arange(start)))]
        y = np.linalg.cholesky(cov) @ rng.standard_normal(start)
    shocks = (noise * rng.standard_normal(n)).tolist()
    values = y[:start].tolist()
    lags = list(enumerate(phi.tolist(), start=1))
    for t in range(start, n):  # plain floats: ~0.5 us a step, no scipy import for a loop
        values.append(shocks[t] + sum(c * values[t - i] for i, c in lags))
    return _frame(np.array(values))


def _ar_coefs(coefs: object) -> np.ndarray:
    if isinstance(coefs, str) or not isinstance(coefs, Iterable):
        raise UserError(f"ar: coefs must be a sequence of numbers, got {coefs!r}")
    phi = np.array([_as_float("ar", "coefs", c) for c in coefs], dtype=np.float64)
    if len(phi):
        companion = np.eye(len(phi), k=-1)
        companion[0] = phi
        radius = float(np.abs(np.linalg.eigvals(companion)).max())
        if radius >= 1.0:
            raise UserError(
                f"ar: coefs={tuple(phi.tolist())} is not stationary (a root of the AR "
                f"polynomial lies on or inside the unit circle: companion modulus "
                f"{radius:.3g} >= 1); make the coefficients smaller"
            )
    return phi


def _ar_autocov(phi: np.ndarray, noise: float) -> np.ndarray:
    """``gamma_0..gamma_p`` from the Yule-Walker equations (a (p+1) x (p+1) linear system)."""
    p = len(phi)
    system = np.eye(p + 1)
    for k in range(p + 1):
        for i in range(1, p + 1):
            system[k, abs(k - i)] -= phi[i - 1]
    rhs = np.zeros(p + 1)
    rhs[0] = noise**2
    return np.linalg.solve(system, rhs)


def _ar_ideal(*, noise: float, **_: object) -> float:
    return noise**2


def _ar_baseline(*, coefs: tuple[float, ...], noise: float, **_: object) -> float:
    return float(_ar_autocov(_ar_coefs(coefs), noise)[0])


def _ar_predict(
    y: np.ndarray, *, coefs: tuple[float, ...], noise: float, **_: object
) -> np.ndarray:
    """``sum_i phi_i y_{t-i}`` from row ``p`` on; before it the exact Gaussian conditional
    mean given the ``t < p`` values seen so far (the stationary autocovariances)."""
    phi = _ar_coefs(coefs)
    n, p = len(y), len(phi)
    pred = np.zeros(n)
    gamma = _ar_autocov(phi, noise)
    for t in range(1, min(p, n)):
        if gamma[0] > 0:
            cov = gamma[np.abs(np.subtract.outer(np.arange(t), np.arange(t)))]
            pred[t] = gamma[t:0:-1] @ np.linalg.solve(cov, y[:t])
    for i in range(1, p + 1):
        pred[p:] += phi[i - 1] * y[p - i : n - i]
    return pred


# ---------------------------------------------------------------------------------------------
# seasonal


def seasonal(
    n: int = 4000,
    periods: tuple[int, ...] = (24, 168),
    amplitudes: tuple[float, ...] = (1.0, 0.5),
    trend: float = 0.0005,
    level: float = 10.0,
    noise: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """Several sine seasonalities on a linear trend, in Gaussian noise (hourly-like defaults).

    ``y_t = f_t + sigma eps_t``, ``f_t = c + b t + sum_j A_j sin(2 pi t / P_j)`` (``c = level``,
    ``b = trend``, ``A = amplitudes``, ``P = periods``, phases 0, ``sigma = noise``). The
    level keeps percentage errors (MAPE) meaningful.

    - ideal MSE ``= sigma^2`` (0.09): the ideal forecast is ``f_t`` itself;
    - no-memory MSE ``= var_t(f) + sigma^2``, predicting the mean of ``f`` over ``t = 0..n-1``,
      where ``var_t(f) = (1/n) sum_t (f_t - mean f)^2 ~= b^2 (n^2 - 1) / 12 + sum_j A_j^2 / 2``
      (computed exactly; 1.038 at the defaults, of which 0.333 is the trend). The trend makes it
      grow with ``n``.
    """
    n, periods, amplitudes, trend, level, noise, seed = _seasonal_checked(
        n, periods, amplitudes, trend, level, noise, seed
    )
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return _frame(
        _seasonal_f(t, periods, amplitudes, trend, level) + noise * rng.standard_normal(n)
    )


def _seasonal_checked(
    n: object,
    periods: object,
    amplitudes: object,
    trend: object,
    level: object,
    noise: object,
    seed: object,
) -> tuple[int, tuple[int, ...], tuple[float, ...], float, float, float, int]:
    per = tuple(_as_int("seasonal", "periods", x, low=2) for x in _sequence("periods", periods))
    amp = tuple(_as_float("seasonal", "amplitudes", x) for x in _sequence("amplitudes", amplitudes))
    if len(per) != len(amp):
        raise UserError(
            f"seasonal: periods and amplitudes must have the same length, got {len(per)} "
            f"periods {per} and {len(amp)} amplitudes {amp}"
        )
    return (
        _as_int("seasonal", "n", n, low=1),
        per,
        amp,
        _as_float("seasonal", "trend", trend),
        _as_float("seasonal", "level", level),
        _as_float("seasonal", "noise", noise, 0.0),
        _as_int("seasonal", "seed", seed),
    )


def _sequence(key: str, value: object) -> list[object]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise UserError(f"seasonal: {key} must be a sequence of numbers, got {value!r}")
    return list(value)


def _seasonal_f(
    t: np.ndarray,
    periods: Iterable[int],
    amplitudes: Iterable[float],
    trend: float,
    level: float,
) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    f = level + trend * t
    for period, amplitude in zip(periods, amplitudes, strict=True):
        f = f + amplitude * np.sin(2 * np.pi * t / period)
    return f


def _seasonal_ideal(*, noise: float, **_: object) -> float:
    return noise**2


def _seasonal_baseline(
    *,
    n: int,
    periods: tuple[int, ...],
    amplitudes: tuple[float, ...],
    trend: float,
    noise: float,
    **_: object,
) -> float:
    return float(np.var(_seasonal_f(np.arange(n), periods, amplitudes, trend, 0.0)) + noise**2)


def _seasonal_predict(
    _y: np.ndarray,  # unused: the forecast is the deterministic part at the frame's own times
    *,
    t: np.ndarray,
    periods: tuple[int, ...],
    amplitudes: tuple[float, ...],
    trend: float,
    level: float,
    **_: object,
) -> np.ndarray:
    return _seasonal_f(t, periods, amplitudes, trend, level)


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class _Spec:
    """What the module knows about one generator besides the generator itself."""

    ideal: Callable[..., float]
    baseline: Callable[..., float]
    predict: Callable[..., np.ndarray]
    season: Callable[[Mapping[str, Any]], int]
    summary: Callable[[Mapping[str, Any]], str]
    check: Callable[[Mapping[str, Any]], None]


GENERATORS: dict[str, Callable[..., pd.DataFrame]] = {
    "echo": echo,
    "regimes": regimes,
    "ar": ar,
    "seasonal": seasonal,
}


def _check_echo(p: Mapping[str, Any]) -> None:
    _echo_checked(*(p[k] for k in ("n", "delay", "prob", "amplitude", "noise", "seed")))


def _check_regimes(p: Mapping[str, Any]) -> None:
    _regimes_checked(p["n"], p["mean_length"], p["scale"], p["noise"], p["seed"])


def _check_ar(p: Mapping[str, Any]) -> None:
    _as_int("ar", "n", p["n"], low=1)
    _ar_coefs(p["coefs"])
    _as_float("ar", "noise", p["noise"], 0.0)
    _as_int("ar", "seed", p["seed"])


def _check_seasonal(p: Mapping[str, Any]) -> None:
    keys = ("n", "periods", "amplitudes", "trend", "level", "noise", "seed")
    _seasonal_checked(*(p[k] for k in keys))


_SPECS: dict[str, _Spec] = {
    "echo": _Spec(
        _echo_ideal,
        _echo_baseline,
        _echo_predict,
        season=lambda _: 1,
        summary=lambda p: (
            f"random spikes (prob {p['prob']:g}, amplitude {p['amplitude']:g}) "
            f"each recurring {p['delay']} steps later, noise {p['noise']:g}"
        ),
        check=_check_echo,
    ),
    "regimes": _Spec(
        _regimes_ideal,
        _regimes_baseline,
        _regimes_predict,
        season=lambda _: 1,
        summary=lambda p: (
            f"piecewise-constant level (mean regime length {p['mean_length']:g}, "
            f"level sd {p['scale']:g}) plus noise {p['noise']:g}"
        ),
        check=_check_regimes,
    ),
    "ar": _Spec(
        _ar_ideal,
        _ar_baseline,
        _ar_predict,
        season=lambda _: 1,
        summary=lambda p: (
            f"AR({len(p['coefs'])}) with coefs "
            f"{', '.join(f'{c:g}' for c in p['coefs'])}, noise {p['noise']:g}"
        ),
        check=_check_ar,
    ),
    "seasonal": _Spec(
        _seasonal_ideal,
        _seasonal_baseline,
        _seasonal_predict,
        season=lambda p: int(p["periods"][0]) if len(p["periods"]) else 1,
        summary=lambda p: (
            f"sines of periods {', '.join(str(x) for x in p['periods'])} "
            f"(amplitudes {', '.join(f'{a:g}' for a in p['amplitudes'])}) on level "
            f"{p['level']:g} with trend {p['trend']:g}/step, noise {p['noise']:g}"
        ),
        check=_check_seasonal,
    ),
}


def names() -> list[str]:
    """The generators in a fixed order: echo, regimes, ar, seasonal."""
    return list(GENERATORS)


def _generator(name: str) -> Callable[..., pd.DataFrame]:
    if isinstance(name, str) and name in GENERATORS:
        return GENERATORS[name]
    close = difflib.get_close_matches(str(name).lower(), names(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"unknown synthetic series {name!r}: {hint}choose one of {', '.join(names())}")


def _defaults(name: str) -> dict[str, Any]:
    signature = inspect.signature(_generator(name))
    return {key: param.default for key, param in signature.parameters.items()}


def _convert(name: str, key: str, text: str, default: object) -> object:
    """``text`` as the type of the parameter's default; a tuple is written ``0.6,-0.3``."""
    if isinstance(default, tuple):
        parts = [part.strip() for part in text.strip("()[] ").split(",") if part.strip()]
        item = default[0] if default else 0.0
        return tuple(_convert(name, key, part, item) for part in parts)
    try:
        if not isinstance(default, int):
            return float(text)
        if text.lstrip("+-").isdigit():
            return int(text)
        number = float(text)  # "2e5" is an integer too
        if number.is_integer():
            return int(number)
    except ValueError:
        pass
    kind = "an integer" if isinstance(default, int) else "a number"
    raise UserError(f"{name}: {key} must be {kind}, got {text!r}")


def _known(name: str, key: str, defaults: Mapping[str, object]) -> None:
    if key not in defaults:
        close = difflib.get_close_matches(key, list(defaults), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(
            f"unknown parameter {key!r} for synthetic series {name!r}: {hint}"
            f"choose from {', '.join(defaults)}"
        )


def _bind(name: str, params: Mapping[str, object]) -> dict[str, Any]:
    """All parameters of generator ``name``: the defaults overridden by ``params`` (strings
    converted to the defaults' types), checked; an unknown key is a `UserError`."""
    defaults = _defaults(name)
    for key in params:
        _known(name, key, defaults)
    bound = dict(defaults)
    for key, value in params.items():
        if isinstance(value, str):
            value = _convert(name, key, value, defaults[key])
        elif isinstance(defaults[key], tuple) and isinstance(value, Iterable):
            value = tuple(value)  # a list from Python or a config file
        bound[key] = value
    _SPECS[name].check(bound)
    return bound


def parse_params(name: str, items: Iterable[str]) -> dict[str, Any]:
    """``["delay=15", "prob=0.1"]`` -> ``{"delay": 15, "prob": 0.1}`` for generator ``name``.

    Each value takes the type of the parameter's default (int, float, or a comma-separated
    tuple such as ``coefs=0.6,-0.3``). Only the given parameters are returned; a malformed
    item, an unknown or repeated name, or a value of the wrong type is a `UserError`.
    """
    defaults = _defaults(name)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            example = key if key in defaults else next(iter(defaults))
            raise UserError(
                f"bad parameter {item!r} for synthetic series {name!r}: write NAME=VALUE, "
                f"e.g. {example}={_show(defaults[example])}"
            )
        if key in out:
            raise UserError(f"parameter {key!r} given twice for synthetic series {name!r}")
        _known(name, key, defaults)
        out[key] = _convert(name, key, text.strip(), defaults[key])
    _bind(name, out)
    return out


def _show(value: object) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def make(name: str, **params: object) -> pd.DataFrame:
    """Generator ``name`` called with ``params`` (strings are converted as in `parse_params`);
    an unknown name or parameter is a `UserError` that lists the choices."""
    return _generator(name)(**_bind(name, params))


def ideal_mse(name: str, **params: object) -> float:
    """The one-step MSE of the ideal forecaster for generator ``name`` with ``params`` (the
    stationary value; see each generator's docstring for the formula). Exact for ``ar`` and
    ``seasonal``; for ``echo`` and ``regimes`` the MSE of a forecaster that also knows the past
    spikes / switch times: a lower bound, attained by ``echo``'s, ~6 % below ``regimes``'."""
    bound = _bind(name, params)
    return float(_SPECS[name].ideal(**bound))


def baseline_mse(name: str, **params: object) -> float:
    """The MSE of predicting the unconditional mean (the no-memory baseline) for ``name``."""
    bound = _bind(name, params)
    return float(_SPECS[name].baseline(**bound))


def ideal_predictor(
    name: str, df: pd.DataFrame | pd.Series | np.ndarray, **params: object
) -> np.ndarray:
    """The ideal one-step forecasts for the rows of ``df`` (its ``y`` column, or the values):
    ``pred[t] = E[y_t | y_0 .. y_{t-1}]`` under generator ``name`` with ``params``, aligned with
    the rows, ``pred[0]`` being the unconditional mean. Only ``df``'s own past is used, so
    for a slice the first rows are forecast from less history (``seasonal`` uses ``df["t"]``).
    ``n`` and ``seed`` are ignored. Cost: one pass, vectorised for ``seasonal`` and ``ar``,
    ``ceil(n / delay)`` small steps for ``echo`` and ``n`` for ``regimes`` (~40 us
    each, so ~2 s for 50 000 rows).
    """
    bound = _bind(name, params)
    y = _target(df)
    if name == "seasonal":
        t = np.asarray(df["t"]) if isinstance(df, pd.DataFrame) else np.arange(len(y))
        bound["t"] = t
    return _SPECS[name].predict(y, **bound)


def info(name: str, **params: object) -> DatasetInfo:
    """A `DatasetInfo` for the series ``make(name, **params)`` returns: target ``y`` at
    integer times ``t``, window 10, the 0.6 / 0.2 / 0.2 split, and the ideal and no-memory
    MSE in its description."""
    bound = _bind(name, params)
    spec = _SPECS[name]
    ideal, baseline = spec.ideal(**bound), spec.baseline(**bound)
    return DatasetInfo(
        name=name,
        file="",
        time_col="t",
        target="y",
        covariates=(),
        series_col=None,
        season=spec.season(bound),
        frequency="synthetic",
        window=10,
        test_size=None,
        val_size=None,
        split=(0.6, 0.2, 0.2),
        fill=None,
        description=f"{spec.summary(bound)}; ideal MSE {ideal:.4g}, no-memory MSE {baseline:.4g}",
        source=f"lstmstate.synthetic.{name} (seeded, seed {bound['seed']}, n {bound['n']})",
    )
