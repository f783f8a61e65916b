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
# No trace line comes near this (a -g frame or a payload is a few hundred bytes): a longer one is
# damage (a file glued to binary data, a copy cut inside a line). It is cut: one skipped line, and
# no more than this much of it is ever held, however far its newline is.
MAX_LINE_BYTES = 1 << 20
# A cut line stands in the column of lines as CUT + its first bytes: no line read can hold a newline,
# so the stand-in is told from every real line whatever bytes the input had.
CUT = "\n"
_CUT_SHOWN = 60  # how much of a cut line is kept, for the "first skipped line" message
# ns timestamps are Int64: the latest second (and nanosecond in it) that one can hold
MAX_SEC, MAX_SEC_NS = divmod(2**63 - 1, 1_000_000_000)


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
    # events that print their own name and no "name: " (ftrace's syscalls: "sys_write(fd: 1, ...)"):
    # a literal their text starts with, and the text after the timestamp -> struct {event, payload}
    # (null where the text is not of that form)
    own_hint: str | None = None
    own_form: Callable[[pl.Expr], pl.Expr] | None = None
    # a literal every event name holds (perf: the ':' of "system:name"); a name that ends its line
    # without it was cut inside ("2856.934950:   block:" is no event "block")
    name_has: str | None = None


def dialects() -> tuple[Dialect, ...]:
    from .ftrace_text import FTRACE
    from .perf_script import PERF_SCRIPT

    return (PERF_SCRIPT, FTRACE)


def sniff_text(head: bytes) -> str | None:
    """The dialect whose event lines make up most of the first lines (lines over the bound left out), or None."""
    lines = [l for l in head.split(b"\n")[:2000] if len(l) <= MAX_LINE_BYTES]
    lines = _lines(b"\n".join(lines) + b"\n")
    best, best_hits = None, 0
    for d in dialects():
        hits = _split_heads(lines, d)["is_head"].sum()
        if hits > best_hits:
            best, best_hits = d.name, hits
    return best


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


