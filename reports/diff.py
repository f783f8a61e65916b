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
from . import diff_runs as runs
from . import diff_stats as st
from .block_tables import PHASE_TITLES
from .diff_tables import STATS, TIMES, build
from .result import SCHEMA, UNIT_NS, Report

READS_SCHEMAS = (1, 2, SCHEMA)  # 1 -> 2 renamed net's size keys; 2 -> 3 added block keys only; latency STATS alike
DIM_NAMES = {"device": "dev", "dev_op": "dev"}  # by_device, by_dev_op/<dev>/by_op -> scope "dev"


@dataclass
class Side:
    """One side of a diff: where it came from and its report's JSON contract."""

    label: str
    input: str  # "capture" | "saved report"
    data: dict

    @property
    def schema(self) -> int:
        """A saved report says its schema (none: 1); a report made in this run is this version's."""
        return self.data.get("schema", 1 if self.input == "saved report" else SCHEMA)


def saved_report(text: str, label: str) -> dict:
    """A saved report's JSON, checked: it must be a traceparse report with latency distributions."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceParseError(f"{label}: starts with '{{' but is not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("traceparse"), dict) and data["traceparse"].get("report") == "stacks":
        return data["traceparse"]  # a stacks report saved as speedscope's file: its folded stacks
    if not isinstance(data, dict) or not isinstance(data.get("report"), str):
        raise TraceParseError(f"{label}: JSON but not a traceparse report (no \"report\" key)")
    schema = data.get("schema", 1)  # schema 1 reports had no key
    if type(schema) is not int or schema not in READS_SCHEMAS:  # bool and 2.0 are not schema numbers
        raise TraceParseError(f"{label}: a report of schema {json.dumps(schema)}; this traceparse reads schema "
                              f"{' and '.join(map(str, READS_SCHEMAS))} (a newer traceparse wrote it? upgrade, or diff the capture)")
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
            if k == "groups" and isinstance(v, list):
                out.update(_preset_groups(v))
            else:
                out.update(stats_nodes(v, (*path, str(k))))
    return out


def _preset_groups(groups: list) -> dict[tuple, dict]:
    """The any-event presets' ``groups: [{metric, key: {syscall: write}, stats}]`` as the paths
    block's nested dicts have: (latency, by_syscall, write), (latency, total) for the whole; so the
    rules name them alike: ``p99[syscall=write]``, ``runq.p99``."""
    out = {}
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("stats"), dict) or "hdr" not in g["stats"]:
            continue
        metric = str(g.get("metric") or "latency")
        key = g.get("key") or {}
        path = (metric, *(x for k, v in key.items() for x in (f"by_{k}", str(v)))) if key else (metric, "total")
        out[path] = g["stats"]
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

RULE_RE = re.compile(r"\s*(?:(?P<phase>\w+)\.)?(?P<stat>\w+)\s*(?:\[(?P<scope>[^\]]*)\])?\s*(?P<op>[<>])\s*(?P<value>.*?)\s*")
VALUE_RE = re.compile(r"(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>%|ns|us|µs|ms|s)?")
TIME_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


@dataclass
class Rule:
    """``PHASE.STAT[scope] OP VALUE``: holds when new - base (or its ratio, for %) is beyond VALUE."""

    expr: str
    phase: str | None  # None: the reports' only distribution kind (a preset's "latency")
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
    return Rule(expr.strip(), m["phase"].lower() if m["phase"] else None, stat, parse_scope(m["scope"], bad), m["op"], value, relative)


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
    """One distribution on both sides (or one): its cells and verdicts. A side may be several runs."""

    path: tuple  # the new side's path (the base's, when only in base)
    phase: str
    dims: dict[str, str]
    base_key: str | None  # the base's key when --map renamed it
    base: dict | None  # one run: its STATS node; several: their summary (runs.summary)
    new: dict | None
    base_dims: dict[str, str] = field(default_factory=dict)  # the base's own {dim: key}, before --map
    cells: dict = field(default_factory=dict)  # stat -> {base, new, diff, rel, verdict, runs}
    shape_d: float | None = None
    shape: st.Verdict | None = None
    base_bins: st.Binned | None = None  # several runs: pooled into one histogram
    new_bins: st.Binned | None = None
    base_runs: list = field(default_factory=list)  # each run's node (None: the group is not in that run)
    new_runs: list = field(default_factory=list)

    @property
    def name(self) -> str:
        if not self.dims:
            return "all"
        parts = []
        for dim, key in self.dims.items():
            was = self.base_dims.get(dim, key)  # per dim: in by_dev_op, the op is never the device's old name
            parts.append(f"{dim} {was}->{key}" if was != key else f"{dim} {key}")
        return " ".join(parts)

    @property
    def n_base(self) -> int:
        return sum(1 for x in self.base_runs if x is not None)


def pair_groups(bases: list[dict], news: list[dict], mapping: dict[str, str]) -> list[Pair]:
    """Pair each distribution across the runs of both sides by its path (after --map)."""
    b_nodes, n_nodes = [stats_nodes(b) for b in bases], [stats_nodes(n) for n in news]
    keys_b = {k for nodes in b_nodes for p in nodes for k in group_of(p)[1].values()}
    for a in mapping:
        if a not in keys_b:
            raise TraceParseError(f"--map {a}={mapping[a]}: no group {a!r} in the base report (it has {', '.join(sorted(keys_b)) or 'none'})")
    renamed: dict[tuple, tuple] = {}
    for nodes in b_nodes:
        for p in nodes:
            renamed.setdefault(tuple(mapping.get(x, x) if i and p[i - 1].startswith("by_") else x for i, x in enumerate(p)), p)
    new_paths = list(dict.fromkeys(q for nodes in n_nodes for q in nodes))
    pairs = []
    for q in new_paths + [q for q in renamed if q not in set(new_paths)]:
        phase, dims = group_of(q)
        bp = renamed.get(q)
        base_dims = group_of(bp)[1] if bp else {}
        old = next(iter(base_dims.values()), None)
        b_runs = [nodes.get(bp) if bp else None for nodes in b_nodes]
        n_runs = [nodes.get(q) for nodes in n_nodes]
        pairs.append(Pair(q, phase, dims, old, runs.summary(b_runs), runs.summary(n_runs), base_dims,
                          base_runs=b_runs, new_runs=n_runs))
    return pairs


def compare(pair: Pair) -> list[st.Verdict]:
    """Fill the pair's cells; return the verdicts that were tested (for Holm)."""
    b, n = pair.base or {}, pair.new or {}
    b_bins, n_bins = runs.run_bins(pair.base_runs), runs.run_bins(pair.new_runs)
    pair.base_bins, pair.new_bins = runs.pool(b_bins), runs.pool(n_bins)
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
        elif stat == "mean":  # the exact means of the pooled runs (one run: its own)
            v = st.compare_mean(pair.base_bins, pair.new_bins, runs.pooled_mean(pair.base_runs), runs.pooled_mean(pair.new_runs))
        else:
            v = st.compare_percentile(pair.base_bins, pair.new_bins, stat, f"{label}:{stat}")
        rv = runs.cell_runs(pair.base_runs, pair.new_runs, b_bins, n_bins, stat, key, label)
        pair.cells[stat] = {"base": bv, "new": nv, "diff": diff, "rel": rel, "verdict": v, "runs": rv}
        tested += [v] if v.tested else []
    if both:
        pair.shape_d, pair.shape = st.compare_shape(pair.base_bins, pair.new_bins)
        tested += [pair.shape] if pair.shape.tested else []
    return tested


