"""Which of a capture's event kinds an ``--event`` option names: ``net:net_dev_queue``, ``net_dev_queue``
(any system: ftrace text prints names alone), globs (``syscalls:sys_enter_*``), comma lists."""
from __future__ import annotations

import fnmatch
import re


def event_matcher(spec: str | None):
    """A function event-name -> bool; None or "" matches every event."""
    if not spec:
        return lambda name: True
    pats = [p.strip() for p in spec.split(",") if p.strip()]
    regs = [re.compile(fnmatch.translate(p)) for p in pats]

    def match(name: str) -> bool:
        short = name.rsplit(":", 1)[-1]
        return any(r.match(name) or (":" not in p and r.match(short)) for r, p in zip(regs, pats))

    return match
