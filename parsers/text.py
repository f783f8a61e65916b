"""The engine shared by the text parsers: chunked reading, line classification, call chains, lost records.

A text capture is a column of lines. Each dialect (perf script, ftrace) says with regexes which
lines start an event, which are call-chain frames, which report lost events and which carry
nothing; everything here works on whole columns of lines with polars, never line by line.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import polars as pl

from .payloads import typed_frames
from .schema import Chunk
from .source import Source

CHUNK_BYTES = 6 << 20  # measured: with the parser running a chunk ahead, 6 MB keeps peak RSS ~360 MB on 1.3 GB; 8 MB went past 400 MB
MAX_CHUNK_LINES = 64_000  # measured: a -g capture's 6 MB chunk holds 135k lines and peaks near 400 MB RSS
MAX_CARRY_LINES = 1 << 18  # a "call chain" longer than this is garbage: parse it rather than grow


@dataclass(frozen=True)
class Dialect:
    name: str  # the ``source.format`` it produces
    # an event line is COMM + PREFIX + ".frac: " + event + ": " + payload; PREFIX (up to the timestamp's
    # whole seconds, matched from the end) has groups pid, tgid?, cpu (or cpu_l), sec
    prefix: str
    frame: str  # call-chain frame line (a test only: no groups, so the regex engine needs no captures)
    frame_sym: Callable[[pl.Expr], pl.Expr]  # a frame line -> its symbol text, by literal strips
    quiet: str  # lines that carry no event and are not errors (comments, headers, blank, stack markers)
    lost: str  # lost-event record: groups ``cpu`` (may be empty) and ``n``
    lost_hint: str  # a literal every lost-event record holds: the regex only runs on those lines
    event_name: Callable[[pl.Expr], pl.Expr]  # spelled-as-printed -> "system:name"
    # a line that opens a call chain belonging to the last event on its CPU (ftrace's "<stack trace>"),
    # group ``cpu``; None where the chain follows its event line directly (perf)
    marker: str | None = None
    comm_strip: str = r"^$"  # what to cut from the front of the comm (trace-cmd's instance name)
    frame_lead: str | None = None  # what every frame line, and no event line, starts with (perf: a TAB)


def dialects() -> tuple[Dialect, ...]:
    from .ftrace_text import FTRACE
    from .perf_script import PERF_SCRIPT

    return (PERF_SCRIPT, FTRACE)


def sniff_text(head: str) -> str | None:
    """The dialect whose event lines make up most of the first lines, or None."""
    lines = pl.DataFrame({"line": head.splitlines()[:2000]}, schema={"line": pl.String})
    best, best_hits = None, 0
    for d in dialects():
        hits = _split_heads(lines, d)["is_head"].sum()
        if hits > best_hits:
            best, best_hits = d.name, hits
    return best


def line_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[pl.DataFrame, bool]]:
    """Yield (frame of lines, is_last), every chunk ending on a line boundary.

    polars' CSV reader splits the lines (on both cores, keeping blank lines as nulls, decoding
    invalid UTF-8 lossily), with a separator and no quote char that trace text does not use.
    """
    tail = b""
    size = chunk_bytes
    while True:
        block = stream.read(size)
        if not block:
            yield _lines(tail), True
            return
        data = tail + block
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1 :]
        lines = _lines(data[: cut + 1])
        # memory follows the number of lines more than their bytes (call chains are short lines):
        # the next read aims at MAX_CHUNK_LINES lines, within [chunk_bytes / 8, chunk_bytes]
        size = max(chunk_bytes // 8, min(chunk_bytes, (cut + 1) * MAX_CHUNK_LINES // max(lines.height, 1)))
        yield lines, False


def _lines(data: bytes) -> pl.DataFrame:
    if not data:
        return pl.DataFrame(schema={"line": pl.String})
    df = pl.read_csv(
        data, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String},
        encoding="utf8-lossy", truncate_ragged_lines=True,
    )
    return df.with_columns(pl.col("line").fill_null("").str.strip_suffix("\r"))


def parse_text(
    stream: BinaryIO, source: Source, dialect: Dialect, chunk_bytes: int = CHUNK_BYTES, stacks: bool = True
) -> Iterator[Chunk]:
    """Stream ``stream`` as ``dialect`` text into Chunks, counting what does not parse into ``source``.

    Two stages overlap on the two cores: this thread reads and finds the event lines of chunk k+1
    (which decides where the chunk ends) while one worker types chunk k's payloads; the worker is
    alone, so chunks, skipped-line counts and stack ids keep their order.
    """
    carry = pl.DataFrame(schema={"line": pl.String})
    carry_no = 1
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="traceparse-text") as worker:
        for lines, last in line_chunks(stream, chunk_bytes):
            lines = pl.concat([carry, lines])
            df = lines.with_row_index("no", offset=carry_no)
            df = _with_heads(df, dialect)
            keep = df.height
            if not last:
                # The last event may still have call-chain lines in the next chunk: parse it there.
                idx = df["is_head"].arg_true()
                keep = int(idx[-1]) if len(idx) else 0
                if keep == 0 and df.height < MAX_CARRY_LINES:
                    carry = lines  # one event and its call chain so far: wait for the rest
                    continue
                keep = keep or df.height
            carry = lines.slice(keep)
            carry_no += keep
            pending.append(worker.submit(_parse_lines, df.head(keep), source, dialect, stacks))
            while len(pending) > 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _with_heads(df: pl.DataFrame, d: Dialect) -> pl.DataFrame:
    """``df`` (line, no) with the event-line fields of ``_split_heads``. Lines that are plainly call-chain
    frames (perf indents them with a TAB, no comm does) skip the event-line search: in a -g capture
    they are 97% of the lines."""
    if d.frame_lead is None:
        return pl.concat([df, _split_heads(df, d)], how="horizontal")
    lead = df["line"].str.starts_with(d.frame_lead)
    if not lead.any():  # no call chains in this chunk
        return pl.concat([df, _split_heads(df, d)], how="horizontal")
    others = df.filter(~(lead & df["line"].str.contains(d.frame)))
    heads = pl.concat([others.select("no"), _split_heads(others, d)], how="horizontal")
    out = df.join(heads, on="no", how="left", maintain_order="left")
    return out.with_columns(pl.col("is_head").fill_null(False))


def _split_heads(df: pl.DataFrame, d: Dialect) -> pl.DataFrame:
    """Event-line fields of every line (nulls and ``is_head`` false where a line is no event line).

    Cheaper than one regex over the whole line (measured: 3x): a capture-free search finds the
    timestamp's ``.frac: ``, a literal split takes event and payload, and only the end of the short
    prefix meets a regex with groups; the comm is whatever stands before that match.
    """
    line = pl.col("line")
    dot = line.str.find(r"\.\d+: ")
    prefix = line.str.slice(0, dot)
    tail = line.str.slice(dot).str.splitn(": ", 3)
    out = df.lazy().select(
        prefix=prefix,
        g=prefix.str.extract_groups(d.prefix),
        frac=tail.struct.field("field_0").str.slice(1),
        event=tail.struct.field("field_1").str.strip_chars().str.strip_suffix(":"),
        payload=tail.struct.field("field_2"),
    ).unnest("g").collect()
    if out["event"].str.contains(" ", literal=True).any():  # "1 block:block_rq_issue": perf printed a period column
        out = out.with_columns(event=pl.col("event").str.extract(r"(\S+)$", 1))
    # the prefix regex is anchored at the end: the comm is what stands before its match
    comm = pl.col("prefix").str.slice(0, pl.col("prefix").str.find(d.prefix))
    out = out.with_columns(comm=comm if d.comm_strip == r"^$" else comm.str.replace(d.comm_strip, "")).drop("prefix")
    ok = pl.col("sec").is_not_null() & (pl.col("event").str.len_bytes() > 0) & ~pl.col("event").str.contains(">", literal=True)
    return out.with_columns(is_head=ok.fill_null(False))


def _parse_lines(df: pl.DataFrame, source: Source, d: Dialect, stacks: bool = True) -> Chunk:
    """One chunk's lines (with their event-line fields) -> typed frames, lost records, skipped lines."""
    if d.marker and df["line"].str.contains("stack trace>", literal=True).any():
        marker_cpu = df["line"].str.extract(d.marker, 1).cast(pl.Int16, strict=False)
    else:
        marker_cpu = pl.Series([None] * df.height, dtype=pl.Int16)
    # call-chain lines belong to the event or marker line above them
    df = df.with_columns(marker_cpu=marker_cpu).with_columns(
        seq=(pl.col("is_head") | pl.col("marker_cpu").is_not_null()).cum_sum()
    )
    line = pl.col("line")
    # call chains are most of a -g capture's lines: only regexes without groups see them all
    rest = df.filter(~pl.col("is_head")).with_columns(
        is_frame=line.str.contains(d.frame) & (pl.col("seq") > 0),
        is_lost=line.str.contains(d.lost_hint, literal=True) & line.str.contains(d.lost),
    )
    bad = rest.filter(~pl.col("is_frame") & ~pl.col("is_lost") & ~line.str.contains(d.quiet))
    if bad.height:
        source.skip(bad.height, int(bad["no"][0]), bad["line"][0])
    chunk = Chunk()
    chunk.lost_events, chunk.lost_by_cpu = _lost(rest.filter(pl.col("is_lost")), d)
    events = _events(df.filter(pl.col("is_head")), d)
    if stacks:
        events = _with_stacks(events, rest, source, d)
    chunk.frames = typed_frames(events, source)
    return chunk


