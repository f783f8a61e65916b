"""Stacks: which code path the samples, the I/O waits and the off-CPU time come from.

    traceparse stacks perf.txt                        # CPU samples (perf record -F 999 -a -g)
    traceparse stacks perf.txt --weight d2c           # each block request's issuing stack, weighted by its D2C
    traceparse stacks sched.txt --weight offcpu       # the stack a thread switched out with, by time off CPU
    traceparse stacks perf.txt --weight latency --start probe_app:begin --end probe_app:done

Every weight ends as folded stacks (``root;...;leaf WEIGHT``, folded.py): the root is the thread's
comm (``--pid``/``--tid`` add its ids), the frames are named as stackcollapse-perf names them.

- samples: one per event of the sampled kind (the period, where perf printed one).
- d2c / i2c: the requests ``block`` pairs (its own analysis, filters and rules), each joined back to
  its issue event (``dev``, ``sector`` and the issue's time, ``complete - d2c``) for the stack; an
  I2C without an issue takes its insert's. The weights add up to the sum of those latencies.
- offcpu: the ``sched`` preset's off-CPU pairs (sched_switch out -> in, per thread), weighted by
  the time off CPU, with the stack of the switch-out; per thread they add up to ``sched``'s off-CPU time.
- latency: any start -> end pair of the any-event engine (funclatency's pairing), the start's stack.
A weight whose event had no call chain still counts: its stack is the root alone, and a note says
how many.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from ..parsers.errors import EmptyCaptureError, MissingEventsError, TraceParseError
from ..parsers.source import Source
from .engine.fields import with_fields
from .engine.latency import PairOptions, PairRun
from .engine.where import Where, apply, parse_where
from .folded import FoldOptions, LineFolder, check_fold_options, chain_frames, root_name
from .presets import SCHED_OFFCPU, funclatency_spec
from .result import Report
from .shared import Tally, check_threshold, check_top, check_unit, check_window
from .stacks_tables import build_stacks_report

WEIGHTS = ("samples", "d2c", "i2c", "offcpu", "latency")
KEYS = ["comm", "pid", "tgid", "stack_id"]
HINTS = {
    "samples": "perf record -F 999 -a -g -- CMD; perf script > perf.txt",
    "d2c": "perf record -a -g -e block:block_rq_insert -e block:block_rq_issue -e block:block_rq_complete -- CMD",
    "offcpu": "perf record -a -g -e sched:sched_switch -e sched:sched_wakeup -- CMD",
    "latency": "perf record -a -g -e START -e END -- CMD",
}
HINTS["i2c"] = HINTS["d2c"]


@dataclass
class StacksOptions:
    weight: str = "samples"
    start: str | None = None  # latency: the start event
    end: str | None = None
    event: str | None = None  # samples: fold this event (default: the first sampled one)
    comm: str | None = None
    pid: int | None = None  # a thread or a process id
    slower_than_ns: int | None = None  # weighted: only pairs/requests at least this long
    since_s: float | None = None
    until_s: float | None = None
    where: str | None = None
    top: int | None = 20  # rows of the stacks and functions tables (0: all)
    display_unit: str = "us"  # how times are shown (ns | us | ms); weights stay ns
    fold: FoldOptions = field(default_factory=FoldOptions)

    def __post_init__(self):
        if self.weight not in WEIGHTS:
            raise TraceParseError(f"--weight must be one of {', '.join(WEIGHTS)} (got {self.weight!r})")
        if self.weight == "latency" and (not self.start or not self.end):
            raise TraceParseError("--weight latency: give --start EV and --end EV (the pair whose start stack is weighted)")
        if self.weight != "latency" and (self.start or self.end):
            raise TraceParseError("--start/--end go with --weight latency")
        if self.weight == "samples" and self.slower_than_ns is not None:
            raise TraceParseError("--slower-than goes with a weight that has a duration: d2c, i2c, offcpu, latency")
        if self.event is not None and self.weight != "samples":
            raise TraceParseError("--event picks the sampled event: it goes with --weight samples")
        check_threshold(self.slower_than_ns)
        check_window(self.since_s, self.until_s)
        check_top(self.top)
        check_fold_options(self.fold)
        check_unit(self.display_unit)
        self.parsed_where: Where | None = parse_where(self.where)

    @property
    def unit(self) -> str:
        return "samples" if self.weight == "samples" else "ns"

    @property
    def lines_exact(self) -> bool:
        """Samples that perf script text can fold line by line, as stackcollapse-perf does (periods,
        addresses): nothing asks for what only the parsed events have (time, fields)."""
        return self.weight == "samples" and self.since_s is None and self.until_s is None and self.where is None


class _StackPairs(PairRun):
    """A PairRun that also keeps each pair's start stack and duration (after --where, as sched counts)."""

    def __post_init__(self):
        super().__post_init__()
        self.rows = Tally(KEYS)
        self.keep = lambda rows: rows.drop("_ts")  # the analysis's window and threshold

    def _record(self, pairs: pl.DataFrame) -> None:
        super()._record(pairs)
        if pairs.height:
            self.rows.add(self.keep(_rows(pairs, "start_stack_id", "latency_ns", "ts_ns")))


