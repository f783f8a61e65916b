"""Hardening of the block and net reports (issue 10): listings that say what they cut, filters that
say what the capture has, options checked before any input, net rates over each interval's real
length and a bounded rates table, overwritten open requests counted, one unit-suffix rule in JSON.

Expected values come from the inputs built here or from dict-based pairings over the capture text
(in the style of reference.py), never from traceparse's own output.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections import Counter

import pytest
import traceparse
from conftest import FIXTURES, ROOT, run_cli
from reference import block_events, op
from test_net import reference_handshakes
from traceparse.api import Capture
from traceparse.parsers.errors import TraceParseError
from traceparse.reports.block import BlockOptions
from traceparse.reports.net import NetOptions

PERF = FIXTURES / "perf-block.txt"  # dd, rm and sync on a virtio disk 254,0; 2,479 overwrites (reference below)
NET = FIXTURES / "net"
TS = re.compile(r"\s(\d+)\.(\d+):\s")


# --- an independent dict pairing, with the filters and the overwrite rule ------------------------
def ref_block(path, dev=None, comm=None, since_ns=None):
    """biosnoop's dict rule, as reference.py, keeping what traceparse must count: finished requests,
    the unpaired (filtered where their side knows the field) and overwrites of open requests."""
    events = sorted(block_events(path), key=lambda e: e[0])
    t0 = events[0][0]
    ins, iss, reqs = {}, {}, []
    unmatched = Counter()

    def keep(ts, d, c=None):
        return (dev is None or d == dev) and (comm is None or c is None or c == comm) and (since_ns is None or ts - t0 >= since_ns)

    for ts, kind, d, sector, nr, rwbs, c, pid in events:
        if sector == 2**64 - 1 and op(rwbs) == "F":
            sector = 0
        key = (d, sector)
        if kind in ("block_rq_insert", "block_rq_issue"):
            table = ins if kind == "block_rq_insert" else iss
            if key in table and keep(ts, d, c):
                unmatched["overwritten"] += 1
            table[key] = (ts, rwbs, c)
        elif kind == "block_rq_complete":
            if key in iss and op(iss[key][1]) != op(rwbs):
                continue  # op mismatch: not paired, the issue stays open
            i, n = iss.pop(key, None), ins.pop(key, None)
            if i is None and keep(ts, d):  # a complete's comm is irq/idle context: --comm does not apply
                unmatched["complete_without_issue"] += 1
            if i is None and n is None:
                continue
            who = (n or i)[2]
            if keep(ts, d, who):
                reqs.append({"ts": ts, "dev": d, "comm": who, "d2c": ts - i[0] if i else None})
    for key, (ts, rwbs, c) in iss.items():
        who = ins[key][2] if key in ins else c
        if keep(ts, key[0], who):
            unmatched["issue_without_complete"] += 1
    for key, (ts, rwbs, c) in ins.items():
        if key not in iss and keep(ts, key[0], c):
            unmatched["insert_without_complete"] += 1
    return reqs, unmatched, t0, events[-1][0]


@pytest.fixture(scope="module")
def perf_ref():
    return ref_block(PERF)


# --- item 1: --slower-than lists every request past it; a cut listing says so ---------------------
def _threshold(reqs) -> int:
    """The 30th slowest D2C of the reference: some 30 requests pass it, well past the old 10."""
    return sorted(r["d2c"] for r in reqs if r["d2c"] is not None)[-30]


def test_slower_than_alone_lists_every_request(perf_ref):
    reqs = perf_ref[0]
    threshold = _threshold(reqs)
    want = sorted(r["d2c"] for r in reqs if r["d2c"] is not None and r["d2c"] >= threshold)
    assert len(want) > 10  # more than the old --top default
    data = traceparse.block(PERF, slower_than_ns=threshold).data
    assert sorted(r["d2c_ns"] for r in data["slow"]) == want
    assert data["slow_total"] == len(want)
    assert [r["ts_ns"] for r in data["slow"]] == sorted(r["ts_ns"] for r in data["slow"])  # time order
    proc = run_cli("block", PERF, "--slower-than", f"{threshold}ns", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["slow"]) == len(want)


def test_a_listing_cut_by_top_says_how_many_were_left_out(perf_ref):
    reqs = perf_ref[0]
    d2c = [r["d2c"] for r in reqs if r["d2c"] is not None]
    threshold = _threshold(reqs)
    report = traceparse.block(PERF, slower_than_ns=threshold, top=3)
    passing = sum(v >= threshold for v in d2c)
    assert len(report.data["slow"]) == 3 and report.data["slow_total"] == passing
    table = next(t for t in report.tables if t.key == "slow")
    assert f"3 of {passing:,}" in table.title
    plain = traceparse.block(PERF)  # no threshold: the 10 slowest of every request with a D2C
    assert len(plain.data["slow"]) == 10 and plain.data["slow_total"] == len(d2c)
    assert f"10 of {len(d2c):,}" in next(t for t in plain.tables if t.key == "slow").title
    text = run_cli("block", PERF, "--slower-than", f"{threshold}ns", "--top", "3").stdout.decode()
    assert f"3 of {passing:,}" in text


def test_net_slower_than_lists_every_handshake_and_a_cut_says_so():
    path = NET / "net-tcp-connect.report.txt"
    ok = [x for x in reference_handshakes(path) if x[3] == "ESTABLISHED"]
    assert len(ok) > 10
    data = traceparse.net(path, slower_than_ns=0).data
    assert len(data["connect_latency"]["listing"]) == len(ok) == data["connect_latency"]["listing_total"]
    cut = traceparse.net(path, slower_than_ns=0, top=4)
    assert len(cut.data["connect_latency"]["listing"]) == 4 and cut.data["connect_latency"]["listing_total"] == len(ok)
    assert f"4 of {len(ok)}" in next(t for t in cut.tables if t.key == "connect_slow").title


# --- item 2: filters that match nothing say what the capture has; unpaired counts are filtered ----
def test_block_filters_that_match_nothing_name_what_the_capture_has(perf_ref):
    reqs, _, t0, t1 = perf_ref
    devs = Counter(r["dev"] for r in reqs)
    comms = Counter(r["comm"] for r in reqs)
    data = traceparse.block(PERF, dev="8,0").data
    assert data["latency"]["d2c"]["total"]["count"] == 0
    (w,) = [w for w in data["warnings"] if "--dev 8,0" in w]
    for d, n in devs.items():
        assert f"{d} ({n:,} requests)" in w
    w = " ".join(traceparse.block(PERF, comm="nosuch").data["warnings"])
    top, n = comms.most_common(1)[0]
    assert "--comm nosuch" in w and f"{top} ({n:,})" in w
    w = " ".join(traceparse.block(PERF, since_s=1000).data["warnings"])
    assert "--since 1000" in w and f"0.000-{(t1 - t0) / 1e9:.3f} s" in w
    proc = run_cli("block", PERF, "--dev", "8,0")
    assert proc.returncode == 0 and "--dev 8,0" in proc.stdout.decode()


def test_net_dev_filter_that_matches_nothing_names_the_devices():
    path = NET / "net-udp.report.txt"
    lo = sum(1 for line in path.read_text().splitlines() if "net_dev_queue:" in line and "dev=lo " in line)
    data = traceparse.net(path, dev="eth0").data
    assert data["tx"]["total"]["count"] == 0
    w = " ".join(data["warnings"])
    assert "--dev eth0" in w and "lo (" in w
    assert lo == 170


@pytest.mark.parametrize("kw,ref", [
    ({"dev": "8,0"}, {"dev": "8,0"}),
    ({"comm": "dd"}, {"comm": "dd"}),
    ({"comm": "kworker/u8:3"}, {"comm": "kworker/u8:3"}),
    ({"since_s": 0.2}, {"since_ns": 200_000_000}),
])
def test_unpaired_counts_follow_the_filters(kw, ref):
    reqs, unmatched, _, _ = ref_block(PERF, **ref)
    data = traceparse.block(PERF, **kw).data
    for k in ("complete_without_issue", "issue_without_complete", "insert_without_complete", "overwritten"):
        assert data["unmatched"][k] == unmatched[k], k
    assert data["latency"]["d2c"]["total"]["count"] == sum(r["d2c"] is not None for r in reqs)


# --- item 3: options are checked before any input is read ----------------------------------------
@pytest.mark.parametrize("kw", [
    {"unit": "s"}, {"top": -3}, {"since_s": math.nan}, {"until_s": math.inf}, {"since_s": -1.0},
    {"since_s": 2.0, "until_s": 1.0}, {"since_s": 1.0, "until_s": 1.0}, {"slower_than_ns": -1}, {"until_s": -2.0},
])
def test_block_options_are_validated(kw):
    with pytest.raises(TraceParseError):
        BlockOptions(**kw)


@pytest.mark.parametrize("kw", [{"unit": "s"}, {"top": -3}, {"interval_ns": 0}, {"interval_ns": -5}, {"slower_than_ns": -1}])
def test_net_options_are_validated(kw):
    with pytest.raises(TraceParseError):
        NetOptions(**kw)


@pytest.mark.parametrize("args", [
    ["block", "--unit", "s"], ["block", "--top", "-3"], ["block", "--since", "nan"], ["block", "--until", "inf"],
    ["block", "--since", "2", "--until", "1"], ["block", "--since", "-1"], ["net", "--top", "-3"], ["net", "--unit", "s"],
])
def test_bad_options_are_one_line_before_the_input_is_read(tmp_path, args):
    missing = tmp_path / "no-such-capture.txt"  # an option error must come first: the file is never opened
    proc = run_cli(args[0], missing, *args[1:])
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("traceparse: ") and "no-such-capture" not in err, err


# --- item 4: a partial last interval is divided by its real length --------------------------------
@pytest.mark.parametrize("name", ["net-iperf-lo", "net-udp", "net-retrans"])
def test_rates_of_the_last_partial_interval_use_its_real_length(name):
    path = NET / f"{name}.perf.txt"
    lines = path.read_text().splitlines()
    stamps = [int(m[1]) * 10**9 + int(m[2].ljust(9, "0")) for m in map(TS.search, lines) if m]
    t0, t1 = min(stamps), max(stamps)
    tx = Counter()
    for line in lines:
        if "net:net_dev_queue:" in line:
            m = TS.search(line)
            tx[(int(m[1]) * 10**9 + int(m[2].ljust(9, "0")) - t0) // 10**9] += 1
    last = (t1 - t0) // 10**9
    rows = traceparse.net(path).data["rates"]["rows"]
    assert len(rows) == last + 1
    for b, row in enumerate(rows):
        length = min(t1 - t0, (b + 1) * 10**9) - b * 10**9
        assert row["tx_packets"] == tx[b]
        assert row["partial"] == (length < 10**9)
        assert row["duration_ns"] == length
        assert row["tx_pps"] == pytest.approx(tx[b] * 1e9 / length)
    assert rows[-1]["partial"]
    total_pps = sum(tx.values()) * 1e9 / (t1 - t0)
    assert rows[-1]["tx_pps"] < 3 * total_pps or rows[-1]["duration_ns"] > 10**8  # no 8x spike from a sliver


# --- item 5: the rates table is bounded whatever the span or the interval -------------------------
def _net_in_subprocess(path, **kw):
    code = (
        "import json, resource, sys, traceparse\n"
        f"d = traceparse.net({str(path)!r}, **{kw!r}).data\n"
        "print(json.dumps({'rates': d['rates'], 'warnings': d['warnings'], 'tx': d['tx']['total']['count'],\n"
        "                  'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return json.loads(proc.stdout)


def _queue_line(ts: float, n: int) -> str:
    return f"          iperf3  7257 [001] {ts:14.6f}:        net:net_dev_queue: dev=lo skbaddr=0xffff88810ac4{n:04x} len=74\n"


def test_a_capture_spanning_ten_million_seconds_stays_small(tmp_path):
    path = tmp_path / "span.perf.txt"
    path.write_text("".join(_queue_line(ts, i) for i, ts in enumerate([100.0, 100.5, 5_000_000.0, 10_000_099.0])))
    out = _net_in_subprocess(path)
    rows = out["rates"]["rows"]
    assert out["rss_kb"] < 1_000_000 and 0 < len(rows) <= 10_000
    assert sum(r["tx_packets"] for r in rows) == out["tx"] == 4


def test_interval_of_one_ns_on_a_fixture_stays_small():
    out = _net_in_subprocess(NET / "net-udp.perf.txt", interval_ns=1)
    rows = out["rates"]["rows"]
    assert out["rss_kb"] < 1_000_000 and 0 < len(rows) <= 10_000
    assert sum(r["tx_packets"] for r in rows) == out["tx"] == 170


def test_more_busy_intervals_than_the_bound_widen_the_interval_with_a_warning(tmp_path):
    path = tmp_path / "busy.perf.txt"
    path.write_text("".join(_queue_line(1000.0 + i, i) for i in range(12_000)))  # one packet per second
    data = traceparse.net(path).data
    rows, step = data["rates"]["rows"], data["rates"]["interval_ns"]
    assert len(rows) <= 10_000 and step > 10**9 and step % 10**9 == 0
    assert sum(r["tx_packets"] for r in rows) == 12_000
    assert all(r["tx_packets"] == step // 10**9 for r in rows[:-1])  # each widened interval holds step/1 s packets
    assert any("interval" in w and "widened" in w for w in data["warnings"])


# --- item 6: an insert or issue that replaces an open request's earlier one is counted ------------
def test_overwrites_equal_a_dict_pairing_on_a_real_capture(perf_ref):
    want = perf_ref[1]["overwritten"]
    assert want == 2479
    report = traceparse.block(PERF)
    assert report.data["unmatched"]["overwritten"] == want
    assert any(r["what"] == "overwritten" and r["count"] == want for r in next(t for t in report.tables if t.key == "unmatched").rows)
    chunked = traceparse.block(Capture(PERF, chunk_bytes=32_768)).data  # overwrites across chunk borders
    assert chunked["unmatched"] == report.data["unmatched"]


HANDMADE = """\
   dd  100 [000]  10.000000:   block:block_rq_insert: 8,0 W 4096 () 100 + 8 [dd]
   dd  100 [000]  10.000010:    block:block_rq_issue: 8,0 W 4096 () 100 + 8 [dd]
   dd  100 [000]  10.000020:    block:block_rq_issue: 8,0 W 4096 () 100 + 8 [dd]
 swapper 0 [001]  10.000100: block:block_rq_complete: 8,0 W () 100 + 8 [0]
   dd  100 [000]  10.001000:   block:block_rq_insert: 8,0 W 4096 () 200 + 8 [dd]
   dd  100 [000]  10.001010:   block:block_rq_insert: 8,0 W 4096 () 200 + 8 [dd]
   dd  100 [000]  10.001020:    block:block_rq_issue: 8,0 W 4096 () 200 + 8 [dd]
 swapper 0 [001]  10.001100: block:block_rq_complete: 8,0 W () 200 + 8 [0]
   dd  100 [000]  10.002000:    block:block_rq_issue: 8,0 R 4096 () 300 + 8 [dd]
 kworker 9 [000]  10.002010:  block:block_rq_requeue: 8,0 R () 300 + 8 [0]
   dd  100 [000]  10.002020:    block:block_rq_issue: 8,0 R 4096 () 300 + 8 [dd]
 swapper 0 [001]  10.002100: block:block_rq_complete: 8,0 R () 300 + 8 [0]
   dd  100 [000]  10.003000:    block:block_rq_issue: 8,0 R 4096 () 400 + 8 [dd]
 swapper 0 [001]  10.003100: block:block_rq_complete: 8,0 R () 400 + 8 [0]
