"""Is a change between two latency distributions real or noise? Tests computed from HdrHistograms alone.

A saved report carries each distribution as HdrHistogram's compressed base64 (``hdr``); a capture
gives the same histogram. Everything here works from the bucket counts, so a diff against a saved
baseline is exactly the diff against the capture it came from.

- Percentiles (p50 ... p99.9): bootstrap. Resampling n values from a histogram (multinomial draws
  over its buckets) and taking the value of rank r (HdrHistogram's rank rule) is the same as
  drawing the r-th smallest of n uniforms, which is Beta(r, n - r + 1), and reading the histogram's
  inverse CDF there. We draw that Beta directly: the same bootstrap distribution as multinomial
  resampling, for the cost of one draw per replicate instead of one per bucket
  (``tests/test_diff.py`` checks the two agree). The two sides are resampled independently;
  the interval is the 2.5 and 97.5 % quantiles of the replicate differences, the p-value the
  two-sided share of replicates on the other side of zero.
- Mean: Welch's z from the exact means and the histogram's variance (normal approximation).
- Whole distribution: two-sample Kolmogorov-Smirnov on the binned CDFs (asymptotic p-value with
  Stephens' correction; binning makes ties, which makes the test conservative).
- Untested, on purpose: ``max`` (one value: no sampling distribution worth the name), and any
  percentile with fewer than MIN_TAIL values beyond it on either side (p99 needs 1,000 values,
  p99.9 10,000): a bootstrap of an extreme order statistic is too narrow, and small captures
  must not be flagged on noise. Nothing is tested below MIN_COUNT values.
- Many cells are tested in one diff, so significance is decided after Holm's correction over all
  tested cells (family-wise error 5 %).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

from .histogram import counts_of

REPLICATES = 20_000  # p-values go down to 1/20001, small enough for Holm over a few hundred cells
SEED = 6  # fixed: the same inputs give the same intervals, run after run
ALPHA = 0.05
CONFIDENCE = 0.95
MIN_COUNT = 30  # values per side below which nothing is tested
MIN_TAIL = 10  # values beyond a percentile, per side, needed to test it
PCTS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


@dataclass
class Binned:
    """A histogram as sorted bucket values (highest equivalent value, capped at the true max) and counts."""

    values: np.ndarray  # int64, ascending
    lows: np.ndarray  # int64, each bucket's lowest equivalent value
    counts: np.ndarray  # int64, > 0
    cum: np.ndarray  # cumulative counts
    n: int

    @classmethod
    def from_hdr(cls, encoded: str, max_ns: int | None = None) -> "Binned":
        """Decode HdrHistogram's standard compressed base64 and keep the non-empty buckets."""
        h = HdrHistogram.decode(encoded)
        counts = counts_of(h)[: h.counts_len].astype(np.int64)
        idx = np.flatnonzero(counts)
        lows, values = equivalent_range(h, idx)
        if max_ns is not None:  # as the report does: a percentile never exceeds the recorded max
            values = np.minimum(values, max_ns)
        c = counts[idx]
        return cls(values, lows, c, np.cumsum(c), int(c.sum()))

    def mean_var(self) -> tuple[float, float]:
        mid = self.values.astype(np.float64)
        mean = float((mid * self.counts).sum() / self.n)
        var = float((self.counts * (mid - mean) ** 2).sum() / max(self.n - 1, 1))
        return mean, var


def equivalent_range(h: HdrHistogram, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) equivalent value of bucket indexes: ``h.get_value_from_index`` and
    ``h.get_highest_equivalent_value`` of it, for an array of indexes at once."""
    half_mag, half = h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count
    bucket = (idx >> half_mag) - 1
    sub = (idx & (half - 1)) + half
    low = bucket < 0
    sub = np.where(low, sub - half, sub)
    bucket = np.where(low, 0, bucket)
    lowest = sub.astype(np.int64) << (bucket + h.unit_magnitude)
    return lowest, lowest + (np.int64(1) << (bucket + h.unit_magnitude)) - 1


def target_rank(n: int, pct: float) -> int:
    """HdrHistogram's rank rule (get_target_count_at_percentile)."""
    return max(int(pct * n / 100 + 0.5), 1)


def rng_for(label: str) -> np.random.Generator:
    """One generator per tested cell, seeded by its name: results do not depend on what else is diffed."""
    return np.random.default_rng([SEED, zlib.crc32(label.encode())])


