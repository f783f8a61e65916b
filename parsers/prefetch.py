"""Reading that starts before the reports are imported.

A ``traceparse block`` run spends its first ~0.15 s importing polars and the reports, one core
busy and the other idle. A perf.data on disk can be read in that time: ``start`` opens it and has
the native scanner read its records in a thread of their own (parsers/native/src/perf_ahead.rs),
with nothing of this package that imports polars; ``perf_data.open_scanner`` then ``take``s the
scanner instead of opening the file again. Only a regular file in perf's file mode is read so
(pipe mode's tracing data must be met where the stream has it), and only if it is still the
same file (device, inode, size, mtime) when it is taken. The CLI ``discard``s what no report took, so a run that stops early
(a bad option, an error) leaves no thread reading.
"""
from __future__ import annotations

import os

_MAGIC = b"PERFILE2"
_FILE_HEADER = 104  # perf_file_header's size in file mode (pipe mode's is 16)
_started: dict[tuple, object] = {}  # the file's identity (device, inode, size, mtime) -> its scanner


def _identity(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def start(path: str) -> None:
    """Start reading ``path`` ahead if it is a perf.data in file mode on disk; else do nothing
    (the report opens it as it would have, and says what is wrong with it)."""
    ident = _identity(path)
    if ident is None or ident in _started:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return
    if head[:8] != _MAGIC or int.from_bytes(head[8:16], "little") != _FILE_HEADER:
        return
    from ._native import PerfScanner

    try:
        scanner = PerfScanner.open_path(path, False)
    except ValueError:
        return  # a damaged header: the report's own opening names the damage
    if scanner.read_ahead():
        _started[ident] = scanner


def take(path: str):
    """The scanner started over ``path``, if it is still that file; None otherwise."""
    ident = _identity(path)
    return _started.pop(ident, None) if ident is not None else None


def discard() -> None:
    """Drop what no report took: a dropped scanner ends its reading thread."""
    _started.clear()
