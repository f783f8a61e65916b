"""Open requests across chunks when most completes are lost: old requests are frozen, probed by key,
and past a bound dropped and counted. Expected numbers from tests/reference.py's dict pairing."""
from __future__ import annotations

import io
import random

import pytest
import traceparse
from reference import block_events, pair
from traceparse.api import Capture

from traceparse.reports import open_requests


def capture(n: int = 3000, seed: int = 5) -> str:
    """n write issues at distinct sectors; a third complete, some at once, some much later (after
    hundreds of other issues: their request has been frozen by then); the rest never complete."""
    rng = random.Random(seed)
    lines, later = [], []
    t = 1_000_000_000
    for i in range(n):
        t += 1000 + rng.randrange(500)
        lines.append((t, f"      dd  4116 [001] {t // 10**9}.{t % 10**9:09d}: block:block_rq_issue: 8,0 WS 4096 () {8 * i} + 8 [dd]"))
        if i % 3 == 0:
            done = t + (rng.randrange(100_000) if i % 2 else rng.randrange(50_000_000, 200_000_000))
            later.append((done, f"  <idle>     0 [000] {done // 10**9}.{done % 10**9:09d}: block:block_rq_complete: 8,0 WS () {8 * i} + 8 [0]"))
    return "\n".join(line for _, line in sorted(lines + later)) + "\n"


def run(text: str) -> dict:
    return traceparse.block(Capture(io.BytesIO(text.encode()), chunk_bytes=4096), top=0).data


@pytest.fixture
def small_table(monkeypatch):
    monkeypatch.setattr(open_requests, "HOT_ROWS", 50)


def test_frozen_requests_pair_like_the_reference(small_table, tmp_path):
    text = capture()
    (tmp_path / "c.txt").write_text(text)
    reqs, unmatched = pair(block_events(tmp_path / "c.txt"))
    data = run(text)
    d2c = data["latency"]["d2c"]["total"]
    assert d2c["count"] == len(reqs) == 1000
    assert d2c["mean_ns"] * d2c["count"] == pytest.approx(sum(r["d2c"] for r in reqs))
    assert data["unmatched"]["issue_without_complete"] == unmatched["issue_without_complete"] == 2000
    assert data["unmatched"]["open_dropped"] == 0 and data["unmatched"]["complete_without_issue"] == 0


def test_the_bound_drops_the_oldest_and_counts_them(small_table, monkeypatch, tmp_path):
    monkeypatch.setattr(open_requests, "MAX_OPEN", 400)
    text = capture()
    (tmp_path / "c.txt").write_text(text)
    reqs, unmatched = pair(block_events(tmp_path / "c.txt"))
    data = run(text)
    u = data["unmatched"]
    dropped = u["open_dropped"]
    assert dropped > 0 and any("dropped unpaired" in w for w in data["warnings"])
    # a late complete whose request was dropped is a complete without issue; nothing else changes:
    # every request is still counted once, paired, unpaired or dropped
    late = u["complete_without_issue"]
    assert data["latency"]["d2c"]["total"]["count"] + late == len(reqs)
    assert u["issue_without_complete"] == unmatched["issue_without_complete"] + late
    assert dropped >= late
