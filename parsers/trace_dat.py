"""trace-cmd's binary trace.dat, versions 6 and 7 (uncompressed, zlib, zstd), read without trace-cmd.

The file made by ``trace-cmd extract -o blk.dat`` (or ``record``) starts like this (v7, zstd):

    00000000: 1708 4474 7261 6369 6e67 3700 0008 0010  ..Dtracing7.....
    00000010: 0000 7a73 7464 0031 2e35 2e34 0048 ed01  ..zstd.1.5.4.H..

magic ``17 08 44 "tracing"``, version ``"7\\0"``, endianness (0 little, 1 big), user-space long size,
page size, then (v7) the compression ``"zstd\\0" "1.5.4\\0"`` and the offset of the first options
section. Layout per trace-cmd.dat.v6(5) / trace-cmd.dat.v7(5), with trace-cmd 3.1's behaviour where
they differ (a v7 section header is id:2 flags:2 string:4 size:8). The same events as text:

    $ trace-cmd report -t blk.dat
              dd-4116  [001]  2406.385071000: block_rq_issue:  254,0 WS 4096 () 2048 + 8 be,0,4 [dd]

What is read: header_page (page layout; ``commit``'s size is the kernel's long size, which may
differ from the header byte on 32-bit kernels), the event format files (field layouts, print fmts),
kallsyms (symbols for ``%pS`` fields), saved cmdlines (comm of each pid), options (clock, uname,
trace-cmd version, CPUSTAT, OFFSET, TSC2NSEC, BUFFER instances) and every CPU's ring-buffer pages
of every buffer. Pages are decoded in batches natively (``ring_buffer.py``), fields a column at a
time (``event_format.py``).

Random access is needed (v7 keeps its buffer table at the end): a real file is mmapped, anything
else (a decompressed ``.xz``/``.zst`` stream, stdin) is first spooled to a temporary file.
"""
from __future__ import annotations

import io
import mmap
import os
import re
import shutil
import stat
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .errors import TraceParseError, UnknownFormatError
from .event_format import FrameBuilder
from .ring_buffer import PageLayout, Records, decode_pages
# (the sections a perf.data shares are read polars-free there; this module's callers import them from here too)
from .tracing_sections import (  # noqa: F401
    TRACING_MAGIC as MAGIC, Buffer, CpuData, Header, _Bytes, _Cut, _parse_cmdlines, _read_event_formats, _read_ftrace_formats,
    _read_headers_section, read_tracing_sections,
)
from .schema import Chunk
from .source import Source

CHUNK_BYTES = 4 << 20  # ring-buffer bytes decoded ahead, all CPUs together (bench/README.md: peak RSS)
_SPOOL_BLOCK = 1 << 20
SPOOL_RESERVE = 1 << 30  # free space a spooled (compressed or piped) trace.dat leaves in the temporary folder

# option ids (trace-cmd.dat.v7(5)); v6 uses the same numbers for the ones it has
OPT_DONE, OPT_DATE, OPT_CPUSTAT, OPT_BUFFER, OPT_TRACECLOCK, OPT_UNAME = 0, 1, 2, 3, 4, 5
OPT_OFFSET, OPT_CPUCOUNT, OPT_VERSION, OPT_TRACEID, OPT_TSC2NSEC = 7, 8, 9, 11, 14
OPT_HEADER_INFO, OPT_FTRACE_EVENTS, OPT_EVENT_FORMATS, OPT_KALLSYMS, OPT_PRINTK, OPT_CMDLINES = 16, 17, 18, 19, 20, 21
OPT_BUFFER_TEXT = 22
SEC_FL_COMPRESS = 1


def parse_trace_dat(stream: BinaryIO, source: Source, chunk_bytes: int = CHUNK_BYTES, payload: bool = True,
                    block_lane: bool = False) -> Iterator[Chunk]:
    """Stream the events of a trace.dat as Chunks; metadata goes to ``source.meta``.

    Args:
        stream: the (decompressed) file, positioned at byte 0.
        source: where facts about the capture and unreadable parts are recorded.
        chunk_bytes: ring-buffer bytes decoded per chunk (bounds memory, not a file offset).
        payload: False leaves block events' payload text null (see ``read_capture``).
        block_lane: block_rq_insert/issue/complete as ``Chunk.block_lane``, not frames (``dat_lane.py``).
    """
    mem, closer = _random_access(stream, source)
    try:
        data = _Bytes(mem)
        head = _read_header(data, source)
        source.meta.update(head.meta)
        for note in head.damage:
            source.skip(1, None, note)
        _check_concatenated(data, mem, head, source)
        if head.meta.get("cut"):
            _report_v7_cut(source, head.meta["cut"])
        if head.meta.get("latency_text") and not any(b.cpus for b in head.buffers):
            raise TraceParseError(
                f"{source.path}: a latency-tracer trace.dat holds text, not events; read it with `trace-cmd report`"
            )
        yield from _chunks(data, mem, head, source, max(chunk_bytes, 1), payload, block_lane)
    except TraceParseError as exc:
        if str(exc).startswith(f"{source.path}: "):
            raise
        raise type(exc)(f"{source.path}: {exc}") from None  # helpers that do not know the file's name
    finally:
        closer()


