"""ftrace text: `trace-cmd report` (plain, ``-t``, ``-l``) and the tracefs ``trace`` / ``trace_pipe`` files.

`trace-cmd report blk.dat`, then the same with ``-l`` (latency flags) and the tracefs ``trace`` file
(with the record-tgid option the ``(tgid)`` column appears):

    cpus=2
              dd-4116  [001]  2406.385071: block_rq_issue:       254,0 WS 4096 () 2048 + 8 be,0,4 [dd]
          <idle>-0     [000] d.h2. 2406.385324: block_rq_complete: 254,0 WS () 2048 + 8 be,0,4 [0]
              sh-6702    0...1.  3143.990501: block_rq_insert:      254,0 RA 4096 () 29946528 + 8 0x2,0,4 [sh]
     kworker/u8:2-77   (   77) [000] ..... 2406.385324: block_rq_insert: 254,0 W 4096 () 88 + 8 be,0,4 [kworker/u8:2]
              dd-4116  [001] ..... 2406.385080: <stack trace>
     => blk_mq_start_request
    CPU:1 [LOST 1204 EVENTS]
    tpfix: CPU:0 [8828 EVENTS DROPPED]
    tpfix:          python3-6547  [001]  3134.186146: sched_switch: python3:6547 [120] S ==> swapper/1:0 [120]

The last two come from a trace-cmd instance (buffer) named "tpfix": its name prefixes the line.

With ``-l`` trace-cmd glues the CPU number to the latency flags (``0...1.``: CPU 0, flags ``...1.``);
the first flag (irqs-off: ``d``, ``X`` or ``.``) is never a digit, which is where the CPU ends.
The comm is everything before the last ``-pid`` (comms hold dashes too). Event names come without
their system; the ones reports know are given it back (``block_rq_issue`` -> ``block:block_rq_issue``).
"""
from __future__ import annotations

from .text_dialect import Dialect

# system of the tracepoints reports know, for text that prints names alone
_SYSTEM_PREFIX = (
    ("block_", "block"),
    ("net_dev_", "net"),
    ("netif_", "net"),
    ("napi_gro_", "net"),
    ("sys_enter", "syscalls"),
    ("sys_exit", "syscalls"),
    ("sched_", "sched"),
    ("tcp_", "tcp"),
    ("inet_sock_set_state", "sock"),
    ("kfree_skb", "skb"),
    ("consume_skb", "skb"),
    ("irq_handler_", "irq"),
    ("softirq_", "irq"),
    ("cpu_idle", "power"),
    ("cpu_frequency", "power"),
)
_SYSTEM_EXACT = {"print": "ftrace", "bprint": "ftrace", "function": "ftrace", "funcgraph_entry": "ftrace", "funcgraph_exit": "ftrace"}


# The grammar lives in the scanner (parsers/native/src/text_line.rs): the prefix is read from its
# end ("-PID [(TGID)] [CPU] [FLAGS] SEC" or "-PID CPUFLAGS SEC"), an instance name ("tpfix: ") is cut
# from the comm, frames are " => sym" lines under a "<stack trace>" marker (they belong to the last
# event on the marker's CPU), and the kernel's own syscall lines are read too:
#
#     dd-27040   [001] .....   667.743482: sys_write(fd: 1, buf: 0x564938d53000, count: 0x200)
#     dd-27040   [001] .....   667.743485: sys_write -> 0x200
#
# they are the events perf and trace-cmd call syscalls:sys_enter_write and syscalls:sys_exit_write.
FTRACE = Dialect(name="ftrace-text", systems=_SYSTEM_PREFIX, exact=tuple((k, f"{v}:{k}") for k, v in _SYSTEM_EXACT.items()))
