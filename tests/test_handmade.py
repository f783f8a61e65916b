"""The hand-made edge cases of fixtures/handmade/, with the expectations fixtures/README.md states
(worked out by hand from the lines: D2C = complete - issue, I2C = complete - insert, in ns)."""
from __future__ import annotations

import polars as pl
import pytest
import traceparse
from conftest import FIXTURES, run_cli

H = FIXTURES / "handmade"

# file -> (pairs {(dev, sector): (d2c_ns, i2c_ns)}, complete_without_issue, issue_without_complete)
CASES = {
    "old-kernel-3.10.txt": (
        {
            ("8,0", 12345): (422_000, 428_000),
            ("8,0", 2048): (525_000, 529_000),
            ("8,16", 12345): (1_000_000, 1_007_000),
            ("8,16", 998): (2_000_000, 2_003_000),
            ("8,0", 4096): (501_000, 505_000),
        },
        1,  # line 12: completes a request issued before the capture
        2,  # lines 28 and 30
    ),
    "old-kernel-4.x.txt": (
        {
            ("8,0", 2099200): (978_000, 990_000),  # the read, after the write to the same sector completed
            ("8,0", 2099208): (735_000, 743_000),
            ("8,0", 0): (710_000, None),  # the FWS flush, issued without an insert
        },
        0,
        1,
    ),
    "comm-spaces.perf.txt": (
        {
            ("254,0", 45787448): (226_000, 233_000),
            ("254,0", 203434928): (375_000, 378_000),
            ("254,0", 29870768): (407_000, 411_000),
            ("254,0", 46414760): (296_000, 300_000),
            ("254,0", 1000): (135_000, 140_000),  # re-used after the write (298000, 300000) completed
        },
        0,
        0,
    ),
    "flush-and-max-sector.txt": (
        {
            ("254,0", 24): (97_000, 107_000),
            ("254,0", 47185920): (132_000, 143_000),
            ("254,0", 18446744073709551608): (246_000, 250_000),  # sector + nr = 2^64: no int64 end sector
            # the flushes: FF issue at 0, FF complete at 2^64-1 -> 4256.098541 - .098437, .103844 - .103758
            ("254,0", 0): (86_000, None),
        },
        2,  # the zero-length WS completes that end the two flush sequences (lines 18, 24)
        0,
    ),
    "truncated.perf.txt": (
        {
            ("254,0", 45787448): (158_000, 165_000),
            ("254,0", 203434928): (469_000, 472_000),
            ("254,0", 46414760): (32_000, 38_000),
            ("254,0", 29870768): (93_000, None),
        },
        0,
        1,  # line 14: its complete is the truncated last line
    ),
}


def listing(name):
    data = traceparse.block(H / name, top=0, slower_than_ns=0).data
    got = {(s["dev"], s["sector"]): (s["d2c_ns"], s["i2c_ns"]) for s in data["slow"]}
    return data, got


@pytest.mark.parametrize("name", list(CASES))
def test_pairs_and_unpaired_as_worked_out_by_hand(name):
    pairs, without_issue, in_flight = CASES[name]
    data, got = listing(name)
    if name == "flush-and-max-sector.txt":
        # two flushes share key (254,0, 0): the listing keeps one row per key here, so check both via by_op
        flushes = data["latency"]["d2c"]["by_op"]["F"]
        assert flushes["count"] == 2 and flushes["min_ns"] == 86_000 and flushes["max_ns"] == 104_000
    assert got == pairs
    u = data["unmatched"]
    assert u["complete_without_issue"] == without_issue
    assert u["issue_without_complete"] + u["insert_without_complete"] == in_flight
    assert u["op_mismatch"] == 0


def test_flush_sequence_ends_do_not_raise_the_lost_events_warning():
    data, _ = listing("flush-and-max-sector.txt")
    assert not any("no issue" in w for w in data["warnings"])


def test_old_kernel_zero_bytes_fall_back_to_sectors_and_errors_are_read():
    frames = traceparse.open(H / "old-kernel-3.10.txt").frames()
    assert frames["block:block_rq_issue"]["bytes"].unique().to_list() == [0]
    done = frames["block:block_rq_complete"]
    assert done.filter(pl.col("sector") == 998)["error"].to_list() == [-5]
    data, _ = listing("old-kernel-3.10.txt")
    assert data["latency"]["d2c"]["by_device"]["8,16"]["count"] == 2
    slow = {(s["dev"], s["sector"]): s for s in data["slow"]}
    assert slow[("8,16", 12345)]["bytes"] == 256 * 512
    assert slow[("8,0", 2048)]["comm"] == "jbd2/sda1-8"


def test_comms_with_spaces_tabs_and_a_wide_pid():
    issue = traceparse.open(H / "comm-spaces.perf.txt").frames()["block:block_rq_issue"]
    got = set(zip(issue["comm"].cast(pl.String).to_list(), issue["pid"].to_list()))
    want = {("Web Content", 4021), ("DOM Worker", 4077), ("kworker/u8:2 H", 917), ("Isolated\tWeb", 5123),
            ("GC Thread 7", 123456), ("Chrome_ChildIOT", 5200)}
    assert want <= got


def test_truncated_file_skips_three_lines_and_strict_stops_at_the_first():
    data, _ = listing("truncated.perf.txt")
    assert data["source"]["skipped_lines"] == 3 and data["source"]["first_skipped_line"] == 6
    proc = run_cli("block", H / "truncated.perf.txt", "--strict")
    assert proc.returncode == 2 and b"line 6" in proc.stderr and b"Traceback" not in proc.stderr