def _rows(f: pl.DataFrame, stack: str, weight: str, ts: str) -> pl.DataFrame:
    cols = {c: (pl.col(c) if c in f.columns else pl.lit(None)) for c in ("comm", "pid", "tgid")}
    return f.select(
        comm=cols["comm"].cast(pl.String), pid=cols["pid"].cast(pl.Int64), tgid=cols["tgid"].cast(pl.Int64),
        stack_id=pl.col(stack).cast(pl.Int64), n=pl.lit(1, pl.Int64), w=pl.col(weight).cast(pl.Int64), _ts=pl.col(ts),
    )


class StacksAnalysis:
    """Chunks in, folded stacks out: one tally of (comm, pid, tgid, stack_id) -> (count, weight)."""

    def __init__(self, opts: StacksOptions):
        self.opts = opts
        self.rows = Tally(KEYS)
        self.seen = 0  # events (samples) or pairs (requests) weighed, before the thread filters
        self.t0: int | None = None
        self.event = opts.event
        self.pairs: _StackPairs | None = None
        self.block = None
        # d2c/i2c: every issue and insert's (dev, sector, time, stack), to find a request's stack once it
        # completes: three integers and a comm per request, the price of reading the capture once
        self.issues: list[pl.DataFrame] = []
        self.requests: list[pl.DataFrame] = []
        self.no_stack = 0  # weights whose event had no call chain
        w = opts.weight
        if w in ("offcpu", "latency"):
            spec = SCHED_OFFCPU if w == "offcpu" else funclatency_spec(start=opts.start, end=opts.end)
            spec = replace(spec, carry=(*spec.carry, "stack_id", "tgid"))
            popts = PairOptions(where=opts.parsed_where, slower_than_ns=None, limit=1)
            self.pairs = _StackPairs(spec, popts, 1)
            self.pairs.keep = self._window
        elif w in ("d2c", "i2c"):
            from .block import BlockAnalysis, BlockOptions

            self.block = BlockAnalysis(BlockOptions(since_s=opts.since_s, until_s=opts.until_s))
            self.block.on_requests = self.requests.append

    def feed(self, chunk, source: Source) -> None:
        if self.t0 is None:
            self.t0 = source.first_ts_ns
        if self.pairs is not None:
            self.pairs.feed(chunk.frames)
        elif self.block is not None:
            self._keep_issues(chunk.frames)
            self.block.feed(chunk, source)
        else:
            self._samples(chunk.frames)

    def _samples(self, frames: dict[str, pl.DataFrame]) -> None:
        if self.event is None:  # stackcollapse folds the first event it meets
            firsts = {e: f["ts_ns"].min() for e, f in frames.items()
                      if f.height and "stack_id" in f.columns and f["stack_id"].null_count() < f.height}
            if firsts:
                self.event = min(firsts, key=lambda e: (firsts[e], e))
        f = frames.get(self.event) if self.event else None
        if f is None or not f.height:
            return
        self.seen += f.height
        if self.opts.parsed_where is not None:
            f = apply(with_fields(f, self.event, self.opts.parsed_where.names), self.opts.parsed_where)
        if "stack_id" not in f.columns:
            f = f.with_columns(stack_id=pl.lit(None, pl.Int32))
        self.rows.add(self._window(_rows(f.with_columns(one=pl.lit(1)), "stack_id", "one", "ts_ns")))

    def _keep_issues(self, frames: dict[str, pl.DataFrame]) -> None:
        for kind, name in (("block:block_rq_issue", "issue"), ("block:block_rq_insert", "insert")):
            f = frames.get(kind)
            if f is not None and f.height:
                sid = pl.col("stack_id") if "stack_id" in f.columns else pl.lit(None, pl.Int32)
                self.issues.append(f.select("dev", "sector", "ts_ns", "comm", "pid", "tgid", side=pl.lit(name),
                                            stack_id=sid.cast(pl.Int64), comm_s=pl.col("comm").cast(pl.String)).drop("comm"))

    def _window(self, rows: pl.DataFrame) -> pl.DataFrame:
        t0, o, cond = self.t0 or 0, self.opts, pl.lit(True)
        if o.slower_than_ns is not None:
            cond &= pl.col("w") >= o.slower_than_ns
        if o.since_s is not None:
            cond &= pl.col("_ts") >= t0 + int(o.since_s * 1e9)
        if o.until_s is not None:
            cond &= pl.col("_ts") < t0 + int(o.until_s * 1e9)
        return rows.filter(cond).drop("_ts")

    def finish(self, source: Source) -> pl.DataFrame:
        """The folded stacks (stack, n, w), heaviest first."""
        if not source.events:
            raise EmptyCaptureError(f"{source.path}: no events in this capture")
        if self.pairs is not None:
            self._finish_pairs(source)
        elif self.block is not None:
            self.block.finish(source)  # no block events: block's own error
            self._finish_requests()
        elif self.event is None:
            raise MissingEventsError(f"{source.path}: no event has a call chain; record with -g: {HINTS['samples']}")
        return self.fold(source.stacks.frames)

    def _finish_pairs(self, source: Source) -> None:
        p = self.pairs
        if not (p.seen_start or p.seen_end):
            have = ", ".join(sorted(source.events)[:8])
            raise MissingEventsError(f"{source.path}: no events for --weight {self.opts.weight} (the capture has {have}); "
                                     f"record with: {HINTS[self.opts.weight]}")
        self.seen = int(p.rows.frame["n"].sum()) if p.rows.frame.height else 0
        self.rows = p.rows

    def _finish_requests(self) -> None:
        phase = self.opts.weight
        if not self.requests:
            return
        req = pl.concat(self.requests, how="diagonal_relaxed")
        req = req.filter(pl.col(f"{phase}_ns").is_not_null() & (pl.col(f"{phase}_ns") >= 0))  # as block records them
        req = apply(req, self.opts.parsed_where)  # over the request's columns: op, rwbs, dev, d2c_ns...
        if self.opts.slower_than_ns is not None:
            req = req.filter(pl.col(f"{phase}_ns") >= self.opts.slower_than_ns)
        self.seen = req.height
        side = pl.when(pl.col("d2c_ns").is_not_null()).then(pl.lit("issue")).otherwise(pl.lit("insert"))
        at = pl.when(pl.col("d2c_ns").is_not_null()).then(pl.col("ts_ns") - pl.col("d2c_ns")).otherwise(pl.col("ts_ns") - pl.col("i2c_ns"))
        req = req.select("dev", "sector", side=side, at=at, w=pl.col(f"{phase}_ns"), r_comm="comm", r_pid="pid")
        ev = pl.concat(self.issues).unique(["side", "dev", "sector", "ts_ns"], keep="first", maintain_order=True) if self.issues else None
        if ev is not None:
            req = req.join(ev.rename({"ts_ns": "at"}), on=["side", "dev", "sector", "at"], how="left")
        else:
            req = req.with_columns(comm_s=pl.lit(None, pl.String), pid=pl.lit(None, pl.Int32), tgid=pl.lit(None, pl.Int32),
                                   stack_id=pl.lit(None, pl.Int64))
        rows = req.select(comm=pl.coalesce("comm_s", "r_comm"), pid=pl.coalesce("pid", "r_pid").cast(pl.Int64),
                          tgid=pl.col("tgid").cast(pl.Int64), stack_id="stack_id", n=pl.lit(1, pl.Int64), w=pl.col("w").cast(pl.Int64))
        self.rows.add(rows)

    def fold(self, chains: list[tuple[str, ...]]) -> pl.DataFrame:
        rows = self.rows.frame
        if not rows.height:
            return pl.DataFrame(schema={"stack": pl.String, "n": pl.Int64, "w": pl.Int64})
        o = self.opts
        if o.comm is not None:
            rows = rows.filter(pl.col("comm") == o.comm)
        if o.pid is not None:
            rows = rows.filter((pl.col("pid") == o.pid) | (pl.col("tgid") == o.pid))
        names = chain_frames(chains, o.fold).with_columns(pl.col("stack_id").cast(pl.Int64))
        rows = rows.join(names, on="stack_id", how="left")
        root = root_name(pl.col("comm").fill_null("[unknown]"), pl.col("tgid"), pl.col("pid"), o.fold)
        stack = pl.when(pl.col("chain").is_null()).then(root).otherwise(pl.concat_str(root, pl.lit(";"), "chain"))
        self.no_stack = int(rows.filter(pl.col("stack_id").is_null())["n"].sum() or 0)
        out = rows.group_by(stack.alias("stack")).agg(pl.col("n").sum(), pl.col("w").sum())
        return out.sort(["w", "stack"], descending=[True, False])


