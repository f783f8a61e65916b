"""Tracepoint payload text -> typed columns, for the events reports know; key/value pairs for the rest.

The block payload has changed shape over the years; one regex reads them all:

    3.10 - 6.10 issue/insert   8,0 W 4096 () 1050624 + 8 [dd]
    3.10 - 6.10 complete       8,0 W () 1050624 + 8 [0]
    6.11+ issue                254,0 WS 4096 () 2048 + 8 be,0,4 [kworker/1:1H]
    6.11+ complete             254,0 WS () 2048 + 8 be,0,4 [0]
    flush                      254,0 FF 0 () 0 + 0 none,0,0 [fio]
    no sector (some flushes)   8,0 FF () 18446744073709551615 + 0 [0]

Inside ``[...]`` insert and issue print the task's comm, complete prints the error code.
"""
from __future__ import annotations

import polars as pl

from .schema import BLOCK_EVENTS, NET_EVENTS, conform
from .source import Source

BLOCK_RQ = (
    r"^(?P<major>\d+),(?P<minor>\d+)\s+(?P<rwbs>[A-Z]+)\s+(?:(?P<bytes>\d+)\s+)?\((?P<cmd>[^)]*)\)\s+"
    r"(?P<sector>\d+)\s+\+\s+(?P<nr>\d+)(?:\s+(?P<ioprio>[0-9a-zx]+,\d+,\d+))?\s+\[(?P<tail>.*)\]\s*$"
)
# "key=value" and "key: value" pairs of any other payload (sched_switch, syscalls, print, ...)
PAIR = r"[A-Za-z_][\w.]*(?:=|: )\S*"
PAIR_GROUPS = r"^(?P<key>[A-Za-z_][\w.]*)(?:=|: )(?P<value>\S*)$"


def typed_frames(events: pl.DataFrame, source: Source) -> dict[str, pl.DataFrame]:
    """Split a chunk's events by kind and give each kind its payload columns."""
    out: dict[str, pl.DataFrame] = {}
    if not events.height:
        return out
    for (name,), frame in events.partition_by("event", as_dict=True, maintain_order=True).items():
        if name in BLOCK_EVENTS:
            frame = _block(frame, name, source)
        elif name in NET_EVENTS:
            frame = _net(frame)
        else:
            frame = frame.with_columns(
                fields=pl.col("payload").str.extract_all(PAIR).list.eval(pl.element().str.extract_groups(PAIR_GROUPS))
            )
        out[name] = conform(frame, name)
    return out


def _block(frame: pl.DataFrame, name: str, source: Source) -> pl.DataFrame:
    g = frame.with_columns(pl.col("payload").str.extract_groups(BLOCK_RQ).alias("b")).unnest("b")
    bad = g.filter(pl.col("major").is_null())
    if bad.height:
        source.skip(bad.height, int(bad["no"][0]), f"{name}: {bad['payload'][0]}")
        g = g.filter(pl.col("major").is_not_null())
    submit = name in ("block:block_rq_insert", "block:block_rq_issue")
    return g.with_columns(
        dev=pl.concat_str("major", pl.lit(","), "minor"),
        dev_major=pl.col("major").cast(pl.UInt32),
        dev_minor=pl.col("minor").cast(pl.UInt32),
        sector=pl.col("sector").cast(pl.UInt64),
        nr_sector=pl.col("nr").cast(pl.UInt32),
        bytes=pl.col("bytes").cast(pl.UInt64) if submit else pl.lit(None, pl.UInt64),
        rq_comm=pl.col("tail") if submit else pl.lit(None, pl.String),
        error=pl.lit(None, pl.Int32) if submit else pl.col("tail").cast(pl.Int32, strict=False),
    )


def _net(frame: pl.DataFrame) -> pl.DataFrame:
    p = pl.col("payload")
    return frame.with_columns(
        dev_name=p.str.extract(r"(?:^|\s)dev=(\S+)", 1),
        skbaddr=p.str.extract(r"(?:^|\s)skbaddr=(?:0x)?([0-9a-fA-F]+)", 1),
        len=p.str.extract(r"(?:^|\s)len=(\d+)", 1).cast(pl.UInt32),
    )
