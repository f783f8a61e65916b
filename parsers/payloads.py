"""Payload text -> key/value pairs, for the events reports do not type.

The events reports know (block, net) are typed by the scanner (parsers/native/src/text_payload.rs,
whose header shows the block payload's shapes over the kernel's versions). Every other event keeps
its payload's ``key=value`` and ``key: value`` pairs (sched_switch, syscalls, print, ...), in order:

    prev_comm=python3 prev_pid=6547 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0
    fd: 0x00000003, buf: 0x5649, count: 0x200

The comma after a value separates, it is not part of the value.
"""
from __future__ import annotations

import polars as pl

PAIR = r"[A-Za-z_][\w.]*(?:=|: )\S*"
PAIR_GROUPS = r"^(?P<key>[A-Za-z_][\w.]*)(?:=|: )(?P<value>\S*?),?$"


def fields(payload: pl.Expr) -> pl.Expr:
    """The ``fields`` column (list of {key, value}) of a payload column."""
    return payload.str.extract_all(PAIR).list.eval(pl.element().str.extract_groups(PAIR_GROUPS))
