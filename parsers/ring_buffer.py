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
Pages are walked vectorized: one numpy step advances a cursor in every page of a batch at once, so the
Python loop runs once per record *position* (at most a few hundred for a 4 KiB page), not per record.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PADDING, TIME_EXTEND, TIME_STAMP = 29, 30, 31
MISSED_EVENTS, MISSED_STORED = 1 << 31, 1 << 30
TS_MSB = np.uint64(0xF8 << 56)


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


def decode_pages(buf: np.ndarray, layout: PageLayout) -> Records:
    """Walk every record of ``buf`` (a uint8 array of whole pages) and return its data records."""
    ps = layout.page_size
    npages = len(buf) // ps
    e = layout.endian
    if not npages:  # a block of compressed data shorter than a page: nothing whole to walk
        empty = np.zeros(0, np.int64)
        return Records(empty, empty, np.zeros(0, np.uint64), empty, empty, 0)
    raw = buf.data if buf.flags.c_contiguous else np.ascontiguousarray(buf).data
    page_ts = np.ndarray((npages,), dtype=f"{e}u8", buffer=raw, offset=layout.ts_offset, strides=(ps,))
    page_ts = page_ts.astype(np.uint64)
    commit = np.ndarray(
        (npages,), dtype=f"{e}u{layout.commit_size}", buffer=raw, offset=layout.commit_offset, strides=(ps,)
    ).astype(np.uint64)
    flags = commit & np.uint64(0xFFFFFFFF)
    size = (commit & np.uint64(MISSED_STORED - 1)).astype(np.int64)
    capacity = ps - layout.data_offset
    bad = size > capacity
    size = np.where(bad, 0, size)
    missed = (flags & np.uint64(MISSED_EVENTS)) != 0
    stored = missed & ((flags & np.uint64(MISSED_STORED)) != 0) & (size + layout.commit_size <= capacity)
    lost = np.where(missed, -1, 0).astype(np.int64)
    if stored.any():
        pages = np.nonzero(stored)[0]
        at = pages * ps + layout.data_offset + size[pages]
        idx = at[:, None] + np.arange(layout.commit_size)[None, :]
        count = np.ascontiguousarray(buf[idx]).view(f"{e}u{layout.commit_size}").reshape(-1)
        lost[pages] = count.astype(np.int64)

    words = np.ndarray((len(buf) // 4,), dtype=f"{e}u4", buffer=raw).astype(np.uint32)
    pw = ps // 4
    cur = np.arange(npages, dtype=np.int64) * pw + layout.data_offset // 4
    end = cur + size // 4
    active = np.nonzero(end > cur)[0]
    cur, end = cur[active], end[active]
    pos_parts, type_parts, delta_parts, arr_parts = [], [], [], []
    nwords = len(words)
    corrupt = np.zeros(npages, dtype=bool)
    big = e == ">"
    while len(cur):
        hdr = words[cur]
        if big:
            tl, delta = hdr >> 27, hdr & 0x7FFFFFF
        else:
            tl, delta = hdr & 31, hdr >> 5
        arr0 = words[np.minimum(cur + 1, nwords - 1)]
        n = np.where(tl <= 28, 1 + tl, 2).astype(np.int64)
        sized = (tl == 0) | ((tl == PADDING) & (delta != 0))
        n = np.where(sized, 1 + (arr0.astype(np.int64) + 3) // 4, n)
        null_pad = (tl == PADDING) & (delta == 0)
        nxt = cur + n
        broken = (sized & (arr0 < 4) & (tl == 0)) | (nxt > end)
        keep = ~null_pad & ~broken
        pos_parts.append(cur[keep])
        type_parts.append(tl[keep])
        delta_parts.append(delta[keep])
        arr_parts.append(arr0[keep])
        if broken.any():
            corrupt[cur[broken] // pw] = True
        go = keep & (nxt < end)
        cur, end = nxt[go], end[go]

    pos = np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64)
    order = np.argsort(pos, kind="stable")
    pos = pos[order]
    tl = np.concatenate(type_parts)[order] if pos_parts else np.zeros(0, np.uint32)
    delta = np.concatenate(delta_parts)[order].astype(np.uint64) if pos_parts else np.zeros(0, np.uint64)
    arr0 = np.concatenate(arr_parts)[order].astype(np.uint64) if pos_parts else np.zeros(0, np.uint64)
    page = pos // pw

    ts = _timestamps(page, tl, delta, arr0, page_ts)
    data = tl <= 28
    start = np.where(tl == 0, pos + 2, pos + 1) * 4
    length = np.where(tl == 0, arr0.astype(np.int64) - 4, tl.astype(np.int64) * 4)
    return Records(
        start=start[data],
        length=length[data],
        ts=ts[data],
        page=page[data],
        lost=lost,
        bad_pages=int((bad | corrupt).sum()),
    )


def _timestamps(page, tl, delta, arr0, page_ts) -> np.ndarray:
    """Per-record time: page time + running sum of deltas, restarted at absolute time stamps."""
    n = len(page)
    if not n:
        return np.zeros(0, np.uint64)
    wide = (arr0 << np.uint64(27)) | delta
    inc = np.where(tl == TIME_EXTEND, wide, delta)
    inc = np.where(tl == TIME_STAMP, np.uint64(0), inc)
    csum = np.cumsum(inc, dtype=np.uint64)
    first = np.ones(n, dtype=bool)
    first[1:] = page[1:] != page[:-1]
    is_abs = tl == TIME_STAMP
    seg_start = first | is_abs
    s = np.maximum.accumulate(np.where(seg_start, np.arange(n), 0))
    base = page_ts[page[s]]
    # An absolute stamp keeps only 59 bits; the top 5 come from the time before it (rb_fix_abs_ts).
    absval = wide | (base & TS_MSB)
    base = np.where(is_abs[s], absval[s], base)
    return base + (csum - csum[s]) + inc[s]
