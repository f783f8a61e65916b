"""Run-to-run variation: is a new run (or a set of new runs) outside what the base runs do?

A capture of tens of thousands of requests pins its own percentiles tightly (diff_stats.py), yet two
runs of one workload minutes apart differ by far more (cache state, neighbours, the host). Only
several base runs show that spread, so each run's statistic (p50, p99, mean, ... of one group) is
one observation here, and the question is asked of those observations:

- On log scale (latencies are positive and vary by ratios), y_i = log(value of run i).
- The spread: the pooled standard deviation s of the runs about their own side's mean (degrees of
  freedom n_base - 1 + n_new - 1; with one new run, just the base runs' n_base - 1). Each side's
  per-run variance is at least that run's own sampling variance (v, from the bootstrap of its
  histogram): S_side^2 = max(s^2, mean v of the side), so two base runs that agree by chance do
  not make a sampling-noise change look beyond run-to-run variation.
- The interval for the change: mean_new(y) - mean_base(y) +- t(df, 97.5 %) * sqrt(S_b^2/n_b + S_n^2/n_n).
  With one new run it is the prediction interval for a new run from the base runs, t with n - 1
  degrees of freedom; with several it is the pooled two-sample t interval. "Beyond" means outside it.
- Assumptions: runs are independent draws of one workload's run-level distribution, log-normal
  around it; the same spread on both sides. With 3 base runs t(2) = 4.30 makes the interval wide:
  the honest price of knowing the spread from three numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import diff_stats as st

CONFIDENCE = 0.95
SAMPLING_REPLICATES = 2_000  # a variance, not a tail quantile: 2,000 draws pin it to a few %


@dataclass
class RunVerdict:
    """Run-to-run verdict for one cell: the interval of new/base (a ratio) and whether new is beyond it."""

    tested: bool
    base_runs: list = field(default_factory=list)
    new_runs: list = field(default_factory=list)
    df: int | None = None
    t: float | None = None
    ratio: float | None = None  # geometric mean new / geometric mean base
    lo: float | None = None  # interval of the ratio under "no change": a new/base ratio inside it is run-to-run
    hi: float | None = None
    p: float | None = None  # two-sided
    why_not: str | None = None

    @property
    def beyond(self) -> int:
        """+1 above the interval, -1 below it, 0 within (or untested)."""
        if not self.tested:
            return 0
        return 1 if self.ratio > self.hi else -1 if self.ratio < self.lo else 0

    def as_dict(self) -> dict:
        return {"tested": self.tested, "test": "t on log per-run values" if self.tested else None, "df": self.df,
                "t": self.t, "ratio": self.ratio, "ratio_lo": self.lo, "ratio_hi": self.hi, "p": self.p,
                "beyond": {1: "above", -1: "below", 0: None}[self.beyond], "why_not": self.why_not}


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| > t) for Student's t with integer df (Abramowitz & Stegun 26.7.3-4: a finite series in cos(theta))."""
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 ...))
        term, tot = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            tot += term
        a = 2 / math.pi * (theta + s * math.cos(theta) * tot)
    else:  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 ...)
        term, tot = 1.0, 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            tot += term
        a = s * tot
    return min(1.0, max(0.0, 1 - a))


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The t with P(|T| > t) = 1 - confidence, by bisection on t_two_sided_p."""
    lo, hi = 0.0, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_two_sided_p(mid, df) > 1 - confidence else (lo, mid)
    return (lo + hi) / 2


def log_sampling_var(bins: st.Binned | None, stat: str, label: str, mean: float | None = None) -> float:
    """One run's sampling variance of log(statistic): the bootstrap's for a percentile, the delta method's for the mean."""
    if bins is None or bins.n < st.MIN_COUNT:
        return 0.0
    if stat == "mean":
        m = mean if mean else bins.mean_var()[0]
        return bins.mean_var()[1] / bins.n / m**2 if m > 0 else 0.0
    if stat not in st.PCTS:
        return 0.0  # count, iops, max: no sampling distribution to speak of (diff_stats leaves them untested too)
    reps = st.percentile_replicates(bins, st.PCTS[stat], st.rng_for(label), SAMPLING_REPLICATES)
    return float(np.log(np.maximum(reps, 1)).var(ddof=1))


