"""Parsers: the frame schema on every fixture, the perf/ftrace variants, stacks, skips, compression."""
from __future__ import annotations

import gzip
import io
import lzma

import polars as pl
import pytest
import traceparse
import zstandard
from conftest import FIXTURES
from polars.testing import assert_frame_equal
from traceparse.parsers.errors import StrictError, TraceParseError
from traceparse.parsers.reader import read_capture
from traceparse.parsers.schema import schema_for

TEXT = sorted(
    p for p in FIXTURES.rglob("*")
    if p.suffix not in (".data", ".dat") and p.name.startswith(("perf-block", "blk.report", "tracefs")) or p.name.endswith((".report.txt", ".perf.txt")) or p.parent.name == "handmade"
)


def frames(src, **kw):
    source, chunks = read_capture(src, **kw)
    parts = {}
    for c in chunks:
        for k, f in c.frames.items():
            parts.setdefault(k, []).append(f)
    return source, {k: pl.concat(v) for k, v in parts.items()}


@pytest.mark.parametrize("path", TEXT, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_emits_the_frame_schema(path):
    source, fr = frames(path)
    if not fr:
        pytest.skip(f"{path.name} holds no events (a negative fixture)")
    for name, frame in fr.items():
        assert dict(frame.schema) == schema_for(name), name
        assert frame["ts_ns"].null_count() == 0 and frame["event"].null_count() == 0


def test_perf_variants_agree_on_events():
    """default, --ns and -F comm,pid,tid,... renderings of one perf.data carry the same events."""
    base = frames(FIXTURES / "perf-block.txt")[1]
    ns = frames(FIXTURES / "perf-block-ns.txt")[1]
    pidtid = frames(FIXTURES / "perf-block-pidtid.txt")[1]
    for name, f in base.items():
        us = ns[name]["ts_ns"] // 1000 * 1000
        assert (us == f["ts_ns"]).all(), "--ns must scale to the same microseconds"
        assert (ns[name]["ts_ns"] % 1000 != 0).any(), "--ns keeps its nanoseconds"
        cols = ["pid", "cpu", "comm", "dev", "sector", "nr_sector", "rwbs"]
        assert_frame_equal(pidtid[name].select(cols), f.select(cols))
        assert pidtid[name]["tgid"].null_count() == 0 and f["tgid"].null_count() == f.height


def test_call_chains_are_interned():
    cap = traceparse.open(FIXTURES / "perf-block-g.txt.xz")
    fr = cap.frames()
    issue = fr["block:block_rq_issue"]
    assert issue["stack_id"].null_count() == 0
    stack = cap.stacks[issue["stack_id"][0]]
    assert len(stack) > 1 and any("blk_mq" in f or "block" in f for f in stack)
    # interning: far fewer distinct stacks than events
    assert len(cap.stacks) < sum(f.height for f in fr.values())


def test_call_chain_symbols_read_like_the_text_and_can_be_left_out():
    """Each event's chain, frame by frame, as the text has it (symbol and dso after the address: an
    independent split of the raw lines); with stacks=False (what `block` reads) the same events come
    without chains, and no frame line is taken for garbage."""
    text = lzma.open(FIXTURES / "perf-block-g.txt.xz", "rt").read()
    chains, current = [], None
    for line in text.splitlines():
        if line.startswith("\t"):
            current.append(line.strip().split(" ", 1)[1])
        elif line.strip():
            current = []
            chains.append(current)
    source, chunks = read_capture(FIXTURES / "perf-block-g.txt.xz")
    events = pl.concat([f for c in chunks for f in c.frames.values()]).sort("ts_ns", maintain_order=True)
    got = [source.stacks.frames[i] for i in events["stack_id"]]
    assert got == [tuple(c) for c in chains] and source.skipped.count == 0

    lean, chunks = read_capture(FIXTURES / "perf-block-g.txt.xz", stacks=False)
    bare = pl.concat([f for c in chunks for f in c.frames.values()]).sort("ts_ns", maintain_order=True)
    assert bare["stack_id"].null_count() == bare.height and not lean.stacks.frames and lean.skipped.count == 0
    assert_frame_equal(bare.drop("stack_id"), events.drop("stack_id"))


PERF_LINES = b"""\
    Web Content  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 0x2,0,4 [Web Content]
kworker/u8:2 H 77/78 [000] 2406.385100123: 1 block:block_rq_issue: 8,0 R 512 () 99 + 1 [kworker/u8:2 H]
DOM\tWorker 12 [003] 2406.385200: block:block_rq_complete: 254,0 WS () 2048 + 8 [0]
"""


def test_perf_comm_with_spaces_tabs_and_period_column():
    _, fr = frames(io.BytesIO(PERF_LINES))
    issue = fr["block:block_rq_issue"]
    assert issue["comm"].cast(pl.String).to_list() == ["Web Content", "kworker/u8:2 H"]
    assert issue["pid"].to_list() == [4116, 78] and issue["tgid"].to_list() == [None, 77]
    assert issue["rq_comm"].to_list() == ["Web Content", "kworker/u8:2 H"]
    assert issue["ts_ns"].to_list() == [2406385071000, 2406385100123]
    assert fr["block:block_rq_complete"]["comm"].cast(pl.String).to_list() == ["DOM\tWorker"]


FTRACE_LINES = b"""\
# tracer: nop
#
cpus=2
          dd-4116  [001]  2406.385071: block_rq_issue:       254,0 WS 4096 () 2048 + 8 be,0,4 [dd]
 kworker/u8:2-ev-77   (   77) [000] d..1. 2406.385324100: block_rq_insert: 8,0 W 4096 () 88 + 8 [kworker/u8:2-ev]
          dd-4116  [001] ..... 2406.385080: <stack trace>
 => blk_mq_start_request
 => blk_mq_dispatch_rq_list
CPU:1 [LOST 1204 EVENTS]
      <idle>-0     [000] d.h2. 2406.385400: block_rq_complete: 8,0 FF () 18446744073709551615 + 0 [0]
"""


def test_ftrace_shapes_lost_and_stacks():
    source, fr = frames(io.BytesIO(FTRACE_LINES))
    assert source.format == "ftrace-text"
    assert source.lost_events == 1204 and dict(source.lost_by_cpu) == {1: 1204}
    ins = fr["block:block_rq_insert"]
    assert ins["comm"].cast(pl.String).to_list() == ["kworker/u8:2-ev"] and ins["pid"].to_list() == [77]
    assert ins["tgid"].to_list() == [77] and ins["ts_ns"].to_list() == [2406385324100]
    issue = fr["block:block_rq_issue"]
    assert source.stacks.frames[issue["stack_id"][0]] == ("blk_mq_start_request", "blk_mq_dispatch_rq_list")
    assert issue["ioprio"].to_list() == ["be,0,4"]
    done = fr["block:block_rq_complete"]
    assert done["sector"].to_list() == [18446744073709551615] and done["nr_sector"].to_list() == [0]
    assert done["bytes"].to_list() == [None] and done["error"].to_list() == [0]
    assert source.skipped.count == 0


def test_skipped_and_truncated_lines_are_counted_with_their_line_number():
    text = PERF_LINES + b"this is not a perf line\n" + PERF_LINES + b"     dd  4116 [001]  2406.4: block:block_rq_issue: 254,0 W"
    source, fr = frames(io.BytesIO(text))
    assert source.skipped.count == 2
    assert source.skipped.first_line == 4
    assert fr["block:block_rq_issue"].height == 4
    with pytest.raises(StrictError, match="line 4"):
        frames(io.BytesIO(text), strict=True)


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, zstandard.ZstdCompressor().compress], ids=["gz", "xz", "zst"])
def test_compressed_input_reads_like_plain(tmp_path, compress):
    plain = (FIXTURES / "perf-block.txt").read_bytes()
    path = tmp_path / "capture.bin"  # the name says nothing: content decides
    path.write_bytes(compress(plain))
    source, fr = frames(path)
    _, want = frames(FIXTURES / "perf-block.txt")
    assert source.compression is not None
    for k in want:
        assert_frame_equal(fr[k], want[k])


