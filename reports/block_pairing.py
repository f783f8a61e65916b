"""Pair block_rq_insert / issue / complete into requests: a native kernel over the frames' columns.

The rules (see DESIGN.md, "Semantics of block latency"), each one counted, never silent; the kernel,
reports/native/src/pairing.rs, names each where it applies:

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

This module turns the frames into the kernel's columns (numbers, and strings interned once for the
whole run, so that open requests carry codes from chunk to chunk) and its answers back into frames.
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl

INSERT, ISSUE, COMPLETE = 1, 2, 3
KINDS = (("block:block_rq_insert", INSERT), ("block:block_rq_issue", ISSUE), ("block:block_rq_complete", COMPLETE))
NULL = 2**32 - 1  # the kernel's code of a null string
# bits of the kernel's ``nulls`` column (pairing's py_pairing.rs): which values an event lacks
TS_NULL, KEY_NULL, PID_NULL, NR_NULL, BYTES_NULL = 1, 2, 4, 8, 16


OP = r"^F?([WDRFN])"  # the op letter of an rwbs: R, W, D (discard), F (flush) or N; a leading F is a preflush


def op_of(rwbs: pl.Expr) -> pl.Expr:
    """R, W, D (discard), F (flush) or N from rwbs ("?" for none)."""
    return rwbs.str.extract(OP, 1).fill_null("?")


def op_letter(rwbs: str | None) -> str:
    """op_of for one string (the same pattern): for the few strings a chunk brings."""
    m = re.match(OP, rwbs) if rwbs is not None else None
    return m.group(1) if m else "?"


class _Codes:
    """u32 codes of device, comm and rwbs strings, the same for the whole run: ``values[code]``, and
    ``ops``, each code's op letter (the kernel compares ops, never strings)."""

    values: list[str | None]
    ops: bytearray
    _series: pl.Series | None

    def decode(self, codes: np.ndarray) -> pl.Series:
        if self._series is None:
            self._series = pl.Series(self.values, dtype=pl.String)
        idx = pl.Series(codes, dtype=pl.UInt32)
        if len(idx) and int(idx.max()) == NULL:
            idx = pl.select(pl.when(idx != NULL).then(idx)).to_series()
        return self._series.gather(idx)


class LaneCodes(_Codes):
    """The block lane's codes: the ground floor interned them for the run (schema.LaneStrings)."""

    def __init__(self, strings):
        self.strings = strings
        self.values = strings.values
        self.ops = bytearray()
        self._series = None

    def sync(self) -> None:
        """Learn the op letters of the strings a new chunk brought."""
        new = self.values[len(self.ops):]
        if new:  # a loop per distinct string: a polars query would cost ~1 ms per chunk
            self.ops += "".join(map(op_letter, new)).encode()
            self._series = None


class Strings(_Codes):
    """Codes from frames: polars' own codes of its (process-wide) categoricals, so a comm column,
    categorical already, is coded for free."""

    def __init__(self):
        # polars frees its categories once no series holds one, and would hand out the same codes
        # again for other strings: an empty categorical series keeps them (and our codes) valid
        self._anchor = pl.Series([], dtype=pl.Categorical)
        self.values: list[str | None] = []  # code -> string, None where not seen yet
        self.ops = bytearray()
        self._series: pl.Series | None = None

    def encode(self, s: pl.Series) -> np.ndarray:
        cat = s if s.dtype == pl.Categorical else s.cast(pl.String).cast(pl.Categorical)
        codes = cat.to_physical()
        seen = codes.unique().drop_nulls().to_numpy()
        new = [int(c) for c in seen if c >= len(self.values) or self.values[c] is None]
        if new:  # a loop per distinct string, never per event
            learnt = cat.filter(codes.is_in(new)).unique()
            grow = max(new) + 1 - len(self.values)
            if grow > 0:
                self.values += [None] * grow
                self.ops += b"?" * grow
            strings = learnt.cast(pl.String)
            ops = pl.select(op_of(pl.lit(strings))).to_series()
            for code, value, op in zip(learnt.to_physical().to_list(), strings.to_list(), ops.to_list()):
                self.values[code] = value
                self.ops[code] = ord(op)
            self._series = None
        return codes.fill_null(NULL).to_numpy()


def columns(frames: dict[str, pl.DataFrame], strings: Strings) -> dict[str, bytes] | None:
    """One chunk's inserts, issues and completes (in that order) as the kernel's columns."""
    parts = []
    for name, kind in KINDS:
        f = frames.get(name)
        if f is not None and f.height:
            parts.append(f.select("dev", "comm", "rwbs", "pid", "ts_ns", "sector", "nr_sector", "bytes", "dev_major", "dev_minor", kind=pl.lit(kind, pl.UInt8)))
    if not parts:
        return None
    rows = pl.concat(parts, how="vertical_relaxed")
    devnum = pl.col("dev_major").cast(pl.UInt64) * (1 << 20) + pl.col("dev_minor").cast(pl.UInt64)
    nulls = (
        pl.col("ts_ns").is_null().cast(pl.UInt8) * TS_NULL
        + (devnum.is_null() | pl.col("sector").is_null()).cast(pl.UInt8) * KEY_NULL
        + pl.col("pid").is_null().cast(pl.UInt8) * PID_NULL
        + pl.col("nr_sector").is_null().cast(pl.UInt8) * NR_NULL
        + pl.col("bytes").is_null().cast(pl.UInt8) * BYTES_NULL
    )
    num = rows.select(
        "kind",
        devnum=devnum.fill_null(0),
        sector=pl.col("sector").fill_null(0).cast(pl.UInt64),
        ts=pl.col("ts_ns").fill_null(0).cast(pl.Int64),
        pid=pl.col("pid").fill_null(0).cast(pl.Int32),
        nr=pl.col("nr_sector").fill_null(0).cast(pl.UInt32),
        bytes=pl.col("bytes").fill_null(0).cast(pl.UInt64),
        nulls=nulls,
    )
    out = {c: num[c].to_numpy().tobytes() for c in num.columns}
    for c in ("dev", "comm", "rwbs"):
        out[c] = strings.encode(rows[c]).tobytes()
    return out


