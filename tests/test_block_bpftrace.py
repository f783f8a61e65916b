"""traceparse block on a trace.dat against bpftrace recorded at the same time (fixtures/blk-lat.bt).

bpftrace kept its own per-request D2C (its own clock, its own pairing by (dev, sector)); see the
"## block" section of fixtures/README.md for how both were recorded.
"""
from __future__ import annotations

import re
from collections import defaultdict

import pytest
import traceparse
from conftest import FIXTURES

REQ = re.compile(r"^@req\[(\d+), \d+\]: \((\d+), (\d+), (\d+), (\d+), (\w+), (\d+)\)$")


def bpftrace_pairs():
    """{(dev, sector, nr, rwbs): [d2c_ns in completion order]}, flushes left out (see below)."""
    rows = [m.groups() for m in map(REQ.match, (FIXTURES / "blk.bpftrace.txt").read_text().splitlines()) if m]
    out = defaultdict(list)
    for done, major, minor, sector, nr, rwbs, d2c in sorted(rows, key=lambda r: int(r[0])):
        if int(nr):
            out[(f"{major},{minor}", int(sector), int(nr), rwbs)].append(int(d2c))
    return out


@pytest.mark.parametrize("name", ["blk.dat", "blk.report-t.txt.xz"])
def test_every_request_and_its_d2c_match_bpftrace(name):
    data = traceparse.block(FIXTURES / name, top=0, slower_than_ns=0).data
    ours = defaultdict(list)
    for s in sorted(data["slow"], key=lambda s: s["ts_ns"]):
        nr = s["bytes"] // 512
        if nr:  # zero-length: flushes, which bpftrace pairs with the next empty WS complete instead
            ours[(s["dev"], s["sector"], nr, s["rwbs"])].append(s["d2c_ns"])
    want = bpftrace_pairs()
    assert sum(map(len, ours.values())) == sum(map(len, want.values())) == 2771
    assert set(ours) == set(want)
    diffs = sorted(abs(a - b) for k in want for a, b in zip(ours[k], want[k], strict=True))
    # bpftrace stamps inside its probe, ftrace in the tracepoint: ~1 us apart, a few outliers
    assert diffs[len(diffs) // 2] <= 2_000
    assert diffs[int(len(diffs) * 0.98)] <= 5_000
    assert diffs[-1] <= 50_000


def test_counts_match_bpftrace():
    text = (FIXTURES / "blk.bpftrace.txt").read_text()
    issues = int(re.search(r"^@n\[issue\]: (\d+)$", text, re.M).group(1))
    data = traceparse.block(FIXTURES / "blk.dat").data
    assert data["source"]["events_by_kind"]["block:block_rq_issue"] == issues
