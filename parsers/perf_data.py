"""perf's binary perf.data (file mode and pipe mode), read without perf.

The file made by ``perf record -e block:block_rq_issue -a -- dd ...`` starts like this:

    00000000: 5045 5246 494c 4532 6800 0000 0000 0000  PERFILE2h.......
    00000010: 8800 0000 0000 0000 a800 0000 0000 0000  ................

magic ``PERFILE2`` (``2ELIFREP`` when written big-endian), the header size (104; 16 in pipe mode,
``perf record -o -``), then the attrs, the data section and the feature sections (hostname, os
release, perf version, cmdline, and HEADER_TRACING_DATA: the format files of the events). The
same events as ``perf script -i perf.data`` prints them:

              dd  3386 [000]  2856.934943:    block:block_rq_issue: 254,0 WS 4096 () 45787448 + 8 0x2,0,4 [dd]

The records are read by the native core (``_native.PerfScanner``, over the ``linux-perf-data``
crate): samples come out in perf's time order as columns (time, CPU, pid/tid, period, attr, the
comm the thread had then, the call chain, and the RAW payload). The RAW payloads are tracepoint
records laid out by the capture's own format files, which have the layout of trace.dat's opening
sections: they are read by trace_dat.py's section readers and gathered into the same frames as a
trace.dat by ``event_format.FrameBuilder``.
"""
from __future__ import annotations

import io
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import polars as pl

from . import prefetch
from .errors import TraceParseError
from .event_format import FrameBuilder, int_column
from .payloads import fields as payload_fields
from .perf_lane import CHUNK_BYTES, LANE_EVENTS as _LANE_EVENTS, ahead_key, lane_setup
from .print_fmt import Kallsyms, Render
from .schema import BlockLane, Chunk, KindStats, LaneStrings, conform
from .source import Source
from .symbols import SymbolOptions, Symbolizer, kallsyms_bytes
from .tracing_sections import TRACING_MAGIC, read_tracing_data  # noqa: F401 - (callers import them from here)

PIPE_HEADER_SIZE = 16
_MAX_SAMPLES = 1 << 18


@dataclass
class _Records:
    """The ``ring_buffer.Records`` that FrameBuilder reads: payload spans in one buffer, and times."""

    start: np.ndarray  # int64 offset of each payload (its common_type) in the buffer
    length: np.ndarray  # int64
    ts: np.ndarray  # uint64 ns


def is_pipe(head: bytes) -> bool:
    """perf's pipe mode writes a 16-byte header (magic, size 16), the file mode its full header."""
    if len(head) < 16:
        return False
    return int.from_bytes(head[8:16], "big" if head[:8] == b"2ELIFREP" else "little") == PIPE_HEADER_SIZE


def open_scanner(stream: BinaryIO, source: Source, ahead: tuple | None = None):
    """The native scanner over ``stream``, and a function that closes what it opened. ``ahead``:
    the settings (perf_lane.ahead_key) a scanner prefetch.py started decoding with would need."""
    from ._native import PerfScanner

    head = stream.peek(16)[:16] if hasattr(stream, "peek") else b""
    pipe = is_pipe(head)
    closer = lambda: None  # noqa: E731
    if not pipe and not _seekable(stream):  # file mode needs to seek (features follow the data)
        from .trace_dat import _spool  # (here: a perf.data run needs no trace.dat reader but this)

        spool = tempfile.TemporaryFile(prefix="traceparse-", suffix=".perf.data")
        _spool(stream, spool, source)
        spool.seek(0)
        stream, closer = io.BufferedReader(spool, 1 << 20), spool.close
    path = getattr(stream, "name", None)
    plain = isinstance(path, str) and getattr(stream, "decoded", None) is None and _regular(stream)
    try:
        started = (ahead is not None and prefetch.take(path, ahead)) or prefetch.take(path) if plain and not pipe else None
        scanner = (started or PerfScanner.open_path(path, pipe)) if plain else PerfScanner(stream, pipe)
    except ValueError as exc:
        closer()
        raise TraceParseError(f"{source.path}: not a readable perf.data ({exc})") from None
    return scanner, closer