"""


def test_overwrites_in_a_hand_made_capture(tmp_path):
    """Sector 100: issued twice; 200: inserted twice; 300: requeued and issued again; 400: clean."""
    path = tmp_path / "overwrite.perf.txt"
    path.write_text(HANDMADE)
    data = traceparse.block(path).data
    assert data["unmatched"]["overwritten"] == 3 and data["unmatched"]["requeues"] == 1
    assert data["latency"]["d2c"]["total"]["count"] == 4
    # the later issue (insert) wins: 10.000100 - 10.000020 on sector 100
    assert {r["sector"]: r["d2c_ns"] for r in data["slow"]} == {100: 80_000, 200: 80_000, 300: 80_000, 400: 100_000}
    assert traceparse.block(path, comm="nosuch").data["unmatched"]["overwritten"] == 0
    assert traceparse.block(path, op="R").data["unmatched"]["overwritten"] == 1


# --- item 7: one unit-suffix rule in the JSON ----------------------------------------------------
def test_net_size_objects_carry_their_unit():
    data = traceparse.net(NET / "net-udp.report.txt").data
    s = data["tx"]["total"]
    lens = [100 + 42] * 100 + [1000 + 42] * 50 + [8000 + 42] * 20
    assert (s["min_bytes"], s["max_bytes"], s["bytes"]) == (min(lens), max(lens), sum(lens))
    assert s["mean_bytes"] == pytest.approx(sum(lens) / len(lens))
    assert {"p50_bytes", "p90_bytes", "p99_bytes", "log2_bytes"} <= set(s)
    assert not {"mean", "min", "max", "p50", "p90", "p99", "log2"} & set(s)
    assert not {"mean", "min", "max"} & set(data["rx"]["by_device"]["lo"])
    text = traceparse.render_report(traceparse.net(NET / "net-udp.report.txt"), "terminal")
    row = next(line for line in text.splitlines() if line.startswith("lo "))
    assert "-" not in row.split()[3:9]  # the size columns read the renamed keys
    readme = (ROOT / "README.md").read_text()
    assert "mean_bytes" in readme and "overwritten" in readme and "slow_total" in readme


def test_a_listing_of_all_is_bounded_and_says_so(monkeypatch):
    """--slower-than 0 on a capture of millions must not keep every request: past the bound the slowest
    are kept, the title says how many of how many, and the rest is export's job."""
    from reference import pair

    from traceparse.reports import block as block_mod, shared

    monkeypatch.setattr(block_mod, "LISTING_CAP", 5)
    monkeypatch.setattr(shared, "LISTING_CAP", 5)
    path = FIXTURES / "tracedat" / "blk.report-t.txt.xz"
    rep = traceparse.block(path, slower_than_ns=0)
    reqs, _ = pair(block_events(path))
    d2c = sorted((r["d2c"] for r in reqs if r["d2c"] is not None), reverse=True)
    assert rep.data["slow_total"] == len(d2c)
    assert sorted((r["d2c_ns"] for r in rep.data["slow"]), reverse=True) == d2c[:5]
    title = next(t.title for t in rep.tables if t.key == "slow")
    assert f"(5 of {len(d2c):,} shown, the slowest" in title and "export --report block" in title
