"""Hostile inputs stay within bounds: every parser finishes with a report or one error, under 1 GB RSS.

Each case runs in a child process that builds its input lazily (an endless line is generated as it is
read, a decompression bomb is a small file) and prints its own peak RSS from ``resource``. Nothing is
timed: the subprocess timeout only keeps a regression from hanging the suite.
"""
from __future__ import annotations

import json
import lzma
import struct
import subprocess
import sys
import textwrap

import pytest
from conftest import FIXTURES

RSS_LIMIT_KB = 1 << 20  # 1 GB
PERF_LINES = (FIXTURES / "perf-block.txt").read_bytes().splitlines(keepends=True)

CHILD = textwrap.dedent(
    """
    import io, json, resource, sys
    import traceparse
    from traceparse.parsers.errors import TraceParseError

    class Endless(io.RawIOBase):
        '''head, then `size` bytes of `fill` with no newline, then tail: generated as read, never held.'''
        def __init__(self, head, size, fill, tail):
            self.parts = [head, (fill, size), tail]
        def readable(self):
            return True
        def readinto(self, buf):
            while self.parts:
                part = self.parts[0]
                if isinstance(part, tuple):
                    fill, left = part
                    n = min(len(buf), left)
                    buf[:n] = fill * n
                    self.parts[0] = (fill, left - n)
                    if left - n == 0:
                        self.parts.pop(0)
                    if n:
                        return n
                    continue
                if not part:
                    self.parts.pop(0)
                    continue
                n = min(len(buf), len(part))
                buf[:n] = part[:n]
                self.parts[0] = part[n:]
                return n
            return 0

    case = json.loads(sys.argv[1])
    if case["kind"] == "endless":
        src = io.BufferedReader(Endless(bytes.fromhex(case["head"]), case["size"], b"x", bytes.fromhex(case["tail"])), 1 << 20)
    else:
        src = case["path"]
    out = {}
    try:
        rep = getattr(traceparse, case["report"])(src)
        out["outcome"] = "report"
        src = rep.data.get("source", rep.data)  # info's data is the source itself
        events = src.get("events")
        out["events"] = sum(events.values()) if isinstance(events, dict) else events
        out["skipped"] = src.get("skipped_lines")
    except TraceParseError as exc:
        out["outcome"] = "error"
        out["message"] = str(exc)
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))
    """
)


def run_child(case: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["maxrss_kb"] < RSS_LIMIT_KB, out
    if out["outcome"] == "error":
        assert "\n" not in out["message"]
    return out


@pytest.mark.parametrize("report", ["block", "info"])
def test_a_line_without_end_is_skipped_and_reading_goes_on(report):
    head, tail = b"".join(PERF_LINES[:50]), b"\n" + b"".join(PERF_LINES[50:55])
    out = run_child({"kind": "endless", "head": head.hex(), "size": 400 << 20, "tail": tail.hex(), "report": report})
    assert out["outcome"] == "report"
    assert out["events"] == 55  # every real line before and after the 400 MB line
    assert out["skipped"] == 1  # the endless line itself, counted


def _bomb(path, pack: str, size: int, head: bytes, fill: bytes = b"x") -> None:
    """``head`` then ``size`` bytes of ``fill``, compressed as it is written: a small file."""
    import gzip

    import zstandard

    block = fill * (1 << 20)
    with open(path, "wb") as raw:
        if pack == "zstd":
            w = zstandard.ZstdCompressor(level=1).stream_writer(raw, closefd=False)
        elif pack == "gzip":
            w = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1)
        else:
            w = lzma.LZMAFile(raw, "wb", preset=0)
        w.write(head)
        for _ in range(size >> 20):
            w.write(block)
        w.close()


@pytest.mark.parametrize("pack,size", [("zstd", 1 << 30), ("gzip", 256 << 20), ("xz", 128 << 20)])
def test_a_decompression_bomb_of_one_endless_line_stays_flat(tmp_path, pack, size):
    path = tmp_path / f"bomb.{pack}"
    _bomb(path, pack, size, b"".join(PERF_LINES[:20]))
    assert path.stat().st_size < 8 << 20  # a bomb: small on disk
    out = run_child({"kind": "path", "path": str(path), "report": "block"})
    assert out["outcome"] == "report" and out["events"] == 20


def test_a_decompression_bomb_behind_a_trace_dat_header_stays_flat(tmp_path):
    """A compressed trace.dat is spooled to a temporary file (random access), never into memory."""
    dat = (FIXTURES / "tracedat" / "blk.v7zstd.dat").read_bytes()
    path = tmp_path / "bomb.dat.zst"
    _bomb(path, "zstd", 512 << 20, dat, fill=b"\0")
    run_child({"kind": "path", "path": str(path), "report": "block"})


def v6_fields(data: bytes) -> dict[str, int]:
    """Offsets of the size fields of a little-endian v6 trace.dat (trace-cmd.dat.v6(5)), walked by hand."""
    at = 10 + 2 + 1 + 1 + 4  # magic, "6\\0", endianness, long size, page size
    f = {}
    for name in (b"header_page\0", b"header_event\0"):
        assert data[at : at + len(name)] == name
        at += len(name)
        f[name[:-1].decode()] = at
        at += 8 + struct.unpack_from("<Q", data, at)[0]
    f["ftrace_count"] = at
    (n,) = struct.unpack_from("<I", data, at)
    at += 4
    for _ in range(n):
        at += 8 + struct.unpack_from("<Q", data, at)[0]
    f["systems_count"] = at
    (systems,) = struct.unpack_from("<I", data, at)
    at += 4
    for _ in range(systems):
        at = data.index(b"\0", at) + 1
        (events,) = struct.unpack_from("<I", data, at)
        at += 4
        for _ in range(events):
            at += 8 + struct.unpack_from("<Q", data, at)[0]
    f["kallsyms"] = at
    at += 4 + struct.unpack_from("<I", data, at)[0]
    f["printk"] = at
    at += 4 + struct.unpack_from("<I", data, at)[0]
    f["cpus"] = at
    f["flyrecord"] = data.index(b"flyrecord\0", at) + len(b"flyrecord\0")
    return f


V6 = lzma.decompress((FIXTURES / "tracedat" / "blk.v6.dat.xz").read_bytes())
HUGE_CLAIMS = {  # field -> (struct format, claimed value)
    "header_page": ("<Q", 1 << 40),
    "header_event": ("<Q", (1 << 64) - 1),
    "ftrace_count": ("<I", 0xFFFFFFFF),
    "systems_count": ("<I", 0x7FFFFFFF),
    "kallsyms": ("<I", 0xFFFFFFF0),
    "printk": ("<I", 0xFFFFFFF0),
    "cpus": ("<I", 0xFFFFFFFF),
    "flyrecord": ("<QQ", (len(V6) - 4096, 1 << 50)),  # CPU 0's data: a size larger than any file
}


@pytest.mark.parametrize("field", sorted(HUGE_CLAIMS))
def test_a_trace_dat_claiming_huge_sizes_is_refused_or_read_within_bounds(tmp_path, field):
    fmt, value = HUGE_CLAIMS[field]
    data = bytearray(V6)
    at = v6_fields(V6)[field]
    struct.pack_into(fmt, data, at, *(value if isinstance(value, tuple) else (value,)))
    path = tmp_path / f"huge-{field}.dat"
    path.write_bytes(data)
    for report in ("block", "info"):
        run_child({"kind": "path", "path": str(path), "report": report})
