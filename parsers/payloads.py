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

BLOCK_RQ = (
    r"^(?P<major>\d+),(?P<minor>\d+)\s+(?P<rwbs>[A-Z]+)\s+(?:(?P<bytes>\d+)\s+)?\((?P<cmd>[^)]*)\)\s+"
    r"(?P<sector>\d+)\s+\+\s+(?P<nr>\d+)(?:\s+(?P<ioprio>[0-9a-zx]+,\d+,\d+))?\s+\[(?P<tail>.*)\]\s*$"
)
# "key=value" and "key: value" pairs of any other payload (sched_switch, syscalls, print, ...)
# ("fd: 0x00000003, buf: ..."): the comma after a value separates, it is not part of the value
PAIR = r"[A-Za-z_][\w.]*(?:=|: )\S*"
PAIR_GROUPS = r"^(?P<key>[A-Za-z_][\w.]*)(?:=|: )(?P<value>\S*?),?$"


def typed_frames(events: pl.DataFrame) -> tuple[dict[str, pl.DataFrame], list[pl.DataFrame]]:
    """Split a chunk's events by kind and give each kind its payload columns.

    Returns the frames and the events whose payload does not parse or holds a number too wide for
    its column (frames of ``no``, ``line``: the line number and ``event: payload``), left out of the frames.
    """
    out: dict[str, pl.DataFrame] = {}
    bad: list[pl.DataFrame] = []
    if not events.height:
        return out, bad
    for (name,), frame in events.partition_by("event", as_dict=True, maintain_order=True).items():
        if name in BLOCK_EVENTS:
            frame, wrong = _block(frame, name)
            bad.append(wrong)
        elif name in NET_EVENTS:
            frame, wrong = _net(frame, name)
            bad.append(wrong)
        else:
            frame = frame.with_columns(
                fields=pl.col("payload").str.extract_all(PAIR).list.eval(pl.element().str.extract_groups(PAIR_GROUPS))
            )
        out[name] = conform(frame, name)
    return out, bad


def _split_bad(frame: pl.DataFrame, ok: pl.Expr, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    wrong = frame.filter(~ok).select("no", line=pl.lit(f"{name}: ") + pl.col("payload"))
    return frame.filter(ok), wrong


def _wide(text: str, typed: str) -> pl.Expr:
    """True where the regex took digits for a column but the number does not fit it."""
    return pl.col(text).is_not_null() & pl.col(typed).is_null()


def _block(frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    g = frame.with_columns(pl.col("payload").str.extract_groups(BLOCK_RQ).alias("b")).unnest("b")
    submit = name in ("block:block_rq_insert", "block:block_rq_issue")
    g = g.with_columns(
        dev_major=pl.col("major").cast(pl.UInt32, strict=False),
        dev_minor=pl.col("minor").cast(pl.UInt32, strict=False),
        sector_n=pl.col("sector").cast(pl.UInt64, strict=False),
        nr_sector=pl.col("nr").cast(pl.UInt32, strict=False),
        bytes_n=pl.col("bytes").cast(pl.UInt64, strict=False) if submit else pl.lit(None, pl.UInt64),
        error=pl.lit(None, pl.Int32) if submit else pl.col("tail").cast(pl.Int32, strict=False),
    )
    wide = [_wide(*c) for c in (("major", "dev_major"), ("minor", "dev_minor"), ("sector", "sector_n"), ("nr", "nr_sector"))]
    # complete's [...] holds the error code: a number, but the regex takes any text there
    wide.append(_wide("bytes", "bytes_n") if submit else _wide("tail", "error") & pl.col("tail").str.contains(r"^-?\d+$"))
    g, wrong = _split_bad(g, pl.col("major").is_not_null() & ~pl.any_horizontal(wide), name)
    return g.with_columns(
        dev=pl.concat_str("major", pl.lit(","), "minor"),
        sector="sector_n",
        bytes="bytes_n",
        rq_comm=pl.col("tail") if submit else pl.lit(None, pl.String),
    ), wrong


def _net(frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = pl.col("payload")
    g = frame.with_columns(
        dev_name=p.str.extract(r"(?:^|\s)dev=(\S+)", 1),
        skbaddr=p.str.extract(r"(?:^|\s)skbaddr=(?:0x)?([0-9a-fA-F]+)", 1),
        len_text=p.str.extract(r"(?:^|\s)len=(\d+)", 1),
    ).with_columns(len=pl.col("len_text").cast(pl.UInt32, strict=False))
    return _split_bad(g, ~_wide("len_text", "len"), name)
