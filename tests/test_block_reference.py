"""traceparse block's numbers against the independent reference in reference.py, on real captures."""
from __future__ import annotations

import pytest
import traceparse
from conftest import FIXTURES
from reference import block_events, group, nearest_rank, op, pair

REAL = sorted(
    str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
    if p.name.startswith(("perf-block", "blk.report", "blknet.report", "tracefs-block")) and ".txt" in p.name
)
PCTS = {"p50_ns": 50, "p90_ns": 90, "p99_ns": 99, "p999_ns": 99.9}


def assert_stats(stats: dict, values: list[int]) -> None:
    assert stats["count"] == len(values)
    if not values:
        return
    assert stats["min_ns"] == min(values)
    assert stats["max_ns"] == max(values)
    assert stats["mean_ns"] == pytest.approx(sum(values) / len(values), rel=1e-12)
    for key, pct in PCTS.items():
        exact = nearest_rank(values, pct)
        # HdrHistogram (3 digits) answers with the top of the bucket holding the exact value
        assert exact <= stats[key] <= min(exact + exact / 1024 + 1, max(values)), key


@pytest.fixture(scope="module", params=REAL)
def case(request):
    path = FIXTURES / request.param
    return path, traceparse.block(str(path), unit="us").data, pair(block_events(path))


def test_fixture_set_is_real(case):
    # perf default/--ns/-F pid,tid/-g, trace-cmd report plain/-t/-l at least
    assert len(REAL) >= 7


@pytest.mark.parametrize("phase", ["d2c", "i2c", "i2d"])
def test_total_matches_reference(case, phase):
    _, data, (reqs, _) = case
    assert_stats(data["latency"][phase]["total"], [r[phase] for r in reqs if r[phase] is not None])


def test_by_device_and_op_match_reference(case):
    _, data, (reqs, _) = case
    d2c = data["latency"]["d2c"]
    for dev, values in group(reqs, lambda r: r["dev"], "d2c").items():
        assert_stats(d2c["by_device"][dev], values)
    by_op = group(reqs, lambda r: op(r["rwbs"]), "d2c")
    assert set(d2c["by_op"]) == set(by_op)
    for key, values in by_op.items():
        assert_stats(d2c["by_op"][key], values)


def test_unmatched_match_reference(case):
    _, data, (_, counts) = case
    assert data["unmatched"]["complete_without_issue"] == counts["complete_without_issue"]
    assert data["unmatched"]["issue_without_complete"] == counts["issue_without_complete"]


def test_slowest_listing_matches_reference(case):
    _, data, (reqs, _) = case
    want = sorted((r["d2c"] for r in reqs if r["d2c"] is not None), reverse=True)[:10]
    assert [s["d2c_ns"] for s in data["slow"]] == want


def test_process_attribution_is_the_submit_side(case):
    _, data, (reqs, _) = case
    counts = {}
    for r in reqs:
        counts[(r["pid"], r["comm"])] = counts.get((r["pid"], r["comm"]), 0) + 1
    got = {(p["pid"], p["comm"]): p["count"] for p in data["by_process"]}
    assert got == counts
