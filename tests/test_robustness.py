"""Damaged input never escapes as anything but a one-line TraceParseError (exit 2), or a clean report."""
from __future__ import annotations

import io
import lzma
import random

import pytest
import traceparse
from conftest import FIXTURES
from traceparse.parsers.errors import TraceParseError

DATS = {
    "v7zstd": lambda: (FIXTURES / "tracedat" / "blk.v7zstd.dat").read_bytes(),
    "v6": lambda: lzma.open(FIXTURES / "tracedat" / "blk.v6.dat.xz").read(),
    "v7none": lambda: lzma.open(FIXTURES / "tracedat" / "blk.v7none.dat.xz").read(),
}


def damaged(data: bytes, rng: random.Random, how: int) -> bytes:
    b = bytearray(data)
    if how == 0:  # scattered byte flips
        for _ in range(20):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif how == 1:  # cut anywhere
        b = b[: rng.randrange(16, len(b))]
    else:  # a zeroed page
        at = rng.randrange(len(b))
        b[at : at + 4096] = bytes(len(b[at : at + 4096]))
    return bytes(b)


@pytest.mark.parametrize("name", list(DATS))
def test_damaged_trace_dat_is_read_or_refused_cleanly(name):
    data, rng = DATS[name](), random.Random(name)
    for i in range(15):
        try:
            traceparse.block(io.BytesIO(damaged(data, rng, i % 3)))
        except TraceParseError:
            pass  # one clear line for the user; anything else would be a traceback


def test_garbage_lines_inside_text_are_counted_not_fatal():
    lines = (FIXTURES / "perf-block.txt").read_bytes().splitlines(keepends=True)
    rng = random.Random(7)
    junk = [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 120))).replace(b"\n", b" ") + b"\n" for _ in range(40)]
    for j in junk:
        lines.insert(rng.randrange(len(lines)), j)
    data = traceparse.block(io.BytesIO(b"".join(lines))).data
    assert 0 < data["source"]["skipped_lines"] <= 40
    clean = traceparse.block(FIXTURES / "perf-block.txt").data
    assert data["latency"]["d2c"]["total"]["count"] == clean["latency"]["d2c"]["total"]["count"]
