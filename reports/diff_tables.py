"""How a diff is shown: side-by-side tables, the overlaid histogram, the rules' verdicts, the JSON data.

The comparison itself (pairing groups, tests, --fail-on) is in diff.py; this module only lays it out.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import diff_runs as runs
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
# several base runs: BASE is their geometric mean, and the run-to-run verdict joins the sampling one
# (CI95 there: the run-to-run interval of the change, around zero; P and SIGNIFICANT the pooled sampling test)
LAT_RUNS = LAT[:2] + [Column("base_min", "BASE RUNS MIN", "ns"), Column("base_max", "BASE RUNS MAX", "ns")] + LAT[2:6] + [
    Column("run_lo", "RUNS CI95 LO", "ns"), Column("run_hi", "RUNS CI95 HI", "ns")] + LAT[8:] + [Column("runs", "RUN-TO-RUN")]
HIST = [
    Column("range", "RANGE"), Column("base", "BASE", "count"), Column("new", "NEW", "count"), Column("base_pct", "BASE%"),
    Column("new_pct", "NEW%"), Column("bar", "@ both, + more in new, - less in new (share of each side)"),
]
RULES = [
    Column("rule", "RULE"), Column("group", "GROUP"), Column("base", "BASE"), Column("new", "NEW"),
    Column("change", "CHANGE"), Column("sig", "SIGNIFICANT"), Column("result", "RESULT"),
]
RULES_RUNS = RULES[:5] + [Column("base_runs", "BASE RUNS"), Column("runs", "RUN-TO-RUN")] + RULES[5:] + [Column("by", "DECIDED BY")]


def build(bases: list[Side], news: list[Side], pairs: list[Pair], rules: list[dict], opts: DiffOptions) -> Report:
    kind = bases[0].data.get("report")
    multi = len(bases) > 1
    report = Report(kind="diff", title=f"traceparse diff ({kind}): {_sides_label(bases, 'base')} -> {_sides_label(news, 'new')}", unit=opts.unit)
    phases = list(dict.fromkeys(p.phase for p in pairs))
    shown = [p for p in pairs if _shown(p, pairs)]
    for phase in phases:
        rows = [r for p in shown if p.phase == phase for r in _lat_rows(p, opts.unit)]
        if rows:
            title = PHASE_TITLES.get(phase, phase) if kind == "block" else (phase if phase.endswith("latency") else f"{phase} latency")
            report.tables.append(Table(phase, f"{title}: base vs new", LAT_RUNS if multi else LAT, rows))
    report.tables.append(Table("volume", "Requests, IOPS and distribution shape (Kolmogorov-Smirnov)", VOLUME,
                               [_volume_row(p) for p in shown]))
    for p in pairs:
        if not p.dims and (p.base_bins or p.new_bins):
            report.tables.append(Table(f"hist:{p.phase}", f"{p.phase.upper()} histogram, base vs new ({opts.unit})", HIST, _overlay(p, opts.unit)))
    if rules:
        report.tables.append(Table("rules", "--fail-on rules", RULES_RUNS if multi else RULES,
                                   [r for rule in rules for r in _rule_rows(rule, opts)]))
    report.exit_code = 1 if any(r["fires"] for r in rules) else 0
    report.warnings = [f"{name}: {w}" for name, side in _named(bases, "base") + _named(news, "new") for w in side.data.get("warnings", [])]
    tested = sum(1 for p in pairs for c in p.cells.values() if c["verdict"].tested) + sum(1 for p in pairs if p.shape and p.shape.tested)
    report.notes = _notes(bases, news, pairs, shown, opts, tested)
    head = headline(pairs, rules, opts.unit, tested, report.exit_code)
    if multi:
        head = runs_headline(pairs, rules, opts.unit, len(news), report.exit_code)
    else:  # said plainly, just before the rules' verdict
        head.insert(len(head) - 1 if rules else len(head), ONE_RUN_RULES if rules else ONE_RUN)
    report.data = {
        "report": "diff",
        "compares": kind,
        "headline": head,
        "base": _side_dict(bases[0]) if not multi else _runs_dict(bases, "base"),
        "new": _side_dict(news[0]) if len(news) == 1 else _runs_dict(news, "new"),
        "method": {
            "percentiles": "bootstrap, Beta order-statistic draws from the HdrHistogram buckets",
            "mean": "Welch z (normal approximation)", "shape": "two-sample Kolmogorov-Smirnov on binned CDFs",
            "correction": "holm", "alpha": st.ALPHA, "confidence": st.CONFIDENCE, "replicates": st.REPLICATES,
            "seed": st.SEED, "min_count": st.MIN_COUNT, "min_tail": st.MIN_TAIL, "significance_required": opts.significance,
            "run_to_run": _runs_method(len(bases), len(news)),
        },
        "groups": [_group_dict(p) for p in pairs],
        "rules": rules,
        "regression": bool(report.exit_code),
        "warnings": report.warnings,
        "notes": report.notes,
    }
    return report


ONE_RUN = ("one base run: run-to-run variation is unknown, so 'significant' means beyond this pair's sampling noise only, "
           "which two runs of one workload often exceed; give several --base runs to test against it")
ONE_RUN_RULES = ("one base run: run-to-run variation is unknown, so a rule fires on any change beyond this pair's sampling noise, "
                 "even one that reruns of the same workload make; give several --base runs to gate on run-to-run variation")


def _sides_label(sides: list[Side], what: str) -> str:
    if len(sides) == 1:
        return sides[0].label
    return f"{len(sides)} {what} runs ({', '.join(s.label for s in sides[:3])}{', ...' if len(sides) > 3 else ''})"


def _named(sides: list[Side], what: str) -> list[tuple[str, Side]]:
    if len(sides) == 1:
        return [(what, sides[0])]
    return [(f"{what} run {i + 1} ({s.label})", s) for i, s in enumerate(sides)]


def _runs_dict(sides: list[Side], what: str) -> dict:
    return {"label": _sides_label(sides, what), "input": "runs", "runs": [_side_dict(s) for s in sides]}


def _runs_method(n_base: int, n_new: int) -> dict:
    if n_base < 2:
        return {"tested": False, "why_not": "one base run: run-to-run variation unknown", "base_runs": n_base, "new_runs": n_new}
    return {"tested": True, "test": "t interval on log per-run values" + (" (prediction interval for one new run)" if n_new == 1 else
            " (pooled two-sample)"), "confidence": runs.CONFIDENCE, "df": n_base - 1 + n_new - 1,
            "t": runs.t_quantile(n_base - 1 + n_new - 1), "base_runs": n_base, "new_runs": n_new,
            "sampling_floor": "each side's per-run variance is at least its runs' mean bootstrap variance of the log value",
            "rule_fires_when": "it holds, new is beyond the interval on the rule's side, and (percentiles, mean) the pooled sampling test is significant"}


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


HEADLINE_STATS = ("p50", "p99")  # with several base runs, each phase and group is told by these (and the rules' stats)


def runs_headline(pairs: list[Pair], rules: list[dict], unit: str, n_new: int, exit_code: int) -> list[str]:
    """Per phase and group: the base runs' range, the new value, and whether it is within run-to-run variation."""
    stats = list(dict.fromkeys([*HEADLINE_STATS, *(r["stat"] for r in rules)]))
    groups = [p for p in pairs if p.base is not None and p.new is not None and _shown(p, pairs)
              and not set(p.dims) & QUIET_DIMS and len(p.dims) <= 1]
    ruled = {(r["phase"], m["path"]) for r in rules for m in r["matches"]}
    lines = []
    for p in groups:
        parts = [_runs_part(stat, p.cells[stat], unit, n_new) for stat in stats if p.cells[stat]["runs"].base_runs]
        beyond = any(p.cells[stat]["runs"].beyond for stat in stats)
        lines.append((bool(p.dims) and (p.phase, "/".join(p.path)) not in ruled, not beyond,
                      f"{_where(p)} " + "; ".join(x for x in parts if x)))
    lines.sort(key=lambda x: x[:2])  # totals and ruled groups first, then groups beyond, then the rest; stable
    out = [text for *_, text in lines[:HEADLINE_CELLS]]
    if len(lines) > HEADLINE_CELLS:
        rest = lines[HEADLINE_CELLS:]
        out.append(f"and {len(rest)} more groups ({sum(1 for x in rest if not x[1])} beyond run-to-run variation; the tables have them all)")
    cells = [c for p in pairs for c in p.cells.values() if c["runs"].tested]
    beyond = sum(1 for c in cells if c["runs"].beyond and (c["verdict"].significant or not c["verdict"].tested))
    sampling = sum(1 for c in cells if c["verdict"].significant)
    df = next((c["runs"].df for c in cells), None)
    out.append(f"{beyond} of {len(cells)} cells beyond run-to-run variation and sampling noise "
               f"(t interval, {df} degrees of freedom, {runs.CONFIDENCE:.0%}); {sampling} significant on sampling noise alone")
    out += _one_sided(pairs)
    if rules:
        out.append("rules: " + ", ".join(f"{r['expr']} {_rule_state(r)}" for r in rules) + f" (exit {exit_code})")
    return out


