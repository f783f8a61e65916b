"""Flame graphs of a stacks report: one self-contained SVG (inline script and style, no network),
and speedscope's file format (https://www.speedscope.app/file-format-schema.json).

    traceparse stacks perf.txt -o cpu.svg             # hover: name, weight, share; click: zoom; Search / Ctrl-F
    traceparse diff base.txt new.txt --report stacks -o diff.svg    # red grew, blue shrank (difffolded)

The layout is FlameGraph's: the root at the bottom, a frame's children above it, siblings sorted by
name, widths by weight. Frames are merged per path with polars (no loop over stacks): stacks sorted
by their frames, a frame opens a new box where its path differs from the stack before's.
Colours say where the code runs: kernel (``_[k]``) orange, JIT (``_[j]``) green, inlined (``_[i]``)
aqua, user code warm red-yellow; the annotation is taken off the label and said in the tooltip.
"""
from __future__ import annotations

import json
from html import escape

import polars as pl

from .. import __version__
from ..reports.stacks_tables import folded_of
from .flamegraph_assets import SCRIPT, STYLE

WIDTH, FRAME_H, PAD_TOP, PAD_BOTTOM, XPAD = 1200, 16, 56, 34, 10
MIN_PX = 0.1  # frames narrower than this are left out, as flamegraph.pl does (--minwidth)
KINDS = (("_[k]", "kernel"), ("_[j]", "jit"), ("_[i]", "inline"))


def nodes(folded: pl.DataFrame, weights: tuple[str, ...] = ("w",)) -> pl.DataFrame:
    """Boxes of the flame graph: (depth, name, x, then each weight column summed) over stacks whose
    frames are ``;``-joined in ``stack``; x counts in the first weight, from the left."""
    first = weights[0]
    if not folded.height:
        return pl.DataFrame(schema={"depth": pl.Int32, "name": pl.String, "x": pl.Int64, **{w: pl.Int64 for w in weights}})
    f = folded.with_columns(key=pl.col("stack").str.replace_all(";", "\x01", literal=True)).sort("key")
    f = f.with_row_index("i").with_columns(x=pl.col(first).cum_sum() - pl.col(first), frames=pl.col("stack").str.split(";"))
    ex = f.select("i", "x", *weights, pl.col("frames")).explode("frames").rename({"frames": "name"})
    ex = ex.with_columns(depth=pl.int_range(pl.len()).over("i").cast(pl.Int32))
    prev = ex.select(pl.col("i") + 1, "depth", prev="name")
    ex = ex.join(prev, on=["i", "depth"], how="left").sort(["i", "depth"])
    same = (pl.col("name") == pl.col("prev")).fill_null(False).cast(pl.Int8)
    ex = ex.with_columns(new=same.cum_prod().over("i") == 0)
    ex = ex.sort(["depth", "i"]).with_columns(node=pl.col("new").cast(pl.Int64).cum_sum().over("depth"))
    out = ex.group_by("depth", "node").agg(pl.col("name").first(), pl.col("x").min(), *[pl.col(w).sum() for w in weights])
    return out.sort(["depth", "x"]).drop("node")


def _kind(name: pl.Expr) -> pl.Expr:
    out = pl.lit("user")
    for suffix, kind in reversed(KINDS):
        out = pl.when(name.str.ends_with(suffix)).then(pl.lit(kind)).otherwise(out)
    return out


def _label(name: pl.Expr) -> pl.Expr:
    return name.str.replace(r"_\[[kji]\]$", "")


