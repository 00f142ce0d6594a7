"""The numeric form the trainer and the evaluator work on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeriesData"]


@dataclass
class SeriesData:
    """Scaled model input of one or more series, stacked row-wise.

    ``values`` is (N, F) with the target in column 0 and covariates after it.
    ``bounds[i] = (start, train_end, val_end, end)`` are the rows of series ``i``:
    training rows ``start:train_end``, validation ``train_end:val_end``, test
    ``val_end:end``.
    """

    values: np.ndarray
    bounds: np.ndarray

    @classmethod
    def single(cls, values: np.ndarray, train_end: int, val_end: int) -> SeriesData:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        return cls(values, np.array([[0, train_end, val_end, len(values)]], dtype=np.int64))