def _regular(stream) -> bool:
    """A plain file on disk, read from its start: the scanner opens it itself."""
    import os
    import stat

    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode) and stream.tell() == 0
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def _seekable(stream) -> bool:
    try:
        return stream.seekable() and stream.tell() == 0
    except (OSError, ValueError, AttributeError):
        return False


def header_meta(meta: dict) -> dict:
    """The scanner's header features, named as ``info`` shows them."""
    out = {
        "hostname": meta["hostname"],
        "os_release": meta["os_release"],
        "perf_version": meta["perf_version"],
        "arch": meta["arch"],
        "cpu_desc": meta["cpu_desc"],
        "nr_cpus_online": meta["nr_cpus_online"],
        "nr_cpus_available": meta["nr_cpus_available"],
        "cmdline": " ".join(meta["cmdline"]) if meta["cmdline"] is not None else None,
        "total_mem_kb": meta["total_mem_kb"],
        "cpu_id": meta["cpu_id"],
        "clock": meta["clock"],
        "clockid": meta["clockid"],
        "endianness": meta["endianness"],
        "simpleperf": meta["simpleperf"],
        "features": meta["features"],
        "perf_events": [name for name, _, _ in meta["attrs"]],
        "cpus": meta["nr_cpus_online"],
    }
    return out


def parse_perf_data(
    stream: BinaryIO, source: Source, chunk_bytes: int = CHUNK_BYTES, payload: bool = True, stacks: bool = True,
    kallsyms: bytes | None = None, symbols: SymbolOptions | None = None, block_lane: bool = False,
) -> Iterator[Chunk]:
    """Stream the samples of a perf.data as Chunks in time order; header features go to ``source.meta``.
    ``symbols`` (symbols.py): where the names of call-chain frames come from; ``kallsyms``: a
    /proc/kallsyms's bytes, the same as ``SymbolOptions(kallsyms=...)``. A binary of another build
    than the recording's is a line in ``source.meta["symbol_warnings"]``. ``block_lane``: block requests as
    the block lane, gathered by the native scanner straight from their RAW payloads, not as frames."""
    opts = symbols or SymbolOptions()
    if kallsyms is not None:
        opts = SymbolOptions(kallsyms, opts.symfs, opts.buildid_dir)
    scanner, closer = open_scanner(stream, source, ahead_key(chunk_bytes) if block_lane and not stacks else None)
    try:
        meta = scanner.meta()
        source.meta.update(header_meta(meta))
        decoding = scanner.decoding()  # prefetch.py made the settings below already
        if not decoding:
            scanner.set_stacks(stacks)
        naming = None
        if opts.any and stacks:
            warnings = source.meta.setdefault("symbol_warnings", [])
            ids = {path: bid.hex() for path, bid in scanner.build_ids()}
            naming = Symbolizer(opts, ids, warnings.append)
        reader = _Reader(scanner, source, meta, payload, stacks, naming)
        reader.kallsyms_text = kallsyms_bytes(opts.kallsyms)  # %pS fields name their addresses from it
        if block_lane:
            reader.lane = LaneStrings()
            if not decoding:
                scanner.want_lane()
        yield from reader.chunks(max(chunk_bytes, 1))
    finally:
        closer()


