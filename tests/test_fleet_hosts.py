"""The review's fleet fixes (issue 16 follow-up): several hosts each on their own clock, merge of a
damaged or old report, labels that do not collide, an input given twice, the walk's depth, Dask's
one-line errors, call chains in an export, a failed export leaving nothing, os.PathLike inputs,
and the fleet options' bad values -- each error one line on stderr, exit 2."""
from __future__ import annotations

import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

import pytest

import traceparse
from traceparse.parsers.errors import TraceParseError

from reference import block_events

ROOT = Path(__file__).resolve().parent.parent
WHOLE = ROOT / "fixtures" / "blk.report-t.txt.xz"
DAT = ROOT / "fixtures" / "tracedat" / "blk.v7zstd.dat"
STACKS = ROOT / "fixtures" / "perf-block-g.txt.xz"
CLI = [sys.executable, "-c", "from traceparse.cli import main; main()"]
TS = re.compile(r"(\]\s+)(\d+)(\.\d+:)")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> list[Path]:
    """The capture cut in two halves, the second's clock shifted by +1e6 s: two hosts' captures."""
    lines = lzma.open(WHOLE, "rt").read().splitlines()
    head, body = lines[0], lines[1:3001]  # 3,000 events: enough requests, a fast test
    half = len(body) // 2
    out = tmp_path_factory.mktemp("hosts")
    a, b = out / "web1.txt", out / "web2.txt"
    a.write_text("\n".join([head, *body[:half]]) + "\n")
    shifted = [TS.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + 10**6}{m.group(3)}", ln, count=1) for ln in body[half:]]
    b.write_text("\n".join([head, *shifted]) + "\n")
    return [a, b]


def one_line_2(args, **kw) -> str:
    run = subprocess.run([*CLI, *map(str, args)], capture_output=True, timeout=60, **kw)
    err = run.stderr.decode()
    assert run.returncode == 2 and err.startswith("traceparse: ") and err.count("\n") == 1, (args, run.returncode, err)
    return err


def test_two_hosts_rates_add_and_times_are_each_inputs_own(hosts):
    own = [traceparse.block(str(p), top=0).data for p in hosts]
    # the independent view of each input's start: its first block event
    starts = [min(e[0] for e in block_events(p)) for p in hosts]
    assert starts[1] - starts[0] > 10**15
    rep = traceparse.fleet_report("block", hosts, top=0)
    merged = rep.data
    tot = merged["latency"]["d2c"]["total"]
    assert tot["count"] == sum(o["latency"]["d2c"]["total"]["count"] for o in own)
    assert tot["iops"] == pytest.approx(sum(o["latency"]["d2c"]["total"]["iops"] for o in own), rel=1e-12)
    assert tot["mb_s"] == pytest.approx(sum(o["latency"]["d2c"]["total"]["mb_s"] for o in own), rel=1e-12)
    assert tot["iops"] > 1000 * tot["count"] / ((starts[1] - starts[0]) / 1e9)  # not the count over a 1e6 s span
    assert [i["window"] for i in merged["inputs"]] == [o["window"] for o in own]
    slow = next(t for t in rep.tables if t.key == "slow")
    assert {r["label"] for r in slow.rows} == {"web1.txt", "web2.txt"}
    for r in slow.rows:
        t0 = starts[0 if r["label"] == "web1.txt" else 1]
        assert r["time_s"] == pytest.approx((r["ts_ns"] - t0) / 1e9, abs=1e-9)
        assert 0 <= r["time_s"] < 1
    # processes are each host's: a pid of both halves is two rows, one per label
    keys = [(p["label"], p["pid"], p["comm"]) for p in merged["by_process"]]
    assert len(keys) == len(set(keys))
    per_host = sum(len(o["by_process"]) for o in own)
    assert len(keys) == per_host
    # `merge` of the saved reports gives the same rates and times
    saved = []
    for p, o in zip(hosts, own):
        f = p.with_suffix(".json")
        f.write_text(traceparse.render_report(traceparse.block(str(p), top=0), "json"))
        saved.append(str(f))
    again = traceparse.merge(saved)
    assert again.data["latency"]["d2c"]["total"]["iops"] == pytest.approx(tot["iops"], rel=1e-12)
    slow2 = next(t for t in again.tables if t.key == "slow")
    assert [round(r["time_s"], 9) for r in slow2.rows] == [round(r["time_s"], 9) for r in slow.rows]


@pytest.mark.parametrize("stub, said", [
    ({"report": "block", "schema": 2, "latency": {}}, "not a complete block report"),
    ({"report": "block", "schema": 3}, "no source"),
])
def test_merge_of_an_incomplete_report_is_one_line(tmp_path, stub, said):
    f = tmp_path / "stub.json"
    f.write_text(json.dumps(stub))
    assert said in one_line_2(["merge", f, f])


def test_merge_refuses_a_report_from_before_the_fleet_keys(tmp_path):
    data = json.loads(traceparse.render_report(traceparse.block(str(DAT)), "json"))
    for k in ("unit", "slow_limit", "histograms"):
        del data[k]
    for ph in ("d2c", "i2c", "i2d"):
        data["latency"][ph]["total"].pop("hdr")
        data["latency"][ph]["total"].pop("sum_ns")
    data["schema"] = 2
    f = tmp_path / "old.json"
    f.write_text(json.dumps(data))
    err = one_line_2(["merge", f])
    assert "no unit, slow_limit, histograms, latency.d2c.total.sum_ns" in err


