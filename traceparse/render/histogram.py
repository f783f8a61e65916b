"""Log2 histograms drawn the way bpftrace's hist() and bcc's biolatency draw them.

    [16K, 32K)         20812 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
"""
from __future__ import annotations

from ..reports.result import Histogram

WIDTH = 52


def _short(v: int) -> str:
    for suffix, size in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if v >= size and v % size == 0:
            return f"{v // size}{suffix}"
    return str(v)


# Units whose values are whole before bucketing: there [0] holds zeros alone, as in bpftrace.
# A time shown in us or ms was floored from ns, so its one-wide buckets [0] and [1] hold
# everything under 1 and from 1 to 2 units: drawn as the ranges they are.
EXACT_UNITS = (None, "ns", "bytes", "count")


def label(lo: int, hi: int, unit: str | None = None) -> str:
    if hi - lo == 1 and unit in EXACT_UNITS:
        return f"[{lo}]"
    return f"[{_short(lo)}, {_short(hi)})"


def draw(h: Histogram) -> list[str]:
    if not h.buckets:
        return ["(no values)"]
    peak = max(b["count"] for b in h.buckets) or 1
    lines = []
    for b in h.buckets:
        bar = "@" * (b["count"] * WIDTH // peak)
        lines.append(f"{label(b['lo'], b['hi'], h.unit):<16} {b['count']:>8} |{bar:<{WIDTH}}|")
    if h.stats:  # bpftrace's stats(): "count 170, average 1336, total 227140"
        lines.append(", ".join(f"{k} {v}" for k, v in h.stats.items()))
    return lines
