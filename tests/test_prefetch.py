"""Reading a capture ahead while the reports are imported (parsers/prefetch.py; a perf.data's
batches by perf_decode.rs, or its records by perf_ahead.rs; a text's chunks by text_ahead.rs).

The CLI's ``block`` starts it; the report must then read exactly what it would have read itself,
and a run that ends any other way must leave no scanner (and no reading thread) behind.
"""
from __future__ import annotations

import io
import lzma
import os
import shutil

import pytest
from conftest import FIXTURES, SAMPLES

import traceparse
from traceparse import cli
from traceparse.parsers import prefetch
from traceparse.parsers.perf_lane import CHUNK_BYTES, ahead_key

PERF_DATA = FIXTURES / "perf-block.perf.data"
BLOCK = ahead_key(CHUNK_BYTES)  # what a perf.data the block report reads is started as


@pytest.fixture(autouse=True)
def _nothing_left():
    prefetch.discard()
    yield
    assert not prefetch._started, "a scanner was left reading"


@pytest.fixture
def takes(monkeypatch):
    """What each ``prefetch.take`` handed the report (None where it opened the file itself)."""
    got: list = []
    real = prefetch.take

    def take(path, *what):
        got.append(real(path, *what))
        return got[-1]

    monkeypatch.setattr(prefetch, "take", take)
    return got


def test_the_cli_reads_a_perf_data_ahead_and_reports_what_reading_it_in_place_reports(tmp_path, takes):
    out = tmp_path / "block.json"
    with pytest.raises(SystemExit) as done:
        cli.main(["block", str(PERF_DATA), "--format", "json", "-o", str(out), "--top", "0"])
    assert done.value.code in (0, None)
    assert len(takes) == 1 and takes[0] is not None, "the report opened the file again"
    in_place = traceparse.render_report(traceparse.block(str(PERF_DATA), top=0), "json")
    assert takes[0].decoding(), "its batches were not made ahead"
    with pytest.raises(ValueError, match="settings are fixed"):
        takes[0].set_stacks(True)  # (made with none: the block report reads no call chains)
    assert out.read_text() == in_place


def test_only_a_perf_data_in_file_mode_on_disk_is_read_ahead(tmp_path):
    pipe = tmp_path / "pipe.perf.data"
    pipe.write_bytes(lzma.decompress((FIXTURES / "perfdata" / "pipe-block.perf.data.xz").read_bytes()))
    garbage = tmp_path / "garbage.perf.data"
    garbage.write_bytes(PERF_DATA.read_bytes()[:104])  # the header's start and nothing after: not openable
    for path in (pipe, garbage, tmp_path, tmp_path / "missing.perf.data", "-"):
        prefetch.start(str(path))
        assert not prefetch._started, path
    prefetch.start(str(PERF_DATA))
    assert len(prefetch._started) == 1
    prefetch.discard()


def test_a_file_changed_since_the_start_is_opened_again(tmp_path, takes):
    copy = tmp_path / "copy.perf.data"
    shutil.copy(PERF_DATA, copy)
    prefetch.start(str(copy))
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert prefetch.take(str(copy), BLOCK) is None
    prefetch.discard()
    prefetch.start(str(copy))
    assert prefetch.take(str(copy)) is None  # started for the block report's lane, not to read records
    assert prefetch.take(str(copy), ahead_key(1 << 20)) is None  # nor for batches of another size
    assert prefetch.take(str(tmp_path / ".." / tmp_path.name / "copy.perf.data"), BLOCK) is not None  # the same file, spelled otherwise


def test_a_lane_that_cannot_be_set_falls_back_to_reading_the_records_with_a_fresh_scanner(monkeypatch):
    """The lane set and then a failure: the scanner handed out to read the records ahead is not
    that one (a report without the lane would get the lane's batches, and no call chains)."""
    from traceparse.parsers import perf_lane

    real = perf_lane.LaneSetup.apply

    def apply_then_fail(self, scanner):
        real(self, scanner)
        raise ValueError("after the lane was set")
    monkeypatch.setattr(perf_lane.LaneSetup, "apply", apply_then_fail)
    prefetch.start(str(PERF_DATA))
    ((what, scanner),) = prefetch._started.values()
    assert what == "perf-data" and not scanner.decoding()
    lanes = 0
    while True:
        b = scanner.next_batch(1 << 14, 1 << 22)
        if not b["ts"] and b["lane"] is None:
            break
        lanes += b["lane"] is not None
    assert lanes == 0, "the scanner with the lane set was handed out"
    prefetch.discard()


def test_a_run_that_stops_before_reading_leaves_no_scanner(monkeypatch, capsys):
    held = []
    real = prefetch.discard
    monkeypatch.setattr(prefetch, "discard", lambda: (held.append(len(prefetch._started)), real()))
    with pytest.raises(SystemExit) as done:
        cli.main(["block", str(PERF_DATA), "--since", "2", "--until", "1"])
    assert done.value.code == 2
    assert "--since 2 must be before --until 1" in capsys.readouterr().err
    assert held == [1]  # it was reading when the option was refused, and was dropped


