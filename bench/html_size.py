"""How big the HTML (and JSON) of a large capture's block report gets: the page must stay near 2 MB.

    .venv/bin/python bench/html_size.py [EVENTS]        # default 4,000,000 events

Writes a perf-script text capture of EVENTS block events (insert, issue, complete per request;
60 s, latencies spread log-normally from ~20 us to ~50 ms, 4 devices, 30 processes) to a
temporary folder, runs `traceparse block` on it, and prints the sizes of the HTML and JSON.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import traceparse


def capture(path: Path, events: int) -> None:
    n = events // 3
    rng = np.random.default_rng(7)
    start = np.sort(rng.integers(0, 60_000_000, n))  # us
    queue = rng.lognormal(2.0, 1.0, n).astype(np.int64)
    d2c = rng.lognormal(5.0, 1.2, n).astype(np.int64) + 10
    dev = rng.integers(0, 4, n)
    sector = np.arange(n, dtype=np.int64) * 8
    pid = rng.integers(1000, 1030, n)
    rows = []
    for kind, t in (("insert", start), ("issue", start + queue), ("complete", start + queue + d2c)):
        rows.append((t, kind))
    with open(path, "w") as f:
        lines = []
        for t, kind in rows:
            size = "4096 " if kind != "complete" else ""
            tail = "[app]" if kind != "complete" else "[0]"
            for i in range(n):  # a bench input writer, not traceparse: a plain loop is fine here
                ts = int(t[i])
                lines.append((ts, f"app {pid[i]} [000] {ts // 1_000_000}.{ts % 1_000_000:06d}: block:block_rq_{kind}: 8,{dev[i] * 16} "
                                  f"W {size}() {sector[i]} + 8 {tail}\n"))
        lines.sort(key=lambda x: x[0])
        f.writelines(line for _, line in lines)


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.perf.txt"
        capture(path, events)
        t = time.perf_counter()
        report = traceparse.block(path)
        t_report = time.perf_counter() - t
        t = time.perf_counter()
        html = traceparse.render_report(report, "html")
        t_html = time.perf_counter() - t
        js = traceparse.render_report(report, "json")
        print(f"{events:,} events ({path.stat().st_size / 1e6:.0f} MB of text): report {t_report:.1f} s, html {t_html:.2f} s")
        print(f"html {len(html.encode()) / 1e6:.2f} MB, json {len(js.encode()) / 1e6:.2f} MB")
        for k, h in report.data["heatmaps"].items():
            print(f"  {k}: {h['columns']} columns x {len(h['rows'])} rows, {len(h['cells'])} cells, {len(h['slowest']['rows'])} slowest kept")


if __name__ == "__main__":
    main()