def _fill(kind: pl.Expr, name: pl.Expr) -> pl.Expr:
    """A stable colour per name within its kind's hue (a hash, so a function keeps its colour across graphs)."""
    h = (name.hash(7) % 1000).cast(pl.Int64)
    r, g, b = (h * 55 // 1000), (h * 80 // 1000), (h * 50 // 1000)
    rgb = {  # flamegraph.pl's "java" palette: kernel orange, JIT green, inlined aqua, user red
        "kernel": (215 + r * 40 // 55, 115 + g * 60 // 80, b // 3),
        "jit": (50 + r, 170 + g // 2, 50 + b // 3),
        "inline": (60 + r // 2, 180 + g // 2, 180 + b // 2),
        "user": (200 + r, 40 + g * 50 // 80, 40 + b),
    }
    out = None
    for k, (cr, cg, cb) in rgb.items():
        c = pl.format("rgb({},{},{})", cr, cg, cb)
        out = pl.when(kind == k).then(c) if out is None else out.when(kind == k).then(c)
    return out.otherwise(pl.lit("rgb(200,200,200)"))


def _diff_fill(delta: pl.Expr, peak: float) -> pl.Expr:
    """difffolded's colouring: red where the share grew, blue where it shrank, white where equal."""
    t = (delta.abs() / (peak or 1.0)).clip(0, 1)
    fade = (255 - t * 200).round(0).cast(pl.Int64)
    return pl.when(delta > 0).then(pl.format("rgb(255,{},{})", fade, fade)).when(delta < 0).then(
        pl.format("rgb({},{},255)", fade, fade)).otherwise(pl.lit("rgb(250,250,250)"))


def svg(report, diff: bool = False) -> str:
    """The report's flame graph as SVG text (``report.data`` of a stacks report, or a stacks diff's)."""
    data = report.data
    unit = data.get("unit", "samples")
    if diff:
        f = pl.DataFrame(data["stacks"], schema={"stack": pl.String, "base": pl.Int64, "new": pl.Int64, **_DIFF_EXTRA})
        box = nodes(f.select("stack", w="new", base="base"), ("w", "base"))
        tb, tn = int(f["base"].sum() or 0), int(f["new"].sum() or 0)
        box = box.with_columns(delta=pl.col("w") / (tn or 1) - pl.col("base") / (tb or 1))
        peak = float(box["delta"].abs().max() or 0.0)
        box = box.with_columns(fill=_diff_fill(pl.col("delta"), peak))
    else:
        box = nodes(folded_of(data))
        box = box.with_columns(fill=_fill(_kind(pl.col("name")), pl.col("name")), delta=pl.lit(None, pl.Float64), base=pl.lit(None, pl.Int64))
    total = int(box.filter(pl.col("depth") == 0)["w"].sum() or 0)
    depth = int(box["depth"].max() or 0) + 1 if box.height else 1
    height = PAD_TOP + depth * FRAME_H + PAD_BOTTOM
    scale = (WIDTH - 2 * XPAD) / total if total else 0.0
    box = box.filter(pl.col("w") * scale >= MIN_PX)
    title = data.get("title") or report.title
    meta = {"total": total, "unit": unit, "label": "period" if data.get("periods") else "samples", "diff": diff, "base_total": data.get("base_total"), "width": WIDTH,
            "xpad": XPAD, "frame_h": FRAME_H}
    head = [
        f'<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" onload="init(evt)">',
        f"<style>{STYLE}</style>",
        f"<script><![CDATA[\nvar META = {json.dumps(meta)};\n{SCRIPT}\n]]></script>",
        f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{height}"/>',
        f'<text id="title" x="{WIDTH // 2}" y="24" text-anchor="middle">{escape(title)}</text>',
        f'<text id="unzoom" class="hide" x="{XPAD}" y="24">Reset Zoom</text>',
        f'<text id="search" x="{WIDTH - XPAD}" y="24" text-anchor="end">Search</text>',
        f'<text id="matched" x="{WIDTH - XPAD}" y="{height - 12}" text-anchor="end"></text>',
        f'<text id="details" x="{XPAD}" y="{height - 12}"> </text>',
        f'<text id="legend" x="{WIDTH // 2}" y="44" text-anchor="middle">{escape(_legend(diff))}</text>',
        '<g id="frames">',
    ]
    body = _frames(box, depth, height, scale)
    return "\n".join([*head, body, "</g>", "</svg>"]) + "\n"


_DIFF_EXTRA = {"base_share": pl.Float64, "new_share": pl.Float64, "delta": pl.Float64}


def _legend(diff: bool) -> str:
    if diff:
        return "width: the new capture; red: its share grew, blue: shrank (share of each capture's total)"
    return "kernel: orange, JIT: green, inlined: aqua, user: red-yellow; click to zoom, Ctrl-F to search"


def _frames(box: pl.DataFrame, depth: int, height: int, scale: float) -> str:
    """One <g> per box; its data-* attributes are what the script zooms and searches by."""
    y0 = height - PAD_BOTTOM - FRAME_H
    g = box.select(
        x=pl.col("x"), w=pl.col("w"), depth="depth", fill="fill",
        name=_label(pl.col("name")), kind=_kind(pl.col("name")),
        base=pl.col("base"), delta=pl.col("delta"),
    )
    px = (pl.col("x") * scale + XPAD).round(2)
    pw = (pl.col("w") * scale).round(2)
    y = y0 - pl.col("depth") * FRAME_H
    esc = _escape(pl.col("name"))
    extra = pl.when(pl.col("delta").is_not_null()).then(
        pl.format(' data-b="{}" data-d="{}"', pl.col("base"), (pl.col("delta") * 100).round(3))).otherwise(pl.lit(""))
    line = pl.format(
        '<g class="f" data-x="{}" data-w="{}" data-l="{}" data-k="{}"{}><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}"/><text x="{}" y="{}"></text></g>',
        "x", "w", "depth", "kind", extra, esc, px, y, pw, pl.lit(FRAME_H - 1), "fill", px + 3, y + FRAME_H - 4,
    )
    return "\n".join(g.select(line.alias("l"))["l"].to_list())


def _escape(s: pl.Expr) -> pl.Expr:
    return (s.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True).str.replace_all('"', "&quot;", literal=True))


def folded(report) -> str:
    """``stack weight`` lines sorted as bytes: what stackcollapse-perf.pl prints."""
    f = folded_of(report.data).sort("stack")
    if not f.height:
        return ""
    return "\n".join(f.select(pl.format("{} {}", "stack", "w"))["stack"].to_list()) + "\n"


def speedscope(report) -> str:
    """The stacks as a speedscope file: one sampled profile, each folded stack once with its weight."""
    data = report.data
    f = folded_of(data).with_columns(frames=pl.col("stack").str.split(";"))
    names = f.select(pl.col("frames").explode().unique(maintain_order=True).alias("name")).with_row_index("idx")
    ex = f.with_row_index("i").select("i", pl.col("frames")).explode("frames")
    ex = ex.with_row_index("pos").join(names, left_on="frames", right_on="name", how="left").sort("pos")
    samples = ex.group_by("i", maintain_order=True).agg(pl.col("idx").cast(pl.Int64)).sort("i")["idx"].to_list()
    unit = "nanoseconds" if data.get("unit") == "ns" else "none"
    total = int(f["w"].sum() or 0)
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "exporter": f"traceparse {__version__}",
        "name": report.title,
        "activeProfileIndex": 0,
        "shared": {"frames": [{"name": n} for n in names["name"].to_list()]},
        "profiles": [{
            "type": "sampled", "name": f"{data.get('weight', 'samples')}" + (f" of {data['event']}" if data.get("event") else ""),
            "unit": unit, "startValue": 0, "endValue": total,
            "samples": samples, "weights": f["w"].to_list(),
        }],
        "traceparse": {k: v for k, v in data.items() if k != "headline"},
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"
