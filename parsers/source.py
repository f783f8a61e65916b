"""What a capture is, beyond its events: format, counters, time span, interned call chains."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from .errors import Skipped, StrictError
from .schema import Chunk


@dataclass
class StackTable:
    """Call chains interned once: ``stack_id`` in a frame indexes ``frames``."""

    frames: list[tuple[str, ...]] = field(default_factory=list)
    _ids: dict[tuple[str, ...], int] = field(default_factory=dict)

    def intern(self, stacks: pl.Series) -> pl.Series:
        """Map a column of newline-joined stacks to ids; runs once per distinct stack, not per event."""
        uniq = stacks.drop_nulls().unique()
        new = {}
        for text in uniq.to_list():
            key = tuple(text.split("\n"))
            sid = self._ids.get(key)
            if sid is None:
                sid = self._ids[key] = len(self.frames)
                self.frames.append(key)
            new[text] = sid
        return stacks.replace_strict(new, default=None, return_dtype=pl.Int32)


@dataclass
class Source:
    """Facts about one input, filled in by the parser as chunks stream past."""

    path: str
    format: str = "unknown"  # "perf-script" | "ftrace-text" | "trace-dat"
    compression: str | None = None
    strict: bool = False
    skipped: Skipped = field(default_factory=Skipped)
    lost_events: int = 0
    lost_by_cpu: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    cpus: set = field(default_factory=set)
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    meta: dict = field(default_factory=dict)  # format-specific facts (trace.dat version, clock, ...)
    stacks: StackTable = field(default_factory=StackTable)
    # where the input was cut, when the parser knows (e.g. "the perf.data is cut at byte 400,000"):
    # a report missing its events says this rather than "record them"; ``unnamed`` the events the cut
    # left without their names (a perf.data's names and format files follow its data)
    cut: str | None = None
    unnamed: bool = False

    def missing(self, what: str, hint: str) -> str:
        """Why a report found no ``what`` in this input, as a report's error line ends."""
        have = ", ".join(f"{k} ({v:,})" for k, v in self.events.most_common(6))
        if self.cut is None:
            return f"no {what}; it has {have}. Record them with: {hint}"
        read = f"{sum(self.events.values()):,} events were read before the cut"
        if self.unnamed:
            return (f"no {what} read: {self.cut}; {read}, named by tracepoint id only (their names and format "
                    f"files were in the sections after the data): {have}. Read the whole file")
        return f"no {what} read: {self.cut}; {read}: {have}. Read the whole file, or record them with: {hint}"

    def skip(self, count: int, first_line: int | None, first_text: str | None) -> None:
        """Count unreadable input; under ``--strict`` the first one is an error."""
        if count and self.strict:
            raise StrictError(
                f"{self.path}: line {first_line} does not parse: {(first_text or '')[:80]!r} (--strict)"
            )
        self.skipped.add(count, first_line, first_text)

    def note(self, text: str) -> None:
        """Count damage to the file as a whole (a cut compressed stream, a second capture after the
        first); its text is shown in every report. Under ``--strict`` it is an error."""
        if self.strict:
            raise StrictError(f"{self.path}: {text} (--strict)")
        self.skipped.note(text)

    def track(self, chunk: Chunk) -> Chunk:
        """Fold one chunk's counts into the running totals."""
        self.lost_events += chunk.lost_events
        self.lost_by_cpu.update(chunk.lost_by_cpu)
        for name, frame in chunk.frames.items():
            if not frame.height:
                continue
            self.events[name] += frame.height
            # one query for the three (a small chunk's cost is polars' per call)
            lo, hi, cpus = frame.select(pl.col("ts_ns").min(), pl.col("ts_ns").max().alias("hi"),
                                        pl.col("cpu").unique().implode()).row(0)
            self.first_ts_ns = lo if self.first_ts_ns is None else min(self.first_ts_ns, lo)
            self.last_ts_ns = hi if self.last_ts_ns is None else max(self.last_ts_ns, hi)
            self.cpus.update(cpus)
        for k in chunk.kind_stats:
            self.events[k.name] += k.n
            self.first_ts_ns = k.first_ts_ns if self.first_ts_ns is None else min(self.first_ts_ns, k.first_ts_ns)
            self.last_ts_ns = k.last_ts_ns if self.last_ts_ns is None else max(self.last_ts_ns, k.last_ts_ns)
            self.cpus.update(k.cpus)
        return chunk

    @property
    def duration_ns(self) -> int:
        if self.first_ts_ns is None or self.last_ts_ns is None:
            return 0
        return self.last_ts_ns - self.first_ts_ns

    def as_dict(self) -> dict:
        """The ``source`` object of the JSON contract."""
        return {
            "path": self.path,
            "format": self.format,
            "compression": self.compression,
            "events": sum(self.events.values()),
            "events_by_kind": dict(sorted(self.events.items())),
            "skipped_lines": self.skipped.count,
            "first_skipped_line": self.skipped.first_line,
            "lost_events": self.lost_events,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
        }
