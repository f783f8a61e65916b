"""Bulk recording must be exactly HdrHistogram's own per-value recording."""
from __future__ import annotations

import random

import polars as pl
import pytest
from hdrh.histogram import HdrHistogram
from traceparse.reports.histogram import HIGHEST_NS, PERCENTILES, SIG_DIGITS, GroupedDistributions, percentiles


@pytest.mark.parametrize("seed", [1, 2])
def test_bulk_recording_equals_per_value_recording(seed):
    rng = random.Random(seed)
    values = [rng.randrange(0, 5000) for _ in range(3000)] + [int(rng.lognormvariate(11, 2)) for _ in range(3000)]
    values += [0, 1, 2047, 2048, 2049, 4095, 4096, 10**12, HIGHEST_NS]
    keys = [rng.choice("abc") for _ in values]
    g = GroupedDistributions(unit_ns=1000)
    half = len(values) // 2  # two chunks, as a streaming report feeds them
    for lo, hi in ((0, half), (half, len(values))):
        g.add(pl.DataFrame({"phase": "d2c", "dim": "k", "key": keys[lo:hi], "value_ns": values[lo:hi]}))
    for key in "abc":
        ref = HdrHistogram(1, HIGHEST_NS, SIG_DIGITS)
        mine = [v for v, k in zip(values, keys) if k == key]
        for v in mine:
            ref.record_value(v)
        d = g.get("d2c", "k", key)
        assert d.hdr.encode() == ref.encode()
        assert percentiles(d.hdr, PERCENTILES) == ref.get_percentile_to_value_dict(list(PERCENTILES))
        assert (d.count, d.min_ns, d.max_ns, d.sum_ns) == (len(mine), min(mine), max(mine), sum(mine))
        assert d.log2 == {k: sum(1 for v in mine if (v.bit_length() - 1) == k) for k in {v.bit_length() - 1 for v in mine}}
        assert d.log2_unit == {
            k: sum(1 for v in mine if ((v // 1000).bit_length() - 1) == k) for k in {(v // 1000).bit_length() - 1 for v in mine}
        }


def test_grouped_recording_across_chunks_equals_per_value_recording():
    """add_grouped (what block uses): cells merged chunk after chunk, rolled up per grouping at the end."""
    rng = random.Random(3)
    values = [int(rng.lognormvariate(11, 2)) for _ in range(6000)] + [0, 2047, 2048, HIGHEST_NS]
    devs = [rng.choice(["8,0", "259,2"]) for _ in values]
    ops = [rng.choice("RW") for _ in values]
    g = GroupedDistributions(unit_ns=1000)
    dims = {"total": pl.lit(""), "dev": pl.col("dev"), "devop": pl.concat_str("dev", pl.lit("\t"), "op")}
    for lo, hi in ((0, 2000), (2000, 4500), (4500, len(values))):
        frame = pl.DataFrame({"dev": devs[lo:hi], "op": ops[lo:hi], "value_ns": values[lo:hi], "bytes": [4096] * (hi - lo)})
        g.add_grouped("d2c", frame, ["dev", "op"], dims)
    for dim, key, pick in [("total", "", lambda d, o: True), ("dev", "8,0", lambda d, o: d == "8,0"),
                           ("devop", "259,2\tW", lambda d, o: (d, o) == ("259,2", "W"))]:
        mine = [v for v, d, o in zip(values, devs, ops) if pick(d, o)]
        ref = HdrHistogram(1, HIGHEST_NS, SIG_DIGITS)
        for v in mine:
            ref.record_value(v)
        got = g.get("d2c", dim, key)
        assert got.hdr.encode() == ref.encode()
        assert (got.count, got.sum_ns, got.min_ns, got.max_ns, got.bytes_total) == (len(mine), sum(mine), min(mine), max(mine), 4096 * len(mine))
