"""The block lane of a perf.data: where its block requests' fields lie, by the capture's own format
files, as the native scanner gathers them (``PerfScanner.set_lane``).

Nothing here imports polars or numpy: ``traceparse block`` sets the lane of a perf.data on disk and
has its batches decoded while the reports are imported (prefetch.py); the perf.data reader
(perf_data.py) sets it the same way where that was not done.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import TraceParseError
from .format_file import FormatTable, lane_kinds
from .tracing_sections import read_tracing_data

CHUNK_BYTES = 4 << 20  # RAW payload bytes per chunk (the frames built from them are a few times that)
# block requests per batch once the scanner gathers the lane (~0.9 MB of lane columns): the pairing's
# and recording's working set stays in cache. blk-1M.perf.data's block run, 4 runs each (2026-12-02,
# with the records read ahead): 0.43-0.48 s wall with 2^16, 0.41-0.42 with 2^15, 0.39-0.41 with 2^14,
# 0.40 with 2^13, 0.41-0.42 with 2^12 (earlier, one run each: 2^18 1.64 s CPU and 381 MB, 2^16 1.41 s)
LANE_EVENTS = 1 << 14


@dataclass(frozen=True)
class LaneSetup:
    """The scanner's lane settings, and the kinds it gathers."""

    common_type: tuple[int, int, bool]  # (offset, size, signed)
    # per kind: (tracepoint id, lane kind, fixed end, dev, sector, nr_sector, bytes, rwbs), as set_lane takes them
    kinds: list[tuple]
    names: list[tuple[str, int, int]]  # per kind: (name, tracepoint id, fixed end)
    tracepoint_attrs: list[bool]  # per attr: whether it is a tracepoint (only their RAW payloads are records)

    def apply(self, scanner) -> None:
        scanner.set_lane(self.common_type, self.kinds, self.tracepoint_attrs)


def lane_setup(formats: FormatTable, attrs: list[tuple]) -> LaneSetup | None:
    """The lane of a capture with these format files and attrs (the scanner's meta()["attrs"]);
    None where it has no block request the lane reads."""
    got = lane_kinds(formats)
    if got is None:
        return None
    t, kinds = got
    return LaneSetup(
        (t.offset, t.size, t.signed),
        [(tp, kind, end, *layout) for tp, kind, _, end, layout in kinds],
        [(name, tp, end) for tp, _, name, end, _ in kinds],
        [tp is not None for _, tp, _ in attrs],
    )


def scanner_lane(scanner, path: str) -> LaneSetup | None:
    """The lane of the perf.data ``scanner`` reads, from its tracing data; None where it has none:
    no tracing data in the header (pipe mode meets it in the stream), a cut file (the format files
    went with the cut), or format files the reader refuses (it says why where it reads them)."""
    if scanner.cut() is not None:
        return None
    data = scanner.tracing_data()
    if data is None:
        return None
    try:
        head = read_tracing_data(data, path)
    except TraceParseError:
        return None
    return lane_setup(head.formats, scanner.meta()["attrs"])


def ahead_key(chunk_bytes: int) -> tuple:
    """What prefetch.py names a scanner it set up and started decoding by: the reader takes it only
    for the same lane and the same batches (no call chains: the block report reads none)."""
    return ("perf-data", "block-lane", LANE_EVENTS, chunk_bytes)
