"""Latency heat maps and per-interval series over time, as data for the JSON contract and the HTML page.

Gregg's latency heat map: x = time in the capture, y = latency buckets on a log scale, colour =
how many requests ended in that time interval with that latency. Counted as columns (a polars
group_by over (time bucket, latency bucket) per chunk, merged with the cells so far), so memory is
bounded by the cells, not the requests; each cell also keeps its few slowest requests, so that a
reader who clicks a hot cell sees who they were.

    "heatmaps": {"d2c": {"t0_ns": 3966...0, "bin_ns": 20000000, "columns": 46,
                         "rows": [{"lo": 8192, "hi": 10240}, ...],           # latency buckets, ns
                         "cells": [[col, row, count], ...],                  # non-empty cells only
                         "slowest": {"keys": ["col", "row", "value_ns", ...], "rows": [[...], ...]}}}
    "series": {"t0_ns": ..., "bin_ns": ..., "columns": 46,
               "charts": [{"key": "iops", "title": "IOPS", "unit": "/s", "lines": {"all": [...]}}]}

Latency buckets are quarter octaves (4 per power of two), exact over integer nanoseconds: below 4
ns one bucket per value; from 4 on, bucket 4*(k-1) + sub holds [(4+sub) << (k-2), (5+sub) << (k-2))
with k = floor(log2 v) and sub the two bits after the leading one. Time buckets are widths from a
ladder (1, 2, 10, 20, 100, ... us): each is a multiple of the one before, so cells counted at a
narrow width merge exactly into a wider one when the capture turns out longer than expected.
"""
from __future__ import annotations

import polars as pl

MAX_COLUMNS = 120  # time buckets drawn: a heat map is read at a glance, not scrolled
KEEP_PER_CELL = 5  # slowest requests kept per cell
MAX_KEPT = 4_000  # and per heat map (the file stays small: a 4M-event capture's page ~1 MB)
LADDER = [m * 10**e for e in range(3, 13) for m in (1, 2)]  # 1 us .. 2000 s, each a multiple of the last


