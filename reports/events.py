"""Reports over any events: the pair presets (syscalls, funclatency, sched, irq, futex), hist and count.

    traceparse syscalls perf.txt --by comm          # syscount -L, per syscall and comm
    traceparse hist trace.dat --event net:net_dev_queue --field len --by dev_name

Feeds the engine (engine/) chunk by chunk and builds one Report: a table per distribution, the
slowest pairs, what did not pair, log2 histograms; ``report.data`` is the JSON contract
``{"report", "groups": [{"metric", "key", "count", "stats": STATS, ...}], "unmatched", "slow", ...}``.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..parsers.errors import EmptyCaptureError, MissingEventsError, TraceParseError
from ..parsers.source import Source
from .engine.count import FieldCount
from .engine.hist import FieldHist
from .engine.latency import PairOptions, PairRun
from .engine.select import event_matcher
from .engine.spec import event_match
from .engine.where import parse_where
from .event_tables import build_count_report, build_hist_report, build_pair_report
from .heatmap import Timeline, add_pairs, pairs_data
from .presets import PRESETS, Preset, funclatency_spec
from .result import UNIT_NS, Report
from .shared import check_threshold, check_top, check_unit, listing_limit
from .syscall_names import TABLES, arch_of


def _fields_list(by) -> tuple:
    if by is None:
        return ()
    if isinstance(by, str):
        by = by.split(",")
    out = tuple(b.strip() for b in by if b.strip())
    for b in out:
        if not b.replace(".", "").replace("_", "").isalnum():
            raise TraceParseError(f"--by {','.join(out)}: {b!r} is not a field name")
    return out


@dataclass
class EventOptions:
    unit: str = "us"
    where: str | None = None
    by: tuple = ()
    slower_than_ns: int | None = None
    top: int | None = None
    syscall: tuple = ()  # syscalls: only these
    func: str | None = None  # funclatency
    start: str | None = None
    end: str | None = None
    arch: str | None = None  # raw_syscalls number table: x86_64 | arm64 (default: the capture's, else x86_64)
    raw: bool = False  # syscalls: pair raw_syscalls even where per-syscall events exist too

    def __post_init__(self):
        check_unit(self.unit)
        check_top(self.top)
        check_threshold(self.slower_than_ns)
        self.by = _fields_list(self.by)
        self.syscall = _fields_list(self.syscall)
        self.parsed_where = parse_where(self.where)
        if self.arch is not None and self.arch not in TABLES:
            raise TraceParseError(f"--arch must be one of {', '.join(TABLES)} (got {self.arch!r})")

    @property
    def limit(self) -> int:
        return listing_limit(self.top, self.slower_than_ns)


def preset_for(name: str, opts: EventOptions) -> Preset:
    if name == "funclatency":
        if opts.func is None and (opts.start is None or opts.end is None):
            raise TraceParseError("funclatency: give --func NAME (perf probe's NAME and NAME__return), or --start EV --end EV")
        spec = funclatency_spec(opts.func, opts.start, opts.end)
        hint = "perf probe -x BIN FUNC && perf probe -x BIN FUNC%return; perf record -e 'probe_BIN:FUNC*' -a -- CMD"
        return Preset("funclatency", "Function latency", (spec,), record_hint=hint)
    return PRESETS[name]


def pair_report(name: str, source: Source, chunks, opts: EventOptions) -> Report:
    preset = preset_for(name, opts)
    where = opts.parsed_where
    if opts.syscall:  # --syscall read,write: a where of its own, on the syscall's name
        extra = " || ".join(f'syscall == "{s}"' for s in opts.syscall)
        where = parse_where(f"({where.text}) && ({extra})" if where else extra)
    popts = PairOptions(where=where, by=opts.by, slower_than_ns=opts.slower_than_ns, limit=opts.limit, unit=opts.unit)
    unit_ns = UNIT_NS[opts.unit]
    specs = preset.alternatives if opts.raw and preset.alternatives else preset.specs
    runs = [TimedRun(s, popts, unit_ns) for s in specs]
    if opts.raw:
        preset = Preset(preset.name, preset.title, specs, preset.counts, preset.record_hint)
    alts = [] if opts.raw else [TimedRun(s, popts, unit_ns) for s in preset.alternatives]
    # --where filters the counts too, unless it reads what only a pair has (latency_ns, start_ts_ns)
    cw = where if where is not None and not set(where.names) & {"latency_ns", "start_ts_ns"} else None
    counts = [(c, FieldCount(list(c[3]), cw)) for c in preset.counts]
    for chunk in chunks:
        if runs and runs[0].timeline is None:  # one time axis per set of runs, from the capture's first event
            for group in (runs, alts):
                tl = Timeline(source.first_ts_ns or 0, ["comm", "pid"])
                for r in group:
                    r.timeline = tl
        if not popts.tables:
            popts.tables["id"] = TABLES[opts.arch or arch_of(source.meta.get("uname"))]
        for r in (*runs, *alts):
            r.feed(chunk.frames)
        for (metric, _, events, _), fc in counts:
            for event, frame in chunk.frames.items():
                if frame.height and _short_match(events, event):
                    fc.feed(event, frame, source.first_ts_ns or 0)
    if not source.events:
        raise EmptyCaptureError(f"{source.path}: no events in this capture")
    warnings = []
    if not any(r.seen_start or r.seen_end for r in runs) and any(r.seen_start or r.seen_end for r in alts):
        runs = alts
    elif any(r.seen_start for r in runs) and any(r.seen_start for r in alts):
        warnings.append("the capture has both per-syscall and raw_syscalls events: the per-syscall ones are used (--raw for the others)")
    if not any(r.seen_start or r.seen_end for r in runs):
        have = ", ".join(sorted(source.events)[:8])
        raise MissingEventsError(f"{source.path}: no events for {preset.name} (the capture has {have}); record with: {preset.record_hint}")
    report = build_pair_report(preset, source, runs, counts, opts, warnings)
    report.data.update(pairs_data(runs[0].timeline, source.last_ts_ns or 0))  # added keys: heatmaps, series
    return report


class TimedRun(PairRun):
    """A PairRun whose pairs also go into a heat map and a per-interval series (reports/heatmap.py)."""

    timeline: Timeline | None = None

    def _record(self, pairs: pl.DataFrame) -> None:
        super()._record(pairs)
        if self.timeline is not None and pairs.height:
            add_pairs(self.timeline, self.spec.metric, pairs)


def _short_match(pattern: str, event: str) -> bool:
    """A preset's count pattern ("sched:sched_switch": system and name regexes) matches ``event``."""
    system, _, name = pattern.rpartition(":")
    return event_match(system or None, name, event) is not None


