"""The frame schema: the one contract between parsers (below) and reports (above).

A parser yields ``Chunk``s. Each chunk maps an event kind (``"block:block_rq_issue"``) to a polars
DataFrame holding that kind's events in time order, with the common columns first, always these
types, then the kind's payload columns. Reports never learn which file format the frames came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

COMMON: dict[str, pl.DataType] = {
    "ts_ns": pl.Int64,  # event time, ns (perf's µs text is scaled; trace.dat is exact)
    "cpu": pl.Int16,
    "pid": pl.Int32,  # thread id: perf's "tid", ftrace's "pid"
    "tgid": pl.Int32,  # process id where the capture has it, else null
    "comm": pl.Categorical,
    "event": pl.Categorical,  # "system:name"
    "stack_id": pl.Int32,  # index into Capture.stacks, null without call chains
    "payload": pl.String,  # the event's text as printed (kept for every kind)
}

# block_rq_insert / issue / complete / requeue (and the older block_rq_* spellings of 3.10 - 6.x).
BLOCK: dict[str, pl.DataType] = {
    "dev": pl.String,  # "major,minor", as perf and ftrace print it
    "dev_major": pl.UInt32,
    "dev_minor": pl.UInt32,
    "rwbs": pl.String,
    "sector": pl.UInt64,
    "nr_sector": pl.UInt32,
    "bytes": pl.UInt64,  # insert/issue only; null on complete
    "ioprio": pl.String,  # 6.11+ kernels print "be,0,4"; null before
    "rq_comm": pl.String,  # insert/issue: [comm] in the payload; null on complete
    "error": pl.Int32,  # complete: [error]; null on insert/issue
}

# net:net_dev_queue / net_dev_xmit / netif_receive_skb / netif_rx / napi_gro_receive_entry ...
NET: dict[str, pl.DataType] = {
    "dev_name": pl.String,
    "skbaddr": pl.String,
    "len": pl.UInt32,
}

# Any other event: its payload's ``key=value`` / ``key: value`` pairs, in order.
FIELDS: dict[str, pl.DataType] = {
    "fields": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
}

from .event_names import BLOCK_EVENTS, NET_EVENTS  # noqa: E402 - (polars-free: the reading started before the imports needs them)


def schema_for(event: str) -> dict[str, pl.DataType]:
    """The full column schema a frame of ``event`` has."""
    if event in BLOCK_EVENTS:
        return {**COMMON, **BLOCK}
    if event in NET_EVENTS:
        return {**COMMON, **NET}
    return {**COMMON, **FIELDS}


def conform(frame: pl.DataFrame, event: str) -> pl.DataFrame:
    """Cast and order ``frame`` to the schema of ``event``, adding missing columns as nulls."""
    schema = schema_for(event)
    if list(frame.schema.items()) == list(schema.items()):
        return frame  # built to the schema already (trace.dat's block frames)
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


class LaneStrings:
    """The block lane's strings (device, comm, rwbs) interned for the whole run: ``values[code]``.
    The code of a null is 2**32 - 1 (no lane value is null today: a text line has all three)."""

    def __init__(self):
        self.values: list[str] = []

    def learn(self, blob: bytes, n: int, before: int) -> None:
        """Add the ``n`` strings first seen in a chunk ('\n'-terminated in ``blob``), coded from ``before`` on."""
        if before != len(self.values):
            raise AssertionError("the lane's strings and the scanner's went apart")
        if n:
            self.values += blob.decode("utf-8", "replace").split("\n")[:n]


@dataclass
class BlockLane:
    """The block lane: one chunk's block_rq_insert / issue / complete as the columns block pairing
    reads (little-endian buffers by name: kind u8 (1 insert, 2 issue, 3 complete), devnum u64
    (major << 20 + minor), sector u64, ts i64 ns, pid i32, nr u32 (sectors), bytes u64, nulls u8
    (bit 16: no bytes field), dev/comm/rwbs u32 codes into ``strings``), in line order.

    A parser that can type these events straight from its input hands them over so instead of as
    frames (``read_capture(block_lane=True)``): the block report reads nothing else of them, and
    their frames cost more to build than the rest of the read. Their counts, time span and CPUs
    then come in ``Chunk.kind_stats``."""

    cols: dict[str, bytes]
    strings: LaneStrings

    def __len__(self) -> int:
        return len(self.cols["kind"])


@dataclass
class KindStats:
    """What ``Source.track`` counts of a kind whose events came in the lane, not in a frame."""

    name: str
    n: int
    first_ts_ns: int
    last_ts_ns: int
    cpus: list[int]


@dataclass
class Chunk:
    """One slice of a capture: event frames by kind, plus what this slice could not read."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    block_lane: BlockLane | None = None  # with read_capture(block_lane=True), where the parser has one
    kind_stats: list[KindStats] = field(default_factory=list)  # the kinds in block_lane
    lost_events: int = 0  # events the tracer itself reported dropping (perf LOST, ftrace EVENTS DROPPED)
    lost_by_cpu: dict[int, int] = field(default_factory=dict)
    # how much of the capture's event data has been read, where the file position does not say (a
    # trace.dat is read through a memory map, CPU after CPU); None: the file position does
    read_fraction: float | None = None
