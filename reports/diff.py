"""`traceparse diff`: two captures (or saved JSON reports) side by side, with a verdict on each change.

    traceparse block before.txt --format json -o before.json     # a baseline
    traceparse diff before.json after.txt --fail-on 'd2c.p99>+10%' --fail-on 'i2c.p50>+2ms'

Works on the JSON contract of a report, not on events: every node holding ``count`` and ``hdr``
(a STATS object) is a distribution, named by its path (``latency/d2c/by_device/8,0``), so block
and net reports diff alike. The statistics live in diff_stats.py; the --fail-on language here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..parsers.errors import TraceParseError
from . import diff_stats as st
from .block_tables import PHASE_TITLES
from .result import UNIT_NS, Column, Report, Table

STATS = {"count": "count", "iops": "iops", "mean": "mean_ns", "p50": "p50_ns", "p90": "p90_ns",
         "p99": "p99_ns", "p999": "p999_ns", "max": "max_ns"}
TIMES = ("mean", "p50", "p90", "p99", "p999", "max")
DIM_NAMES = {"device": "dev", "dev_op": "dev"}  # by_device, by_dev_op/<dev>/by_op -> scope "dev"
QUIET_DIMS = {"rwbs"}  # fine-grained groups: in tables only when something in them is significant
WIDTH = 40


@dataclass
class Side:
    """One side of a diff: where it came from and its report's JSON contract."""

    label: str
    input: str  # "capture" | "saved report"
    data: dict


