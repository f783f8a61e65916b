"""Exact merges of report data: several captures' reports (or saved JSON reports) made into one.

Nothing is re-read or approximated: HdrHistograms add bucket for bucket (their ``hdr`` encodings
decoded, added, encoded again), log2 buckets add, counts, sums and bytes add, minima and maxima stay
extreme, means are recomputed from the sums and percentiles re-read from the added histograms by the
very code a single report uses (``Distribution.stats``). So the merged block report of three captures
is the block report of their concatenated events, as long as no request is in flight across two
inputs (a request issued at the end of one and completed at the start of the next is two unpaired
halves in the inputs, one request in their concatenation).

The merge is associative (a tree of pairwise merges gives the flat merge): a merged report keeps
one summary per input in ``inputs``, and merging merged reports concatenates those lists.
"""
from __future__ import annotations

from ..parsers.errors import TraceParseError
from .block_tables import PROC_DIST
from .histogram import Distribution, add_distribution, buckets, distribution_of

PHASES = ("d2c", "i2c", "i2d")
GROUPINGS = ("by_device", "by_op", "by_rwbs")
SLOW_ORDER = ("d2c_ns", "ts_ns", "dev", "sector")


def merge(datas: list[dict]) -> dict:
    """Merge reports' JSON data (block, net or info, each one capture's or already merged) into one."""
    if not datas:
        raise TraceParseError("merge: no reports to merge")
    kinds = sorted({d.get("report") for d in datas}, key=str)
    if len(kinds) > 1:
        raise TraceParseError(f"merge: cannot merge reports of different kinds ({', '.join(map(str, kinds))})")
    kind = kinds[0]
    if kind not in ("block", "net", "info"):
        raise TraceParseError(f"merge: {kind} reports cannot be merged yet (block, net and info can)")
    try:
        if kind == "net":
            from .merge_net import merge_net

            return merge_net(datas)
        return merge_block(datas) if kind == "block" else merge_info(datas)
    except TraceParseError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:  # a hand-edited or damaged report
        raise TraceParseError(f"merge: a {kind} report is damaged or not one traceparse wrote "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None


# --- block ------------------------------------------------------------------------------------------

# What a block report must hold to be merged; the second set came with the fleet feature (a report
# saved before it cannot be merged exactly: its STATS lack sum_ns and hdr).
BLOCK_KEYS = ("source", "window", "filters", "latency", "by_process", "unmatched", "slow_total", "slow", "warnings")
FLEET_KEYS = ("unit", "slow_limit", "histograms")
STATS_KEYS = ("sum_ns", "hdr")


def merge_block(datas: list[dict]) -> dict:
    """Inputs of one label (one host's captures, split by time) merge exactly, on one clock; inputs
    of several hosts each keep their own clock (perf times are uptime): IOPS and MB/s are the sum
    of each host's own rate, listing times count from each input's own start, and processes are
    each host's own (label, pid, comm)."""
    for d in datas:
        check_block(d)
    _same(datas, "filters", "were made with different filters")
    _same(datas, "unit", "were made with different --unit (histograms are drawn in it); use one --unit")
    _same(datas, "slow_limit", "were made with different --top/--slower-than")
    return by_host(datas, _combine)


def by_host(datas: list[dict], combine) -> dict:
    """``combine(datas, per_host)`` on one clock within each label, then across labels (hosts)."""
    hosts: dict[tuple, list[dict]] = {}
    for d in datas:
        hosts.setdefault(_labels(d), []).append(d)
    if len(hosts) == 1:
        return combine(datas, per_host=False)
    return combine([g[0] if len(g) == 1 else combine(g, per_host=False) for g in hosts.values()], per_host=True)


def check_block(d: dict) -> None:
    """A block report with what a merge reads, or one line naming what it lacks."""
    who = _label(d)
    missing = [k for k in BLOCK_KEYS if k not in d]
    lat = d.get("latency")
    if isinstance(lat, dict):
        missing += [f"latency.{ph}" for ph in PHASES if not isinstance(lat.get(ph), dict) or "total" not in lat[ph]]
    if missing:
        raise TraceParseError(f"merge: {who}: not a complete block report (no {', '.join(missing)})")
    old = [k for k in FLEET_KEYS if k not in d]
    old += [f"latency.{ph}.total.{k}" for ph in PHASES for k in STATS_KEYS
            if isinstance(lat[ph]["total"], dict) and k not in lat[ph]["total"]]
    if old:
        raise TraceParseError(f"merge: {who}: saved by a traceparse that could not merge yet (no {', '.join(old)}); "
                              "run this traceparse on its capture")


def _labels(d: dict) -> tuple:
    return tuple(sorted({i["label"] for i in d["inputs"]})) if "inputs" in d else (_label(d),)


def _combine(datas: list[dict], per_host: bool) -> dict:
    first = datas[0]
    window = _window([d["window"] for d in datas], per_host)
    dur = window["duration_ns"]
    inputs = [i for d in datas for i in _inputs(d)]
    phase = lambda ph: _merge_phase([d["latency"][ph] for d in datas], dur, per_host)  # noqa: E731
    notes = _union(n for d in datas for n in d.get("notes", []))
    if per_host:
        notes = _union([*notes, HOSTS_NOTE])
    return {
        "report": "block",
        "source": merge_source([d["source"] for d in datas]),
        "window": window,
        "filters": first["filters"],
        "latency": {ph: phase(ph) for ph in PHASES},
        "by_process": _merge_processes(datas, dur, per_host),
        "unmatched": _add_counts([d["unmatched"] for d in datas]),
        "slow_total": sum(d["slow_total"] for d in datas),
        "slow": _merge_slow(datas, per_host),
        "warnings": [f"{i['label']}: {w}" for i in inputs for w in i["warnings"]],
        "notes": notes,
        "unit": first["unit"],
        "slow_limit": first["slow_limit"],
        "histograms": _merge_histograms([d["histograms"] for d in datas]),
        "inputs": inputs,
    }


HOSTS_NOTE = ("inputs of several hosts, each on its own clock: IOPS and MB/s are the sum of each host's own rate, "
              "the window's duration the longest host's, and TIME(s) counts from each input's own start")


def _same(datas: list[dict], key: str, what: str) -> None:
    values = [d.get(key) for d in datas]
    if any(v != values[0] for v in values):
        shown = "; ".join(f"{_label(d)}: {d.get(key)}" for d in datas[:4])
        raise TraceParseError(f"merge: the reports {what} ({shown})")


def _label(d: dict) -> str:
    src = d.get("source")
    return d.get("label") or (src.get("path") if isinstance(src, dict) else None) or d.get("path") or "?"


def _inputs(d: dict) -> list[dict]:
    """One capture's summary, or a merged report's list of them."""
    if "inputs" in d:
        return d["inputs"]
    return [{
        "label": _label(d),
        "source": d["source"],
        "window": d["window"],
        "totals": {ph: d["latency"][ph]["total"] for ph in PHASES},
        "unmatched": d["unmatched"],
        "warnings": d["warnings"],
    }]


def _window(windows: list[dict], per_host: bool = False) -> dict:
    lo, hi = min(w["start_ns"] for w in windows), max(w["end_ns"] for w in windows)
    # several clocks: the span from one host's start to another's end means nothing; the longest host's does
    dur = max(w["duration_ns"] for w in windows) if per_host else hi - lo
    return {"start_ns": lo, "end_ns": hi, "duration_ns": dur}


def merge_stats(nodes: list[dict], duration_ns: int | None, per_host: bool = False) -> dict:
    """STATS objects added: the STATS the concatenated values would give, over ``duration_ns``;
    ``per_host``: each node on its own clock, the rates (iops, mb_s) the sum of the nodes' own."""
    total = Distribution()
    for n in nodes:
        try:
            add_distribution(total, distribution_of(n))
        except ValueError:
            raise TraceParseError(
                "merge: a report lacks the histograms a merge needs (hdr and sum_ns in every STATS; "
                "it was made by an older traceparse): run this traceparse on its capture"
            ) from None
    out = total.stats(duration_ns)
    if per_host:
        for k in ("iops", "mb_s"):
            if k in out or any(k in n for n in nodes):
                out[k] = sum(n.get(k) or 0 for n in nodes)
    return out


def _merge_keyed(maps: list[dict], duration_ns: int | None, per_host: bool) -> dict:
    keys = sorted({k for m in maps for k in m})
    return {k: merge_stats([m[k] for m in maps if k in m], duration_ns, per_host) for k in keys}


def _merge_phase(phases: list[dict], dur: int, per_host: bool) -> dict:
    out = {"total": merge_stats([p["total"] for p in phases], dur, per_host)}
    out.update({g: _merge_keyed([p.get(g, {}) for p in phases], dur, per_host) for g in GROUPINGS})
    by = [p.get("by_dev_op", {}) for p in phases]
    devs = sorted({dev for b in by for dev in b})
    out["by_dev_op"] = {dev: {"by_op": _merge_keyed([b[dev]["by_op"] for b in by if dev in b], dur, per_host)} for dev in devs}
    return out


def _merge_processes(datas: list[dict], dur: int, per_host: bool) -> list[dict]:
    """Processes by (pid, comm), as the concatenated events would group them; of several hosts by
    (label, pid, comm): pid 1234 of web1 and of web2 are two processes."""
    groups: dict[tuple, list[dict]] = {}
    for d in datas:
        for r in d["by_process"]:
            label = (r.get("label") or _labels(d)[0]) if per_host else r.get("label")
            groups.setdefault((label, r["pid"], r["comm"]), []).append(r)
    out = []
    for (label, pid, comm), rows in groups.items():
        if any("d2c" not in r for r in rows):
            raise TraceParseError("merge: a report's processes lack their distributions (made by an older traceparse)")
        d2c, i2c = (merge_stats([r[ph] for r in rows], dur) for ph in ("d2c", "i2c"))
        out.append({
            **({"label": label} if label is not None else {}), "pid": pid, "comm": comm, "count": max(d2c["count"], i2c["count"]), "mb": max(d2c["bytes"], i2c["bytes"]) / 1e6,
            "d2c_mean_ns": d2c["mean_ns"], "d2c_p99_ns": d2c["p99_ns"], "i2c_mean_ns": i2c["mean_ns"], "i2c_p99_ns": i2c["p99_ns"],
            "d2c": {k: d2c[k] for k in PROC_DIST}, "i2c": {k: i2c[k] for k in PROC_DIST},
        })
    return sorted(out, key=lambda r: (-r["count"], r["comm"], r["pid"] or 0, r.get("label") or ""))


def _add_counts(dicts: list[dict]) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _merge_slow(datas: list[dict], per_host: bool) -> list[dict]:
    """The merged listing: what each input listed, labelled, cut the way one report cuts its own.
    Several hosts: each row keeps ``time_ns``, its time from its own input's start (set when the input
    was analysed; a saved one-capture report's from its start here); one host: times count from the
    merged start, as the whole capture's would (no ``time_ns``)."""
    rows = []
    for d in datas:
        t0 = d["source"].get("first_ts_ns") or 0
        for r in d["slow"]:
            r = {"label": _label(d), **r}
            if per_host:
                r.setdefault("time_ns", r["ts_ns"] - t0)
            elif len(_labels(d)) == 1:
                r.pop("time_ns", None)
            rows.append(r)
    # the slowest first; ties: earliest, then by device and sector (as BlockAnalysis._keep_slow)
    rows.sort(key=lambda r: (-r["d2c_ns"], r["ts_ns"], r["dev"], r["sector"]))
    limit = datas[0]["slow_limit"]
    if limit:
        rows = rows[:limit]
    if datas[0]["filters"].get("slower_than_ns") is not None:
        rows.sort(key=lambda r: r["ts_ns"])  # a threshold's listing is in time order
    return rows


def add_buckets(lists: list[list[dict]]) -> list[dict]:
    """log2 bucket lists ({lo, hi, count}) added bucket for bucket."""
    counts: dict[int, int] = {}
    for bs in lists:
        for b in bs:
            k = -1 if b["lo"] == 0 else b["lo"].bit_length() - 1
            counts[k] = counts.get(k, 0) + b["count"]
    return buckets({k: n for k, n in counts.items() if n})


def _merge_histograms(hists: list[dict]) -> dict:
    add = add_buckets
    devs = sorted({dev for h in hists for dev in h["d2c"]["by_device"]})
    return {
        "d2c": {"total": add([h["d2c"]["total"] for h in hists]),
                "by_device": {dev: add([h["d2c"]["by_device"][dev] for h in hists if dev in h["d2c"]["by_device"]]) for dev in devs}},
        "i2c": {"total": add([h["i2c"]["total"] for h in hists])},
    }


def _union(items) -> list:
    seen: dict = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def merge_source(sources: list[dict]) -> dict:
    """The ``source`` object of several inputs: counts add, the span covers them all."""
    by_kind = _add_counts([s["events_by_kind"] for s in sources])
    firsts = [s["first_ts_ns"] for s in sources if s["first_ts_ns"] is not None]
    lasts = [s["last_ts_ns"] for s in sources if s["last_ts_ns"] is not None]
    paths = [p for s in sources for p in s.get("paths", [s["path"]])]
    formats = _union(s["format"] for s in sources)
    skipped = next((s["first_skipped_line"] for s in sources if s["first_skipped_line"] is not None), None)
    return {
        "path": f"{len(paths):,} inputs merged",
        "paths": paths,
        "format": formats[0] if len(formats) == 1 else "mixed",
        "compression": None,
        "events": sum(s["events"] for s in sources),
        "events_by_kind": dict(sorted(by_kind.items())),
        "skipped_lines": sum(s["skipped_lines"] for s in sources),
        "first_skipped_line": skipped,
        "lost_events": sum(s["lost_events"] for s in sources),
        "first_ts_ns": min(firsts) if firsts else None,
        "last_ts_ns": max(lasts) if lasts else None,
    }


# --- info -------------------------------------------------------------------------------------------

def merge_info(datas: list[dict]) -> dict:
    inputs = [i for d in datas for i in (d["inputs"] if "inputs" in d else [_info_input(d)])]
    firsts = [d["first_ts_ns"] for d in datas if d["first_ts_ns"] is not None]
    lasts = [d["last_ts_ns"] for d in datas if d["last_ts_ns"] is not None]
    formats = _union(d["format"] for d in datas)
    return {
        "report": "info",
        "path": f"{len(inputs):,} inputs merged",
        "format": formats[0] if len(formats) == 1 else "mixed",
        "compression": None,
        "events": dict(sorted(_add_counts([d["events"] for d in datas]).items())),
        "cpus": sorted({c for d in datas for c in d["cpus"]}),
        "first_ts_ns": min(firsts) if firsts else None,
        "last_ts_ns": max(lasts) if lasts else None,
        "lost_events": sum(d["lost_events"] for d in datas),
        "lost_by_cpu": dict(sorted(_add_counts([d["lost_by_cpu"] for d in datas]).items(), key=lambda kv: int(kv[0]))),
        "skipped_lines": sum(d["skipped_lines"] for d in datas),
        "first_skipped_line": None,
        "stacks": sum(d["stacks"] for d in datas),
        "warnings": [f"{i['label']}: {w}" for i in inputs for w in i["warnings"]],
        "inputs": inputs,
    }


def _info_input(d: dict) -> dict:
    return {
        "label": d.get("label") or d["path"], "path": d["path"], "format": d["format"], "events": sum(d["events"].values()),
        "first_ts_ns": d["first_ts_ns"], "last_ts_ns": d["last_ts_ns"], "lost_events": d["lost_events"],
        "skipped_lines": d["skipped_lines"], "meta": {k: v for k, v in d.get("meta", {}).items() if k != "cpustat"},
        "warnings": d.get("warnings", []),
    }
