"""Kernel ring-buffer pages, as trace-cmd copies them from ``per_cpu/cpuN/trace_pipe_raw`` into a trace.dat.

Each page (a "sub-buffer", 4 KiB unless ``buffer_subbuf_size_kb`` was changed) is described by the
capture's own ``events/header_page``:

    field: u64 timestamp;   offset:0;   size:8;     signed:0;
    field: local_t commit;  offset:8;   size:8;     signed:1;     <- 4 on a 32-bit kernel
    field: char data;       offset:16;  size:4080;  signed:0;

``commit`` is the number of data bytes used; bit 31 says events were lost before this page, bit 30
that their count is stored as a long right after the data. The data is a run of records, each a
32-bit header (``events/header_event``) then an optional 32-bit ``array[0]``:

    type_len:5 time_delta:27   (type_len is the top 5 bits on big-endian machines)
    type_len 1..28   data record, type_len * 4 bytes of data follow
    type_len 0       data record, array[0] = data length + 4, data follows array[0]
    type_len 29      padding (a discarded record) of array[0] bytes; time_delta 0 = rest of page empty
    type_len 30      time extend: delta = array[0] << 27 | time_delta
    type_len 31      absolute time stamp: ts = array[0] << 27 | time_delta (kernel 5.10+)

A record's time is the page timestamp plus the sum of the deltas before it (its own included).
The walk is native (``native/src/ring_buffer.rs``): one pass over the pages, no Python per record.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PageLayout:
    """Where a page's header fields are, from header_page, and the byte order of the capture."""

    page_size: int
    ts_offset: int = 0
    commit_offset: int = 8
    commit_size: int = 8  # the kernel's long size
    data_offset: int = 16
    endian: str = "<"


@dataclass
class Records:
    """The data records of a batch of pages, in page order then record order (so time order per CPU)."""

    start: np.ndarray  # int64 byte offset in the batch buffer of each record's data (its common_type)
    length: np.ndarray  # int64 data length in bytes
    ts: np.ndarray  # uint64 raw timestamp (clock units)
    page: np.ndarray  # int64 page index in the batch
    lost: np.ndarray  # per page: events lost before it (0 none, -1 lost but count unknown)
    bad_pages: int  # pages whose header or records were corrupt (read up to the damage)


def decode_pages(buf, layout: PageLayout) -> Records:
    """Walk every record of ``buf`` (bytes, or a uint8 array, of whole pages) and return its data records."""
    import numpy as np  # (here: PageLayout is read by polars- and numpy-free code, tracing_sections.py)

    from . import _native

    raw = buf if isinstance(buf, bytes) else np.ascontiguousarray(buf).tobytes()
    start, length, ts, page, lost, bad = _native.decode_pages(
        raw, layout.page_size, layout.ts_offset, layout.commit_offset, layout.commit_size, layout.data_offset,
        layout.endian == ">",
    )
    i64 = np.int64
    return Records(
        start=np.frombuffer(start, i64), length=np.frombuffer(length, i64), ts=np.frombuffer(ts, np.uint64),
        page=np.frombuffer(page, i64), lost=np.frombuffer(lost, i64), bad_pages=bad,
    )