def _check_concatenated(d: _Bytes, mem, head: Header, source: Source) -> None:
    """``cat a.dat b.dat > both.dat`` leaves b's header after a's last byte: say so (trace-cmd
    reads the first one only, and so do we; merging two captures' clocks is not ours to guess)."""
    end = max([head.end, *(c.offset + c.size for b in head.buffers for c in b.cpus)])
    at = mem.find(MAGIC, min(end, d.size)) if end < d.size else -1
    if at >= 0:
        source.note(
            f"a second trace.dat starts at byte {at:,}: concatenated captures are not merged, only the first "
            f"was read; split the file (head -c {at} FILE > first.dat; tail -c +{at + 1} FILE > second.dat)"
        )


# --- random access -----------------------------------------------------------------------------


def _random_access(stream: BinaryIO, source: Source):
    """(bytes-like view of the whole file, close function): mmap a real file, spool anything else."""
    try:
        fd = stream.fileno()
        st = os.fstat(fd)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        fd, st = None, None
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size:
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        return mm, lambda: _close(mm)
    spool = tempfile.TemporaryFile(prefix="traceparse-", suffix=".dat")
    try:
        _spool(stream, spool, source)
    except BaseException:
        spool.close()
        raise
    if not spool.tell():
        spool.close()
        raise UnknownFormatError(f"{source.path}: file is empty; expected a trace.dat")
    mm = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)

    def close():
        _close(mm)
        spool.close()

    return mm, close


def _spool(stream: BinaryIO, spool, source: Source) -> None:
    """Copy a stream to the spool file, stopping while the disk still has room for others: a
    decompression bomb (a small .zst that unpacks to terabytes) must not fill the temporary folder."""
    folder = tempfile.gettempdir()
    copied = check_at = 0
    while block := stream.read(_SPOOL_BLOCK):
        spool.write(block)
        copied += len(block)
        if copied < check_at:
            continue
        check_at = copied + 64 * _SPOOL_BLOCK
        if shutil.disk_usage(folder).free < SPOOL_RESERVE:
            raise TraceParseError(
                f"{source.path}: unpacking this trace.dat to {folder} stopped after {copied:,} bytes, with less than "
                f"{SPOOL_RESERVE >> 30} GB left there; decompress it yourself onto a larger disk, or set TMPDIR"
            )
    spool.flush()


def _close(mm: mmap.mmap) -> None:
    try:
        mm.close()
    except BufferError:  # a numpy view still points into it; the GC will unmap it
        pass


# --- header and metadata -----------------------------------------------------------------------


def _read_header(d: _Bytes, source: Source) -> Header:
    path = source.path
    if d.size < len(MAGIC) or bytes(d.data[: len(MAGIC)]) != MAGIC:
        raise UnknownFormatError(f"{path}: not a trace.dat (no 0x17 0x08 0x44 'tracing' magic)")
    try:
        ver_text, at = d.cstr(len(MAGIC), "version")
        if not ver_text.isdigit() or int(ver_text) not in (6, 7):
            raise UnknownFormatError(
                f"{path}: trace.dat version {ver_text[:10]!r} is not supported (versions 6 and 7 are); "
                "convert it with `trace-cmd convert --file-version 6`"
            )
        endian_byte, user_long = d.take(at, 2, "header")
        if endian_byte not in (0, 1) or user_long not in (4, 8):
            raise UnknownFormatError(f"{path}: corrupt trace.dat header (endianness {endian_byte}, long size {user_long})")
        d.e = "<" if endian_byte == 0 else ">"
        head = Header(int(ver_text), d.e, user_long, d.int(at + 2, 4, "page size"))
        at += 6
        if head.version == 6:
            _read_v6(d, at, head)
        else:
            _read_v7(d, at, head)
    except _Cut as cut:
        raise TraceParseError(
            f"{path}: trace.dat truncated: the {cut.what} at byte {cut.at:,} lies past the end of the "
            f"file ({d.size:,} bytes); no event data can be located"
        ) from None
    if head.layout is None:
        raise TraceParseError(f"{path}: trace.dat has no header_page; cannot decode its ring-buffer pages")
    _check_layout(head, path)
    head.meta.update(
        version=head.version,
        compression=head.compression,
        endianness="little" if head.endian == "<" else "big",
        long_size=head.layout.commit_size,
        user_long_size=head.user_long,
        page_size=head.page_size,
        cpus=head.cpus,
        buffers=[
            {"name": b.name, "clock": b.clock, "page_size": b.page_size, "cpus": [c.cpu for c in b.cpus]}
            for b in head.buffers
        ],
        event_formats=len(head.formats),
    )
    if "clock" not in head.meta:
        head.meta["clock"] = next((b.clock for b in head.buffers if b.clock), None)
    return head


