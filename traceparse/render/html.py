"""One self-contained HTML file per report: the numbers, the distributions, heat maps and time series.

Opens from a ticket attachment (file://), offline: inline style, inline script, inline data, no
request of any kind. What is drawn comes from ``report.data``, the same object the JSON renderer
writes (heat-map cells and per-interval series are computed by the report, reports/heatmap.py):

    warnings, lost events            at the top, they qualify every number below
    the verdict (diff)               what changed beyond noise, by how much, which --fail-on rules fired
    per latency                      p50/p90/p99/p99.9 and count; the log-axis distribution; the heat map
    over time                        the report's series (IOPS and MB/s, packets and bytes, pairs, events)
    tables                           every table of the report, sortable by any column (click a header)
    capture                          the capture's metadata

Charts are SVG drawn in the page by a small script of ours (html_assets.py) from the embedded data,
so that a heat map of thousands of cells costs its numbers, not thousands of elements of markup.
"""
from __future__ import annotations

import json
import re
from html import escape

from ..reports.result import UNIT_NS
from .cells import TIME_DECIMALS, grid, headline, numeric
from .html_assets import SCRIPT, STYLE
from .html_diff import diff_sections
from .histogram import label
from .html_latency import latencies

TIME_UNITS = ("ns", "us", "ms")
NUM = ' class="n"'