def saved_report(text: str, label: str) -> dict:
    """A saved report's JSON, checked: it must be a traceparse report with latency distributions."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceParseError(f"{label}: starts with '{{' but is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("report"), str):
        raise TraceParseError(f"{label}: JSON but not a traceparse report (no \"report\" key)")
    if not stats_nodes(data):
        raise TraceParseError(f"{label}: a traceparse {data['report']} report has no latency distributions to diff; use block or net reports")
    return data


def stats_nodes(node, path: tuple = ()) -> dict[tuple, dict]:
    """Every STATS object (a dict with ``count`` and ``hdr``, or percentiles from an older version) by path."""
    out: dict[tuple, dict] = {}
    if isinstance(node, dict):
        if "count" in node and ("hdr" in node or "p50_ns" in node):
            return {path: node}
        for k, v in node.items():
            out.update(stats_nodes(v, (*path, str(k))))
    return out


def group_of(path: tuple) -> tuple[str, dict[str, str]]:
    """(phase, {dim: key}) of a STATS path: latency/d2c/by_device/8,0 -> ("d2c", {"dev": "8,0"})."""
    dims = {DIM_NAMES.get(p[3:], p[3:]): path[i + 1] for i, p in enumerate(path[:-1]) if p.startswith("by_")}
    first_by = next((i for i, p in enumerate(path) if p.startswith("by_")), None)
    if first_by is not None:
        phase = path[first_by - 1] if first_by else path[0]
    else:
        phase = path[-2] if len(path) > 1 and path[-1] == "total" else path[-1]
    return phase, dims


# --fail-on -----------------------------------------------------------------------------------------

RULE_RE = re.compile(r"\s*(?P<phase>\w+)\.(?P<stat>\w+)\s*(?:\[(?P<scope>[^\]]*)\])?\s*(?P<op>[<>])\s*(?P<value>.*?)\s*")
VALUE_RE = re.compile(r"(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>%|ns|us|µs|ms|s)?")
TIME_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


@dataclass
class Rule:
    """``PHASE.STAT[scope] OP VALUE``: holds when new - base (or its ratio, for %) is beyond VALUE."""

    expr: str
    phase: str
    stat: str
    scope: dict[str, str]
    op: str
    value: float  # ns, a count, IOPS, or a fraction for relative rules
    relative: bool


def parse_rule(expr: str) -> Rule:
    def bad(what: str) -> TraceParseError:
        return TraceParseError(f"--fail-on {expr!r}: {what}")

    m = RULE_RE.fullmatch(expr)
    if not m:
        raise bad("expected PHASE.STAT OP VALUE, e.g. 'd2c.p99>+10%' or 'i2c.p50[dev=8,0]>+2ms'")
    stat = m["stat"].lower()
    if stat not in STATS:
        raise bad(f"unknown statistic {m['stat']!r}; one of {', '.join(STATS)}")
    v = VALUE_RE.fullmatch(m["value"])
    if not v:
        raise bad(f"value {m['value']!r} is not a change like +10%, -5%, 2ms, +500us" + (" (missing value)" if not m["value"] else ""))
    num = float(v["num"]) * (-1 if v["sign"] == "-" else 1)
    unit = v["unit"]
    if unit == "%":
        value, relative = num / 100, True
    elif stat in TIMES:
        if unit is None:
            raise bad(f"{stat} is a time: give a unit (ns, us, ms, s) or a % change, e.g. {m['value']}us")
        value, relative = num * TIME_UNITS[unit], False
    else:
        if unit is not None:
            raise bad(f"{stat} is not a time: give a number or a % change, not {unit}")
        value, relative = num, False
    return Rule(expr.strip(), m["phase"].lower(), stat, parse_scope(m["scope"], bad), m["op"], value, relative)


def parse_scope(text: str | None, bad) -> dict[str, str]:
    """'dev=8,0,op=W' -> {"dev": "8,0", "op": "W"}: a comma starts a new item only before 'name='."""
    if text is None:
        return {}
    out = {}
    for item in re.split(r",(?=\s*\w+\s*=)", text):
        name, eq, val = item.partition("=")
        if not eq or not name.strip() or not val.strip():
            raise bad(f"scope item {item!r} is not name=value, e.g. [dev=8,0] or [op=W]")
        out[DIM_NAMES.get(name.strip(), name.strip())] = val.strip()
    return out


def parse_map(items) -> dict[str, str]:
    """['8,0=259,2'] -> {"8,0": "259,2"}: a base group key paired with a new one."""
    out = {}
    for item in items or ():
        a, eq, b = item.partition("=")
        if not eq or not a.strip() or not b.strip():
            raise TraceParseError(f"--map {item!r}: expected BASE=NEW, e.g. --map 8,0=259,2")
        out[a.strip()] = b.strip()
    return out


# the diff itself ------------------------------------------------------------------------------------


@dataclass
class DiffOptions:
    unit: str = "us"
    rules: list[Rule] = field(default_factory=list)
    significance: bool = True  # False: --no-significance, rules fire on the numbers alone
    mapping: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.unit not in UNIT_NS:
            raise TraceParseError(f"--unit must be one of ns, us, ms (got {self.unit!r})")


@dataclass
class Pair:
    """One distribution on both sides (or one): its cells and verdicts."""

    path: tuple  # the new side's path (the base's, when only in base)
    phase: str
    dims: dict[str, str]
    base_key: str | None  # the base's key when --map renamed it
    base: dict | None
    new: dict | None
    cells: dict = field(default_factory=dict)  # stat -> {base, new, diff, rel, verdict}
    shape_d: float | None = None
    shape: st.Verdict | None = None
    base_bins: st.Binned | None = None
    new_bins: st.Binned | None = None

    @property
    def name(self) -> str:
        if not self.dims:
            return "all"
        parts = []
        for dim, key in self.dims.items():
            shown = f"{self.base_key}->{key}" if self.base_key and self.base_key != key else key
            parts.append(f"{dim} {shown}")
        return " ".join(parts)


def pair_groups(base: dict, new: dict, mapping: dict[str, str]) -> list[Pair]:
    b_nodes, n_nodes = stats_nodes(base), stats_nodes(new)
    keys_b = {k for p in b_nodes for k in group_of(p)[1].values()}
    for a in mapping:
        if a not in keys_b:
            raise TraceParseError(f"--map {a}={mapping[a]}: no group {a!r} in the base report (it has {', '.join(sorted(keys_b)) or 'none'})")
    renamed = {}
    for p in b_nodes:
        q = tuple(mapping.get(x, x) if i and p[i - 1].startswith("by_") else x for i, x in enumerate(p))
        renamed[q] = p
    pairs = []
    for q in list(n_nodes) + [q for q in renamed if q not in n_nodes]:
        phase, dims = group_of(q)
        bp = renamed.get(q)
        base_key = group_of(bp)[1] if bp else None
        old = next(iter(base_key.values()), None) if base_key else None
        pairs.append(Pair(q, phase, dims, old, b_nodes.get(bp) if bp else None, n_nodes.get(q)))
    return pairs


def _bins(node: dict | None) -> st.Binned | None:
    if not node or not node.get("hdr") or not node.get("count"):
        return None
    return st.Binned.from_hdr(node["hdr"], node.get("max_ns"))


def compare(pair: Pair) -> list[st.Verdict]:
    """Fill the pair's cells; return the verdicts that were tested (for Holm)."""
    b, n = pair.base or {}, pair.new or {}
    pair.base_bins, pair.new_bins = _bins(pair.base), _bins(pair.new)
    both = pair.base_bins is not None and pair.new_bins is not None
    label = "/".join(pair.path)
    tested = []
    for stat, key in STATS.items():
        bv, nv = b.get(key), n.get(key)
        diff = nv - bv if bv is not None and nv is not None else None
        rel = diff / bv if diff is not None and bv else None
        if stat in ("count", "iops"):
            v = st.untested("a rate: no sampling test")
        elif stat == "max":
            v = st.untested("one value: not tested")
        elif diff is None:
            v = st.untested("missing on one side")
        elif not both:
            v = st.untested("no histogram on one side")
        elif stat == "mean":
            v = st.compare_mean(pair.base_bins, pair.new_bins, bv, nv)
        else:
            v = st.compare_percentile(pair.base_bins, pair.new_bins, stat, f"{label}:{stat}")
        pair.cells[stat] = {"base": bv, "new": nv, "diff": diff, "rel": rel, "verdict": v}
        tested += [v] if v.tested else []
    if both:
        pair.shape_d, pair.shape = st.compare_shape(pair.base_bins, pair.new_bins)
        tested += [pair.shape] if pair.shape.tested else []
    return tested


