"""Latency distributions: HdrHistogram (ns, 3 significant digits) fed in bulk, plus exact log2 buckets.

Values are never recorded one by one: polars computes each value's HdrHistogram counts index and
counts per index, and numpy adds those counts into the histogram's own counts array, one call per
group. The result is identical to recording every value (tests/test_histogram.py checks it).
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np
import polars as pl
from hdrh.histogram import HdrHistogram

SIG_DIGITS = 3
HIGHEST_NS = 7 * 86400 * 10**9  # a week; longer "latencies" are clamped (and would be a capture bug)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
PCT_KEYS = ("p50_ns", "p90_ns", "p99_ns", "p999_ns")


def hdr_index(v: pl.Expr) -> pl.Expr:
    """The HdrHistogram (1 .. HIGHEST_NS, 3 digits) counts-array index of non-negative ints ``v``.

    HdrHistogram keeps 2048 sub-buckets: values below 2048 are exact, above that each power of two
    halves the resolution. So bucket = 53 - clz(v | 2047) low bits dropped, sub-bucket = v >> bucket,
    and the index is (bucket + 1) * 1024 + sub-bucket - 1024, as HdrHistogram's counts_index() computes it.
    """
    u = v.cast(pl.UInt64)
    bucket = (pl.lit(53, pl.Int64) - (u | 2047).bitwise_leading_zeros().cast(pl.Int64)).clip(0, 63)
    sub = (u // pl.lit(2, pl.Int64).pow(bucket).cast(pl.UInt64)).cast(pl.Int64)
    return (bucket + 1) * 1024 + sub - 1024


def log2_floor(v: pl.Expr) -> pl.Expr:
    """floor(log2(v)) for v >= 1, -1 for 0: the bucket bpftrace's hist() puts v in."""
    u = v.cast(pl.UInt64)
    return pl.when(u == 0).then(-1).otherwise(63 - u.bitwise_leading_zeros().cast(pl.Int64))


@dataclass
class Distribution:
    """One latency distribution, accumulated chunk by chunk."""

    count: int = 0
    sum_ns: int = 0
    min_ns: int | None = None
    max_ns: int | None = None
    log2: dict[int, int] = field(default_factory=dict)  # bucket k -> count, values in ns
    log2_unit: dict[int, int] = field(default_factory=dict)  # same, values in the display unit
    bytes_total: int = 0  # I/O size behind the values, for MB/s
    # An HdrHistogram's counts are 330 KB to allocate and zero: more than a small capture's whole
    # report once a report has its ~60 distributions. So counts wait as cells (counts-array indices
    # and counts, with their total and extremes) until someone asks for ``hdr``; STATS, what most
    # distributions are read for, count them into one reused histogram instead (_scratch_with).
    _hdr: HdrHistogram | None = field(default=None, repr=False)
    _cells: list = field(default_factory=list, repr=False)
    _cells_n: int = field(default=0, repr=False)
    _cells_lo: int = field(default=sys.maxsize, repr=False)  # HdrHistogram's own empty min and max
    _cells_hi: int = field(default=0, repr=False)

    @property
    def hdr(self) -> HdrHistogram:
        if self._hdr is None:
            self._hdr = HdrHistogram(1, HIGHEST_NS, SIG_DIGITS)
        if self._cells:
            self._count_into(self._hdr)
            self._cells, self._cells_n, self._cells_lo, self._cells_hi = [], 0, sys.maxsize, 0
        return self._hdr

    @hdr.setter
    def hdr(self, h: HdrHistogram) -> None:
        self._hdr = h

    def add_totals(self, n: int, s: int, lo: int, hi: int, size: int | None, idx: np.ndarray, counts: np.ndarray) -> None:
        """``n`` values summing to ``s``, from ``lo`` to ``hi`` ns, of ``size`` bytes, counted ``counts``
        at HdrHistogram indices ``idx`` (their log2 buckets go in apart)."""
        self.count += n
        self.sum_ns += s
        self.bytes_total += size or 0
        self.min_ns = lo if self.min_ns is None else min(self.min_ns, lo)
        self.max_ns = hi if self.max_ns is None else max(self.max_ns, hi)
        self.add_cells(idx, counts, n, lo, hi)

    def add_cells(self, idx: np.ndarray, n: np.ndarray, total: int, lo: int, hi: int) -> None:
        """Counts ``n`` at counts-array indices ``idx`` (``total`` values, from ``lo`` to ``hi`` ns)."""
        self._cells.append((idx, n))
        self._cells_n += total
        self._cells_lo, self._cells_hi = min(self._cells_lo, lo), max(self._cells_hi, min(hi, HIGHEST_NS))

    def _count_into(self, h: HdrHistogram) -> None:
        counts = counts_of(h)
        for idx, n in self._cells:
            np.add.at(counts, idx, n.astype(counts.dtype))
        h.total_count += self._cells_n
        h.min_value, h.max_value = min(h.min_value, self._cells_lo), max(h.max_value, self._cells_hi)

    def _readable(self) -> HdrHistogram:
        """A histogram holding this distribution's counts, to read (percentiles, the encoding)."""
        return self.hdr if self._hdr is not None or not self._cells else _scratch_with(self)

    def stats(self, duration_ns: int | None = None) -> dict:
        """The STATS object of the JSON contract; ``duration_ns`` (block: the window) adds bytes, iops and MB/s."""
        out: dict = {"count": self.count}
        h = self._readable() if self.count else None
        if self.count:
            pct = percentiles(h, PERCENTILES)
            out.update(mean_ns=self.sum_ns / self.count, sum_ns=self.sum_ns, min_ns=self.min_ns)
            # HdrHistogram answers with the bucket's highest equivalent value; never beyond the true max.
            out.update({k: min(pct[p], self.max_ns) for k, p in zip(PCT_KEYS, PERCENTILES)})
            out["max_ns"] = self.max_ns
        else:
            out.update(mean_ns=None, sum_ns=0, min_ns=None, **{k: None for k in PCT_KEYS}, max_ns=None)
        if duration_ns is not None:
            out["bytes"] = self.bytes_total  # with sum_ns: what an exact merge of saved reports adds up
        if duration_ns:
            out["iops"] = self.count * 1e9 / duration_ns
            out["mb_s"] = self.bytes_total * 1e9 / duration_ns / 1e6
        out["log2_ns"] = buckets(self.log2)
        out["hdr"] = h.encode().decode("ascii") if self.count else None
        return out


