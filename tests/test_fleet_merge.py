"""Several inputs merged exactly (issue 16): three real captures -- fixtures/blk.report-t.txt.xz
(trace-cmd report -t of blk.dat) cut by time into three files at its two quietest moments -- give,
merged, the block report of the whole capture, which is their concatenation: same counts, sums,
extremes, log2 buckets, HdrHistogram counts and percentiles, unpaired counts and listing. `merge`
of their saved JSON reports gives the same again, and so does a merge of merges (a tree). The parts
are one host's, so they carry one label (--label h three times): inputs of different labels are
different hosts, each on its own clock (tests/test_fleet_hosts.py)."""
from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

import traceparse
from traceparse.reports.diff import stats_nodes

from reference import block_events, pair

ROOT = Path(__file__).resolve().parent.parent
WHOLE = ROOT / "fixtures" / "blk.report-t.txt.xz"
TS = re.compile(r"\]\s+(\d+)\.(\d+):")
CLI = [sys.executable, "-c", "from traceparse.cli import main; main()"]
ONE_HOST = ["h", "h", "h"]  # one host's capture in three parts: one label, one clock


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> list[Path]:
    """The capture cut at its two widest gaps between events: three captures of one host, one after another."""
    lines = lzma.open(WHOLE, "rt").read().splitlines()
    head, body = lines[0], lines[1:]
    assert head.startswith("cpus=")
    ts = [int(m.group(1)) * 10**9 + int(m.group(2)) for m in map(TS.search, body)]
    gaps = sorted(range(1, len(ts)), key=lambda i: ts[i] - ts[i - 1])[-2:]
    cuts = [0, *sorted(gaps), len(body)]
    out = tmp_path_factory.mktemp("parts")
    paths = []
    for n, (a, b) in enumerate(zip(cuts, cuts[1:])):
        p = out / f"part{n}.txt"
        p.write_text("\n".join([head, *body[a:b]]) + "\n")
        paths.append(p)
    return paths


def _counts(encoded: str) -> np.ndarray:
    h = HdrHistogram.decode(encoded)
    return np.ctypeslib.as_array(h.counts)[: h.counts_len].copy()


def assert_same_block(merged: dict, whole: dict) -> None:
    """Every number of the report, and every STATS' histogram bucket for bucket."""
    a, b = stats_nodes(merged["latency"]), stats_nodes(whole["latency"])
    assert a.keys() == b.keys() and len(a) > 30
    for path in a:
        x, y = a[path], b[path]
        assert {k: v for k, v in x.items() if k != "hdr"} == {k: v for k, v in y.items() if k != "hdr"}, path
        if y["count"]:
            assert np.array_equal(_counts(x["hdr"]), _counts(y["hdr"])), path
    for k in ("unmatched", "slow_total", "window", "histograms", "unit"):
        assert merged[k] == whole[k], k
    unlabelled = lambda rows: [{k: v for k, v in r.items() if k != "label"} for r in rows]  # noqa: E731
    assert unlabelled(merged["slow"]) == unlabelled(whole["slow"])
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("d2c", "i2c")} for r in rows]  # noqa: E731
    assert strip(merged["by_process"]) == strip(whole["by_process"])
    for m, w in zip(merged["by_process"], whole["by_process"]):
        for ph in ("d2c", "i2c"):
            assert {k: v for k, v in m[ph].items() if k != "hdr"} == {k: v for k, v in w[ph].items() if k != "hdr"}
    assert merged["source"]["events_by_kind"] == whole["source"]["events_by_kind"]


def test_the_cut_leaves_no_request_across_parts(parts):
    # the premise of "merged = concatenated": no request is in flight at a cut (independent pairing)
    whole, whole_unpaired = pair(block_events(WHOLE))
    pieces = [pair(block_events(p)) for p in parts]
    assert sum(len(reqs) for reqs, _ in pieces) == len(whole) > 2000
    for k, v in whole_unpaired.items():
        assert sum(u[k] for _, u in pieces) == v


