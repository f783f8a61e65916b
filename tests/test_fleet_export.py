"""`traceparse export` read back by DuckDB (issue 16): the Parquet of two real captures (a trace-cmd
text report and a trace.dat, labelled by file name and by the trace.dat's hostname) holds every event
per kind, and D2C p50/p99 computed in SQL from the paired requests, with HdrHistogram's rank rule
(the value of rank ceil(p * n)), equal the block report's within HdrHistogram's precision (0.1%).
For the text capture both are also checked against tests/reference.py (a regex per line and a dict
pairing, sharing no code with traceparse): its event counts, and its requests' D2C values."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import math

import pytest

import traceparse
from reference import block_events, pair

duckdb = pytest.importorskip("duckdb", reason="pip install duckdb (in the test extra)")

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "fixtures" / "blk.report-t.txt.xz"  # 2780 issues
DAT = ROOT / "fixtures" / "tracedat" / "blk.v7zstd.dat"  # uname "Linux vm ..."
CLI = [sys.executable, "-c", "from traceparse.cli import main; main()"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("x") / "frames"
    subprocess.run([*CLI, "export", str(TEXT), str(DAT), "-o", str(out), "--report", "block"], check=True, capture_output=True)
    return out


def test_event_counts_per_kind(exported):
    con = duckdb.connect()
    rows = con.sql(
        f"SELECT host, event, count(*) FROM read_parquet('{exported}/host=*/event=*/*.parquet', hive_partitioning=true, "
        "union_by_name=true) GROUP BY ALL"
    ).fetchall()
    got = {(h, e): n for h, e, n in rows}
    want = {("blk.report-t.txt.xz", e): n for e, n in traceparse.info(str(TEXT)).data["events"].items()}
    want |= {("vm", e): n for e, n in traceparse.info(str(DAT)).data["events"].items()}
    assert got == want
    ref = {}  # the independent count of the text capture's events
    for e in block_events(TEXT):
        ref[("blk.report-t.txt.xz", f"block:{e[1]}")] = ref.get(("blk.report-t.txt.xz", f"block:{e[1]}"), 0) + 1
    assert {k: n for k, n in got.items() if k[0] != "vm"} == ref and sum(ref.values()) == 8330
    schema = json.loads((exported / "_schema.json").read_text())
    assert [i["label"] for i in schema["inputs"]] == ["blk.report-t.txt.xz", "vm"]
    assert schema["requests"]["vm"]["d2c_ns"] == "Int64"
    assert "event" not in schema["frames"]["vm"]["block:block_rq_issue"]
    assert set(schema["frames"]) == {"vm", "blk.report-t.txt.xz"}


NEAREST_RANK = """
WITH r AS (
  SELECT host, d2c_ns, row_number() OVER (PARTITION BY host ORDER BY d2c_ns) AS rank, count(*) OVER (PARTITION BY host) AS n
  FROM read_parquet('{dir}/requests/*/*.parquet', hive_partitioning=true) WHERE d2c_ns >= 0
)
SELECT host, max(n),
       min(d2c_ns) FILTER (WHERE rank = ceil(0.50 * n)),
       min(d2c_ns) FILTER (WHERE rank = ceil(0.99 * n))
FROM r GROUP BY host ORDER BY host
"""


def test_d2c_percentiles_in_sql_equal_the_report(exported):
    rows = duckdb.connect().sql(NEAREST_RANK.format(dir=exported)).fetchall()
    for (host, n, p50, p99), path in zip(rows, (TEXT, DAT)):
        total = traceparse.block(str(path)).data["latency"]["d2c"]["total"]
        assert n == total["count"] > 200
        assert abs(p50 - total["p50_ns"]) <= 0.001 * p50
        assert abs(p99 - total["p99_ns"]) <= 0.001 * p99


def test_requests_equal_the_reference_pairing(exported):
    """The text capture's requests in SQL against the reference's pairing: the same D2C values, so
    the same exact p50/p99 at rank ceil(p * n)."""
    rows = duckdb.connect().sql(
        f"SELECT d2c_ns FROM read_parquet('{exported}/requests/*/*.parquet', hive_partitioning=true) "
        "WHERE host = 'blk.report-t.txt.xz' AND d2c_ns IS NOT NULL ORDER BY d2c_ns"
    ).fetchall()
    got = [r[0] for r in rows]
    want = sorted(r["d2c"] for r in pair(block_events(TEXT))[0] if r["d2c"] is not None)
    assert got == want and len(want) == 2775
    for p in (0.50, 0.99):
        rank = math.ceil(p * len(want))
        assert got[rank - 1] == want[rank - 1]


def test_export_refuses_a_used_directory(exported):
    run = subprocess.run([*CLI, "export", str(TEXT), "-o", str(exported)], capture_output=True)
    assert run.returncode == 2 and b"not empty" in run.stderr and run.stderr.count(b"\n") == 1