def _runs_part(stat: str, c: dict, unit: str, n_new: int) -> str:
    rv, name = c["runs"], {"p999": "p99.9"}.get(stat, stat)
    values = [x for x in rv.base_runs if x is not None]
    news = [x for x in rv.new_runs if x is not None]
    if not values or not news:
        return ""
    new = _value(stat, c["new"], unit)
    if n_new > 1:
        new += f" ({len(news)} runs {_value(stat, min(news), unit)}..{_value(stat, max(news), unit)})"
    text = f"{name} base runs {_value(stat, min(values), unit)}..{_value(stat, max(values), unit)}, new {new}: "
    if not rv.tested:
        return text + f"run-to-run untested ({rv.why_not})"
    if not rv.beyond:
        return text + "within run-to-run variation"
    edge = rv.hi if rv.beyond > 0 else rv.lo
    side = "upper" if rv.beyond > 0 else "lower"
    return text + (f"beyond it, by {rv.ratio / edge - 1:+.1%} (its {side} edge {_value(stat, c['base'] * edge, unit)})"
                   + ("" if c["verdict"].significant or not c["verdict"].tested else ", but not beyond sampling noise"))


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
    held = [m for m in rule["matches"] if m["holds"]]
    if not held:
        return "not met"
    return "holds, within run-to-run variation" if all(m.get("beyond_runs") is False for m in held) else "holds, not significant"


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


