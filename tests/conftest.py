from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
SAMPLES = ROOT.parent / "shared" / "samples"  # public captures beside the repo (never copied into it)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from the current output")


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME; on a mismatch write NAME.actual beside it."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.write_text(text)
            return
        actual = path.with_name(path.name + ".actual")
        expected = path.read_text() if path.exists() else None
        if text != expected:
            actual.write_text(text)
            pytest.fail(f"{name} differs from the golden file; see {actual} (rerun with --update-golden to accept)")
        actual.unlink(missing_ok=True)

    return check


def run_cli(*args, stdin: bytes | None = None, cwd=ROOT):
    """Run the installed console entry point as a user would; returns CompletedProcess (bytes)."""
    return subprocess.run(
        [sys.executable, "-m", "traceparse", *map(str, args)], input=stdin, capture_output=True, cwd=cwd, timeout=120
    )


def read_frames(src, **kw):
    """(source, {kind: all its events in one frame}) of a capture read through the parsers."""
    import polars as pl

    from traceparse.parsers.reader import read_capture

    source, chunks = read_capture(src, **kw)
    parts: dict[str, list[pl.DataFrame]] = {}
    for c in chunks:
        for k, f in c.frames.items():
            parts.setdefault(k, []).append(f)
    return source, {k: pl.concat(v) for k, v in parts.items()}
