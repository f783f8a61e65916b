"""Reading that starts before the reports are imported.

A ``traceparse block`` run spends its first ~0.25 s importing polars, numpy and the reports, one
core busy and the other idle. A capture on disk can be read in that time: ``start`` opens it and
has the native core read it in threads of its own, with nothing of this package that imports
polars, and the parser then ``take``s what was started instead of opening the file again:

- a perf.data in perf's file mode: with block requests the lane reads, its block lane is set from
  its format files and its batches are made (parsers/native/src/perf_decode.rs); else its records
  are read (perf_ahead.rs). Pipe mode's tracing data must be met where the stream has it, so a
  pipe-mode file is read as before.
- perf script or ftrace text, uncompressed: its chunks, scanned by the block report's two scanners
  (parsers/native/src/text_ahead.rs). The dialect is sniffed from the same first bytes as
  sniff.detect sniffs, and the text parser takes the reading only for the scanners it would build.

Only what is still the same file (device, inode, size, mtime) when it is taken is used. The CLI
``discard``s what no report took, so a run that stops early (a bad option, an error) leaves no
thread reading.
"""
from __future__ import annotations

import os

_MAGIC = b"PERFILE2"
_FILE_HEADER = 104  # perf_file_header's size in file mode (pipe mode's is 16)
_SNIFF_BYTES = 1 << 16  # sniff.SNIFF_BYTES: the bytes sniff.detect tells a format by
_started: dict[tuple, tuple] = {}  # the file's identity (device, inode, size, mtime) -> (what, its reading)


def _identity(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def start(path: str) -> None:
    """Start reading ``path`` ahead if it is a perf.data in file mode or a text capture on disk;
    else do nothing (the report opens it as it would have, and says what is wrong with it)."""
    ident = _identity(path)
    if ident is None or ident in _started:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return
    if head[:8] == _MAGIC and int.from_bytes(head[8:16], "little") == _FILE_HEADER:
        _start_perf_data(path, ident)
    else:
        _start_text(path, ident, head)


def _start_perf_data(path: str, ident: tuple) -> None:
    from ._native import PerfScanner

    try:
        scanner = PerfScanner.open_path(path, False)
    except ValueError:
        return  # a damaged header: the report's own opening names the damage
    decoding = _decode_block_lane(scanner, path, ident)
    if decoding:
        return
    if decoding is False:  # a fresh scanner: that one holds settings made for the lane
        try:
            scanner = PerfScanner.open_path(path, False)
        except ValueError:
            return
    if scanner.read_ahead():
        _started[ident] = ("perf-data", scanner)


def _decode_block_lane(scanner, path: str, ident: tuple) -> bool | None:
    """With the block lane its format files place, the block report's settings (no call chains),
    the batches made from here on: True; None where it has no such lane (the scanner untouched),
    False where this failed in any way after the scanner's settings were changed."""
    from .perf_lane import CHUNK_BYTES, LANE_EVENTS, ahead_key, scanner_lane

    try:
        lane = scanner_lane(scanner, path)
    except Exception:  # noqa: BLE001 - reading ahead is a head start, never a failure: the report reads the file and says what is wrong
        return None  # (it reads the scanner only)
    if lane is None:
        return None
    try:
        scanner.set_stacks(False)
        lane.apply(scanner)
        if not scanner.decode_ahead(LANE_EVENTS, CHUNK_BYTES):
            return False
    except Exception:  # noqa: BLE001 - reading ahead is a head start, never a failure: the report reads the file and says what is wrong
        return False
    _started[ident] = (ahead_key(CHUNK_BYTES), scanner)
    return True


def _start_text(path: str, ident: tuple, head: bytes) -> None:
    from ._native import TextAhead
    from .text_dialect import dialects, lane_scanner_args, sniff_text

    name = sniff_text(head)  # compressed or binary input has no event lines: None
    dialect = next((d for d in dialects() if d.name == name), None)
    if dialect is None:
        return
    args = lane_scanner_args(dialect)
    try:
        _started[ident] = (("text", args), TextAhead(path, *args))
    except OSError:
        return  # the report's own opening says what is wrong


def take(path: str, what="perf-data"):
    """What was started over ``path`` (``what``: "perf-data", perf_lane.ahead_key(..), or ("text",
    the scanners' arguments)),
    if it is still that file and was started so; None otherwise."""
    ident = _identity(path)
    started = _started.get(ident) if ident is not None else None
    if started is None or started[0] != what:
        return None
    del _started[ident]
    return started[1]


def discard() -> None:
    """Drop what no report took: its reading threads end."""
    for _, reading in _started.values():
        close = getattr(reading, "close", None)
        if close is not None:
            close()
    _started.clear()
