"""``count()`` by any fields, over the whole capture and per ``--interval``: bpftrace's
``@[comm, args->irq] = count()`` and ``interval:s:1 { print(@); clear(@) }``, offline.

Counts are carried from chunk to chunk as a small frame (one row per group and interval), never
per event.
"""
from __future__ import annotations

import polars as pl

from .fields import with_fields
from .hist import group_key
from .where import Where, apply


class FieldCount:
    def __init__(self, by: list[str], where: Where | None, interval_ns: int | None = None):
        self.by, self.where, self.interval_ns = by, where, interval_ns
        self.frame: pl.DataFrame | None = None  # _g, _t (interval start, ns from the capture's start), n
        self.first_ts: int | None = None

    def feed(self, event: str, frame: pl.DataFrame, first_ts: int) -> None:
        names = [n for n in (*self.by, *(self.where.names if self.where else [])) if n != "event"]
        f = apply(with_fields(frame, event, names, prefix=""), self.where)
        if not f.height:
            return
        t = ((pl.col("ts_ns") - first_ts) // self.interval_ns * self.interval_ns) if self.interval_ns else pl.lit(0, pl.Int64)
        rows = f.group_by(_g=group_key(self.by, event), _t=t.cast(pl.Int64)).agg(n=pl.len().cast(pl.Int64))
        both = rows if self.frame is None else pl.concat([self.frame, rows])
        self.frame = both.group_by("_g", "_t").agg(pl.col("n").sum())

    def totals(self) -> pl.DataFrame:
        """_g, n: largest first, ties by key."""
        if self.frame is None:
            return pl.DataFrame(schema={"_g": pl.String, "n": pl.Int64})
        return self.frame.group_by("_g").agg(pl.col("n").sum()).sort(["n", "_g"], descending=[True, False])

    def per_interval(self) -> pl.DataFrame:
        if self.frame is None:
            return pl.DataFrame(schema={"_g": pl.String, "_t": pl.Int64, "n": pl.Int64})
        return self.frame.sort(["_t", "n", "_g"], descending=[False, True, False])
