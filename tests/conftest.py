"""Shared fixtures: a seeded synthetic series generator (scaled units, target first)."""

import numpy as np
import pytest
import torch


def make_series(n: int, features: int = 1, seed: int = 0) -> np.ndarray:
    """(n, features) float64: a noisy seasonal target in column 0, noisy covariates after it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    target = 0.5 + 0.3 * np.sin(2 * np.pi * t / 12) + 0.002 * t + 0.05 * rng.standard_normal(n)
    covariates = [np.cos(2 * np.pi * t / 7) + 0.1 * rng.standard_normal(n)]
    covariates += [rng.standard_normal(n) for _ in range(features - 2)]
    return np.column_stack([target, *covariates[: features - 1]])


@pytest.fixture
def synthetic():
    """The generator itself: ``synthetic(n, features=1, seed=0) -> (n, features)``."""
    return make_series


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny models: one thread is faster and immune to a busy machine's oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
