"""The block lane (text inputs hand block requests to the block report as pairing columns) against
the frames path it stands in for: the same report, number for number, however the text is chunked."""
from __future__ import annotations

import io
import lzma
from pathlib import Path

import pytest

import traceparse
from traceparse.api import Capture

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "fixtures/perf-block.txt",
    "fixtures/perf-block-pidtid.txt",
    "fixtures/tracefs-block.txt.xz",
    "fixtures/blk.report-t.txt.xz",
    "fixtures/handmade/flush-and-max-sector.txt",
    "fixtures/handmade/comm-spaces.perf.txt",
    "fixtures/handmade/old-kernel-3.10.txt",
    "fixtures/handmade/truncated.perf.txt",
    "fixtures/perf-block-g.txt.xz",  # call chains: chunks that open with the frames of the one before's last event
    "fixtures/tracefs-block-stack.txt.xz",  # ftrace's stack markers and their frames
]


def _report(path: str, lean: bool, chunk_bytes: int | None = None, **opts) -> dict:
    # lean=False reads frames: the block report then builds its pairing columns from them
    cap = Capture(str(ROOT / path), chunk_bytes=chunk_bytes, lean=lean)
    return traceparse.block(cap, **opts).data


@pytest.mark.parametrize("path", TEXTS)
def test_the_lane_gives_the_report_the_frames_give(path):
    frames = _report(path, lean=False)
    assert _report(path, lean=True) == frames
    # small chunks: requests open across chunk borders, strings first seen in later chunks
    assert _report(path, lean=True, chunk_bytes=4096) == frames


def test_filters_read_the_unpaired_of_the_lane_as_of_frames():
    opts = dict(comm="dd", op="W", since_s=0.001)
    assert _report(TEXTS[0], lean=True, chunk_bytes=8192, **opts) == _report(TEXTS[0], lean=False, **opts)


def test_a_chunk_without_block_events_before_the_first_block_event():
    # found by fuzz/targets.py: the first chunk held none, and the report took the frames' codes
    # before the lane's came
    issue = b"  dd  7 [000]  1.000001: block:block_rq_issue: 8,0 W 4096 () 16 + 8 [dd]\n"
    done = b"  swapper/0  0 [000]  1.000101: block:block_rq_complete: 8,0 W () 16 + 8 [0]\n"
    noise = b"  dd  7 [000]  0.500000: sched:sched_wakeup: comm=dd pid=7 prio=120 target_cpu=000\n" * 200
    cap = Capture(io.BytesIO(noise + issue + done), chunk_bytes=4096, lean=True)
    d = traceparse.block(cap, unit="us").data
    d2c = d["latency"]["d2c"]["total"]
    assert (d2c["count"], d2c["max_ns"]) == (1, 100_000)  # 1.000101 - 1.000001 s


def _through_the_hook(path: str, chunk_bytes: int) -> tuple[dict, int]:
    # with the exporter's hook the finished requests wait in batches and are read as frames
    # (BlockAnalysis.flush); without it the pairing records them as it finds them
    from traceparse.reports.block import BlockAnalysis, BlockOptions

    cap = Capture(str(ROOT / path), chunk_bytes=chunk_bytes, lean=True)
    a, seen = BlockAnalysis(BlockOptions()), []
    a.on_requests = seen.append
    for chunk in cap.chunks():
        a.feed(chunk, cap.source)
    return a.finish(cap.source).data, sum(f.height for f in seen)


@pytest.mark.parametrize("path", ["fixtures/blk.report-t.txt.xz", "fixtures/tracedat/blk.v7zstd.dat", "fixtures/perf-block.perf.data"])
def test_finished_requests_recorded_in_batches_as_chunk_by_chunk(path, monkeypatch):
    # heat maps' widths and slowest cells, the slow listing and the distributions must not see
    # whether requests were recorded chunk by chunk by the pairing, or in batches of chunks
    from traceparse.reports import block

    direct = _report(path, lean=True, chunk_bytes=4096)
    batched, hooked = _through_the_hook(path, 4096)
    assert batched == direct
    monkeypatch.setattr(block, "BATCH_ROWS", 1)  # each chunk a batch of its own
    assert _through_the_hook(path, 4096) == (batched, hooked)
    assert direct["latency"]["d2c"]["total"]["count"] >= 30 and hooked >= direct["latency"]["d2c"]["total"]["count"]


def _skips(path, lean: bool, chunk_bytes: int) -> tuple:
    cap = Capture(path, chunk_bytes=chunk_bytes, lean=lean)
    traceparse.block(cap)
    sk = cap.source.skipped
    return sk.count, sk.first_line, sk.first_text


def test_skipped_lines_are_numbered_from_the_file_start_when_chunks_are_scanned_apart(tmp_path):
    # the lane's chunks are scanned two at once, each numbering its lines from 1 (text_alone.py)
    lines = (ROOT / TEXTS[0]).read_text().splitlines(keepends=True)
    path = tmp_path / "bad.txt"
    path.write_text("".join(lines[:3000] + ["this is no perf line\n"] + lines[3000:]))
    assert _skips(path, lean=True, chunk_bytes=4096) == _skips(path, lean=False, chunk_bytes=4096)
    assert _skips(path, lean=True, chunk_bytes=4096)[:2] == (1, 3001)


