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

BLOCK_EVENTS = (
    "block:block_rq_insert",
    "block:block_rq_issue",
    "block:block_rq_complete",
    "block:block_rq_requeue",
)
NET_EVENTS = (
    "net:net_dev_queue",
    "net:net_dev_xmit",
    "net:netif_receive_skb",
    "net:netif_receive_skb_entry",
    "net:netif_rx",
    "net:napi_gro_receive_entry",
)


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


@dataclass
class Chunk:
    """One slice of a capture: event frames by kind, plus what this slice could not read."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    lost_events: int = 0  # events the tracer itself reported dropping (perf LOST, ftrace EVENTS DROPPED)
    lost_by_cpu: dict[int, int] = field(default_factory=dict)
    # how much of the capture's event data has been read, where the file position does not say (a
    # trace.dat is read through a memory map, CPU after CPU); None: the file position does
    read_fraction: float | None = None