def _lost(lines: pl.DataFrame, d: Dialect) -> tuple[int, dict[int, int]]:
    """Events the tracer said it dropped, in all and per CPU, from its lost-event records."""
    if not lines.height:
        return 0, {}
    g = pl.col("line").str.extract_groups(d.lost)
    lost = lines.select(n=g.struct.field("n").cast(pl.Int64, strict=False), cpu=g.struct.field("cpu").cast(pl.Int64, strict=False))
    by_cpu = lost.group_by("cpu").agg(pl.col("n").sum()).drop_nulls("cpu")
    return int(lost["n"].sum()), dict(zip(by_cpu["cpu"].to_list(), by_cpu["n"].to_list()))


def _with_stacks(events: pl.DataFrame, rest: pl.DataFrame, source: Source, d: Dialect) -> pl.DataFrame:
    """``events`` with ``stack_id``: each event's call-chain lines joined, interned in ``source.stacks``."""
    frames = rest.filter(pl.col("is_frame")).with_columns(sym=d.frame_sym(pl.col("line")))
    if frames.height and d.marker:
        frames = _owner_by_cpu(frames, rest.filter(pl.col("marker_cpu").is_not_null()), events)
    if not frames.height:
        return events
    joined = frames.group_by("seq").agg(pl.col("sym").str.join("\n").alias("stack"))
    joined = joined.with_columns(stack_id=source.stacks.intern(joined["stack"]))
    return events.join(joined.select("seq", "stack_id"), on="seq", how="left")


