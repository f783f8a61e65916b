"""How a diff is shown: side-by-side tables, the overlaid histogram, the rules' verdicts, the JSON data.

The comparison itself (pairing groups, tests, --fail-on) is in diff.py; this module only lays it out.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import diff_stats as st
from .block_tables import PHASE_TITLES
from .histogram import bucket_label
from .result import UNIT_NS, Column, Report, Table

if TYPE_CHECKING:
    from .diff import DiffOptions, Pair, Side

STATS = {"count": "count", "iops": "iops", "mean": "mean_ns", "p50": "p50_ns", "p90": "p90_ns",
         "p99": "p99_ns", "p999": "p999_ns", "max": "max_ns"}  # rule/table name -> STATS key
TIMES = ("mean", "p50", "p90", "p99", "p999", "max")
QUIET_DIMS = {"rwbs"}  # fine-grained groups: in tables only when something in them is significant
WIDTH = 40

LAT = [
    Column("group", "GROUP"), Column("stat", "STAT"), Column("base", "BASE", "ns"), Column("new", "NEW", "ns"),
    Column("diff", "CHANGE", "ns"), Column("rel", "CHANGE%"), Column("ci_lo", "CI95 LO", "ns"),
    Column("ci_hi", "CI95 HI", "ns"), Column("p", "P(HOLM)"), Column("sig", "SIGNIFICANT"),
]
VOLUME = [
    Column("phase", "PHASE"), Column("group", "GROUP"), Column("base_count", "BASE COUNT", "count"),
    Column("new_count", "NEW COUNT", "count"), Column("count_rel", "COUNT%"), Column("base_iops", "BASE IOPS", "/s"),
    Column("new_iops", "NEW IOPS", "/s"), Column("iops_rel", "IOPS%"), Column("ks_d", "KS D"), Column("ks_p", "KS P(HOLM)"),
    Column("shape", "SHAPE CHANGED"),
]
HIST = [
    Column("range", "RANGE"), Column("base", "BASE", "count"), Column("new", "NEW", "count"), Column("base_pct", "BASE%"),
    Column("new_pct", "NEW%"), Column("bar", "@ both, + more in new, - less in new (share of each side)"),
]
RULES = [
    Column("rule", "RULE"), Column("group", "GROUP"), Column("base", "BASE"), Column("new", "NEW"),
    Column("change", "CHANGE"), Column("sig", "SIGNIFICANT"), Column("result", "RESULT"),
]


def build(base: Side, new: Side, pairs: list[Pair], rules: list[dict], opts: DiffOptions) -> Report:
    kind = base.data.get("report")
    report = Report(kind="diff", title=f"traceparse diff ({kind}): {base.label} -> {new.label}", unit=opts.unit)
    phases = list(dict.fromkeys(p.phase for p in pairs))
    shown = [p for p in pairs if _shown(p, pairs)]
    for phase in phases:
        rows = [r for p in shown if p.phase == phase for r in _lat_rows(p)]
        if rows:
            title = PHASE_TITLES.get(phase, phase) if kind == "block" else f"{phase} latency"
            report.tables.append(Table(phase, f"{title}: base vs new", LAT, rows))
    report.tables.append(Table("volume", "Requests, IOPS and distribution shape (Kolmogorov-Smirnov)", VOLUME,
                               [_volume_row(p) for p in shown]))
    for p in pairs:
        if not p.dims and (p.base_bins or p.new_bins):
            report.tables.append(Table(f"hist:{p.phase}", f"{p.phase.upper()} histogram, base vs new ({opts.unit})", HIST, _overlay(p, opts.unit)))
    if rules:
        report.tables.append(Table("rules", "--fail-on rules", RULES, [r for rule in rules for r in _rule_rows(rule, opts)]))
    report.exit_code = 1 if any(r["fires"] for r in rules) else 0
    report.warnings = [f"{name}: {w}" for name, side in (("base", base), ("new", new)) for w in side.data.get("warnings", [])]
    tested = sum(1 for p in pairs for c in p.cells.values() if c["verdict"].tested) + sum(1 for p in pairs if p.shape and p.shape.tested)
    report.notes = _notes(base, new, pairs, shown, opts, tested)
    report.data = {
        "report": "diff",
        "compares": kind,
        "headline": headline(pairs, rules, opts.unit, tested, report.exit_code),
        "base": _side_dict(base),
        "new": _side_dict(new),
        "method": {
            "percentiles": "bootstrap, Beta order-statistic draws from the HdrHistogram buckets",
            "mean": "Welch z (normal approximation)", "shape": "two-sample Kolmogorov-Smirnov on binned CDFs",
            "correction": "holm", "alpha": st.ALPHA, "confidence": st.CONFIDENCE, "replicates": st.REPLICATES,
            "seed": st.SEED, "min_count": st.MIN_COUNT, "min_tail": st.MIN_TAIL, "significance_required": opts.significance,
        },
        "groups": [_group_dict(p) for p in pairs],
        "rules": rules,
        "regression": bool(report.exit_code),
        "warnings": report.warnings,
        "notes": report.notes,
    }
    return report


HEADLINE_CELLS = 10  # the largest significant changes named in the headline; the rest are counted


def headline(pairs: list[Pair], rules: list[dict], unit: str, tested: int, exit_code: int) -> list[str]:
    """A screen's worth, before the tables: the largest real changes, how many, shape, and the rules' verdict."""
    cells = [(p, stat, p.cells[stat]) for p in pairs for stat in TIMES if p.cells[stat]["verdict"].significant]
    shapes = [p for p in pairs if p.shape is not None and p.shape.significant]
    n_sig = len(cells) + len(shapes)
    # the totals first, then the groups, each by the largest relative change (a change from a zero
    # base has no ratio and leads); a device that is the whole capture would only repeat its total
    named = sorted((x for x in cells if _shown(x[0], pairs)), key=lambda x: (bool(x[0].dims), -_size(x[2]["rel"])))
    shapes_named = sorted((p for p in shapes if _shown(p, pairs)), key=lambda p: bool(p.dims))
    out = [_cell_line(p, stat, c, unit) for p, stat, c in named[:HEADLINE_CELLS]]
    if len(named) > HEADLINE_CELLS:
        out.append(f"and {len(named) - HEADLINE_CELLS} more significant changes (the tables below have them all)")
    out.append(_tally(n_sig, tested, shapes_named))
    out += _one_sided(pairs)
    if rules:
        out.append("rules: " + ", ".join(f"{r['expr']} {_rule_state(r)}" for r in rules) + f" (exit {exit_code})")
    return out


def _tally(n_sig: int, tested: int, shapes: list[Pair]) -> str:
    if not n_sig:
        if tested:
            return f"no significant change (0 of {tested} tested cells)"
        return "no significant change: nothing could be tested (too few values per side, or no histograms)"
    line = f"{n_sig} of {tested} tested cells significant"
    if shapes:
        ks = [f"{_where(p)} (KS p{_p_is(p.shape)})" for p in shapes[:4]]
        line += f"; shape differs: {', '.join(ks)}" + (f" and {len(shapes) - 4} more" if len(shapes) > 4 else "")
    return line


def _one_sided(pairs: list[Pair]) -> list[str]:
    """Devices (or ops, peers) on one side only, once each: the groups within them would only repeat it."""
    only = list(dict.fromkeys(f"{p.name} (only in {'base' if p.new is None else 'new'})" for p in pairs
                              if (p.base is None) != (p.new is None) and _count(p.base or p.new)
                              and len(p.dims) == 1 and not set(p.dims) & QUIET_DIMS))
    if not only:
        return []
    return ["groups on one side: " + ", ".join(only[:5]) + (f" and {len(only) - 5} more" if len(only) > 5 else "")]


def _size(rel: float | None) -> float:
    return float("inf") if rel is None else abs(rel)


def _where(p: Pair, stat: str | None = None) -> str:
    """'D2C', 'D2C p99', 'D2C p99 [dev 8,0 op W]': the phase, the statistic, the group unless it is the total."""
    name = {"p999": "p99.9"}.get(stat, stat)
    return " ".join(x for x in (p.phase.upper(), name, f"[{p.name}]" if p.dims else None) if x)


def _p_is(v: st.Verdict) -> str:
    shown = _p(v)
    return shown if shown.startswith("<") else f"={shown}"


def _cell_line(p: Pair, stat: str, c: dict, unit: str) -> str:
    v, div, dec = c["verdict"], UNIT_NS[unit], {"ns": 0, "us": 1, "ms": 3}[unit]
    values = f"{c['base'] / div:.{dec}f} -> {c['new'] / div:.{dec}f} {unit}"
    if c["base"]:
        ci = f"95% CI {v.ci_lo / c['base'] * 100:+.1f}..{v.ci_hi / c['base'] * 100:+.1f}%"
    else:
        ci = f"95% CI {v.ci_lo / div:+.{dec}f}..{v.ci_hi / div:+.{dec}f} {unit}"
    return f"{_where(p, stat)} {_rel(c['rel'])} ({values}, {ci}), significant"


def _rule_state(rule: dict) -> str:
    if rule["fires"]:
        return "FIRED"
    return "holds, not significant" if any(m["holds"] for m in rule["matches"]) else "not met"


def _shown(p: Pair, pairs: list[Pair]) -> bool:
    """Rows worth a line: not empty, not a copy of the total (one device), fine-grained only when significant."""
    if not _count(p.base) and not _count(p.new):
        return False
    if set(p.dims) & QUIET_DIMS or len(p.dims) > 1:
        return any(c["verdict"].significant for c in p.cells.values())
    if set(p.dims) == {"dev"} and p.base and p.new:
        total = next((q for q in pairs if q.phase == p.phase and not q.dims), None)
        same = total and total.base and total.new and _count(total.base) == _count(p.base) and _count(total.new) == _count(p.new)
        return not same
    return True


def _count(node: dict | None) -> int:
    return (node or {}).get("count") or 0


def _rel(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1%}"


def _p(v: st.Verdict | None) -> str:
    if v is None or v.p_adj is None:
        return "-"
    return "<0.0001" if v.p_adj < 1e-4 else f"{v.p_adj:.4f}"


def _sig(v: st.Verdict | None) -> str:
    if v is None:
        return "-"
    if v.tested:
        return "yes" if v.significant else "no"
    return "too few" if (v.why_not or "").startswith("needs") else "untested"


def _lat_rows(p: Pair) -> list[dict]:
    only = "only in base" if p.new is None else "only in new" if p.base is None else None
    rows = []
    for stat in TIMES:
        c = p.cells[stat]
        v = c["verdict"]
        rows.append({
            "group": p.name, "stat": stat, "base": c["base"], "new": c["new"], "diff": c["diff"], "rel": _rel(c["rel"]),
            "ci_lo": v.ci_lo, "ci_hi": v.ci_hi, "p": _p(v), "sig": only or _sig(v),
        })
    return rows


def _volume_row(p: Pair) -> dict:
    c, n = p.cells["count"], p.cells["iops"]
    return {
        "phase": p.phase, "group": p.name, "base_count": c["base"], "new_count": c["new"], "count_rel": _rel(c["rel"]),
        "base_iops": n["base"], "new_iops": n["new"], "iops_rel": _rel(n["rel"]),
        "ks_d": "-" if p.shape_d is None or p.shape_d != p.shape_d else f"{p.shape_d:.3f}", "ks_p": _p(p.shape),
        "shape": "only in base" if p.new is None else "only in new" if p.base is None else _sig(p.shape),
    }


def log2_counts(b: st.Binned | None, unit_ns: int) -> dict[int, int]:
    """Counts per log2 bucket of values in the display unit (bpftrace's hist(), to HDR resolution)."""
    out: dict[int, int] = {}
    if b is None:
        return out
    for low, n in zip((b.lows // unit_ns).tolist(), b.counts.tolist()):
        k = low.bit_length() - 1  # -1 for 0: the [0, 1) bucket
        out[k] = out.get(k, 0) + n
    return out


def _overlay(p: Pair, unit: str) -> list[dict]:
    hb, hn = log2_counts(p.base_bins, UNIT_NS[unit]), log2_counts(p.new_bins, UNIT_NS[unit])
    ks = set(hb) | set(hn)
    nb, nn = max(sum(hb.values()), 1), max(sum(hn.values()), 1)
    peak = max([hb.get(k, 0) / nb for k in ks] + [hn.get(k, 0) / nn for k in ks] + [1e-12])
    rows = []
    for k in range(min(ks), max(ks) + 1) if ks else ():
        sb, sn = hb.get(k, 0) / nb, hn.get(k, 0) / nn
        wb, wn = round(sb / peak * WIDTH), round(sn / peak * WIDTH)
        bar = "@" * min(wb, wn) + ("+" * (wn - wb) if wn > wb else "-" * (wb - wn))
        rows.append({"range": _label(k, unit), "base": hb.get(k, 0), "new": hn.get(k, 0), "base_pct": f"{sb:.1%}",
                     "new_pct": f"{sn:.1%}", "bar": f"|{bar:<{WIDTH}}|"})
    return rows


def _label(k: int, unit: str) -> str:
    """Bucket k of the overlay (-1: below one unit) labelled as every log2 histogram is."""
    lo, hi = (0, 1) if k < 0 else (1 << k, 1 << (k + 1))
    return bucket_label(lo, hi, unit)


def _value(stat: str, v, unit: str) -> str:
    if v is None:
        return "-"
    if stat in TIMES:
        return f"{v / UNIT_NS[unit]:.{ {'ns': 0, 'us': 1, 'ms': 3}[unit] }f}{unit}"
    return f"{v:.1f}" if stat == "iops" else f"{int(v)}"


def _rule_rows(rule: dict, opts: DiffOptions) -> list[dict]:
    stat = rule["stat"]
    rows = []
    for m in rule["matches"]:
        change = "-" if m["diff"] is None else f"{'+' if m['diff'] >= 0 else ''}{_value(stat, m['diff'], opts.unit)} ({_rel(m['rel'])})"
        result = "FIRES" if m["fires"] else "holds, not significant" if m["holds"] else "no"
        rows.append({"rule": rule["expr"], "group": m["group"], "base": _value(stat, m["base"], opts.unit),
                     "new": _value(stat, m["new"], opts.unit), "change": change, "sig": "yes" if m["significant"] else "no",
                     "result": result})
    return rows


def _side_dict(side: Side) -> dict:
    d = side.data
    return {"label": side.label, "input": side.input, "schema": side.schema, "source": d.get("source"), "window": d.get("window"),
            "filters": d.get("filters")}


def _group_dict(p: Pair) -> dict:
    stats = {}
    for stat, c in p.cells.items():
        stats[stat] = {"base": c["base"], "new": c["new"], "diff": c["diff"], "rel": c["rel"], **c["verdict"].as_dict()}
    shape = None
    if p.shape is not None:
        shape = {"ks_d": None if p.shape_d != p.shape_d else p.shape_d, **p.shape.as_dict()}
        for k in ("ci_lo_ns", "ci_hi_ns"):
            shape.pop(k)
    hb, hn = log2_counts(p.base_bins, 1), log2_counts(p.new_bins, 1)
    ks = sorted(set(hb) | set(hn))
    log2 = [{"lo": 0 if k < 0 else 1 << k, "hi": 1 if k < 0 else 1 << (k + 1), "base": hb.get(k, 0), "new": hn.get(k, 0)}
            for k in range(ks[0], ks[-1] + 1)] if ks else []
    return {
        "path": "/".join(p.path), "phase": p.phase, "dims": p.dims, "base_key": p.base_key,
        "only_in": "base" if p.new is None else "new" if p.base is None else None,
        "stats": stats, "shape": shape, "log2_ns": log2,
    }


def _notes(base: Side, new: Side, pairs: list[Pair], shown: list[Pair], opts: DiffOptions, tested: int) -> list[str]:
    n = [
        f"significant: after Holm's correction over the {tested} tested cells (5% family-wise); percentiles by bootstrap "
        f"({st.REPLICATES:,} replicates from the HDR histograms, seed {st.SEED}), mean by Welch's z, shape by Kolmogorov-Smirnov; "
        f"CI95 is the plain 95% interval of new - base. p90/p99/p99.9 need {st.MIN_TAIL / 0.1:,.0f}/{st.MIN_TAIL / 0.01:,.0f}/"
        f"{st.MIN_TAIL / 0.001:,.0f} values per side, the mean and p50 {st.MIN_COUNT}; max, count and IOPS are not tested",
    ]
    b_only = [p for p in pairs if p.new is None and _count(p.base)]
    n_only = [p for p in pairs if p.base is None and _count(p.new)]
    for side, only in (("base", b_only), ("new", n_only)):
        phases: dict[str, list[str]] = {}
        for p in only:
            phases.setdefault(p.name, []).append(p.phase)
        n += [f"{name}: only in {side} ({', '.join(ph)})" for name, ph in phases.items()]
    b_devs = {p.dims["dev"] for p in b_only if "dev" in p.dims}
    n_devs = {p.dims["dev"] for p in n_only if "dev" in p.dims}
    if b_devs and n_devs:
        n.append(f"devices differ: if they are the same disk renamed, pair them with --map {sorted(b_devs)[0]}={sorted(n_devs)[0]}")
    for p in pairs:
        if p.base is not None and p.new is not None and not p.dims:
            for side, node in (("base", p.base), ("new", p.new)):
                lacking = [s for s, k in STATS.items() if k not in node and s != "iops"]
                if lacking:
                    n.append(f"{p.phase}: the {side} report has no {', '.join(lacking)} (another traceparse version?): not compared")
                if "hdr" not in node:
                    n.append(f"{p.phase}: the {side} report has no histograms (another traceparse version?): changes not tested")
    quiet = {p.name for p in pairs if set(p.dims) & QUIET_DIMS and p.base and p.new and p not in shown}
    if quiet:
        n.append(f"{len(quiet)} groups by rwbs without a significant change are left out here (all are in --format json)")
    single = sorted({p.name for p in pairs if set(p.dims) == {"dev"} and p.base and p.new and p not in shown})
    if single:
        n.append(f"{', '.join(single)}: the only device on both sides; its numbers are the 'all' rows")
    if base.schema != new.schema:
        n.append(f"the reports keep different JSON schemas (base {_schema_of(base)}, new {_schema_of(new)}): "
                 "latency distributions are alike in both and are compared; other renamed keys are not")
    fb, fn = base.data.get("filters") or {}, new.data.get("filters") or {}
    if fb != fn:
        n.append(f"the reports were made with different filters (base {fb or 'none'}, new {fn or 'none'})")
    if opts.rules:
        n.append("--fail-on rules fire only on significant changes (count and IOPS rules on the numbers)" if opts.significance
                 else "--no-significance: --fail-on rules fire on the numbers alone")
    return n


def _schema_of(side: Side) -> str:
    version = side.data.get("traceparse_version")
    if side.input != "saved report":
        return f"{side.schema}, made in this run"
    return f"{side.schema}, written by traceparse {version}" if version else f"{side.schema}: no \"schema\" key, an older traceparse"