def run_test(base: list[float], new: list[float], base_var: list[float], new_var: list[float]) -> RunVerdict:
    """The interval for log(new) - log(base) from the per-run values (see the module docstring)."""
    b, n = [x for x in base if x is not None], [x for x in new if x is not None]
    out = RunVerdict(False, base_runs=list(base), new_runs=list(new))
    if len(b) < 2 or not n:
        if len(base) == 1:
            out.why_not = "one base run: run-to-run variation unknown"
        else:
            out.why_not = f"in {len(b)} of {len(base)} base runs" if len(b) < 2 else "missing on the new side"
        return out
    if min(b + n) <= 0:
        out.why_not = "a run's value is zero: no ratio"
        return out
    yb, yn = np.log(b), np.log(n)
    df = len(b) - 1 + len(n) - 1
    ss = float(((yb - yb.mean()) ** 2).sum() + ((yn - yn.mean()) ** 2).sum())
    s2 = ss / df
    vb = max(s2, _mean(base_var)) / len(b)
    vn = max(s2, _mean(new_var)) / len(n)
    se = math.sqrt(vb + vn)
    d = float(yn.mean() - yb.mean())
    t = t_quantile(df)
    out.tested, out.df, out.t, out.ratio = True, df, t, math.exp(d)
    out.lo, out.hi = math.exp(-t * se), math.exp(t * se)
    out.p = 1.0 if se == 0 and d == 0 else 0.0 if se == 0 else t_two_sided_p(d / se, df)
    return out


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else 0.0


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    if min(xs) <= 0:
        return sum(xs) / len(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


# a side of several runs -----------------------------------------------------------------------------

TIME_KEYS = ("mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")
RATE_KEYS = ("count", "iops")


def summary(nodes: list[dict | None]) -> dict | None:
    """A side's STATS node: one run's own; several runs' geometric means of times, plain means of counts and rates."""
    present = [x for x in nodes if x is not None]
    if len(nodes) == 1 or not present:
        return present[0] if present else None
    out: dict = {}
    for key in RATE_KEYS + TIME_KEYS:
        vals = [x.get(key) for x in present]
        if all(v is not None for v in vals):
            out[key] = sum(vals) / len(vals) if key in RATE_KEYS else geomean(vals)
    if all(x.get("hdr") for x in present):
        out["hdr"] = "(pooled runs)"  # the histograms are pooled by pool(), from the runs' own
    return out


def run_bins(nodes: list[dict | None]) -> list[st.Binned | None]:
    return [st.Binned.from_hdr(x["hdr"], x.get("max_ns")) if x and x.get("hdr") and x.get("count") else None for x in nodes]


def pool(bins: list[st.Binned | None]) -> st.Binned | None:
    """The runs' histograms added bucket by bucket (one run: its own); None when a run that has the group lacks one."""
    present = [b for b in bins if b is not None]
    if len(bins) == 1 or not present:
        return present[0] if present else None
    values = np.concatenate([b.values for b in present])
    lows = np.concatenate([b.lows for b in present])
    counts = np.concatenate([b.counts for b in present])
    uniq, inv = np.unique(values, return_inverse=True)
    c = np.bincount(inv, weights=counts).astype(np.int64)
    low = np.full(len(uniq), np.iinfo(np.int64).max)
    np.minimum.at(low, inv, lows)
    return st.Binned(uniq, low, c, np.cumsum(c), int(c.sum()))


def pooled_mean(nodes: list[dict | None]) -> float | None:
    """The exact mean of all requests of the runs (one run: its mean_ns)."""
    present = [x for x in nodes if x is not None and x.get("mean_ns") is not None]
    if len(nodes) == 1:
        return present[0]["mean_ns"] if present else None
    n = sum(x.get("count") or 0 for x in present)
    return sum(x["mean_ns"] * (x.get("count") or 0) for x in present) / n if n else None


def cell_runs(base: list, new: list, b_bins: list, n_bins: list, stat: str, key: str, label: str) -> RunVerdict:
    """The run-to-run verdict of one cell (untested, with the values, when fewer than two base runs have it)."""
    bv = [x.get(key) if x else None for x in base]
    nv = [x.get(key) if x else None for x in new]
    if sum(v is not None for v in bv) < 2:
        return run_test(bv, nv, [], [])

    def variances(values, bins, side):
        return [log_sampling_var(b, stat, f"{label}:{stat}:{side}{i}", v if stat == "mean" else None) if v is not None else None
                for i, (v, b) in enumerate(zip(values, bins))]

    return run_test(bv, nv, variances(bv, b_bins, "b"), variances(nv, n_bins, "n"))
