"""The fuzz campaign, as part of the suite: every saved crash replays cleanly, and each target runs briefly.

A crash found by ``python fuzz/run.py TARGET`` is kept under fixtures/damaged/TARGET/ (fixtures/damaged/
README.md says what each one broke); replaying it here needs no atheris.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT

sys.path.insert(0, str(ROOT / "fuzz"))
import targets  # noqa: E402

DAMAGED = FIXTURES / "damaged"
SAVED = sorted(p for p in DAMAGED.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", SAVED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_saved_crash_replays_cleanly(path):
    targets.TARGETS[path.parent.name](path.read_bytes())


def test_every_saved_crash_is_described():
    readme = (DAMAGED / "README.md").read_text()
    missing = [p.name for p in SAVED if p.name not in readme]
    assert not missing, f"fixtures/damaged/README.md says nothing of {missing}"


def test_seeds_are_valid_inputs():
    """A seed that is already refused teaches the fuzzer little: each text seed must parse as events."""
    import io

    import traceparse
    from seeds import seeds

    for target in ("perf_text", "ftrace_text", "compressed", "events"):
        for data in seeds(target):
            frames = traceparse.open(io.BytesIO(data[1:])).frames()
            assert sum(f.height for f in frames.values()) > 0, target


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed (pip install atheris)")
@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_fuzz_target_runs_briefly_without_a_crash(target, tmp_path):
    env = {**os.environ, "TRACEPARSE_FUZZ_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), target, "-max_total_time=3", "-seed=1", "-print_final_stats=1"],
        capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL,
    )
    crashes = list((tmp_path / "crashes").glob("*"))
    assert proc.returncode == 0 and not crashes, proc.stderr[-4000:]
    assert "stat::number_of_executed_units" in proc.stderr
