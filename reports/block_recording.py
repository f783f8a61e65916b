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
from .block_pairing import OPS, Paired, _Codes, joined, nullable
from .heatmap import Cells, HeatMap, Timeline
from .histogram import GroupedDistributions

PHASES = ("d2c", "i2c", "i2d")  # the kernel's phase numbers, in this order
BLOCK_KEEP = ["comm", "pid", "dev", "rwbs", "sector", "bytes"]  # what a heat-map cell shows of its slowest


class BlockRecording:
    def __init__(self, t0_ns: int, unit_ns: int, keep_slow: int, slower_than_ns: int | None):
        self.t0 = t0_ns
        self._rec = _native.Recorder(t0_ns, unit_ns, keep_slow, slower_than_ns)
        self._codes: _Codes | None = None

    def native(self, codes: _Codes | None) -> _native.Recorder:
        """The kernel itself, for the pairing to record into as it pairs (``codes``: the run's strings)."""
        self._codes = codes or self._codes
        return self._rec

    @property
    def recorded(self) -> bool:
        """Whether any pairing was recorded (even one that finished nothing)."""
        return self._rec.totals()[0]

    def record(self, pending: list[Paired], kept: pl.Series | None = None) -> None:
        """The finished requests of ``pending`` pairings; ``kept``: which of them (in order) the
        report's filters keep (None: all)."""
        codes = self._codes = pending[0]._strings
        mask = None if kept is None else kept.fill_null(False).cast(pl.UInt8).to_numpy().tobytes()
        self._rec.record(joined(pending), bytes(codes.ops), codes.values, mask)

    def totals(self) -> tuple[int, tuple[int, int, int], int]:
        """(requests the filters kept, negative latencies per phase, requests the listing could show)"""
        _, matched, negative, slow_total = self._rec.totals()
        return matched, tuple(negative), slow_total

    def tally(self) -> pl.DataFrame:
        """Finished requests per (dev, comm, op), before the filters."""
        t = self._rec.tally()
        return pl.DataFrame({"dev": self._text(t, "dev"), "comm": self._text(t, "comm"), "op": _ops(t["op"]),
                             "n": np.frombuffer(t["n"], dtype=np.uint64)}).cast({"n": pl.UInt32})

    def distributions(self, phase: str, into: GroupedDistributions) -> None:
        """One phase's distributions in every grouping of block.py's DIMS, rolled up natively."""
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

    def timeline(self) -> Timeline:
        """The heat maps (one per phase, empty ones too) and the requests series, as heatmap.py keeps them."""
        tl = Timeline(self.t0, BLOCK_KEEP)
        for p, phase in enumerate(PHASES):
            width, cells, kept = self._rec.heatmap(p)
            m = tl.maps[phase] = HeatMap(self.t0, BLOCK_KEEP)
            if len(cells["n"]):
                m.cells.width, m.cells.frame = width, _frame(cells, {"col": np.int64, "row": np.int64, "n": np.uint32})
                k = _frame(kept, {"ts_ns": np.int64, "value_ns": np.int64, "row": np.int64})
                m.kept = k.with_columns(comm=self._text(kept, "comm"), pid=nullable(kept, "pid", np.int32),
                                        dev=self._text(kept, "dev"), rwbs=self._text(kept, "rwbs"),
                                        sector=nullable(kept, "sector", np.uint64), bytes=nullable(kept, "bytes", np.uint64))
        width, s = self._rec.series()
        series = tl.series["requests"] = Cells(self.t0, ["key"], ("bytes",))
        if len(s["n"]):
            series.width = width
            series.frame = (_frame(s, {"col": np.int64, "n": np.uint32, "bytes": np.int64})
                            .with_columns(key=self._text(s, "key")).select("col", "key", "n", "bytes"))
        return tl

    def slow(self) -> pl.DataFrame:
        """The slow listing (block.py's SLOW_COLUMNS), slowest first."""
        s = self._rec.slow()
        return pl.DataFrame({
            "ts_ns": nullable(s, "ts_ns", np.int64), "comm": self._text(s, "comm"), "pid": nullable(s, "pid", np.int32),
            "dev": self._text(s, "dev"), "op": _ops(s["op"]), "rwbs": self._text(s, "rwbs"),
            "sector": nullable(s, "sector", np.uint64), "bytes": nullable(s, "bytes", np.uint64),
            **{c: nullable(s, c, np.int64) for c in ("i2d_ns", "d2c_ns", "i2c_ns")}, "parts": nullable(s, "parts", np.int32),
        })

    def _text(self, cols: dict[str, bytes], name: str) -> pl.Series:
        codes = np.frombuffer(cols[name], dtype=np.uint32)
        if self._codes is None:  # nothing recorded: every column is empty
            return pl.Series(name, [], dtype=pl.String)
        return self._codes.decode(codes).alias(name)


def _ops(b: bytes) -> pl.Series:
    return pl.Series(np.frombuffer(b, dtype=np.uint8)).replace_strict(OPS, default="?", return_dtype=pl.String).alias("op")


def _frame(cols: dict[str, bytes], types: dict) -> pl.DataFrame:
    return pl.DataFrame({name: np.frombuffer(cols[name], dtype=t) for name, t in types.items()})
