"""Build benchmark inputs by repeating a real capture with shifted timestamps.

    python bench/make_inputs.py perf  fixtures/perf-block.txt  bench/work/perf-2M.txt  --events 2000000
    python bench/make_inputs.py perf  fixtures/perf-block.txt  bench/work/lost.txt --events 2000000 --lose-completes

Each copy's timestamps move past the previous copy's end, so the result reads like one long capture
of the same workload: same line shapes, same pairing work per event. ``--lose-completes`` drops
every complete and moves each copy's sectors past the previous copy's, so that every request stays
open: a capture whose completes were all lost, the open-request table's worst case.
"""
from __future__ import annotations

import argparse
import lzma
import re
from pathlib import Path

TS = re.compile(rb"(\] +(?:[^\s\[\]:]{4,7} +)?)(\d+)\.(\d+)(:)")
SECTOR = re.compile(rb"(\) )(\d+)( \+ )")  # "() 203434928 + 8": the sector after the command's ()


def read(path: Path) -> bytes:
    return lzma.open(path).read() if path.suffix == ".xz" else path.read_bytes()


def repeat(src: bytes, events: int, event_marker: bytes, lose_completes: bool = False) -> bytes:
    lines = src.splitlines(keepends=True)
    if lose_completes:
        lines = [l for l in lines if b"block_rq_complete" not in l]
        src = b"".join(lines)
    top = max((int(m.group(2)) for m in map(SECTOR.search, lines) if m), default=0) + 1
    per_copy = sum(1 for l in lines if event_marker in l)
    stamps = [int(m.group(2)) * 10**9 + int(m.group(3).ljust(9, b"0")) for m in map(TS.search, lines) if m]
    span = max(stamps) - min(stamps) + 10**9
    digits = len(TS.search(next(l for l in lines if TS.search(l))).group(3))
    out = []
    for copy in range(-(-events // per_copy)):
        shift = copy * span

        def bump(m, shift=shift):
            t = int(m.group(2)) * 10**9 + int(m.group(3).ljust(9, b"0")) + shift
            frac = str(t % 10**9).rjust(9, "0")[:digits].encode()
            return m.group(1) + str(t // 10**9).encode() + b"." + frac + m.group(4)

        text = TS.sub(bump, src) if copy else src
        if lose_completes and copy:
            text = SECTOR.sub(lambda m, off=copy * top: m.group(1) + str(int(m.group(2)) + off).encode() + m.group(3), text)
        out.append(text)
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["perf", "ftrace"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--lose-completes", action="store_true")
    a = ap.parse_args()
    marker = b"block:block_rq_" if a.kind == "perf" else b"block_rq_"
    a.dst.parent.mkdir(parents=True, exist_ok=True)
    a.dst.write_bytes(repeat(read(a.src), a.events, marker, a.lose_completes))
    print(f"{a.dst}: {a.dst.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
