"""`traceparse net` against independent numbers: bpftrace recorded during the same run, the workload's
known datagram sizes, and small dict-based references over the capture text written here.

The fixtures and what each bpftrace file holds are described in fixtures/README.md ("## net").
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict, deque

import pytest
import traceparse
from conftest import FIXTURES, run_cli
from traceparse.api import Capture
from traceparse.parsers.errors import MissingEventsError

NET = FIXTURES / "net"
WORKLOADS = ["net-udp", "net-tcp-connect", "net-iperf-lo", "net-retrans"]
# perf runs whose perf.txt equals its own bpftrace file (fixtures/README.md); net-retrans lost events.
PERF_MATCHES = ["net-udp", "net-tcp-connect", "net-iperf-lo"]
# Numbers bpftrace prints, as listed in fixtures/README.md from the kernel's format files.
TCP_STATE = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 7: "CLOSE",
             8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
DROP_REASON = {2: "NOT_SPECIFIED", 3: "NO_SOCKET", 12: "NETFILTER_DROP", 31: "TCP_ABORT_ON_DATA",
               33: "TCP_OLD_DATA", 35: "TCP_OFOMERGE", 41: "TCP_OLD_SEQUENCE", 104: "QUEUE_PURGE"}


# --- bpftrace's output, read with a few regexes (no traceparse code) -----------------------------
def _size(text: str) -> int:
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * mult[text[-1]] if text[-1] in mult else int(text)


def read_bpftrace(path) -> dict:
    """{'stats': {map: {key: (count, average, total)}}, 'counts': {map: {key: n}}, 'hist': {map: [(lo, hi, n)]}}."""
    out = {"stats": defaultdict(dict), "counts": defaultdict(dict), "hist": defaultdict(list)}
    current = None
    for line in path.read_text().splitlines():
        if m := re.match(r"^@(\w+)\[(.*)\]: count (\d+), average (\d+), total (\d+)$", line):
            out["stats"][m[1]][m[2]] = (int(m[3]), int(m[4]), int(m[5]))
        elif m := re.match(r"^@(\w+)\[(.*)\]: (\d+)$", line):
            out["counts"][m[1]][m[2]] = int(m[3])
        elif m := re.match(r"^@(\w+):\s*$", line):
            current = m[1]
        elif current and (m := re.match(r"^\[(\w+)(?:, (\w+)\))?\]?\s+(\d+) \|", line)):
            lo = _size(m[1])
            out["hist"][current].append((lo, _size(m[2]) if m[2] else lo + 1, int(m[3])))
        else:
            current = None
    return out


def net(path, **kw):
    return traceparse.api.net(path, **kw).data


@pytest.fixture(scope="module")
def reports():
    """Each fixture analysed once (the suite stays fast)."""
    cache = {}

    def get(name, kind="report.txt", **kw):
        key = (name, kind, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = net(NET / f"{name}.{kind}", **kw)
        return cache[key]

    return get


def _hist(stats):
    return [(b["lo"], b["hi"], b["count"]) for b in stats["log2_bytes"]]


def check_against_bpftrace(data, bt):
    """Per device: count, integer average and total of len; the all-device log2 histograms."""
    assert data["tx"]["event"] == "net:net_dev_queue" and data["rx"]["event"] == "net:netif_receive_skb"
    for side, bt_map, bt_hist in (("tx", "queue", "queue_len"), ("rx", "recv", "recv_len")):
        expected = bt["stats"][bt_map]
        got = data[side]["by_device"]
        assert sorted(got) == sorted(expected)
        for dev, (count, average, total) in expected.items():
            s = got[dev]
            assert (s["count"], s["bytes"], s["bytes"] // s["count"]) == (count, total, average), (side, dev)
            assert s["mean_bytes"] == pytest.approx(total / count)
        assert data[side]["total"]["count"] == sum(v[0] for v in expected.values())
        assert data[side]["total"]["bytes"] == sum(v[2] for v in expected.values())
        assert _hist(data[side]["total"]) == bt["hist"][bt_hist]
    retrans = {TCP_STATE[int(k)]: v for k, v in bt["counts"].get("retrans", {}).items()}
    assert data["retransmits"]["by_state"] == retrans
    assert data["retransmits"]["count"] == sum(retrans.values())
    pairs = {(TCP_STATE[int(o)], TCP_STATE[int(n)]): v for (o, n), v in
             ((tuple(k.split(", ")), v) for k, v in bt["counts"].get("st", {}).items())}
    assert {(r["old"], r["new"]): r["count"] for r in data["tcp_states"]} == pairs
    drops = {DROP_REASON[int(k)]: v for k, v in bt["counts"].get("drop", {}).items()}
    assert {r["reason"]: r["count"] for r in data["drops"]["by_reason"]} == drops
    assert data["drops"]["count"] == sum(drops.values())
    rc = {tuple(k.split(", ")): v for k, v in bt["counts"].get("xmit_rc", {}).items()}
    assert {(r["dev"], str(r["rc"])): r["count"] for r in data["xmit_rc"]} == rc


@pytest.mark.parametrize("name", WORKLOADS)
def test_report_text_equals_bpftrace_of_the_same_run(reports, name):
    check_against_bpftrace(reports(name), read_bpftrace(NET / f"{name}.bpftrace.txt"))


@pytest.mark.parametrize("name", PERF_MATCHES)
def test_perf_text_equals_its_own_bpftrace(reports, name):
    check_against_bpftrace(reports(name, "perf.txt"), read_bpftrace(NET / f"{name}.perf.bpftrace.txt"))


def test_fallback_tracepoints_when_the_preferred_ones_are_absent(tmp_path):
    """Without net_dev_queue / netif_receive_skb: transmit from net_dev_xmit, receive from netif_rx."""
    lines = (NET / "net-retrans.report.txt").read_text().splitlines(keepends=True)
    path = tmp_path / "fallback.txt"
    path.write_text("".join(l for l in lines if "net_dev_queue:" not in l and "netif_receive_skb:" not in l))
    data = net(path)
    bt = read_bpftrace(NET / "net-retrans.bpftrace.txt")
    assert data["tx"]["event"] == "net:net_dev_xmit" and data["rx"]["event"] == "net:netif_rx"
    for side, bt_map in (("tx", "xmit"), ("rx", "netif_rx")):
        got = {d: (s["count"], s["bytes"] // s["count"], s["bytes"]) for d, s in data[side]["by_device"].items()}
        assert got == bt["stats"][bt_map]


def nearest_rank(values, p):
    values = sorted(values)
    return values[-(-len(values) * p // 100) - 1]


@pytest.mark.parametrize("kind", ["report.txt", "perf.txt"])
def test_udp_sizes_are_the_sent_datagrams(reports, kind):
    """100 x 100 B, 50 x 1000 B, 20 x 8000 B: transmit len = payload + 42, receive len = payload + 28."""
    data = reports("net-udp", kind)
    sent = [100] * 100 + [1000] * 50 + [8000] * 20
    for side, overhead in (("tx", 42), ("rx", 28)):
        lens = [p + overhead for p in sent]
        s = data[side]["by_device"]["lo"]
        assert s == data[side]["total"]  # one device
        assert (s["count"], s["bytes"], s["min_bytes"], s["max_bytes"]) == (170, sum(lens), min(lens), max(lens))
        assert s["mean_bytes"] == pytest.approx(sum(lens) / 170)
        assert [s["p50_bytes"], s["p90_bytes"], s["p99_bytes"]] == [nearest_rank(lens, p) for p in (50, 90, 99)]
        assert sum(b["count"] for b in s["log2_bytes"]) == 170
    senders = data["by_process"]
    assert [(r["comm"], r["packets"], r["bytes"]) for r in senders] == [("python3", 170, sum(p + 42 for p in sent))]
    assert sum(r["tx_packets"] for r in data["rates"]["rows"]) == 170
    assert data["retransmits"]["count"] == 0 and data["drops"]["count"] == 0 and data["tcp_states"] == []


def _ts_ns(text: str) -> int:
    sec, frac = text.split(".")
    return int(sec) * 10**9 + int(frac.ljust(9, "0"))


STATE_LINE = re.compile(
    r"\s(\d+\.\d+):\s+(?:sock:)?inet_sock_set_state:\s+.*?sport=(\d+) dport=(\d+) saddr=(\S+) daddr=(\S+) "
    r".*oldstate=TCP_(\w+) newstate=TCP_(\w+)"
)


def reference_handshakes(path):
    """Dict-and-deque pairing over the text: CLOSE->SYN_SENT waits (per saddr, daddr, dport) for the next
    change out of SYN_SENT; LISTEN->SYN_RECV (per 4-tuple) for the next change out of SYN_RECV."""
    open_ = defaultdict(deque)
    done = []
    for line in path.read_text().splitlines():
        m = STATE_LINE.search(line)
        if not m:
            continue
        ts, sport, dport, saddr, daddr, old, new = m.groups()
        for kind, state, key in (("connect", "SYN_SENT", (saddr, daddr, dport)), ("accept", "SYN_RECV", (saddr, sport, daddr, dport))):
            if new == state:
                open_[kind, key].append(_ts_ns(ts))
            elif old == state and open_[kind, key]:
                start = open_[kind, key].popleft()
                done.append((kind, start, _ts_ns(ts) - start, new, f"{saddr}:{sport} -> {daddr}:{dport}"))
    return sorted(done)


@pytest.mark.parametrize("name,kind", [("net-tcp-connect", "report.txt"), ("net-tcp-connect", "perf.txt"), ("net-retrans", "report.txt")])
def test_handshake_latency_equals_a_reference_pairing(reports, name, kind):
    data = reports(name, kind, top=0)
    ref = reference_handshakes(NET / f"{name}.{kind}")
    ok = [(k, s, lat, flow) for k, s, lat, new, flow in ref if new == "ESTABLISHED"]
    got = sorted((r["kind"], r["ts_ns"], r["lat_ns"], r["flow"]) for r in data["connect_latency"]["listing"])
    assert got == ok
    lat = data["connect_latency"]
    for k in ("connect", "accept"):
        mine = [x[2] for x in ok if x[0] == k]
        assert lat[k]["total"]["count"] == len(mine)
        if mine:
            assert (lat[k]["total"]["min_ns"], lat[k]["total"]["max_ns"]) == (min(mine), max(mine))
            assert lat[k]["total"]["mean_ns"] == pytest.approx(sum(mine) / len(mine))
    failed = Counter((k, new) for k, s, l, new, f in ref if new != "ESTABLISHED")
    assert Counter({(r["kind"], r["outcome"]): r["count"] for r in lat["failed"]}) == failed
    if name == "net-tcp-connect":
        assert lat["connect"]["total"]["count"] == 20 and lat["accept"]["total"]["count"] == 20
        assert failed == {("connect", "CLOSE"): 20}  # the 20 connects to the closed port 40125
        assert [r["peer"] for r in lat["failed"]] == ["127.0.0.1:40125"]
    assert all(v == 0 for v in lat["unpaired"].values())


def test_slower_than_lists_only_slow_handshakes_in_time_order(reports):
    data = reports("net-retrans", slower_than_ns=1_000_000, top=0)
    listing = data["connect_latency"]["listing"]
    assert [r["kind"] for r in listing] == ["connect"]  # the SYN dropped by nftables: 1 s SYN timeout
    assert listing[0]["lat_ns"] > 1_000_000_000


RETRANS_LINE = re.compile(r"tcp_retransmit_skb:.*?sport=(\d+) dport=(\d+) saddr=(\S+) daddr=(\S+) .*state=(0x[0-9a-f]+)")


@pytest.mark.parametrize("kind", ["report.txt", "perf.txt"])
def test_retransmits_per_flow_equal_a_regex_tally(reports, kind):
    text = (NET / f"net-retrans.{kind}").read_text()
    ref = Counter(
        (f"{m[3]}:{m[1]} -> {m[4]}:{m[2]}", TCP_STATE[int(m[5], 16)]) for m in RETRANS_LINE.finditer(text)
    )
    data = reports("net-retrans", kind)
    assert Counter({(r["flow"], r["state"]): r["count"] for r in data["retransmits"]["by_flow"]}) == ref
    if kind == "report.txt":
        assert data["retransmits"]["count"] == 167  # = iperf3's Retr in this run
    events = data["retransmits"]["events"]
    assert len(events) == 10 and events == sorted(events, key=lambda r: r["ts_ns"])


def test_lost_events_without_a_lost_record_are_warned_about(reports):
    """perf lost events silently in the net-retrans run: netif_rx 1013 vs netif_receive_skb 1036 (README)."""
    assert any("netif_rx" in w and "lost events" in w for w in reports("net-retrans", "perf.txt")["warnings"])
    for name in WORKLOADS:
        assert reports(name)["warnings"] == []


def test_drop_locations_equal_a_regex_tally(reports):
    text = (NET / "net-retrans.report.txt").read_text()
    ref = Counter(re.findall(r"kfree_skb:.*location=(\S+)", text))
    assert {r["location"]: r["count"] for r in reports("net-retrans")["drops"]["by_location"]} == ref
    assert ref["nft_do_chain+0x3e8"] == 192


def test_results_do_not_depend_on_chunking(reports):
    """Tiny chunks split handshakes (SYN_SENT in one chunk, ESTABLISHED in the next) and every tally."""
    for name in ("net-tcp-connect", "net-retrans"):
        whole = reports(name, top=0)
        small = traceparse.api.net(Capture(NET / f"{name}.report.txt", chunk_bytes=4096), top=0).data
        for key in ("tx", "rx", "by_process", "rates", "retransmits", "tcp_states", "connect_latency", "drops"):
            assert small[key] == whole[key], key


def test_interval_rates_add_up(reports):
    data = reports("net-retrans", interval_ns=100_000_000)
    rows = data["rates"]["rows"]
    assert data["rates"]["interval_ns"] == 100_000_000 and len(rows) > 10
    assert sum(r["tx_packets"] for r in rows) == data["tx"]["total"]["count"]
    assert sum(r["rx_bytes"] for r in rows) == data["rx"]["total"]["bytes"]
    assert [r["time_s"] for r in rows] == sorted(r["time_s"] for r in rows)


def test_dev_filter(reports):
    data = reports("net-retrans", dev="veth-tpb")
    assert list(data["tx"]["by_device"]) == ["veth-tpb"] and data["tx"]["total"]["count"] == 721
    assert {r["dev"] for r in data["by_process"]} == {"veth-tpb"}


def test_no_network_events_is_one_line_naming_the_record_command(tmp_path):
    path = tmp_path / "sched.txt"
    path.write_bytes(b"  bash  1234 [000]  100.000001: sched:sched_switch: prev_comm=bash prev_pid=1 next_pid=2\n")
    with pytest.raises(MissingEventsError, match="sched:sched_switch"):
        net(path)
    proc = run_cli("net", path)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "perf record" in err and "net:net_dev_queue" in err and "sched:sched_switch" in err


def test_cli_formats_and_output_file(tmp_path):
    out = tmp_path / "net.json"
    proc = run_cli("net", NET / "net-udp.report.txt", "--format", "json", "-o", out, "--interval", "500ms")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["report"] == "net" and data["source"]["events"] == 680 and data["rates"]["interval_ns"] == 500_000_000
    text = run_cli("net", NET / "net-udp.report.txt").stdout.decode()
    # the hist() and stats() lines exactly as bpftrace printed them in the same run
    bt = (NET / "net-udp.bpftrace.txt").read_text()
    assert "count 170, average 1336, total 227140" in text and "@queue[lo]: count 170, average 1336, total 227140" in bt
    bars = lambda t: [" ".join(l.split()) for l in t.splitlines() if l.startswith("[")]  # noqa: E731
    assert bars(bt)[:6] == bars(text)[:6]  # @queue_len
    assert "excludes the link-layer header" in text and "net:net_dev_queue" in text
    md = run_cli("net", NET / "net-tcp-connect.report.txt", "-f", "markdown").stdout.decode()
    assert md.startswith("## traceparse net") and "| connect" in md
    helptext = run_cli("net", "--help").stdout.decode()
    assert "Examples" in helptext and "perf record" in helptext


@pytest.mark.parametrize("name", WORKLOADS)
def test_trace_dat_equals_its_report_text(reports, name):
    """Same recording, two readers: sizes, senders, TCP and drop tallies identical (trace.dat's reasons
    and locations are resolved as trace-cmd prints them); latencies within the 1 us rounding of the text's timestamps."""
    dat, txt = reports(name, "dat", top=0), reports(name, top=0)
    size_keys = ("count", "bytes", "mean_bytes", "min_bytes", "max_bytes", "p50_bytes", "p90_bytes", "p99_bytes", "log2_bytes")
    for side in ("tx", "rx"):
        assert dat[side]["event"] == txt[side]["event"]
        for a, b in [(dat[side]["total"], txt[side]["total"])] + [
            (dat[side]["by_device"][d], txt[side]["by_device"][d]) for d in txt[side]["by_device"]
        ]:
            assert {k: a[k] for k in size_keys} == {k: b[k] for k in size_keys}
    strip = lambda rows: sorted((r["pid"], r["comm"], r["dev"], r["packets"], r["bytes"]) for r in rows)  # noqa: E731
    assert strip(dat["by_process"]) == strip(txt["by_process"])
    assert dat["retransmits"]["by_flow"] == txt["retransmits"]["by_flow"]
    assert dat["tcp_states"] == txt["tcp_states"]
    assert dat["drops"] == txt["drops"]  # count, by_reason and by_location
    la, lb = dat["connect_latency"]["listing"], txt["connect_latency"]["listing"]
    la, lb = sorted(la, key=lambda r: r["ts_ns"]), sorted(lb, key=lambda r: r["ts_ns"])
    assert [(r["kind"], r["flow"]) for r in la] == [(r["kind"], r["flow"]) for r in lb]
    assert all(abs(a["lat_ns"] - b["lat_ns"]) <= 1000 for a, b in zip(la, lb))
