"""Seed corpora from fixtures/: real captures cut to a few hundred lines, so each execution is cheap.

    python fuzz/seeds.py perf_text DIR      # writes DIR/seed-*; run.py does this itself
"""
from __future__ import annotations

import gzip
import lzma
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
HEAD_LINES = 200

PERF = ["perf-block.txt", "perf-block-ns.txt", "perf-block-pidtid.txt", "perf-block-g.txt.xz",
        "handmade/comm-spaces.perf.txt", "handmade/truncated.perf.txt", "net/net-udp.perf.txt",
        "net/net-retrans.perf.txt", "net/net-tcp-connect.perf.txt"]
FTRACE = ["tracefs-block.txt.xz", "tracefs-block-pipe.txt.xz", "tracefs-block-stack.txt.xz", "blk.report-l.txt.xz",
          "tracedat/blk.report-t.txt.xz", "tracedat/lost.report.txt.xz", "handmade/old-kernel-3.10.txt",
          "handmade/old-kernel-4.x.txt", "handmade/flush-and-max-sector.txt", "net/net-retrans.report.txt",
          "net/net-tcp-connect.report.txt"]

EVENTS = ["events/events.perf.txt.xz", "events/events.report.txt.xz", "events/events.tracefs.txt.xz",
          "events/func.perf.txt.xz", "events/func.report.txt.xz", "handmade/recursion.perf.txt"]


def head(name: str, lines: int = HEAD_LINES) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    if name.endswith(".xz"):
        raw = lzma.decompress(raw)
    return b"".join(raw.splitlines(keepends=True)[:lines])


def seeds(target: str) -> list[bytes]:
    """Inputs for ``target``: a report selector byte (0-3) in front of capture bytes, or edit scripts."""
    if target in ("perf_text", "ftrace_text"):
        texts = [head(n) for n in (PERF if target == "perf_text" else FTRACE)]
        return [bytes([i % 4]) + t for i, t in enumerate(texts)]
    if target == "events":  # every preset over the first lines of each form of the events captures
        texts = [head(n, 400) for n in EVENTS]
        return [bytes([i]) + t for t in texts for i in range(8)]
    if target == "compressed":
        import zstandard

        texts = [head(n, 60) for n in PERF[:3] + FTRACE[:3]]
        packs = [gzip.compress, lambda t: lzma.compress(t), lambda t: zstandard.ZstdCompressor().compress(t)]
        return [bytes([i % 4]) + pack(t) for i, t in enumerate(texts) for pack in packs]
    if target == "trace_dat":  # edit scripts (fuzz/targets.py patched_dat): each base as it is, and cut
        return [bytes([b]) + struct.pack("<I", cut) for b in range(5) for cut in (0, 4096, 70000)]
    if target == "perf_data":  # each base as it is and cut, read from a file and from a stream
        return [bytes([b | s]) + struct.pack("<I", cut) for b in range(6) for s in (0, 8) for cut in (0, 30000)]
    if target == "cli":
        return [bytes([c, f, f, *opts]) for c in range(4) for f in range(3) for opts in ([], [1, 0, 3, 8], [9, 40])]
    raise SystemExit(f"unknown target {target!r}")


def write(target: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(seeds(target)):
        (folder / f"seed-{i:03d}").write_bytes(data)


if __name__ == "__main__":
    write(sys.argv[1], Path(sys.argv[2]))