def evaluate(rule: Rule, pairs: list[Pair], opts: DiffOptions) -> dict:
    phases = sorted({p.phase for p in pairs})
    if rule.phase is None:  # 'p99[syscall=write]>+20%': the one kind of distribution the reports have
        if len(phases) != 1:
            raise TraceParseError(f"--fail-on {rule.expr!r}: name what to compare, PHASE.{rule.stat} (these reports have {', '.join(phases)})")
        rule.phase = phases[0]
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
        v, rv = c["verdict"], c["runs"]
        decided = decided_by(rule, p, opts)
        fires = holds and decided["passes"]
        out.append({"group": p.name, "path": "/".join(p.path), "base": c["base"], "new": c["new"], "diff": c["diff"],
                    "rel": c["rel"], "holds": holds, "significant": v.significant, "beyond_runs": decided["beyond_runs"],
                    "base_runs": rv.base_runs, "new_runs": rv.new_runs, "run_to_run": rv.as_dict(), "decided_by": decided["by"],
                    "fires": fires})
    return {"expr": rule.expr, "phase": rule.phase, "stat": rule.stat, "fires": any(m["fires"] for m in out), "matches": out}


def decided_by(rule: Rule, p: Pair, opts: DiffOptions) -> dict:
    """Which tests stand between a rule that holds and its firing, and whether the change passes them.

    Sampling: the bootstrap/Welch test (count, iops and max have none). Run-to-run, with two or more
    base runs: new must lie beyond the base runs' interval on the rule's side (above for '>', below for '<').
    """
    c = p.cells[rule.stat]
    v, rv = c["verdict"], c["runs"]
    sampled = rule.stat not in ("count", "iops", "max")
    if not opts.significance:
        return {"by": "none (--no-significance)", "passes": True, "beyond_runs": None}
    if p.n_base < 2:
        if not sampled:
            return {"by": "none (no test for a rate)" if rule.stat != "max" else "sampling (max is never tested)",
                    "passes": rule.stat != "max", "beyond_runs": None}
        return {"by": "sampling", "passes": v.significant, "beyond_runs": None}
    beyond = rv.tested and rv.beyond == (1 if rule.op == ">" else -1)
    if not beyond:
        return {"by": "run-to-run", "passes": False, "beyond_runs": False}
    up = rule.op == ">"  # the pooled runs' sampling interval must lie on the rule's side of zero too
    if sampled and not (v.significant and v.ci_lo is not None and (v.ci_lo > 0 if up else v.ci_hi < 0)):
        return {"by": "sampling", "passes": False, "beyond_runs": True}
    return {"by": "run-to-run and sampling" if sampled else "run-to-run", "passes": True, "beyond_runs": True}