def test_merged_block_equals_block_of_the_concatenation(parts):
    whole = traceparse.block(str(WHOLE), top=0).data
    merged = traceparse.fleet_report("block", [str(p) for p in parts], labels=ONE_HOST, top=0).data
    assert [i["label"] for i in merged["inputs"]] == ONE_HOST
    assert all(i["totals"]["d2c"]["count"] for i in merged["inputs"])
    assert_same_block(merged, whole)
    # with the default listing (10 slowest) the merged listing is cut as the whole one is
    assert_same_block(traceparse.fleet_report("block", [str(p) for p in parts], labels=ONE_HOST).data, traceparse.block(str(WHOLE)).data)


def test_merge_of_saved_reports_equals_the_same(parts, tmp_path):
    saved = []
    for p in parts:  # as `traceparse block PART --label h --format json -o PART.json` saves them
        out = tmp_path / f"{p.stem}.json"
        out.write_text(traceparse.render_report(traceparse.fleet_report("block", p, labels=["h"]), "json"))
        saved.append(str(out))
    run = subprocess.run([*CLI, "merge", *saved, "--format", "json"], capture_output=True, check=True)
    merged = json.loads(run.stdout)
    assert merged["report"] == "block" and merged["schema"] == 3
    assert_same_block(merged, traceparse.block(str(WHOLE)).data)
    # a merged report merges again: ((0, 1), 2) == (0, 1, 2)
    pair01 = tmp_path / "pair.json"
    pair01.write_text(traceparse.render_report(traceparse.merge(saved[:2]), "json"))
    tree = traceparse.merge([str(pair01), saved[2]]).data
    assert_same_block(tree, traceparse.block(str(WHOLE)).data)
    assert [i["label"] for i in tree["inputs"]] == ONE_HOST


def test_a_merged_report_is_a_report(parts, tmp_path):
    merged = traceparse.fleet_report("block", [str(p) for p in parts], labels=ONE_HOST)
    for fmt in ("terminal", "markdown", "json", "html"):
        assert traceparse.render_report(merged, fmt)
    text = traceparse.render_report(merged, "terminal")
    assert "Inputs (3, merged above)" in text and "part1.txt" in text
    saved = tmp_path / "merged.json"
    saved.write_text(traceparse.render_report(merged, "json"))
    d = traceparse.diff(str(saved), str(WHOLE))  # diff takes it: the same numbers, nothing significant
    assert not d.data["regression"]
    assert all(not s.get("diff") for g in d.data["groups"] for s in g["stats"].values() if s.get("diff") is not None)


def test_labels_hostname_directory_and_errors(parts, tmp_path):
    dat = ROOT / "fixtures" / "tracedat" / "blk.v7zstd.dat"  # its uname option: "Linux vm 6.18.44-fc-v657 x86_64"
    rep = traceparse.fleet_report("block", [str(dat), str(parts[0])]).data
    assert [i["label"] for i in rep["inputs"]] == ["vm", "part0.txt"]
    rep = traceparse.fleet_report("block", [str(parts[0].parent)], labels=["a", "b", "c"]).data  # a directory, walked
    assert [i["label"] for i in rep["inputs"]] == ["a", "b", "c"]
    run = subprocess.run([*CLI, "block", str(parts[0]), str(parts[1]), "--label", "x"], capture_output=True)
    assert run.returncode == 2 and run.stderr.decode().startswith("traceparse: ") and run.stderr.count(b"\n") == 1
    run = subprocess.run([*CLI, "block", str(tmp_path / "nothing*.txt"), str(parts[0])], capture_output=True)
    assert run.returncode == 2 and b"no file matches" in run.stderr
    info = traceparse.fleet_report("info", [str(p) for p in parts]).data
    assert sum(info["events"].values()) == sum(traceparse.info(str(WHOLE)).data["events"].values())
    assert len(info["inputs"]) == 3
