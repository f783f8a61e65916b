"""One entry point for every format: open, detect, and stream Chunks while ``Source`` keeps count."""
from __future__ import annotations

import os
from collections.abc import Iterator

from .errors import TraceParseError
from .schema import Chunk
from .sniff import detect, open_input
from .source import Source


def read_capture(src, strict: bool = False, chunk_bytes: int | None = None, progress=None) -> tuple[Source, Iterator[Chunk]]:
    """Open ``src`` (path, ``-`` or binary file) and return its Source and a lazy iterator of Chunks.

    The Source's counters (events, skipped lines, lost events, time span) are complete once the
    iterator is exhausted. ``progress(done_bytes, total_bytes)`` is called after each chunk of a
    real file.
    """
    stream, name, compression = open_input(src)
    fmt = detect(stream, name)
    source = Source(path=name, format=fmt, compression=compression, strict=strict)
    chunks = _track(source, _parse(stream, source, chunk_bytes))
    if progress is not None:
        chunks = _report_progress(chunks, getattr(stream, "raw_file", None), progress)
    return source, chunks


def _report_progress(chunks: Iterator[Chunk], raw, progress) -> Iterator[Chunk]:
    try:
        total = os.fstat(raw.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        yield from chunks  # stdin or a pipe: size unknown
        return
    for chunk in chunks:
        progress(raw.tell(), total)
        yield chunk


def _parse(stream, source: Source, chunk_bytes: int | None) -> Iterator[Chunk]:
    kwargs = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    if source.format == "trace-dat":
        from .trace_dat import parse_trace_dat

        return parse_trace_dat(stream, source, **kwargs)
    from .text import dialects, parse_text

    dialect = next(d for d in dialects() if d.name == source.format)
    return parse_text(stream, source, dialect, **kwargs)


def _track(source: Source, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    try:
        for chunk in chunks:
            yield source.track(chunk)
    except UnicodeDecodeError as exc:  # pragma: no cover - decode uses errors="replace"
        raise TraceParseError(f"{source.path}: {exc}") from None
