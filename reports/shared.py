"""What the block and net reports share: option checks (run before any input is read) and Tally."""
from __future__ import annotations

import math

import polars as pl

from ..parsers.errors import TraceParseError

TIME_UNITS = ("ns", "us", "ms")  # display units of latency; UNIT_NS also knows "s", for info's table
DEFAULT_TOP = 10
# A listing is for reading: past this many rows (--slower-than 0 on a capture of millions) it would
# hold every request in memory and in the JSON. The whole table is what `export --report block` writes.
LISTING_CAP = 100_000


def check_unit(unit: str) -> None:
    if unit not in TIME_UNITS:
        raise TraceParseError(f"--unit must be one of ns, us, ms (got {unit!r})")


def check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
        raise TraceParseError(f"--top must be 0 (all) or more (got {top})")


def check_threshold(slower_than_ns: int | None) -> None:
    if slower_than_ns is not None and slower_than_ns < 0:
        raise TraceParseError(f"--slower-than must be 0 or more (got {slower_than_ns} ns)")


def check_window(since_s: float | None, until_s: float | None) -> None:
    for name, v in (("--since", since_s), ("--until", until_s)):
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise TraceParseError(f"{name} must be a number of seconds from the capture's start, 0 or more (got {v})")
    if since_s is not None and until_s is not None and until_s <= since_s:
        raise TraceParseError(f"--until {until_s:g} must be later than --since {since_s:g}: that window holds nothing")


def listing_limit(top: int | None, slower_than_ns: int | None) -> int:
    """Rows a slow listing keeps (0: all): --top if given; else all past a threshold, or the 10 slowest."""
    if top is not None:
        return top
    return 0 if slower_than_ns is not None else DEFAULT_TOP


def shown_of(shown: int, total: int) -> str:
    """' (10 of 41 shown)' when a listing was cut, '' when it holds them all."""
    if shown >= total:
        return ""
    if shown >= LISTING_CAP:
        return f" ({shown:,} of {total:,} shown, the slowest: a listing's bound; traceparse export --report block writes them all)"
    return f" ({shown:,} of {total:,} shown; --top 0 lists all)"


class Tally:
    """A small count frame carried across chunks: add rows, re-aggregate by ``keys``, sum the rest."""

    def __init__(self, keys: list[str]):
        self.keys, self.frame = keys, pl.DataFrame()

    def add(self, rows: pl.DataFrame) -> None:
        if not rows.height:
            return
        both = pl.concat([self.frame, rows], how="vertical_relaxed") if self.frame.height else rows
        sums = [c for c in both.columns if c not in self.keys]
        self.frame = both.group_by(self.keys).agg(pl.col(sums).sum())

    def most_common(self, key: str, n: int | None = None) -> list[tuple[str, int]]:
        """[(value of ``key``, count)], largest first, ties by value: what a warning lists."""
        if not self.frame.height:
            return []
        f = self.frame.group_by(key).agg(pl.col("n").sum()).sort(["n", key], descending=[True, False])
        rows = list(zip(f[key].to_list(), f["n"].to_list()))
        return rows if n is None else rows[:n]