def nullable(out: dict[str, bytes], name: str, dtype) -> pl.Series:
    values = pl.Series(name.split(".")[-1], np.frombuffer(out[name], dtype=dtype))
    valid = out.get(name + "_valid")
    if valid is None or np.frombuffer(valid, dtype=np.uint8).all():
        return values
    return pl.select(pl.when(pl.Series(np.frombuffer(valid, dtype=np.uint8)) == 1).then(values)).to_series()


REQUEST = {  # what a key remembers of its request, as the kernel hands it out: name -> (buffer type, frame type)
    "ins_ts": (np.int64, pl.Int64), "ins_pid": (np.int32, pl.Int32), "iss_ts": (np.int64, pl.Int64), "iss_pid": (np.int32, pl.Int32),
    "nr": (np.uint32, pl.UInt32), "bytes": (np.uint64, pl.UInt64), "orig_sector": (np.uint64, pl.UInt64), "parts": (np.int32, pl.Int32),
}
CODES = ("dev", "ins_comm", "iss_comm", "rwbs")


def requests(out: dict[str, bytes], prefix: str, strings: Strings) -> pl.DataFrame:
    """The kernel's requests under ``prefix`` (done, dropped, open) as a frame."""
    cols = {c: strings.decode(np.frombuffer(out[f"{prefix}.{c}"], dtype=np.uint32)).alias(c) for c in CODES}
    cols.update({c: nullable(out, f"{prefix}.{c}", t).cast(ft).alias(c) for c, (t, ft) in REQUEST.items()})
    if prefix == "done":
        cols["ts"] = nullable(out, "done.ts", np.int64)
        cols["c_rwbs"] = strings.decode(np.frombuffer(out["done.c_rwbs"], dtype=np.uint32)).alias("c_rwbs")
    return pl.DataFrame(cols)


OPS = {ord(c): c for c in "RWDFN?"}


def sides(out: dict[str, bytes], prefix: str, strings: Strings) -> pl.DataFrame:
    """The (dev, op, comm, ts_ns) of unpaired rows, what the report's filters look at."""
    op = pl.Series(np.frombuffer(out[f"{prefix}.op"], dtype=np.uint8)).replace_strict(OPS, default="?", return_dtype=pl.String)
    return pl.DataFrame({
        "dev": strings.decode(np.frombuffer(out[f"{prefix}.dev"], dtype=np.uint32)),
        "op": op,
        "comm": strings.decode(np.frombuffer(out[f"{prefix}.comm"], dtype=np.uint32)),
        "ts_ns": nullable(out, f"{prefix}.ts", np.int64),
    })


SIDES = (
    "without_issue",  # completes with no issue (zero-length ones: ends of flush sequences, see ``empty``)
    "mismatched",  # completes whose op differs from the issue at their sector
    "partials",  # partial completions, followed to the request's last part
    "overwritten",  # inserts/issues (and rests of partials) that replaced an open request's earlier one
)


class Paired:
    """What one chunk's pairing found: ``done``, one row per finished request (its complete, with what
    its key remembered), and the unpaired of each of SIDES: counted by ``count``, and as frames of
    (dev, op, comm, ts_ns) by ``side`` for the report's filters (comm is null where that side does not
    know the requester). A side's frame is built only when asked: unfiltered, a count is all it takes."""

    def __init__(self, out: dict[str, bytes], strings: _Codes):
        self._out, self._strings = out, strings
        self.n_done = out["done.n"]

    @property
    def done(self) -> pl.DataFrame:
        return requests(self._out, "done", self._strings)

    def count(self, side: str) -> int:
        return self._out[f"{side}.n"]

    def empty_without_issue(self) -> int:
        return self._out["without_issue.empty_n"]

    def side(self, name: str) -> pl.DataFrame:
        f = sides(self._out, name, self._strings)
        if name == "without_issue":
            f = f.with_columns(empty=pl.Series(np.frombuffer(self._out["without_issue.empty"], dtype=np.uint8) == 1))
        return f

    without_issue = property(lambda self: self.side("without_issue"))
    mismatched = property(lambda self: self.side("mismatched"))
    partials = property(lambda self: self.side("partials"))
    overwritten = property(lambda self: self.side("overwritten"))


def paired(out: dict[str, bytes], strings: _Codes) -> Paired:
    return Paired(out, strings)


def joined(ps: list[Paired]) -> dict[str, bytes]:
    """The done.* buffers of several chunks' pairings (one run's: one string table), joined."""
    return {k: b"".join(p._out[k] for p in ps) for k in ps[0]._out if k.startswith("done.") and k != "done.n"}


def done_of(ps: list[Paired]) -> pl.DataFrame:
    """The finished requests of several chunks' pairings as one frame: their buffers joined, then
    decoded once (a decode is a few polars calls per column)."""
    return requests(joined(ps), "done", ps[0]._strings)