def render(report) -> str:
    data = report.data or {}
    charts = {"unit": report.unit, "dists": [], "heatmaps": [], "series": data.get("series"), "overlays": [], "changes": []}
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
    ]
    sections = diff_sections(report, charts) if report.kind == "diff" else []
    out += sections[:1]  # the diff opens with its verdict; every report then with its warnings, its capture
    out += [*_warnings(report), _metadata(report), *sections[1:]]
    if report.kind != "diff" and headline(report):
        out.append('<div class="headline">' + "".join(f"<p>{escape(line)}</p>" for line in headline(report)) + "</div>")
    lats = latencies(report)
    for lat in lats:
        out += _latency_section(lat, report, charts)
    out += _series_section(charts["series"], strips=report.kind == "info")
    out += _flamegraph(report)
    for t in report.tables:
        if t.rows:
            out += [f"<h2>{escape(t.title)}</h2>", _table(t, report)]
            if t.note:
                out.append(f"<p class=\"hint\">{escape(t.note)}</p>")
    out += _other_histograms(report, charts, drawn=bool(lats))
    if report.notes:
        out += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>"]
    out += [f'<script type="application/json" id="tp-data">{_json(charts)}</script>', f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(out) + "\n"


def _json(obj) -> str:
    # compact, and never "</script>" inside the data (a comm or a path could hold one)
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _metadata(report) -> str:
    """The capture(s): path, format, events, span, losses; info's facts are its first table."""
    data = report.data or {}
    sources = [data["source"]] if isinstance(data.get("source"), dict) else []
    if report.kind == "diff":
        sources = [s.get("source") for s in (data.get("base"), data.get("new")) if isinstance(s, dict) and s.get("source")]
    items = []
    for i, s in enumerate(sources):
        side = ("base " if i == 0 else "new ") if report.kind == "diff" else ""
        first, last = s.get("first_ts_ns"), s.get("last_ts_ns")
        span = f"{(last - first) / 1e9:.6f} s (from {first / 1e9:.6f})" if first is not None and last is not None else "-"
        items += [(f"{side}capture", s.get("path")), (f"{side}format", f"{s.get('format')} ({s.get('compression') or 'uncompressed'})"),
                  (f"{side}events", f"{s.get('events', 0):,}"), (f"{side}time span", span),
                  (f"{side}lost events", f"{s.get('lost_events', 0):,}"), (f"{side}skipped lines", f"{s.get('skipped_lines', 0):,}")]
    given = {k: v for k, v in (data.get("filters") or {}).items() if v not in (None, [], (), "", False)}
    if given:
        items.append(("filters", ", ".join(f"{k}={v}" for k, v in given.items())))
    from .. import __version__

    items.append(("written by", f"traceparse {__version__}"))
    return '<dl class="meta">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items) + "</dl>"


def _warnings(report) -> list[str]:
    out = []
    for w in report.warnings:
        cls = "warn lost" if "lost" in w else "warn"
        out.append(f'<p class="{cls}"><b>Warning:</b> {escape(w)}</p>')
    return out


def fmt_time(v, unit: str) -> str:
    return "-" if v is None else f"{v / UNIT_NS[unit]:.{TIME_DECIMALS[unit]}f}"


STAT_SHOWN = (("count", "count"), ("p50_ns", "p50"), ("p90_ns", "p90"), ("p99_ns", "p99"), ("p999_ns", "p99.9"), ("max_ns", "max"), ("mean_ns", "mean"))


def stats_strip(metric: str, stats: dict, unit: str) -> str:
    """The numbers of one distribution, each tagged with its JSON key and raw value (``data-ns``)."""
    parts = []
    for key, name in STAT_SHOWN:
        v = stats.get(key)
        if key == "count":
            text, raw = f"{int(v or 0)}", int(v or 0)
        else:
            text, raw = fmt_time(v, unit), "" if v is None else v
        shown = text if key == "count" else f"{text}{unit if v is not None else ''}"
        parts.append(f'<span class="stat" data-metric="{escape(metric)}" data-stat="{key}" data-ns="{raw}">'
                     f'<b>{name}</b> <span class="v">{escape(shown)}</span></span>')
    return '<div class="stats">' + "".join(parts) + "</div>"


def _latency_section(lat, report, charts) -> list[str]:
    key, title, stats, heat = lat
    unit = report.unit
    pcts = [{"label": label, "ns": stats.get(k)} for k, label in (("p50_ns", "p50"), ("p90_ns", "p90"), ("p99_ns", "p99"), ("p999_ns", "p99.9"))]
    charts["dists"].append({"buckets": stats.get("log2_ns") or [], "pcts": pcts})
    out = [f'<h2 id="lat-{escape(key)}">{escape(title)}</h2>', stats_strip(key, stats, unit),
           f'<div class="chart" data-chart="dist" data-ref="{len(charts["dists"]) - 1}"></div>']
    if heat and heat.get("cells"):
        charts["heatmaps"].append(heat)
        out += [f"<h3>{escape(key.upper())} heat map over time</h3>",
                '<p class="hint">Each cell: requests that ended in that interval with a latency in that range. '
                "Hover a cell for its range and count; click it for its slowest requests.</p>",
                f'<div class="heatwrap"><div class="chart" data-chart="heat" data-ref="{len(charts["heatmaps"]) - 1}"></div>'
                '<div class="cellinfo"></div></div>']
    return out


def _series_section(series, strips: bool = False) -> list[str]:
    """The series per interval; ``strips``: also one row per line, each coloured by its own peak (info's
    kinds of events differ by orders of magnitude: on one axis the rare ones are flat at 0)."""
    if not series or not series.get("charts"):
        return []
    out = ["<h2>Over time</h2>"]
    for i, c in enumerate(series["charts"]):
        out += [f"<h3>{escape(c['title'])}</h3>", f'<div class="chart" data-chart="series" data-ref="{i}"></div>']
        if strips:
            out += ['<p class="hint">Each kind on its own row, coloured by its own peak rate:</p>',
                    f'<div class="chart" data-chart="strip" data-ref="{i}"></div>']
    return out


def _flamegraph(report) -> list[str]:
    """`stacks` embeds its flame graph (a stacks diff its differential one): ``report.data["flamegraph_svg"]``
    if the report holds one, else ``traceparse.render.flamegraph.svg(report, diff=...)``, the stacks
    renderer's (render/flamegraph*.py); its SVG brings its own script (hover, zoom, search)."""
    data = report.data or {}
    diff = report.kind == "diff" and data.get("kind") == "stacks"
    if report.kind != "stacks" and not diff:
        return []
    svg = data.get("flamegraph_svg")
    if svg is None:
        try:
            from . import flamegraph
        except ImportError:
            flamegraph = None
        draw = getattr(flamegraph, "svg", None)
        svg = (draw(report, diff=True) if diff else draw(report)) if draw is not None else None
    title = "Differential flame graph (red: grew, blue: shrank)" if diff else "Flame graph"
    if not svg:
        return [f"<h2>{title}</h2>", '<p class="hint">(this traceparse has no flame-graph renderer)</p>']
    svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", "", svg)  # inline in HTML: no XML prolog
    return [f"<h2>{title}</h2>", f'<div class="flamegraph">{svg}</div>']


def _table(t, report) -> str:
    heads, rows = grid(t, report)
    nums = [numeric(c) for c in t.columns]
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = []
    for raw, row in zip(t.rows, rows):
        cells = []
        for c, is_num, text in zip(t.columns, nums, row):
            v = raw.get(c.key)
            if is_num and isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(f'<td class="n" data-v="{v}">{escape(text)}</td>')
            else:
                cells.append(f"<td{NUM if is_num else ''}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="table" data-key="{escape(t.key)}"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _other_histograms(report, charts, drawn: bool) -> list[str]:
    """Histograms not drawn above (sizes, a hist of any field): log2 buckets on a log axis, as the rest."""
    out = []
    for h in report.histograms:
        if drawn and h.unit in TIME_UNITS:
            continue  # the latency sections draw these from the STATS, in ns
        if not h.buckets:
            continue
        scale = UNIT_NS[h.unit] if h.unit in TIME_UNITS else 1
        buckets = [{"lo": b["lo"] * scale, "hi": b["hi"] * scale, "count": b["count"]} for b in h.buckets]
        charts["dists"].append({"buckets": buckets, "pcts": [], "unit": h.unit})
        out += [f"<h2>{escape(h.title)}, {escape(h.unit)}</h2>", f'<div class="chart" data-chart="dist" data-ref="{len(charts["dists"]) - 1}"></div>']
        if h.stats:
            out.append("<p>" + escape(", ".join(f"{k} {v}" for k, v in h.stats.items())) + "</p>")
        out.append(_bucket_table(h))
    return out


def _bucket_table(h) -> str:
    """The buckets as bpftrace labels them, folded away: the numbers behind the bars, script or not."""
    rows = "".join(f'<tr><td>{escape(label(b["lo"], b["hi"], h.unit))}</td><td class="n" data-v="{b["count"]}">{b["count"]}</td></tr>'
                   for b in h.buckets)
    return f"<details><summary>buckets</summary><div class=\"table\" data-key=\"hist:{escape(h.key)}\"><table><thead><tr><th>RANGE</th><th>COUNT</th></tr></thead><tbody>{rows}</tbody></table></div></details>"
