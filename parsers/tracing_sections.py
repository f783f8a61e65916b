"""The tracing data's sections, as a trace.dat (v6) and perf.data's HEADER_TRACING_DATA share them:
header_page and header_event, the ftrace and event format files, kallsyms, the printk formats and
the saved cmdlines. Nothing here imports polars or numpy: ``traceparse block`` reads a perf.data's
format files before the reports are imported (prefetch.py).
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from .errors import TraceParseError, UnknownFormatError
from .format_file import FormatTable, parse_header_page
from .ring_buffer import PageLayout

TRACING_MAGIC = b"\x17\x08\x44tracing"


class _Cut(Exception):
    """A read ran past the end of the file."""

    def __init__(self, at: int, what: str):
        super().__init__(what)
        self.at, self.what = at, what


_UNSIGNED = {(e, n): struct.Struct(f"{e}{c}").unpack_from for e in "<>" for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


class _Bytes:
    """Endian-aware reads at absolute offsets of a bytes-like object; reading past the end raises _Cut."""

    def __init__(self, data, endian: str = "<"):
        self.data, self.e, self.size = data, endian, len(data)

    def take(self, at: int, n: int, what: str) -> bytes:
        if at < 0 or n < 0 or at + n > self.size:
            raise _Cut(at, what)
        return bytes(self.data[at : at + n])

    def span(self, at: int, n: int, what: str):
        """As ``take``, without the copy where the data is immutable bytes (a memoryview into it)."""
        if not isinstance(self.data, bytes):
            return self.take(at, n, what)
        if at < 0 or n < 0 or at + n > self.size:
            raise _Cut(at, what)
        return memoryview(self.data)[at : at + n]

    def int(self, at: int, n: int, what: str) -> int:
        unpack = _UNSIGNED.get((self.e, n))
        if unpack is None:
            return int.from_bytes(self.take(at, n, what), "little" if self.e == "<" else "big")
        if at < 0 or at + n > self.size:
            raise _Cut(at, what)
        return unpack(self.data, at)[0]  # in place: no copy of the bytes (thousands of sizes in the format sections)

    def cstr(self, at: int, what: str) -> tuple[str, int]:
        end = self.data.find(b"\0", at) if hasattr(self.data, "find") else bytes(self.data[at:]).find(b"\0")
        if end < 0:
            raise _Cut(at, what)
        return bytes(self.data[at:end]).decode("utf-8", "replace"), end + 1


@dataclass
class CpuData:
    cpu: int
    offset: int
    size: int


@dataclass
class Buffer:
    name: str  # "" for the top-level instance
    clock: str | None
    page_size: int
    cpus: list[CpuData] = field(default_factory=list)
    compressed: bool = False
    recovered: bool = False  # located by walking a cut v7 file's data (its cut is reported once, up front)


@dataclass
class Header:
    """Everything in a trace.dat except the ring-buffer pages."""

    version: int
    endian: str
    user_long: int
    page_size: int
    compression: str = "none"
    layout: PageLayout | None = None
    formats: FormatTable = field(default_factory=FormatTable)
    cmdlines: dict[int, str] = field(default_factory=dict)
    buffers: list[Buffer] = field(default_factory=list)
    cpus: int | None = None
    meta: dict = field(default_factory=dict)
    ts_offset: int = 0
    tsc2nsec: tuple[int, int, int] | None = None
    kallsyms: bytes = b""  # /proc/kallsyms at record time, for %pS fields (kfree_skb's location)
    damage: list[str] = field(default_factory=list)  # parts of the header left out, each a counted skip
    end: int = 0  # where this trace.dat ends (its last data or section): what follows is not part of it


def _read_headers_section(d: _Bytes, at: int, head: Header) -> int:
    if d.take(at, 12, "header_page") != b"header_page\0":
        raise UnknownFormatError("corrupt trace.dat: no header_page where expected")
    n = d.int(at + 12, 8, "header_page size")
    page = parse_header_page(d.take(at + 20, n, "header_page").decode("utf-8", "replace"))
    at += 20 + n
    if d.take(at, 13, "header_event") != b"header_event\0":
        raise UnknownFormatError("corrupt trace.dat: no header_event where expected")
    n = d.int(at + 13, 8, "header_event size")
    at += 21 + n
    ts_off, _ = page.get("timestamp", (0, 8))
    commit_off, commit_size = page.get("commit", (8, head.user_long))
    data_off, _ = page.get("data", (commit_off + commit_size, 0))
    head.layout = PageLayout(head.page_size, ts_off, commit_off, commit_size, data_off, head.endian)
    return at


def _read_ftrace_formats(d: _Bytes, at: int, head: Header) -> int:
    count = d.int(at, 4, "ftrace formats")
    at += 4
    for _ in range(count):
        n = d.int(at, 8, "ftrace format size")
        _add_format(head, d.take(at + 8, n, "ftrace format"), "ftrace")
        at += 8 + n
    return at


def _read_event_formats(d: _Bytes, at: int, head: Header) -> int:
    systems = d.int(at, 4, "event systems")
    at += 4
    for _ in range(systems):
        system, at = d.cstr(at, "event system name")
        count = d.int(at, 4, "event count")
        at += 4
        for _ in range(count):
            n = d.int(at, 8, "event format size")
            _add_format(head, d.span(at + 8, n, "event format"), system)  # ~2,000 of them, a handful used: no copies
            at += 8 + n
    return at


# how a format file begins ("name: block_rq_issue\nID: 1234\n..."): its id read off the bytes, so
# that the ~2,000 formats a capture carries (and uses a handful of) are neither decoded nor searched
_FORMAT_HEAD = re.compile(rb"name:[^\n]*\nID:[ \t]*(\d+)\n")


def _add_format(head: Header, raw, system: str) -> None:
    """``raw``: the format file's bytes, or a memoryview of them."""
    m = _FORMAT_HEAD.match(raw)
    if m:
        head.formats.add_known(int(m.group(1)), raw, system)
    else:  # any other layout: the text searched for its ID line, as FormatTable reads it
        head.formats.add(bytes(raw).decode("utf-8", "replace"), system)