def test_frames_before_any_event_line_are_skipped_as_the_frames_path_skips_them(tmp_path):
    # a capture cut inside a call chain opens with frames no event owns: skipped lines, though
    # they fill more than one chunk (the chunks after an event line count their first frames as its)
    orphans = "\tffffffff8150c1d0 blk_mq_start_request+0x0 ([kernel.kallsyms])\n" * 300
    path = tmp_path / "orphans.txt"
    path.write_text(orphans + (ROOT / TEXTS[0]).read_text())
    lean = _skips(path, lean=True, chunk_bytes=4096)
    assert lean == _skips(path, lean=False, chunk_bytes=4096)
    assert lean[0] == 300 and lean[1] == 1
    assert _report(str(path), lean=True, chunk_bytes=4096) == _report(str(path), lean=False)


def test_frames_after_a_stack_marker_before_any_event_line_stay_its_own_across_chunks(tmp_path):
    # ftrace's "<stack trace>" marker owns the frames after it, event line or not (its CPU had
    # no event yet: they are dropped, not skipped); chunks scanned apart must know it too
    lines = lzma.open(ROOT / "fixtures/tracefs-block-stack.txt.xz", "rt").read().splitlines(keepends=True)
    marker = next(i for i, l in enumerate(lines) if l.rstrip().endswith("<stack trace>"))
    frames = " => trace_event_raw_event_block_rq\n" * 300
    path = tmp_path / "marker-first.txt"
    path.write_text("".join(lines[: marker - 1]) + lines[marker] + frames + "".join(lines[marker + 1 :]))
    lean = _skips(path, lean=True, chunk_bytes=4096)
    assert lean == _skips(path, lean=False, chunk_bytes=4096) == _skips(path, lean=True, chunk_bytes=None)
    assert lean[0] == 0


# --- trace.dat: the native page walk gathers the lane (parsers/dat_lane.py) ------------------------

SAMPLES = ROOT.parent / "shared" / "samples"
DATS = [
    "fixtures/blk.dat",
    "fixtures/tracedat/blk.v7zstd.dat",
    "fixtures/tracedat/blk.v6.dat.xz",
    "fixtures/tracedat/blk.v7none.dat.xz",
    "fixtures/tracedat/blknet.v7zstd.dat",
    "fixtures/tracedat/lost.v7zstd.dat",
    "fixtures/tracedat/cpu1.v7zstd.dat",
    "fixtures/tracedat/subbuf16.v7zstd.dat",
]


def _both(src, **opts) -> tuple[dict, dict]:
    """(the lane's report, the frames', the lane's in small chunks) of one trace.dat, by path or bytes."""
    def one(lean: bool, chunk_bytes=None):
        s = io.BytesIO(src) if isinstance(src, bytes) else str(src)
        try:
            return traceparse.block(Capture(s, chunk_bytes=chunk_bytes, lean=lean), **opts).data
        except traceparse.TraceParseError as exc:  # a capture both refuse: by the same words
            return {"error": str(exc)}
    return one(True), one(False), one(True, 16384)


@pytest.mark.parametrize("path", DATS)
def test_trace_dat_lane_gives_the_report_the_frames_give(path):
    lane, frames, small = _both(ROOT / path)
    assert lane == frames
    assert small == frames  # requests open across chunk borders, strings first seen in later chunks


def test_trace_dat_lane_on_the_shared_samples_32bit_arm_too():
    paths = sorted(SAMPLES.rglob("*.dat"))
    if not paths:
        pytest.skip("shared samples absent")
    for path in paths:  # arm32: a 32-bit kernel's records (4-byte longs); lisa: no block events at all
        lane, frames, _ = _both(path)
        assert lane == frames, path


def test_trace_dat_lane_with_filters_reads_the_unpaired_as_the_frames():
    opts = dict(comm="dd", op="W", since_s=0.001)
    lane, frames, small = _both(ROOT / DATS[1], **opts)
    assert lane == frames == small


def _data_span(raw: bytes) -> tuple[int, int]:
    """Where a whole file's CPU data lies (its BUFFER options or v6 CPU table)."""
    from traceparse.parsers.source import Source
    from traceparse.parsers.trace_dat import _Bytes, _read_header

    cpus = [c for b in _read_header(_Bytes(raw), Source(path="whole")).buffers for c in b.cpus]
    return min(c.offset for c in cpus), max(c.offset + c.size for c in cpus)


@pytest.mark.parametrize("name", ["blk.v7zstd.dat", "blk.v6.dat.xz", "blk.v7none.dat.xz", "blknet.v7none.dat.xz"])
@pytest.mark.parametrize("where", [0.35, 0.8])
def test_trace_dat_lane_of_a_cut_or_damaged_file_is_the_frames_report(name, where):
    import lzma

    path = ROOT / "fixtures/tracedat" / name
    raw = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
    lo, hi = _data_span(raw)
    at = int(lo + (hi - lo) * where)
    lane, frames, small = _both(raw[:at])  # cut inside the event data
    assert lane == frames == small and lane["source"]["skipped_lines"] >= 1
    # garbage written over part of the ring buffer: records of odd ids and lengths, damaged pages
    damaged = raw[:at] + bytes((i * 151 + 7) & 0xFF for i in range(3000)) + raw[at + 3000 :]
    lane, frames, small = _both(damaged)
    assert lane == frames == small and "latency" in lane
