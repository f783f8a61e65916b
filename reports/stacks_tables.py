"""The stacks Report: the heaviest stacks and functions (columns declared once) and the JSON data.

``report.data``: ``{"report": "stacks", "weight", "unit" ("samples" | "ns"), "event", "total", "events",
"no_stack", "folded": [{"stack": "root;...;leaf", "weight", "count"}] heaviest first}``. The flame
graph (SVG) and speedscope renderers draw from ``folded`` alone.
"""
from __future__ import annotations

import polars as pl

from .result import Column, Report, Table

TITLES = {
    "samples": "CPU samples",
    "d2c": "block requests' issuing stacks, by D2C (issue -> complete)",
    "i2c": "block requests' issuing stacks, by I2C (insert -> complete)",
    "offcpu": "off-CPU time, by the stack each thread switched out with",
    "latency": "pair durations, by the start's stack",
}
SHOWN_FRAMES = 4  # a table row shows the innermost frames of its stack; the JSON holds all


def _columns(unit: str, periods: bool) -> tuple[list[Column], list[Column]]:
    w = Column("weight", "PERIOD" if periods else "SAMPLES", "count") if unit == "samples" else Column("weight", "TIME", "ns")
    stacks = [w, Column("share", "SHARE%", "%"), Column("count", "COUNT", "count"), Column("stack", "STACK (innermost last)")]
    funcs = [Column("self", "SELF", w.unit), Column("self_share", "SELF%", "%"), Column("total", "TOTAL", w.unit),
             Column("total_share", "TOTAL%", "%"), Column("function", "FUNCTION")]
    if unit == "samples":
        stacks.pop(2)
    return stacks, funcs


def _pct(x: pl.Expr, total: int) -> pl.Expr:
    return (x * 100.0 / total).round(2) if total else pl.lit(0.0)


def functions(folded: pl.DataFrame) -> pl.DataFrame:
    """Per frame name: self weight (it is the leaf) and total weight (it is on the stack; counted once
    per stack, so recursion does not count twice), heaviest self first."""
    f = folded.select("stack", "w", frames=pl.col("stack").str.split(";"))
    leaf = f.select(function=pl.col("frames").list.last(), w="w").group_by("function").agg(pl.col("w").sum().alias("self"))
    on = f.explode("frames").unique(["stack", "frames"]).group_by("frames").agg(total=pl.col("w").sum()).rename({"frames": "function"})
    out = on.join(leaf, on="function", how="left").with_columns(pl.col("self").fill_null(0))
    return out.sort(["self", "total", "function"], descending=[True, True, False])


def build_stacks_report(path: str, opts, folded: pl.DataFrame, events: int, event: str | None, no_stack: int = 0,
                        notes=(), exact: bool = False, duration_ns: int = 0) -> Report:
    total = int(folded["w"].sum() or 0)
    unit = opts.unit
    title = f"traceparse stacks: {path}: {TITLES[opts.weight]}"
    r = Report("stacks", title, getattr(opts, "display_unit", "us"), notes=list(notes))
    periods = unit == "samples" and total != events  # perf printed a period column: the weights are periods
    scol, fcol = _columns(unit, periods)
    limit = opts.top or None
    shown = folded.head(limit) if limit else folded
    short = pl.col("stack").str.split(";").list.tail(SHOWN_FRAMES).list.join(";")
    long = pl.col("stack").str.count_matches(";") >= SHOWN_FRAMES
    rows = shown.select(weight="w", share=_pct(pl.col("w"), total), count="n",
                        stack=pl.when(long).then(pl.lit("...;") + short).otherwise("stack")).to_dicts()
    r.tables.append(Table("stacks", f"Heaviest stacks ({min(len(rows), folded.height):,} of {folded.height:,})", scol, rows))
    fn = functions(folded)
    fshown = fn.head(limit) if limit else fn
    frows = fshown.select("self", self_share=_pct(pl.col("self"), total), total="total",
                          total_share=_pct(pl.col("total"), total), function="function").to_dicts()
    r.tables.append(Table("functions", f"Heaviest functions ({len(frows):,} of {fn.height:,})", fcol, frows))
    what = "samples" if opts.weight == "samples" else ("requests" if opts.weight in ("d2c", "i2c") else "pairs")
    head = [f"{events:,} {what}" + (f" of {event}" if event and opts.weight == "samples" else "")
            + f", {folded.height:,} distinct stacks, total {'period ' if periods else 'weight '}{_total_text(total, unit, r.unit)}"]
    if no_stack:
        r.notes.append(f"{no_stack:,} {what} had no call chain: their stack is the thread alone (record with -g)")
    if exact:
        r.notes.append("folded from the perf script lines as stackcollapse-perf.pl folds them (--folded prints them)")
    r.notes.append("flame graph: -o FILE.svg; speedscope: --format json -o FILE.json; folded text: --folded")
    r.data = {
        "report": "stacks", "headline": head, "weight": opts.weight, "unit": unit, "event": event, "total": total,
        "events": events, "periods": periods, "no_stack": no_stack, "duration_ns": duration_ns,
        "folded": folded.select("stack", weight="w", count="n").to_dicts(),
    }
    return r


def _total_text(total: int, unit: str, display: str) -> str:
    from .result import UNIT_NS

    if unit == "samples":
        return f"{total:,}"
    return f"{total / UNIT_NS[display]:,.1f} {display}"


def folded_of(data: dict) -> pl.DataFrame:
    """A stacks report's data (or a saved one) back to (stack, w)."""
    rows = data.get("folded") or []
    return pl.DataFrame(rows, schema={"stack": pl.String, "weight": pl.Int64, "count": pl.Int64}).select("stack", w="weight")
