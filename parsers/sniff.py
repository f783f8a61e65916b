"""Open an input (path, file object or ``-``), undo its compression, and tell its format from its bytes.

The file name is never trusted: ``perf.txt`` may hold ftrace text and ``trace`` may be gzip.
"""
from __future__ import annotations

import bz2
import io
import lzma
import os
import sys
import zlib
from typing import BinaryIO

from .errors import TraceParseError, UnknownFormatError

# Magic numbers of the compressions people put captures in.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
)
SNIFF_BYTES = 1 << 16  # how much of the input tells its format: files and pipes are buffered by this much
TRACE_DAT_MAGIC = b"\x17\x08\x44tracing"
PERF_DATA_MAGICS = (b"PERFILE2", b"2ELIFREP")


class _Guarded(io.RawIOBase):
    """A decompressed stream that never raises on a cut or damaged input: it stops where the input
    stops being whole, and says so once (``notes``, handed to the Source as a counted skip).

    The decoders hand out at most one ``readinto`` buffer at a time (a zstd block at most), so a
    file that decompresses to terabytes costs no more memory than a small one.
    """

    def __init__(self, decoder, name: str, kind: str):
        self._decoder, self._name, self._kind = decoder, name, kind
        self.done = 0  # decompressed bytes handed out
        self.largest_output = 0
        self._notes: list[str] = []
        self._on_note = None
        self._over = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not self._over:
            try:
                data = self._decoder.read(len(buf))
            except _Damage as exc:
                self._stop(*exc.args)
                return 0
            except Exception as exc:  # noqa: BLE001 - zlib.error, lzma.LZMAError, zstandard.ZstdError
                self._stop("is corrupt", f"{exc}")
                return 0
            if data is None:  # end of the input, every stream in it whole
                self._over = True
                return 0
            if data:
                self.largest_output = max(self.largest_output, len(data))
                buf[: len(data)] = data
                self.done += len(data)
                return len(data)
        return 0

    def _stop(self, what: str, why: str) -> None:
        self._over = True
        text = f"the {self._kind} stream {what} at decompressed byte {self.done:,}: {why}"
        if not self.done:  # nothing decompressed: there is nothing to read, say why
            raise TraceParseError(f"{self._name}: {text}, before any data; nothing to read")
        self.note(f"{text}; what came before was read")

    def note(self, text: str) -> None:
        if self._on_note is None:
            self._notes.append(text)
        else:
            self._on_note(text)

    def on_note(self, callback) -> None:
        """Where notes go from now on (the Source, once it exists); notes made before are handed over."""
        self._on_note = callback
        pending, self._notes = self._notes, []
        for text in pending:
            callback(text)


class _Damage(Exception):
    """The compressed input ends inside a stream (a cut) or holds something that is no stream:
    (what the stream does, what that means)."""


_CUT = ("ends early", "the file was cut")


class _Members:
    """gzip, xz and bzip2: one stream after another (``cat a.gz b.gz``), each decoded with a bounded
    ``max_length``; the input ending inside a stream is a cut."""

    _READ = 1 << 16

    def __init__(self, raw: BinaryIO, new, magic: bytes):
        self._raw, self._new, self._magic = raw, new, magic
        self._dec, self._pending = new(), b""
        self._zlib = hasattr(self._dec, "unconsumed_tail")  # zlib hands back unused input; lzma/bz2 keep it

    def read(self, n: int) -> bytes | None:
        """Up to ``n`` decompressed bytes (b"" when it took a step without output); None at a clean end."""
        dec = self._dec
        if dec.eof:
            return self._next_stream(dec.unused_data + self._pending)
        if not self._pending and (self._zlib or dec.needs_input):
            self._pending = self._raw.read(self._READ)
            if not self._pending:  # the input is over: what the decoder still holds, then the cut
                data = dec.decompress(b"", n)
                if data or dec.eof:
                    return data
                raise _Damage(*_CUT)
        data = dec.decompress(self._pending, n)
        self._pending = dec.unconsumed_tail if self._zlib else b""
        return data

    def _next_stream(self, rest: bytes) -> bytes | None:
        rest = rest.lstrip(b"\0")  # xz stream padding; gzip ignores trailing zeros too
        while len(rest) < len(self._magic):
            more = self._raw.read(self._READ)
            if not more:
                break
            rest = (rest + more).lstrip(b"\0")
        if not rest:
            return None
        if not rest.startswith(self._magic):
            raise _Damage("is followed by data that is not another stream", "that data is not read")
        self._dec, self._pending = self._new(), rest
        return b""