# Sub-buffer sizes are powers of two: a 4 KiB page up to the kernel's largest order (buffer_subbuf_size_kb).
_PAGE_MIN, _PAGE_MAX = 64, 1 << 24
MAX_CPUS = 1 << 15  # the cpu column is Int16; Linux's NR_CPUS tops out at 8192


def _check_page_size(ps: int, where: str, path: str) -> None:
    if not _PAGE_MIN <= ps <= _PAGE_MAX or ps & (ps - 1):
        raise TraceParseError(
            f"{path}: corrupt trace.dat: {where} says page size {ps:,} (a ring-buffer page is a power of two "
            f"from {_PAGE_MIN} to {_PAGE_MAX:,} bytes)"
        )


def _check_layout(head: Header, path: str) -> None:
    """Refuse page sizes and header_page layouts no kernel writes: the numpy page walk relies on them."""
    _check_page_size(head.page_size, "the file header (byte 14)", path)
    for buf in head.buffers:
        _check_page_size(buf.page_size, f"the BUFFER option of instance {buf.name!r}", path)
    lay = head.layout
    smallest = min([head.page_size, *(b.page_size for b in head.buffers)])
    if (
        lay.commit_size not in (4, 8)
        or lay.ts_offset + 8 > lay.data_offset
        or lay.commit_offset + lay.commit_size > lay.data_offset
        or lay.data_offset % 4
        or lay.data_offset >= smallest
    ):
        raise TraceParseError(
            f"{path}: corrupt trace.dat: header_page describes an impossible page (timestamp at {lay.ts_offset}, "
            f"commit at {lay.commit_offset} of {lay.commit_size} bytes, data at {lay.data_offset}, "
            f"page size {smallest:,})"
        )


def _read_v6(d: _Bytes, at: int, head: Header) -> None:
    at = read_tracing_sections(d, at, head)
    n = d.int(at, 8, "saved cmdlines")
    _parse_cmdlines(d.take(at + 8, n, "saved cmdlines").decode("utf-8", "replace"), head)
    at += 8 + n
    head.cpus = d.int(at, 4, "cpu count")
    if head.cpus > MAX_CPUS:
        raise TraceParseError(f"corrupt trace.dat: the header at byte {at:,} claims {head.cpus:,} CPUs")
    at += 4
    v6_buffers: list[tuple[str, int]] = []
    while True:
        tag = d.take(at, 10, "data section tag")
        at += 10
        if tag == b"options  \0":
            while True:
                opt = d.int(at, 2, "option id")
                at += 2
                if opt == OPT_DONE:
                    break
                size = d.int(at, 4, "option size")
                body = d.take(at + 4, size, "option")
                at += 4 + size
                if opt == OPT_BUFFER:  # v6: offset, name; the data table sits at the offset
                    name_end = body.find(b"\0", 8)
                    v6_buffers.append((body[8:name_end].decode("utf-8", "replace"), _int(body[:8], head.endian)))
                else:
                    _option(opt, body, head)
            continue
        if tag == b"latency  \0":
            head.meta["latency_text"] = True  # a latency-tracer text dump, no ring-buffer pages
            return
        if tag == b"flyrecord\0":
            break
        raise UnknownFormatError(f"corrupt trace.dat: unexpected section tag {tag!r} at byte {at - 10:,}")
    clock = head.meta.get("clock")
    top = Buffer("", clock, head.page_size, _v6_cpu_table(d, at, head.cpus))
    head.buffers.append(top)
    head.end = at + 16 * head.cpus
    for name, off in v6_buffers:
        if d.take(off, 10, f"buffer {name!r} table") != b"flyrecord\0":
            raise UnknownFormatError(f"corrupt trace.dat: buffer {name!r} has no flyrecord table")
        head.buffers.append(Buffer(name, clock, head.page_size, _v6_cpu_table(d, off + 10, head.cpus)))


def _v6_cpu_table(d: _Bytes, at: int, cpus: int) -> list[CpuData]:
    out = []
    for cpu in range(cpus):
        off, size = d.int(at + 16 * cpu, 8, "cpu data table"), d.int(at + 16 * cpu + 8, 8, "cpu data table")
        if size:
            out.append(CpuData(cpu, off, size))
    return out


def _int(b: bytes, endian: str) -> int:
    return int.from_bytes(b, "little" if endian == "<" else "big")


