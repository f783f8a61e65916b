"""The native block-pairing kernel (reports/native/src/pairing.rs) through its Python face: random
captures against a dict pairing written here from DESIGN.md's rules, however the text is chunked;
values a frame lacks; bad buffers as errors, not crashes; interned strings across chunks."""
from __future__ import annotations

import io
import random

import numpy as np
import polars as pl
import pytest
import traceparse
from traceparse.api import Capture
from traceparse.reports import _native
from traceparse.reports.block_pairing import NULL, Strings
from traceparse.reports.open_requests import OpenRequests

OP = {"W": "W", "WS": "W", "R": "R", "RA": "R", "FF": "F"}


def random_capture(rng: random.Random, n: int) -> tuple[str, list]:
    """perf script text of n block events on few sectors (so keys are reused, overwritten, mismatched)."""
    lines, events, t = [], [], 5_000_000_000
    for _ in range(n):
        t += rng.randrange(1, 5) * 1000  # whole microseconds, as perf prints them: no two events at one time
        kind = rng.choice(["insert", "issue", "issue", "complete", "complete"])
        dev, sector, rwbs = rng.choice(["8,0", "8,16"]), rng.randrange(4) * 8, rng.choice(list(OP))
        comm = "[0]" if kind == "complete" else "[dd]"
        size = "" if kind == "complete" else "4096 "
        stamp = f"{t // 10**9}.{t % 10**9 // 1000:06d}"
        lines.append(f"              dd  4116 [001] {stamp}: block:block_rq_{kind}: {dev} {rwbs} {size}() {sector} + 8 {comm}")
        events.append((t, kind, dev, sector, rwbs))
    return "\n".join(lines) + "\n", events


def reference(events: list) -> dict:
    """DESIGN.md's rules with a dict: the key remembers insert and issue and the latest rwbs; a
    complete whose op differs from it is a mismatch and leaves the request open."""
    open_, out = {}, dict(count=0, sum=0, overwritten=0, without=0, mismatch=0)
    for ts, kind, dev, sector, rwbs in events:
        r = open_.setdefault((dev, sector), {})
        if kind in ("insert", "issue"):
            out["overwritten"] += kind in r
            r[kind], r["rwbs"] = ts, rwbs
            continue
        if "rwbs" in r and r["rwbs"] != rwbs and OP[r["rwbs"]] != OP[rwbs]:
            out["mismatch"] += 1
            continue
        r = open_.pop((dev, sector))
        out["without"] += "issue" not in r
        if "issue" in r:
            out["count"] += 1
            out["sum"] += ts - r["issue"]
    out["open_issued"] = sum("issue" in r for r in open_.values())
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_captures_pair_like_the_reference_in_any_chunking(seed):
    rng = random.Random(seed)
    text, events = random_capture(rng, 400)
    want = reference(events)
    for chunk_bytes in (None, rng.randrange(200, 2000)):
        cap = Capture(io.BytesIO(text.encode()), chunk_bytes=chunk_bytes) if chunk_bytes else io.BytesIO(text.encode())
        data = traceparse.block(cap, top=0).data
        d2c, u = data["latency"]["d2c"]["total"], data["unmatched"]
        assert d2c["count"] == want["count"]
        assert (d2c["sum_ns"] if want["count"] else 0) == want["sum"]
        assert u["overwritten"] == want["overwritten"]
        assert u["complete_without_issue"] == want["without"]
        assert u["op_mismatch"] == want["mismatch"]
        assert u["issue_without_complete"] == want["open_issued"]


def frames(rows: list[dict]) -> dict[str, pl.DataFrame]:
    """Block frames from (kind, ts, sector, rwbs, nr, bytes) rows, the other columns filled in."""
    out = {}
    for kind in ("insert", "issue", "complete"):
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            out[f"block:block_rq_{kind}"] = pl.DataFrame({
                "ts_ns": [r["ts"] for r in mine], "pid": [7] * len(mine), "comm": pl.Series(["dd"] * len(mine), dtype=pl.Categorical),
                "dev": ["8,0"] * len(mine), "dev_major": pl.Series([8] * len(mine), dtype=pl.UInt32),
                "dev_minor": pl.Series([0] * len(mine), dtype=pl.UInt32), "rwbs": [r.get("rwbs", "W") for r in mine],
                "sector": pl.Series([r["sector"] for r in mine], dtype=pl.UInt64),
                "nr_sector": pl.Series([r.get("nr", 8) for r in mine], dtype=pl.UInt32),
                "bytes": pl.Series([r.get("bytes") for r in mine], dtype=pl.UInt64),
            })
    return out