class _Frames:
    """zstd, fed to the decoder a block at a time (a block holds at most 128 KiB), so the output of
    one step is bounded whatever the frame claims; the input ending inside a frame is a cut.

    Layout (RFC 8878): frame = magic, header (FHD byte, window, dictionary id, content size),
    blocks (3-byte header: last flag, type, size), optional 4-byte checksum. Skippable frames
    (pzstd writes them) are stepped over.
    """

    _READ = 1 << 18

    def __init__(self, raw: BinaryIO):
        import zstandard

        self._zstd, self._raw = zstandard, raw
        self._buf, self._at = b"", 0
        self._dec = None  # None between frames
        self._last = self._checksum = False
        self._out = b""

    def _have(self, n: int) -> bool:
        while len(self._buf) - self._at < n:
            more = self._raw.read(self._READ)
            if not more:
                return False
            self._buf = self._buf[self._at :] + more
            self._at = 0
        return True

    def _take(self, n: int) -> bytes:
        if not self._have(n):
            raise _Damage(*_CUT)
        out = self._buf[self._at : self._at + n]
        self._at += n
        return out

    def read(self, n: int) -> bytes | None:
        if not self._out:
            self._out = self._step()
            if self._out is None:
                return None
        data, self._out = self._out[:n], self._out[n:]
        return data

    def _step(self) -> bytes | None:
        if self._dec is None:
            return self._frame_start()
        if self._last:  # the blocks are over: the checksum, then the frame is whole
            out = self._dec.decompress(self._take(4)) if self._checksum else b""
            self._dec = None
            return out
        head = self._take(3)
        h = int.from_bytes(head, "little")
        self._last, kind, size = bool(h & 1), (h >> 1) & 3, h >> 3
        if kind == 3:
            raise _Damage("has a block of reserved type", "the data is damaged")
        return self._dec.decompress(head + self._take(1 if kind == 1 else size))

    def _frame_start(self) -> bytes | None:
        if not self._have(1):
            return None  # the input ends between frames
        magic = int.from_bytes(self._take(4), "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
            self._take(int.from_bytes(self._take(4), "little"))
            return b""
        if magic != 0xFD2FB528:
            raise _Damage("is followed by data that is not another frame", "that data is not read")
        fhd = self._take(1)[0]
        fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
        rest = (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + ((1 if single else 0), 2, 4, 8)[fcs_flag]
        self._checksum, self._last = bool(fhd & 4), False
        self._dec = self._zstd.ZstdDecompressor().decompressobj()
        return self._dec.decompress(magic.to_bytes(4, "little") + bytes([fhd]) + self._take(rest))


class _Counted(io.RawIOBase):
    """A pipe that counts what it gave: its ``tell()`` is how far stdin has been read, for progress.

    Each read waits until the buffer is full (or the pipe ends): a pipe hands out what its writer
    wrote so far, often 4 KB, and the sniffer's one peek must see as much as it would of a file."""

    def __init__(self, inner: BinaryIO):
        self._inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        view, n = memoryview(buf), 0
        while n < len(view):
            got = self._inner.readinto(view[n:]) or 0
            if not got:
                break
            n += got
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
            raw = open(name, "rb", buffering=SNIFF_BYTES)  # one peek sees what detect() sniffs
        except FileNotFoundError:
            raise TraceParseError(f"{name}: no such file") from None
        except OSError as exc:
            raise TraceParseError(f"{name}: cannot open: {exc.strerror}") from None
    else:
        raw, name = src, getattr(src, "name", "<stream>")
    stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw, SNIFF_BYTES)  # type: ignore[arg-type]
    head = stream.peek(8)[:8]
    for magic, kind in _COMPRESSED:
        if head.startswith(magic):
            guarded = _Guarded(_decompressor(stream, kind), name, kind)
            out = io.BufferedReader(guarded, 1 << 20)
            out.peek(1)  # a stream cut before it gave any byte is an error here, not "file is empty" later
            out.decoded = guarded  # its notes (a cut, damage) reach the Source through ``on_note``
            return _with_raw(out, raw), name, kind
    return _with_raw(stream, raw), name, None


def _with_raw(stream, raw):
    try:
        stream.raw_file = raw
    except AttributeError:  # a caller's object that takes no new attributes: no progress, that is all
        pass
    return stream


def _decompressor(stream: BinaryIO, kind: str):
    magic = next(m for m, k in _COMPRESSED if k == kind)
    if kind == "gzip":
        return _Members(stream, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), magic)
    if kind == "xz":
        return _Members(stream, lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), magic)
    if kind == "bzip2":
        return _Members(stream, bz2.BZ2Decompressor, magic)
    return _Frames(stream)  # zstandard is imported only for .zst input


def detect(stream: BinaryIO, name: str) -> str:
    """Name the format of the (decompressed) stream without consuming it."""
    head = stream.peek(SNIFF_BYTES)
    if not head:
        raise UnknownFormatError(f"{name}: file is empty; expected perf script text, ftrace text or a trace.dat")
    if head.startswith(TRACE_DAT_MAGIC):
        return "trace-dat"
    if head[:8] in PERF_DATA_MAGICS:
        return "perf-data"
    from .text_dialect import sniff_text

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
