"""The command as a user meets it: bad input, exit codes, formats, stdin, -o, help."""
from __future__ import annotations

import gzip
import json

import pytest
from conftest import FIXTURES, run_cli

PERF = FIXTURES / "perf-block.txt"


def one_line_error(proc, *needles):
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


BAD = {
    "missing": (None, "no such file"),
    "directory": ("DIR", "is a directory"),
    "empty.txt": (b"", "file is empty"),
    "random.bin": (bytes(range(256)) * 20, "binary data"),
    "image.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300), "binary data"),
    "prose.txt": (b"Dear team,\nthe disk is slow again. Please look.\n" * 5, "no perf script or ftrace event lines"),
    # cut before its first block: nothing to read (a later cut is read up to it: test_hardening_dat.py)
    "corrupt.gz": (gzip.compress(PERF.read_bytes())[:20], "gzip stream ends early"),
    "sched.txt": (b"  bash  1234 [000]  100.000001: sched:sched_switch: prev_comm=bash prev_pid=1 next_pid=2\n", "sched:sched_switch"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_line_and_exit_2(tmp_path, name):
    content, needle = BAD[name]
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    line = one_line_error(run_cli("block", path), needle)
    assert str(path) in line


def test_no_block_events_names_the_perf_record_command(tmp_path):
    path = tmp_path / "sched.txt"
    path.write_bytes(BAD["sched.txt"][0])
    line = one_line_error(run_cli("block", path))
    assert "perf record" in line and "block:block_rq_issue" in line


def test_skipped_lines_exit_0_and_strict_exit_2(tmp_path):
    text = PERF.read_bytes().splitlines(keepends=True)
    path = tmp_path / "cut.txt"
    path.write_bytes(b"".join(text[:50] + [b"#garbage\n", b"not a trace line\n"] + text[50:])[:-30])
    proc = run_cli("block", path, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    src = json.loads(proc.stdout)["source"]
    assert src["skipped_lines"] == 2  # the garbage line and the cut last line
    assert src["first_skipped_line"] == 52
    one_line_error(run_cli("block", path, "--strict"), "line 52", "--strict")


def test_json_contract():
    data = json.loads(run_cli("block", PERF, "-f", "json", "--top", "3").stdout)
    assert set(data["source"]) >= {"path", "format", "events", "skipped_lines", "lost_events", "first_ts_ns", "last_ts_ns"}
    assert data["source"]["format"] == "perf-script"
    stats_keys = {"count", "mean_ns", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "log2_ns"}
    for phase in ("d2c", "i2c", "i2d"):
        assert set(data["latency"][phase]) >= {"total", "by_device", "by_op"}
        assert set(data["latency"][phase]["total"]) >= stats_keys
    d2c = data["latency"]["d2c"]["total"]
    assert sum(b["count"] for b in d2c["log2_ns"]) == d2c["count"]
    assert all(b["hi"] == 2 * b["lo"] for b in d2c["log2_ns"] if b["lo"])
    assert set(data["unmatched"]) >= {"complete_without_issue", "issue_without_complete", "insert_without_complete"}
    assert len(data["slow"]) == 3
    assert set(data["slow"][0]) >= {"ts_ns", "dev", "op", "rwbs", "sector", "bytes", "comm", "pid", "i2d_ns", "d2c_ns", "i2c_ns"}


def test_stdin_and_output_file(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("block", "-", "-f", "json", "-o", out, stdin=gzip.compress(PERF.read_bytes()))
    assert proc.returncode == 0 and proc.stdout == b""
    from_stdin = json.loads(out.read_text())
    from_file = json.loads(run_cli("block", PERF, "-f", "json").stdout)
    assert from_stdin["source"]["path"] == "<stdin>" and from_stdin["source"]["compression"] == "gzip"
    assert from_stdin["latency"] == from_file["latency"]


def test_filters_narrow_the_requests():
    data = json.loads(run_cli("block", PERF, "-f", "json", "--op", "W", "--dev", "254,0").stdout)
    assert set(data["latency"]["d2c"]["by_op"]) == {"W"}
    none = json.loads(run_cli("block", PERF, "-f", "json", "--dev", "8,0").stdout)
    assert none["latency"]["d2c"]["total"]["count"] == 0


def test_slower_than_lists_every_slow_request_in_time_order():
    full = json.loads(run_cli("block", PERF, "-f", "json", "--top", "0", "--slower-than", "0").stdout)
    slow = json.loads(run_cli("block", PERF, "-f", "json", "--top", "0", "--slower-than", "150us").stdout)
    want = sorted((s["ts_ns"], s["d2c_ns"]) for s in full["slow"] if s["d2c_ns"] >= 150_000)
    assert [(s["ts_ns"], s["d2c_ns"]) for s in slow["slow"]] == want and want


def test_info_json():
    data = json.loads(run_cli("info", PERF, "-f", "json").stdout)
    assert data["format"] == "perf-script"
    assert set(data["events"]) == {"block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete"}
    lines = [l for l in PERF.read_text().splitlines() if "block:block_rq_issue:" in l]
    assert data["events"]["block:block_rq_issue"] == len(lines)
    assert data["cpus"] == [0, 1] and data["first_ts_ns"] < data["last_ts_ns"]


def commands():
    from traceparse.cli import app

    return sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def test_the_commands_the_readme_promises_exist():
    assert {"block", "info", "net", "diff"} <= set(commands())


@pytest.mark.parametrize("cmd", commands())
def test_every_command_has_help_with_an_example(cmd):
    proc = run_cli(cmd, "--help")
    assert proc.returncode == 0
    assert "Examples:" in proc.stdout.decode() and f"traceparse {cmd}" in proc.stdout.decode()


@pytest.mark.parametrize("capture", ["tracedat/blk.v7zstd.dat", "perf-block.txt"])
def test_progress_bar_follows_the_reading_to_the_end(monkeypatch, capture):
    """On a terminal the bar appears once a run has taken PROGRESS_AFTER_S and moves with the data read,
    for a trace.dat (read through a memory map, CPU after CPU) as for text."""
    import sys

    from traceparse import cli
    from traceparse.parsers.reader import read_capture

    class Bar:
        def __init__(self):
            self.seen = []

        def update(self, task, completed, total):
            self.seen.append((completed, total))

    bar = Bar()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(cli, "_bar", lambda: (bar, 0))
    monkeypatch.setattr(cli, "_live", [])  # the bar made here must not outlive the test (main() stops what is live)
    path = FIXTURES / capture

    _, chunks = read_capture(path, chunk_bytes=4096, progress=cli.progress_for(str(path)))
    assert sum(1 for _ in chunks) > 2
    done = [d for d, _ in bar.seen]
    assert len(done) > 2 and done == sorted(done) and 0 < done[0] < done[-1] == bar.seen[-1][1] == path.stat().st_size


def test_no_progress_bar_off_a_terminal(monkeypatch):
    import sys

    from traceparse import cli

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli.progress_for(str(PERF)) is None
    assert cli.progress_for("-") is None


def test_progress_on_stdin_counts_the_bytes_read(monkeypatch):
    """A pipe has no size: the bar pulses and shows how much has been read, up to all of it."""
    import io
    import sys

    from traceparse.parsers.reader import read_capture

    data = PERF.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    seen = []
    _, chunks = read_capture("-", chunk_bytes=4096, progress=lambda done, total: seen.append((done, total)))
    assert sum(1 for _ in chunks) > 2
    done = [d for d, _ in seen]
    assert {t for _, t in seen} == {None} and done == sorted(done) and done[-1] == len(data)
