"""The one exception family users see, and the counters for input we could not read."""
from __future__ import annotations

from dataclasses import dataclass, field


class TraceParseError(Exception):
    """A user-facing problem with the input or the request: printed as one line, exit status 2."""


class UnknownFormatError(TraceParseError):
    """The bytes are not a capture format traceparse reads."""


class EmptyCaptureError(TraceParseError):
    """The file parsed but held no events."""


class MissingEventsError(TraceParseError):
    """The capture lacks the events a report needs."""


class StrictError(TraceParseError):
    """``--strict`` turned a skipped line or a truncated record into an error."""


@dataclass
class Skipped:
    """Lines (or binary records) a parser could not read: counted, and the first one kept for the message."""

    count: int = 0
    first_line: int | None = None  # 1-based line number in the (decompressed) input
    first_text: str | None = None
    notes: list[str] = field(default_factory=list)  # damage to the file as a whole (a cut stream, a second capture)

    def note(self, text: str) -> None:
        """Count one damage of the whole file; its text is always shown, whatever was skipped first."""
        self.count += 1
        self.notes.append(text)

    def add(self, count: int, first_line: int | None, first_text: str | None) -> None:
        if count <= 0:
            return
        if self.count == len(self.notes):  # the first skip (notes are kept apart)
            self.first_line, self.first_text = first_line, first_text
        self.count += count

    def describe(self) -> str:
        if not self.count:
            return "no lines skipped"
        if self.count == len(self.notes):
            return "; ".join(self.notes)
        first = self._describe_first(self.count - len(self.notes))
        return "; ".join([first, *self.notes])

    def _describe_first(self, count: int) -> str:
        if self.first_line is None:  # a binary file: the text is our own account of what could not be read
            noun = "part" if count == 1 else "parts"
            return f"{count:,} unreadable {noun} of the file, first: {self.first_text}"
        noun = "line" if count == 1 else "lines"
        text = (self.first_text or "")[:80]
        return f"{count:,} {noun} skipped, first at line {self.first_line}: {text!r}"
