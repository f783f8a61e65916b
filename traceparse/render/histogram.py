"""Log2 histograms drawn the way bpftrace's hist() and bcc's biolatency draw them.

    [16K, 32K)         20812 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
"""
from __future__ import annotations

from ..reports.histogram import bucket_label as label
from ..reports.result import Histogram

WIDTH = 52


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
