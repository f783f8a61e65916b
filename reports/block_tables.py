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
    return report_from_data(block_data(a, source))


def block_data(a: BlockAnalysis, source: Source) -> dict:
    """The JSON contract of a finished analysis. Everything a Report shows is in it, so a report
    rebuilt from saved (or merged, reports/merge.py) data renders the same as the one made here."""
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
    # a threshold's listing in time order; else the slowest first (ties: earliest, then device, sector),
    # also when --top 0 keeps them all
    order = ["d2c_ns", "ts_ns", "dev", "sector"]
    slow = a.slow
    if slow.height:
        slow = slow.sort("ts_ns") if a.opts.slower_than_ns is not None else slow.sort(order, descending=[True, False, False, False])
    slow_rows = slow.to_dicts()
    histograms = {
        "d2c": {"total": buckets(d.get("d2c", "total").log2_unit),
                "by_device": {k: buckets(d.get("d2c", "dev", k).log2_unit) for k in d.keys("d2c", "dev")}},
        "i2c": {"total": buckets(d.get("i2c", "total").log2_unit)},
    }
    return {
        "report": "block",
        "source": source.as_dict(),
        "window": {"start_ns": lo, "end_ns": hi, "duration_ns": dur},
        "filters": {k: v for k, v in vars(a.opts).items() if k not in ("unit", "top") and v is not None},
        "latency": latency,
        "by_process": _processes(a, dur),
        "unmatched": {k: a.counts[k] for k in MEANINGS},
        "slow_total": a.slow_total,
        "slow": [{k: r[k] for k in SLOW_KEYS} for r in slow_rows],
        "warnings": _warnings(a, source, latency),
        "notes": _notes(a, source, latency),
        "unit": a.opts.unit,
        "slow_limit": a.opts.limit,  # rows the listing keeps (0: all): a merge cuts the merged listing the same way
        "histograms": histograms,  # log2 buckets in the display unit, as drawn
    }


SLOW_KEYS = ("ts_ns", "dev", "op", "rwbs", "sector", "bytes", "comm", "pid", "i2d_ns", "d2c_ns", "i2c_ns", "parts")


def report_from_data(data: dict) -> Report:
    """The Report of a block JSON contract: one analysed capture's, or several merged."""
    latency, filters, unit = data["latency"], data["filters"], data["unit"]
    source = data["source"]
    report = Report(kind="block", title=f"traceparse block: {source['path']}", unit=unit)
    report.tables += [_phase_table(phase, latency[phase]) for phase in PHASE_TITLES if latency[phase]["total"]["count"]]
    report.tables.append(_op_table(latency["d2c"]))
    report.tables.append(_rwbs_table(latency["d2c"]))
    procs = data["by_process"]
    report.tables.append(Table("processes", f"Processes by requests (top {TOP_PROCESSES}; the insert/issue side)", PROC, procs[:TOP_PROCESSES]))
    t0 = source["first_ts_ns"] or 0
    slow_rows = [{**r, "time_s": (r["ts_ns"] - t0) / 1e9} for r in data["slow"]]
    if slow_rows:
        title = "Slowest requests by D2C" if filters.get("slower_than_ns") is None else "Requests slower than the threshold (D2C)"
        cols = [Column("label", "INPUT"), *SLOW] if "label" in slow_rows[0] else SLOW
        report.tables.append(Table("slow", title + shown_of(len(slow_rows), data["slow_total"]), cols, slow_rows))
    given = _given(filters)
    title = "Not paired" + (f" ({given}, applied where that side knows the field: see README)" if given else "")
    report.tables.append(
        Table("unmatched", title, UNMATCHED, [{"what": k, "count": v, "meaning": MEANINGS[k]} for k, v in data["unmatched"].items()])
    )
    if data.get("inputs"):
        report.tables.append(Table("inputs", f"Inputs ({len(data['inputs']):,}, merged above)", INPUTS, [_input_row(i) for i in data["inputs"]]))
    hist = data["histograms"]
    report.histograms.append(Histogram("d2c", "D2C (issue -> complete)", unit, hist["d2c"]["total"]))
    devices = hist["d2c"]["by_device"]
    if len(devices) > 1:
        for dev, b in devices.items():
            report.histograms.append(Histogram(f"d2c:{dev}", f"D2C, device {dev}", unit, b))
    if latency["i2c"]["total"]["count"]:
        report.histograms.append(Histogram("i2c", "I2C (insert -> complete)", unit, hist["i2c"]["total"]))
    report.warnings = list(data["warnings"])
    report.notes = list(data["notes"])
    report.data = data
    return report


INPUTS = [
    Column("label", "INPUT"),
    Column("path", "PATH"),
    Column("events", "EVENTS", "count"),
    Column("lost_events", "LOST", "count"),
    Column("d2c_count", "REQUESTS", "count"),
    Column("d2c_p50_ns", "D2C P50", "ns"),
    Column("d2c_p99_ns", "D2C P99", "ns"),
    Column("i2c_p99_ns", "I2C P99", "ns"),
    Column("warnings", "WARNINGS", "count"),
]


def _input_row(i: dict) -> dict:
    d2c, i2c = i["totals"]["d2c"], i["totals"]["i2c"]
    return {
        "label": i["label"], "path": i["source"]["path"], "events": i["source"]["events"], "lost_events": i["source"]["lost_events"],
        "d2c_count": d2c["count"], "d2c_p50_ns": d2c["p50_ns"], "d2c_p99_ns": d2c["p99_ns"], "i2c_p99_ns": i2c["p99_ns"],
        "warnings": len(i["warnings"]),
    }


def _given(filters: dict) -> str:
    """The filters as typed ('--dev 8,0 --comm dd'), from the JSON's filters."""
    from .block import BlockOptions

    keep = ("dev", "comm", "op", "since_s", "until_s")
    return BlockOptions(**{k: v for k, v in filters.items() if k in keep}).given()


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
            # what an exact merge needs (reports/merge.py): the distributions behind the means and p99s
            "d2c": {k: d2c[k] for k in PROC_DIST}, "i2c": {k: i2c[k] for k in PROC_DIST},
        })
    return sorted(out, key=lambda r: (-r["count"], r["comm"], r["pid"] or 0))


PROC_DIST = ("count", "sum_ns", "min_ns", "max_ns", "bytes", "hdr")


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
