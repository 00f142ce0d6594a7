"""Per-series, per-feature scaling fitted on the training rows only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import UserError

__all__ = ["SCALERS", "Scaler"]

SCALERS = ("minmax", "standard", "none")


@dataclass
class Scaler:
    """``scaled = (x - offset) / scale`` with one (offset, scale) per series and feature.

    ``minmax`` maps each feature's training range to [0, 1]; ``standard`` to
    mean 0, standard deviation 1; ``none`` leaves values alone. A constant
    training column gets scale 1 so that nothing divides by zero.
    """

    kind: str
    offset: np.ndarray  # (S, F)
    scale: np.ndarray  # (S, F)

    @classmethod
    def fit(cls, kind: str, parts: list[np.ndarray]) -> Scaler:
        """Fit on ``parts[i]``: the training rows (n_i, F) of series ``i``."""
        if kind not in SCALERS:
            raise UserError(f"unknown scaler {kind!r}: choose one of {', '.join(SCALERS)}")
        offsets, scales = [], []
        for rows in parts:
            rows = np.asarray(rows, dtype=np.float64)
            if kind == "minmax":
                low, high = rows.min(axis=0), rows.max(axis=0)
                with np.errstate(over="ignore"):
                    offset, scale = low, high - low
            elif kind == "standard":
                # in units of the largest magnitude, so that squares neither overflow (1e300)
                # nor vanish (1e-310)
                unit = np.max(np.abs(rows), axis=0)
                unit = np.where((unit > 0) & np.isfinite(unit), unit, 1.0)
                offset = (rows / unit).mean(axis=0) * unit
                scale = (rows / unit).std(axis=0) * unit
            else:
                offset, scale = np.zeros(rows.shape[1]), np.ones(rows.shape[1])
            if not (np.isfinite(offset).all() and np.isfinite(scale).all()):
                raise UserError(
                    f"the training values are too large to {kind}-scale (range or spread beyond "
                    f"{np.finfo(np.float64).max:.3g}): divide the data by a power of ten first"
                )
            offsets.append(offset)
            scales.append(np.where(scale > 0, scale, 1.0))
        return cls(kind, np.array(offsets, dtype=np.float64), np.array(scales, dtype=np.float64))

    def transform(self, values: np.ndarray, series: int) -> np.ndarray:
        return (values - self.offset[series]) / self.scale[series]

    def inverse(self, values: np.ndarray, series: int) -> np.ndarray:
        return values * self.scale[series] + self.offset[series]

    def inverse_target(self, values: np.ndarray, series: int | np.ndarray) -> np.ndarray:
        """Target values (column 0) back to original units; ``series`` may be per row."""
        return values * _col(self.scale[series, 0], values) + _col(self.offset[series, 0], values)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        return cls(d["kind"], np.asarray(d["offset"], float), np.asarray(d["scale"], float))


def _col(param: np.ndarray | np.floating, values: np.ndarray) -> np.ndarray:
    """Broadcast a per-row parameter over the trailing axes of ``values``."""
    p = np.asarray(param)
    return p.reshape(p.shape + (1,) * (values.ndim - p.ndim))
