"""Renderings pinned by golden files; the numbers inside them are checked elsewhere against references."""
from __future__ import annotations

import enum
import json

import pytest
import traceparse
from conftest import FIXTURES
from traceparse.render.histogram import draw, label
from traceparse.reports.result import Histogram

CASES = {"perf-block": FIXTURES / "perf-block.txt"}


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "json", "html"])
@pytest.mark.parametrize("name", list(CASES))
def test_block_rendering_is_pinned(golden, name, fmt):
    report = traceparse.block(CASES[name], top=5)
    text = traceparse.render_report(report, fmt)
    text = text.replace(str(CASES[name]), f"fixtures/{CASES[name].name}")
    golden(f"block-{name}.{ {'terminal': 'txt', 'markdown': 'md', 'json': 'json', 'html': 'html'}[fmt] }", text)


def test_json_is_strict_and_deterministic():
    a = traceparse.render_report(traceparse.block(CASES["perf-block"]), "json")
    b = traceparse.render_report(traceparse.block(CASES["perf-block"]), "json")
    assert a == b
    json.loads(a)


@pytest.mark.parametrize("run,path", [("block", "perf-block.txt"), ("block", "tracedat/blk.v7zstd.dat"),
                                      ("net", "net/net-tcp-connect.dat"), ("info", "tracedat/blk.v7zstd.dat")])
def test_json_text_is_what_json_dumps_writes(run, path):
    # the renderer's own (native) indent=2 writer against the standard library's, on real reports and odd values
    from traceparse.reports._native import dumps

    data = getattr(traceparse, run)(FIXTURES / path).data
    assert dumps(data) == json.dumps(data, indent=2, allow_nan=False)
    odd = {7: [1.5, True, None, (1, 2), -0.0, 1e300, 10**30, -(2**63), 2**63, 1e16, 1e-05, 0.1 + 0.2], 2.5: {}, True: [],
           False: 0, None: "é\n\"\u2028\x7f\x00\b\f\r\t\\/😀\udc80", "k": [{}, [[]]], 10**20: IntFlag.A, "s": Sub("x")}
    assert dumps(odd) == json.dumps(odd, indent=2, allow_nan=False)
    for bad, exc in (({"x": float("nan")}, ValueError), ([float("-inf")], ValueError), ({float("nan"): 1}, ValueError),
                     ({(1,): 2}, TypeError), ({"x": object()}, TypeError), ({"x": {1, 2}}, TypeError)):
        with pytest.raises(exc):
            dumps(bad)


class IntFlag(enum.IntEnum):
    A = 3


class Sub(str):
    pass


def test_json_floats_are_pythons_repr():
    # random doubles of every magnitude: float.__repr__ decides fixed or exponent notation
    import random

    from traceparse.reports._native import dumps

    rnd = random.Random(5)
    values = [rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-30, 30) for _ in range(3000)]
    assert dumps(values) == json.dumps(values, indent=2)


def test_log2_labels_and_bars_match_bpftrace():
    assert label(0, 1) == "[0]" and label(1, 2) == "[1]"
    assert label(2, 4) == "[2, 4)" and label(16384, 32768) == "[16K, 32K)" and label(1 << 20, 1 << 21) == "[1M, 2M)"
    lines = draw(Histogram("x", "x", "us", [{"lo": 16384, "hi": 32768, "count": 20812}, {"lo": 32768, "hi": 65536, "count": 10406}]))
    assert lines[0] == "[16K, 32K)          20812 |" + "@" * 52 + "|"
    assert lines[1].endswith("|" + "@" * 26 + " " * 26 + "|")


def test_html_is_self_contained_and_holds_every_table():
    # was: no <script> and two linear SVG bar charts; the page now draws its charts (log axes, heat
    # maps, series) with an inline script from inline data: still nothing fetched (tests/test_html.py
    # opens it in Chromium and checks that no request is made)
    import re

    report = traceparse.block(CASES["perf-block"])
    page = traceparse.render_report(report, "html")
    assert not re.search(r"(src|href)\s*=", page) and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count("<table>") == sum(1 for t in report.tables if t.rows)
    assert page.count('data-chart="dist"') == sum(1 for p in ("d2c", "i2c", "i2d") if report.data["latency"][p]["total"]["count"])


def test_json_is_stamped_with_this_schema_and_version_even_over_saved_keys():
    """A report rebuilt from an older saved JSON must say which contract this traceparse wrote, not the old one."""
    import json

    import traceparse
    from traceparse.reports.result import SCHEMA, Report

    rep = Report(kind="block", title="t", unit="us", data={"report": "block", "schema": 1, "traceparse_version": "0.0.1", "x": 1})
    out = json.loads(traceparse.render_report(rep, "json"))
    assert (out["schema"], out["traceparse_version"], out["x"]) == (SCHEMA, traceparse.__version__, 1)
    assert list(out)[:3] == ["report", "schema", "traceparse_version"]