def line_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[pl.DataFrame, bool]]:
    """Yield (frame of lines, is_last), every chunk ending on a line boundary.

    A line over MAX_LINE_BYTES becomes its stand-in (``CUT`` + its first bytes) in the frame: while
    its end is looked for, only its first bytes are kept, so a 2 GB line costs a read, not 2 GB.
    """
    tail = b""  # the unfinished last line, never over the bound
    cut_head: bytes | None = None  # the start of a line over the bound whose newline is still ahead
    cuts: list[bytes] = []  # cut lines that stand before the next chunk's lines
    size = chunk_bytes
    while True:
        block = stream.read(size)
        if not block:
            if cut_head is not None:
                cuts.append(cut_head)
            yield _lines(tail, cuts), True
            return
        if cut_head is not None:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            cuts.append(cut_head)
            cut_head, block = None, block[nl + 1 :]
        data = tail + block if tail else block
        cut = data.rfind(b"\n")
        tail = data[cut + 1 :]
        if len(tail) > MAX_LINE_BYTES:
            cut_head, tail = tail[:_CUT_SHOWN], b""
        if cut < 0:
            continue
        lines = _lines(data[: cut + 1], cuts)
        cuts = []
        # memory follows the number of lines more than their bytes (call chains are short lines):
        # the next read aims at MAX_CHUNK_LINES lines, within [chunk_bytes / 8, chunk_bytes]
        size = max(chunk_bytes // 8, min(chunk_bytes, (cut + 1) * MAX_CHUNK_LINES // max(lines.height, 1)))
        yield lines, False


def _lines(data: bytes, cuts: list[bytes] = ()) -> pl.DataFrame:
    """Split ``data`` on newlines alone, after the stand-ins of ``cuts`` (lines cut before it).

    One string split in polars: no byte can confuse it (the CSV reader used before took 0x1F for a
    column separator), and decoding is lossy, so NUL and invalid UTF-8 are plain characters of a line.
    Measured on 112 MB of perf text: as fast as the CSV reader was (split is 2% of the parse).
    """
    text = data.decode("utf-8", "replace")
    line = pl.Series("line", [text]).str.split("\n").explode()
    if data.endswith(b"\n") or not data:
        line = line.head(-1)
    df = line.str.strip_suffix("\r").to_frame()
    if (df["line"].str.len_bytes() > MAX_LINE_BYTES).any():
        long = pl.col("line").str.len_bytes() > MAX_LINE_BYTES
        df = df.with_columns(line=pl.when(long).then(_stand_in(pl.col("line").str.slice(0, _CUT_SHOWN))).otherwise("line"))
    if cuts:
        shown = pl.DataFrame({"line": [c.decode("utf-8", "replace") for c in cuts]}, schema={"line": pl.String})
        df = pl.concat([shown.select(_stand_in(pl.col("line")).alias("line")), df])
    return df


def _stand_in(shown: pl.Expr) -> pl.Expr:
    return pl.lit(f"{CUT}[a line over {MAX_LINE_BYTES >> 20} MB, cut] ") + shown


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
    return out.with_columns(pl.col("is_head").fill_null(False), pl.col("cut").fill_null(False))


def _split_heads(df: pl.DataFrame, d: Dialect) -> pl.DataFrame:
    """Event-line fields of every line (nulls and ``is_head`` false where a line is no event line).

    Cheaper than one regex over the whole line (measured: 3x): a capture-free search finds the
    timestamp's ``.frac: ``, a literal split takes event and payload, and only the end of the short
    prefix meets a regex with groups; the comm is whatever stands before that match.
    An event name ends with ':' (``name: payload``, or ``name:`` with the payload empty): a line cut
    inside the name (``2856.934950:   block:blo``) is no event line.
    """
    line = pl.col("line")
    ascii_only = _ascii(df)  # one scan of the chunk decides how positions are counted below
    dot = _dot(ascii_only)
    prefix = line.str.slice(0, dot)
    # each step a column of its own: the split is the costly part, and is made once
    parts = df.lazy().select(prefix=prefix, t=line.str.slice(dot).str.splitn(": ", 3), cut=line.str.starts_with(CUT))
    name = pl.col("field_1").str.strip_chars()
    out = parts.unnest("t").select(
        "prefix",
        "cut",
        g=pl.col("prefix").str.extract_groups(d.prefix),
        frac=pl.col("field_0").str.slice(1),
        event=name,
        payload=pl.col("field_2"),
    ).with_columns(
        event=pl.col("event").str.strip_suffix(":"),
        named=pl.col("payload").is_not_null() | (pl.col("event").str.ends_with(":") & _holds(pl.col("event").str.strip_suffix(":"), d.name_has)),
    ).unnest("g").collect()
    if d.own_form is not None and out["event"].str.starts_with(d.own_hint).any():
        out = _own_form(out, df, d, dot)
    if out["event"].str.contains(" ", literal=True).any():  # "1 block:block_rq_issue": perf printed a period column
        out = out.with_columns(event=pl.col("event").str.extract(r"(\S+)$", 1))
    # the prefix regex is anchored at the end: the comm is what stands before its match
    if ascii_only:
        comm = pl.col("prefix").str.slice(0, pl.col("prefix").str.find(d.prefix))
    else:  # find counts bytes, slice characters (see _dot)
        comm = pl.col("prefix").str.replace(d.prefix, "")
    out = out.with_columns(comm=comm if d.comm_strip == r"^$" else comm.str.replace(d.comm_strip, "")).drop("prefix")
    ok = (
        pl.col("sec").is_not_null() & pl.col("named") & ~pl.col("cut")
        & (pl.col("event").str.len_bytes() > 0) & ~pl.col("event").str.contains(">", literal=True)
    )
    return out.with_columns(is_head=ok.fill_null(False)).drop("named")


def _dot(ascii_only: bool) -> pl.Expr:
    """Where each line's ``.frac: `` starts, in characters (what ``str.slice`` counts). ``str.find``
    counts bytes: right while the lines are ASCII; a comm in UTF-8 (or a byte decoded to U+FFFD)
    needs the slower regex."""
    line = pl.col("line")
    found = line.str.find(r"\.\d+: ")
    if ascii_only:
        return found
    chars = line.str.extract(r"^(.*?)\.\d+: ", 1).str.len_chars()
    return pl.when(line.str.len_bytes() == line.str.len_chars()).then(found).otherwise(chars)


def _ascii(df: pl.DataFrame) -> bool:
    return df["line"].str.len_bytes().sum() == df["line"].str.len_chars().sum()


def _holds(name: pl.Expr, literal: str | None) -> pl.Expr:
    return pl.lit(True) if literal is None else name.str.contains(literal, literal=True)


def _own_form(out: pl.DataFrame, df: pl.DataFrame, d: Dialect, dot: pl.Expr) -> pl.DataFrame:
    """Event and payload of the lines whose event prints its own name (see ``Dialect.own_form``)."""
    line = pl.col("line")
    after = line.str.slice(dot).str.splitn(": ", 2).struct.field("field_1")
    own = df.select(own=d.own_form(after))["own"]
    hit = own.struct.field("event").is_not_null()
    return out.with_columns(
        event=pl.when(hit).then(own.struct.field("event")).otherwise("event"),
        payload=pl.when(hit).then(own.struct.field("payload")).otherwise("payload"),
        named=pl.col("named") | hit,
    )


def _parse_lines(df: pl.DataFrame, source: Source, d: Dialect, stacks: bool = True) -> Chunk:
    """One chunk's lines (with their event-line fields) -> typed frames, lost records, skipped lines."""
    line = pl.col("line")
    if d.marker and df["line"].str.contains("stack trace>", literal=True).any():
        marker_cpu = df.select(pl.when(pl.col("cut")).then(None).otherwise(line.str.extract(d.marker, 1)))
        marker_cpu = marker_cpu.to_series().cast(pl.Int16, strict=False)
    else:
        marker_cpu = pl.Series([None] * df.height, dtype=pl.Int16)
    # call-chain lines belong to the event or marker line above them
    df = df.with_columns(marker_cpu=marker_cpu).with_columns(
        seq=(pl.col("is_head") | pl.col("marker_cpu").is_not_null()).cum_sum()
    )
    # call chains are most of a -g capture's lines: only regexes without groups see them all
    real = ~pl.col("cut")
    rest = df.filter(~pl.col("is_head")).with_columns(
        is_frame=line.str.contains(d.frame) & (pl.col("seq") > 0) & real,
        is_lost=line.str.contains(d.lost_hint, literal=True) & line.str.contains(d.lost) & real,
    )
    bad = [rest.filter(~pl.col("is_frame") & ~pl.col("is_lost") & ~(line.str.contains(d.quiet) & real))]
    chunk = Chunk()
    chunk.lost_events, chunk.lost_by_cpu = _lost(rest.filter(pl.col("is_lost")), d)
    events, wide = _events(df.filter(pl.col("is_head")), d)
    bad.append(wide)
    if stacks:
        events = _with_stacks(events, rest, source, d)
    chunk.frames, bad_payloads = typed_frames(events)
    _skip(source, bad + bad_payloads)
    return chunk


def _skip(source: Source, bad: list[pl.DataFrame]) -> None:
    """Count a chunk's unreadable lines (frames of ``no``, ``line``) at once, so the first one named is
    the first in the input whichever stage found it."""
    bad = [b.select("no", "line") for b in bad if b.height]
    if bad:
        bad = pl.concat(bad)
        first = bad.row(int(bad["no"].arg_min()))
        source.skip(bad.height, int(first[0]), first[1].removeprefix(CUT))


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


def _events(g: pl.DataFrame, d: Dialect) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Event lines -> (common columns (+ ``payload``, line number ``no`` and ``seq`` for later joins),
    the lines whose numbers do not fit their column: a pid past Int32, a time past Int64 ns)."""
    if "tgid" not in g.columns:
        g = g.with_columns(tgid=pl.lit(None, pl.String))
    if "cpu_l" in g.columns:  # a dialect with two spellings of the CPU column
        g = g.with_columns(cpu=pl.coalesce("cpu", "cpu_l"))
    typed = g.with_columns(
        sec_n=pl.col("sec").cast(pl.Int64, strict=False),
        frac=pl.col("frac").str.slice(0, 9).str.pad_end(9, "0").cast(pl.Int64),
        cpu=pl.col("cpu").cast(pl.Int16, strict=False),
        pid=pl.col("pid").cast(pl.Int32, strict=False),
        tgid_n=pl.col("tgid").cast(pl.Int32, strict=False),
    )
    # the regexes took digits: a null cast is a number too wide (ftrace's "(-----)" tgid is no number)
    sec, tgid = pl.col("sec_n"), pl.col("tgid")
    fits = (
        sec.is_not_null() & pl.col("cpu").is_not_null() & pl.col("pid").is_not_null()
        & (pl.col("tgid_n").is_not_null() | tgid.is_null() | (tgid.str.strip_chars("-") == ""))
        & ((sec < MAX_SEC) | ((sec == MAX_SEC) & (pl.col("frac") <= MAX_SEC_NS)))
    )
    typed = typed.with_columns(fits=fits.fill_null(False))
    wide = typed.filter(~pl.col("fits"))
    events = typed.filter(pl.col("fits")).select(
        "no",
        "seq",
        ts_ns=pl.col("sec_n") * 1_000_000_000 + pl.col("frac"),
        cpu="cpu",
        pid="pid",
        tgid="tgid_n",
        comm=pl.col("comm").str.strip_chars(),
        event=d.event_name(pl.col("event")),
        payload=pl.col("payload").str.strip_chars().fill_null(""),
    )
    return events, wide
