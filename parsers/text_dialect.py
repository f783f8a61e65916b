"""The text dialects (perf script, ftrace) and how a text is told to be one: what the scanner needs
to know of a dialect, importing neither polars nor numpy (prefetch.py starts reading a text file
with it while the reports are imported).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import _native
from .event_names import BLOCK_EVENTS, NET_EVENTS

# No trace line comes near this (a -g frame or a payload is a few hundred bytes): a longer one is
# damage (a file glued to binary data, a copy cut inside a line). It is cut: one skipped line, and
# no more than this much of it is ever held, however far its newline is. (The scanner knows the
# same bound: text.rs MAX_LINE_BYTES.)
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Dialect:
    name: str  # the ``source.format`` it produces, and the scanner's name for its grammar
    # events printed without their system that reports know: (name prefix, system), (name, full name)
    systems: tuple[tuple[str, str], ...] = ()
    exact: tuple[tuple[str, str], ...] = ()


def dialects() -> tuple[Dialect, ...]:
    from .ftrace_text import FTRACE
    from .perf_script import PERF_SCRIPT

    return (PERF_SCRIPT, FTRACE)


def sniff_text(head: bytes) -> str | None:
    """The dialect whose event lines make up most of the first lines (lines over the bound left out), or None."""
    data = b"\n".join(l for l in head.split(b"\n")[:2000] if len(l) <= MAX_LINE_BYTES)
    best, best_hits = None, 0
    for d in dialects():
        hits = _native.count_heads(data, d.name)
        if hits > best_hits:
            best, best_hits = d.name, hits
    return best


def lane_scanner_args(dialect: Dialect) -> tuple:
    """The block report's scanner of ``dialect`` (no call chains, no payload text, the block lane),
    as ``_native.TextAhead`` takes it after the path."""
    return (dialect.name, list(BLOCK_EVENTS), list(NET_EVENTS), list(dialect.systems), list(dialect.exact))