def counts_of(h: HdrHistogram) -> np.ndarray:
    """A histogram's counts array as numpy's, in place (through the buffer protocol: numpy.ctypeslib
    would load numpy.ma, ~10 ms of a small run)."""
    return np.asarray(memoryview(h.counts))


_scratch = threading.local()  # per thread: a fleet's Dask workers may read STATS side by side


def _scratch_with(d: Distribution) -> HdrHistogram:
    """The thread's reused histogram, holding ``d``'s cells alone: the same counts, total and
    extremes as a new histogram given them, without a new 330 KB array."""
    h = getattr(_scratch, "hdr", None)
    if h is None:
        h = _scratch.hdr = HdrHistogram(1, HIGHEST_NS, SIG_DIGITS)
    else:
        counts = counts_of(h)
        for idx in _scratch.used:  # back to empty: only the counts the last user set
            counts[idx] = 0
        h.total_count, h.min_value, h.max_value = 0, sys.maxsize, 0
    d._count_into(h)
    _scratch.used = [idx for idx, _ in d._cells]
    return h


def percentiles(hdr: HdrHistogram, pcts) -> dict[float, int]:
    """HdrHistogram's value at each percentile (its rank rule, its highest equivalent value), via numpy.

    Same answer as ``hdr.get_percentile_to_value_dict``, without its Python loop over 30k buckets.
    """
    counts = counts_of(hdr)
    # counts past the largest value are all zero: left out of the sum (most of the 40k buckets)
    top = hdr._counts_index_for(hdr.max_value) if 0 < hdr.max_value <= HIGHEST_NS else len(counts) - 1
    cum = counts[: top + 1].cumsum()
    if not len(cum) or int(cum[-1]) != hdr.total_count:  # extremes out of step with the counts: all of them
        cum = counts.cumsum()
    # the targets in the counts' own (unsigned) type: a Python int against uint64 counts would make
    # numpy compare in float64, converting all 40k cumulative counts on every call
    targets = np.array([hdr.get_target_count_at_percentile(p) for p in pcts], dtype=cum.dtype)
    at = np.searchsorted(cum, targets, side="left").tolist()
    return {p: hdr.get_highest_equivalent_value(hdr.get_value_from_index(i)) for p, i in zip(pcts, at)}


def buckets(log2: dict[int, int]) -> list[dict]:
    """Sorted {lo, hi, count} rows, empty buckets between the first and last filled one included."""
    if not log2:
        return []
    ks = range(min(log2), max(log2) + 1)
    return [{"lo": 0 if k < 0 else 1 << k, "hi": 1 if k < 0 else 1 << (k + 1), "count": log2.get(k, 0)} for k in ks]


