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
from .block_pairing import ROW_SCHEMA, op_of, pair, rows_from
from .block_tables import build_report
from .histogram import GroupedDistributions
from .open_requests import KEY, OpenRequests
from .result import UNIT_NS, Report

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
    top: int = 10
    dev: str | None = None
    comm: str | None = None
    op: str | None = None
    since_s: float | None = None
    until_s: float | None = None

    def __post_init__(self):
        if self.unit not in UNIT_NS:
            raise TraceParseError(f"--unit must be one of ns, us, ms (got {self.unit!r})")
        if self.dev is not None and not _valid_dev(self.dev):
            raise TraceParseError(f"--dev expects major,minor as perf prints it, e.g. 8,0 (got {self.dev!r})")
        if self.op is not None:
            self.op = self.op.upper()
            if self.op not in ("R", "W", "D", "F", "N"):
                raise TraceParseError(f"--op must be one of R, W, D (discard), F (flush), N (got {self.op!r})")


def _valid_dev(dev: str) -> bool:
    parts = dev.split(",")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


@dataclass
class BlockAnalysis:
    """Streaming state: open requests, distributions and the slow listing, chunk after chunk."""

    opts: BlockOptions = field(default_factory=BlockOptions)

    def __post_init__(self):
        self.dists = GroupedDistributions(UNIT_NS[self.opts.unit])
        self.open = OpenRequests(ROW_SCHEMA)
        self.rid = 0
        self.counts = dict(complete_without_issue=0, op_mismatch=0, partial_completions=0, requeues=0, negative_latency=0)
        self.slow = pl.DataFrame()
        self.empty_without_issue = 0
        self.t0: int | None = None

    def feed(self, chunk: Chunk, source: Source) -> None:
        frames = chunk.frames
        if self.t0 is None:
            self.t0 = source.first_ts_ns
        req = frames.get("block:block_rq_requeue")
        self.counts["requeues"] += req.height if req is not None else 0
        rows = rows_from(frames, self.rid)
        if not rows.height:
            return
        self.rid += rows.height
        touched = self.open.take(rows.select(KEY))  # semi/anti joins: repeated keys do no harm
        p = pair(pl.concat([touched, rows]))
        if p.partials:  # a continuation may land on another open request's sector: the newer wins, as in pair()
            self.open.take(p.state.select(KEY))
        self.open.put(p.state)
        self.counts["complete_without_issue"] += p.without_issue
        self.empty_without_issue += p.without_issue_empty
        self.counts["op_mismatch"] += p.mismatched
        self.counts["partial_completions"] += p.partials
        self._record(self._filter(_requests(p.done)))

    def _filter(self, req: pl.DataFrame) -> pl.DataFrame:
        o, cond = self.opts, pl.lit(True)
        if o.dev is not None:
            cond &= pl.col("dev") == o.dev
        if o.comm is not None:
            cond &= pl.col("comm") == o.comm
        if o.op is not None:
            cond &= pl.col("op") == o.op
        t0 = self.t0 or 0
        if o.since_s is not None:
            cond &= pl.col("ts_ns") >= t0 + int(o.since_s * 1e9)
        if o.until_s is not None:
            cond &= pl.col("ts_ns") < t0 + int(o.until_s * 1e9)
        return req.filter(cond)

    def _record(self, req: pl.DataFrame) -> None:
        dims = {
            "total": pl.lit(""),
            "dev": pl.col("dev"),
            "op": pl.col("op"),
            "rwbs": pl.col("rwbs"),
            "proc": pl.concat_str(pl.col("pid").cast(pl.String), pl.lit("\t"), pl.col("comm")),
            "devop": pl.concat_str(pl.col("dev"), pl.lit("\t"), pl.col("op")),
        }
        by = ["dev", "op", "rwbs", "pid", "comm"]
        for phase in PHASES:
            v = req.filter(pl.col(f"{phase}_ns").is_not_null())
            self.counts["negative_latency"] += v.filter(pl.col(f"{phase}_ns") < 0).height
            v = v.filter(pl.col(f"{phase}_ns") >= 0).select(*by, "bytes", value_ns=pl.col(f"{phase}_ns"))
            self.dists.add_grouped(phase, v, by, dims)
        self._keep_slow(req)

    def _keep_slow(self, req: pl.DataFrame) -> None:
        o = self.opts
        cand = req.filter(pl.col("d2c_ns").is_not_null())
        if o.slower_than_ns is not None:
            cand = cand.filter(pl.col("d2c_ns") >= o.slower_than_ns)
        cand = cand.select(SLOW_COLUMNS)
        both = pl.concat([self.slow, cand]) if self.slow.height else cand
        if o.top:  # the slowest first; ties: earliest, then by device and sector
            order = ["d2c_ns", "ts_ns", "dev", "sector"]
            both = both.top_k(o.top, by=order, reverse=[False, True, True, True]).sort(order, descending=[True, False, False, False])
        self.slow = both

    def finish(self, source: Source) -> Report:
        _check_events(source)
        st = self.open.all()
        # requests the open-request bound dropped on the way are counted with those open at the end
        self.counts["issue_without_complete"] = st.filter(pl.col("iss_ts").is_not_null()).height + self.open.dropped_issued
        self.counts["insert_without_complete"] = (
            st.filter(pl.col("iss_ts").is_null() & pl.col("ins_ts").is_not_null()).height + self.open.dropped_inserted
        )
        self.counts["open_dropped"] = self.open.dropped_issued + self.open.dropped_inserted
        return build_report(self, source)

    def window_ns(self, source: Source) -> tuple[int, int]:
        """The [start, end) the rates are over: the capture's span, narrowed by --since/--until."""
        t0 = source.first_ts_ns or 0
        t1 = source.last_ts_ns or t0
        lo = t0 + int(self.opts.since_s * 1e9) if self.opts.since_s is not None else t0
        hi = min(t1, t0 + int(self.opts.until_s * 1e9)) if self.opts.until_s is not None else t1
        return lo, max(hi, lo)


SLOW_COLUMNS = ["ts_ns", "comm", "pid", "dev", "op", "rwbs", "sector", "bytes", "i2d_ns", "d2c_ns", "i2c_ns", "parts"]


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
        have = ", ".join(f"{k} ({v:,})" for k, v in source.events.most_common(6))
        raise MissingEventsError(f"{source.path}: no block request events; it has {have}. Record them with: {RECORD_HINT}")


def block_report(source: Source, chunks, opts: BlockOptions | None = None) -> Report:
    """Run the block analysis over ``chunks`` (from ``read_capture``) and return its Report."""
    analysis = BlockAnalysis(opts or BlockOptions())
    for chunk in chunks:
        analysis.feed(chunk, source)
    return analysis.finish(source)


__all__ = ["BlockAnalysis", "BlockOptions", "block_report"]