def lat_bucket(v: pl.Expr) -> pl.Expr:
    """The quarter-octave bucket of non-negative integer nanoseconds ``v`` (see the module docstring)."""
    u = v.cast(pl.UInt64)
    k = (pl.lit(63, pl.Int64) - u.bitwise_leading_zeros().cast(pl.Int64)).clip(2, 63)
    sub = (u // pl.lit(2, pl.Int64).pow(k - 2).cast(pl.UInt64)).cast(pl.Int64) - 4
    return pl.when(u < 4).then(u.cast(pl.Int64)).otherwise(4 * (k - 1) + sub)


def bucket_range(idx: int) -> tuple[int, int]:
    """[lo, hi) in ns of a quarter-octave bucket."""
    if idx < 4:
        return idx, idx + 1
    shift = idx // 4 - 1
    sub = idx % 4
    return (4 + sub) << shift, (5 + sub) << shift


def width_for(span_ns: int, at_least: int = LADDER[0]) -> int:
    """The narrowest ladder width >= ``at_least`` that covers ``span_ns`` in MAX_COLUMNS buckets."""
    for w in LADDER:
        if w >= at_least and -(-max(span_ns, 1) // w) <= MAX_COLUMNS:
            return w
    return LADDER[-1]


class Cells:
    """Counts (and sums) per (time bucket, keys), merged chunk after chunk at a width that only grows."""

    def __init__(self, t0_ns: int, keys: list[str], sums: tuple[str, ...] = ()):
        self.t0, self.keys, self.sums = t0_ns, keys, sums
        self.width = LADDER[0]
        self.frame: pl.DataFrame | None = None

    def col(self, ts: pl.Expr) -> pl.Expr:
        return ((ts - self.t0) // self.width).alias("col")

    def add(self, rows: pl.DataFrame) -> None:
        """``rows``: ts_ns, the key columns and the sum columns."""
        if not rows.height:
            return
        self._widen(int(rows["ts_ns"].max()) - self.t0)
        aggs = [pl.len().alias("n"), *(pl.col(s).sum() for s in self.sums)]
        cells = rows.lazy().group_by(self.col(pl.col("ts_ns")), *self.keys).agg(aggs)
        if self.frame is not None:  # one query: this chunk's cells merged into those so far
            cells = self._merge(pl.concat([self.frame.lazy(), cells], how="vertical_relaxed"))
        self.frame = cells.collect()

    def _merge(self, f):  # a DataFrame, or a LazyFrame
        return f.group_by("col", *self.keys).agg(pl.col("n").sum(), *(pl.col(s).sum() for s in self.sums))

    def _widen(self, span_ns: int) -> None:
        # 4x the columns drawn while streaming: the final width is chosen once the window is known
        w = self.width
        while -(-max(span_ns, 1) // w) > 4 * MAX_COLUMNS and w < LADDER[-1]:
            w = LADDER[LADDER.index(w) + 1]
        self.set_width(w)

    def set_width(self, w: int) -> None:
        if w != self.width and self.frame is not None:
            self.frame = self._merge(self.frame.with_columns(col=(pl.col("col") * self.width) // w))
        self.width = w


class HeatMap:
    """One latency's heat map: cells of (time bucket, latency bucket) and their slowest requests."""

    def __init__(self, t0_ns: int, keep: list[str] | None = None):
        self.cells = Cells(t0_ns, ["row"])
        self.keep = keep or []  # columns of a request shown when its cell is clicked
        self.kept: pl.DataFrame | None = None
        self.final = False  # kept holds the final cut already
        # (lo, hi, cells, slowest rows) as data() gives them, from block's native recording
        self.ordered: tuple | None = None

    @property
    def width(self) -> int:
        return self.cells.width

    def add(self, rows: pl.DataFrame) -> None:
        """``rows``: ts_ns (when the request ended), value_ns (>= 0) and the ``keep`` columns."""
        if not rows.height:
            return
        row = lat_bucket(pl.col("value_ns")).alias("row")
        self.cells.add(rows.select("ts_ns", row))
        cand = self._slowest(rows.lazy().select("ts_ns", "value_ns", row, *self.keep))  # the chunk's few first
        if self.kept is not None:
            cand = self._slowest(pl.concat([self.kept.lazy(), cand], how="vertical_relaxed"))
        self.kept = cand.collect()  # one query for the lot: on small chunks polars' cost is per call

    def _slowest(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """At most KEEP_PER_CELL per cell, the slowest (ties: the earliest): one sort and a head per group."""
        # only a cell's KEEP_PER_CELL largest values (and their ties) can be among its slowest: the
        # sort then takes a few rows per cell, not all of them (a sort of 72k requests by these keys
        # cost ~50 MB of peak RSS, a third of a large run's)
        value = pl.col("value_ns")
        rows = rows.filter((value >= value.top_k(KEEP_PER_CELL).min().over(self.cells.col(pl.col("ts_ns")), "row")) | value.is_null())
        # ties of value and time (two CPUs' events in one µs of perf text) broken by the kept fields:
        # the same requests are kept whatever order the chunks held them in
        order = rows.sort(["value_ns", "ts_ns", *self.keep], descending=[True, False, *[False] * len(self.keep)],
                          nulls_last=True)
        return order.group_by(self.cells.col(pl.col("ts_ns")), "row", maintain_order=True).head(KEEP_PER_CELL).drop("col")

    def _cut(self, final: bool = False) -> None:
        """Per cell, as _slowest; ``final``: at most MAX_KEPT in all, every cell's slowest first, then
        every cell's second, ... so that a click on any cell finds someone (the slowest of all alone
        would leave the fast, busy cells empty)."""
        k = self._slowest(self.kept.lazy()).collect()
        if final and k.height > MAX_KEPT:
            k = (k.lazy().with_columns(col=self.cells.col(pl.col("ts_ns")))
                 .with_columns(rank=pl.int_range(pl.len()).over("col", "row"))  # _slowest left each cell in order
                 .sort(["rank", "value_ns", "ts_ns"], descending=[False, True, False]).head(MAX_KEPT).drop("rank", "col")
                 .collect())
        self.kept = k

    def set_width(self, w: int) -> None:
        self.cells.set_width(w)  # the kept requests are cut to the new cells by data(), once

    def data(self, metric: str, columns: int) -> dict:
        c = self.cells.frame
        out = {"metric": metric, "t0_ns": self.cells.t0, "bin_ns": self.width, "columns": columns,
               "rows": [], "cells": [], "kept_per_cell": KEEP_PER_CELL, "max_kept": MAX_KEPT,
               "slowest": {"keys": ["col", "row", "ts_ns", "value_ns", *self.keep], "rows": []}}
        if self.ordered is not None:
            lo, hi, out["cells"], out["slowest"]["rows"] = self.ordered
            out["rows"] = [dict(zip(("lo", "hi"), bucket_range(i))) for i in range(lo, hi + 1)]
            return out
        if c is None or not c.height:
            return out
        if not self.final:
            self._cut(final=True)
        lo, hi = c.select(lo=pl.col("row").min(), hi=pl.col("row").max()).row(0)
        out["rows"] = [dict(zip(("lo", "hi"), bucket_range(i))) for i in range(lo, hi + 1)]
        c = c.sort("col", "row")
        out["cells"] = [[a, b - lo, n] for a, b, n in zip(c["col"].to_list(), c["row"].to_list(), c["n"].to_list())]
        text = [name for name, t in self.kept.schema.items() if t == pl.Categorical]
        k = (self.kept.lazy().with_columns(col=self.cells.col(pl.col("ts_ns")), row=pl.col("row") - lo)
             .sort(["col", "row", "value_ns", "ts_ns", *self.keep], descending=[False, False, True, False, *[False] * len(self.keep)],
                   nulls_last=True)
             .with_columns(pl.col(text).cast(pl.String))
             .select(out["slowest"]["keys"]))
        out["slowest"]["rows"] = k.collect().rows()
        return out


class Timeline:
    """Heat maps (one per latency) and series (counts and sums per interval and key) on one time axis."""

    def __init__(self, t0_ns: int, keep: list[str] | None = None):
        self.t0 = t0_ns
        self.keep = keep
        self.maps: dict[str, HeatMap] = {}
        self.series: dict[str, Cells] = {}

    def latency(self, metric: str, rows: pl.DataFrame) -> None:
        if metric not in self.maps:
            self.maps[metric] = HeatMap(self.t0, self.keep)
        self.maps[metric].add(rows)

    def count(self, name: str, rows: pl.DataFrame, sums: tuple[str, ...] = ()) -> None:
        """``rows``: ts_ns, key (a line of the chart) and the ``sums`` columns."""
        if name not in self.series:
            self.series[name] = Cells(self.t0, ["key"], sums)
        self.series[name].add(rows)

    def finish(self, end_ns: int) -> int:
        """One width for everything, narrow enough for MAX_COLUMNS over [t0, end): the columns drawn."""
        widths = [m.width for m in self.maps.values()] + [s.width for s in self.series.values()]
        w = width_for(end_ns - self.t0, max(widths, default=LADDER[0]))
        for m in self.maps.values():
            m.set_width(w)
        for s in self.series.values():
            s.set_width(w)
        self.w = w
        return max(1, -(-(end_ns - self.t0) // w))

    def heatmaps(self, columns: int) -> dict:
        return {metric: m.data(metric, columns) for metric, m in self.maps.items()}

    def lines(self, name: str, value: str, columns: int, per_s: bool = False, scale: float = 1.0) -> dict[str, list]:
        """{key: [value per interval]} of one series; ``per_s``: divided by the interval's length."""
        s = self.series.get(name)
        if s is None or s.frame is None:
            return {}
        # each key's (col, value) pairs as lists, in one query
        f = s.frame.lazy().filter(pl.col("col").is_between(0, columns - 1)).group_by("key").agg("col", value).collect()
        out = {}
        for key, cols, values in sorted(zip(*(f[c].to_list() for c in ("key", "col", value))), key=lambda kcv: str(kcv[0])):
            vals = [0] * columns
            for c, v in zip(cols, values):
                vals[c] = v
            if per_s or scale != 1.0:
                vals = [round(v * (1e9 / self.w if per_s else 1.0) * scale, 6) for v in vals]
            out[str(key)] = vals
        return out

    def series_data(self, columns: int, charts: list[dict]) -> dict:
        return {"t0_ns": self.t0, "bin_ns": self.w, "columns": columns, "charts": [c for c in charts if c["lines"]]}


# --- what each report draws: the call sites stay one line each ---------------------------------
# (block's heat maps are counted by its native recording: reports/block_recording.py)


def block_data(tl: Timeline | None, end_ns: int) -> dict:
    if tl is None:
        return {"heatmaps": {}, "series": None}
    n = tl.finish(end_ns)
    charts = [
        {"key": "iops", "title": "IOPS (requests completed per second, per device)", "unit": "/s",
         "lines": tl.lines("requests", "n", n, per_s=True)},
        {"key": "mb_s", "title": "MB/s (bytes completed per second, per device)", "unit": "MB/s",
         "lines": tl.lines("requests", "bytes", n, per_s=True, scale=1e-6)},
    ]
    return {"heatmaps": tl.heatmaps(n), "series": tl.series_data(n, charts)}


def add_handshakes(tl: Timeline, ok: pl.DataFrame) -> None:
    """Established TCP handshakes (net.py's columns): a heat map per kind at the handshake's end."""
    for kind in ("connect", "accept"):
        part = ok.filter(pl.col("kind") == kind)
        if part.height:
            tl.latency(kind, part.select(ts_ns="end_ts_ns", value_ns="lat_ns", comm="comm", pid="pid", flow="flow"))


def add_packets(tl: Timeline, pk: pl.DataFrame, tx: tuple, rx: tuple) -> None:
    """Packets (net.py's columns: event, len, ts_ns) per interval, on the line of their direction."""
    side = pl.when(pl.col("event").is_in(list(tx))).then(pl.lit("tx")).when(pl.col("event").is_in(list(rx))).then(pl.lit("rx"))
    tl.count("packets", pk.select("ts_ns", key=pl.concat_str(side, pl.lit(" "), pl.col("event")), bytes="len"), ("bytes",))


def net_data(tl: Timeline | None, end_ns: int, chosen: tuple) -> dict:
    """``chosen``: the tracepoints each direction is counted from (the others are candidates only)."""
    if tl is None:
        return {"heatmaps": {}, "series": None}
    n = tl.finish(end_ns)
    keep = {f"{d} {e}" for d, e in zip(("tx", "rx"), chosen) if e}
    pick = lambda lines: {k: v for k, v in lines.items() if k in keep}  # noqa: E731
    charts = [
        {"key": "pps", "title": "Packets per second (tx, rx)", "unit": "/s", "lines": pick(tl.lines("packets", "n", n, per_s=True))},
        {"key": "bytes_s", "title": "Bytes per second (tx, rx)", "unit": "B/s", "lines": pick(tl.lines("packets", "bytes", n, per_s=True))},
    ]
    return {"heatmaps": tl.heatmaps(n), "series": tl.series_data(n, charts)}


def add_pairs(tl: Timeline, metric: str, pairs: pl.DataFrame) -> None:
    """Pairs of an any-event preset (engine/latency.py's columns): heat map by metric, pairs per interval."""
    keep = [c for c in ("comm", "pid") if c in pairs.columns]
    rows = pairs.select("ts_ns", *keep, value_ns=pl.col("latency_ns").clip(0))
    for c in ("comm", "pid"):
        if c not in rows.columns:
            rows = rows.with_columns(pl.lit(None, pl.String).alias(c))
    tl.latency(metric, rows.select("ts_ns", "comm", "pid", "value_ns").with_columns(pl.col("comm").cast(pl.String)))
    tl.count("pairs", rows.select("ts_ns", key=pl.lit(metric)))


def pairs_data(tl: Timeline | None, end_ns: int) -> dict:
    if tl is None:
        return {"heatmaps": {}, "series": None}
    n = tl.finish(end_ns)
    charts = [{"key": "pairs_s", "title": "Pairs completed per second, per metric", "unit": "/s",
               "lines": tl.lines("pairs", "n", n, per_s=True)}]
    return {"heatmaps": tl.heatmaps(n), "series": tl.series_data(n, charts)}


def add_events(tl: Timeline, frames: dict) -> None:
    """Every event of a chunk, per kind (info): one small group_by per kind's frame."""
    for event, f in frames.items():
        if f.height:
            tl.count("events", f.select("ts_ns", key=pl.lit(event)))


def events_data(tl: Timeline | None, end_ns: int, top: int = 12) -> dict:
    """Events per second per kind; the ``top`` busiest kinds get a line each, the rest one line."""
    if tl is None:
        return {"series": None}
    n = tl.finish(end_ns)
    lines = tl.lines("events", "n", n, per_s=True)
    busiest = sorted(lines, key=lambda k: (-sum(lines[k]), k))
    shown = {k: lines[k] for k in busiest[:top]}
    if len(busiest) > top:
        rest = [sum(lines[k][i] for k in busiest[top:]) for i in range(n)]
        shown[f"{len(busiest) - top} other kinds"] = rest
    return {"series": tl.series_data(n, [{"key": "events_s", "title": "Events per second, per kind", "unit": "/s", "lines": shown}])}