def _option(opt: int, body: bytes, head: Header) -> None:
    """Options that carry facts (not section pointers or buffers)."""
    text = body.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    m = head.meta
    if opt == OPT_TRACECLOCK:
        sel = text[text.find("[") + 1 : text.find("]")] if "[" in text else text
        m["clock"] = sel or None
    elif opt == OPT_UNAME:
        m["uname"] = text
    elif opt == OPT_VERSION:
        m["tracecmd_version"] = text
    elif opt == OPT_DATE:
        m["date_offset"] = text  # trace-cmd report ignores it unless --date: so do we
    elif opt == OPT_OFFSET:
        try:
            head.ts_offset += int(text, 0)
        except ValueError:
            pass
        m["ts_offset"] = head.ts_offset
    elif opt == OPT_CPUCOUNT and len(body) >= 4:
        m["cpu_count"] = _int(body[:4], head.endian)
    elif opt == OPT_CPUSTAT:
        m.setdefault("cpustat", []).append(text)
    elif opt == OPT_TSC2NSEC and len(body) >= 16:
        mult, shift = _int(body[:4], head.endian), _int(body[4:8], head.endian)
        head.tsc2nsec = (mult, shift, _int(body[8:16], head.endian))
        m["tsc2nsec"] = {"mult": mult, "shift": shift, "offset": head.tsc2nsec[2]}
    elif opt == OPT_TRACEID and len(body) >= 8:
        m["trace_id"] = f"{_int(body[:8], head.endian):#x}"


def _read_v7(d: _Bytes, at: int, head: Header) -> None:
    head.compression, at = d.cstr(at, "compression name")
    comp_version, at = d.cstr(at, "compression version")
    if head.compression not in ("none", "zstd", "zlib"):
        raise UnknownFormatError(f"trace.dat compressed with {head.compression!r}, which traceparse cannot read (zstd, zlib or none)")
    head.meta["compression_version"] = comp_version
    sections, read, cut_at = _v7_options(d, d.int(at, 8, "options offset"), head)
    _v7_metadata(d, sections, head)
    head.end = max(_section_end(d, off) for off in [*read, *sections.values()]) if cut_at is None else d.size
    head.cpus = head.meta.get("cpu_count") or max((len(b.cpus) for b in head.buffers), default=0)
    if cut_at is not None:
        # every buffer's data is followed by the options naming it: the cut buffer is the one after the last
        # options that made it, and its data section starts where the last section read ends
        ends = [_section_end(d, off) for off in [*read, *sections.values()]]
        head.buffers += _recover_v7_buffers(d, max(ends), head, "" if not head.buffers else "(name lost in the cut)")
        head.meta["cut"] = {
            "file_bytes": d.size,
            "expected_options_at": cut_at,
            "cpus_found": [c.cpu for b in head.buffers if b.recovered for c in b.cpus],
            "compressed": all(b.compressed for b in head.buffers if b.recovered),
        }


def _v7_options(d: _Bytes, at: int, head: Header) -> tuple[dict[int, int], list[int], int | None]:
    """Follow the chain of options sections from ``at``: (metadata section offsets by option, the
    options sections read, where the chain ran past the end of a cut file or None)."""
    sections: dict[int, int] = {}
    read: list[int] = []
    while at and at not in read:
        try:
            body = _section(d, at, head, "options section")
        except _Cut:
            if not read:
                raise
            return sections, read, at  # the options written after a buffer's data: the file ends inside it
        read.append(at)
        at, pos = 0, 0
        while pos + 6 <= len(body):
            opt, size = _int(body[pos : pos + 2], head.endian), _int(body[pos + 2 : pos + 6], head.endian)
            val = body[pos + 6 : pos + 6 + size]
            pos += 6 + size
            if opt == OPT_DONE:
                at = _int(val[:8], head.endian) if len(val) >= 8 else 0
                break
            if opt in (OPT_HEADER_INFO, OPT_FTRACE_EVENTS, OPT_EVENT_FORMATS, OPT_KALLSYMS, OPT_PRINTK, OPT_CMDLINES):
                sections[opt] = _int(val[:8], head.endian)
            elif opt == OPT_BUFFER:
                head.buffers.append(_v7_buffer(d, val, head))
            elif opt == OPT_BUFFER_TEXT:
                head.meta["latency_text"] = True
            else:
                _option(opt, val, head)
    return sections, read, None


def _v7_metadata(d: _Bytes, sections: dict[int, int], head: Header) -> None:
    """The header_page/event, format, kallsyms and cmdlines sections the options point at."""
    def body(opt: int, what: str) -> _Bytes:
        return _Bytes(_section(d, sections[opt], head, what), head.endian)

    if OPT_HEADER_INFO in sections:
        _read_headers_section(body(OPT_HEADER_INFO, "header section"), 0, head)
    if OPT_FTRACE_EVENTS in sections:
        _read_ftrace_formats(body(OPT_FTRACE_EVENTS, "ftrace formats section"), 0, head)
    if OPT_EVENT_FORMATS in sections:
        _read_event_formats(body(OPT_EVENT_FORMATS, "event formats section"), 0, head)
    if OPT_KALLSYMS in sections:  # same body as v6: u32 size, then the text
        k = body(OPT_KALLSYMS, "kallsyms section")
        head.kallsyms = k.take(4, k.int(0, 4, "kallsyms"), "kallsyms")
    if OPT_CMDLINES in sections:
        c = body(OPT_CMDLINES, "cmdlines section")
        _parse_cmdlines(c.take(8, c.int(0, 8, "saved cmdlines"), "saved cmdlines").decode("utf-8", "replace"), head)


