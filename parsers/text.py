"""The engine shared by the text parsers: chunked reading, then the native scanner.

A text capture is read in chunks of whole lines; the scanner (parsers/native/src/text.rs) finds
each chunk's event lines, call-chain frames, lost-event records and the lines that carry nothing,
types the payloads of the events reports know and hands over columns: numeric buffers and interned
strings, never a Python object per event. Each dialect (perf script, ftrace) is described in its
module, with the lines it was written for.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import polars as pl

from . import _native, prefetch
from .errors import TraceParseError
from .payloads import fields
from .schema import BLOCK_EVENTS, NET_EVENTS, BlockLane, Chunk, KindStats, LaneStrings, conform
from .source import Source
from .text_alone import SCANNERS, RunStrings, scan_alone, scanned_ahead
from .text_dialect import MAX_LINE_BYTES, Dialect, dialects, lane_scanner_args, sniff_text  # noqa: F401 - the text engine's names

CHUNK_BYTES = 6 << 20  # measured: with the parser running a chunk ahead, 6 MB keeps peak RSS ~360 MB on 1.3 GB; 8 MB went past 400 MB
MAX_CHUNK_LINES = 64_000  # measured: a -g capture's 6 MB chunk holds 135k lines and peaks near 400 MB RSS
# With the block lane (the block report) a line costs a few dozen bytes of columns, not a frame row.
# Two chunks are scanned at once (text_alone.py) and the report records finished requests in
# batches, not per chunk: measured on the capture that lost its completes (bench/README.md), 8 MB
# chunks peaked at 290-305 MB RSS, 6 MB at 276-281, 4 MB at 257-259 (1.3 GB of text: 8% more CPU).
LANE_CHUNK_BYTES = 4 << 20
LANE_CHUNK_LINES = 1 << 19
_CUT_SHOWN = 60  # how much of a cut line is kept, for the "first skipped line" message


def sniff_window(stream: BinaryIO, want: int = 1 << 16, limit: int = 256 << 20) -> bytes:
    """Up to ``want`` bytes of the whole lines of ``stream`` that are not over the bound (reading at
    most ``limit`` bytes), for sniffing past a first line longer than a peek sees."""
    kept: list[bytes] = []
    size, seen, line, skipping = 0, 0, b"", False
    while size < want and seen < limit:
        block = stream.read(1 << 20)
        if not block:
            break
        seen += len(block)
        if skipping:  # inside a line over the bound: only its end matters
            nl = block.find(b"\n")
            if nl < 0:
                continue
            block, skipping = block[nl + 1 :], False
        parts = (line + block).split(b"\n")
        line = parts.pop()
        whole = [p for p in parts if len(p) <= MAX_LINE_BYTES]
        kept += whole
        size += sum(map(len, whole)) + len(whole)
        if len(line) > MAX_LINE_BYTES:
            line, skipping = b"", True
    return b"\n".join(kept)


def line_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES, max_lines: int | None = None) -> Iterator[tuple[bytes, list[bytes], bool]]:
    """Yield (whole lines, lines cut before them, is_last), every chunk ending on a line boundary
    (the last one may end without a newline)."""
    for head, data, end, cuts, last in reads(stream, chunk_bytes, max_lines):
        yield (head + data[:end] if head else data[:end]), cuts, last


def reads(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES, max_lines: int | None = None) -> Iterator[tuple[bytes, bytes, int, list[bytes], bool]]:
    """Yield the reads of ``stream`` as (head, data, end, cuts, is_last): the chunk's lines are
    ``head + data[:end]`` (``head``: the line the previous read ended inside; the rest of ``data``
    is the next chunk's head), after the lines ``cuts``. The scanner takes them so, with no copy
    of a read; the last chunk may end without a newline.

    A line over MAX_LINE_BYTES is cut: while its end is looked for, only its first bytes are kept
    (they are handed over in ``cuts``), so a 2 GB line costs a read, not 2 GB.
    """
    tail = b""  # the unfinished last line, never over the bound
    cut_head: bytes | None = None  # the start of a line over the bound whose newline is still ahead
    cuts: list[bytes] = []  # cut lines that stand before the next chunk's lines
    size = chunk_bytes
    max_lines = max_lines or MAX_CHUNK_LINES
    while True:
        block = stream.read(size)
        if not block:
            if cut_head is not None:
                cuts.append(cut_head)
            yield tail, b"", 0, cuts, True
            return
        if cut_head is not None:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            cuts.append(cut_head)
            cut_head, block = None, block[nl + 1 :]
        cut = block.rfind(b"\n")
        if cut < 0:  # the read holds no line end: all of it continues the unfinished line
            tail += block
            if len(tail) > MAX_LINE_BYTES:
                cut_head, tail = tail[:_CUT_SHOWN], b""
            continue
        head, tail = tail, block[cut + 1 :]
        if len(tail) > MAX_LINE_BYTES:
            cut_head, tail = tail[:_CUT_SHOWN], b""
        # a bound no chunk can reach (lines of 16 bytes and more) needs no count
        lines = block.count(b"\n", 0, cut + 1) + len(cuts) if max_lines * 16 < chunk_bytes else 0
        yield head, block, cut + 1, cuts, False
        cuts = []
        # memory follows the number of lines more than their bytes (call chains are short lines):
        # the next read aims at max_lines lines, within [chunk_bytes / 8, chunk_bytes]
        size = max(chunk_bytes // 8, min(chunk_bytes, (len(head) + cut + 1) * max_lines // max(lines, 1)))


def line_frames(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[pl.DataFrame, bool]]:
    """The text as (a column ``line`` of whole lines, is_last), for a report that must read perf
    script's lines as they are (stacks' stackcollapse-perf compatibility: periods, addresses, old
    formats the event scanner does not keep). A line cut at MAX_LINE_BYTES stands as a NUL and its
    first bytes: no sample line starts so."""
    for data, cuts, last in line_chunks(stream, chunk_bytes):
        text = data.decode("utf-8", "replace")
        line = pl.Series("line", [text]).str.split("\n").explode()
        if data.endswith(b"\n") or not data:
            line = line.head(-1)
        df = line.str.strip_suffix("\r").to_frame()
        if cuts:
            shown = ["\x00" + c.decode("utf-8", "replace") for c in cuts]
            df = pl.concat([pl.DataFrame({"line": shown}, schema={"line": pl.String}), df])
        yield df, last


def parse_text(
    stream: BinaryIO, source: Source, dialect: Dialect, chunk_bytes: int | None = None, stacks: bool = True,
    payload: bool = True, block_lane: bool = False,
) -> Iterator[Chunk]:
    """Stream ``stream`` as ``dialect`` text into Chunks, counting what does not parse into ``source``.

    ``payload=False`` leaves block events' payload text null, ``stacks=False`` call chains out,
    ``block_lane=True`` hands block_rq_insert/issue/complete over as the block lane instead of frames
    (see ``read_capture``). The scanner releases the GIL: the reader's thread scans chunk k+1 while
    the report works on chunk k.
    """
    def scanner():
        return _native.TextScanner(
            dialect.name, stacks, payload, list(BLOCK_EVENTS), list(NET_EVENTS), list(dialect.systems), list(dialect.exact),
            block_lane,
        )

    lean = block_lane and not stacks  # a chunk's lines go to the lane or are counted: few bytes each
    size = chunk_bytes or (LANE_CHUNK_BYTES if lean else CHUNK_BYTES)
    chunks = reads(stream, size, LANE_CHUNK_LINES if lean and not chunk_bytes else None)
    if lean:  # no call chains: no chunk needs the one before, two are scanned at once
        ahead = None if chunk_bytes else _file_ahead(stream, source, dialect)
        if ahead is not None:
            yield from _read_ahead_chunks(ahead, source)
            return
        run = RunStrings(SCANNERS)
        for out in scan_alone([scanner() for _ in range(SCANNERS)], chunks, run):
            yield _chunk(out, source, run.strings, learn=False)
        return
    one, strings = scanner(), LaneStrings()
    for head, data, end, cuts, last in chunks:
        out = one.scan(data, cuts, last, head, end)
        if out is not None:
            yield _chunk(out, source, strings)


def _read_ahead_chunks(ahead, source: Source) -> Iterator[Chunk]:
    """The Chunks of the native reading: its lanes in the run's string codes, learned as they come.
    A read that fails (or a scanner that fails on a chunk) is one line naming the file and where."""
    strings = LaneStrings()
    try:
        for out in scanned_ahead(ahead):
            yield _chunk(out, source, strings)
    except OSError as exc:
        raise TraceParseError(f"{source.path}: {exc}") from None


def _file_ahead(stream: BinaryIO, source: Source, dialect: Dialect):
    """The native reading of the file ``stream`` reads, where it is a plain file on disk read from
    its start (prefetch.py's, started before the imports, or one started now); else None."""
    raw = getattr(stream, "raw_file", None)
    path = source.path
    plain = source.compression is None and raw is stream and isinstance(raw, io.BufferedReader)
    if not plain or getattr(raw, "name", None) != path or not os.path.isfile(path):
        return None
    try:
        if raw.tell() != 0:
            return None
    except OSError:
        return None
    args = lane_scanner_args(dialect)
    try:
        return prefetch.take(path, ("text", args)) or _native.TextAhead(path, *args)
    except OSError:  # (it was just opened: gone since) the stream, open already, is read instead
        return None


def _chunk(out: dict, source: Source, strings: LaneStrings, learn: bool = True) -> Chunk:
    """The scanner's output for one chunk -> frames by kind, lost counts; skips and stacks into ``source``."""
    if out["skipped"]:
        no, text = out["first_skip"]
        source.skip(out["skipped"], no, text)
    _add_stacks(source, out)
    # (the native reading says how far into the file it is; a stream's position says it otherwise)
    chunk = Chunk(lost_events=out["lost_events"], lost_by_cpu=dict(out["lost_by_cpu"]), read_fraction=out.get("read_fraction"))
    chunk.frames = {k["name"]: _frame(k) for k in out["kinds"]}
    lane = out["lane"]
    if lane is not None:
        if learn:  # (scan_alone's chunks come in the run's codes already)
            strings.learn(*lane["new_strings"], lane["strings_before"])
        chunk.block_lane = BlockLane(lane["cols"], strings)
        chunk.kind_stats = [KindStats(*s) for s in lane["stats"]]
    return chunk


def _add_stacks(source: Source, out: dict) -> None:
    """Call chains first seen in this chunk, in id order: once per distinct chain, not per event."""
    if not out["new_counts"]:
        return
    table = source.stacks
    assert len(table.frames) == out["stacks_before"], "the scanner's call chains and the Source's went apart"
    syms = out["new_frames"].decode().split("\n")
    at = 0
    for n in out["new_counts"]:
        key = tuple(syms[at : at + n])
        at += n
        table._ids[key] = len(table.frames)
        table.frames.append(key)


def _num(b: bytes, dtype: str) -> pl.Series:
    return pl.Series(np.frombuffer(b, dtype=dtype))


def _strings(blob: bytes, n: int) -> pl.Series:
    """``n`` strings, each followed by a newline in ``blob`` (none holds one: they come from lines)."""
    if not n:
        return pl.Series([], dtype=pl.String)
    return pl.Series([blob.decode()]).str.split("\n").explode().head(n)


def _coded(col: tuple[bytes, bytes, int]) -> pl.Series:
    """Codes into a table of distinct strings; code ``n`` (past the table) is null."""
    codes, blob, n = col
    table = pl.concat([_strings(blob, n), pl.Series([None], dtype=pl.String)])
    return table.gather(_num(codes, "<u4"))


def _frame(k: dict) -> pl.DataFrame:
    """One kind's columns, as the schema has them."""
    name, n = k["name"], k["n"]
    cols = {
        "ts_ns": _num(k["ts_ns"], "<i8"),
        "cpu": _num(k["cpu"], "<i2"),
        "pid": _num(k["pid"], "<i4"),
        "tgid": _num(k["tgid"], "<i4"),
        "tgid_ok": _num(k["tgid_ok"], "u1"),
        "comm": _coded(k["comm"]),
        "event": pl.repeat(name, n, eager=True, dtype=pl.String),
        "stack_id": _num(k["stack_id"], "<i4"),
    }
    if k["payload"] is not None:
        cols["payload"] = _strings(*k["payload"])
    nulls = {"tgid": pl.col("tgid_ok") > 0, "stack_id": pl.col("stack_id") >= 0}
    if k["class"] == "block":
        for c in ("dev", "rwbs", "ioprio", "rq_comm"):
            cols[c] = _coded(k[c])
        for c, t in (("dev_major", "<u4"), ("dev_minor", "<u4"), ("sector", "<u8"), ("nr_sector", "<u4"), ("bytes", "<u8"),
                     ("bytes_ok", "u1"), ("error", "<i4"), ("error_ok", "u1")):
            cols[c] = _num(k[c], t)
        nulls |= {"bytes": pl.col("bytes_ok") > 0, "error": pl.col("error_ok") > 0}
    elif k["class"] == "net":
        cols |= {"dev_name": _coded(k["dev_name"]), "skbaddr": _coded(k["skbaddr"]), "len": _num(k["len"], "<u4"),
                 "len_ok": _num(k["len_ok"], "u1")}
        nulls["len"] = pl.col("len_ok") > 0
    df = pl.DataFrame(cols).with_columns(pl.when(ok).then(c).alias(c) for c, ok in nulls.items())
    if k["class"] == "other":
        df = df.with_columns(fields=fields(pl.col("payload")))
    return conform(df, name)
