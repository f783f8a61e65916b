"""`traceparse block`: D2C, I2C and I2D latency of block requests, per device, operation and process.

The offline counterpart of bcc's biolatency (histograms), biosnoop (slow-request listing) and
biotop (per-process). Feed it the Chunks of any capture; pairing rules live in block_pairing.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ..parsers.errors import EmptyCaptureError, MissingEventsError, TraceParseError
from ..parsers.schema import Chunk
from ..parsers.source import Source
from .block_pairing import done_of, op_of
from .block_recording import PHASES as PHASE_ORDER
from .block_recording import BlockRecording
from .block_tables import build_report
from .heatmap import Timeline
from .heatmap import block_data as timeline_data
from .histogram import GroupedDistributions
from .open_requests import OpenRequests
from .result import UNIT_NS, Report
from .shared import (
    LISTING_CAP,
    Tally,
    check_threshold,
    check_top,
    check_unit,
    check_window,
    listing_limit,
)

PHASES = {  # phase -> (start column, end column)
    "d2c": ("iss_ts", "ts"),
    "i2c": ("ins_ts", "ts"),
    "i2d": ("ins_ts", "iss_ts"),
}
RECORD_HINT = "perf record -a -e block:block_rq_insert -e block:block_rq_issue -e block:block_rq_complete -- sleep 10"


@dataclass
class BlockOptions:
    unit: str = "us"
    slower_than_ns: int | None = None
    top: int | None = None  # None: the 10 slowest, or with slower_than_ns every request past it; 0: all
    dev: str | None = None
    comm: str | None = None
    op: str | None = None
    since_s: float | None = None
    until_s: float | None = None

    def __post_init__(self):
        # every check runs here, so that a bad option fails before any input is read
        check_unit(self.unit)
        check_top(self.top)
        check_threshold(self.slower_than_ns)
        check_window(self.since_s, self.until_s)
        if self.dev is not None and not _valid_dev(self.dev):
            raise TraceParseError(f"--dev expects major,minor as perf prints it, e.g. 8,0 (got {self.dev!r})")
        if self.op is not None:
            self.op = self.op.upper()
            if self.op not in ("R", "W", "D", "F", "N"):
                raise TraceParseError(f"--op must be one of R, W, D (discard), F (flush), N (got {self.op!r})")

    @property
    def limit(self) -> int:
        """Rows the slow listing keeps (0: all)."""
        return listing_limit(self.top, self.slower_than_ns)

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (self.dev, self.comm, self.op, self.since_s, self.until_s))

    def given(self) -> str:
        """The filters as typed: '--dev 8,0 --comm dd'."""
        names = (("--dev", self.dev), ("--comm", self.comm), ("--op", self.op), ("--since", self.since_s), ("--until", self.until_s))
        return " ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in names if v is not None)


def _valid_dev(dev: str) -> bool:
    parts = dev.split(",")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


BATCH_ROWS = 1 << 17  # finished requests recorded at once (see BlockAnalysis.flush): ~10 MB of columns
UNPAIRED = ("complete_without_issue", "issue_without_complete", "insert_without_complete", "overwritten",
            "op_mismatch", "partial_completions", "requeues", "negative_latency", "open_dropped")


@dataclass
class BlockAnalysis:
    """Streaming state: open requests, distributions and the slow listing, chunk after chunk."""

    opts: BlockOptions = field(default_factory=BlockOptions)

    def __post_init__(self):
        self.dists = GroupedDistributions(UNIT_NS[self.opts.unit])
        self.open = OpenRequests(match=self._match_open if self.opts.filtered else None, sides=self.opts.filtered)
        # the unpaired, as the filters see them (table and JSON); the unfiltered ones drive the loss warnings
        self.counts = dict.fromkeys(UNPAIRED, 0)
        self.all_without_issue = self.empty_without_issue = 0
        self.requests = Tally(["dev", "comm", "op"])  # every finished request, before the filters
        self.matched = 0
        self.slow = pl.DataFrame()
        self.slow_total = 0  # requests the listing could show: past the threshold, or all with a D2C
        self.t0: int | None = None
        # a hook for exporters: called with each chunk's finished requests, as the report counts
        # them (filters applied), before any is recorded; it sees the rows, never changes them
        self.on_requests = None
        self.timeline: Timeline | None = None  # heat maps and per-interval series (reports/heatmap.py), at the end
        self.recording: BlockRecording | None = None  # what the finished requests were counted into
        self._pending: list = []  # chunks' pairings whose finished requests are not recorded yet
        self._pending_n = 0

    def feed(self, chunk: Chunk, source: Source) -> None:
        frames = chunk.frames
        if self.t0 is None:
            self.t0 = source.first_ts_ns
        req = frames.get("block:block_rq_requeue")
        if req is not None and req.height:  # the requeue's comm is whoever ran it, not the requester
            self._count("requeues", req.select("dev", op=op_of(pl.col("rwbs")), comm=pl.lit(None, pl.String), ts_ns="ts_ns"))
        # unfiltered and without the exporter's hook, the pairing records what it finishes itself
        # (once the capture's first time, the heat maps' axis, is known; before, a batch waits)
        direct = not self.opts.filtered and self.on_requests is None and self.t0 is not None
        record = self._recording().native if direct else None
        p = self.open.pair(frames, chunk.block_lane, record)  # with the open requests of earlier chunks; what stays open is kept
        if p is None:
            return
        self.all_without_issue += p.count("without_issue")
        self.empty_without_issue += p.empty_without_issue()
        for what, side in (("complete_without_issue", "without_issue"), ("op_mismatch", "mismatched"),
                           ("partial_completions", "partials"), ("overwritten", "overwritten")):
            self.counts[what] += self._filter(p.side(side), lenient=True).height if self.opts.filtered else p.count(side)
        # (the first pairing is recorded even when it finished nothing: the report then has its
        # heat maps, empty, as a capture with requests has them)
        if not direct and (p.n_done or (self.recording is None and not self._pending)):
            self._pending.append(p)
            self._pending_n += p.n_done
            if self._pending_n >= BATCH_ROWS:
                self.flush()

    def flush(self) -> None:
        """Record the finished requests of the chunks fed so far (reports/block_recording.py), when
        the report's filters or the exporter's hook read them: they wait in batches, read as one
        frame each (without either, the pairing records them as it finds them)."""
        if not self._pending:
            return
        pending, self._pending, self._pending_n = self._pending, [], 0
        kept = None
        if self.opts.filtered or self.on_requests is not None:
            done = _requests(done_of(pending))
            kept = done.select(self._cond(lenient=False)).to_series()
            if self.on_requests is not None and done.height:
                req = done.filter(kept)
                if req.height:
                    self.on_requests(req.select(REQUEST_COLUMNS))
            if not self.opts.filtered:
                kept = None
        self._recording().record(pending, kept)

    def _recording(self) -> BlockRecording:
        if self.recording is None:
            o = self.opts
            self.recording = BlockRecording(self.t0 or 0, UNIT_NS[o.unit], min(o.limit or LISTING_CAP, LISTING_CAP), o.slower_than_ns)
        return self.recording

    def _count(self, what: str, side: pl.DataFrame) -> None:
        self.counts[what] += self._filter(side, lenient=True).height if self.opts.filtered else side.height

    def _filter(self, req: pl.DataFrame, lenient: bool = False) -> pl.DataFrame:
        return req.filter(self._cond(lenient))

    def _cond(self, lenient: bool) -> pl.Expr:
        """What the filters keep, over dev, comm, op, ts_ns; ``lenient``: a null comm (that side does
        not know the requester, as on a complete) is not filtered by --comm."""
        o, cond = self.opts, pl.lit(True)
        if o.dev is not None:
            cond &= pl.col("dev") == o.dev
        if o.comm is not None:
            cond &= ((pl.col("comm") == o.comm) | pl.col("comm").is_null()) if lenient else (pl.col("comm") == o.comm)
        if o.op is not None:
            cond &= pl.col("op") == o.op
        t0 = self.t0 or 0
        if o.since_s is not None:
            cond &= pl.col("ts_ns") >= t0 + int(o.since_s * 1e9)
        if o.until_s is not None:
            cond &= pl.col("ts_ns") < t0 + int(o.until_s * 1e9)
        return cond

    def _match_open(self, state: pl.DataFrame) -> pl.DataFrame:
        """Open requests (pairing rows) the filters keep: by who asked, the request's op and when it started."""
        return state.filter(_open_side(state).select(self._cond(lenient=True)).to_series())

    def _read_recording(self, end_ns: int) -> None:
        """The recording's counts, as the report's tables and JSON read them."""
        rec = self.recording
        if rec is None or not rec.recorded:
            return
        self.matched, negative, self.slow_total = rec.totals()
        self.counts["negative_latency"] = sum(negative)
        self.requests.frame = rec.tally()
        for phase in PHASE_ORDER:
            rec.distributions(phase, self.dists)
        self.timeline = rec.timeline(end_ns)
        self.slow = rec.slow()

    def finish(self, source: Source) -> Report:
        self.flush()
        self._read_recording(self.window_ns(source)[1])
        _check_events(source)
        if self.opts.filtered:
            st = self._match_open(self.open.all())
            issued = st.filter(pl.col("iss_ts").is_not_null()).height
            inserted = st.filter(pl.col("iss_ts").is_null() & pl.col("ins_ts").is_not_null()).height
            dropped_iss, dropped_ins = self.open.matched_issued, self.open.matched_inserted
        else:  # counted in the table: a capture that lost its completes leaves 500k of them open
            issued, inserted = self.open.counts()
            dropped_iss, dropped_ins = self.open.dropped_issued, self.open.dropped_inserted
        # requests the open-request bound dropped on the way are counted with those open at the end
        self.counts["issue_without_complete"] = issued + dropped_iss
        self.counts["insert_without_complete"] = inserted + dropped_ins
        self.counts["open_dropped"] = dropped_iss + dropped_ins
        report = build_report(self, source)
        report.data.update(timeline_data(self.timeline, self.window_ns(source)[1]))  # added keys: heatmaps, series
        return report

    def window_ns(self, source: Source) -> tuple[int, int]:
        """The [start, end) the rates are over: the capture's span, narrowed by --since/--until."""
        t0 = source.first_ts_ns or 0
        t1 = source.last_ts_ns or t0
        lo = t0 + int(self.opts.since_s * 1e9) if self.opts.since_s is not None else t0
        hi = min(t1, t0 + int(self.opts.until_s * 1e9)) if self.opts.until_s is not None else t1
        return lo, max(hi, lo)

    def filter_misses(self, source: Source) -> list[str]:
        """When the filters keep no request: what the capture has instead, per filter that matched nothing."""
        o = self.opts
        if not o.filtered or self.matched:
            return []
        total = int(self.requests.frame["n"].sum()) if self.requests.frame.height else 0
        if not total:
            return [f"no requests match {o.given()}: the capture has no paired requests at all"]
        out = []
        for flag, key, value, what in (("--dev", "dev", o.dev, "devices"), ("--comm", "comm", o.comm, "comms"), ("--op", "op", o.op, "ops")):
            have = self.requests.most_common(key)
            if value is not None and value not in {k for k, _ in have}:
                shown = ", ".join(f"{k} ({n:,} requests)" if key == "dev" else f"{k} ({n:,})" for k, n in have[:8])
                lead = "the busiest comms:" if key == "comm" else f"the capture has {what}"
                out.append(f"no requests match {flag} {value}: {lead} {shown}")
        span = ((source.last_ts_ns or 0) - (source.first_ts_ns or 0)) / 1e9
        if o.since_s is not None and o.since_s >= span:
            out.append(f"no requests complete in --since {o.since_s:g}: the capture spans 0.000-{span:.3f} s")
        if not out:  # each filter matches on its own: their combination, or the window, keeps nothing
            out.append(f"no requests match {o.given()} together ({total:,} requests in all; the capture spans 0.000-{span:.3f} s)")
        return out