def percentile_replicates(b: Binned, pct: float, rng: np.random.Generator, size: int = REPLICATES) -> np.ndarray:
    """Bootstrap replicates of the percentile: the rank-r value of n draws from the histogram."""
    r = target_rank(b.n, pct)
    u = rng.beta(r, b.n - r + 1, size=size)
    i = np.searchsorted(b.cum, u * b.n, side="left")
    return b.values[np.minimum(i, len(b.values) - 1)]


def multinomial_replicates(b: Binned, pct: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """The textbook bootstrap (resample bucket counts); slow, kept as the reference for the Beta shortcut."""
    draws = rng.multinomial(b.n, b.counts / b.n, size=size)
    cum = draws.cumsum(axis=1)
    i = (cum < target_rank(b.n, pct)).sum(axis=1)
    return b.values[i]


@dataclass
class Verdict:
    """The outcome for one cell: a p-value and an interval for new - base, or why it was not tested."""

    tested: bool
    p: float | None = None
    ci_lo: float | None = None
    ci_hi: float | None = None
    why_not: str | None = None
    p_adj: float | None = None
    significant: bool = False

    def as_dict(self) -> dict:
        return {
            "tested": self.tested, "p": self.p, "p_adj": self.p_adj, "ci_lo_ns": self.ci_lo,
            "ci_hi_ns": self.ci_hi, "significant": self.significant, "why_not": self.why_not,
        }


def untested(why: str) -> Verdict:
    return Verdict(tested=False, why_not=why)


def compare_percentile(base: Binned, new: Binned, stat: str, label: str) -> Verdict:
    pct = PCTS[stat]
    need = math.ceil(MIN_TAIL / (1 - pct / 100))
    if min(base.n, new.n) < max(need, MIN_COUNT):
        return untested(f"needs {max(need, MIN_COUNT):,} values per side")
    rng = rng_for(label)
    d = percentile_replicates(new, pct, rng) - percentile_replicates(base, pct, rng)
    lo, hi = np.quantile(d, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Verdict(True, _two_sided(d), float(lo), float(hi))


def _two_sided(d: np.ndarray) -> float:
    """Share of replicates at or beyond zero on the far side, doubled (ties count against significance)."""
    k = min(int((d <= 0).sum()), int((d >= 0).sum()))
    return min(1.0, (2 * k + 1) / (len(d) + 1))


def compare_mean(base: Binned, new: Binned, base_mean: float, new_mean: float) -> Verdict:
    if min(base.n, new.n) < MIN_COUNT:
        return untested(f"needs {MIN_COUNT} values per side")
    se = math.sqrt(base.mean_var()[1] / base.n + new.mean_var()[1] / new.n)
    diff = new_mean - base_mean
    if se == 0:
        return Verdict(True, 1.0 if diff == 0 else 0.0, diff, diff)
    z = 1.959963984540054
    return Verdict(True, math.erfc(abs(diff) / se / math.sqrt(2)), diff - z * se, diff + z * se)


def compare_shape(base: Binned, new: Binned) -> tuple[float, Verdict]:
    """Two-sample Kolmogorov-Smirnov statistic D over the binned CDFs, with its asymptotic p-value."""
    if min(base.n, new.n) < MIN_COUNT:
        return math.nan, untested(f"needs {MIN_COUNT} values per side")
    grid = np.union1d(base.values, new.values)
    fb = _cdf(base, grid)
    fn = _cdf(new, grid)
    d = float(np.abs(fb - fn).max())
    ne = base.n * new.n / (base.n + new.n)
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    return d, Verdict(True, kolmogorov_q(lam))


def _cdf(b: Binned, grid: np.ndarray) -> np.ndarray:
    i = np.searchsorted(b.values, grid, side="right")
    return np.where(i > 0, b.cum[np.maximum(i - 1, 0)], 0) / b.n


def kolmogorov_q(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution: 2 sum (-1)^(k-1) exp(-2 k^2 lam^2)."""
    if lam < 0.2:
        return 1.0
    k = np.arange(1, 101)
    q = 2 * float(((-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)).sum())
    return min(1.0, max(0.0, q))


def holm(tests: list[Verdict], alpha: float = ALPHA) -> None:
    """Holm's step-down correction over every tested cell: sets p_adj and significant in place."""
    done = sorted((t for t in tests if t.tested and t.p is not None), key=lambda t: t.p)
    m, running = len(done), 0.0
    for j, t in enumerate(done):
        running = max(running, min(1.0, (m - j) * t.p))
        t.p_adj = running
        t.significant = running < alpha
