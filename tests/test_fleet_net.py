"""`net` over several inputs (issue 16): real captures cut by time into three parts of one host
merge into the report of the whole capture -- the same packet-size percentiles (exact, nearest-rank,
from value counts), senders, retransmits, state changes, drops and handshake HdrHistograms -- and
`merge` of their saved JSON reports gives the same again. Parts of different hosts keep their own
clocks. The size percentiles are also checked against a nearest-rank computed here from the text."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import traceparse
from traceparse.reports.diff import stats_nodes

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = [ROOT / "fixtures" / "net" / n for n in ("net-retrans.perf.txt", "net-tcp-connect.perf.txt")]
TS = re.compile(r"\]\s+(\d+)\.(\d+):")
CLI = [sys.executable, "-c", "from traceparse.cli import main; main()"]


def cut(whole: Path, out: Path) -> list[Path]:
    """The capture cut at its two widest gaps between events where no handshake is under way (as
    many sockets have left SYN_SENT and SYN_RECV as entered them): three captures, one after another."""
    lines = whole.read_text().splitlines()
    ts = [int(m.group(1)) * 10**6 + int(m.group(2)) for m in map(TS.search, lines)]
    depth, calm = 0, set()
    for i, line in enumerate(lines):
        if depth == 0:
            calm.add(i)
        depth += sum(f"newstate=TCP_{s}" in line for s in ("SYN_SENT", "SYN_RECV"))
        depth -= sum(f"oldstate=TCP_{s}" in line for s in ("SYN_SENT", "SYN_RECV"))
    gaps = sorted((i for i in range(1, len(ts)) if i in calm), key=lambda i: ts[i] - ts[i - 1])[-2:]
    cuts = [0, *sorted(gaps), len(lines)]
    paths = []
    for n, (a, b) in enumerate(zip(cuts, cuts[1:])):
        p = out / f"{whole.stem}.part{n}.txt"
        p.write_text("\n".join(lines[a:b]) + "\n")
        paths.append(p)
    return paths


@pytest.fixture(scope="module", params=CAPTURES, ids=lambda p: p.stem)
def capture(request, tmp_path_factory):
    whole = request.param
    return whole, cut(whole, tmp_path_factory.mktemp("parts"))


ADDED = ("count", "bytes", "min_bytes", "max_bytes", "p50_bytes", "p90_bytes", "p99_bytes", "log2_bytes", "mean_bytes")


def assert_same_net(merged: dict, whole: dict) -> None:
    for side in ("tx", "rx"):
        m, w = merged[side], whole[side]
        assert m["event"] == w["event"] and m["sizes"] == w["sizes"]
        for a, b in [(m["total"], w["total"]), *((m["by_device"][d], w["by_device"][d]) for d in w["by_device"])]:
            assert {k: a[k] for k in ADDED} == {k: b[k] for k in ADDED}
            assert a["pps"] == pytest.approx(b["pps"]) and a["mb_s"] == pytest.approx(b["mb_s"])
    strip = lambda rows: sorted((r["pid"], r["comm"], r["dev"], r["packets"], r["bytes"]) for r in rows)  # noqa: E731
    assert strip(merged["by_process"]) == strip(whole["by_process"])
    for key in ("xmit_rc", "tcp_states", "drops", "events_seen"):
        assert merged[key] == whole[key], key
    for key in ("count", "by_state", "by_flow"):
        assert merged["retransmits"][key] == whole["retransmits"][key]
    ml, wl = merged["connect_latency"], whole["connect_latency"]
    a, b = stats_nodes({k: ml[k] for k in ("connect", "accept")}), stats_nodes({k: wl[k] for k in ("connect", "accept")})
    assert a.keys() == b.keys()
    for path in a:  # every STATS, HdrHistogram encoding included
        assert a[path] == b[path], path
    assert ml["failed"] == wl["failed"] and ml["unpaired"] == wl["unpaired"] and ml["listing_total"] == wl["listing_total"]
    assert merged["histograms"] == whole["histograms"]
    assert sum(r["tx_packets"] for r in merged["rates"]["rows"]) == merged["tx"]["total"]["count"]


def test_merged_parts_equal_the_whole_capture(capture):
    whole, parts = capture
    one = traceparse.net(str(whole)).data
    merged = traceparse.fleet_report("net", [str(p) for p in parts], labels=["h"] * 3).data
    assert len(merged["inputs"]) == 3 and one["tx"]["total"]["count"] > 100
    assert_same_net(merged, one)


def test_size_percentiles_are_nearest_rank_of_the_text(capture):
    """Independent of traceparse: the lens of the tx event in the capture's text, ranked here."""
    whole, parts = capture
    merged = traceparse.fleet_report("net", [str(p) for p in parts], labels=["h"] * 3).data
    event = merged["tx"]["event"]
    lens = sorted(int(m.group(1)) for line in whole.read_text().splitlines()
                  if f" {event}:" in line and (m := re.search(r"\blen=(\d+)", line)))
    assert len(lens) == merged["tx"]["total"]["count"]
    for p in (50, 90, 99):
        assert merged["tx"]["total"][f"p{p}_bytes"] == lens[math.ceil(len(lens) * p / 100) - 1]


