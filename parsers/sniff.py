"""Open an input (path, file object or ``-``), undo its compression, and tell its format from its bytes.

The file name is never trusted: ``perf.txt`` may hold ftrace text and ``trace`` may be gzip.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
from typing import BinaryIO

from .errors import TraceParseError, UnknownFormatError

# Magic numbers of the compressions people put captures in.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
)
TRACE_DAT_MAGIC = b"\x17\x08\x44tracing"
PERF_DATA_MAGICS = (b"PERFILE2", b"2ELIFREP")


class _Guarded(io.RawIOBase):
    """Turns a decompressor's exception (corrupt or cut stream) into one TraceParseError line."""

    def __init__(self, inner: BinaryIO, name: str, kind: str):
        self._inner, self._name, self._kind = inner, name, kind

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        try:
            data = self._inner.read(len(buf))
        except (OSError, EOFError, lzma.LZMAError, ValueError, Exception) as exc:  # zstd raises its own
            raise TraceParseError(f"{self._name}: corrupt {self._kind} data ({exc}); is the file complete?") from None
        buf[: len(data)] = data
        return len(data)


class _Counted(io.RawIOBase):
    """A pipe that counts what it gave: its ``tell()`` is how far stdin has been read, for progress."""

    def __init__(self, inner: BinaryIO):
        self._inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = self._inner.readinto(buf) or 0
        self.count += n
        return n

    def tell(self) -> int:
        return self.count

    def fileno(self) -> int:
        return self._inner.fileno()


def open_input(src) -> tuple[BinaryIO, str, str | None]:
    """Return (binary stream, display name, compression) for a path, ``-`` or a binary file object.

    ``stream.raw_file`` is the file underneath any decompressor (its ``tell()`` is how far the input
    has been read, for progress; on stdin, a count of the bytes read).
    """
    if src == "-" or src is None:
        raw, name = _Counted(sys.stdin.buffer), "<stdin>"
    elif isinstance(src, (str, os.PathLike)):
        name = os.fspath(src)
        if os.path.isdir(name):
            raise TraceParseError(f"{name}: is a directory; give a capture file (perf script text, ftrace text or trace.dat)")
        try:
            raw = open(name, "rb")
        except FileNotFoundError:
            raise TraceParseError(f"{name}: no such file") from None
        except OSError as exc:
            raise TraceParseError(f"{name}: cannot open: {exc.strerror}") from None
    else:
        raw, name = src, getattr(src, "name", "<stream>")
    stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = stream.peek(8)[:8]
    for magic, kind in _COMPRESSED:
        if head.startswith(magic):
            out = io.BufferedReader(_Guarded(_decompressor(stream, kind), name, kind), 1 << 20)
            return _with_raw(out, raw), name, kind
    return _with_raw(stream, raw), name, None


def _with_raw(stream, raw):
    try:
        stream.raw_file = raw
    except AttributeError:  # a caller's object that takes no new attributes: no progress, that is all
        pass
    return stream


def _decompressor(stream: BinaryIO, kind: str) -> BinaryIO:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream)
    if kind == "xz":
        return lzma.LZMAFile(stream)
    if kind == "bzip2":
        return bz2.BZ2File(stream)
    import zstandard  # only needed for .zst input

    return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)


def detect(stream: BinaryIO, name: str) -> str:
    """Name the format of the (decompressed) stream without consuming it."""
    head = stream.peek(1 << 16)
    if not head:
        raise UnknownFormatError(f"{name}: file is empty; expected perf script text, ftrace text or a trace.dat")
    if head.startswith(TRACE_DAT_MAGIC):
        return "trace-dat"
    if head[:8] in PERF_DATA_MAGICS:
        raise UnknownFormatError(
            f"{name}: is a perf.data file; convert it on the machine that recorded it: perf script -i {name} > perf.txt"
        )
    from .text import sniff_text  # text dialects live with the text engine

    fmt = sniff_text(head)
    binary = b"\x00" in head[:4096]
    if fmt is None and not binary:  # the peek may have seen no more than one long first line
        fmt = _sniff_further(stream, name, head)
    if fmt is None and binary:
        raise UnknownFormatError(f"{name}: binary data that is not a trace capture (expected perf script text, ftrace text or trace.dat)")
    if fmt is None:
        raise UnknownFormatError(
            f"{name}: no perf script or ftrace event lines found; expected the output of `perf script`, "
            "`trace-cmd report`, /sys/kernel/tracing/trace, or a trace.dat"
        )
    return fmt


def _sniff_further(stream: BinaryIO, name: str, head: bytes) -> str | None:
    """Sniff the first lines past those over the bound, read from a second look at the input (a
    seek back, or the file opened again) so that the parser still reads it from the start."""
    from .text import sniff_text, sniff_window

    if stream.seekable():
        at = stream.tell()
        try:
            return sniff_text(sniff_window(stream))
        finally:
            stream.seek(at)
    if os.path.isfile(name):
        again, _, _ = open_input(name)
        with again:
            return sniff_text(sniff_window(again))
    if b"\n" not in head:  # a pipe cannot be read twice
        raise UnknownFormatError(
            f"{name}: the first line is longer than the {len(head):,} bytes a pipe can be looked at in; "
            "save the input to a file and give its name"
        )
    return None
