"""Intervals for comparing two scorecards honestly: the difference of two rates (Newcombe's
hybrid score interval, built from Wilson intervals), the difference of two medians, 90th
percentiles or means (a percentile bootstrap), and a difference in differences against control
sites (the same bootstrap over four samples). Pure functions over numbers: no database.

Decisions: 95 % intervals; the bootstrap draws 1,000 resamples from a fixed seed, so the same
data always gives the same page. Above ``RESAMPLE_LIMIT`` items a resample is not built item by
item (seconds per KPI): a resample's median or 90th percentile is drawn straight from its known
distribution (the r-th smallest of n draws from the sample is at most the j-th smallest value
with probability P(Binomial(n, j/n) ≥ r)), and a resample's mean from its normal limit."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm

LEVEL = 0.95
RESAMPLES = 1000
RESAMPLE_LIMIT = 2_000
QUANTILES = {"median": 0.5, "p90": 0.9}
SEED = 17
BATCH_CELLS = 2_000_000  # resample rows × items drawn at once (memory)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def spans_zero(self) -> bool:
        return self.low <= 0 <= self.high

    def scaled(self, factor: float) -> "Interval":
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


def _z(level: float = LEVEL) -> float:
    return float(norm.ppf(0.5 + level / 2))


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``k / n`` (``(0, 1)`` when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    z = _z(level)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_difference(k1: int, n1: int, k2: int, n2: int, level: float = LEVEL) -> Interval:
    """``k1/n1 − k2/n2`` with Newcombe's hybrid score interval (his method 10, 1998)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, level)
    l2, u2 = wilson(k2, n2, level)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, low, high)


def _median(x: np.ndarray) -> np.ndarray:
    return np.median(x, axis=-1)


def _p90(x: np.ndarray) -> np.ndarray:
    return np.percentile(x, 90, axis=-1)  # linear interpolation, as percentile_cont


def _mean(x: np.ndarray) -> np.ndarray:
    return np.mean(x, axis=-1)


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"median": _median, "p90": _p90, "mean": _mean}


def _resampled(values: Sequence[float], kind: str, rng: np.random.Generator) -> np.ndarray:
    """The statistic ``kind`` over RESAMPLES bootstrap resamples of ``values``."""
    data = np.sort(np.asarray(values, dtype=float))
    n = len(data)
    if n > RESAMPLE_LIMIT and kind in QUANTILES:
        rank = math.floor(QUANTILES[kind] * (n - 1)) + 1  # the order statistic percentile_cont starts from
        at_most = binom.sf(rank - 1, n, np.arange(1, n + 1) / n)  # P(r-th smallest ≤ data[j]), rising in j
        return data[np.minimum(np.searchsorted(at_most, rng.random(RESAMPLES)), n - 1)]
    if n > RESAMPLE_LIMIT:  # the mean
        return rng.normal(data.mean(), data.std() / math.sqrt(n), RESAMPLES)
    statistic = STATISTICS[kind]
    out = np.empty(RESAMPLES)
    batch = max(1, BATCH_CELLS // n)
    for start in range(0, RESAMPLES, batch):
        stop = min(start + batch, RESAMPLES)
        out[start:stop] = statistic(data[rng.integers(0, n, size=(stop - start, n))])
    return out


def _percentile_interval(estimate: float, draws: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high))


def bootstrap_difference(
    pilot: Sequence[float], baseline: Sequence[float], kind: str = "median", level: float = LEVEL
) -> Interval:
    """``statistic(pilot) − statistic(baseline)`` with a percentile bootstrap interval."""
    statistic = STATISTICS[kind]
    rng = np.random.default_rng(SEED)
    estimate = float(statistic(np.asarray(pilot, float)) - statistic(np.asarray(baseline, float)))
    draws = _resampled(pilot, kind, rng) - _resampled(baseline, kind, rng)
    return _percentile_interval(estimate, draws, level)


def difference_in_differences(
    pilot_after: Sequence[float],
    pilot_before: Sequence[float],
    control_after: Sequence[float],
    control_before: Sequence[float],
    kind: str = "median",
    level: float = LEVEL,
) -> Interval:
    """``(pilot after − pilot before) − (control after − control before)`` for a statistic of
    per-item values (``mean`` of 0/1 values for a rate), with a percentile bootstrap interval
    resampling each of the four samples on its own."""
    statistic = STATISTICS[kind]
    rng = np.random.default_rng(SEED)
    samples = (pilot_after, pilot_before, control_after, control_before)
    a, b, c, d = (float(statistic(np.asarray(s, float))) for s in samples)
    draws = [_resampled(s, kind, rng) for s in samples]
    return _percentile_interval((a - b) - (c - d), (draws[0] - draws[1]) - (draws[2] - draws[3]), level)
