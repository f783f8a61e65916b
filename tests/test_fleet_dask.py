"""A fleet `block` on a real Dask cluster (issue 16): a LocalCluster of two worker processes, the
README's cluster command run against it (its scheduler address swapped in), and the report equal to
the local merge of the same captures. The CLI imports Dask only for --engine dask."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import traceparse

from test_fleet_merge import assert_same_block

distributed = pytest.importorskip("distributed", reason="pip install 'dask[distributed]' (in the test extra)")

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from traceparse.cli import main; main()"]
README_ADDRESS = "tcp://10.0.0.5:8786"


def readme_command() -> list[str]:
    text = (ROOT / "README.md").read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith(f"traceparse block --engine dask --scheduler {README_ADDRESS} ")]
    assert len(lines) == 1, "the README's cluster command"
    return shlex.split(re.sub(r"\s+#.*$", "", lines[0]))


def test_readme_command_on_a_local_cluster_equals_the_local_merge():
    argv = readme_command()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert len(cluster.workers) == 2
        argv[argv.index(README_ADDRESS)] = cluster.scheduler_address
        run = subprocess.run([*CLI, *argv[1:]], cwd=ROOT, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    on_dask = json.loads(run.stdout)
    files = [a for a in argv[1:] if a.startswith("fixtures/")]
    assert len(files) == 3
    local = traceparse.fleet_report("block", [str(ROOT / f) for f in files]).data
    assert_same_block(on_dask, local)
    assert [i["label"] for i in on_dask["inputs"]] == [i["label"] for i in local["inputs"]] == ["vm", "blk.report-t.txt.xz", "blk.report.txt.xz"]
    assert on_dask["warnings"] == local["warnings"] and on_dask["slow"] == local["slow"]


def test_dask_is_imported_only_when_asked_for():
    code = (
        "import sys\nfrom traceparse.cli import main\n"
        "try:\n    main(['block', 'fixtures/tracedat/blk.v7zstd.dat', 'fixtures/tracedat/blk.report-t.txt.xz', '-f', 'json'])\n"
        "except SystemExit:\n    pass\n"
        "print('DASK' if any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules) else 'NO DASK', file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    assert run.stderr.strip().endswith(b"NO DASK"), run.stderr


def test_an_unreachable_scheduler_is_one_line():
    run = subprocess.run([*CLI, "block", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "fixtures/tracedat/blk.v7zstd.dat"],
                         cwd=ROOT, capture_output=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith(b"traceparse: ") and run.stderr.count(b"\n") == 1, run.stderr
