"""A text file read by the native core (text_ahead.rs: its reads, its chunks, two scanners in
threads of their own) reports what the same text read by Python (text.reads and two TextScanners)
reports: every text fixture, and a capture of several chunks with damage in it.

The block report reads a plain text file on disk natively; a stream (a pipe, a decompressed file,
a file object) is read by Python. The two must not drift apart: the JSON of both is compared whole.
"""
from __future__ import annotations

import io
import lzma
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, SAMPLES

import traceparse
from traceparse.parsers import text as text_engine
from traceparse.parsers.text_dialect import MAX_LINE_BYTES


def _texts() -> list:
    plain = sorted(FIXTURES.glob("*.txt")) + sorted((FIXTURES / "handmade").glob("*.txt"))
    plain += sorted((FIXTURES / "damaged" / "perf_text").glob("*.txt"))
    packed = sorted(FIXTURES.glob("*.txt.xz"))
    shared = sorted(SAMPLES.glob("**/*.txt")) if SAMPLES.is_dir() else []
    return plain + packed + shared


def _json(src, **options) -> str:
    return traceparse.render_report(traceparse.block(src, **options), "json")


def _both(path, monkeypatch, **options) -> tuple[str, str]:
    """(the report of the file on disk, the report of its bytes as a stream), the native reading
    checked to be the one the first took."""
    taken = []
    real = text_engine._file_ahead
    monkeypatch.setattr(text_engine, "_file_ahead", lambda *a: taken.append(real(*a)) or taken[-1])
    on_disk = _json(str(path), **options)
    streamed = _json(io.BytesIO(path.read_bytes()), **options).replace("<stream>", str(path))
    if taken:  # (a text the block report reads at all: a file with no block events fails before)
        assert taken[0] is not None, "the file on disk was not read natively"
    return on_disk, streamed


@pytest.mark.parametrize("path", _texts(), ids=lambda p: p.name)
def test_every_text_fixture_reports_the_same_read_natively_or_by_python(path, tmp_path, monkeypatch):
    if path.suffix == ".xz":
        plain = tmp_path / path.stem
        plain.write_bytes(lzma.decompress(path.read_bytes()))
        path = plain
    try:
        on_disk, streamed = _both(path, monkeypatch, top=0)
    except traceparse.TraceParseError as exc:  # a capture without block events: the same error both ways
        with pytest.raises(traceparse.TraceParseError) as again:
            _json(io.BytesIO(path.read_bytes()), top=0)
        assert str(again.value).replace("<stream>", str(path)) == str(exc)
        return
    assert on_disk == streamed


@pytest.fixture(scope="module")
def damaged_big(tmp_path_factory):
    """~20 MB of perf text (5 native chunks) with, in its middle, a line over the bound, a line of
    garbage and a frame line with no event above it in its chunk."""
    whole = tmp_path_factory.mktemp("ahead") / "perf-150k.txt"
    subprocess.run([sys.executable, ROOT / "bench" / "make_inputs.py", "perf", FIXTURES / "perf-block.txt", whole, "--events", "180000"],
                   check=True, capture_output=True)
    data = whole.read_bytes()
    mid = data.index(b"\n", len(data) // 2) + 1
    damage = b"x" * (MAX_LINE_BYTES + 5000) + b"\nnot a trace line at all\n\tffffffff81000000 frame+0x1 ([kernel.kallsyms])\n"
    whole.write_bytes(data[:mid] + damage + data[mid:])
    return whole, data[:mid].count(b"\n") + 1  # the line number of the long line


def test_a_capture_of_many_chunks_with_damage_reports_the_same_both_ways(damaged_big, monkeypatch):
    path, long_line = damaged_big
    on_disk, streamed = _both(path, monkeypatch, top=0)
    assert on_disk == streamed
    report = traceparse.block(str(path), top=0).data
    # the long line and the garbage (the frame belongs to the event above it), numbered from the file's start
    assert (report["source"]["skipped_lines"], report["source"]["first_skipped_line"]) == (2, long_line)


def test_progress_reaches_the_whole_file(damaged_big):
    path, _ = damaged_big
    seen = []
    traceparse.block(str(path), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 5


def test_a_native_read_that_fails_is_one_line_naming_the_file_and_exit_2(monkeypatch, capsys):
    """The native reading hands a failed read (or a scanner's failure) over as OSError after the
    chunks before it; the report stops with one line, not a traceback."""
    from traceparse import cli

    class Failing:  # what TextAhead.next gives a reading whose read(2) failed after one chunk
        def __init__(self, real):
            self.real, self.n = real, 0

        def next(self):
            self.n += 1
            if self.n > 1:
                raise OSError("read failed at byte 4194304: Input/output error (os error 5)")
            return self.real.next()

        def close(self):
            self.real.close()

    real = text_engine._file_ahead
    monkeypatch.setattr(text_engine, "_file_ahead", lambda *a: Failing(real(*a)))
    with pytest.raises(SystemExit) as done:
        cli.main(["block", str(FIXTURES / "perf-block.txt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2
    assert err == [f"traceparse: {FIXTURES / 'perf-block.txt'}: read failed at byte 4194304: Input/output error (os error 5)"]