class _Reader:
    """Batches from the scanner -> Chunks of schema frames."""

    def __init__(self, scanner, source: Source, meta: dict, payload: bool, stacks: bool, naming: Symbolizer | None = None):
        self.s, self.source, self.payload, self.want_stacks = scanner, source, payload, stacks
        self.attrs = meta["attrs"]
        self.big_endian = meta["endianness"] == "big"
        self.builder: FrameBuilder | None = None
        self.no_formats = False
        self.comm_names: list[str] = []
        self.comm_series = pl.Series([], dtype=pl.Categorical)
        self.stack_map = np.zeros(0, np.int64)  # scanner stack id -> source.stacks id
        self.naming = naming
        self.dsos: list[tuple[str, bytes | None]] = []  # the scanner's mapped files, as they appear
        self.unknown: Counter = Counter()
        self.throttled = 0
        self.lost_records = self.lost_samples = 0
        self._ioprio: dict[int, dict[int, str]] = {}  # per event id: I/O priority -> perf's spelling
        self.cut_tracepoints = 0  # tracepoint samples of a cut file, whose format files went with the cut
        self.kallsyms_text: bytes | None = None  # --kallsyms, for %pS payload fields (trace-cmd's reading)
        self._kallsyms: Kallsyms | None = None
        self.lane: LaneStrings | None = None  # the block lane is wanted (its strings for the run)
        self.lane_kinds: list[tuple[str, int, int]] = []  # the lane's kinds as set: (name, tracepoint id, fixed end)
        self._lane_set = False

    def chunks(self, chunk_bytes: int) -> Iterator[Chunk]:
        while True:
            if self.lane is not None and not self._lane_set:
                self._set_lane()
            b = self.s.next_batch(_LANE_EVENTS if self.lane_kinds else _MAX_SAMPLES, chunk_bytes)
            cols = _columns(b)
            lost = self._lost(b["lost"])
            self.throttled += b["throttled"]
            lane = b["lane"]
            if lane is not None and not self.lane_kinds:  # pragma: no cover - prefetch.py and _set_lane disagree
                raise TraceParseError(f"{self.source.path}: internal: block lane batches without the lane's kinds")
            if not len(cols["ts"]) and not lost and lane is None:
                if b["paused"]:
                    continue  # the batch ended where the tracing data was met: the lane is set next
                break
            by_cpu = {cpu: n for cpu, n in lost.items() if cpu >= 0}
            chunk = Chunk(frames=self._frames(cols, b["raw"]), lost_events=sum(lost.values()), lost_by_cpu=by_cpu)
            if lane is not None:
                self.lane.learn(*lane["new_strings"], lane["strings_before"])
                chunk.block_lane = BlockLane(lane["cols"], self.lane)
                order = {name: tp for name, tp, _ in self.lane_kinds}
                chunk.kind_stats = sorted((KindStats(*s) for s in lane["stats"]), key=lambda k: order[k.name])
            yield chunk
        if self._more_lost():  # LOST_SAMPLES beyond the LOST records: their CPU is not known
            yield Chunk(frames={}, lost_events=self._more_lost())
        self._finish()

    def _lost(self, records) -> Counter:
        """This batch's LOST records per CPU. LOST_SAMPLES are only summed: perf record ends with them,
        read from the counters, counting the same samples again (`perf report --stats` shows each sum,
        not their total); what they hold beyond the LOST records is told at the end (``_more_lost``)."""
        out = Counter()
        for cpu, n, samples in records:
            if samples:
                self.lost_samples += n
            else:
                out[cpu if cpu != 0xFFFFFFFF else -1] += n
                self.lost_records += n
        return out

    def _more_lost(self) -> int:
        return max(0, self.lost_samples - self.lost_records)

    def _finish(self) -> None:
        src = self.source
        cut = self.s.cut()
        if cut is not None:
            at, end, claimed = cut
            src.note(f"perf.data is cut at byte {at:,}, inside its data section (which the header says ends at byte "
                     f"{claimed:,}): the records up to byte {end:,} were read; the sections after the data are lost")
            src.cut = f"the perf.data is cut at byte {at:,}, inside its data section (which the header says ends at byte {claimed:,})"
        if self.cut_tracepoints:
            src.unnamed = True
            src.note(f"the cut took the event names and format files with it: {self.cut_tracepoints:,} tracepoint samples "
                     "are named by their tracepoint id (tracepoint:ID, the id in /sys/kernel/tracing/events/*/*/id "
                     "on the recording kernel), with times, CPUs, threads and comms but no payload fields")
        stretches, nbytes, first, why, bad = self.s.skipped()
        if stretches:  # broken record headers: read on from the next plausible record
            what = "a damaged stretch of records" if stretches == 1 else f"{stretches:,} damaged stretches of records"
            src.skip(stretches, None, f"perf.data: {what} skipped ({nbytes:,} bytes; the first at byte {first:,}: {why}); "
                                      "the records after it were read")
        if bad:
            src.skip(bad, None, f"perf.data: {bad:,} record{'s' if bad > 1 else ''} of a sane size whose contents do not parse skipped")
        damage = self.s.damage()
        if damage is not None:
            at, why = damage
            if why.endswith(": cut"):
                src.note(f"perf.data ends inside a record at byte {at:,} (the stream was cut); the records before it were read")
                src.cut = f"the perf.data stream is cut inside a record at byte {at:,}"
            else:
                src.note(f"perf.data is damaged or cut near byte {at:,} ({why}); the records before it were read")
        if self.unknown:
            ids = ", ".join(str(i) for i in sorted(self.unknown)[:5])
            src.skip(sum(self.unknown.values()), None, f"perf.data samples of event ids without a format file: {ids}")
        if self.no_formats and not self.cut_tracepoints:
            src.skip(1, None, "perf.data: tracepoint samples but no tracing data (format files); their payloads are not decoded")
        for (name, _, end), n in zip(self.lane_kinds, self.s.lane_short()):
            if n:
                self.builder.damaged[(name, f"shorter than the {end} bytes of its fields")] += n
        if self.builder is not None:
            for (kind, why), n in sorted(self.builder.damaged.items()):
                src.skip(n, None, f"perf.data: {n:,} samples of {kind} left out, {why}")
        if self.throttled:
            src.meta["throttled"] = self.throttled  # the kernel slowed sampling down: rates are biased

    def _set_lane(self) -> None:
        """The scanner gathers the block requests into the lane from here on, once the format files
        are known: per block kind whose format places dev and sector, where its fields are."""
        if self.s.cut() is not None or self.s.tracing_data() is None:
            return  # (a cut file's format files went with the cut: its tracepoints are named by id)
        self._lane_set = True
        try:
            b = self._builder()
        except TraceParseError:
            return  # said where the samples need the format files, as without the lane
        if b is None:
            return
        setup = lane_setup(b.formats, self.attrs)
        if setup is None:
            return
        self.lane_kinds = setup.names
        if not self.s.decoding():  # (else prefetch.py set it, the same way from the same format files)
            setup.apply(self.s)

    def _builder(self) -> FrameBuilder | None:
        if self.builder is None:
            data = self.s.tracing_data()
            if data is None:
                return None
            head = read_tracing_data(data, self.source.path)
            self.source.meta["tracing_data_version"] = head.meta["tracing_data_version"]
            self.builder = FrameBuilder(head.formats, {}, head.endian, 0, None, head.kallsyms, self.payload)
        return self.builder

    def _comms(self) -> pl.Series:
        new = self.s.comms(len(self.comm_names))
        if new:
            self.comm_names += new
            self.comm_series = pl.Series(self.comm_names, dtype=pl.Categorical)
        return self.comm_series

    def _stack_ids(self, stack: np.ndarray) -> pl.Series:
        """Scanner stack ids -> ``source.stacks`` ids; each new chain is interned once, as its frames' names."""
        if not self.want_stacks or not (stack >= 0).any():
            return pl.Series("stack_id", [None] * len(stack), dtype=pl.Int32)
        n, dso, off, addr, offsets = self.s.stacks(len(self.stack_map))
        if n > len(self.stack_map):
            self.dsos += self.s.dsos(len(self.dsos))
            names = self._frame_names(np.frombuffer(dso, np.uint32), np.frombuffer(off, np.uint64), np.frombuffer(addr, np.uint64))
            offs = np.frombuffer(offsets, np.uint64).astype(np.int64).tolist()
            # a chain the scanner dropped as corrupt (perf drops it too) is no call chain: a null id
            texts = ["\n".join(names[lo:hi]) if hi > lo else None for lo, hi in zip(offs, offs[1:])]
            ids = self.source.stacks.intern(pl.Series(texts, dtype=pl.String)).fill_null(-1).to_numpy()
            self.stack_map = np.concatenate([self.stack_map, ids.astype(np.int64)])
        ids = np.where(stack >= 0, self.stack_map[stack.clip(0)], -1)
        return pl.Series("stack_id", ids, dtype=pl.Int32).replace(-1, None)

    def _frame_names(self, dso: np.ndarray, off: np.ndarray, addr: np.ndarray) -> list[str]:
        """Frames as perf script's lines read without their address (symbols.py names them); with
        nothing to name them from, their addresses in hex, as perf script prints them first."""
        if self.naming is None:
            return [f"{a:x}" for a in addr.tolist()]
        return self.naming.names(dso, off, addr, self.dsos)

    def _frames(self, c: dict, raw: bytes) -> dict[str, pl.DataFrame]:
        n = len(c["ts"])
        if not n:
            return {}
        comms = self._comms().gather(c["comm"].astype(np.int64))
        common = pl.DataFrame(
            {
                "ts_ns": pl.Series(c["ts"].view(np.int64), dtype=pl.Int64),
                "cpu": pl.Series(c["cpu"].astype(np.int16), dtype=pl.Int16),
                "pid": pl.Series(c["tid"], dtype=pl.Int32),
                "tgid": pl.Series(c["pid"], dtype=pl.Int32),
                "comm": comms,
                "stack_id": self._stack_ids(c["stack"]),
            }
        )
        out: dict[str, list[pl.DataFrame]] = {}
        # a RAW payload is a tracepoint record only for a tracepoint attr (simpleperf adds RAW to every attr)
        tracepoint = np.array([tp is not None for _, tp, _ in self.attrs] + [False], dtype=bool)
        has_raw = (c["raw_len"] > 0) & tracepoint[np.minimum(c["attr"], len(self.attrs))]
        done = np.zeros(n, bool)  # tracepoint samples taken elsewhere than frames: not plain samples either
        if has_raw.any() and self.s.cut() is not None and self._builder() is None:
            self._cut_tracepoints(np.flatnonzero(has_raw), c, raw, common, out)
            done, has_raw = has_raw, np.zeros(n, bool)
        if has_raw.any():
            self._tracepoints(np.flatnonzero(has_raw), c, raw, common, out)
        plain = np.flatnonzero(~has_raw & ~done)
        if len(plain):
            self._plain(plain, c, common, out)
        return {k: v[0] if len(v) == 1 else pl.concat(v).sort("ts_ns", maintain_order=True) for k, v in out.items()}

    def _tracepoints(self, rows: np.ndarray, c: dict, raw: bytes, common: pl.DataFrame, out: dict) -> None:
        builder = self._builder()
        if builder is None:
            self.no_formats = True
            return
        buf = raw  # bytes: what the native gathers read, with no copy
        rec = _Records(c["raw_off"][rows].astype(np.int64), c["raw_len"][rows].astype(np.int64), c["ts"][rows])
        frames = builder.frames(buf, rec, 0, self.unknown)
        if not frames:
            return
        ids = int_column(buf, rec.start, builder.type_field, builder.e).astype(np.int64)
        for kind_id in np.unique(ids).tolist():
            fmt = builder.formats.get(kind_id)
            if fmt is None or fmt.key not in frames:
                continue
            sel = rows[(ids == kind_id) & (rec.length >= fmt.fixed_end)]
            frame = frames[fmt.key]
            if frame.height != len(sel):  # pragma: no cover - FrameBuilder dropped rows we cannot name
                raise TraceParseError(f"{self.source.path}: internal: {fmt.key} frame of {frame.height} rows for {len(sel)} samples")
            # the sample's own tid/pid/cpu/comm, as perf script prints them (the payload's common_pid is the same tid)
            mine = common[sel]
            frame = frame.with_columns(mine.select("cpu", "pid", "tgid", "comm", "stack_id"))
            if "payload" in frame.columns:
                frame = self._as_perf_prints(frame, fmt, buf, c["raw_off"][sel].astype(np.int64), c["raw_len"][sel].astype(np.int64))
            out.setdefault(fmt.key, []).append(conform(frame, fmt.key))

    def _as_perf_prints(self, frame: pl.DataFrame, fmt, buf: bytes, starts: np.ndarray, lens: np.ndarray) -> pl.DataFrame:
        """The payload as perf script prints it (its print fmt, libtraceevent's way: perf_print.py), so a
        perf.data and its perf script text make the same frames: prev_state=S, not 1; ioprio 0x2,0,4,
        not be,0,4 (libtraceevent cannot read the IOPRIO_CLASS_* names of the table); an event's
        ``fields`` are the pairs of that text, as the text parser takes them."""
        b = self.builder
        if "fields" not in frame.columns and "ioprio" in frame.columns:
            return self._ioprio_only(frame, fmt, buf, starts, lens)  # block: FrameBuilder's text, perf's ioprio
        kallsyms = None
        if "%p" in fmt.print_fmt:  # %pS names: the tracing data's kallsyms (perf's has none), else --kallsyms
            kallsyms = b._kallsyms_for(Render("function"))
            kallsyms = kallsyms if kallsyms is not None and len(kallsyms) else self._given_kallsyms()
        from .perf_print import render_args  # (here: a block run renders no payload but the I/O priority's few)

        got = render_args(fmt, buf, starts, lens, b.e, kallsyms)
        if got is None:
            return frame  # beyond perf_print: FrameBuilder's name=value text stays
        pieces, cols, used = got
        parts = [pl.lit(pieces[0])]
        for piece, col in zip(pieces[1:], cols):
            parts += [pl.lit(col), pl.lit(piece)]
        payload = pl.select(pl.concat_str(parts)).to_series() if cols else pl.repeat(pieces[0], frame.height, eager=True)
        out = frame.with_columns(payload=payload)
        if "fields" in frame.columns:
            out = out.with_columns(fields=payload_fields(pl.col("payload")))
        if "ioprio" in frame.columns:
            mine = [col for col, arg in zip(cols, used) if "REC -> ioprio" in arg]
            if mine:
                out = out.with_columns(ioprio=pl.concat_str([pl.lit(c) for c in mine], separator=","))
        return out

    def _ioprio_only(self, frame: pl.DataFrame, fmt, buf: bytes, starts: np.ndarray, lens: np.ndarray) -> pl.DataFrame:
        """The I/O priority as perf prints it, rendered once per distinct value (from one record holding it)."""
        field = fmt.get("ioprio")
        if "ioprio" not in frame.columns or field is None or not len(starts):
            return frame
        vals = int_column(buf, starts, field, self.builder.e)
        uniq, first, inv = np.unique(vals, return_index=True, return_inverse=True)
        known = self._ioprio.setdefault(fmt.id, {})
        new = [i for i, v in enumerate(uniq.tolist()) if v not in known]  # a few distinct values, once each
        if new:
            from .perf_print import render_args

            got = render_args(fmt, buf, starts[first[new]], lens[first[new]], self.builder.e)
            mine = [col for col, arg in zip(got[1], got[2]) if "REC -> ioprio" in arg] if got else []
            if not mine:
                return frame
            spelled = pl.select(pl.concat_str([pl.lit(c) for c in mine], separator=",")).to_series().to_list()
            known.update(zip(uniq[new].tolist(), spelled))
        names = pl.Series([known[v] for v in uniq.tolist()], dtype=pl.String)
        out = frame.with_columns(ioprio=names.gather(inv.reshape(-1)))
        if "payload" not in frame.columns or frame["payload"].is_null().all():
            return out
        # the block payload is the kernel's print fmt, which FrameBuilder spells as the kernel does
        # except the priority ("... + 8 be,0,4 [dd]"): swap that, once per distinct spelling
        text = pl.col("payload")
        pairs = frame.select(pl.col("ioprio"), new=out["ioprio"]).unique()
        for old, new in zip(pairs["ioprio"].to_list(), pairs["new"].to_list()):
            if old is None or old == new:
                continue
            # (before the priority only the parenthesised cmd is free text: a SCSI command in hex, or empty)
            swapped = text.str.replace(f" {old} [", f" {new} [", literal=True)
            text = pl.when(pl.col("ioprio") == old).then(swapped).otherwise(text)
        return out.with_columns(payload=frame.select(text).to_series())

    def _cut_tracepoints(self, rows: np.ndarray, c: dict, raw: bytes, common: pl.DataFrame, out: dict) -> None:
        """A cut file's tracepoint samples, their format files and names lost with the cut: the nearest
        useful thing is the samples themselves, named by the tracepoint id their payload starts with
        (its common_type; the attrs cannot say: without EVENT_DESC the crate maps every sample to the
        first attr)."""
        self.cut_tracepoints += len(rows)
        b = np.frombuffer(raw, np.uint8)
        at = c["raw_off"][rows].astype(np.int64)
        lo, hi = b[at].astype(np.int64), b[np.minimum(at + 1, len(b) - 1)].astype(np.int64)
        ids = (lo << 8 | hi) if self.big_endian else (hi << 8 | lo)
        for tp in np.unique(ids).tolist():
            name = f"tracepoint:{tp}"
            frame = common[rows[ids == tp]].with_columns(event=pl.lit(name, dtype=pl.Categorical), payload=pl.lit(""))
            out.setdefault(name, []).append(conform(frame, name))

    def _given_kallsyms(self) -> Kallsyms | None:
        if self._kallsyms is None and self.kallsyms_text:
            self._kallsyms = Kallsyms.parse(self.kallsyms_text)
        return self._kallsyms

    def _plain(self, rows: np.ndarray, c: dict, common: pl.DataFrame, out: dict) -> None:
        """Samples without a RAW payload (cycles, cpu-clock, ...): common columns, named as perf names them."""
        attr = c["attr"][rows]
        for a in np.unique(attr).tolist():
            sel = rows[attr == a]
            name = self.attrs[a][0] if a < len(self.attrs) else ""
            if not name and a < len(self.attrs) and self.attrs[a][1] is not None:
                name = f"tracepoint:{self.attrs[a][1]}"  # a cut file: EVENT_DESC (the names) was after the data
            name = name or f"attr{a}"
            frame = common[sel].with_columns(
                event=pl.lit(name, dtype=pl.Categorical), payload=pl.lit("")
            )
            out.setdefault(name, []).append(conform(frame, name))


def _columns(b: dict) -> dict[str, np.ndarray]:
    return {
        "ts": np.frombuffer(b["ts"], np.uint64),
        "cpu": np.frombuffer(b["cpu"], np.uint32),
        "pid": np.frombuffer(b["pid"], np.int32),
        "tid": np.frombuffer(b["tid"], np.int32),
        "period": np.frombuffer(b["period"], np.uint64),
        "attr": np.frombuffer(b["attr"], np.uint32),
        "comm": np.frombuffer(b["comm"], np.uint32),
        "stack": np.frombuffer(b["stack"], np.int32),
        "raw_off": np.frombuffer(b["raw_off"], np.uint64),
        "raw_len": np.frombuffer(b["raw_len"], np.uint32),
    }
