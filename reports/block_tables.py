"""Turn a finished BlockAnalysis into a Report: tables (columns declared once) and the JSON contract."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..parsers.source import Source
from .histogram import buckets
from .open_requests import MAX_OPEN
from .result import Column, Histogram, Report, Table
from .shared import shown_of

if TYPE_CHECKING:
    from .block import BlockAnalysis

PHASE_TITLES = {
    "d2c": "D2C latency (issue -> complete: driver and device)",
    "i2c": "I2C latency (insert -> complete: scheduler, driver and device)",
    "i2d": "I2D latency (insert -> issue: queued in the I/O scheduler)",
}
OP_NAMES = {"R": "read", "W": "write", "D": "discard", "F": "flush", "N": "none", "?": "unknown"}
LAT = [
    Column("count", "COUNT", "count"),
    Column("iops", "IOPS", "/s"),
    Column("mb_s", "MB/s", "MB/s"),
    Column("mean_ns", "MEAN", "ns"),
    Column("min_ns", "MIN", "ns"),
    Column("p50_ns", "P50", "ns"),
    Column("p90_ns", "P90", "ns"),
    Column("p99_ns", "P99", "ns"),
    Column("p999_ns", "P99.9", "ns"),
    Column("max_ns", "MAX", "ns"),
]
PROC = [
    Column("pid", "PID"),
    Column("comm", "COMM"),
    Column("count", "COUNT", "count"),
    Column("mb", "MB", "MB"),
    Column("d2c_mean_ns", "D2C MEAN", "ns"),
    Column("d2c_p99_ns", "D2C P99", "ns"),
    Column("i2c_mean_ns", "I2C MEAN", "ns"),
    Column("i2c_p99_ns", "I2C P99", "ns"),
]
SLOW = [
    Column("time_s", "TIME(s)", "s"),
    Column("comm", "COMM"),
    Column("pid", "PID"),
    Column("dev", "DEV"),
    Column("rwbs", "RWBS"),
    Column("sector", "SECTOR"),
    Column("bytes", "BYTES", "count"),
    Column("i2d_ns", "I2D", "ns"),
    Column("d2c_ns", "D2C", "ns"),
    Column("i2c_ns", "I2C", "ns"),
]
UNMATCHED = [Column("what", "UNPAIRED"), Column("count", "COUNT", "count"), Column("meaning", "MEANING")]
MEANINGS = {
    "complete_without_issue": "complete with no issue before it (started before the capture, issue lost, or the zero-length end of a flush)",
    "issue_without_complete": "issued, not completed by the end of the capture (in flight, or complete lost)",
    "insert_without_complete": "inserted, never issued or completed by the end of the capture",
    "overwritten": "insert/issue that replaced an open request's earlier one (same dev, sector): a re-issue, or a lost complete",
    "op_mismatch": "complete whose op (R/W/...) differs from the issue at that sector: not paired",
    "partial_completions": "partial completions followed to the request's last part",
    "requeues": "block_rq_requeue events (the next issue restarts D2C)",
    "negative_latency": "pairs whose end precedes their start (clock skew): left out",
    "open_dropped": f"of the unpaired above: dropped when more than {MAX_OPEN:,} requests were open (their completes were lost)",
}
TOP_PROCESSES = 10


def rwbs_flags(rwbs: str) -> str:
    """'FWFS' -> 'preflush,write,fua,sync': blk_fill_rwbs() read back."""
    out, rest = [], rwbs
    if len(rest) > 1 and rest[0] == "F" and rest[1] in "WDRFN":
        out.append("preflush")
        rest = rest[1:]
    if rest:
        out.append(OP_NAMES.get(rest[0], rest[0]))
        names = {"F": "fua", "A": "ahead", "S": "sync", "M": "meta", "E": "secure-erase"}
        out += [names.get(c, c) for c in rest[1:]]
    return ",".join(out)


def build_report(a: BlockAnalysis, source: Source) -> Report:
    lo, hi = a.window_ns(source)
    dur = hi - lo
    d = a.dists
    latency = {}
    for phase in PHASE_TITLES:
        latency[phase] = {
            "total": d.get(phase, "total").stats(dur),
            "by_device": {k: d.get(phase, "dev", k).stats(dur) for k in d.keys(phase, "dev")},
            "by_op": {k: d.get(phase, "op", k).stats(dur) for k in d.keys(phase, "op")},
            "by_rwbs": {k: d.get(phase, "rwbs", k).stats(dur) for k in d.keys(phase, "rwbs")},
            "by_dev_op": _dev_op(d, phase, dur),
        }
    procs = _processes(a, dur)
    t0 = source.first_ts_ns or 0
    slow_rows = a.slow.sort("ts_ns").to_dicts() if a.opts.slower_than_ns is not None else a.slow.to_dicts()
    cut = shown_of(len(slow_rows), a.slow_total)
    for r in slow_rows:
        r["time_s"] = (r["ts_ns"] - t0) / 1e9
    report = Report(kind="block", title=f"traceparse block: {source.path}", unit=a.opts.unit)
    report.tables += [_phase_table(phase, latency[phase]) for phase in PHASE_TITLES if latency[phase]["total"]["count"]]
    report.tables.append(_op_table(latency["d2c"]))
    report.tables.append(_rwbs_table(latency["d2c"]))
    report.tables.append(Table("processes", f"Processes by requests (top {TOP_PROCESSES}; the insert/issue side)", PROC, procs[:TOP_PROCESSES]))
    if slow_rows:
        title = "Slowest requests by D2C" if a.opts.slower_than_ns is None else "Requests slower than the threshold (D2C)"
        report.tables.append(Table("slow", title + cut, SLOW, slow_rows))
    unmatched = {k: a.counts[k] for k in MEANINGS}
    title = "Not paired" + (f" ({a.opts.given()}, applied where that side knows the field: see README)" if a.opts.filtered else "")
    report.tables.append(
        Table("unmatched", title, UNMATCHED, [{"what": k, "count": v, "meaning": MEANINGS[k]} for k, v in unmatched.items()])
    )
    report.histograms.append(Histogram("d2c", "D2C (issue -> complete)", a.opts.unit, buckets(d.get("d2c", "total").log2_unit)))
    devices = d.keys("d2c", "dev")
    if len(devices) > 1:
        for dev in devices:
            report.histograms.append(Histogram(f"d2c:{dev}", f"D2C, device {dev}", a.opts.unit, buckets(d.get("d2c", "dev", dev).log2_unit)))
    if latency["i2c"]["total"]["count"]:
        report.histograms.append(Histogram("i2c", "I2C (insert -> complete)", a.opts.unit, buckets(d.get("i2c", "total").log2_unit)))
    report.warnings = _warnings(a, source, latency)
    report.notes = _notes(a, source, latency)
    report.data = {
        "report": "block",
        "source": source.as_dict(),
        "window": {"start_ns": lo, "end_ns": hi, "duration_ns": dur},
        "filters": {k: v for k, v in vars(a.opts).items() if k not in ("unit", "top") and v is not None},
        "latency": latency,
        "by_process": procs,
        "unmatched": unmatched,
        "slow_total": a.slow_total,
        "slow": [{k: r[k] for k in ("ts_ns", "dev", "op", "rwbs", "sector", "bytes", "comm", "pid", "i2d_ns", "d2c_ns", "i2c_ns", "parts")} for r in slow_rows],
        "warnings": report.warnings,
    }
    return report


def _dev_op(d, phase: str, dur: int) -> dict:
    """{"8,0": {"by_op": {"W": STATS}}}: per device and operation together (diff scopes [dev=..,op=..])."""
    out: dict = {}
    for key in d.keys(phase, "devop"):
        dev, _, op = key.partition("\t")
        out.setdefault(dev, {"by_op": {}})["by_op"][op] = d.get(phase, "devop", key).stats(dur)
    return out


def _phase_table(phase: str, lat: dict) -> Table:
    rows = [{"dev": "all", **lat["total"]}] + [{"dev": k, **v} for k, v in lat["by_device"].items()]
    return Table(phase, PHASE_TITLES[phase], [Column("dev", "DEVICE"), *LAT], rows)


def _op_table(d2c: dict) -> Table:
    rows = [{"op": k, "name": OP_NAMES.get(k, k), **v} for k, v in d2c["by_op"].items()]
    return Table("by_op", "D2C by operation", [Column("op", "OP"), Column("name", "NAME"), *LAT], rows)


def _rwbs_table(d2c: dict) -> Table:
    rows = [{"rwbs": k, "flags": rwbs_flags(k), **v} for k, v in d2c["by_rwbs"].items()]
    return Table("by_rwbs", "D2C by rwbs (op and flags)", [Column("rwbs", "RWBS"), Column("flags", "FLAGS"), *LAT], rows)


def _processes(a: BlockAnalysis, dur: int) -> list[dict]:
    d, out = a.dists, []
    keys = set(d.keys("d2c", "proc")) | set(d.keys("i2c", "proc"))
    for key in keys:
        pid, _, comm = key.partition("\t")
        d2c, i2c = d.get("d2c", "proc", key).stats(dur), d.get("i2c", "proc", key).stats(dur)
        count = max(d2c["count"], i2c["count"])
        size = max(d.get("d2c", "proc", key).bytes_total, d.get("i2c", "proc", key).bytes_total)
        out.append({
            "pid": int(pid) if pid.lstrip("-").isdigit() else None, "comm": comm, "count": count, "mb": size / 1e6,
            "d2c_mean_ns": d2c["mean_ns"], "d2c_p99_ns": d2c["p99_ns"], "i2c_mean_ns": i2c["mean_ns"], "i2c_p99_ns": i2c["p99_ns"],
        })
    return sorted(out, key=lambda r: (-r["count"], r["comm"], r["pid"] or 0))


def _warnings(a: BlockAnalysis, source: Source, lat: dict) -> list[str]:
    w = a.filter_misses(source)
    if source.lost_events:
        per_cpu = ", ".join(f"CPU {c}: {n:,}" for c, n in sorted(source.lost_by_cpu.items()))
        w.append(f"the tracer lost {source.lost_events:,} events ({per_cpu or 'per CPU unknown'}): percentiles are biased")
    issues = source.events.get("block:block_rq_issue", 0)
    o = a.opts
    unfiltered = all(v is None for v in (o.dev, o.comm, o.op, o.since_s, o.until_s))
    if issues and unfiltered:
        share = lat["d2c"]["total"]["count"] / issues
        if share < 0.9:
            w.append(
                f"only {share:.0%} of issues have a complete: the capture dropped events "
                "(perf drops block_rq_complete under load; trace-cmd records them all)"
            )
    completes = source.events.get("block:block_rq_complete", 0)
    orphans = a.all_without_issue - a.empty_without_issue  # zero-length ones end flush sequences
    if completes and orphans > 0.1 * completes:
        w.append(f"{orphans:,} of {completes:,} completes have no issue: issue events were lost or not recorded")
    dropped = a.open.dropped_issued + a.open.dropped_inserted
    if dropped:
        w.append(
            f"{dropped:,} requests were dropped unpaired when more than {MAX_OPEN:,} were open at once: "
            "no device has that many in flight, their completes were lost"
        )
    if source.skipped.count:
        w.append(source.skipped.describe())
    return w


def _notes(a: BlockAnalysis, source: Source, lat: dict) -> list[str]:
    n = []
    if not source.events.get("block:block_rq_insert"):
        n.append("no block_rq_insert events: I2C and I2D need -e block:block_rq_insert")
    elif lat["i2c"]["total"]["count"] < lat["d2c"]["total"]["count"]:
        n.append("I2C counts fewer requests than D2C: blk-mq issues many requests directly, without an insert")
    if a.counts["partial_completions"]:
        n.append(f"{a.counts['partial_completions']:,} partial completions: D2C of those requests runs to their last part")
    return n