# cells of the same group and bucket, merged: counts, sums and bytes add up, extremes stay extreme
_MERGE_CELLS = (pl.col("n").sum(), pl.col("s").sum(), pl.col("lo").min(), pl.col("hi").max(), pl.col("size").sum())


class GroupedDistributions:
    """Distributions keyed by (phase, dimension, key): ("d2c", "dev", "8,0"), ("d2c", "total", "")."""

    def __init__(self, unit_ns: int):
        self.unit_ns = unit_ns
        self._groups: dict[tuple[str, str, str], Distribution] = {}
        # add_grouped's cells, merged chunk after chunk and rolled up into groups when first read
        self._pending: dict[str, tuple[pl.DataFrame, list[str], dict[str, pl.Expr]]] = {}

    @property
    def groups(self) -> dict[tuple[str, str, str], Distribution]:
        self._roll_up()
        return self._groups

    def add(self, long: pl.DataFrame) -> None:
        """Record a long frame: phase, dim, key (strings), value_ns (Int64, >= 0), bytes (optional)."""
        if long.height:
            self._add_cells(long.group_by("phase", "dim", "key", **self._cell_keys()).agg(*self._cell_aggs(long)))

    def add_grouped(self, phase: str, frame: pl.DataFrame, by: list[str], dims: dict[str, pl.Expr]) -> None:
        """Record ``frame``'s value_ns under several groupings at once (``dims``: name -> key expression over ``by``).

        The values are first counted per (``by`` columns, bucket): few cells however many values,
        and each grouping is then a small group_by over those cells.
        """
        if not frame.height:
            return
        cells = frame.lazy().group_by(*by, **self._cell_keys()).agg(*self._cell_aggs(frame))
        if phase in self._pending:
            # cells of earlier chunks and this one, merged (in the same query): their number stays
            # bounded by the distinct (attributes, bucket) pairs, and the roll-up runs once at the end
            merged = pl.concat([self._pending[phase][0].lazy(), cells])
            cells = merged.group_by(*by, "idx", "k", "ku").agg(*_MERGE_CELLS)
        self._pending[phase] = (cells.collect(), by, dims)

    def _roll_up(self) -> None:
        cols = ["idx", "k", "ku", "n", "s", "lo", "hi", "size"]
        for phase, (cells, _, dims) in self._pending.items():
            # one query for all the groupings: a small frame's cost is polars' per-call overhead
            self._add_cells(pl.concat([
                cells.lazy().select(phase=pl.lit(phase), dim=pl.lit(dim), key=key.cast(pl.String).fill_null("?"), *cols)
                for dim, key in dims.items()
            ]).collect())
        self._pending.clear()

    def _cell_keys(self) -> dict[str, pl.Expr]:
        v = pl.col("value_ns")
        return {"idx": hdr_index(v.clip(0, HIGHEST_NS)), "k": log2_floor(v), "ku": log2_floor(v // self.unit_ns)}

    @staticmethod
    def _cell_aggs(frame: pl.DataFrame) -> list[pl.Expr]:
        v = pl.col("value_ns")
        size = pl.col("bytes").sum() if "bytes" in frame.columns else pl.lit(0, pl.UInt64)
        return [pl.len().alias("n"), v.sum().alias("s"), v.min().alias("lo"), v.max().alias("hi"), size.alias("size")]

    def _add_cells(self, cells: pl.DataFrame) -> None:
        """Cells: phase, dim, key, idx (HdrHistogram counts index), k/ku (log2 buckets), n, s, lo, hi, size.

        Python loops once per group (and per log2 bucket of a group), never per value: the
        HdrHistogram counts go in with one numpy ``add.at`` per group.
        """
        keys = ["phase", "dim", "key"]
        # each group's cells ride along as lists: one group_by serves the totals and the counts arrays
        groups = cells.group_by(keys).agg(*_MERGE_CELLS, idxs=pl.col("idx"), ns=pl.col("n"), cells=pl.len())
        ends = list(accumulate(groups["cells"].to_list()))
        flat = groups.select(pl.col("idxs").explode(), pl.col("ns").explode())
        idxs, ns = flat["idxs"].to_numpy(), flat["ns"].to_numpy()
        start = 0
        for phase, dim, key, n, s, lo, hi, b, end in zip(*(groups[c].to_list() for c in (*keys, "n", "s", "lo", "hi", "size")), ends):
            self.group(phase, dim, key).add_totals(n, s, lo, hi, b, idxs[start:end], ns[start:end])
            start = end
        per_k = cells.group_by(*keys, "k", "ku").agg(pl.col("n").sum())
        for phase, dim, key, k, ku, n in zip(*(per_k[c].to_list() for c in (*keys, "k", "ku", "n"))):
            d = self._groups[(phase, dim, key)]
            d.log2[k] = d.log2.get(k, 0) + n
            d.log2_unit[ku] = d.log2_unit.get(ku, 0) + n

    def group(self, phase: str, dim: str, key: str) -> Distribution:
        """The distribution of (phase, dim, key), made empty if new: to add counted values to."""
        d = self._groups.get((phase, dim, key))
        if d is None:
            d = self._groups[(phase, dim, key)] = Distribution()
        return d

    def get(self, phase: str, dim: str, key: str = "") -> Distribution:
        return self.groups.get((phase, dim, key)) or Distribution()

    def keys(self, phase: str, dim: str) -> list[str]:
        return sorted(k for p, d, k in self.groups if p == phase and d == dim)


def decode_hdr(encoded: str) -> HdrHistogram:
    """A saved STATS' ``hdr`` (HdrHistogram's standard compressed base64) as this module's histogram."""
    h = HdrHistogram(1, HIGHEST_NS, SIG_DIGITS)
    add_hdr(h, HdrHistogram.decode(encoded))
    return h


def add_hdr(into: HdrHistogram, other: HdrHistogram) -> None:
    """Add ``other``'s counts into ``into``, bucket for bucket (both 1 .. HIGHEST_NS, 3 digits: one
    numpy add); another layout goes through HdrHistogram's own add."""
    if other.counts_len != into.counts_len or other.sub_bucket_count != into.sub_bucket_count:
        into.add(other)
        return
    mine = counts_of(into)
    mine += counts_of(other)[: into.counts_len].astype(mine.dtype)
    into.total_count += other.total_count
    if other.total_count:
        into.min_value = min(into.min_value, other.min_value)
        into.max_value = max(into.max_value, other.max_value)


def distribution_of(stats: dict) -> Distribution:
    """The Distribution behind a STATS object (a saved or merged report's), to add others to."""
    d = Distribution()
    if not stats.get("count"):
        return d
    if stats.get("hdr") is None or stats.get("sum_ns") is None:
        raise ValueError("no hdr or sum_ns")
    d.hdr = decode_hdr(stats["hdr"])
    d.count, d.sum_ns = stats["count"], stats["sum_ns"]
    d.min_ns, d.max_ns = stats.get("min_ns"), stats.get("max_ns")
    d.bytes_total = stats.get("bytes") or 0
    d.log2 = {(-1 if b["lo"] == 0 else b["lo"].bit_length() - 1): b["count"] for b in stats.get("log2_ns", []) if b["count"]}
    return d


def add_distribution(into: Distribution, other: Distribution) -> None:
    """Exact: histograms and log2 buckets add, counts, sums and bytes add, extremes stay extreme."""
    if not other.count:
        return
    add_hdr(into.hdr, other.hdr)
    into.count += other.count
    into.sum_ns += other.sum_ns
    into.bytes_total += other.bytes_total
    into.min_ns = other.min_ns if into.min_ns is None else min(into.min_ns, other.min_ns)
    into.max_ns = other.max_ns if into.max_ns is None else max(into.max_ns, other.max_ns)
    for table, more in ((into.log2, other.log2), (into.log2_unit, other.log2_unit)):
        for k, n in more.items():
            table[k] = table.get(k, 0) + n


# Units whose values are whole before bucketing: there [0] holds zeros alone, as in bpftrace.
# A time shown in us or ms was floored from ns, so its one-wide buckets [0] and [1] hold
# everything under 1 and from 1 to 2 units: drawn as the ranges they are.
EXACT_UNITS = (None, "ns", "bytes", "count")


def bucket_label(lo: int, hi: int, unit: str | None = None) -> str:
    """A log2 bucket as bpftrace labels it: ``[16K, 32K)``, or ``[0]`` for a one-wide bucket of whole values."""
    if hi - lo == 1 and unit in EXACT_UNITS:
        return f"[{lo}]"
    return f"[{_short(lo)}, {_short(hi)})"


def _short(v: int) -> str:
    for suffix, size in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if v >= size and v % size == 0:
            return f"{v // size}{suffix}"
    return str(v)
