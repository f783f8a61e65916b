"""The diff's HTML: the verdict first (what changed beyond noise, by how much, which rules fired),
then base and new distributions overlaid, then per-group change bars with their 95% intervals.

Everything comes from the diff's JSON contract (``headline``, ``rules``, ``groups`` with per-stat
``base``, ``new``, ``rel``, ``ci_lo_ns``/``ci_hi_ns`` and ``significant``, and ``log2_ns`` per side).
"""
from __future__ import annotations

from html import escape

from ..reports.result import UNIT_NS
from .cells import TIME_DECIMALS

CHANGE_STATS = (("p50", "p50"), ("p99", "p99"), ("mean", "mean"))
MAX_ROWS = 30  # groups per change chart: the totals, then the largest changes


def diff_sections(report, charts) -> list[str]:
    data = report.data or {}
    out = [_verdict(data)]
    groups = [g for g in data.get("groups") or [] if isinstance(g, dict)]
    totals = [g for g in groups if not g.get("dims") and g.get("log2_ns")]
    if totals:
        out.append("<h2>Distributions, base and new overlaid</h2>")
    for g in totals:
        p50 = (g.get("stats") or {}).get("p50") or {}
        p99 = (g.get("stats") or {}).get("p99") or {}
        marks = [{"side": s, "ns": c.get(s)} for c in (p50, p99) for s in ("base", "new")]
        charts["overlays"].append({"buckets": g["log2_ns"], "marks": marks})
        out += [f"<h3>{escape(g['phase'].upper())} (share of each side's requests; dashed: p50 and p99)</h3>",
                _pair_strip(g, report.unit), f'<div class="chart" data-chart="overlay" data-ref="{len(charts["overlays"]) - 1}"></div>']
    for stat, label in CHANGE_STATS:
        rows = _change_rows(groups, stat)
        if rows:
            charts["changes"].append({"stat": stat, "rows": rows})
            out += [f"<h2>Change of {label} per group, new vs base</h2>",
                    f'<div class="chart" data-chart="change" data-ref="{len(charts["changes"]) - 1}"></div>']
    return out


def _verdict(data: dict) -> str:
    rules = [r for r in data.get("rules") or [] if isinstance(r, dict)]
    fired = [r for r in rules if r.get("fires")]
    sig = sum(1 for g in data.get("groups") or [] for c in (g.get("stats") or {}).values() if isinstance(c, dict) and c.get("significant"))
    if rules:
        cls = "bad" if fired else "ok"
        big = (f"REGRESSION: {len(fired)} of {len(rules)} --fail-on rules fired" if fired
               else f"No --fail-on rule fired ({len(rules)} checked)")
    else:
        cls = "bad" if sig else "ok"
        big = f"{sig} changes beyond sampling noise" if sig else "No change beyond sampling noise"
        big += " (no --fail-on rules given)"
    lines = "".join(f"<p>{escape(str(line))}</p>" for line in data.get("headline") or [])
    items = []
    for r in rules:
        hits = [m for m in r.get("matches") or [] if m.get("fires")]
        state = "FIRES" if r.get("fires") else "holds" if any(m.get("holds") for m in r.get("matches") or []) else "does not hold"
        what = "; ".join(f"{m.get('group')}: {_rel(m.get('rel'))}" for m in hits[:5])
        items.append(f"<li><code>{escape(str(r.get('expr')))}</code>: {state}{escape(' (' + what + ')' if what else '')}</li>")
    rule_list = f"<ul class=\"rules\">{''.join(items)}</ul>" if items else ""
    regression = "yes" if data.get("regression") else "no"
    return (f'<div class="verdict {cls}" data-regression="{regression}"><div class="big">{escape(big)}</div>'
            f"{lines}{rule_list}</div>")


def _rel(v) -> str:
    return "-" if v is None else f"{v * 100:+.1f}%"


def _pair_strip(g: dict, unit: str) -> str:
    st = g.get("stats") or {}
    parts = []
    for stat in ("count", "p50", "p99"):
        c = st.get(stat) or {}
        parts.append(f'<span class="stat" data-group="{escape(g["path"])}" data-stat="{stat}" data-base="{_raw(c.get("base"))}" '
                     f'data-new="{_raw(c.get("new"))}"><b>{stat}</b> {_num(c.get("base"), stat, unit)} -&gt; {_num(c.get("new"), stat, unit)} '
                     f"({_rel(c.get('rel'))}{', significant' if c.get('significant') else ''})</span>")
    return '<div class="stats">' + "".join(parts) + "</div>"


def _raw(v) -> str:
    return "" if v is None else str(v)


def _num(v, stat: str, unit: str) -> str:
    if v is None:
        return "-"
    if stat == "count":
        return f"{int(v)}"
    return f"{v / UNIT_NS[unit]:.{TIME_DECIMALS[unit]}f}{unit}"


def _label(g: dict) -> str:
    dims = g.get("dims") or {}
    return g.get("phase", "?").upper() + (" " + ",".join(f"{k}={v}" for k, v in dims.items()) if dims else " (all)")


def _change_rows(groups: list[dict], stat: str) -> list[dict]:
    rows = []
    for g in groups:
        c = (g.get("stats") or {}).get(stat)
        if not isinstance(c, dict) or c.get("rel") is None or not c.get("base"):
            continue
        lo, hi = c.get("ci_lo_ns"), c.get("ci_hi_ns")
        rows.append({"group": _label(g), "rel": c["rel"], "significant": bool(c.get("significant")),
                     "lo": None if lo is None else lo / c["base"], "hi": None if hi is None else hi / c["base"],
                     "total": not g.get("dims")})
    rows.sort(key=lambda r: (not r["total"], not r["significant"], -abs(r["rel"])))
    return rows[:MAX_ROWS]
