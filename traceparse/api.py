"""The library surface: open a capture, get its frames, run a report, render it."""
from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from .parsers.reader import read_capture
from .parsers.schema import Chunk
from .parsers.source import Source
from .reports.block import BlockOptions, block_report
from .reports.info import info_report
from .reports.net import NetOptions, net_report
from .reports.result import Report


class Capture:
    """One input, read lazily. Its chunks can be walked once; ``source`` fills in as they are."""

    def __init__(self, src, strict: bool = False, chunk_bytes: int | None = None):
        self.source: Source
        self.source, self._chunks = read_capture(src, strict=strict, chunk_bytes=chunk_bytes)
        self._used = False

    def chunks(self) -> Iterator[Chunk]:
        """The capture's Chunks, streamed (memory stays flat); a Capture can be walked once."""
        if self._used:
            raise RuntimeError("this Capture was already read; open it again")
        self._used = True
        return self._chunks

    def frames(self) -> dict[str, pl.DataFrame]:
        """All events, one DataFrame per kind (loads the whole capture: for notebooks and small files)."""
        parts: dict[str, list[pl.DataFrame]] = {}
        for chunk in self.chunks():
            for name, frame in chunk.frames.items():
                parts.setdefault(name, []).append(frame)
        return {name: pl.concat(fs) for name, fs in sorted(parts.items())}

    @property
    def stacks(self) -> list[tuple[str, ...]]:
        """Interned call chains: ``stack_id`` in the frames indexes this list (innermost frame first)."""
        return self.source.stacks.frames


def open(src, strict: bool = False) -> Capture:  # noqa: A001 - mirrors builtins.open on purpose
    """Open a capture: a path (plain, .gz, .zst, .xz), ``"-"`` for stdin, or a binary file object.

    Raises TraceParseError (one line, naming the file) for input that is not a capture.
    """
    return Capture(src, strict=strict)


def _capture(src, strict: bool) -> Capture:
    return src if isinstance(src, Capture) else Capture(src, strict=strict)


def block(src, strict: bool = False, **options) -> Report:
    """Block-request latency (D2C, I2C, I2D) of a capture; ``options`` as BlockOptions fields.

    Args:
        src: a Capture, or anything ``open`` takes.
        options: unit ("ns"|"us"|"ms"), slower_than_ns, top, dev ("8,0"), comm, op ("R"|"W"|...),
            since_s, until_s.
    Returns:
        a Report; ``report.data`` is the JSON contract.
    """
    cap = _capture(src, strict)
    return block_report(cap.source, cap.chunks(), BlockOptions(**options))


def net(src, strict: bool = False, **options) -> Report:
    """Packet sizes, rates and senders; TCP retransmits, handshake latency and drops; ``options`` as NetOptions fields.

    Args:
        src: a Capture, or anything ``open`` takes.
        options: interval_ns (rates table bucket, default 1 s), unit ("ns"|"us"|"ms", for handshake
            latency), slower_than_ns, top (rows in listings, 0: all), dev ("eth0").
    Returns:
        a Report; ``report.data`` is the JSON contract.
    """
    cap = _capture(src, strict)
    return net_report(cap.source, cap.chunks(), NetOptions(**options))


def info(src, strict: bool = False) -> Report:
    """Format, events per kind, time span, CPUs, lost events and skipped lines of a capture."""
    cap = _capture(src, strict)
    return info_report(cap.source, cap.chunks())


def render_report(report: Report, fmt: str = "terminal") -> str:
    """Render a Report as "terminal", "markdown" or "json" text."""
    from .render import render as _render

    return _render(report, fmt)


