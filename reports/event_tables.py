"""Tables, histograms and the JSON contract of the any-event reports (events.py runs them)."""
from __future__ import annotations

import json

from .engine.hist import linear_buckets
from .histogram import buckets
from .result import Column, Histogram, Report, Table

LAT = [
    Column("count", "COUNT", "count"), Column("total_ns", "TOTAL", "ns"), Column("mean_ns", "MEAN", "ns"),
    Column("min_ns", "MIN", "ns"), Column("p50_ns", "P50", "ns"), Column("p90_ns", "P90", "ns"),
    Column("p99_ns", "P99", "ns"), Column("max_ns", "MAX", "ns"),
]
HIST_GROUPS = 6  # histograms drawn per distribution: the whole and the busiest groups


def _window(source) -> dict:
    return {"start_ns": source.first_ts_ns, "end_ns": source.last_ts_ns, "duration_ns": source.duration_ns}


def _key_text(key: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in key.items()) or "all"


def build_pair_report(preset, source, runs, counts, opts, warnings) -> Report:
    dur = source.duration_ns
    r = Report(preset.name, f"traceparse {preset.name}: {source.path}", opts.unit, warnings=list(warnings))
    groups, unmatched, slow, slow_total = [], {}, [], 0
    for run in runs:
        gs = run.group_stats(dur)
        t = run.spec
        cols = [Column(g, g.upper()) for g in run.group_by] + LAT[:1]
        if t.errors:
            cols.append(Column("errors", "ERRORS", "count"))
        cols += LAT[1:]
        if t.metric == "oncpu":
            cols.insert(len(run.group_by) + 2, Column("share", "CPU%", "%"))
        rows = []
        for g in gs:
            row = {**{k: ("all" if not g["key"] else g["key"].get(k)) for k in run.group_by}, **g["stats"], **g}
            row["total_ns"] = g["total_ns"]
            if t.metric == "oncpu" and dur:
                g["share"] = row["share"] = round(100.0 * g["total_ns"] / dur, 3)
            rows.append(row)
        r.tables.append(Table(t.metric, t.title, cols, rows))
        for g in gs[:HIST_GROUPS + 1]:
            d = g.pop("_dist")
            r.histograms.append(Histogram(f"{t.metric}:{_key_text(g['key'])}", f"{t.title}, {_key_text(g['key'])}",
                                          opts.unit, buckets(d.log2_unit)))
        for g in gs:
            g.pop("_dist", None)
        groups += gs
        u = run.unmatched()
        unmatched[t.metric] = u
        if u["end_without_start"] or u["start_without_end"] or u["overwritten"]:
            r.notes.append(f"{t.metric}: {u['end_without_start']:,} ends without a start (begun before the capture), "
                           f"{u['start_without_end']:,} starts without an end (still running at its end), "
                           f"{u['overwritten']:,} starts overwritten by a later one (their end was lost or superseded)")
        if u["open_dropped"]:
            r.warnings.append(f"{t.metric}: {u['open_dropped']:,} open starts dropped past the bound (their ends were lost)")
        if run.opts.where is not None and not any(g["count"] for g in gs):
            r.warnings.append(f"{t.metric}: no pair matches --where {run.opts.where.text!r} ({run.filtered_out:,} pairs did not)")
        rows = [dict(s, metric=t.metric) for s in run.slow_rows()]
        slow += rows
        slow_total += run.slow_total
    t0 = source.first_ts_ns or 0
    if slow:
        keys = list(dict.fromkeys(k for row in slow for k in row if k not in ("start_ts_ns", "latency_ns", "args", "metric")))
        what = [Column("metric", "METRIC")] if len(runs) > 1 else []
        cols = [Column("time_s", "TIME(s)", "s"), *what, *[Column(k, k.upper()) for k in keys], Column("latency_ns", "LAT", "ns"), Column("args", "ARGS")]
        rows = [dict(s, time_s=(s["start_ts_ns"] - t0) / 1e9) for s in slow]
        cut = f" ({len(slow):,} of {slow_total:,} shown; --top 0 lists all)" if len(slow) < slow_total else ""
        r.tables.append(Table("slow", "Slowest" + (f" (at least {opts.slower_than_ns:,} ns)" if opts.slower_than_ns else "") + cut, cols, rows))
    urows = [{"metric": m, "what": k, "count": v} for m, u in unmatched.items() for k, v in u.items()]
    r.tables.append(Table("unmatched", "Not paired", [Column("metric", "METRIC"), Column("what", "WHAT"), Column("count", "COUNT", "count")], urows))
    count_data = {}
    for (metric, title, _, by), fc in counts:
        tot = fc.totals()
        rows = [dict(json.loads(g), count=n) for g, n in zip(tot["_g"].to_list(), tot["n"].to_list())]
        count_data[metric] = [{"key": {k: v for k, v in row.items() if k != "count"}, "count": row["count"]} for row in rows]
        r.tables.append(Table(metric, title, [*(Column(b, b.upper()) for b in by), Column("count", "COUNT", "count")], rows))
    _lost_warning(source, r)
    r.data = {
        "report": preset.name, "source": source.as_dict(), "window": _window(source),
        "filters": _filters(opts), "groups": groups, "unmatched": unmatched, "counts": count_data,
        "slow_total": slow_total, "slow": slow, "warnings": r.warnings, "notes": r.notes,
    }
    return r


