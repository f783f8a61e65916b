"""Block requests still in flight between chunks, kept so that a long capture costs no more per chunk.

Requests pair by (device, sector) alone, so a chunk only needs the open requests of its own keys:
the native kernel (reports/native/src/pairing.rs) keeps them in a table probed by key. When
completes are lost (this machine's perf drops most of them under load) open requests pile up by
the hundred thousand, so the recent ones ("hot") are frozen into a part once there are more than
HOT_ROWS of them.

The table is bounded, as biosnoop's and bpftrace's maps are: past MAX_OPEN open requests the oldest
frozen part is dropped and counted. No device has that many requests in flight (blk-mq gives each
hardware queue a few thousand tags at most): those requests lost their completes.
"""
from __future__ import annotations

import polars as pl

from . import _native
from ..parsers.schema import BlockLane
from .block_pairing import LaneCodes, Paired, Strings, columns, paired, requests

HOT_ROWS = 50_000  # more recent open requests than this, and they are frozen
MAX_OPEN = 500_000  # more open requests than this, and the oldest frozen part is dropped


def hot_rows() -> int:
    return HOT_ROWS  # read when used, so tests can make it small


class OpenRequests:
    def __init__(self, max_open: int | None = None, match=None, sides: bool = True):
        self.max_open = MAX_OPEN if max_open is None else max_open
        # match(rows) -> the rows the report's filters keep: dropped requests are counted both ways
        self.match = match
        self.sides = sides  # False: the unpaired are counted, not handed over (a report without filters)
        self.strings: Strings | LaneCodes | None = None  # set by the first chunk: lane codes, or frames'
        self._lane = None
        self._table = _native.Pairing()
        self.dropped_issued = 0  # dropped by the bound: issued, never completed
        self.dropped_inserted = 0  # dropped by the bound: inserted, never issued
        self.matched_issued = 0  # of those, the ones match() keeps
        self.matched_inserted = 0

    def pair(self, frames: dict[str, pl.DataFrame], lane: BlockLane | None = None, record=None) -> Paired | None:
        """Pair one chunk's block events (its lane, else its block frames) with the open requests;
        what stays open is kept. None: no block rows. ``record``: a native Recorder that counts the
        finished requests as they are found (they are not handed over then)."""
        if lane is not None:
            if self.strings is None:
                self.strings, self._lane = LaneCodes(lane.strings), lane.strings
            if self._lane is not lane.strings:
                raise AssertionError("one run's chunks came with block lanes of different string tables")
            self.strings.sync()
            if not len(lane):
                return None
            cols = lane.cols
        else:
            strings = self.strings if self.strings is not None else Strings()
            cols = columns(frames, strings)
            if cols is None:  # a chunk without block rows decides nothing (the next may bring a lane)
                return None
            self.strings = strings
        strings = self.strings.values if record is not None else None
        out = self._table.pair(cols, bytes(self.strings.ops), hot_rows(), self.max_open, self.sides, record, strings)
        if out["dropped.dev"]:
            self._drop(requests(out, "dropped", self.strings))
        return paired(out, self.strings)

    def counts(self) -> tuple[int, int]:
        """(issued, inserted and never issued) of the open requests, none of them handed over."""
        return self._table.open_counts()

    def all(self) -> pl.DataFrame:
        """Every open request: dev, rwbs, ins_comm, iss_comm, ins_ts, iss_ts, ..."""
        return requests(self._table.open(), "open", self.strings or Strings())

    def _drop(self, alive: pl.DataFrame) -> None:
        issued = int(alive["iss_ts"].is_not_null().sum())
        self.dropped_issued += issued
        self.dropped_inserted += alive.height - issued
        kept = self.match(alive) if self.match is not None else alive
        issued = int(kept["iss_ts"].is_not_null().sum())
        self.matched_issued += issued
        self.matched_inserted += kept.height - issued
