"""What `traceparse block` keeps of each finished request, counted by a native kernel.

reports/native/src/recording.rs counts every finished request (the pairing's ``done`` columns, as
they come out of it) into HdrHistogram cells, heat-map cells with their slowest requests, the
per-interval series and the slow listing: the formulas of histogram.py and heatmap.py, per request
in Rust rather than a few dozen polars queries per batch. At the end this module turns its answers
into what those modules keep (GroupedDistributions' distributions, rolled up natively into the
report's groupings: total, dev, op, rwbs, proc and devop; a Timeline's heat maps and series; the
slow listing; the tally), and they do the rest as before: percentiles, final widths, JSON.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from . import _native
from .block_pairing import Paired, joined
from .heatmap import Cells, HeatMap, Timeline, width_for
from .histogram import GroupedDistributions

PHASES = ("d2c", "i2c", "i2d")  # the kernel's phase numbers, in this order
BLOCK_KEEP = ["comm", "pid", "dev", "rwbs", "sector", "bytes"]  # what a heat-map cell shows of its slowest


class BlockRecording:
    def __init__(self, t0_ns: int, unit_ns: int, keep_slow: int, slower_than_ns: int | None):
        self.t0 = t0_ns
        self._rec = _native.Recorder(t0_ns, unit_ns, keep_slow, slower_than_ns)

    @property
    def native(self) -> _native.Recorder:
        """The kernel itself, for the pairing to record into as it pairs."""
        return self._rec

    @property
    def recorded(self) -> bool:
        """Whether any pairing was recorded (even one that finished nothing)."""
        return self._rec.totals()[0]

    def record(self, pending: list[Paired], kept: pl.Series | None = None) -> None:
        """The finished requests of ``pending`` pairings; ``kept``: which of them (in order) the
        report's filters keep (None: all)."""
        codes = pending[0]._strings
        mask = None if kept is None else kept.fill_null(False).cast(pl.UInt8).to_numpy().tobytes()
        self._rec.record(joined(pending), bytes(codes.ops), codes.values, mask)

    def totals(self) -> tuple[int, tuple[int, int, int], int]:
        """(requests the filters kept, negative latencies per phase, requests the listing could show)"""
        _, matched, negative, slow_total = self._rec.totals()
        return matched, tuple(negative), slow_total

    def tally(self) -> pl.DataFrame:
        """Finished requests per (dev, comm, op), before the filters."""
        return pl.DataFrame(self._rec.tally(), schema={"dev": pl.String, "comm": pl.String, "op": pl.String, "n": pl.UInt32})

    def distributions(self, phase: str, into: GroupedDistributions) -> None:
        """One phase's distributions in each of block's groupings (total, dev, op, rwbs, proc, devop:
        recording.rs group_keys), rolled up natively, added to ``into``."""
        dims, keys, c = self._rec.groups(PHASES.index(phase))
        a = {name: np.frombuffer(c[name], dtype=np.int64 if name in ("s", "lo", "hi") or name.endswith("_at") else np.uint64)
             for name in c}
        ends = {t: [0, *a[f"{t}_end"].tolist()] for t in ("c", "k", "ku")}
        for i, (dim, key, n, s, lo, hi, size) in enumerate(zip(dims, keys, *(a[x].tolist() for x in ("n", "s", "lo", "hi", "size")))):
            d = into.group(phase, dim, key)
            lo_c, hi_c = ends["c"][i], ends["c"][i + 1]
            d.add_totals(n, s, lo, hi, size, a["c_at"][lo_c:hi_c], a["c_n"][lo_c:hi_c])
            for table, t in ((d.log2, "k"), (d.log2_unit, "ku")):
                j, k = ends[t][i], ends[t][i + 1]
                for bucket, m in zip(a[f"{t}_at"][j:k].tolist(), a[f"{t}_n"][j:k].tolist()):
                    table[bucket] = table.get(bucket, 0) + m

    def timeline(self, end_ns: int) -> Timeline:
        """The heat maps (one per phase, empty ones too) and the requests series, as heatmap.py keeps
        them, already at the width Timeline.finish(end_ns) chooses and cut as HeatMap.data cuts them."""
        self._rec.finish_axes(width_for(end_ns - self.t0, max(self._rec.widths())))
        tl = Timeline(self.t0, BLOCK_KEEP)
        for p, phase in enumerate(PHASES):
            m = tl.maps[phase] = HeatMap(self.t0, BLOCK_KEEP)
            data = self._rec.heatmap_data(p)
            if data is not None:  # its cells and kept requests ordered already, as HeatMap.data orders them
                m.cells.width, m.ordered = data[0], data[1:]
        width, s = self._rec.series()
        series = tl.series["requests"] = Cells(self.t0, ["key"], ("bytes",))
        if s["n"]:
            series.width, series.frame = width, pl.DataFrame(s, schema=SERIES)
        return tl

    def slow(self) -> pl.DataFrame:
        """The slow listing (the columns of SLOW), slowest first."""
        return pl.DataFrame(self._rec.slow(), schema=SLOW)


# the frames' types, as the polars queries these stand in for made them (heatmap.py, block.py);
# SLOW's keys are the slow listing's columns, in order
SERIES = {"col": pl.Int64, "key": pl.String, "n": pl.UInt32, "bytes": pl.Int64}
SLOW = {"ts_ns": pl.Int64, "comm": pl.String, "pid": pl.Int32, "dev": pl.String, "op": pl.String, "rwbs": pl.String,
        "sector": pl.UInt64, "bytes": pl.UInt64, "i2d_ns": pl.Int64, "d2c_ns": pl.Int64, "i2c_ns": pl.Int64, "parts": pl.Int32}