def _owner_by_cpu(stacks: pl.DataFrame, markers: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Re-point frames from their marker to the last event above it on the marker's CPU.

    ftrace records the stack as an event of its own right after the traced one on the same CPU;
    in merged output another CPU's event may stand between them.
    """
    owners = markers.select("no", "seq", cpu="marker_cpu").sort("no").join_asof(
        events.select("no", "cpu", owner="seq").sort("no"), on="no", by="cpu", strategy="backward", check_sortedness=False
    )
    out = stacks.join(owners.select("seq", "owner"), on="seq", how="left")
    return out.filter(pl.col("owner").is_not_null()).with_columns(seq=pl.col("owner")).drop("owner")


def _events(g: pl.DataFrame, d: Dialect) -> pl.DataFrame:
    """Event lines -> common columns (+ ``payload``, line number ``no`` and ``seq`` for later joins)."""
    if "tgid" not in g.columns:
        g = g.with_columns(tgid=pl.lit(None, pl.String))
    if "cpu_l" in g.columns:  # a dialect with two spellings of the CPU column
        g = g.with_columns(cpu=pl.coalesce("cpu", "cpu_l"))
    frac = pl.col("frac").str.slice(0, 9).str.pad_end(9, "0")
    return g.select(
        "no",
        "seq",
        ts_ns=pl.col("sec").cast(pl.Int64) * 1_000_000_000 + frac.cast(pl.Int64),
        cpu=pl.col("cpu").cast(pl.Int16),
        pid=pl.col("pid").cast(pl.Int32),
        tgid=pl.col("tgid").cast(pl.Int32, strict=False),
        comm=pl.col("comm").str.strip_chars(),
        event=d.event_name(pl.col("event")),
        payload=pl.col("payload").str.strip_chars().fill_null(""),
    )
