"""Pair block_rq_insert / issue / complete into requests, columnar, carrying open requests across chunks.

The rules (see DESIGN.md, "Semantics of block latency"), each one counted, never silent:

- A request is keyed by (dev, sector), as biosnoop and bpftrace's biolatency do. Issue and
  complete often run on different CPUs, so nothing is paired per CPU.
- insert and issue remember their time under the key; a later one overwrites the earlier one
  (counted as "overwritten": a re-issue after block_rq_requeue, or a lost complete).
- complete takes what the key remembers and forgets it. With nothing remembered it is a
  "complete without issue" (the request started before the capture).
- A read complete never pairs with a write issue to the same sector: the complete is counted as
  an op mismatch and the issue stays open for its own complete.
- A flush is issued at sector 0 ("FF 0 () 0 + 0") and completes with no sector ("FF ()
  18446744073709551615 + 0"): that complete is keyed at sector 0, so the flush pairs with itself.
  The zero-length write complete that follows it ("WS () 0 + 0", the end of the fsync's flush
  sequence) has no issue of its own and is counted as such, apart from the others.
- A partial completion (fewer sectors than issued) fires complete at the request's start sector,
  and the request goes on at sector + done, where its next complete fires. The request is followed
  to its last part; D2C/I2C run to that last part and the partials are counted.

How, without a state machine: sort rows by (dev, sector, time); a complete closes a segment of
its key; forward-filling the insert/issue columns inside each segment hands every complete the
last insert and issue before it. Segments still open at the end of a chunk become "state" rows
that the next chunk starts from.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

STATE, INSERT, ISSUE, COMPLETE = 0, 1, 2, 3
# columns an insert/issue row sets and a complete inherits
CARRIED = ["ins_ts", "ins_comm", "ins_pid", "iss_ts", "iss_comm", "iss_pid", "rwbs", "nr", "bytes", "orig_sector", "parts"]
ROW_SCHEMA = {
    "rid": pl.Int64,
    "dev": pl.String,
    "devnum": pl.UInt64,  # major << 20 | minor: sorts and compares faster than the "8,0" string
    "sector": pl.UInt64,
    "ts": pl.Int64,
    "kind": pl.Int8,
    "ins_ts": pl.Int64,
    "ins_comm": pl.String,
    "ins_pid": pl.Int32,
    "iss_ts": pl.Int64,
    "iss_comm": pl.String,
    "iss_pid": pl.Int32,
    "rwbs": pl.String,
    "nr": pl.UInt32,
    "bytes": pl.UInt64,
    "orig_sector": pl.UInt64,
    "parts": pl.Int32,
    "c_rwbs": pl.String,
    "c_nr": pl.UInt32,
    "c_error": pl.Int32,
}
NO_SECTOR = 2**64 - 1  # (sector_t)-1: a request without a position, e.g. a flush
MAX_ROUNDS = 16  # partial chains and mismatch re-pairs; real requests need 2 or 3


def op_of(rwbs: pl.Expr) -> pl.Expr:
    """R, W, D (discard), F (flush) or N from rwbs; a leading F before the op letter is a preflush."""
    return rwbs.str.extract(r"^F?([WDRFN])", 1).fill_null("?")


def rows_from(frames: dict[str, pl.DataFrame], rid0: int) -> pl.DataFrame:
    """The pairing rows of one chunk's block frames (rid numbers rows from ``rid0``)."""
    parts = []
    for name, kind in (("block:block_rq_insert", INSERT), ("block:block_rq_issue", ISSUE), ("block:block_rq_complete", COMPLETE)):
        f = frames.get(name)
        if f is None or not f.height:
            continue
        side = "ins" if kind == INSERT else "iss"
        if kind == COMPLETE:
            cols = dict(c_rwbs=pl.col("rwbs"), c_nr=pl.col("nr_sector"), c_error=pl.col("error"))
            no_sector = (pl.col("sector") == NO_SECTOR) & (op_of(pl.col("rwbs")) == "F")
            f = f.with_columns(sector=pl.when(no_sector).then(pl.lit(0, pl.UInt64)).otherwise("sector"))
        else:
            cols = {
                f"{side}_ts": pl.col("ts_ns"),
                f"{side}_comm": pl.col("comm").cast(pl.String),
                f"{side}_pid": pl.col("pid"),
                "rwbs": pl.col("rwbs"),
                "nr": pl.col("nr_sector"),
                "bytes": pl.col("bytes"),
                "orig_sector": pl.col("sector"),
                "parts": pl.lit(0, pl.Int32),
            }
        devnum = (pl.col("dev_major").cast(pl.UInt64) * (1 << 20) + pl.col("dev_minor").cast(pl.UInt64)).alias("devnum")
        parts.append(f.select(pl.col("dev"), devnum, pl.col("sector"), ts=pl.col("ts_ns"), kind=pl.lit(kind, pl.Int8), **cols))
    if not parts:
        return pl.DataFrame(schema=ROW_SCHEMA)
    rows = pl.concat(parts, how="diagonal_relaxed")
    rows = rows.with_row_index("rid", offset=rid0).with_columns(pl.col("rid").cast(pl.Int64))
    return rows.select([(pl.col(c) if c in rows.columns else pl.lit(None)).cast(t).alias(c) for c, t in ROW_SCHEMA.items()])