@pytest.mark.parametrize("chunk_bytes", [1000, 65536])
def test_chunking_does_not_change_frames(chunk_bytes):
    """Chunk boundaries fall inside call chains and between events: the frames must not notice."""
    import io
    import lzma

    text = lzma.decompress((FIXTURES / "perf-block-g.txt.xz").read_bytes())
    text = text[: text.index(b"\n\n", 400_000) + 2]  # ~2,000 events with their chains: 400 chunks of 1000 bytes
    s1, whole = frames(io.BytesIO(text))
    s2, chunked = frames(io.BytesIO(text), chunk_bytes=chunk_bytes)
    for k in whole:
        assert_frame_equal(chunked[k].drop("stack_id"), whole[k].drop("stack_id"))
        got = [s2.stacks.frames[i] for i in chunked[k]["stack_id"]]
        want = [s1.stacks.frames[i] for i in whole[k]["stack_id"]]
        assert got == want


def test_progress_reports_bytes_read_of_the_file():
    seen = []
    path = FIXTURES / "perf-block.txt"
    source, chunks = read_capture(path, chunk_bytes=65536, progress=lambda done, total: seen.append((done, total)))
    list(chunks)
    assert len(seen) > 3
    assert all(total == path.stat().st_size for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == path.stat().st_size


def _sample(rel):
    from conftest import SAMPLES

    path = SAMPLES / rel
    if not path.exists():
        pytest.skip(f"shared sample {rel} not present")
    return path


def test_public_trace_cmd_report_text_counts_match_its_oracle():
    """lisa's trace.txt; the counts are those SOURCES.md gives (counted with grep)."""
    source, fr = frames(_sample("lisa/trace.txt"))
    assert {k: f.height for k, f in fr.items()} == {
        "sched:sched_switch": 1856, "sched:sched_wakeup": 1068, "ftrace:print": 14, "sched:sched_overutilized": 3,
    }
    assert source.skipped.count == 0


def test_ftrace_embedded_in_prose_keeps_events_and_their_stacks():
    """perf-tools' tpoint example: 16 issues, 2 inserts, 5 stack traces, the prose counted as skipped."""
    source, fr = frames(_sample("perf-tools/tpoint_example.txt"))
    assert fr["block:block_rq_issue"].height == 16 and fr["block:block_rq_insert"].height == 2
    with_stack = sum(f["stack_id"].is_not_null().sum() for f in fr.values())
    assert with_stack == 5
    assert source.skipped.count > 0 and source.skipped.first_line == 1


def test_read_ahead_hands_over_chunks_in_order_and_errors_as_raised():
    from traceparse.parsers.reader import _read_ahead

    def chunks():
        yield from range(5)
        raise TraceParseError("bad byte at 42")

    got = []
    with pytest.raises(TraceParseError, match="bad byte at 42"):
        for c in _read_ahead(chunks()):
            got.append(c)
    assert got == [0, 1, 2, 3, 4]


def test_read_ahead_stops_the_parser_when_the_report_stops_early():
    import threading

    from traceparse.parsers.reader import _read_ahead

    closed = threading.Event()

    def chunks():
        try:
            yield from range(1000)
        finally:
            closed.set()

    it = _read_ahead(chunks())
    assert next(it) == 0
    it.close()  # e.g. the report raised on its first chunk
    assert closed.is_set() and not any(t.name == "traceparse-read" for t in threading.enumerate())
