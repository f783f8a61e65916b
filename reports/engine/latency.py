"""Pair reports over any events: run PairSpecs over a capture's chunks, keep distributions per group.

One pass: each chunk's start and end events get their typed fields (fields.py), pair (pairs.py),
pass ``--where``, and go into HdrHistograms per group (histogram.py, as block's do) while the
slowest pairs are kept for the listing. Nothing here knows which tool the spec imitates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from ..histogram import GroupedDistributions
from .fields import with_fields
from .hist import group_key
from .pairs import Pairer
from .spec import PairSpec, Side
from .where import Where, apply

SPECIAL = ("latency_ns", "ts_ns", "start_ts_ns")  # columns every pair has of its own


@dataclass
class PairOptions:
    where: Where | None = None
    by: tuple = ()
    slower_than_ns: int | None = None
    limit: int = 10  # rows of the slow listing (0: all)
    unit: str = "us"
    tables: dict = field(default_factory=dict)  # number -> name tables a spec's labels leave open (syscall ids)


@dataclass
class PairRun:
    """One spec's streaming state."""

    spec: PairSpec
    opts: PairOptions
    unit_ns: int
    pairer: Pairer = None
    dists: GroupedDistributions = None
    slow: pl.DataFrame | None = None
    slow_total: int = 0
    errors: dict = field(default_factory=dict)  # group key -> pairs with ret < 0
    seen_start: int = 0
    seen_end: int = 0
    filtered_out: int = 0

    def __post_init__(self):
        keys = list(self.spec.key) + _groups_of(self.spec.start)
        self.keys = list(dict.fromkeys(keys))
        self.pairer = Pairer(self.keys, self.spec.nested)
        self.dists = GroupedDistributions(self.unit_ns)
        self.group_by = list(dict.fromkeys([*self.spec.by, *self.opts.by]))
        names = {"comm"} | set(self.group_by) | set(self.spec.carry) | set(self.spec.labels.get(k, (k,))[0] for k in self.group_by)
        names.discard("event")
        if self.opts.where is not None:
            names |= set(self.opts.where.names)
        names -= set(SPECIAL) | set(self.spec.labels)
        self.names = sorted(names - set(self.keys))

    def feed(self, frames: dict[str, pl.DataFrame]) -> None:
        starts = self._side(frames, self.spec.start, is_start=True)
        ends = self._side(frames, self.spec.end, is_start=False)
        self.seen_start += starts.height
        self.seen_end += ends.height
        pairs = self.pairer.feed(starts, ends)
        if not pairs.height:
            return
        pairs = self._finish(pairs)
        if self.spec.keep is not None:
            pairs = pairs.filter(self.spec.keep.fill_null(False))
        kept = apply(pairs, self.opts.where)
        self.filtered_out += pairs.height - kept.height
        self._record(kept)

    def _side(self, frames, side: Side, is_start: bool) -> pl.DataFrame:
        out = []
        for event, frame in frames.items():
            m = side.matches(event)
            if m is None or not frame.height:
                continue
            names = [*self.keys, *self.names] + (["ret"] if self.spec.errors and not is_start else [])
            names = [n for n in dict.fromkeys(names) if n not in m.groupdict()]
            fetch = [side.alias.get(n, n) for n in names]
            f = with_fields(frame, event, fetch, prefix="_f_")
            cols = {n: pl.col("_f_" + side.alias.get(n, n)) for n in names}
            f = f.with_columns(**cols, **{g: pl.lit(v) for g, v in m.groupdict().items()}, event=pl.lit(event))
            if side.only is not None:
                f = f.filter(side.only.fill_null(False))
            for k, v in self.spec.exclude.items():
                f = f.filter(pl.col(k) != v)
            keep = ["ts_ns", "event", *dict.fromkeys([*self.keys, *names])]
            if is_start and "payload" in f.columns:
                keep.append("payload")
            out.append(f.select(keep))
        if not out:
            return pl.DataFrame()
        return pl.concat(out, how="diagonal_relaxed")

    def _finish(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """Start-side values first (the thread that began the call), then the end's."""
        both = [c for c in self.names if c in pairs.columns and "start_" + c in pairs.columns]
        pairs = pairs.with_columns([pl.coalesce("start_" + c, c).alias(c) for c in both])
        only_start = [c for c in self.names if c not in pairs.columns and "start_" + c in pairs.columns]
        pairs = pairs.with_columns([pl.col("start_" + c).alias(c) for c in only_start])
        for c in self.names:
            if c not in pairs.columns:
                pairs = pairs.with_columns(pl.lit(None, pl.Int64).alias(c))
        for new, (src, table) in self.spec.labels.items():
            if src == "event":  # the function's name: its start event's, without system
                pairs = pairs.with_columns(pl.col("start_event").cast(pl.String).str.replace(r"^.*:", "").alias(new))
                continue
            table = table if table is not None else self.opts.tables.get(src, {})
            if not pairs.schema[src].is_integer():  # already a name (text captures print prev_state as S, R+)
                pairs = pairs.with_columns(pl.col(src).cast(pl.String).alias(new))
                continue
            pairs = pairs.with_columns(
                pl.col(src).cast(pl.Int64).replace_strict(table, default=None, return_dtype=pl.String)
                .fill_null(pl.lit(f"{src}_") + pl.col(src).cast(pl.String)).alias(new)
            )
        return pairs

    def _record(self, pairs: pl.DataFrame) -> None:
        if not pairs.height:
            return
        gkey = self._group_key()
        pairs = pairs.with_columns(pl.col(c).map_batches(_hex, return_dtype=pl.String) for c in self.spec.hex if c in pairs.columns)
        frame = pairs.with_columns(value_ns=pl.col("latency_ns").clip(0), _g=gkey)
        self.dists.add_grouped(self.spec.metric, frame.select("value_ns", "_g"), ["_g"], {"group": pl.col("_g")})
        if self.spec.errors and "ret" in frame.columns:
            errs = frame.filter(pl.col("ret") < 0).group_by("_g").len()
            for g, n in zip(errs["_g"].to_list(), errs["len"].to_list()):  # one row per group, not per event
                self.errors[g] = self.errors.get(g, 0) + n
        self._listing(frame)

    def _group_key(self) -> pl.Expr:
        """A group as JSON text ({"syscall": "write"}), so any mix of fields keys one distribution."""
        return group_key(self.group_by)

    def _listing(self, frame: pl.DataFrame) -> None:
        o = self.opts
        cand = frame if o.slower_than_ns is None else frame.filter(pl.col("latency_ns") >= o.slower_than_ns)
        self.slow_total += cand.height
        if o.limit:
            cand = cand.top_k(o.limit, by="latency_ns")
        both = pl.concat([self.slow, cand], how="diagonal_relaxed") if self.slow is not None else cand
        self.slow = both.top_k(o.limit, by="latency_ns") if o.limit else both

    def group_stats(self, duration_ns: int) -> list[dict]:
        """[{key, metric, stats, total_ns, errors?}]: the whole (key {}) first, then groups by count."""
        self.dists.groups  # roll up
        out = []
        total = _merge_all(self.dists, self.spec.metric)
        if total is not None:
            out.append(self._group({}, total, duration_ns, sum(self.errors.values())))
        for (_, _, key), d in sorted(self.dists.groups.items(), key=lambda kv: (-kv[1].count, kv[0][2])):
            if key == "{}":
                continue
            out.append(self._group(json.loads(key), d, duration_ns, self.errors.get(key, 0)))
        return out

    def _group(self, key: dict, d, duration_ns: int, errors: int) -> dict:
        g = {"metric": self.spec.metric, "key": key, "count": d.count, "total_ns": d.sum_ns}
        if self.spec.errors:
            g["errors"] = errors
        g["stats"] = d.stats(duration_ns)
        g["_dist"] = d
        return g

    def unmatched(self) -> dict:
        u = dict(self.pairer.unmatched)
        return {"end_without_start": u["end_without_start"], "start_without_end": self.pairer.still_open().height,
                "overwritten": u["overwritten"], "open_dropped": u["open_dropped"]}

    def slow_rows(self) -> list[dict]:
        if self.slow is None or not self.slow.height:
            return []
        s = self.slow.sort("start_ts_ns")
        cols = ["start_ts_ns", "latency_ns", *[c for c in ("pid", "tgid", "comm") if c in s.columns],
                *[c for c in (*self.group_by, *self.keys) if c in s.columns and c not in ("pid", "tgid", "comm")]]
        cols = list(dict.fromkeys(cols))
        if "start_payload" in s.columns:
            s = s.with_columns(args=pl.col("start_payload"))
            cols.append("args")
        s = s.with_columns(pl.col(c).cast(pl.String) for c in cols if s.schema[c] in (pl.Categorical,))
        return s.select(cols).to_dicts()


def _hex(s: pl.Series) -> pl.Series:
    """Addresses as the kernel prints them: 0x-hex (numbers until --where has compared them)."""
    from ...parsers.event_format import hex_digits

    if not s.dtype.is_integer():
        return s.cast(pl.String)
    out = pl.lit("0x") + pl.lit(hex_digits(s.fill_null(0).cast(pl.Int64).to_numpy().view("uint64")))
    return pl.select(pl.when(s.is_null()).then(None).otherwise(out)).to_series()


def _groups_of(side: Side) -> list[str]:
    import re

    return list(re.compile(side.events).groupindex)


def _merge_all(dists: GroupedDistributions, metric: str):
    """The whole distribution: every group's HdrHistogram added (groups partition the pairs)."""
    from ..histogram import Distribution

    groups = [d for (p, _, _), d in dists.groups.items() if p == metric]
    if not groups:
        return None
    if len(groups) == 1:
        return groups[0]
    t = Distribution()
    for d in groups:
        t.hdr.add(d.hdr)
        t.count += d.count
        t.sum_ns += d.sum_ns
        t.min_ns = d.min_ns if t.min_ns is None else min(t.min_ns, d.min_ns)
        t.max_ns = d.max_ns if t.max_ns is None else max(t.max_ns, d.max_ns)
        for k, v in d.log2.items():
            t.log2[k] = t.log2.get(k, 0) + v
        for k, v in d.log2_unit.items():
            t.log2_unit[k] = t.log2_unit.get(k, 0) + v
    return t