@dataclass
class Paired:
    """What one pairing pass found. The unpaired come as frames of (dev, op, comm, ts_ns), so that the
    report can apply its filters to them; comm is null where that side does not know the requester."""

    done: pl.DataFrame  # one row per finished request (complete rows with inherited insert/issue columns)
    state: pl.DataFrame  # open requests, to start the next chunk from
    without_issue: pl.DataFrame  # completes with no issue; ``empty``: zero-length (ends of flush sequences)
    mismatched: pl.DataFrame  # completes whose op differs from the issue at their sector
    partials: pl.DataFrame  # partial completions, followed to the request's last part
    overwritten: pl.DataFrame  # inserts/issues that replaced an open request's earlier one


def pair(rows: pl.DataFrame) -> Paired:
    """Pair ``rows`` (this chunk's rows plus the previous chunk's state rows)."""
    removed: set[int] = set()  # op-mismatched completes
    bad_parts: list[pl.DataFrame] = []
    conts = pl.DataFrame(schema=ROW_SCHEMA)  # continuations of partially completed requests
    for _ in range(MAX_ROUNDS):
        kept = rows.filter(~pl.col("rid").is_in(list(removed))) if removed else rows
        ff = _fill(pl.concat([kept, conts]) if conts.height else kept)
        c = ff.filter(pl.col("kind") == COMPLETE)
        # ops can only differ where the rwbs strings do: the regex runs on those few rows only
        differ = c.filter(pl.col("rwbs").is_not_null() & (pl.col("c_rwbs") != pl.col("rwbs")))
        bad = differ.filter(op_of(pl.col("c_rwbs")) != op_of(pl.col("rwbs")))
        if bad.height:
            removed.update(bad["rid"].to_list())
            bad_parts.append(_side(bad, "c_rwbs", None))
            continue
        part = c.filter(pl.col("iss_ts").is_not_null() & (pl.col("c_nr") > 0) & (pl.col("c_nr") < pl.col("nr")))
        new = _continuations(part)
        if new.height == conts.height:
            break
        conts = new
    opened = pl.col("iss_ts").is_not_null() | pl.col("ins_ts").is_not_null()
    done = c.filter(~pl.col("rid").is_in(part["rid"].implode()) & opened if part.height else opened)
    # rows are sorted by segment: a segment's last row is where the next row starts another one
    last_of_segment = (pl.col("grp") != pl.col("grp").shift(-1)).fill_null(True)
    state = ff.filter(last_of_segment & (pl.col("kind") != COMPLETE))
    state = state.with_columns(kind=pl.lit(STATE, pl.Int8)).select(list(ROW_SCHEMA))
    orphans = c.filter(pl.col("iss_ts").is_null())
    return Paired(
        done=done,
        state=state,
        without_issue=_side(orphans, "c_rwbs", None).with_columns(empty=orphans["c_nr"] == 0),
        mismatched=pl.concat(bad_parts) if bad_parts else _side(c.clear(), "c_rwbs", None),
        partials=_side(part, "rwbs", pl.coalesce("ins_comm", "iss_comm")),
        overwritten=_overwrites(ff),
    )


