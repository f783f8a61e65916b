"""Columns decoded from binary event records, laid out by the capture's tracefs ``format`` files
(parsed by format_file.py).

Records are decoded a column at a time: given the byte offsets of N records of one event kind in a
buffer, each field is gathered for all N in one native call (``native/src/fields.rs``), strings
interned there, so Python never sees a record.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import polars as pl

# (the format files' names are kept here too: the decoders' callers import them from this module)
from .format_file import (  # noqa: F401
    LANE_KINDS, EventFormat, Field, FormatTable, _int_spec, bad_common_field, common_pid_field, common_type_field, lane_layout,
    parse_format, parse_header_page,
)
from .print_fmt import Kallsyms, Render, field_renderers, render

# Decode at most this many bytes of padded matrix at once (rows x widest string), to keep memory flat.
_MATRIX_BYTES = 16 << 20


# ---------------------------------------------------------------------------------------------------
# Column decoding. ``buf`` is the records' buffer as bytes (ring-buffer pages, or perf.data RAW
# payloads end to end), ``starts`` int64 byte offsets of each record's data (where common_type sits),
# ``lens`` their lengths in bytes. The per-record reads are native (native/src/fields.rs).


def raw_bytes(buf) -> bytes:
    """The record buffer as bytes, what the native gathers read (a numpy array is copied once)."""
    return buf if isinstance(buf, bytes) else np.ascontiguousarray(buf, dtype=np.uint8).tobytes()


def _i64(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.int64).tobytes()


def gather(buf: bytes, starts: np.ndarray, offset: int, width: int) -> np.ndarray:
    """(N, width) uint8 matrix of the bytes at starts + offset .. + width (reads past the buffer clamp)."""
    out = _native().gather_bytes(buf, _i64(starts), offset, width)
    return np.frombuffer(out, np.uint8).reshape(len(starts), width)


def int_column(buf: bytes, starts: np.ndarray, f: Field, endian: str) -> np.ndarray:
    """An integer field of every record, as a numpy array of its own width and sign (native order)."""
    if f.size not in (1, 2, 4, 8):
        raise ValueError(f"{f.name}: integer of {f.size} bytes")
    out = _native().gather_int(buf, _i64(starts), f.offset, f.size, endian == ">")
    return np.frombuffer(out, np.dtype(f"{'i' if f.signed else 'u'}{f.size}"))


def cstrings(buf: bytes, at: np.ndarray, ln: np.ndarray) -> pl.Series:
    """The C strings at ``at`` of at most ``ln`` bytes, cut at the first NUL (bytes after it are stale
    kernel memory). Interned natively: only the distinct strings are decoded, then gathered (unless
    most are distinct: then the native side hands the strings themselves)."""
    codes, table, width = _native().gather_cstrings(buf, _i64(at), _i64(ln))
    return interned_strings(codes, table, width, len(at))


def interned_strings(codes: bytes, table: bytes, width: int, n: int) -> pl.Series:
    """The ``n`` strings the native interning hands over (``fields.rs``: uint32 codes into a table of
    NUL-padded distinct strings, or no codes and the strings themselves) as one String column."""
    if width == 0:
        return pl.repeat("", n, dtype=pl.String, eager=True).rename("")
    names = table_strings(table, width)
    return names.gather(np.frombuffer(codes, np.uint32)) if codes or not n else names


def table_strings(table: bytes, width: int) -> pl.Series:
    """The rows of a table of NUL-padded strings ``width`` bytes apart (``width`` > 0)."""
    fixed = np.frombuffer(table, f"S{width}")
    raw = pl.Series(fixed, dtype=pl.Binary)
    try:
        return raw.cast(pl.String)
    except pl.exceptions.ComputeError:  # not UTF-8 (a binary comm, a cut multibyte char): replace, like `less`
        return pl.Series([b.decode("utf-8", "replace") for b in fixed.tolist()], dtype=pl.String)


def strings_from_matrix(mat: np.ndarray) -> pl.Series:
    """Rows of NUL-padded bytes -> strings cut at the first NUL."""
    n, width = mat.shape
    return cstrings(raw_bytes(mat), np.arange(n, dtype=np.int64) * width, np.full(n, width, np.int64))


def dynamic_extents(buf: bytes, starts: np.ndarray, lens: np.ndarray, f: Field, endian: str):
    """(absolute start, length) of a ``__data_loc``/``__rel_loc``/tail field in every record."""
    if f.kind == "tail":
        return starts + f.offset, np.maximum(lens - f.offset, 0)
    loc = int_column(buf, starts, Field(f.name, "u32", f.offset, 4, False, "int", 4, False, False), endian)
    off = (loc & 0xFFFF).astype(np.int64)
    ln = (loc >> 16).astype(np.int64)
    if f.kind == "rel_loc":
        off = off + f.offset + f.size
    # a location outside the record is garbage (or a bug of an old kernel): read it as empty
    bad = off + ln > lens
    ln = np.where(bad, 0, ln)
    return starts + off, ln


def ragged_matrix_rows(buf: bytes, at: np.ndarray, ln: np.ndarray):
    """Yield (row slice, (rows, widest) byte matrix zero-padded past each row's length) in bounded blocks."""
    n = len(at)
    i = 0
    while i < n:
        width_all = int(ln[i:].max()) if n - i else 0
        step = max(1, min(n - i, _MATRIX_BYTES // max(width_all, 1)))
        sl = slice(i, i + step)
        width = int(ln[sl].max()) if step else 0
        if width == 0:
            yield sl, np.zeros((step, 0), np.uint8)
        else:
            mat = gather(buf, at[sl], 0, width)
            yield sl, np.where(np.arange(width)[None, :] >= ln[sl][:, None], np.uint8(0), mat)
        i += step


def dynamic_strings(buf: bytes, at: np.ndarray, ln: np.ndarray) -> pl.Series:
    return cstrings(buf, at, ln)


def _native():
    from . import _native as native

    return native


def hex_rows(mat: np.ndarray, ln: np.ndarray | None = None) -> pl.Series:
    """Rows of bytes -> lowercase hex text (arrays we cannot type, e.g. IPv6 addresses)."""
    n, width = mat.shape
    if width == 0:
        return pl.Series([""] * n, dtype=pl.String)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    out = np.empty((n, width * 2), np.uint8)
    out[:, 0::2] = digits[mat >> 4]
    out[:, 1::2] = digits[mat & 15]
    if ln is not None:
        out[np.arange(width * 2)[None, :] >= (2 * ln)[:, None]] = 0
    return strings_from_matrix(out)


def render_column(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray, f: Field, endian: str,
                  how: Render | None = None, kallsyms: Kallsyms | None = None) -> pl.Series:
    """Any field of every record as text: ints in decimal, pointers 0x-hex, char arrays as strings;
    with ``how`` (from the print fmt), an integer the way trace-cmd prints it (a name, ``sym+0xoff``)."""
    if how is not None and f.kind == "int" and f.size in (1, 2, 4, 8):
        # libtraceevent reads the field unsigned, whatever its type, before looking it up
        return render(how, int_column(buf, starts, replace(f, signed=False), endian), kallsyms)
    if f.kind == "int" and f.size in (1, 2, 4, 8):
        vals = int_column(buf, starts, f, endian)
        if f.is_pointer:
            return "0x" + hex_digits(vals.astype(np.uint64))
        return pl.Series(vals).cast(pl.String)
    if f.kind == "str":
        return cstrings(buf, starts + f.offset, np.full(len(starts), f.size, np.int64))
    if f.kind == "array" and f.elem in (1, 2, 4, 8) and f.size % f.elem == 0:
        n = f.size // f.elem
        mat = np.ascontiguousarray(gather(buf, starts, f.offset, f.size))
        dtype = np.dtype(f"{endian}{'i' if f.signed else 'u'}{f.elem}")
        vals = mat.view(dtype).reshape(len(starts), n).astype(dtype.newbyteorder("="))
        if not n:
            return pl.Series([""] * len(starts), dtype=pl.String)
        return pl.Series(vals).arr.eval(pl.element().cast(pl.String)).arr.join(",")
    if f.kind in ("loc", "rel_loc", "tail"):
        at, ln = dynamic_extents(buf, starts, lens, f, endian)
        if f.is_char and f.kind == "tail":  # print/bprint buffers: trace_marker text ends in the writer's newline
            return dynamic_strings(buf, at, ln).str.strip_suffix("\n")
        if f.is_char:
            return dynamic_strings(buf, at, ln)
        parts = [hex_rows(mat, ln[sl]) for sl, mat in ragged_matrix_rows(buf, at, ln)]
        return pl.concat(parts) if parts else pl.Series([], dtype=pl.String)
    return hex_rows(np.ascontiguousarray(gather(buf, starts, f.offset, f.size)))


_HEX2 = np.array([[ord(c) for c in f"{i:02x}"] for i in range(256)], dtype=np.uint8)


def hex_digits(vals: np.ndarray) -> pl.Series:
    """uint64 numpy array -> lowercase hex text without 0x or leading zeros, as the kernel's %lx prints."""
    be = np.ascontiguousarray(vals.astype(">u8")).view(np.uint8).reshape(-1, 8)
    text = strings_from_matrix(_HEX2[be].reshape(len(be), 16))
    return text.str.strip_chars_start("0").replace("", "0")


# ---------------------------------------------------------------------------------------------------
# Records -> schema frames, one event kind at a time.

_IOPRIO_CLASS = ("none", "rt", "be", "idle", "invalid", "0x5", "0x6", "0x7")  # kernel __print_symbolic


def _dev_text(d: int) -> str:
    return f"{d >> 20},{d & 0xFFFFF}"  # the kernel's MAJOR(dev), MINOR(dev)


def _ioprio_text(p: int) -> str:
    return f"{_IOPRIO_CLASS[(p >> 13) & 7]},{(p >> 3) & 0x3FF},{p & 7}"


# the block lane's kinds, as its kind column codes them (schema.BlockLane, text_lane.rs)
def _str_spec(f: Field | None) -> tuple[int, int] | None:
    """A fixed char array the native block gather interns; other kinds are rendered by ``render_column``."""
    return (f.offset, f.size) if f is not None and f.kind == "str" else None


_SUBMIT = ("block:block_rq_insert", "block:block_rq_issue")
_NEVER = np.iinfo(np.int64).max  # the length a record of an unknown or damaged kind would need


class FrameBuilder:
    """Turns decoded ring-buffer records into one schema frame per event kind.

    Fields the event's print fmt names through a table or kallsyms (kfree_skb's ``reason`` and
    ``location``) get the text `trace-cmd report` prints (print_fmt.py), in ``fields`` and ``payload``.
    """

    def __init__(self, formats: FormatTable, cmdlines: dict[int, str], endian: str,
                 ts_offset: int = 0, tsc2nsec: tuple[int, int, int] | None = None, kallsyms: bytes = b"",
                 payload: bool = True):
        self.formats, self.e = formats, endian
        self.payload = payload  # False: block events without their payload text (see read_capture)
        self._kallsyms_text, self._kallsyms = kallsyms, None  # parsed when an event first prints %pS
        self._renders: dict[int, dict[str, Render]] = {}
        self.ts_offset, self.tsc2nsec = ts_offset, tsc2nsec
        self.type_field, self.pid_field = common_type_field(formats), common_pid_field(formats)
        # trace-cmd report prints pid 0 as <idle> and a pid missing from saved_cmdlines as <...>
        names = {**cmdlines, 0: "<idle>"}
        self.comm_pids = np.array(sorted(names), dtype=np.int64)
        self._comm_pids_raw = self.comm_pids.tobytes()  # what the native block gather searches
        self._tables: dict = {}  # string tables by what they were made from (see _cached)
        self._null_cols: dict = {}
        # comms as one categorical column, indexed by position in comm_pids; the last entry is "<...>"
        self.comm_names = pl.Series([names[p] for p in self.comm_pids.tolist()] + ["<...>"], dtype=pl.Categorical)
        self.damaged: Counter = Counter()  # (event, why) -> records left out
        f = bad_common_field(formats)
        if f is not None:
            from .errors import TraceParseError

            raise TraceParseError(f"corrupt trace.dat: the event formats' {f.name} field is {f.size} bytes")

    def frames(self, buf, rec, cpu, unknown) -> dict[str, pl.DataFrame]:
        """One schema frame per event kind of the records ``rec`` (start, length, ts) of ``buf``.

        Args:
            buf: the records' bytes (or a uint8 array): ring-buffer pages, or payloads end to end.
            rec: a ``Records`` (only ``start``, ``length`` and ``ts``, raw clock units, are read).
            cpu: the CPU of every record, or an int16 array of one per record.
            unknown: Counter of records per event id without a format file (updated).
        """
        from .schema import conform

        if not len(rec.start):
            return {}
        buf = raw_bytes(buf)
        ts = self._ns(rec.ts)
        out = {}
        for fmt, idx in self._kinds(buf, rec, unknown):
            where = cpu if np.isscalar(cpu) else cpu[idx]
            frame = self._frame(fmt, buf, rec.start[idx], rec.length[idx], ts[idx], where)
            out[fmt.key] = conform(frame, fmt.key)
        return out

    def usable(self, buf: bytes, rec, unknown) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the records that make events, in record order; their event ids): records of an
        unknown event, of a damaged format or shorter than their fields are counted and left out."""
        ids = self._ids(buf, rec)
        codes, uniq = _native().intern_ints(_i64(ids))
        codes, kinds = np.frombuffer(codes, np.uint32), np.frombuffer(uniq, np.int64).tolist()
        need = np.array([self._needs(k) for k in kinds], np.int64)  # a loop over kinds, not records
        ok = rec.length >= need[codes]
        if not ok.all():
            for j, n in enumerate(np.bincount(codes[~ok], minlength=len(kinds)).tolist()):
                if n:
                    self._count_dropped(kinds[j], n, unknown)
        keep = np.flatnonzero(ok)
        return keep, ids[keep]

    def _needs(self, kind_id: int) -> int:
        """The bytes a record of this kind must have to make an event (unknown or damaged: never)."""
        fmt = self.formats.get(kind_id)
        return _NEVER if fmt is None or fmt.problem else fmt.fixed_end

    def _count_dropped(self, kind_id: int, n: int, unknown) -> None:
        fmt = self.formats.get(kind_id)
        if fmt is None:
            unknown[kind_id] += n
        elif fmt.problem:
            self.damaged[(fmt.key, f"its format file is corrupt: {fmt.problem}")] += n
        else:
            self.damaged[(fmt.key, f"shorter than the {fmt.fixed_end} bytes of its fields")] += n

    def frames_grouped(self, buf: bytes, start, length, ns, cpu, order, kinds, first, skip=()) -> dict[str, pl.DataFrame]:
        """The frames of records already found usable and grouped by kind (``ring_buffer.rs``'s
        ``merge_grouped``: ``order[first[i]:first[i + 1]]`` are kind ``kinds[i]``'s record indices),
        in the order of ``kinds``; ``ns`` is the records' ts_ns, ``cpu`` an int16 array. Kinds whose
        id is in ``skip`` (those the block lane took) get no frame."""
        from .schema import conform

        buf, bounds, built = raw_bytes(buf), [*first.tolist(), len(order)], {}
        for i, kind_id in enumerate(kinds.tolist()):
            if kind_id in skip:
                continue
            idx = order[bounds[i] : bounds[i + 1]]
            fmt = self.formats.get(kind_id)
            built[kind_id] = (fmt.key, conform(self._frame(fmt, buf, start[idx], length[idx], ns[idx], cpu[idx]), fmt.key))
        # one frame per key, the highest id's where two ids share a name (as `frames` does)
        last = {key: frame for _, (key, frame) in sorted(built.items())}
        return {key: last[key] for key, _ in built.values()}

    def _ids(self, buf: bytes, rec) -> np.ndarray:
        return int_column(buf, rec.start, self.type_field, self.e).astype(np.int64)

    def _kinds(self, buf: bytes, rec, unknown, ids=None):
        """Yield (format, indices of its records in record order) per event kind, in id order."""
        ids = self._ids(buf, rec) if ids is None else ids
        order, kinds, first = (np.frombuffer(c, np.int64) for c in _native().group_by(_i64(ids)))
        bounds = first.tolist() + [len(order)]  # each kind keeps its time order
        for i, kind_id in enumerate(kinds.tolist()):
            idx = order[bounds[i] : bounds[i + 1]]
            fmt = self.formats.get(kind_id)
            if fmt is None:
                unknown[kind_id] += len(idx)
                continue
            if fmt.problem:
                self.damaged[(fmt.key, f"its format file is corrupt: {fmt.problem}")] += len(idx)
                continue
            short = rec.length[idx] < fmt.fixed_end
            if short.any():
                self.damaged[(fmt.key, f"shorter than the {fmt.fixed_end} bytes of its fields")] += int(short.sum())
                idx = idx[~short]
                if not len(idx):
                    continue
            yield fmt, idx

    def _ns(self, raw: np.ndarray) -> np.ndarray:
        """Clock units -> ns as trace-cmd report shows them: TSC2NSEC scaling, then the OFFSET option."""
        ts = raw.astype(np.uint64)
        if self.tsc2nsec:
            mult, shift, _ = self.tsc2nsec
            lo, hi = ts & np.uint64(0xFFFFFFFF), ts >> np.uint64(32)
            ts = ((lo * np.uint64(mult)) >> np.uint64(shift)) + ((hi * np.uint64(mult)) << np.uint64(32 - shift))
        return ts.view(np.int64) + np.int64(self.ts_offset)

    def _frame(self, fmt: EventFormat, buf, starts, lens, ts, cpu) -> pl.DataFrame:
        n = len(starts)
        cols = {
            "ts_ns": pl.Series(ts, dtype=pl.Int64),
            "cpu": pl.Series(np.full(n, cpu, dtype=np.int16) if np.isscalar(cpu) else cpu.astype(np.int16)),
            "event": pl.Series([fmt.key], dtype=pl.Categorical).new_from_index(0, n),
        }
        from .schema import BLOCK_EVENTS, NET_EVENTS

        if fmt.key in BLOCK_EVENTS and fmt.get("dev") and fmt.get("sector"):
            return self._block(fmt, buf, starts, lens, cols)  # pid and comm come with its columns
        pid = int_column(buf, starts, self.pid_field, self.e).astype(np.int32)
        cols["pid"], cols["comm"] = pl.Series("pid", pid, dtype=pl.Int32), self._comms(pid)
        if fmt.key in NET_EVENTS and fmt.get("skbaddr"):
            return self._net(fmt, buf, starts, lens, cols)
        return self._generic(fmt, buf, starts, lens, cols)

    def _comms(self, pid: np.ndarray) -> pl.Series:
        """pid -> comm from saved_cmdlines, a gather into one categorical column (no string work per event)."""
        keys = self.comm_pids
        at = np.searchsorted(keys, pid).clip(0, max(len(keys) - 1, 0))
        known = keys[at] == pid if len(keys) else np.zeros(len(pid), bool)
        return self.comm_names.gather(np.where(known, at, len(keys)))

    def _renders_of(self, fmt: EventFormat) -> dict[str, Render]:
        """Fields the event's print fmt shows by name or symbol, parsed once per event kind."""
        if fmt.id not in self._renders:
            self._renders[fmt.id] = field_renderers(fmt.print_fmt)
        return self._renders[fmt.id]

    def _kallsyms_for(self, how: Render | None) -> Kallsyms | None:
        if how is None or how.kind != "function":
            return None
        if self._kallsyms is None:
            self._kallsyms = Kallsyms.parse(self._kallsyms_text)
        return self._kallsyms

    def _generic(self, fmt, buf, starts, lens, cols, skip=()) -> pl.DataFrame:
        fields = [f for f in fmt.fields if f.name not in skip]
        renders = self._renders_of(fmt)
        vals = {}
        for i, f in enumerate(fields):  # a loop over an event's fields, not its records
            how = renders.get(f.name)
            vals[f"_f{i}"] = render_column(buf, starts, lens, f, self.e, how, self._kallsyms_for(how))
        df = pl.DataFrame({**cols, **vals})
        if not fields:
            kv = pl.Struct({"key": pl.String, "value": pl.String})
            return df.with_columns(fields=pl.lit([], dtype=pl.List(kv)), payload=pl.lit(""))
        text = pl.concat_str([pl.lit(f.name + "=") + pl.col(f"_f{i}") for i, f in enumerate(fields)], separator=" ")
        return df.with_columns(fields=_pairs([f.name for f in fields], list(vals.values())), payload=text).drop(list(vals))

    def _block(self, fmt, buf, starts, lens, cols) -> pl.DataFrame:
        """The block columns, every number and fixed string in one native pass (``block_fields.rs``)."""
        e, key = self.e, fmt.key
        submit = key in _SUBMIT
        rwbs, comm, cmd = fmt.get("rwbs"), fmt.get("comm"), fmt.get("cmd")
        err = fmt.get("error") or fmt.get("errors")
        comm = comm if submit else None
        got = _native().gather_block(
            buf, _i64(starts), e == ">", self._comm_pids_raw, _int_spec(self.pid_field), _int_spec(fmt.get("dev")),
            _int_spec(fmt.get("sector")), _int_spec(fmt.get("nr_sector")), _int_spec(fmt.get("bytes") if submit else None),
            _int_spec(fmt.get("ioprio")), _int_spec(None if submit else err), _str_spec(rwbs), _str_spec(comm),
        )
        n = len(starts)
        cols["pid"] = pl.Series("pid", np.frombuffer(got["pid"], np.int32), dtype=pl.Int32)
        cols["comm"] = self.comm_names.gather(np.frombuffer(got["comm_at"], np.uint32))
        data = {
            "dev_major": pl.Series(np.frombuffer(got["dev_major"], np.uint32)),
            "dev_minor": pl.Series(np.frombuffer(got["dev_minor"], np.uint32)),
            "sector": pl.Series(np.frombuffer(got["sector"], np.uint64)),
            "nr_sector": pl.Series(np.frombuffer(got["nr_sector"], np.uint32)),
        }
        data["rwbs"] = self._strings_of(got, "rwbs", n, buf, starts, lens, rwbs)
        if self.payload:
            data["_cmd"] = render_column(buf, starts, lens, cmd, e) if cmd else pl.repeat("", n, eager=True)
        if submit and fmt.get("bytes"):
            data["bytes"] = pl.Series(np.frombuffer(got["bytes"], np.uint64))
        data["dev"] = self._spelled(got["dev_codes"], got["dev_values"], np.uint64, _dev_text)
        if fmt.get("ioprio"):
            data["ioprio"] = self._spelled(got["ioprio_codes"], got["ioprio_values"], np.int64, _ioprio_text)
        if comm:
            data["rq_comm"] = self._strings_of(got, "comm", n, buf, starts, lens, comm)
        if not submit:
            errs = np.frombuffer(got["error"], np.int32) if err else np.zeros(n, np.int32)
            data["error"] = pl.Series(errs)
        if not self.payload:
            return self._exact(key, {**cols, **data}, n)
        df = pl.DataFrame({**cols, **data})
        c = pl.col
        # the kernel's print fmt: "%d,%d %s %u (%s) %llu + %u %s,%u,%u [%s]" (no bytes on complete/requeue,
        # no ioprio before 6.11, [error] instead of [comm] on complete/requeue)
        parts = [c("dev"), pl.lit(" "), c("rwbs"), pl.lit(" ")]
        if "bytes" in df.columns:
            parts += [c("bytes"), pl.lit(" ")]
        parts += [pl.lit("("), c("_cmd"), pl.lit(") "), c("sector"), pl.lit(" + "), c("nr_sector")]
        if "ioprio" in df.columns:
            parts += [pl.lit(" "), c("ioprio")]
        parts += [pl.lit(" ["), c("rq_comm") if "rq_comm" in df.columns else c("error").cast(pl.String), pl.lit("]")]
        return df.with_columns(payload=pl.concat_str(parts))

    def _strings_of(self, got: dict, name: str, n: int, buf, starts, lens, f: Field | None) -> pl.Series:
        """A string column of the native block gather (``render_column`` for a field it does not intern)."""
        if f is None:
            return pl.repeat("", n, eager=True)
        if name not in got:
            return render_column(buf, starts, lens, f, self.e)
        codes, table, width = got[name]
        if not width or not codes:  # all empty, or (most distinct) the strings themselves
            return interned_strings(codes, table, width, n)
        names = self._cached(("s", table, width), lambda: table_strings(table, width))
        return names.gather(np.frombuffer(codes, np.uint32))

    def _spelled(self, codes: bytes, uniq: bytes, dtype, spell) -> pl.Series:
        """Integer codes -> their text, spelled once per distinct value (a device, an I/O priority)
        that the native side interned: a few Python calls however many events, one gather per event."""
        names = self._cached((spell, uniq), lambda: pl.Series([spell(int(v)) for v in np.frombuffer(uniq, dtype).tolist()], dtype=pl.String))
        return names.gather(np.frombuffer(codes, np.uint32))

    def _cached(self, key, make) -> pl.Series:
        """The tables of distinct strings, spelled once per capture: a chunk's rwbs, devices and comms
        are nearly always those of the chunk before."""
        got = self._tables.get(key)
        if got is None:
            if len(self._tables) > 512:  # a capture of endless distinct comms: stay bounded
                self._tables.clear()
            got = self._tables[key] = make()
        return got

    def _exact(self, key: str, cols: dict[str, pl.Series], n: int) -> pl.DataFrame:
        """The frame ``conform`` would make (the schema's columns, order and types; absent ones null),
        assembled from the columns as they are: no select to plan and run for each frame."""
        from .schema import schema_for

        out = []
        for name, dtype in schema_for(key).items():
            col = cols.get(name)
            if col is None:
                col = self._nulls(dtype, n)
            elif col.dtype != dtype:
                col = col.cast(dtype)
            out.append(col.alias(name))
        return pl.DataFrame(out)

    def _nulls(self, dtype, n: int) -> pl.Series:
        """A null column of ``n`` rows, a slice of one kept per type (made once, not per frame)."""
        have = self._null_cols.get(dtype)
        if have is None or len(have) < n:
            have = self._null_cols[dtype] = pl.repeat(None, max(n, 1 << 16), dtype=dtype, eager=True)
        return have.slice(0, n)

    def _net(self, fmt, buf, starts, lens, cols) -> pl.DataFrame:
        e = self.e
        name, ln = fmt.get("name"), fmt.get("len")
        skb = int_column(buf, starts, fmt.get("skbaddr"), e).astype(np.uint64)
        data = {
            "dev_name": render_column(buf, starts, lens, name, e) if name else pl.repeat(None, len(starts), dtype=pl.String, eager=True),
            "skbaddr": hex_digits(skb),
            "len": pl.Series(_int_or(buf, starts, ln, e, len(starts)).astype(np.uint32)),
        }
        rest = self._generic(fmt, buf, starts, lens, {}, skip=("name", "skbaddr", "len")) if len(fmt.fields) > 3 else None
        df = pl.DataFrame({**cols, **data})
        c = pl.col
        text = pl.concat_str(
            [pl.lit("dev="), c("dev_name").fill_null(""), pl.lit(" skbaddr=0x"), c("skbaddr"), pl.lit(" len="), c("len")]
        )
        if rest is not None and rest.height:
            df = df.with_columns(_rest=rest["payload"])
            text = pl.concat_str([text, pl.lit(" "), c("_rest")])
        return df.with_columns(payload=text)


def _int_or(buf, starts, f: Field | None, endian: str, n: int) -> np.ndarray:
    return int_column(buf, starts, f, endian) if f else np.zeros(n, np.int64)


def _pairs(names: list[str], values: list[pl.Series]) -> pl.Series:
    """Columns of field values -> one list of {key, value} per record.

    Built as one long interleaved struct column cut into rows by ``reshape``: polars' concat_list of
    per-field structs is ~25x slower on 100k-row frames.
    """
    n, k = len(values[0]), len(values)
    flat = pl.concat(values, rechunk=False).gather((np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1))
    keys = pl.Series(names, dtype=pl.String).gather(np.tile(np.arange(k), n))
    kv = pl.DataFrame({"key": keys, "value": flat}).to_struct("fields")
    return kv.reshape((n, k)).cast(pl.List(kv.dtype)) if n else pl.Series("fields", [], pl.List(kv.dtype))