def evaluate(rule: Rule, pairs: list[Pair], opts: DiffOptions) -> dict:
    phases = sorted({p.phase for p in pairs})
    if rule.phase not in phases:
        raise TraceParseError(f"--fail-on {rule.expr!r}: no phase {rule.phase!r} in these reports (they have {', '.join(phases)})")
    mine = [p for p in pairs if p.phase == rule.phase and p.base is not None and p.new is not None]
    hits = [p for p in mine if _in_scope(rule.scope, p)]
    if not hits:
        have = sorted({f"{d}={k}" for p in mine for d, k in p.dims.items()})
        scope = ",".join(f"{d}={v}" for d, v in rule.scope.items())
        if len(rule.scope) > 1 and not any(set(p.dims) == set(rule.scope) for p in mine):
            raise TraceParseError(f"--fail-on {rule.expr!r}: these reports have no groups by {' and '.join(rule.scope)} together; scope one of them")
        raise TraceParseError(f"--fail-on {rule.expr!r}: no group {scope} on both sides (there are: {', '.join(have) or 'only the total'})")
    if not any(STATS[rule.stat] in p.base or STATS[rule.stat] in p.new for p in hits):
        raise TraceParseError(f"--fail-on {rule.expr!r}: these reports have no {rule.stat} for {rule.phase}")
    out = []
    for p in hits:
        c = p.cells[rule.stat]
        x = c["rel"] if rule.relative else c["diff"]
        holds = x is not None and (x > rule.value if rule.op == ">" else x < rule.value)
        v = c["verdict"]
        needs_test = opts.significance and rule.stat not in ("count", "iops")
        fires = holds and (v.significant or not needs_test)
        out.append({"group": p.name, "path": "/".join(p.path), "base": c["base"], "new": c["new"], "diff": c["diff"],
                    "rel": c["rel"], "holds": holds, "significant": v.significant, "fires": fires})
    return {"expr": rule.expr, "phase": rule.phase, "stat": rule.stat, "fires": any(m["fires"] for m in out), "matches": out}


def _in_scope(scope: dict[str, str], p: Pair) -> bool:
    if not scope:
        return not p.dims  # unscoped: the total
    if set(scope) != set(p.dims):
        return False
    return all(val == "*" or val == p.dims[d] or val == p.base_key for d, val in scope.items())


def diff_report(base: Side, new: Side, opts: DiffOptions | None = None) -> Report:
    """Compare two reports' distributions; ``opts.rules`` set ``exit_code`` 1 when one fires."""
    opts = opts or DiffOptions()
    kb, kn = base.data.get("report"), new.data.get("report")
    if kb != kn:
        raise TraceParseError(f"cannot diff a {kb} report ({base.label}) with a {kn} report ({new.label})")
    pairs = pair_groups(base.data, new.data, opts.mapping)
    tested = [v for p in pairs for v in compare(p)]
    st.holm(tested)
    rules = [evaluate(r, pairs, opts) for r in opts.rules]
    return build(base, new, pairs, rules, opts)


__all__ = ["DiffOptions", "Rule", "Side", "diff_report", "parse_map", "parse_rule", "saved_report", "stats_nodes", "PHASE_TITLES"]


# presentation ---------------------------------------------------------------------------------------

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
    report.notes = _notes(base, new, pairs, shown, opts, sum(1 for p in pairs for c in p.cells.values() if c["verdict"].tested)
                          + sum(1 for p in pairs if p.shape and p.shape.tested))
    report.data = {
        "report": "diff",
        "compares": kind,
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
        rows.append({"range": _label(k), "base": hb.get(k, 0), "new": hn.get(k, 0), "base_pct": f"{sb:.1%}",
                     "new_pct": f"{sn:.1%}", "bar": f"|{bar:<{WIDTH}}|"})
    return rows


def _label(k: int) -> str:
    if k < 0:
        return "[0]"
    lo, hi = 1 << k, 1 << (k + 1)
    return f"[{lo}]" if hi - lo == 1 else f"[{_short(lo)}, {_short(hi)})"


def _short(v: int) -> str:
    for suffix, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if v >= size and v % size == 0:
            return f"{v // size}{suffix}"
    return str(v)


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
    return {"label": side.label, "input": side.input, "source": d.get("source"), "window": d.get("window"), "filters": d.get("filters")}


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
    fb, fn = base.data.get("filters") or {}, new.data.get("filters") or {}
    if fb != fn:
        n.append(f"the reports were made with different filters (base {fb or 'none'}, new {fn or 'none'})")
    if opts.rules:
        n.append("--fail-on rules fire only on significant changes (count and IOPS rules on the numbers)" if opts.significance
                 else "--no-significance: --fail-on rules fire on the numbers alone")
    return n
