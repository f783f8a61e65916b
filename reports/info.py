"""`traceparse info`: what a capture holds: format, events per kind, time span, CPUs, losses."""
from __future__ import annotations

from ..parsers.errors import EmptyCaptureError
from ..parsers.source import Source
from .heatmap import Timeline, add_events, events_data
from .result import Column, Report, Table


def info_report(source: Source, chunks) -> Report:
    timeline = None  # events per kind over time (reports/heatmap.py)
    for chunk in chunks:  # Source counts as the chunks stream past
        timeline = timeline or Timeline(source.first_ts_ns or 0)
        add_events(timeline, chunk.frames)
    if not source.events:
        raise EmptyCaptureError(f"{source.path}: no events in this capture ({source.skipped.describe()})")
    span = source.duration_ns
    report = Report(kind="info", title=f"traceparse info: {source.path}", unit="s")
    facts = [
        ("format", source.format),
        ("file compression", source.compression or "none"),
        ("events", f"{sum(source.events.values()):,}"),
        ("time span", f"{source.first_ts_ns / 1e9:.6f} .. {source.last_ts_ns / 1e9:.6f} ({span / 1e9:.6f} s)"),
        ("CPUs", ",".join(str(c) for c in sorted(source.cpus))),
        ("lost events", f"{source.lost_events:,}"),
        ("skipped lines", source.skipped.describe()),
        ("call chains", f"{len(source.stacks.frames):,} distinct"),
        *((k.replace("_", " "), _fact(v)) for k, v in source.meta.items() if k != "cpustat"),  # cpustat: raw, in JSON
    ]
    report.tables.append(Table("facts", "Capture", [Column("what", "WHAT"), Column("value", "VALUE")], [{"what": k, "value": v} for k, v in facts]))
    rate = [Column("event", "EVENT"), Column("count", "COUNT", "count"), Column("rate", "PER SECOND", "/s")]
    rows = [
        {"event": k, "count": v, "rate": v * 1e9 / span if span else None}
        for k, v in sorted(source.events.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    report.tables.append(Table("events", "Events per kind", rate, rows))
    if source.lost_by_cpu:
        lost = [{"cpu": c, "lost": n} for c, n in sorted(source.lost_by_cpu.items())]
        report.tables.append(Table("lost", "Lost events per CPU", [Column("cpu", "CPU"), Column("lost", "LOST", "count")], lost))
    if source.lost_events:
        report.warnings.append(f"the tracer lost {source.lost_events:,} events: analyses of this capture are biased")
    if source.skipped.count:
        report.warnings.append(source.skipped.describe())
    report.data = {
        "report": "info",
        "path": source.path,
        "format": source.format,
        "compression": source.compression,
        "events": dict(sorted(source.events.items())),
        "cpus": sorted(source.cpus),
        "first_ts_ns": source.first_ts_ns,
        "last_ts_ns": source.last_ts_ns,
        "lost_events": source.lost_events,
        "lost_by_cpu": {str(c): n for c, n in sorted(source.lost_by_cpu.items())},
        "skipped_lines": source.skipped.count,
        "first_skipped_line": source.skipped.first_line,
        "stacks": len(source.stacks.frames),
        "meta": source.meta,
        "warnings": report.warnings,
        **events_data(timeline, source.last_ts_ns or 0),  # an added key: series
    }
    return report


INPUTS = [
    Column("label", "INPUT"), Column("path", "PATH"), Column("format", "FORMAT"), Column("events", "EVENTS", "count"),
    Column("span_s", "SPAN(s)", "s"), Column("lost_events", "LOST", "count"), Column("skipped_lines", "SKIPPED", "count"),
]


def merged_info_report(data: dict) -> Report:
    """The Report of several captures' info merged (reports/merge.py): totals, events per kind, one row per input."""
    report = Report(kind="info", title=f"traceparse info: {data['path']}", unit="s")
    first, last = data["first_ts_ns"], data["last_ts_ns"]
    span = (last - first) if first is not None and last is not None else 0
    facts = [
        ("inputs", f"{len(data['inputs']):,}"),
        ("format", data["format"]),
        ("events", f"{sum(data['events'].values()):,}"),
        ("time span", f"{(first or 0) / 1e9:.6f} .. {(last or 0) / 1e9:.6f} ({span / 1e9:.6f} s; each input's own clock)"),
        ("lost events", f"{data['lost_events']:,}"),
        ("skipped lines", f"{data['skipped_lines']:,}"),
    ]
    report.tables.append(Table("facts", "Captures", [Column("what", "WHAT"), Column("value", "VALUE")], [{"what": k, "value": v} for k, v in facts]))
    rate = [Column("event", "EVENT"), Column("count", "COUNT", "count")]
    rows = [{"event": k, "count": v} for k, v in sorted(data["events"].items(), key=lambda kv: (-kv[1], kv[0]))]
    report.tables.append(Table("events", "Events per kind (all inputs)", rate, rows))
    inputs = [{**i, "span_s": ((i["last_ts_ns"] or 0) - (i["first_ts_ns"] or 0)) / 1e9} for i in data["inputs"]]
    report.tables.append(Table("inputs", "Inputs", INPUTS, inputs))
    report.warnings = list(data["warnings"])
    report.data = data
    return report


def _fact(value) -> str:
    """One table cell for a metadata value: lists and dicts compact, never a wall of text."""
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list):
        value = "; ".join(_fact(v) for v in value)
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."