def _filters(opts) -> dict:
    out = {}
    for k in ("where", "by", "syscall", "func", "start", "end", "slower_than_ns", "top", "arch", "raw"):
        v = getattr(opts, k, None)
        if v not in (None, (), False):
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _lost_warning(source, r: Report) -> None:
    if source.lost_events:
        r.warnings.append(f"the capture lost {source.lost_events:,} events: pairs are missing and percentiles are biased")
    if source.skipped.count:
        r.notes.append(source.skipped.describe())


HIST_COLS = [Column("count", "COUNT", "count"), Column("sum", "SUM", "bytes"), Column("mean", "MEAN", "bytes"), Column("min", "MIN", "bytes"),
             Column("p50", "P50", "bytes"), Column("p90", "P90", "bytes"), Column("p99", "P99", "bytes"), Column("max", "MAX", "bytes"),
             Column("negative", "NEGATIVE", "count")]
VALUE_KEYS = {"mean_ns": "mean", "min_ns": "min", "p50_ns": "p50", "p90_ns": "p90", "p99_ns": "p99", "p999_ns": "p999", "max_ns": "max", "log2_ns": "log2"}


def value_stats(d) -> dict:
    """A STATS object for plain values (not times): block's keys without the _ns, plus sum."""
    s = d.stats()
    out = {VALUE_KEYS.get(k, k): v for k, v in s.items()}
    out["sum"] = d.sum_ns
    return out


def build_hist_report(source, h, opts, kinds) -> Report:
    r = Report("hist", f"traceparse hist: {source.path}", "ns")
    groups = []
    dists = h.dists.groups
    items = sorted(dists.items(), key=lambda kv: (-kv[1].count, kv[0][2]))
    negs = dict(h.negative)
    for (_, _, key), d in items:
        st = value_stats(d)
        groups.append({"key": json.loads(key), "count": d.count + negs.pop(key, 0), "negative": h.negative.get(key, 0), "stats": st})
    for key, n in negs.items():  # groups with negative values alone
        groups.append({"key": json.loads(key), "count": n, "negative": n, "stats": {"count": 0}})
    rows = [{**{b: g["key"].get(b) for b in opts.by}, **g["stats"], "count": g["count"], "negative": g["negative"]} for g in groups]
    r.tables.append(Table("hist", f"{opts.field} of {', '.join(kinds)}", [*(Column(b, b.upper()) for b in opts.by), *HIST_COLS], rows))
    for (_, _, key), d in items[:HIST_GROUPS]:
        label = _key_text(json.loads(key))
        b = linear_buckets(h.linear_counts.get(key, {}), opts.linear) if opts.linear else buckets(d.log2)
        stats = {"count": d.count, "average": d.sum_ns // d.count if d.count else 0, "total": d.sum_ns}
        r.histograms.append(Histogram(f"hist:{label}", f"@{opts.field}[{label}]", "count", b, stats=stats))
        if opts.linear:
            groups[[json.dumps(g["key"]) for g in groups].index(json.dumps(json.loads(key)))]["linear"] = b
    if h.missing:
        r.warnings.append(f"{h.missing:,} events have no numeric {opts.field!r} (the field is absent or not a number)")
    _lost_warning(source, r)
    r.data = {"report": "hist", "source": source.as_dict(), "window": _window(source),
              "filters": {"event": opts.event, "field": opts.field, "by": list(opts.by), "where": opts.where, "linear": opts.linear},
              "events": kinds, "groups": groups, "warnings": r.warnings, "notes": r.notes}
    return r


def build_count_report(source, c, opts, kinds) -> Report:
    r = Report("count", f"traceparse count: {source.path}", "ns")
    tot = c.totals()
    groups = [{"key": json.loads(g), "count": n} for g, n in zip(tot["_g"].to_list(), tot["n"].to_list())]
    cols = [*(Column(b, b.upper()) for b in opts.by), Column("count", "COUNT", "count")]
    r.tables.append(Table("count", f"Events by {', '.join(opts.by)}", cols, [{**g["key"], "count": g["count"]} for g in groups]))
    intervals = []
    if opts.interval_ns:
        per = c.per_interval()
        t0 = source.first_ts_ns or 0
        for g, t, n in zip(per["_g"].to_list(), per["_t"].to_list(), per["n"].to_list()):
            intervals.append({"start_ns": t0 + t, "time_s": t / 1e9, "key": json.loads(g), "count": n})
        r.tables.append(Table("intervals", f"Per {opts.interval_ns / 1e9:g} s", [Column("time_s", "TIME(s)", "s"), *cols[:-1], cols[-1]],
                              [{"time_s": i["time_s"], **i["key"], "count": i["count"]} for i in intervals]))
    _lost_warning(source, r)
    r.data = {"report": "count", "source": source.as_dict(), "window": _window(source),
              "filters": {"event": opts.event, "by": list(opts.by), "where": opts.where, "interval_ns": opts.interval_ns},
              "events": kinds, "groups": groups, "intervals": intervals, "warnings": r.warnings, "notes": r.notes}
    return r
