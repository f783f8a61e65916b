"""``hist()`` / ``stats()`` of any numeric field, per group: bpftrace's ``@[comm] = hist(args->len)``.

Values go into the same bulk-fed HdrHistograms as latencies (histogram.py): counts per bucket,
never one value at a time. log2 buckets are bpftrace's ([0], [1], [2, 4), ...); ``linear`` buckets
are [k*step, (k+1)*step), as ``lhist()`` draws them. Negative values (a ``ret`` of -EAGAIN) are
counted apart in ``negative`` and kept out of the histogram, which holds values from 0 up.
"""
from __future__ import annotations

import json

import polars as pl

from ..histogram import GroupedDistributions
from .fields import with_fields
from .where import Where, apply


class FieldHist:
    def __init__(self, field: str, by: list[str], where: Where | None, linear: int | None = None):
        self.field, self.by, self.where, self.linear = field, by, where, linear
        self.dists = GroupedDistributions(1)
        self.linear_counts: dict[str, dict[int, int]] = {}
        self.negative: dict[str, int] = {}
        self.events = 0
        self.missing = 0  # events of the kind that had no such field (or not a number)

    def feed(self, event: str, frame: pl.DataFrame) -> None:
        names = [self.field, *self.by, *(self.where.names if self.where else [])]
        f = apply(with_fields(frame, event, names, prefix=""), self.where)
        self.events += f.height
        v = f.get_column(self.field)
        if not v.dtype.is_integer():
            self.missing += f.height
            return
        self.missing += int(v.is_null().sum())
        f = f.filter(pl.col(self.field).is_not_null()).with_columns(_g=group_key(self.by, event))
        neg = f.filter(pl.col(self.field) < 0).group_by("_g").len()
        for g, n in zip(neg["_g"].to_list(), neg["len"].to_list()):
            self.negative[g] = self.negative.get(g, 0) + n
        f = f.filter(pl.col(self.field) >= 0).select(value_ns=pl.col(self.field), _g="_g")
        self.dists.add_grouped("hist", f, ["_g"], {"group": pl.col("_g")})
        if self.linear:
            cells = f.group_by("_g", k=pl.col("value_ns") // self.linear).len()
            for g, k, n in zip(cells["_g"].to_list(), cells["k"].to_list(), cells["len"].to_list()):
                d = self.linear_counts.setdefault(g, {})
                d[k] = d.get(k, 0) + n


def group_key(by: list[str], event: str | None = None) -> pl.Expr:
    """A group's fields as JSON text: one String key column, whatever the fields' types."""
    if not by:
        return pl.lit("{}")

    def one(name: str) -> pl.Expr:
        col = pl.lit(event) if name == "event" and event is not None else pl.col(name)
        return pl.lit(json.dumps(name) + ": ") + col.cast(pl.String).fill_null("?").map_batches(json_str, return_dtype=pl.String)

    return pl.concat_str([pl.lit("{"), pl.concat_str([one(b) for b in by], separator=", "), pl.lit("}")])


def json_str(s: pl.Series) -> pl.Series:
    """Values as JSON strings (a comm may hold quotes), one json.dumps per distinct value."""
    uniq = s.unique()
    return s.replace_strict(uniq, [json.dumps(v) for v in uniq.to_list()], return_dtype=pl.String)


def linear_buckets(counts: dict[int, int], step: int) -> list[dict]:
    if not counts:
        return []
    return [{"lo": k * step, "hi": (k + 1) * step, "count": counts.get(k, 0)} for k in range(min(counts), max(counts) + 1)]