def test_merge_of_saved_reports_equals_the_fleet_run(capture, tmp_path):
    whole, parts = capture
    saved = []
    for i, p in enumerate(parts):
        out = tmp_path / f"r{i}.json"
        r = subprocess.run([*CLI, "net", str(p), "--label", "h", "--format", "json", "-o", str(out)], capture_output=True)
        assert r.returncode == 0, r.stderr
        saved.append(out)
    merged = traceparse.merge([str(s) for s in saved]).data
    assert_same_net(merged, traceparse.net(str(whole)).data)
    # a merge of merges (a tree) is the flat merge
    tree = traceparse.merge([traceparse.merge([str(s) for s in saved[:2]]).data, str(saved[2])]).data
    assert_same_net(tree, merged)


def test_hosts_keep_their_own_clocks(capture):
    whole, parts = capture
    merged = traceparse.fleet_report("net", [str(p) for p in parts], labels=["a", "b", "c"]).data
    assert any("each on its own clock" in n for n in merged["notes"])
    own = [traceparse.net(str(p)).data for p in parts]
    assert merged["tx"]["total"]["pps"] == pytest.approx(sum(d["tx"]["total"].get("pps") or 0 for d in own))
    # every rate row is its own input's, timed from that input's start
    for label, d in zip("abc", own):
        rows = [r for r in merged["rates"]["rows"] if r["label"] == label]
        assert [(r["time_s"], r["tx_packets"]) for r in rows] == [(r["time_s"], r["tx_packets"]) for r in d["rates"]["rows"]]
    # sizes still merge exactly: packets do not care about clocks
    assert merged["tx"]["sizes"] == traceparse.net(str(whole)).data["tx"]["sizes"]


def test_cli_takes_several_inputs_and_renders_them(capture):
    whole, parts = capture
    r = subprocess.run([*CLI, "net", *map(str, parts), "--label", "h", "--label", "h", "--label", "h"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "3 inputs merged" in r.stdout and "Inputs (3, merged above)" in r.stdout


def test_a_report_without_value_counts_is_refused(tmp_path):
    r = subprocess.run([*CLI, "net", str(CAPTURES[0]), "--format", "json", "-o", str(tmp_path / "new.json")], capture_output=True)
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "new.json").read_text())
    old = {**data, "tx": {k: v for k, v in data["tx"].items() if k != "sizes"}}  # as a report of before the merge
    (tmp_path / "old.json").write_text(json.dumps(old))
    r = subprocess.run([*CLI, "merge", str(tmp_path / "old.json"), str(tmp_path / "new.json")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "could not merge net reports yet (no tx.sizes)" in r.stderr


def test_reports_of_different_options_are_refused():
    a = traceparse.net(str(CAPTURES[0])).data
    b = traceparse.net(str(CAPTURES[0]), top=3).data
    with pytest.raises(traceparse.TraceParseError, match="different --top/--slower-than"):
        traceparse.merge([a, b])