@dataclass
class HistOptions:
    event: str | None = None
    field: str | None = None
    by: tuple = ()
    where: str | None = None
    linear: int | None = None

    def __post_init__(self):
        if not self.field:
            raise TraceParseError("hist: give --field NAME, the numeric field to draw (len, ret, count, ...)")
        self.by = _fields_list(self.by)
        self.parsed_where = parse_where(self.where)
        if self.linear is not None and self.linear <= 0:
            raise TraceParseError(f"--linear must be a positive bucket width (got {self.linear})")


def hist_report(source: Source, chunks, opts: HistOptions) -> Report:
    match = event_matcher(opts.event)
    h = FieldHist(opts.field, list(opts.by), opts.parsed_where, opts.linear)
    kinds = set()
    for chunk in chunks:
        for event, frame in chunk.frames.items():
            if frame.height and match(event):
                kinds.add(event)
                h.feed(event, frame)
    _check_events(source, kinds, opts.event)
    return build_hist_report(source, h, opts, sorted(kinds))


@dataclass
class CountOptions:
    event: str | None = None
    by: tuple = ("event",)
    where: str | None = None
    interval_ns: int | None = None

    def __post_init__(self):
        self.by = _fields_list(self.by) or ("event",)
        self.parsed_where = parse_where(self.where)
        if self.interval_ns is not None and self.interval_ns <= 0:
            raise TraceParseError("--interval must be a positive duration, e.g. 1s")


def count_report(source: Source, chunks, opts: CountOptions) -> Report:
    match = event_matcher(opts.event)
    c = FieldCount(list(opts.by), opts.parsed_where, opts.interval_ns)
    kinds = set()
    for chunk in chunks:
        for event, frame in chunk.frames.items():
            if frame.height and match(event):
                kinds.add(event)
                c.feed(event, frame, source.first_ts_ns if source.first_ts_ns is not None else int(frame["ts_ns"].min()))
    _check_events(source, kinds, opts.event)
    return build_count_report(source, c, opts, sorted(kinds))


def _check_events(source: Source, kinds: set, spec: str | None) -> None:
    if not source.events:
        raise EmptyCaptureError(f"{source.path}: no events in this capture")
    if not kinds:
        have = ", ".join(f"{k} ({n:,})" for k, n in sorted(source.events.items(), key=lambda kv: -kv[1])[:8])
        raise MissingEventsError(f"{source.path}: no event matches --event {spec} (the capture has {have})")
