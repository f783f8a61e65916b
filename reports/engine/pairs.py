"""Start -> end pairs per key, columnar, streamed chunk by chunk (funclatency, syscount -L, runqlat...).

Starts and ends of one chunk, plus the starts still open from earlier chunks, are put in one frame
sorted by (key, time); an end at equal time sorts before a start (a call that returns and the
next one that begins in the same printed microsecond). Then, with no loop over events:

- ``nested`` (function calls, which recurse): per key, a running depth ``cum_sum(+1 start, -1 end)``.
  A start opens level ``depth`` (after it), an end closes level ``depth + 1`` (before it). Within one
  (key, level) group starts and ends strictly alternate — getting back to a level means passing
  through the event that left it — so an end pairs with the row just before it in its group when
  that row is a start: the latest unmatched start at its depth, a per-key stack without a stack.
  An end with no start before it (the call began before the capture) is ``end_without_start``;
  the depth may go negative there, which only shifts the levels after it.
- ``latest`` (syscalls, wakeup -> switch-in): no nesting; an end pairs with the row before it in its
  key when that is a start. A start followed by another start lost its end (or was superseded, as
  a second wakeup supersedes the first in bpftrace's runqlat): ``overwritten``.

Starts left open at the end of a chunk are carried to the next one (in nested mode they are exactly
the stack: contiguous levels, so their depths come out the same when re-counted). They are bounded
like block's open requests: past ``max_open`` the oldest are dropped and counted in ``open_dropped``.
"""
from __future__ import annotations

import polars as pl

MAX_OPEN = 500_000  # no workload has that many calls in flight at once: their ends were lost


class Pairer:
    """Feed start and end frames chunk by chunk; get back pair frames.

    Both frames have the key columns ``keys`` (the same names on both sides: rename a side's own
    fields to them first), ``ts_ns``, and any other columns; a start's columns other than the keys
    come back prefixed ``start_`` on its pair, an end's as they are.
    """

    def __init__(self, keys: list[str], nested: bool, max_open: int = MAX_OPEN):
        self.keys, self.nested, self.max_open = keys, nested, max_open
        self.open: pl.DataFrame | None = None
        self.unmatched = {"end_without_start": 0, "overwritten": 0, "open_dropped": 0}

    def feed(self, starts: pl.DataFrame, ends: pl.DataFrame) -> pl.DataFrame:
        s = starts.with_columns(_side=pl.lit(1, pl.Int8))  # carried open starts keep their _side
        e = ends.with_columns(_side=pl.lit(-1, pl.Int8))
        parts = [p for p in (self.open, s, e) if p is not None and p.height]
        if not parts:
            return pl.DataFrame()
        f = pl.concat(parts, how="diagonal_relaxed").sort([*self.keys, "ts_ns", "_side"], maintain_order=True)
        group = list(self.keys)
        if self.nested:
            depth = pl.col("_side").cast(pl.Int64).cum_sum().over(self.keys)
            f = f.with_columns(_level=pl.when(pl.col("_side") > 0).then(depth).otherwise(depth + 1))
            group.append("_level")
        side = pl.col("_side")
        prev, nxt = side.shift(1).over(group), side.shift(-1).over(group)
        f = f.with_columns(_prev=prev, _next=nxt)
        # every column of the row before comes along as start_*: the start's time, fields and payload
        internal = ("_side", "_level", "_prev", "_next")
        starts_cols = [c for c in f.columns if c not in self.keys and c not in internal]
        shifted = [pl.col(c).shift(1).over(group).alias("start_" + c) for c in starts_cols]
        is_end, is_start = side < 0, side > 0
        pairs = f.with_columns(shifted).filter(is_end & (pl.col("_prev") == 1))
        self.unmatched["end_without_start"] += int(f.filter(is_end & (pl.col("_prev").is_null() | (pl.col("_prev") < 0))).height)
        open_ = f.filter(is_start & pl.col("_next").is_null())
        if not self.nested:
            self.unmatched["overwritten"] += int(f.filter(is_start & (pl.col("_next") == 1)).height)
        self.open = self._bound(open_.drop("_level", "_prev", "_next", strict=False).sort("ts_ns", maintain_order=True))
        out = pairs.drop([c for c in pairs.columns if c.startswith("_")])
        return out.with_columns(latency_ns=pl.col("ts_ns") - pl.col("start_ts_ns"))

    def _bound(self, open_: pl.DataFrame) -> pl.DataFrame:
        extra = open_.height - self.max_open
        if extra > 0:
            self.unmatched["open_dropped"] += extra
            open_ = open_.slice(extra)
        return open_

    def still_open(self) -> pl.DataFrame:
        """Starts never ended (in flight when the capture stopped, or their ends were lost)."""
        return self.open.drop("_side") if self.open is not None else pl.DataFrame()
