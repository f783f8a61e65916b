"""What a preset says about one start -> end pairing, as data (reports/presets.py fills these in)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Side:
    """Which events are one side of a pair, and what their fields are called on the pair.

    ``events`` is a regex over the event's name without its system (``sys_enter_(?P<syscall>\\w+)``,
    full match); its named groups become fields. ``system``, a regex over the system, keeps out
    another system's event of the same name (a USDT probe ``myapp:sys_enter_write``, a foreign
    ``new:sched_switch``); None takes any. ``alias`` maps a pair's field name to the event's own
    (``{"pid": "next_pid"}``). ``only`` keeps some events alone (a polars expression over the side's
    fields): futex waits among all futex calls.
    """

    events: str
    alias: dict = field(default_factory=dict)
    only: pl.Expr | None = None
    system: str | None = None

    def matches(self, event: str) -> re.Match | None:
        """The match of ``event`` ("system:name", or a name alone) with this side, or None."""
        return event_match(self.system, self.events, event)


def event_match(system: str | None, name: str, event: str) -> re.Match | None:
    """``event``'s name matched by ``name`` where its system is ``system``'s. An event printed
    without a system (ftrace text of a tracepoint the parser does not know) is taken on its name."""
    sys_part, _, short = event.rpartition(":")
    if system is not None and sys_part and re.fullmatch(system, sys_part) is None:
        return None
    return re.fullmatch(name, short)


@dataclass(frozen=True)
class PairSpec:
    metric: str  # the name of this distribution in the JSON and in diff rules: "latency", "runq", ...
    title: str  # "Syscall latency (enter -> exit)"
    start: Side
    end: Side
    key: tuple  # fields that pair a start with its end ("pid"; the events' names groups join it)
    by: tuple = ()  # default grouping (the user's --by adds to it)
    nested: bool = False  # calls that recurse: a per-key stack; else a later start overwrites
    carry: tuple = ()  # start-side fields every pair keeps (listing, grouping)
    labels: dict = field(default_factory=dict)  # new field -> (field, {number: name}): syscall from id
    exclude: dict = field(default_factory=dict)  # key field -> value never paired (the idle task, pid 0)
    errors: bool = False  # count pairs whose ret < 0 (syscalls, futex)
    # pairs kept (a polars expression over the pair's fields): futex waits among all futex calls. All
    # calls pair first, so what is not kept is no "end without start"
    keep: pl.Expr | None = None
    hex: tuple = ()  # fields shown as 0x-hex (addresses), after --where has compared them as numbers