def stacks_report(source: Source, chunks, opts: StacksOptions) -> Report:
    """Fold a capture's events (parsed by the capture reader) by ``opts.weight``."""
    a = StacksAnalysis(opts)
    for chunk in chunks:
        a.feed(chunk, source)
    folded = a.finish(source)
    return build_stacks_report(source.path, opts, folded, events=a.seen, event=a.event, no_stack=a.no_stack,
                               duration_ns=source.duration_ns)


def stacks_from_lines(path: str, line_chunks, opts: StacksOptions) -> Report:
    """CPU samples of perf script text, folded line by line exactly as stackcollapse-perf.pl folds them."""
    folder = LineFolder(replace(opts.fold, event=opts.event), comm=opts.comm, pid=opts.pid)
    for lines, last in line_chunks:
        folder.feed(lines, last)
    folded = folder.result()
    if not folded.height:
        raise MissingEventsError(f"{path}: no perf script samples found; record with: {HINTS['samples']}")
    folded = folded.with_columns(w=pl.col("n")).sort(["w", "stack"], descending=[True, False])
    notes = []
    if folder.other_events:
        left = ", ".join(f"{e} ({n:,})" for e, n in sorted(folder.other_events.items()))
        notes.append(f"folded {folder.event} only, as stackcollapse-perf does; left out: {left} (--event picks another)")
    return build_stacks_report(path, opts, folded, events=folder.samples, event=folder.event, notes=notes, exact=True)
