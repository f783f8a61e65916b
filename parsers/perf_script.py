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

from .text_dialect import Dialect

# The grammar lives in the scanner (parsers/native/src/text_line.rs): the prefix is read from its
# end ("[TGID/]PID [CPU] SEC"), frames are TAB-led "ADDR SYM (DSO)" lines (the "(dso)" tells a frame
# from a cut event line whose comm looks like hex), "# ====" headers and blank lines carry nothing,
# and "perf script --show-lost-events" prints "... PERF_RECORD_LOST lost 12" (also LOST_SAMPLES).
PERF_SCRIPT = Dialect(name="perf-script")  # perf always prints "system:name"
