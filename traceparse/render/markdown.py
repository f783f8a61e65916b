"""GitHub/Jira-ready markdown: pipe tables that paste into a ticket as they are."""
from __future__ import annotations

from tabulate import tabulate

from .cells import grid, headline, numeric
from .histogram import draw


def render(report) -> str:
    out = [f"## {report.title}", ""]
    if headline(report):
        out += [*(f"- {line}" for line in headline(report)), ""]
    for w in report.warnings:
        out += [f"> **Warning:** {w}", ""]
    for t in report.tables:
        if not t.rows:
            continue
        heads, rows = grid(t, report)
        align = ["right" if numeric(c) else "left" for c in t.columns]
        out += [f"### {t.title}", "", tabulate(rows, heads, tablefmt="github", colalign=align, disable_numparse=True), ""]
    for h in report.histograms:
        out += [f"### {h.title}, {h.unit}", "", "```", *draw(h), "```", ""]
    for n in report.notes:
        out.append(f"- {n}")
    return "\n".join(out).rstrip() + "\n"