def test_a_value_the_issue_lacks_is_the_inserts():
    p = OpenRequests().pair(frames([
        dict(kind="insert", ts=100, sector=8, bytes=4096), dict(kind="issue", ts=150, sector=8, bytes=None),
        dict(kind="complete", ts=300, sector=8),
    ]))
    done = p.done.row(0, named=True)
    assert (done["bytes"], done["ins_ts"], done["iss_ts"], done["ts"]) == (4096, 100, 150, 300)


def test_a_flush_at_no_sector_pairs_and_a_partial_is_followed():
    p = OpenRequests().pair(frames([
        dict(kind="issue", ts=100, sector=0, rwbs="FF", nr=0), dict(kind="complete", ts=120, sector=2**64 - 1, rwbs="FF", nr=0),
        dict(kind="issue", ts=200, sector=64, nr=16), dict(kind="complete", ts=210, sector=64, nr=8),
        dict(kind="complete", ts=260, sector=72, nr=8),
    ]))
    got = sorted((r["ts"] - r["iss_ts"], r["orig_sector"], r["parts"]) for r in p.done.iter_rows(named=True))
    assert got == [(20, 0, 0), (60, 64, 1)]
    assert p.partials.height == 1 and p.without_issue.height == 0


def test_open_requests_come_back_as_frames_and_the_bound_hands_dropped_ones_to_the_filter(monkeypatch):
    from traceparse.reports import open_requests

    monkeypatch.setattr(open_requests, "HOT_ROWS", 3)
    seen = []
    table = OpenRequests(max_open=4, match=lambda f: seen.append(f.height) or f.filter(pl.col("iss_ts") < 2))
    for i in range(10):
        table.pair(frames([dict(kind="issue", ts=i, sector=8 * i)]))
    dropped = table.dropped_issued
    assert dropped > 0 and dropped + table.all().height == 10 and sum(seen) == dropped
    assert table.matched_issued == 2  # the two oldest (ts 0 and 1) were dropped first
    assert set(table.all()["iss_ts"]) == set(range(10 - table.all().height, 10))


def test_a_column_of_the_wrong_length_is_an_error_not_a_crash():
    n = 3
    cols = {name: np.zeros(n, dtype=t).tobytes() for name, t in (
        ("devnum", np.uint64), ("sector", np.uint64), ("ts", np.int64), ("dev", np.uint32), ("comm", np.uint32),
        ("pid", np.int32), ("rwbs", np.uint32), ("nr", np.uint32), ("bytes", np.uint64), ("nulls", np.uint8))}
    cols["kind"] = bytes([2, 3, 9])  # 9: no such kind, ignored
    assert _native.Pairing().pair(cols, b"W", 10, 10)["done.dev"] == np.zeros(1, np.uint32).tobytes()
    with pytest.raises(ValueError, match="sector"):
        _native.Pairing().pair({**cols, "sector": b"\0" * 5}, b"W", 10, 10)
    with pytest.raises(ValueError, match="nulls"):
        _native.Pairing().pair({k: v for k, v in cols.items() if k != "nulls"}, b"W", 10, 10)


def test_strings_keep_their_codes_across_chunks_and_nulls_round_trip():
    s = Strings()
    a = s.encode(pl.Series(["8,0", None, "259,2"]))
    b = s.encode(pl.Series(["259,2", "8,0", "8,16"], dtype=pl.Categorical))
    assert a[1] == NULL and a[0] == b[1] and a[2] == b[0]
    assert s.decode(np.concatenate([a, b])).to_list() == ["8,0", None, "259,2", "259,2", "8,0", "8,16"]
    rw = s.encode(pl.Series(["WS", "FWFSM", "RA", "FF", "N", "x"]))
    assert bytes(s.ops[c] for c in rw) == b"WWRFN?"