def _parse_cmdlines(text: str, head: Header) -> None:
    for line in text.splitlines():
        pid, _, comm = line.strip().partition(" ")
        if pid.isdigit():
            head.cmdlines[int(pid)] = comm


def read_tracing_sections(d: _Bytes, at: int, head: Header) -> int:
    """The sections a v6 file and perf.data's HEADER_TRACING_DATA share, from header_page to the
    printk formats: into ``head``; returns where the saved cmdlines start."""
    at = _read_headers_section(d, at, head)
    at = _read_ftrace_formats(d, at, head)
    at = _read_event_formats(d, at, head)
    n = d.int(at, 4, "kallsyms")
    head.kallsyms = d.take(at + 4, n, "kallsyms")
    at += 4 + n
    return at + 4 + d.int(at, 4, "printk formats")


def read_tracing_data(data: bytes, path: str) -> Header:
    """HEADER_TRACING_DATA (``tracing0.6``; simpleperf writes 0.5): trace.dat v6's opening sections
    (header_page, header_event, ftrace and event formats, kallsyms, printk, saved cmdlines)."""
    d = _Bytes(data)
    if not data.startswith(TRACING_MAGIC):
        raise TraceParseError(f"{path}: the perf.data tracing data does not start with its magic; events are not decoded")
    try:
        version, at = d.cstr(len(TRACING_MAGIC), "tracing data version")
        endian_byte, long_size = d.take(at, 2, "tracing data header")
        d.e = ">" if endian_byte else "<"
        head = Header(0, d.e, long_size, d.int(at + 2, 4, "page size"))
        at = read_tracing_sections(d, at + 6, head)
        if version >= "0.6" and at + 8 <= d.size:
            n = d.int(at, 8, "saved cmdlines")
            _parse_cmdlines(d.take(at + 8, n, "saved cmdlines").decode("utf-8", "replace"), head)
    except _Cut as cut:
        raise TraceParseError(
            f"{path}: the perf.data tracing data is cut: its {cut.what} at byte {cut.at:,} lies past its end ({d.size:,} bytes)"
        ) from None
    head.meta["tracing_data_version"] = version
    return head