def test_a_scanner_over_a_python_file_object_reads_in_place():
    """Its reads take the GIL: a thread reading ahead would wait for it while the scanner's drop waits for the thread."""
    from traceparse.parsers._native import PerfScanner

    with open(PERF_DATA, "rb") as f:
        assert PerfScanner(f, False).read_ahead() is False
    assert PerfScanner.open_path(str(PERF_DATA), False).read_ahead() is True


def _perf_datas(tmp_path) -> list:
    """Every perf.data of the fixtures (unpacked) and the shared samples, and two damaged ones."""
    out = [PERF_DATA]
    for packed in sorted([*(FIXTURES / "perfdata").rglob("*.perf.data.xz"), FIXTURES / "events" / "events.perf.data.xz"]):
        out.append(tmp_path / packed.name[: -len(".xz")])
        out[-1].write_bytes(lzma.decompress(packed.read_bytes()))
    out += sorted(p for p in (*SAMPLES.glob("linuxtracepoints/*.data"), *SAMPLES.glob("simpleperf/*.data")) if p.is_file())
    data = PERF_DATA.read_bytes()
    cut, damaged = tmp_path / "cut.perf.data", tmp_path / "damaged.perf.data"
    cut.write_bytes(data[: len(data) // 2])  # inside its data section: read up to the cut, said so
    damaged.write_bytes(data[:300_000] + bytes(64) + data[300_064:])  # records overwritten: skipped and counted
    # the block events' format files damaged: a field declared without type or name
    formats = tmp_path / "formats.perf.data"
    formats.write_bytes(data.replace(b"field:sector_t sector;", b"field:__data_loc;     "))
    return [*out, cut, damaged, formats]


def test_every_perf_data_read_ahead_reports_what_reading_it_in_place_reports(tmp_path, takes, monkeypatch, capsys):
    """Whichever way the CLI read it ahead (its batches made, its records read, or neither), the
    report, its one-line errors and the exit status are the same as with no reading ahead; damaged
    format files, read before the imports, fail neither the reading ahead nor the run."""
    def run(path) -> tuple:
        out = tmp_path / "out.json"
        out.unlink(missing_ok=True)
        with pytest.raises(SystemExit) as done:
            cli.main(["block", str(path), "--format", "json", "-o", str(out), "--top", "0"])
        return done.value.code or 0, capsys.readouterr().err, out.read_text() if out.exists() else None

    ways = set()
    for path in _perf_datas(tmp_path):
        takes.clear()
        ahead = run(path)
        started = next((t for t in takes if t is not None), None)
        ways.add("decoded" if started is not None and started.decoding() else "records" if started is not None else "in place")
        with monkeypatch.context() as m:
            m.setattr(prefetch, "start", lambda _path: None)
            assert run(path) == ahead, path.name
        assert "Traceback" not in ahead[1], path.name
    assert ways == {"decoded", "records", "in place"}  # (each way was met)


TEXT = FIXTURES / "perf-block.txt"


def test_the_cli_reads_a_text_capture_ahead_and_reports_what_reading_it_from_a_stream_reports(tmp_path, takes):
    out = tmp_path / "block.json"
    with pytest.raises(SystemExit) as done:
        cli.main(["block", str(TEXT), "--format", "json", "-o", str(out), "--top", "0"])
    assert done.value.code in (0, None)
    assert len(takes) == 1 and type(takes[0]).__name__ == "TextAhead", "the text was not read ahead"
    with open(TEXT, "rb") as f:  # a file object: read by Python, chunk by chunk
        streamed = traceparse.render_report(traceparse.block(io.BytesIO(f.read()), top=0), "json")
    assert out.read_text() == streamed.replace("<stream>", str(TEXT))


def test_only_plain_text_on_disk_is_read_ahead_and_only_for_the_scanners_asked_for(tmp_path):
    packed = FIXTURES / "tracefs-block.txt.xz"  # compressed: sniffed as no text, read by Python
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)) * 64)
    for path in (packed, binary, FIXTURES / "blk.dat"):
        prefetch.start(str(path))
        assert not prefetch._started, path
    prefetch.start(str(TEXT))
    ((what, _),) = prefetch._started.values()
    assert what[0] == "text" and what[1][0] == "perf-script"
    assert prefetch.take(str(TEXT)) is None  # asked for a perf.data's reading: not this one
    assert prefetch.take(str(TEXT), ("text", ("ftrace-text", *what[1][1:]))) is None
    assert prefetch.take(str(TEXT), what) is not None
    prefetch.start(str(TEXT))
    copy = tmp_path / "copy.txt"
    shutil.copy(TEXT, copy)
    prefetch.start(str(copy))
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert prefetch.take(str(copy), what) is None  # changed since it was started
    assert len(prefetch._started) == 2
    prefetch.discard()  # closes both: their threads end
