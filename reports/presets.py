"""The familiar tools as data over the any-event engine: which events pair, by what, grouped how.

    syscalls      syscount -L / perf trace -s    syscalls:sys_enter_X -> sys_exit_X (or raw_syscalls by NR)
    funclatency   bcc funclatency                probe:f -> probe:f__return (uprobes), nested calls stacked
    sched         runqlat, thread-times, offcputime  sched_wakeup -> sched_switch in; switch in -> out; out -> in
    irq           hardirqs, softirqs              irq_handler_entry -> exit per CPU and irq; softirq per vector
    futex         futexes.stp                     sys_enter_futex (a wait) -> sys_exit_futex, per lock address

A preset is a list of PairSpecs (engine/spec.py) plus the counts it shows; no preset has code of
its own beyond what is written here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from .engine.spec import PairSpec, Side

# The systems a preset's events belong to. ftrace text prints names alone and the parser gives
# sys_enter* the system "syscalls" (raw_syscalls' sys_enter too: it cannot tell them apart by name)
SYSCALLS = "syscalls"
RAW = "raw_syscalls|syscalls"

SYSCALL = PairSpec(
    "latency", "Syscall latency (enter -> exit)",
    Side(r"sys_enter_(?P<syscall>\w+)", system=SYSCALLS), Side(r"sys_exit_(?P<syscall>\w+)", system=SYSCALLS),
    key=("pid",), by=("syscall",), errors=True,
)
# raw_syscalls print numbers: NR 1 (...) / NR 1 = 5; the name comes from the capture's arch table
RAW_SYSCALL = PairSpec(
    "latency", "Syscall latency (raw_syscalls enter -> exit)",
    Side(r"sys_enter", system=RAW), Side(r"sys_exit", system=RAW),
    key=("pid", "id"), by=("syscall",), errors=True, labels={"syscall": ("id", None)},
)

SOFTIRQ_NAMES = {0: "HI", 1: "TIMER", 2: "NET_TX", 3: "NET_RX", 4: "BLOCK", 5: "IRQ_POLL", 6: "TASKLET",
                 7: "SCHED", 8: "HRTIMER", 9: "RCU"}  # include/linux/interrupt.h, as softirq_entry prints them

# sched_switch's prev_state as a number (trace.dat) -> the letter perf and ftrace text print
# (include/trace/events/sched.h: __print_flags of TASK_REPORT; TASK_REPORT_MAX alone is "R+", preempted)
TASK_STATES = {0: "R", 1: "S", 2: "D", 4: "T", 8: "t", 16: "X", 32: "Z", 64: "P", 128: "I", 256: "R+"}

SCHED_RUNQ = PairSpec(
    "runq", "Run-queue latency (wakeup -> on CPU), runqlat",
    Side(r"sched_wakeup|sched_wakeup_new", system="sched"), Side(r"sched_switch", alias={"pid": "next_pid"}, system="sched"),
    key=("pid",), carry=("comm",), exclude={"pid": 0},
)
SCHED_ONCPU = PairSpec(
    "oncpu", "On-CPU time per slice (switch in -> switch out)",
    Side(r"sched_switch", alias={"pid": "next_pid", "comm": "next_comm"}, system="sched"),
    Side(r"sched_switch", alias={"pid": "prev_pid", "comm": "prev_comm", "state": "prev_state"}, system="sched"),
    key=("pid",), by=("pid", "comm"), carry=("comm",), exclude={"pid": 0},
)
SCHED_OFFCPU = PairSpec(
    "offcpu", "Off-CPU time by state (switch out -> switch in)",
    Side(r"sched_switch", alias={"pid": "prev_pid", "comm": "prev_comm", "prev_state": "prev_state"}, system="sched"),
    Side(r"sched_switch", alias={"pid": "next_pid", "comm": "next_comm"}, system="sched"),
    key=("pid",), by=("state",), carry=("comm", "prev_state"), exclude={"pid": 0},
    labels={"state": ("prev_state", TASK_STATES)},
)
HARDIRQ = PairSpec(
    "hardirq", "Hard irq handler time (irq_handler_entry -> exit), hardirqs",
    Side(r"irq_handler_entry", system="irq"), Side(r"irq_handler_exit", system="irq"), key=("cpu", "irq"), by=("name",), carry=("name",),
)
SOFTIRQ = PairSpec(
    "softirq", "Softirq time per vector (softirq_entry -> exit), softirqs",
    Side(r"softirq_entry", system="irq"), Side(r"softirq_exit", system="irq"), key=("cpu", "vec"), by=("vector",),
    labels={"vector": ("vec", SOFTIRQ_NAMES)},
)
# FUTEX_WAIT (0), FUTEX_LOCK_PI (6), FUTEX_WAIT_BITSET (9), FUTEX_LOCK_PI2 (13); the low 7 bits are
# the command (FUTEX_CMD_MASK clears FUTEX_PRIVATE_FLAG 128 and FUTEX_CLOCK_REALTIME 256)
FUTEX_WAITS = (0, 6, 9, 13)
FUTEX = PairSpec(
    "wait", "Futex waits (futex(FUTEX_WAIT...) enter -> exit), per process and lock",
    Side(r"sys_enter_futex", system=SYSCALLS), Side(r"sys_exit_futex", system=SYSCALLS),
    key=("pid",), by=("comm", "uaddr"), carry=("uaddr", "op"), errors=True,
    keep=(pl.col("op") % 128).is_in(FUTEX_WAITS), hex=("uaddr",),
)


def funclatency_spec(func: str | None = None, start: str | None = None, end: str | None = None) -> PairSpec:
    """perf probe names a uprobe ``probe_BIN:func`` and its return ``probe_BIN:func__return``;
    --start/--end name any two events (system optional)."""
    if func is not None:
        sides = Side(re.escape(func)), Side(re.escape(func) + "__return")
    else:  # "probe_app:f" holds to its system; "f" takes any
        sides = tuple(Side(re.escape(x.rpartition(":")[2]), system=re.escape(x.rpartition(":")[0]) or None) for x in (start, end))
    return PairSpec(
        "latency", f"Function latency ({func or start} -> {'return' if func else end}), funclatency",
        *sides, key=("pid",), by=("func",), nested=True, labels={"func": ("event", None)},
    )


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    specs: tuple
    counts: tuple = ()  # (metric, title, events regex, by fields): plain counts shown beside the pairs
    record_hint: str = ""
    alternatives: tuple = field(default_factory=tuple)  # specs used when the first ones found nothing


PRESETS = {
    "syscalls": Preset(
        "syscalls", "Syscalls: counts, errors and latency per syscall", (SYSCALL,), alternatives=(RAW_SYSCALL,),
        record_hint="perf record -a -e 'syscalls:sys_enter_*' -e 'syscalls:sys_exit_*' -- sleep 10 "
                    "(or -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit)",
    ),
    "sched": Preset(
        "sched", "Scheduler: on-CPU time per thread, run-queue latency, off-CPU time by state",
        (SCHED_ONCPU, SCHED_RUNQ, SCHED_OFFCPU),
        counts=(("switches", "Context switches (switched out) per thread", r"sched:sched_switch", ("prev_pid", "prev_comm")),),
        record_hint="perf record -a -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_wakeup_new -- sleep 10",
    ),
    "irq": Preset(
        "irq", "Interrupts: hard irqs per name, softirqs per vector", (HARDIRQ, SOFTIRQ),
        counts=(("irqs", "Hard irqs per name", r"irq:irq_handler_entry", ("irq", "name")),
                ("softirqs", "Softirqs raised and run per vector", r"irq:softirq_entry", ("vec",))),
        record_hint="perf record -a -e irq:irq_handler_entry -e irq:irq_handler_exit -e irq:softirq_entry -e irq:softirq_exit -- sleep 10",
    ),
    "futex": Preset(
        "futex", "Futex waits per process and lock address", (FUTEX,),
        record_hint="perf record -a -e syscalls:sys_enter_futex -e syscalls:sys_exit_futex -- sleep 10",
    ),
}
