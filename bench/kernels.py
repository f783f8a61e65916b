"""The report kernels alone: `block`'s work over frames that were read once, beforehand.

    python bench/kernels.py bench/work/perf-2000000.txt            # this tree's code
    cd ../main && python /path/to/bench/kernels.py FILE              # another tree's, e.g. before a change

The capture is parsed first and its chunks kept in memory, so the times are the middle floor's
alone: pairing (OpenRequests.pair, which also records the finished requests natively where the
report has no filters), the batches' recording (BlockAnalysis.flush), the rest of
BlockAnalysis.feed and finish. Medians of --repeat runs; prints one JSON line.
``*_cpu`` is the process's CPU time (every thread: polars runs on both cores) over the same span.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from traceparse.api import Capture
from traceparse.reports import block as block_mod
from traceparse.reports import histogram, open_requests


def timed(obj, name: str, acc: dict, key: str):
    """Wrap obj.name so that its time adds up in acc[key]."""
    inner = getattr(obj, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            acc[key] += time.perf_counter() - t

    setattr(obj, name, wrapper)
    return inner


def pairing_alone(chunks) -> tuple[float, float]:
    """Pair every chunk with a fresh open-request table, nothing else: (wall, process CPU) seconds."""
    t, cpu = time.perf_counter(), time.process_time()
    if hasattr(open_requests.OpenRequests, "pair"):  # the native kernel
        table = open_requests.OpenRequests()
        for c in chunks:
            table.pair(c.frames, getattr(c, "block_lane", None))
    else:  # the polars pairing it replaced (main before issue 11)
        from traceparse.reports import block_pairing as bp

        table, rid = open_requests.OpenRequests(bp.ROW_SCHEMA), 0
        for c in chunks:
            rows = bp.rows_from(c.frames, rid)
            if not rows.height:
                continue
            rid += rows.height
            p = bp.pair(bp.pl.concat([table.take(rows.select(open_requests.KEY)), rows]))
            if p.partials.height:
                table.take(p.state.select(open_requests.KEY))
            table.put(p.state)
    return time.perf_counter() - t, time.process_time() - cpu


def one_run(chunks, source) -> dict:
    acc = dict.fromkeys(("feed", "pair", "record", "finish"), 0.0)
    # (what each tree has: an older one recorded in _record and GroupedDistributions.add_grouped)
    hooks = [(open_requests.OpenRequests, "pair", "pair"), (block_mod.BlockAnalysis, "flush", "record"),
             (block_mod.BlockAnalysis, "_record", "record"), (histogram.GroupedDistributions, "add_grouped", "record")]
    saved = [(cls, name, timed(cls, name, acc, key)) for cls, name, key in hooks if hasattr(cls, name)]
    try:
        a = block_mod.BlockAnalysis(block_mod.BlockOptions())
        t, cpu = time.perf_counter(), time.process_time()
        for c in chunks:
            a.feed(c, source)
        acc["feed"], acc["feed_cpu"] = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        a.finish(source).data  # noqa: B018 (builds the JSON contract, histograms rolled up and encoded)
        acc["finish"] = time.perf_counter() - t
    finally:
        for cls, name, inner in saved:
            setattr(cls, name, inner)
    acc["pairing_alone"], acc["pairing_alone_cpu"] = pairing_alone(chunks)
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    cap = Capture(a.path, lean=True)
    t = time.perf_counter()
    chunks = list(cap.chunks())
    parse = time.perf_counter() - t
    events = sum(f.height for c in chunks for k, f in c.frames.items() if k.startswith("block:"))
    events += sum(len(c.block_lane) for c in chunks if getattr(c, "block_lane", None) is not None)
    runs = [one_run(chunks, cap.source) for _ in range(a.repeat)]
    med = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    print(json.dumps({"path": a.path, "block_events": events, "parse_s": round(parse, 3), **med}))


if __name__ == "__main__":
    main()