def test_a_walk_labels_by_folder_and_duplicates_are_refused(hosts, tmp_path):
    top = tmp_path / "fleet"
    for host, src in zip(("web1", "web2"), hosts):
        (top / host).mkdir(parents=True)
        (top / host / "perf.txt").write_bytes(src.read_bytes())
    (top / "web1" / "deep" / "er").mkdir(parents=True)
    (top / "web1" / "deep" / "er" / "perf.txt").write_bytes(hosts[0].read_bytes())
    rep = traceparse.fleet_report("block", top).data  # a single pathlib.Path, too
    assert [i["label"] for i in rep["inputs"]] == ["web1", "web2"]
    assert f"{top}: 1 folders below depth 2 not read" in rep["warnings"][0]
    out = tmp_path / "frames"
    schema = traceparse.export(top, out)
    assert sorted(p.name for p in out.iterdir()) == ["_schema.json", "host=web1", "host=web2"]
    assert schema["warnings"] == rep["warnings"][:1]
    # two inputs that would share a default label: one line naming both, pointing at --label
    other = tmp_path / "other"
    other.mkdir()
    (other / "web1.txt").write_bytes(hosts[0].read_bytes())
    err = one_line_2(["block", hosts[0], other / "web1.txt"])
    assert "would both be labelled 'web1.txt'" in err and "--label" in err
    # a host named "requests" is a host, not the requests dataset
    out2 = tmp_path / "frames2"
    schema = traceparse.export([hosts[0], hosts[1]], out2, report="block", labels=["requests", "web2"])
    assert set(schema["requests"]) == {"requests", "web2"} and set(schema["frames"]) == {"requests", "web2"}


def test_the_same_input_twice_is_refused(hosts):
    assert "given twice" in one_line_2(["block", hosts[0], hosts[0]])
    assert "given twice" in one_line_2(["block", hosts[0], hosts[0].parent])  # once as a file, once walked
    with pytest.raises(TraceParseError, match="given twice"):
        traceparse.fleet_report("info", [hosts[0], Path(str(hosts[0]).replace("/web1.txt", "/./web1.txt"))])


def test_export_writes_the_call_chains(tmp_path):
    import polars as pl

    out = tmp_path / "frames"
    schema = traceparse.export(STACKS, out)  # one pathlib.Path
    host = schema["inputs"][0]["label"]
    stacks = pl.read_parquet(out / f"host={host}" / "stacks.parquet")
    assert schema["stacks"][host] == {"stack_id": "Int32", "frames": "List(String)"}
    cap = traceparse.open(str(STACKS))
    frames = cap.frames()
    assert stacks["stack_id"].to_list() == list(range(len(cap.stacks))) and len(cap.stacks) > 1
    table = dict(zip(stacks["stack_id"].to_list(), map(tuple, stacks["frames"].to_list())))
    # every event's chain, through the exported ids and table, is the chain traceparse gives it (ids are interned per run)
    for kind, frame in frames.items():
        written = pl.read_parquet(out / f"host={host}" / f"event={kind.replace('/', '_')}" / "*.parquet")
        assert [table.get(i) for i in written["stack_id"].to_list()] == [cap.stacks[i] if i is not None else None
                                                                         for i in frame["stack_id"].to_list()]


def test_a_failed_export_leaves_nothing_and_reruns(hosts, tmp_path):
    out = tmp_path / "frames"
    one_line_2(["export", hosts[0], ROOT / "README.md", "-o", out])  # the second input is not a capture
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".frames")]
    out.mkdir()  # an empty directory given: the same
    with pytest.raises(TraceParseError):
        traceparse.export([hosts[0], ROOT / "README.md"], out)
    assert list(out.iterdir()) == []
    traceparse.export(hosts[0], out)  # the re-run is not refused "not empty"
    assert (out / "_schema.json").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".frames")]


def test_pathlike_inputs(hosts):
    rep = traceparse.fleet_report("block", hosts[0])
    assert rep.data["label"] == "web1.txt"
    assert traceparse.fleet_report("info", hosts[1], labels="x").data["inputs"][0]["label"] == "x"


@pytest.mark.parametrize("args", [
    ["block", "--engine", "spark", "{a}", "{b}"],
    ["block", "--scheduler", "tcp://127.0.0.1:1", "{a}", "{b}"],
    ["info", "--scheduler", "tcp://127.0.0.1:1", "{a}"],
    ["block", "--label", "x", "{a}", "{b}"],
    ["block", "--label", "x", "--label", "y", "--label", "z", "{a}", "{b}"],
    ["export", "{a}", "-o", "{out}", "--report", "net"],
    ["block", "--engine", "dask", "--scheduler", "nonsense", "{a}"],
    ["block", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:99999", "{a}"],
    ["block", "--engine", "dask", "-"],
    ["merge", "{stub}"],
])
def test_bad_fleet_options_are_one_line(hosts, tmp_path, args):
    stub = tmp_path / "stub.json"
    stub.write_text('{"report": "block", "schema": 3, "latency": {}}')
    fill = {"a": hosts[0], "b": hosts[1], "out": tmp_path / "o", "stub": stub}
    one_line_2([a.format(**fill) for a in args], stdin=subprocess.DEVNULL)
    assert not (tmp_path / "o").exists()


def test_a_bad_scheduler_address_in_the_api_is_one_error(hosts):
    pytest.importorskip("distributed", reason="pip install 'dask[distributed]' (in the test extra)")
    with pytest.raises(TraceParseError, match="--engine dask"):
        traceparse.fleet_report("block", hosts[0], engine="dask", scheduler="nosuch://x:1")
