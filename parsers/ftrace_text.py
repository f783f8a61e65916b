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

import polars as pl

from .text import Dialect

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


def _with_system(e: pl.Expr) -> pl.Expr:
    out = e.replace_strict({k: f"{v}:{k}" for k, v in _SYSTEM_EXACT.items()}, default=e)
    for prefix, system in reversed(_SYSTEM_PREFIX):
        out = pl.when(e.str.starts_with(prefix) & ~e.str.contains(":")).then(pl.lit(system + ":") + e).otherwise(out)
    return out


def _syscall(after: pl.Expr) -> pl.Expr:
    """The kernel prints its syscall events itself, with no "name: " (trace_syscalls.c):

        dd-27040   [001] .....   667.743482: sys_write(fd: 1, buf: 0x564938d53000, count: 0x200)
        dd-27040   [001] .....   667.743485: sys_write -> 0x200

    They are the events perf and trace-cmd call syscalls:sys_enter_write and syscalls:sys_exit_write.
    """
    enter = after.str.extract_groups(r"^sys_(?P<name>\w+)\((?P<args>.*)\)\s*$")
    exit_ = after.str.extract_groups(r"^sys_(?P<name>\w+) -> (?P<ret>\S+)\s*$")
    return pl.struct(
        event=pl.coalesce(
            pl.lit("syscalls:sys_enter_") + enter.struct.field("name"), pl.lit("syscalls:sys_exit_") + exit_.struct.field("name")
        ),
        payload=pl.coalesce(enter.struct.field("args"), exit_.struct.field("ret")),
    )


FTRACE = Dialect(
    name="ftrace-text",
    prefix=(
        r"-(?P<pid>\d+)\s+(?:\(\s*(?P<tgid>\d+|-+)\)\s+)?"
        r"(?:\[(?P<cpu>\d+)\]\s+(?:[^\s\[\]:]{4,7}\s+)?|(?P<cpu_l>\d+)[dX.][^\s:]{3,5}\s+)(?P<sec>\d+)$"
    ),
    # " => blk_mq_start_request" (kernel) and " => <00007f...>" (user stack)
    frame=r"^\s*=>\s+\S",
    frame_sym=lambda line: line.str.strip_chars().str.strip_prefix("=>").str.strip_chars(),
    # headers ("# tracer: nop", "cpus=2", "version = 6"), stack markers, empty CPUs, blank lines
    quiet=(
        r"^\s*(?:#.*|cpus=\d+|version\s*=\s*\d+.*|CPU \d+ is empty|CPU\d+ data recorded at offset=.*"
        r"|.*: <(?:user )?stack trace>|)\s*$"
    ),
    # tracefs "CPU:1 [LOST 1204 EVENTS]"; trace-cmd "CPU:1 [1204 EVENTS DROPPED]"
    lost=r"^(?:[\w.-]+:\s)?\s*CPU:\s*(?P<cpu>\d+)\s+\[(?:LOST\s+)?(?P<n>\d+)\s+EVENTS(?:\s+DROPPED)?\]",
    lost_hint="EVENTS",
    event_name=_with_system,
    comm_strip=r"^[\w.-]+:\s+",
    own_hint="sys_",
    own_form=_syscall,
    marker=r"^\s*.*?-\d+\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\].*:\s+<(?:user )?stack trace>\s*$",
)
