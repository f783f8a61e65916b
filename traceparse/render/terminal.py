"""Plain-text tables for people at a terminal (no colour: output is often piped into a ticket)."""
from __future__ import annotations

from tabulate import tabulate

from .cells import grid, headline, numeric
from .histogram import draw


def render(report) -> str:
    out = [report.title, ""]
    if headline(report):
        out += [*headline(report), ""]
    # warnings first: they qualify every number below (lost events bias the percentiles)
    if report.warnings:
        out += [*(f"WARNING: {w}" for w in report.warnings), ""]
    for t in report.tables:
        if not t.rows:
            continue
        heads, rows = grid(t, report)
        align = ["right" if numeric(c) else "left" for c in t.columns]
        out += [t.title, tabulate(rows, heads, tablefmt="simple", colalign=align, disable_numparse=True), ""]
        if t.note:
            out += [t.note, ""]
    for h in report.histograms:
        out += [f"{h.title}, {h.unit}:", *draw(h), ""]
    for n in report.notes:
        out.append(f"note: {n}")
    return "\n".join(out).rstrip() + "\n"