def _in_scope(scope: dict[str, str], p: Pair) -> bool:
    if not scope:
        return not p.dims  # unscoped: the total
    if set(scope) != set(p.dims):
        return False
    return all(val in ("*", p.dims[d], p.base_dims.get(d)) for d, val in scope.items())


def diff_report(base: Side | list[Side], new: Side | list[Side], opts: DiffOptions | None = None) -> Report:
    """Compare two reports' distributions, or two sets of runs; ``opts.rules`` set ``exit_code`` 1 when one fires."""
    opts = opts or DiffOptions()
    bases, news = (base if isinstance(base, list) else [base]), (new if isinstance(new, list) else [new])
    kb = bases[0].data.get("report")
    for s in bases[1:] + news:
        if s.data.get("report") != kb:
            raise TraceParseError(f"cannot diff a {kb} report ({bases[0].label}) with a {s.data.get('report')} report ({s.label})")
    if kb == "stacks":  # shares of folded stacks, not distributions
        from .diff_stacks import stacks_diff

        return stacks_diff(bases, news)
    pairs = pair_groups([s.data for s in bases], [s.data for s in news], opts.mapping)
    tested = [v for p in pairs for v in compare(p)]
    st.holm(tested)
    rules = [evaluate(r, pairs, opts) for r in opts.rules]
    return build(bases, news, pairs, rules, opts)


__all__ = ["DiffOptions", "Rule", "Side", "diff_report", "parse_map", "parse_rule", "saved_report", "stats_nodes", "PHASE_TITLES"]