def _side(frame: pl.DataFrame, rwbs: str, comm: pl.Expr | None) -> pl.DataFrame:
    """The (dev, op, comm, ts_ns) of unpaired rows, what the report's filters look at."""
    return frame.select(
        "dev", op=op_of(pl.col(rwbs)), comm=comm if comm is not None else pl.lit(None, pl.String), ts_ns=pl.col("ts"),
    )


def _overwrites(ff: pl.DataFrame) -> pl.DataFrame:
    """Inserts (issues) whose segment already had an insert (issue) before them: the open request's
    earlier one is replaced, as biosnoop's map entry would be. Rows are sorted by segment, so "an
    earlier setter in this segment" is the last setter's segment seen from the row before."""
    out = []
    for flag, comm in (("sets_ins", "ins_comm"), ("sets_iss", "iss_comm")):
        sets = pl.col(flag)
        last_setter = pl.when(sets).then(pl.col("grp")).forward_fill().shift(1)
        out.append(_side(ff.filter(sets & (last_setter == pl.col("grp")).fill_null(False)), "rwbs", pl.col(comm)))
    return pl.concat(out)


def _fill(r: pl.DataFrame) -> pl.DataFrame:
    """Sort by key and time; hand each row the last insert/issue values of its segment."""
    r = r.sort("devnum", "sector", "ts", "kind", maintain_order=True)
    is_c = pl.col("kind") == COMPLETE
    new_seg = (
        (pl.col("devnum") != pl.col("devnum").shift(1))
        | (pl.col("sector") != pl.col("sector").shift(1))
        | is_c.shift(1)
    ).fill_null(True)
    # which rows set an insert (issue) of their own, before the fill hands every row its segment's
    r = r.with_columns(
        grp=new_seg.cum_sum(),
        sets_ins=(pl.col("kind") == INSERT) | ((pl.col("kind") == STATE) & pl.col("ins_ts").is_not_null()),
        sets_iss=(pl.col("kind") == ISSUE) | ((pl.col("kind") == STATE) & pl.col("iss_ts").is_not_null()),
    )
    return r.with_columns([_fill_in_segment(c) for c in CARRIED])


def _fill_in_segment(name: str) -> pl.Expr:
    """Forward fill that stops at segment borders. Rows are sorted by segment, so a plain forward fill
    is right wherever the value it brings comes from the row's own segment; a window ``over("grp")``
    gives the same answer at the cost of hashing every row (half the pairing time on big chunks)."""
    col = pl.col(name)
    from_grp = pl.when(col.is_not_null()).then(pl.col("grp")).forward_fill()
    return pl.when(from_grp == pl.col("grp")).then(col.forward_fill()).alias(name)


def _continuations(part: pl.DataFrame) -> pl.DataFrame:
    """The rest of each partially completed request, as an issue-like row at sector + completed."""
    return part.with_columns(
        sector=pl.col("sector") + pl.col("c_nr").cast(pl.UInt64),
        nr=pl.col("nr") - pl.col("c_nr"),
        parts=pl.col("parts") + 1,
        kind=pl.lit(ISSUE, pl.Int8),
        rid=-pl.col("rid") - 1,  # never collides with real rows
        c_rwbs=pl.lit(None, pl.String),
        c_nr=pl.lit(None, pl.UInt32),
        c_error=pl.lit(None, pl.Int32),
    ).select(list(ROW_SCHEMA))