def _open_side(state: pl.DataFrame) -> pl.DataFrame:
    """Open requests as the filters see them: who asked (insert side first), the op, when they started."""
    return state.select(
        "dev", op=op_of(pl.col("rwbs")), comm=pl.coalesce("ins_comm", "iss_comm"), ts_ns=pl.coalesce("iss_ts", "ins_ts"),
    )


# the paired requests as the exporter hands them out (traceparse export --report block)
REQUEST_COLUMNS = ["ts_ns", "dev", "op", "rwbs", "sector", "nr_sector", "bytes", "comm", "pid", "parts", "d2c_ns", "i2c_ns", "i2d_ns"]


def _requests(done: pl.DataFrame) -> pl.DataFrame:
    """Finished requests: who asked (insert side first, as the complete runs in irq/idle context)."""
    return done.select(
        ts_ns=pl.col("ts"),
        dev=pl.col("dev"),
        sector=pl.col("orig_sector"),
        nr_sector=pl.col("nr"),
        rwbs=pl.col("rwbs").fill_null(pl.col("c_rwbs")),
        op=op_of(pl.col("rwbs").fill_null(pl.col("c_rwbs"))),
        bytes=pl.when(pl.col("bytes") > 0).then("bytes").otherwise(pl.col("nr").cast(pl.UInt64) * 512),
        comm=pl.coalesce("ins_comm", "iss_comm"),
        pid=pl.coalesce("ins_pid", "iss_pid"),
        parts=pl.col("parts"),
        **{f"{ph}_ns": pl.col(end) - pl.col(start) for ph, (start, end) in PHASES.items()},
    )


def _check_events(source: Source) -> None:
    if not source.events:
        raise EmptyCaptureError(f"{source.path}: no events in this capture ({source.skipped.describe()})")
    block = [e for e in source.events if e in ("block:block_rq_issue", "block:block_rq_complete", "block:block_rq_insert")]
    if not block:
        raise MissingEventsError(f"{source.path}: {source.missing('block request events', RECORD_HINT)}")


def block_report(source: Source, chunks, opts: BlockOptions | None = None) -> Report:
    """Run the block analysis over ``chunks`` (from ``read_capture``) and return its Report."""
    analysis = BlockAnalysis(opts or BlockOptions())
    for chunk in chunks:
        analysis.feed(chunk, source)
    return analysis.finish(source)


__all__ = ["BlockAnalysis", "BlockOptions", "block_report"]
