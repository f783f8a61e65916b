"""The HTML reports opened in headless Chromium (tests/browser.py): no console error, no request,
the numbers in the DOM equal the JSON report's, and a heat-map cell's tooltip counts what an
independent pairing of the capture's lines (tests/reference.py) puts in that cell.

Screenshots go to $TMPDIR/traceparse-screenshots/ for a person to look at.
"""
from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import reference as ref
import traceparse
from browser import opened
from conftest import FIXTURES

SHOTS = Path(tempfile.gettempdir()) / "traceparse-screenshots"
BLOCK_TEXT = FIXTURES / "blk.report.txt.xz"  # trace-cmd report of blk.dat: the reference reads its lines


def _page(tmp_path, report, name: str) -> tuple[Path, dict]:
    path = tmp_path / f"{name}.html"
    path.write_text(traceparse.render_report(report, "html"))
    return path, json.loads(traceparse.render_report(report, "json"))


def _shot(o, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    o.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def _clean(o) -> None:
    assert o.errors == [] and o.requests == []
    assert o.page.get_attribute("body", "data-drawn") == "yes"  # the script ran to its end


def _dom_stats(page) -> list[dict]:
    return page.eval_on_selector_all(
        ".stat[data-metric]",
        "els => els.map(e => ({metric: e.dataset.metric, stat: e.dataset.stat, ns: e.dataset.ns, text: e.querySelector('.v').textContent}))",
    )


def _check_stats(page, totals: dict[str, dict], unit_ns: int = 1000, unit: str = "us") -> None:
    """Every p50/p99/count shown equals the JSON's: its raw value and its text in the display unit."""
    shown = {(s["metric"], s["stat"]): s for s in _dom_stats(page)}
    assert {m for m, _ in shown} == set(totals)
    for metric, stats in totals.items():
        assert shown[(metric, "count")]["text"] == str(stats["count"]) and int(shown[(metric, "count")]["ns"]) == stats["count"]
        for key in ("p50_ns", "p99_ns"):
            s = shown[(metric, key)]
            assert int(s["ns"]) == stats[key]
            assert s["text"] == f"{stats[key] / unit_ns:.1f}{unit}"


# --- block: the heat map against an independent pairing ----------------------------------------

def quarter_octave(v: int) -> int:
    """The heat map's latency bucket, computed here with Python ints: 4 buckets per power of two."""
    if v < 4:
        return v
    k = v.bit_length() - 1
    return 4 * (k - 1) + (v >> (k - 2)) - 4


@pytest.fixture(scope="module")
def reference_d2c():
    events = ref.block_events(BLOCK_TEXT)
    reqs, _ = ref.pair(events)
    return min(e[0] for e in events), [(r["ts"], r["d2c"]) for r in reqs if r["d2c"] is not None and r["d2c"] >= 0]


def test_block_heat_map_cells_equal_an_independent_bucketing(reference_d2c):
    t0, d2c = reference_d2c
    h = traceparse.block(BLOCK_TEXT).data["heatmaps"]["d2c"]
    assert h["t0_ns"] == t0
    assert all(r["hi"] - r["lo"] == 1 or any(r["hi"] * (4 + s) == r["lo"] * (5 + s) for s in range(4)) for r in h["rows"])
    first = quarter_octave(h["rows"][0]["lo"])
    mine = Counter(((ts - t0) // h["bin_ns"], quarter_octave(v) - first) for ts, v in d2c)
    theirs = {(c, r): n for c, r, n in h["cells"]}
    assert theirs == dict(mine)
    assert h["columns"] <= 120 and max(c for c, _ in mine) < h["columns"]
    # every cell keeps its slowest requests (up to 5), so a click on any cell lists someone
    kept = Counter((r[0], r[1]) for r in h["slowest"]["rows"])
    assert kept == {cell: min(n, h["kept_per_cell"]) for cell, n in mine.items()}


def test_block_page_in_chromium(tmp_path, reference_d2c):
    t0, d2c = reference_d2c
    report = traceparse.block(BLOCK_TEXT)
    path, data = _page(tmp_path, report, "block")
    h = data["heatmaps"]["d2c"]
    with opened(path) as o:
        _clean(o)
        _check_stats(o.page, {p: data["latency"][p]["total"] for p in ("d2c", "i2c", "i2d")})
        cells = o.page.locator('svg.heat[data-metric="d2c"] rect.cell')
        assert cells.count() == len(h["cells"])
        hottest = max(h["cells"], key=lambda c: c[2])
        coldest = min(h["cells"], key=lambda c: (c[2], -c[1]))
        for c, r, _ in (hottest, coldest):
            o.page.hover(f'svg.heat[data-metric="d2c"] rect.cell[data-c="{c}"][data-r="{r}"]')
            tip = o.page.inner_text("#tp-tip")
            shown = int(re.search(r"count (\d+)", tip).group(1))
            lo, hi = h["rows"][r]["lo"], h["rows"][r]["hi"]
            start, end = t0 + c * h["bin_ns"], t0 + (c + 1) * h["bin_ns"]
            assert shown == sum(1 for ts, v in d2c if start <= ts < end and lo <= v < hi) > 0
        # a click lists the cell's slowest requests, each of them inside the cell
        c, r, n = hottest
        o.page.click(f'svg.heat[data-metric="d2c"] rect.cell[data-c="{c}"][data-r="{r}"]')
        lat = o.page.eval_on_selector_all("h2#lat-d2c ~ .heatwrap .cellinfo td:nth-child(2)", "els => els.map(e => e.textContent)")
        assert 0 < len(lat) <= min(n, h["kept_per_cell"])
        slowest_ref = sorted((v for ts, v in d2c if t0 + c * h["bin_ns"] <= ts < t0 + (c + 1) * h["bin_ns"]
                              and h["rows"][r]["lo"] <= v < h["rows"][r]["hi"]), reverse=True)
        assert [x for row in h["slowest"]["rows"] if row[:2] == [c, r] for x in row[3:4]] == slowest_ref[:len(lat)]
        _shot(o, "block")


def test_tables_sort_by_any_column(tmp_path):
    path, data = _page(tmp_path, traceparse.block(BLOCK_TEXT), "sort")
    with opened(path) as o:
        head = 'div[data-key="by_op"] thead th'
        col = o.page.locator(head).all_inner_texts().index("COUNT") + 1
        o.page.locator(head).nth(col - 1).click()
        up = [int(t) for t in o.page.locator(f'div[data-key="by_op"] tbody td:nth-child({col})').all_inner_texts()]
        o.page.locator(head).nth(col - 1).click()
        down = [int(t) for t in o.page.locator(f'div[data-key="by_op"] tbody td:nth-child({col})').all_inner_texts()]
        assert up == sorted(v["count"] for v in data["latency"]["d2c"]["by_op"].values()) and down == up[::-1]
        _clean(o)


# --- net, an any-event preset, diff, info ------------------------------------------------------

def test_net_page_in_chromium(tmp_path):
    path, data = _page(tmp_path, traceparse.net(FIXTURES / "net" / "net-tcp-connect.dat"), "net")
    lat = data["connect_latency"]
    assert lat["connect"]["total"]["count"] == lat["accept"]["total"]["count"] == 20  # the workload: 20 connects
    assert sum(c[2] for c in data["heatmaps"]["connect"]["cells"]) == 20
    with opened(path) as o:
        _clean(o)
        _check_stats(o.page, {k: lat[k]["total"] for k in ("connect", "accept")})
        assert o.page.locator('svg.heat[data-metric="connect"] rect.cell').count() == len(data["heatmaps"]["connect"]["cells"])
        assert o.page.locator("svg.series").count() == 2  # packets and bytes per interval
        _shot(o, "net")


def test_syscalls_page_in_chromium(tmp_path):
    path, data = _page(tmp_path, traceparse.syscalls(FIXTURES / "events" / "events.dat"), "syscalls")
    whole = next(g for g in data["groups"] if g["key"] == {})
    assert sum(c[2] for c in data["heatmaps"]["latency"]["cells"]) == whole["count"]
    with opened(path) as o:
        _clean(o)
        _check_stats(o.page, {"latency": whole["stats"]})
        assert o.page.locator("svg.dist").count() >= 1 and o.page.locator("svg.heat").count() == 1
        _shot(o, "syscalls")


def test_diff_page_opens_with_the_verdict(tmp_path):
    report = traceparse.diff(FIXTURES / "perf-block.txt", FIXTURES / "blk.dat", fail_on=["d2c.p50>+10%", "d2c.p50<-10%"])
    path, data = _page(tmp_path, report, "diff")
    with opened(path) as o:
        _clean(o)
        assert o.page.evaluate("document.querySelector('h1').nextElementSibling.className").startswith("verdict")
        assert o.page.evaluate("[...document.body.children].findIndex(e => e.classList.contains('verdict')) < "
                               "[...document.body.children].findIndex(e => e.tagName == 'H2')")
        verdict = o.page.locator(".verdict")
        assert verdict.get_attribute("data-regression") == ("yes" if data["regression"] else "no")
        assert ("REGRESSION" in verdict.inner_text()) == data["regression"]
        for rule in data["rules"]:
            assert rule["expr"] in verdict.inner_text()
        total = next(g for g in data["groups"] if g["path"] == "latency/d2c/total")
        strip = o.page.locator('.stat[data-group="latency/d2c/total"][data-stat="count"]')
        assert (int(strip.get_attribute("data-base")), int(strip.get_attribute("data-new"))) == (total["stats"]["count"]["base"], total["stats"]["count"]["new"])
        assert o.page.locator("svg.overlay").count() == sum(1 for g in data["groups"] if not g["dims"] and g["log2_ns"])
        assert o.page.locator("svg.change").count() >= 1
        _shot(o, "diff")


def test_info_page_shows_events_per_kind_over_time(tmp_path):
    capture = FIXTURES / "events" / "events.dat"
    path, data = _page(tmp_path, traceparse.info(capture), "info")
    series = data["series"]
    lines = series["charts"][0]["lines"]
    per_s = 1e9 / series["bin_ns"]
    # each kind's line sums to its events (in events per second of each interval), as counted in the info report
    for kind, values in lines.items():
        if kind in data["events"]:
            assert round(sum(values) / per_s) == data["events"][kind]
    with opened(path) as o:
        _clean(o)
        assert o.page.locator("svg.series polyline").count() == len(lines)
        _shot(o, "info")


# --- no browser: self-contained and bounded ----------------------------------------------------

def test_page_is_self_contained():
    page = traceparse.render_report(traceparse.block(FIXTURES / "perf-block.txt"), "html")
    assert not re.search(r"""(src|href)\s*=|@import|url\(|fetch\(|XMLHttpRequest""", page)
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_heat_map_stays_bounded_however_many_requests():
    from traceparse.reports.heatmap import KEEP_PER_CELL, MAX_COLUMNS, MAX_KEPT, HeatMap, width_for

    n = 400_000
    hm = HeatMap(0, ["pid"])
    rows = pl.DataFrame({"ts_ns": pl.int_range(0, n, eager=True) * 250_000, "value_ns": (pl.int_range(0, n, eager=True) * 7919) % 10_000_000,
                         "pid": pl.int_range(0, n, eager=True).cast(pl.Int32)})
    for part in rows.iter_slices(50_000):
        hm.add(part)
    span = n * 250_000
    hm.set_width(width_for(span, hm.width))
    d = hm.data("x", -(-span // hm.width))
    assert d["columns"] <= MAX_COLUMNS
    assert sum(c[2] for c in d["cells"]) == n
    assert len(d["slowest"]["rows"]) <= MAX_KEPT
    per_cell = Counter((r[0], r[1]) for r in d["slowest"]["rows"])
    assert max(per_cell.values()) <= KEEP_PER_CELL
    assert len(d["cells"]) <= MAX_COLUMNS * len(d["rows"]) and len(json.dumps(d)) < 400_000


def test_stacks_page_embeds_the_flame_graph(monkeypatch):
    """The hook the stacks renderer plugs into: render/flamegraph.py's svg(report[, diff=True])."""
    import sys
    import types

    from traceparse.reports.result import Report

    seen = []
    fake = types.ModuleType("traceparse.render.flamegraph")
    fake.svg = lambda report, diff=False: seen.append(diff) or '<?xml version="1.0"?><svg id="fg"><rect/></svg>'
    monkeypatch.setitem(sys.modules, "traceparse.render.flamegraph", fake)
    monkeypatch.setattr(traceparse.render, "flamegraph", fake, raising=False)
    page = traceparse.render_report(Report("stacks", "traceparse stacks: x", "us", data={"report": "stacks"}), "html")
    assert '<div class="flamegraph"><svg id="fg"><rect/></svg></div>' in page
    page = traceparse.render_report(Report("diff", "d", "us", data={"report": "diff", "kind": "stacks"}), "html")
    assert '<svg id="fg">' in page and "Differential" in page and seen == [False, True]
