"""A self-contained HTML page: the report's tables, and its log2 histograms as inline SVG bar charts.

No script, no external asset: the file opens from a ticket attachment or a CI artifact as it is.
"""
from __future__ import annotations

from html import escape

from .cells import grid, headline, numeric
from .histogram import label

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; white-space: pre; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.headline { font: 14px/1.5 monospace; margin-bottom: 1.5em; } .headline p { margin: 0; }
.warn { background: #fff3cd; padding: 6px 10px; border-left: 4px solid #e0a800; }
svg text { font: 12px monospace; } svg rect { fill: #4a7bb7; }
"""
BAR_W, ROW_H, LABEL_W, COUNT_W = 420, 18, 130, 80


def render(report) -> str:
    out = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
    ]
    if headline(report):
        out.append('<div class="headline">' + "".join(f"<p>{escape(line)}</p>" for line in headline(report)) + "</div>")
    out += [f'<p class="warn"><b>Warning:</b> {escape(w)}</p>' for w in report.warnings]
    for t in report.tables:
        if t.rows:
            out += [f"<h2>{escape(t.title)}</h2>", _table(t, report)]
    for h in report.histograms:
        out += [f"<h2>{escape(h.title)}, {escape(h.unit)}</h2>", _svg(h)]
    if report.notes:
        out.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _table(t, report) -> str:
    heads, rows = grid(t, report)
    cls = [' class="n"' if numeric(c) else "" for c in t.columns]
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td{k}>{escape(v)}</td>" for k, v in zip(cls, row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(h) -> str:
    if not h.buckets:
        return "<p>(no values)</p>"
    peak = max(b["count"] for b in h.buckets) or 1
    height = ROW_H * len(h.buckets) + 4
    width = LABEL_W + COUNT_W + BAR_W + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, b in enumerate(h.buckets):
        y = i * ROW_H + 2
        w = round(b["count"] * BAR_W / peak)
        parts.append(f'<text x="0" y="{y + 13}">{escape(label(b["lo"], b["hi"], h.unit))}</text>')
        parts.append(f'<text x="{LABEL_W + COUNT_W - 8}" y="{y + 13}" text-anchor="end">{b["count"]}</text>')
        parts.append(f'<rect x="{LABEL_W + COUNT_W}" y="{y + 2}" width="{w}" height="{ROW_H - 4}"><title>{b["count"]}</title></rect>')
    parts.append("</svg>")
    if h.stats:
        parts.append("<p>" + escape(", ".join(f"{k} {v}" for k, v in h.stats.items())) + "</p>")
    return "".join(parts)
