"""`perf script` text: the default output, ``--ns``, ``-F comm,pid,tid,...``, with or without ``-g``.

Made by ``perf record -a -g -e block:block_rq_issue -e block:block_rq_complete -- sleep 10`` and
``perf script > perf.txt``. An event line, then (with ``-g``) its call chain and a blank line:

              dd  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 be,0,4 [dd]
            ffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])
            ffffffffa8a55b6d blk_mq_dispatch_rq_list+0x13d ([kernel.kallsyms])

    Web Content 1234/1240 [003] 2406.385071123: 1 block:block_rq_complete: 254,0 WS () 2048 + 8 [0]

The comm is everything before the pid (it may hold spaces, ``:``, ``-`` or a TAB); ``pid/tid`` appears
with ``-F pid,tid``; ``--ns`` gives nine fraction digits; a period column may stand before the event.
"""
from __future__ import annotations

from .text import Dialect

PERF_SCRIPT = Dialect(
    name="perf-script",
    prefix=r"\s(?:(?P<tgid>-?\d+)/)?(?P<pid>-?\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<sec>\d+)$",
    # "	ffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])", "	       0 [unknown] ([unknown])";
    # the "(dso)" at the end tells a frame from a cut event line whose comm looks like hex ("dd  3388 ...")
    frame=r"^\s+[0-9a-fA-F]+\s+.*\(.*\)\s*$",
    frame_sym=lambda line: line.str.strip_chars().str.replace(r"^[0-9a-fA-F]+\s+", ""),
    # blank separators after call chains, "# ========" header blocks
    quiet=r"^\s*(?:#.*)?$",
    # perf script --show-lost-events: "... PERF_RECORD_LOST lost 12" (also LOST_SAMPLES)
    lost=r"^(?:.*?\[(?P<cpu>\d+)\])?.*PERF_RECORD_LOST(?:_SAMPLES)?\b.*?lost:?\s+(?P<n>\d+)",
    lost_hint="PERF_RECORD_LOST",
    frame_lead="\t",  # perf prints "\t%16lx %s (%s)" per frame; comms are padded with spaces
    event_name=lambda e: e,  # perf always prints "system:name"
    name_has=":",
)