def _section(d: _Bytes, at: int, head: Header, what: str) -> bytes:
    """The (decompressed) body of the v7 section whose header is at ``at``."""
    flags = d.int(at + 2, 2, what)
    size = d.int(at + 8, 8, what)
    if flags & SEC_FL_COMPRESS:
        csize, usize = d.int(at + 16, 4, what), d.int(at + 20, 4, what)
        return _decompress(head.compression, d.take(at + 24, csize, what), usize)
    return d.take(at + 16, size, what)


def _section_end(d: _Bytes, at: int) -> int:
    return at + 16 + d.int(at + 8, 8, "section header")


def _recover_v7_buffers(d: _Bytes, at: int, head: Header, name: str) -> list[Buffer]:
    """Find the CPU data of a v7 file cut inside its data, whose table of CPU offsets (the BUFFER
    option, written after the data) is lost.

    The data section follows the last metadata section; each CPU's data starts on a page boundary,
    in CPU order, CPUs without data left out. Compressed data gives its own length (a count of
    blocks, each with its size), so the walk is exact. Uncompressed pages do not say which CPU
    they are from: a new CPU is taken to start where the pages' timestamps go back in time.
    """
    try:
        sid, flags = d.int(at, 2, "buffer section"), d.int(at + 2, 2, "buffer section")
    except _Cut:
        return []
    if sid != OPT_BUFFER:
        return []
    ps = head.page_size
    start = -(-(at + 16) // ps) * ps
    compressed = bool(flags & SEC_FL_COMPRESS)
    spans = _walk_compressed(d, start, ps) if compressed else _walk_pages(d, start, ps, head)
    cpus = _cpus_with_data(head.meta.get("cpustat") or [], head.meta.get("cpu_count") or len(spans))
    if len(spans) > len(cpus):  # more data than the stats announced: number the rest on
        cpus += list(range(max(cpus, default=-1) + 1, max(cpus, default=-1) + 1 + len(spans) - len(cpus)))
    out = [CpuData(cpu, off, size) for cpu, (off, size) in zip(cpus, spans)]
    return [Buffer(name, None, ps, out, compressed, recovered=True)] if out else []


def _walk_compressed(d: _Bytes, at: int, ps: int) -> list[tuple[int, int]]:
    """(offset, size) of each CPU's compressed data; the last one runs to where the file ends."""
    spans = []
    while at + 4 <= d.size:
        count, pos = d.int(at, 4, "compressed cpu data"), at + 4
        if count == 0 or count > (d.size - at) // 8 + 1:
            break  # zero padding, or not a block count: the data is over
        for _ in range(count):
            if pos + 8 > d.size:
                break
            pos += 8 + d.int(pos, 4, "chunk")
        spans.append((at, pos - at))
        if pos >= d.size:
            break
        at = -(-pos // ps) * ps
    return spans


def _walk_pages(d: _Bytes, at: int, ps: int, head: Header) -> list[tuple[int, int]]:
    """(offset, size) of each CPU's pages, split where the page timestamps go back in time."""
    n = (d.size - at) // ps
    if n <= 0:
        return []
    pages = np.frombuffer(d.data, dtype=np.uint8, count=n * ps, offset=at).reshape(n, ps)
    stamps = np.ascontiguousarray(pages[:, :8]).view(f"{head.endian}u8").ravel()
    starts = [0, *(np.flatnonzero(stamps[1:] < stamps[:-1]) + 1).tolist(), n]
    spans = [(at + a * ps, (b - a) * ps) for a, b in zip(starts, starts[1:])]
    off, _ = spans[-1]
    spans[-1] = (off, d.size - off)  # with the partial page the cut left
    return spans


def _cpus_with_data(cpustat: list[str], cpu_count: int) -> list[int]:
    """The CPUs whose ring buffer had events, from the CPUSTAT options ("read events: N"); all of
    them when the kernel's stats do not say."""
    read = {}
    for text in cpustat:
        cpu = re.search(r"^CPU: (\d+)", text, re.M)
        n = re.search(r"^read events: (\d+)", text, re.M)
        if cpu and n:
            read[int(cpu.group(1))] = int(n.group(1))
    if len(read) == cpu_count and any(read.values()):
        return [c for c in sorted(read) if read[c]]
    return list(range(cpu_count))


_BLOCK_MAX = 1 << 28  # a section or a block of CPU data decompresses to far less (trace-cmd: a few pages)


_LOCAL = threading.local()


def _zstd():
    """This thread's zstd decompressor: making one per block (a capture has thousands) costs more than
    the decompression; one per thread, as a decompressor must not be shared between threads."""
    d = getattr(_LOCAL, "zstd", None)
    if d is None:
        import zstandard

        d = _LOCAL.zstd = zstandard.ZstdDecompressor()
    return d


def _decompress(kind: str, blob: bytes, usize: int) -> bytes:
    """The block's ``usize`` bytes, never more: a damaged size or frame header cannot make it allocate
    more than what the block says it holds, nor more than _BLOCK_MAX."""
    if kind not in ("zstd", "zlib"):
        return blob
    if usize > _BLOCK_MAX:
        raise TraceParseError(f"corrupt {kind} block in trace.dat (it claims {usize:,} bytes)")
    try:
        if kind == "zstd":
            import zstandard

            declared = zstandard.get_frame_parameters(blob).content_size
            if declared > usize and declared != zstandard.CONTENTSIZE_UNKNOWN:
                raise ValueError(f"its frame claims {declared:,} bytes")
            out = _zstd().decompress(blob, max_output_size=usize)
        else:
            d = zlib.decompressobj()
            out = d.decompress(blob, usize + 1)
    except Exception as exc:  # zstandard.ZstdError, zlib.error
        raise TraceParseError(f"corrupt {kind} block in trace.dat ({exc})") from None
    if len(out) != usize:
        raise TraceParseError(f"corrupt {kind} block in trace.dat ({len(out):,} bytes where it says {usize:,})")
    return out


def _v7_buffer(d: _Bytes, val: bytes, head: Header) -> Buffer:
    b = _Bytes(val, head.endian)
    section = b.int(0, 8, "buffer option")
    name, at = b.cstr(8, "buffer name")
    clock, at = b.cstr(at, "buffer clock")
    page_size = b.int(at, 4, "buffer page size")
    count = b.int(at + 4, 4, "buffer cpu count")
    at += 8
    if count > MAX_CPUS or at + 20 * count > b.size:
        raise TraceParseError(f"corrupt trace.dat: the BUFFER option of instance {name!r} claims {count:,} CPUs")
    cpus = []
    for i in range(count):
        cpu, off, size = b.int(at, 4, "cpu"), b.int(at + 4, 8, "cpu offset"), b.int(at + 12, 8, "cpu size")
        at += 20
        if cpu >= MAX_CPUS:
            head.damage.append(f"trace.dat: the BUFFER option of instance {name!r} names CPU {cpu:,}: that data is left out")
        elif size:
            cpus.append(CpuData(cpu, off, size))
    flags = d.int(section + 2, 2, f"buffer {name!r} section") if section + 4 <= d.size else 0
    if flags & SEC_FL_COMPRESS and head.compression == "none":
        raise TraceParseError(
            f"corrupt trace.dat: the data section of instance {name!r} at byte {section:,} is flagged compressed, "
            "but the file names no compression"
        )
    return Buffer(name, clock or None, page_size or head.page_size, cpus, bool(flags & SEC_FL_COMPRESS))


# --- ring-buffer data --------------------------------------------------------------------------


def _page_batches(d: _Bytes, mem, buf: Buffer, cpu: CpuData, head: Header, batch_bytes: int, source: Source):
    """Yield (bytes of whole pages of one CPU, ``batch_bytes`` at most (at least one page), file offset
    read up to)."""
    ps = buf.page_size
    per_batch = max(ps, batch_bytes // ps * ps)
    if not buf.compressed:
        avail = max(0, min(cpu.size, d.size - cpu.offset))
        whole = avail // ps * ps
        for at in range(0, whole, per_batch):
            n = min(per_batch, whole - at)
            batch = mem[cpu.offset + at : cpu.offset + at + n]  # a copy: the mapped pages can go
            _release(mem, cpu.offset + at, n)
            yield batch, cpu.offset + at + n
        if avail < cpu.size and not buf.recovered:
            _report_cut(source, buf, cpu, cpu.offset + whole, cpu.offset + cpu.size, d.size)
        return
    # v7 compressed: u32 chunk count, then per chunk u32 compressed size, u32 size, data
    try:
        count = d.int(cpu.offset, 4, "compressed cpu data")
    except _Cut:
        if not buf.recovered:
            _report_cut(source, buf, cpu, cpu.offset, cpu.offset + cpu.size, d.size)
        return
    at = cpu.offset + 4
    pending: list[bytes] = []
    pending_len = 0
    for _ in range(count):
        try:
            csize, usize = d.int(at, 4, "chunk"), d.int(at + 4, 4, "chunk")
            blob = d.take(at + 8, csize, "chunk")
        except _Cut:
            if pending:
                yield b"".join(pending), at
            if not buf.recovered:
                _report_cut(source, buf, cpu, at, cpu.offset + cpu.size, d.size)
            return
        try:
            raw = _decompress(head.compression, blob, usize)
        except TraceParseError as exc:
            if pending:
                yield b"".join(pending), at
            inst = f" (instance {buf.name})" if buf.name else ""
            source.skip(1, None, f"trace.dat: CPU {cpu.cpu}{inst} data has a {exc} at byte {at:,}; read up to it")
            return
        _release(mem, at, 8 + csize)  # the block was copied out (take) and decompressed
        at += 8 + csize
        pending.append(raw[: len(raw) // ps * ps])
        pending_len += len(pending[-1])
        if pending_len >= per_batch:
            yield b"".join(pending), at
            pending, pending_len = [], 0
    if pending:
        yield b"".join(pending), at


def _release(mem, at: int, n: int) -> None:
    """Let the kernel drop the mapped file pages of ``at .. at + n``, read and copied already.

    A mapped page counts in this process's RSS once touched, until unmapped: without this, reading
    a 327 MB uncompressed trace.dat peaked at 428 MB (its whole file), whatever the chunk size.
    Dropped pages stay in the page cache and read back the same if touched again (a neighbour's
    edge: the range is rounded out to whole pages), so this only ever costs a re-read, never data.
    """
    madvise = getattr(mem, "madvise", None)
    if madvise is None or n <= 0:
        return
    lo = at - at % mmap.PAGESIZE
    hi = min(len(mem), -(-(at + n) // mmap.PAGESIZE) * mmap.PAGESIZE)
    try:
        madvise(mmap.MADV_DONTNEED, lo, hi - lo)
    except (OSError, ValueError):  # a platform or a mapping that does not take the advice: RSS grows, that is all
        pass


def _report_v7_cut(source: Source, cut: dict) -> None:
    found = ", ".join(map(str, cut["cpus_found"]))
    what = f"found the data of CPUs {found} by walking it, and read what is whole" if found else "no event data is left"
    if found and not cut["compressed"]:
        what += " (uncompressed pages do not name their CPU: numbered in time order)"
    source.skip(1, None, (
        f"trace.dat truncated at byte {cut['file_bytes']:,}, inside the event data (v7 writes its table of "
        f"CPU data after the data, at byte {cut['expected_options_at']:,}); {what}"
    ))


def _report_cut(source: Source, buf: Buffer, cpu: CpuData, whole_end: int, want_end: int, size: int) -> None:
    inst = f" (instance {buf.name})" if buf.name else ""
    if cpu.offset >= size:
        source.skip(1, None, f"trace.dat: CPU {cpu.cpu}{inst} data at byte {cpu.offset:,} lies past the end of the file ({size:,} bytes)")
        return
    source.skip(
        1,
        None,
        f"trace.dat truncated: CPU {cpu.cpu}{inst} data ends at byte {size:,} of {want_end:,}; "
        f"read up to byte {whole_end:,}",
    )


@dataclass
class _Run:
    """A CPU's decoded records not handed out yet: those that make events, in the CPU's order."""

    buf: bytes
    rec: Records  # start, length, ts (raw clock units)
    ids: np.ndarray  # event id of each record
    ns: np.ndarray  # ts_ns of each record
    cpu: int

    def take(self, mask: np.ndarray) -> _Run:
        r = self.rec
        rec = Records(r.start[mask], r.length[mask], r.ts[mask], r.page[mask], r.lost, 0)
        return _Run(self.buf, rec, self.ids[mask], self.ns[mask], self.cpu)


def _chunks(d: _Bytes, mem, head: Header, source: Source, chunk_bytes: int, payload: bool = True,
            block_lane: bool = False) -> Iterator[Chunk]:
    """Merge the CPUs' (and instances') page streams in time order, so chunks follow each other in time.

    Each CPU's ring buffer is stored whole, one CPU after another; reports carry state from chunk
    to chunk (an issue on CPU 0, its complete on CPU 1), so a chunk must never hold events later
    than the next chunk's. Every stream decodes one batch ahead; all events up to the earliest
    "last decoded timestamp" among the streams still running are safe to hand out. The chunk's
    records are merged and grouped by kind natively (``merge_grouped``) and become frames in one pass.
    """
    builder = FrameBuilder(head.formats, head.cmdlines, head.endian, head.ts_offset, head.tsc2nsec, head.kallsyms, payload)
    lane = None
    if block_lane:
        from .dat_lane import make_lane

        lane = make_lane(builder)
    unknown, bad = Counter(), [0]
    cpus = [(buf, cpu) for buf in head.buffers for cpu in buf.cpus]
    per_stream = max(1, chunk_bytes // max(1, len(cpus)))  # memory bound for 2 CPUs or 256
    streams = [_cpu_batches(d, mem, head, buf, cpu, builder, unknown, bad, source, per_stream) for buf, cpu in cpus]
    pending: list[_Run | None] = [None] * len(streams)
    running = [True] * len(streams)
    lost = Counter()
    read, total = [0] * len(streams), max(1, sum(cpu.size for _, cpu in cpus))  # for progress bars
    while True:
        for i, stream in enumerate(streams):
            while running[i] and pending[i] is None:
                batch = next(stream, None)
                if batch is None:
                    running[i] = False
                else:
                    pending[i], batch_lost, read[i] = batch
                    lost.update(batch_lost)
        if not any(p is not None for p in pending) and not any(running):
            break
        ends = [int(pending[i].ns.max()) for i in range(len(streams)) if running[i]]
        horizon = min(ends) if ends else None
        now: list[_Run] = []
        for i, run in enumerate(pending):
            if run is None:
                continue
            pending[i] = None
            if horizon is not None:
                early = run.ns <= horizon
                if not early.all():
                    later = run.take(~early)
                    pending[i] = later
                    run = run.take(early)
            if len(run.ids):
                now.append(run)
        if now or lost:
            yield _chunk(builder, now, unknown, lost, min(1.0, sum(read) / total), lane)
            lost = Counter()
    if unknown:
        ids = ", ".join(str(i) for i in sorted(unknown)[:5])
        source.skip(sum(unknown.values()), None, f"trace.dat records of event ids without a format file: {ids}")
    if bad[0]:
        source.skip(bad[0], None, f"trace.dat: {bad[0]} corrupt ring-buffer pages (read up to the damage)")
    for (kind, why), n in sorted(builder.damaged.items()):
        source.skip(n, None, f"trace.dat: {n:,} records of {kind} left out, {why}")


def _cpu_batches(d, mem, head: Header, buf: Buffer, cpu: CpuData, builder, unknown, bad, source, chunk_bytes):
    """One CPU's records, a batch of pages at a time: (a _Run of those that make events, or None,
    lost events by CPU, bytes of the CPU's data read so far)."""
    layout = PageLayout(
        buf.page_size, head.layout.ts_offset, head.layout.commit_offset, head.layout.commit_size,
        head.layout.data_offset, head.endian,
    )
    for pages, end in _page_batches(d, mem, buf, cpu, head, chunk_bytes, source):
        rec = decode_pages(pages, layout)
        bad[0] += rec.bad_pages
        lost = Counter()
        dropped = rec.lost[rec.lost != 0]
        if len(dropped):
            # a page flagged without a stored count lost at least one event: count 1
            lost[cpu.cpu] += int(np.where(dropped < 0, 1, dropped).sum())
        keep, ids = builder.usable(pages, rec, unknown) if len(rec.start) else (None, ())
        run = None
        if len(ids):
            rec = Records(rec.start[keep], rec.length[keep], rec.ts[keep], rec.page[keep], rec.lost, rec.bad_pages)
            run = _Run(pages, rec, ids, builder._ns(rec.ts), cpu.cpu)
        yield run, lost, end - cpu.offset


def _chunk(builder: FrameBuilder, runs: list[_Run], unknown: Counter, lost: Counter, fraction: float, lane=None) -> Chunk:
    """The frames of the runs' records, merged in time order; kinds in the order the old per-CPU
    frames met them (CPU after CPU, ids ascending within one). The merge and the grouping by kind
    are one native call (``merge_grouped``). With a ``lane`` (dat_lane.DatLane), block requests go
    to it instead of frames."""
    frames, block_lane, kind_stats = {}, None, []
    if runs:
        from . import _native

        base = np.cumsum([0, *(len(r.buf) for r in runs[:-1])])
        start = np.concatenate([r.rec.start + b for r, b in zip(runs, base)])
        ids = np.concatenate([r.ids for r in runs])
        ns = np.concatenate([r.ns for r in runs])
        order, kinds, first = (
            np.frombuffer(c, np.int64) for c in _native.merge_grouped(ids.tobytes(), ns.tobytes(), [len(r.ids) for r in runs])
        )
        length = np.concatenate([r.rec.length for r in runs])
        cpu = np.concatenate([np.full(len(r.ids), r.cpu, np.int16) for r in runs])
        buf = runs[0].buf if len(runs) == 1 else b"".join(r.buf for r in runs)
        skip: set[int] = set()
        if lane is not None:
            groups, skip = lane.groups(kinds, first, len(order))
            block_lane, kind_stats = lane.take(buf, start, ns, cpu, order, groups)
        frames = builder.frames_grouped(buf, start, length, ns, cpu, order, kinds, first, skip)
    return Chunk(frames=frames, block_lane=block_lane, kind_stats=kind_stats, lost_events=sum(lost.values()),
                 lost_by_cpu=dict(lost), read_fraction=fraction)
