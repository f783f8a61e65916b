"""The native text scanner (parsers/native/src/text.rs) against tiny references written here.

Each reference reads the fixture with Python's re, line by line, the way the docstrings of
parsers/perf_script.py and parsers/ftrace_text.py describe the lines; the scanner must agree.
"""
from __future__ import annotations

import io
import lzma
import re
from pathlib import Path

import polars as pl
import pytest

from traceparse.parsers import _native
from traceparse.parsers.reader import read_capture

FIX = Path(__file__).resolve().parent.parent / "fixtures"
PERF_LINE = re.compile(rb"^(.*?)\s+(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\S+):\s(.*)$")


def _frames(data: bytes, **kw) -> tuple[object, dict[str, pl.DataFrame]]:
    source, chunks = read_capture(io.BytesIO(data), **kw)
    parts: dict[str, list[pl.DataFrame]] = {}
    for c in chunks:
        for name, f in c.frames.items():
            parts.setdefault(name, []).append(f)
    return source, {k: pl.concat(v) for k, v in parts.items()}


def test_event_lines_match_a_regex_reference():
    data = (FIX / "perf-block.txt").read_bytes()
    ref = [m for m in map(PERF_LINE.match, data.splitlines()) if m]
    _, fr = _frames(data)
    got = pl.concat([f.select("ts_ns", "cpu", "pid", "comm", "event") for f in fr.values()]).sort("ts_ns", "pid", maintain_order=True)
    want = pl.DataFrame(
        {
            "ts_ns": [int(m[4]) * 10**9 + int(m[5].ljust(9, b"0")) for m in ref],
            "cpu": [int(m[3]) for m in ref],
            "pid": [int(m[2]) for m in ref],
            "comm": [m[1].strip().decode() for m in ref],
            "event": [m[6].decode() for m in ref],
        }
    ).sort("ts_ns", "pid", maintain_order=True)
    assert got.height == len(ref) > 5000
    assert got.with_columns(pl.col("comm", "event").cast(pl.String)).to_dicts() == want.with_columns(pl.col("cpu").cast(pl.Int16), pl.col("pid").cast(pl.Int32)).to_dicts()


def test_block_columns_match_the_payload_text():
    data = (FIX / "perf-block.txt").read_bytes()
    _, fr = _frames(data)
    issue = fr["block:block_rq_issue"]
    ref = re.compile(r"^(\d+),(\d+) (\S+) (\d+) \(\) (\d+) \+ (\d+) (\S+,\d+,\d+) \[(.*)\]$")
    rows = [ref.match(p) for p in issue["payload"].to_list()]
    assert all(rows)
    assert issue["sector"].to_list() == [int(m[5]) for m in rows]
    assert issue["bytes"].to_list() == [int(m[4]) for m in rows]
    assert issue["dev"].to_list() == [f"{m[1]},{m[2]}" for m in rows]
    assert issue["ioprio"].to_list() == [m[7] for m in rows]
    assert issue["rq_comm"].to_list() == [m[8] for m in rows]
    assert issue["error"].null_count() == issue.height


def test_payload_false_leaves_only_block_payload_text_out():
    data = (FIX / "perf-block.txt").read_bytes()
    _, full = _frames(data)
    _, lean = _frames(data, payload=False, stacks=False)
    for name, f in full.items():
        assert lean[name]["payload"].null_count() == lean[name].height
        assert lean[name].drop("payload").equals(f.drop("payload"))


def _g_text(n_bytes: int = 600_000) -> bytes:
    text = lzma.open(FIX / "perf-block-g.txt.xz").read()
    return text[: text.index(b"\n\n", n_bytes) + 2]


def test_call_chains_are_interned_once_across_chunks():
    text = _g_text()
    chains, cur = [], None
    for line in text.split(b"\n"):
        if PERF_LINE.match(line):
            cur = []
            chains.append(cur)
        elif line.startswith(b"\t") and cur is not None:
            cur.append(re.sub(r"^[0-9a-fA-F]+\s+", "", line.decode().strip()))
    want = {tuple(c) for c in chains if c}
    for chunk_bytes in (1 << 20, 7000):
        source, fr = _frames(text, chunk_bytes=chunk_bytes)
        assert set(source.stacks.frames) == want
        assert len(source.stacks.frames) == len(want)
        ids = pl.concat([f.select("ts_ns", "stack_id") for f in fr.values()]).sort("ts_ns")["stack_id"]
        assert [source.stacks.frames[i] for i in ids.to_list()] == [tuple(c) for c in chains]


def test_stacks_false_recognises_frames_without_interning():
    source, fr = _frames(_g_text(200_000), stacks=False)
    assert source.skipped.count == 0 and source.stacks.frames == []
    assert all(f["stack_id"].null_count() == f.height for f in fr.values())


@pytest.mark.parametrize("at", [0, 5000, 6000])
def test_a_cut_line_is_one_skip_wherever_the_chunk_ends(at):
    good = (FIX / "perf-block.txt").read_bytes()[:20_000]
    good = good[: good.rindex(b"\n") + 1]
    cut = good.index(b"\n", at) + 1
    data = good[:cut] + b"x" * ((1 << 20) + 10) + b"\n" + good[cut:]
    no = good[:cut].count(b"\n") + 1
    for chunk_bytes in (4096, 1 << 22):
        source, _ = _frames(data, chunk_bytes=chunk_bytes)
        assert (source.skipped.count, source.skipped.first_line) == (1, no)


def test_sniffing_counts_each_dialects_event_lines():
    perf = (FIX / "perf-block.txt").read_bytes()[:50_000]
    ftrace = lzma.open(FIX / "tracefs-block.txt.xz").read()[:50_000]
    n_perf = sum(1 for l in perf.split(b"\n") if PERF_LINE.match(l))
    assert _native.count_heads(perf, "perf-script") == n_perf
    assert _native.count_heads(perf, "ftrace-text") == 0
    n_ftrace = sum(1 for l in ftrace.split(b"\n") if re.match(rb"^.*-\d+\s+.*\[\d+\].*\s\d+\.\d+: \w+:", l))
    assert _native.count_heads(ftrace, "ftrace-text") == n_ftrace > 100
