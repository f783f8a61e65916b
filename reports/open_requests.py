"""Block requests still in flight between chunks, kept so that a long capture costs no more per chunk.

Requests pair by (device, sector) alone, so a chunk only needs the open requests of its own keys.
When completes are lost (this machine's perf drops most of them under load) open requests pile up
by the hundred thousand; re-sorting, or even copying, all of them with every chunk made time and
peak memory grow with the capture. So the recent ones ("hot") are a small frame that is rebuilt per
chunk, and older ones are frozen in parts that are only probed by key; a request taken out of a
frozen part is remembered by its row id and the part is rewritten only once a quarter of it is gone.

The table is bounded, as biosnoop's and bpftrace's maps are: past MAX_OPEN open requests the oldest
frozen part is dropped and counted. No device has that many requests in flight (blk-mq gives each
hardware queue a few thousand tags at most): those requests lost their completes.
"""
from __future__ import annotations

import polars as pl

KEY = ["devnum", "sector"]
HOT_ROWS = 50_000  # more recent open requests than this, and they are frozen
MAX_OPEN = 500_000  # more open requests than this, and the oldest frozen part is dropped


def hot_rows() -> int:
    return HOT_ROWS  # read when used, so tests can make it small


class OpenRequests:
    def __init__(self, schema: dict[str, pl.DataType], max_open: int | None = None, match=None):
        self.schema, self.max_open = schema, MAX_OPEN if max_open is None else max_open
        # match(rows) -> the rows the report's filters keep: dropped requests are counted both ways
        self.match = match
        self.hot = pl.DataFrame(schema=schema)
        self.frozen: list[pl.DataFrame] = []
        self.gone: set[int] = set()  # row ids taken out of frozen parts
        self.dropped_issued = 0  # dropped by the bound: issued, never completed
        self.dropped_inserted = 0  # dropped by the bound: inserted, never issued
        self.matched_issued = 0  # of those, the ones match() keeps
        self.matched_inserted = 0

    def take(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Remove and return the open requests under ``keys`` (devnum, sector rows; repeats are fine)."""
        out = [self.hot.join(keys, on=KEY, how="semi")]
        if out[0].height:
            self.hot = self.hot.join(keys, on=KEY, how="anti")
        for part in self.frozen:
            hit = self._alive(part.join(keys, on=KEY, how="semi"))
            if hit.height:
                self.gone.update(hit["rid"].to_list())
                out.append(hit)
        self._compact()
        return pl.concat(out) if len(out) > 1 else out[0]

    def put(self, rows: pl.DataFrame) -> None:
        self.hot = pl.concat([self.hot, rows]) if self.hot.height else rows
        if self.hot.height > hot_rows():
            self.frozen.append(self.hot.rechunk())
            self.hot = pl.DataFrame(schema=self.schema)
            while self.frozen and self.hot.height + sum(p.height for p in self.frozen) - len(self.gone) > self.max_open:
                self._drop(self.frozen.pop(0))

    def all(self) -> pl.DataFrame:
        return pl.concat([self.hot, *(self._alive(p) for p in self.frozen)])

    def _alive(self, part: pl.DataFrame) -> pl.DataFrame:
        return part.filter(~pl.col("rid").is_in(list(self.gone))) if self.gone and part.height else part

    def _drop(self, part: pl.DataFrame) -> None:
        alive = self._alive(part)
        self.gone.difference_update(part["rid"].to_list())
        issued = int(alive["iss_ts"].is_not_null().sum())
        self.dropped_issued += issued
        self.dropped_inserted += alive.height - issued
        kept = self.match(alive) if self.match is not None else alive
        issued = int(kept["iss_ts"].is_not_null().sum())
        self.matched_issued += issued
        self.matched_inserted += kept.height - issued

    def _compact(self) -> None:
        if self.gone and len(self.gone) * 4 > sum(p.height for p in self.frozen):
            self.frozen = [p for p in map(self._alive, self.frozen) if p.height]
            self.gone = set()
