"""Differential stacks: per folded stack, its share of the base capture's total against the new one's.

    traceparse diff base.txt new.txt --report stacks              # the stacks whose share changed most
    traceparse diff base.txt new.txt --report stacks -o diff.svg  # red grew, blue shrank (difffolded.pl)

Shares, not raw counts: two captures differ in length and rate, so a stack is compared by the
part of its own capture it takes. A stack one side lacks has a share of 0 there. ``report.data``:
``{"report": "diff", "kind": "stacks", "base_total", "new_total", "stacks": [{"stack", "base", "new",
"base_share", "new_share", "delta"}]}``, biggest change (in share points) first.
"""
from __future__ import annotations

import polars as pl

from ..parsers.errors import TraceParseError
from .result import Column, Report, Table
from .stacks_tables import SHOWN_FRAMES, folded_of

TOP = 20
COLUMNS = [
    Column("base_share", "BASE%", "%"), Column("new_share", "NEW%", "%"), Column("delta", "CHANGE(points)", "%"),
    Column("base", "BASE", "count"), Column("new", "NEW", "count"), Column("stack", "STACK (innermost last)"),
]


def stacks_diff(bases: list, news: list) -> Report:
    if len(bases) != 1 or len(news) != 1:
        raise TraceParseError("diff --report stacks compares one base capture with one new capture")
    base, new = bases[0], news[0]
    for s in (base, new):
        if "folded" not in s.data:
            raise TraceParseError(f"{s.label}: no folded stacks in it (diff --report stacks reads captures)")
    b = folded_of(base.data).rename({"w": "base"})
    n = folded_of(new.data).rename({"w": "new"})
    tb, tn = int(b["base"].sum() or 0), int(n["new"].sum() or 0)
    both = b.join(n, on="stack", how="full", coalesce=True).with_columns(pl.col("base", "new").fill_null(0))
    share = lambda c, t: (pl.col(c) * 100.0 / t) if t else pl.lit(0.0)  # noqa: E731
    both = both.with_columns(base_share=share("base", tb), new_share=share("new", tn))
    both = both.with_columns(delta=pl.col("new_share") - pl.col("base_share"))
    both = both.sort([pl.col("delta").abs(), "stack"], descending=[True, False])
    unit = new.data.get("unit", "samples")
    r = Report("diff", f"traceparse diff --report stacks: {base.label} -> {new.label}", new.data.get("display_unit", "us"))
    short = pl.col("stack").str.split(";").list.tail(SHOWN_FRAMES).list.join(";")
    long = pl.col("stack").str.count_matches(";") >= SHOWN_FRAMES
    rows = both.head(TOP).with_columns(pl.col("base_share", "new_share", "delta").round(2),
                                       stack=pl.when(long).then(pl.lit("...;") + short).otherwise("stack")).to_dicts()
    r.tables.append(Table("changed", f"Stacks whose share changed most ({len(rows)} of {both.height:,})", COLUMNS, rows))
    grew = both.filter(pl.col("delta") > 0).height
    head = [f"base {tb:,} {_what(unit)} in {b.height:,} stacks, new {tn:,} in {n.height:,}; "
            f"{grew:,} stacks grew, {both.filter(pl.col('delta') < 0).height:,} shrank (share of each capture's total)"]
    r.notes.append("flame graph of the change: -o FILE.svg (width: new; red grew, blue shrank)")
    r.data = {
        "report": "diff", "kind": "stacks", "headline": head, "unit": unit, "weight": new.data.get("weight"),
        "base": {"label": base.label, "total": tb, "stacks": b.height},
        "new": {"label": new.label, "total": tn, "stacks": n.height},
        "base_total": tb, "stacks": both.to_dicts(),
    }
    return r


def _what(unit: str) -> str:
    return "samples" if unit == "samples" else "ns"
