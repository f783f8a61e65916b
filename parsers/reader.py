"""One entry point for every format: open, detect, and stream Chunks while ``Source`` keeps count."""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator

from .errors import TraceParseError
from .schema import Chunk
from .sniff import detect, open_input
from .source import Source


def read_capture(
    src, strict: bool = False, chunk_bytes: int | None = None, progress=None, payload: bool = True, stacks: bool = True,
    kallsyms: bytes | None = None, symbols=None, block_lane: bool = False,
) -> tuple[Source, Iterator[Chunk]]:
    """Open ``src`` (path, ``-`` or binary file) and return its Source and a lazy iterator of Chunks.

    The Source's counters (events, skipped lines, lost events, time span) are complete once the
    iterator is exhausted. ``progress(done_bytes, total_bytes)`` is called after each chunk of a
    real file. ``payload=False`` is for reports that read only typed columns: a trace.dat's block
    events then come without the payload text, which costs more to build than the rest of the
    event (text inputs have their payload anyway). ``stacks=False`` leaves call chains out (no
    ``stack_id``, an empty ``source.stacks``): most of a -g text capture's time goes to them.
    ``kallsyms`` (a /proc/kallsyms text) names the kernel frames of a perf.data's call chains;
    ``symbols`` (a ``symbols.SymbolOptions``: --kallsyms, --symfs, --buildid-dir) names its kernel
    and user frames. Text captures carry their names already and ignore both.
    ``block_lane=True`` is for the block report: a parser that types block events straight from
    its input (text, trace.dat, perf.data) hands block_rq_insert/issue/complete over as
    ``Chunk.block_lane``, not as frames.
    """
    stream, name, compression = open_input(src)
    fmt = detect(stream, name)
    source = Source(path=name, format=fmt, compression=compression, strict=strict)
    decoded = getattr(stream, "decoded", None)
    if decoded is not None:  # a cut or damaged compressed stream is said where the damage is met
        decoded.on_note(source.note)
    chunks = _read_ahead(_track(source, _parse(stream, source, chunk_bytes, payload, stacks, kallsyms, symbols, block_lane)))
    if progress is not None:
        chunks = _report_progress(chunks, getattr(stream, "raw_file", None), progress)
    return source, chunks


def _report_progress(chunks: Iterator[Chunk], raw, progress) -> Iterator[Chunk]:
    """``progress(done, total)`` after each chunk; ``total`` is None where the size is unknown (a pipe)."""
    try:
        total = os.fstat(raw.fileno()).st_size or None
    except (AttributeError, OSError, ValueError):
        total = None
    done = 0
    for chunk in chunks:
        if chunk.read_fraction is not None and total:
            done = max(done, int(chunk.read_fraction * total))
        else:
            try:
                # the parser thread reads ahead while this one asks: a buffered file's tell() taken
                # mid-read can lag what an earlier call saw, and a bar never moves back
                done = max(done, raw.tell())
            except (AttributeError, OSError, ValueError):
                yield chunk  # a file object that cannot say where it is: no progress, that is all
                continue
        progress(done, total)
        yield chunk


def _parse(stream, source: Source, chunk_bytes: int | None, payload: bool = True, stacks: bool = True,
           kallsyms: bytes | None = None, symbols=None, block_lane: bool = False) -> Iterator[Chunk]:
    kwargs = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    if source.format == "trace-dat":
        from .trace_dat import parse_trace_dat

        return parse_trace_dat(stream, source, payload=payload, block_lane=block_lane, **kwargs)
    if source.format == "perf-data":
        from .perf_data import parse_perf_data

        return parse_perf_data(stream, source, payload=payload, stacks=stacks, kallsyms=kallsyms, symbols=symbols,
                               block_lane=block_lane, **kwargs)
    from .text import dialects, parse_text

    dialect = next(d for d in dialects() if d.name == source.format)
    return parse_text(stream, source, dialect, stacks=stacks, payload=payload, block_lane=block_lane, **kwargs)


def _track(source: Source, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    try:
        for chunk in chunks:
            yield source.track(chunk)
    except UnicodeDecodeError as exc:  # pragma: no cover - decode uses errors="replace"
        raise TraceParseError(f"{source.path}: {exc}") from None
    except TraceParseError as exc:
        if not source.skipped.notes:
            raise
        # "truncated" means little without its cause: the compressed stream was cut first
        raise type(exc)("; ".join([str(exc), *source.skipped.notes])) from None


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def _read_ahead(chunks: Iterator[Chunk], depth: int = 1) -> Iterator[Chunk]:
    """Parse in a thread, ``depth`` chunks ahead of the report: the report works on chunk k while
    chunk k+1 is parsed. polars and numpy release the GIL, so this puts the second core to work
    (a third of the time on a large trace.dat). Errors reach the consumer as they were raised."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    break
            else:
                put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, which raises it
            put(_Failed(exc))
        finally:
            chunks.close()

    thread = threading.Thread(target=produce, name="traceparse-read", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
