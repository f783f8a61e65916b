"""Hardening of the diff and the renderers (issue 10): honest sub-unit buckets, warnings and a
headline at the top, group labels, the schema/version keys of every report's JSON.

Expected values come from the inputs built here (values put into a histogram, a shift applied to a
capture, keys removed from a saved report), not from traceparse's output pasted back.
"""
from __future__ import annotations

import json
import re

import pytest
from conftest import FIXTURES, run_cli
from hdrh.histogram import HdrHistogram
from test_diff import BLK, BLKNET, group, halves, lines_of, shifted

import traceparse
import traceparse.api as api
from traceparse.parsers.errors import TraceParseError
from traceparse.render import render
from traceparse.render.histogram import draw
from traceparse.reports.result import Column, Histogram, Report, Table

FORMATS = ("terminal", "markdown", "json", "html")


def stats_of(values_ns: list[int]) -> dict:
    """A STATS object as a saved report carries it, built from the values with HdrHistogram itself."""
    h = HdrHistogram(1, 7 * 86400 * 10**9, 3)
    for v in values_ns:
        h.record_value(v)
    return {"count": len(values_ns), "mean_ns": sum(values_ns) / len(values_ns), "min_ns": min(values_ns),
            "p50_ns": sorted(values_ns)[len(values_ns) // 2], "max_ns": max(values_ns), "hdr": h.encode().decode()}


# 1. the [0] bucket -----------------------------------------------------------------------------------


def test_sub_unit_bucket_reads_as_a_range_in_block_and_net_histograms():
    # 0 ns and 500 ns are both "0 us" after the unit's floor division: the bucket is [0, 1) us
    us = draw(Histogram("d2c", "D2C", "us", [{"lo": 0, "hi": 1, "count": 2}, {"lo": 1, "hi": 2, "count": 1}]))
    assert us[0].split()[:3] == ["[0,", "1)", "2"] and us[1].split()[:3] == ["[1,", "2)", "1"]
    # in ns and in bytes the values are whole: [0] is exactly zero, as bpftrace draws it
    for unit in ("ns", "bytes"):
        exact = draw(Histogram("x", "x", unit, [{"lo": 0, "hi": 1, "count": 2}, {"lo": 1, "hi": 2, "count": 1}]))
        assert exact[0].split()[:2] == ["[0]", "2"] and exact[1].split()[:2] == ["[1]", "1"]
    html = render(Report("block", "t", "us", histograms=[Histogram("d2c", "D2C", "us", [{"lo": 0, "hi": 1, "count": 2}])]), "html")
    assert ">[0, 1)<" in html and ">[0]<" not in html


def test_diff_histogram_of_0_and_500_ns_in_us_is_one_sub_microsecond_bucket():
    side = {"report": "block", "latency": {"i2d": {"total": stats_of([0, 500] * 20)}}}
    rep = api.diff(side, side, unit="us")
    hist = next(t for t in rep.tables if t.key == "hist:i2d")
    assert [(r["range"], r["base"], r["new"]) for r in hist.rows] == [("[0, 1)", 40, 40)]
    text = render(rep, "terminal")
    assert "[0, 1)" in text and not re.search(r"^\[0\] ", text, re.M)
    in_ns = next(t for t in api.diff(side, side, unit="ns").tables if t.key == "hist:i2d")
    assert in_ns.rows[0]["range"] == "[0]" and in_ns.rows[0]["base"] == 20  # exact zeros, in ns


# 2. warnings first --------------------------------------------------------------------------------


def test_terminal_warnings_stand_above_the_tables():
    rep = Report("block", "traceparse block: x", "us", warnings=["events were lost"])
    rep.tables.append(Table("t", "A table", [Column("a", "A", "count")], [{"a": 1}]))
    text = render(rep, "terminal")
    assert text.index("WARNING: events were lost") < text.index("A table")
    real = render(api.block(FIXTURES / "perf-block.txt"), "terminal")  # this capture lost its completes
    assert real.index("WARNING:") < real.index("D2C latency")


# 3. and 6. the headline ------------------------------------------------------------------------------


def _first_table_at(text: str, fmt: str) -> int:
    marker = {"terminal": "\nGROUP", "markdown": "\n### ", "html": "<table>"}[fmt]
    return text.index(marker)


def test_headline_names_the_significant_changes_and_the_verdict_first(tmp_path):
    new = shifted(tmp_path)  # every complete +200 us: D2C and I2C move, I2D does not
    rep = api.diff(BLKNET, new, fail_on=["d2c.p50>+100us"])
    head = rep.data["headline"]
    assert 3 <= len(head) <= 14
    sig = [(g, s, c) for g in rep.data["groups"] for s, c in g["stats"].items() if c["significant"]]
    shapes = [g for g in rep.data["groups"] if g["shape"] and g["shape"]["significant"]]
    # the totals open the list, largest relative change first; then the groups ("[op W]")
    totals = sorted(((g, s, c) for g, s, c in sig if not g["dims"]), key=lambda x: -abs(x[2]["rel"]))
    assert len(totals) >= 4  # mean and p50 of D2C and I2C
    for line, (g, s, c) in zip(head, totals):
        assert line.startswith(f"{g['phase'].upper()} {s} {c['rel']:+.1%} ("), (line, g["path"], s)
        base, new_ = c["base"] / 1000, c["new"] / 1000
        assert f"({base:.1f} -> {new_:.1f} us, 95% CI {c['ci_lo_ns'] / c['base'] * 100:+.1f}..{c['ci_hi_ns'] / c['base'] * 100:+.1f}%)" in line
    assert "[" in head[len(totals)] and all("I2D" not in line for line in head)  # I2D did not move
    listed = [line for line in head if line.endswith(", significant")]
    assert len(listed) == 10 < len(sig)  # bounded: the rest are counted
    more = next(int(m[1]) for line in head if (m := re.match(r"and (\d+) more significant", line)))
    assert 10 + more <= len(sig)
    tested = sum(c["tested"] for g in rep.data["groups"] for c in g["stats"].values())
    tested += sum(1 for g in rep.data["groups"] if g["shape"] and g["shape"]["tested"])
    assert any(line.startswith(f"{len(sig) + len(shapes)} of {tested} tested cells significant") for line in head)
    assert head[-1] == "rules: d2c.p50>+100us FIRED (exit 1)"
    for fmt in ("terminal", "markdown", "html"):
        text = render(rep, fmt)
        assert text.index(head[0].replace(">", "&gt;") if fmt == "html" else head[0]) < _first_table_at(text, fmt), fmt
        assert "FIRED (exit 1)" in text
    assert json.loads(render(rep, "json"))["headline"] == head


def test_headline_says_no_significant_change_when_there_is_none(tmp_path):
    a, b = halves(tmp_path, 1)
    rep = api.diff(a, b, fail_on=["d2c.p50>+1%"])
    head = rep.data["headline"]
    assert head[0].startswith("no significant change")
    assert re.fullmatch(r"rules: d2c\.p50>\+1% (not met|holds, not significant) \(exit 0\)", head[-1]), head
    bare = api.diff(a, b).data["headline"]  # no rules, no rules line; last, the one-base-run note (issue 17)
    assert bare[-2].startswith("no significant change") and bare[-1].startswith("one base run: run-to-run variation is unknown")


def test_html_puts_headline_and_warnings_above_the_tables(tmp_path):
    base = api.block(FIXTURES / "perf-block.txt")  # warns about lost completes
    rep = api.diff(base, base)
    page = render(rep, "html")
    first = page.index("<table>")
    assert page.index(rep.data["headline"][0]) < first and page.index("Warning:") < first


# 4. group labels -------------------------------------------------------------------------------------


def test_groups_of_two_dims_are_labelled_by_their_own_keys(tmp_path):
    new = shifted(tmp_path)
    rep = api.diff(BLKNET, new, fail_on=["d2c.p50[dev=254,0,op=W]>+100us"])
    assert [m["group"] for m in rep.data["rules"][0]["matches"]] == ["dev 254,0 op W"]
    assert "254,0->W" not in render(rep, "terminal")
    renamed = tmp_path / "renamed.txt"
    renamed.write_text("".join(lines_of(BLK)).replace(" 254,0 ", " 259,2 "))
    paired = api.diff(BLK, renamed, mapping=["254,0=259,2"], fail_on=["d2c.p50[dev=259,2,op=W]>+1%"])
    assert [m["group"] for m in paired.data["rules"][0]["matches"]] == ["dev 254,0->259,2 op W"]
    # a scope on the op must not match the base's device key
    with pytest.raises(TraceParseError, match="no group"):
        api.diff(BLK, renamed, mapping=["254,0=259,2"], fail_on=["d2c.p50[dev=259,2,op=254,0]>+1%"])


# 5. schema and version --------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["block", "net", "info", "diff"])
def test_every_report_json_says_its_schema_and_version(cmd):
    src = FIXTURES / ("net/net-tcp-connect.perf.txt" if cmd == "net" else "perf-block.txt")
    rep = api.diff(BLK, BLK) if cmd == "diff" else getattr(api, cmd)(src)
    data = json.loads(render(rep, "json"))
    assert list(data)[:3] == ["report", "schema", "traceparse_version"]
    assert data["schema"] == 3 and type(data["schema"]) is int
    assert data["traceparse_version"] == traceparse.__version__


def _saved(tmp_path, name: str, drop=(), **extra) -> str:
    data = json.loads(render(api.block(BLK), "json"))
    for k in drop:
        data.pop(k)
    data.update(extra)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_saved_reports_of_schema_1_and_2_diff_and_a_difference_is_noted(tmp_path):
    old = _saved(tmp_path, "old.json", drop=("schema", "traceparse_version"))
    cur = _saved(tmp_path, "cur.json")
    rep = api.diff(old, cur)
    assert group(rep, "latency/d2c/total")["stats"]["p50"]["diff"] == 0
    assert (rep.data["base"]["schema"], rep.data["new"]["schema"]) == (1, 3)
    assert sum("schema" in n for n in rep.notes) == 1
    assert not any("schema" in n for n in api.diff(cur, BLK).notes)  # a capture is read as this version writes
    assert not any("schema" in n for n in api.diff(old, old).notes)


@pytest.mark.parametrize("schema", [4, "2", None, 1.5])
def test_a_saved_report_of_an_unknown_schema_is_one_line_exit_2(tmp_path, schema):
    bad = _saved(tmp_path, "bad.json", schema=schema)
    proc = run_cli("diff", bad, BLK)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and err.startswith("traceparse: ")
    assert "schema" in err and "Traceback" not in err


def test_net_size_keys_with_units_do_not_become_distributions(tmp_path):
    # net's SIZE objects (count, mean_bytes, p50_bytes ...) have a count but no hdr: only STATS with hdr are diffed
    data = json.loads(render(api.net(FIXTURES / "net" / "net-tcp-connect.perf.txt"), "json"))
    for way in ("tx", "rx"):
        for node in [data[way]["total"], *data[way]["by_device"].values()]:
            assert "count" in node and "p50_bytes" in node and "hdr" not in node
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    rep = api.diff(path, path)
    assert {g["phase"] for g in rep.data["groups"]} == {"connect", "accept"}
