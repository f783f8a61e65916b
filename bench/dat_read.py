"""Time the trace.dat ground floor alone: read every chunk as the block report asks (no payload text).

    python bench/dat_read.py bench/work/blk-5M.dat [--payload] [--repeat 3]

Prints wall and CPU seconds (this process and its threads), events and chunks, and peak RSS;
nothing above the ground floor runs, so this is what `traceparse block` pays to decode.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

from traceparse.parsers.reader import read_capture


def once(path: str, payload: bool) -> tuple[float, float, int, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    _, chunks = read_capture(path, payload=payload)
    events = n = 0
    for chunk in chunks:
        n += 1
        events += sum(f.height for f in chunk.frames.values())
    return time.perf_counter() - t0, time.process_time() - c0, events, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--payload", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    runs = [once(a.path, a.payload) for _ in range(a.repeat)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{a.path}: {runs[0][2]:,} events in {runs[0][3]} chunks; wall {wall:.2f} s, CPU {cpu:.2f} s "
          f"(median of {a.repeat}); peak RSS {rss} MB")


if __name__ == "__main__":
    main()