def _lat_rows(p: Pair, unit: str) -> list[dict]:
    only = "only in base" if p.new is None else "only in new" if p.base is None else None
    rows = []
    for stat in TIMES:
        c = p.cells[stat]
        v, rv = c["verdict"], c["runs"]
        values = [x for x in rv.base_runs if x is not None]
        rows.append({
            "group": p.name, "stat": stat, "base": c["base"], "new": c["new"], "diff": c["diff"], "rel": _rel(c["rel"]),
            "ci_lo": v.ci_lo, "ci_hi": v.ci_hi, "p": _p(v), "sig": only or _sig(v),
            "base_min": min(values, default=None), "base_max": max(values, default=None), "runs": only or _runs_word(rv),
            "run_lo": c["base"] * (rv.lo - 1) if rv.tested and c["base"] is not None else None,
            "run_hi": c["base"] * (rv.hi - 1) if rv.tested and c["base"] is not None else None,
        })
    return rows


def _runs_word(rv) -> str:
    """'within', 'beyond, +12.0%' (past the interval's edge), or why there is no verdict."""
    if not rv.tested:
        return "1 base run" if (rv.why_not or "").startswith("one base run") else "untested"
    if not rv.beyond:
        return "within"
    edge = rv.hi if rv.beyond > 0 else rv.lo
    return f"beyond, {rv.ratio / edge - 1:+.1%}"


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
        if m["fires"]:
            result = "FIRES"
        elif not m["holds"]:
            result = "no"
        else:
            result = "holds, within run-to-run variation" if m["beyond_runs"] is False else "holds, not significant"
        values = [x for x in m["base_runs"] if x is not None]
        span = f"{_value(stat, min(values), opts.unit)}..{_value(stat, max(values), opts.unit)}" if values else "-"
        beyond = {True: "beyond", False: "within", None: "-"}[m["beyond_runs"]]
        rows.append({"rule": rule["expr"], "group": m["group"], "base": _value(stat, m["base"], opts.unit),
                     "new": _value(stat, m["new"], opts.unit), "change": change, "sig": "yes" if m["significant"] else "no",
                     "result": result, "base_runs": span, "runs": beyond, "by": m["decided_by"]})
    return rows


