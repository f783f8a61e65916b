"""Text chunks scanned on their own, two at once: the block report's read of perf/ftrace text.

A text file on disk is read and scanned so by the native core itself (``_native.TextAhead``, which
prefetch.py starts before the reports are imported, and which codes the lane's strings for the run
itself); a pipe or a compressed stream is read here and its chunks handed to two ``TextScanner``s.

The block report reads text without call chains (the lane: parsers/text.py), where the scanner is
the longest part of a run and the report's thread waits for it most of the time. Without call
chains no chunk needs the one before it (``TextScanner.scan_alone``: nothing is carried over, the
frames that open a chunk belong to the last event of the one before), so two scanners take every
other chunk, each in a thread of its own (the scan releases the GIL), and the chunks are handed
on in file order.

What the scanners cannot know of each other is put right here, in order: the strings of the lane
(each scanner codes them as it first sees them; the run codes them as the input first shows them,
the order one scanner would have given) and the line numbers of skipped lines (each scanner counts
from its chunk's first line).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .schema import LaneStrings

SCANNERS = 2  # the machines this runs on have a few cores; the report's thread needs one too
NULL = 2**32 - 1  # a null lane string (schema.LaneStrings)


class RunStrings:
    """The run's lane strings, and per scanner its codes -> the run's."""

    def __init__(self, scanners: int):
        self.strings = LaneStrings()
        self._code: dict[bytes, int] = {}
        self._maps = [np.zeros(0, np.uint32) for _ in range(scanners)]

    def recode(self, lane: dict, scanner: int) -> None:
        """Learn the strings a scanner first saw in this chunk and put the lane's codes in the run's."""
        blob, n = lane["new_strings"]
        if lane["strings_before"] != len(self._maps[scanner]):
            raise AssertionError("a scanner's lane strings and the run's went apart")
        if n:
            new = []
            for b in blob.split(b"\n")[:n]:  # once per string a scanner had not seen
                code = self._code.get(b)
                if code is None:
                    code = self._code[b] = len(self.strings.values)
                    self.strings.values.append(b.decode("utf-8", "replace"))
                new.append(code)
            self._maps[scanner] = np.concatenate([self._maps[scanner], np.array(new, np.uint32)])
        table = np.append(self._maps[scanner], np.uint32(NULL))  # a null stays null
        cols = lane["cols"]
        for name in ("dev", "comm", "rwbs"):
            local = np.frombuffer(cols[name], np.uint32)
            cols[name] = table[np.minimum(local, len(table) - 1)].tobytes()


class InOrder:
    """The scanners' chunks, taken in file order: skipped lines numbered from the file's start, the
    lanes in the run's string codes, and whether an event line (or ftrace's stack marker) was seen
    (frames that open a chunk after it are that event's)."""

    def __init__(self, strings: RunStrings | None):
        self.strings = strings  # None: the lanes come in the run's codes already (TextAhead's)
        self.after_head = False
        self.line_no = 0  # lines before the chunk (the scanners number a chunk's lines from 1)

    def take(self, out: dict, scanner: int) -> dict:
        if out["first_skip"] is not None:
            no, text = out["first_skip"]
            out["first_skip"] = (no + self.line_no, text)
        self.line_no += out["lines"]
        self.after_head = self.after_head or out["heads"] > 0 or out["markers"] > 0
        if out["lane"] is not None and self.strings is not None:
            self.strings.recode(out["lane"], scanner)
        return out


def scan_alone(scanners: list, reads: Iterator[tuple[bytes, bytes, int, list[bytes], bool]], strings: RunStrings) -> Iterator[dict]:
    """The scanners' output of ``reads`` (text.reads), in file order, lanes in the run's codes and
    skipped lines numbered from the file's start."""
    pool = ThreadPoolExecutor(len(scanners), thread_name_prefix="traceparse-scan")
    pending: deque = deque()  # (future, scanner), oldest first
    order = InOrder(strings)
    turn = 0

    def done() -> dict:
        fut, s = pending.popleft()
        return order.take(fut.result(), s)

    try:
        for head, data, end, cuts, _last in reads:
            # a scanner takes its next chunk once its last is done; until an event line or a marker
            # has been seen, one chunk at a time (whether a chunk's first lines are frames depends on it)
            while pending and (len(pending) == len(scanners) or not order.after_head):
                yield done()
            pending.append((pool.submit(scanners[turn].scan_alone, data, cuts, head, end, order.after_head), turn))
            turn = (turn + 1) % len(scanners)
        while pending:
            yield done()
    finally:
        for fut, _ in pending:
            fut.cancel()
        pool.shutdown(wait=True)


def scanned_ahead(ahead) -> Iterator[dict]:
    """The chunks of a ``_native.TextAhead`` (the file read and scanned by threads of the native
    core, as ``scan_alone`` scans what it is given), in file order, skipped lines numbered from the
    file's start (their lanes come in the run's string codes, with the run's new strings)."""
    order = InOrder(None)
    try:
        while (out := ahead.next()) is not None:
            yield order.take(out, out["scanner"])
    finally:
        ahead.close()
