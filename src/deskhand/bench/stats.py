"""Order statistics of benchmark samples: the median and 95th percentile of milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """p50 and p95 (linear interpolation between samples) of `n` samples; NaN when n = 0."""

    n: int
    p50: float
    p95: float

    def as_json(self) -> dict[str, float | int | None]:
        return {"n": self.n, "p50": _finite(self.p50), "p95": _finite(self.p95)}


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        return Summary(0, math.nan, math.nan)
    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95])
    return Summary(len(values), float(p50), float(p95))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when either is missing or the denominator is not positive."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


def _finite(value: float) -> float | None:
    # JSON has no NaN: a missing statistic is null.
    return None if math.isnan(value) else round(value, 3)