def _side_dict(side: Side) -> dict:
    d = side.data
    return {"label": side.label, "input": side.input, "schema": side.schema, "source": d.get("source"), "window": d.get("window"),
            "filters": d.get("filters")}


def _group_dict(p: Pair) -> dict:
    stats = {}
    for stat, c in p.cells.items():
        rv = c["runs"]
        stats[stat] = {"base": c["base"], "new": c["new"], "diff": c["diff"], "rel": c["rel"], **c["verdict"].as_dict(),
                       "base_runs": rv.base_runs, "new_runs": rv.new_runs, "run_to_run": rv.as_dict(),
                       "decided_by": _cell_decided(c, p.n_base)}
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


def _cell_decided(c: dict, n_base: int) -> str:
    """Which test gave the cell its verdict: sampling alone with one base run; with several, the one that said 'no'."""
    v, rv = c["verdict"], c["runs"]
    if n_base < 2:
        return "sampling" if v.tested else "none"
    if not rv.tested:
        return "sampling" if v.tested else "none"
    if not rv.beyond:
        return "run-to-run"
    return "sampling" if v.tested and not v.significant else "run-to-run and sampling" if v.tested else "run-to-run"


def _notes(bases: list[Side], news: list[Side], pairs: list[Pair], shown: list[Pair], opts: DiffOptions, tested: int) -> list[str]:
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
    if len(bases) == len(news) == 1:
        n += _pair_notes(bases[0], news[0])
    else:
        n += _runs_notes(bases, news)
    if opts.rules:
        if not opts.significance:
            n.append("--no-significance: --fail-on rules fire on the numbers alone")
        elif len(bases) > 1:
            n.append("--fail-on rules fire only on changes beyond run-to-run variation (on the rule's side) and, for the mean "
                     "and percentiles, beyond sampling noise too")
        else:
            n.append("--fail-on rules fire only on significant changes (count and IOPS rules on the numbers)")
    return n


def _pair_notes(base: Side, new: Side) -> list[str]:
    n = []
    if base.schema != new.schema:
        n.append(f"the reports keep different JSON schemas (base {_schema_of(base)}, new {_schema_of(new)}): "
                 "latency distributions are alike in both and are compared; other renamed keys are not")
    fb, fn = base.data.get("filters") or {}, new.data.get("filters") or {}
    if fb != fn:
        n.append(f"the reports were made with different filters (base {fb or 'none'}, new {fn or 'none'})")
    return n


def _runs_notes(bases: list[Side], news: list[Side]) -> list[str]:
    sides = _named(bases, "base") + _named(news, "new")
    n = []
    if len(bases) > 1:
        n.append(f"run-to-run: each run's statistic is one observation; BASE is the {len(bases)} base runs' geometric mean "
                 f"(count and IOPS: the mean), the interval a t interval on log values with {len(bases) - 1 + len(news) - 1} "
                 f"degrees of freedom ({runs.CONFIDENCE:.0%}); the sampling test runs on each side's runs pooled into one histogram")
    if len({s.schema for _, s in sides}) > 1:
        n.append("the runs keep different JSON schemas (" + ", ".join(f"{name} {_schema_of(s)}" for name, s in sides) + "): "
                 "latency distributions are alike in all and are compared; other renamed keys are not")
    filters = {json.dumps(s.data.get("filters") or {}, sort_keys=True) for _, s in sides}
    if len(filters) > 1:
        n.append("the runs were made with different filters (" + ", ".join(f"{name} {s.data.get('filters') or 'none'}" for name, s in sides) + ")")
    return n


def _schema_of(side: Side) -> str:
    version = side.data.get("traceparse_version")
    if side.input != "saved report":
        return f"{side.schema}, made in this run"
    return f"{side.schema}, written by traceparse {version}" if version else f"{side.schema}: no \"schema\" key, an older traceparse"
