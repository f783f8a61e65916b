"""Typed fields of any event, by name, for reports: ``field("ret")`` -> an Int64 column.

Every frame of an event that is not block/net carries its payload as ``fields``, a list of
``{key, value}`` strings (text: ``key=value`` / ``key: value`` pairs; trace.dat: every field of the
format file, ints printed in decimal with the sign the format gives). Values come as they were
printed, so here they are typed:

    perf   syscalls:sys_enter_write: fd: 0x00000001, buf: 0x55d0c3d7e2a0, count: 0x00000005
    perf   probe_tpfn:work: (401136) n=0x3          ftrace  sched_wakeup: comm=tpcpu pid=4242 prio=120 target_cpu=001

A value that is all decimal (``-5``, ``001``) or 0x-hex is a number: Int64, hex read as 64-bit two's
complement (so a syscall's ``ret`` printed ``0xfffffffffffffff2`` is -14, the errno the kernel
returned; a kernel address reads as a negative number but keeps its text in the payload). Trailing
``,`` and ``)`` (the syscall print formats) are not part of a value. A name resolves to the payload
field first (``sched_wakeup``'s ``pid`` is the wakee, not the waker whose thread recorded it), then to
the frame's own column (``pid``, ``comm``, ``cpu``, ``tgid``, ``ts_ns``, ``len``...); ``common_pid``
and ``common_comm`` always name the recording thread. A few events print values without a name;
their fields are read from the payload text (``PAYLOAD_FIELDS``).
"""
from __future__ import annotations

import polars as pl

# Values printed without a name, read from the payload text: field -> a regex with one group, per
# event name. raw_syscalls print numbers; trace-cmd's sched plugin prints sched_switch and
# sched_wakeup in a form of its own (``trace-cmd report -N`` prints the kernel's key=value form).
_NR = r"\bNR (-?\d+)"
_SWITCH = r"^(?P<prev_comm>.+?):(?P<prev_pid>-?\d+) \[(?P<prev_prio>-?\d+)\] (?P<prev_state>\S+) ==> (?P<next_comm>.+?):(?P<next_pid>-?\d+) \[(?P<next_prio>-?\d+)\]"
_WAKEUP = r"^(?P<comm>.+?):(?P<pid>-?\d+) \[(?P<prio>-?\d+)\](?: success=\d+)? CPU:(?P<target_cpu>\d+)"
PAYLOAD_FIELDS: dict[str, dict[str, str]] = {
    "sys_enter": {"id": _NR},  # raw_syscalls:sys_enter: NR 1 (1, 7ffd..., 5, ...)
    "sys_exit": {"id": _NR, "ret": r"\bNR -?\d+ = (-?\d+)"},  # raw_syscalls:sys_exit: NR 1 = 5
    # tpcpu:22599 [120] R ==> polars-0:11499 [130]
    "sched_switch": {g: _SWITCH for g in ("prev_comm", "prev_pid", "prev_prio", "prev_state", "next_comm", "next_pid", "next_prio")},
    # tpcpu:22600 [120] CPU:000
    "sched_wakeup": {g: _WAKEUP for g in ("comm", "pid", "prio", "target_cpu")},
    "sched_wakeup_new": {g: _WAKEUP for g in ("comm", "pid", "prio", "target_cpu")},
}
# syscalls:sys_exit_X prints its return value alone: "0x5" (perf, trace-cmd) or "sys_write -> 0x5"
_EXIT_RET = r"(?:^|->\s*)(-?(?:0x[0-9a-fA-F]+|\d+))\s*$"
_COMMON = {"common_pid": "pid", "common_comm": "comm", "common_cpu": "cpu", "common_tgid": "tgid"}
# Symbolic values trace-cmd's plugins print (futex: op=FUTEX_WAIT|FUTEX_PRIVATE_FLAG), back to numbers
FLAGS: dict[str, dict[str, int]] = {
    "op": {"FUTEX_WAIT": 0, "FUTEX_WAKE": 1, "FUTEX_FD": 2, "FUTEX_REQUEUE": 3, "FUTEX_CMP_REQUEUE": 4, "FUTEX_WAKE_OP": 5,
           "FUTEX_LOCK_PI": 6, "FUTEX_UNLOCK_PI": 7, "FUTEX_TRYLOCK_PI": 8, "FUTEX_WAIT_BITSET": 9, "FUTEX_WAKE_BITSET": 10,
           "FUTEX_WAIT_REQUEUE_PI": 11, "FUTEX_CMP_REQUEUE_PI": 12, "FUTEX_LOCK_PI2": 13,
           "FUTEX_PRIVATE_FLAG": 128, "FUTEX_CLOCK_REALTIME": 256},
}


def short_name(event: str) -> str:
    """``raw_syscalls:sys_enter`` -> ``sys_enter`` (ftrace text may have given it another system)."""
    return event.rsplit(":", 1)[-1]


def raw(frame: pl.DataFrame, event: str, name: str) -> pl.Expr:
    """The field ``name`` of ``event``'s frame as printed (String), or null where the events lack it."""
    if name in _COMMON:
        return pl.col(_COMMON[name]).cast(pl.String)
    short = short_name(event)
    parts = []
    if "fields" in frame.columns:
        parts.append(
            pl.col("fields")
            .list.eval(pl.element().filter(pl.element().struct.field("key") == name).struct.field("value"))
            .list.first()
            .str.strip_chars_end(",)]")
        )
    if name in PAYLOAD_FIELDS.get(short, {}) and "payload" in frame.columns:
        regex = PAYLOAD_FIELDS[short][name]
        parts.append(pl.col("payload").str.extract_groups(regex).struct.field(name) if "(?P<" in regex
                     else pl.col("payload").str.extract(regex, 1))
    if name == "ret" and short.startswith("sys_exit_") and "payload" in frame.columns:
        parts.append(pl.col("payload").str.extract(_EXIT_RET, 1))
    if name in frame.columns and name not in ("fields", "payload"):
        parts.append(pl.col(name).cast(pl.String))
    if not parts:
        return pl.lit(None, pl.String)
    return pl.coalesce(parts) if len(parts) > 1 else parts[0]


def flags(text: pl.Expr, table: dict[str, int]) -> pl.Expr:
    """'FUTEX_WAIT|FUTEX_PRIVATE_FLAG' -> 128: the sum of the named flags (null if one is unknown)."""
    names = pl.Series(list(table), dtype=pl.String)
    vals = pl.Series(list(table.values()), dtype=pl.Int64)
    return text.str.split("|").list.eval(pl.element().str.strip_chars().replace_strict(names, vals, default=None)).list.sum()


def numeric(text: pl.Expr) -> pl.Expr:
    """Decimal or 0x-hex text -> Int64 (hex as 64-bit two's complement); anything else null."""
    t = text.str.strip_chars()
    neg = t.str.starts_with("-")
    body = t.str.strip_prefix("-")
    is_hex = body.str.starts_with("0x") | body.str.starts_with("0X")
    hexv = body.str.slice(2).str.to_integer(base=16, dtype=pl.UInt64, strict=False).reinterpret(signed=True)
    decv = body.str.to_integer(base=10, dtype=pl.Int64, strict=False)
    v = pl.when(is_hex).then(hexv).otherwise(decv)
    return pl.when(neg).then(-v).otherwise(v)


_NUMBER = r"^\s*-?(?:0[xX][0-9a-fA-F]+|\d+)\s*$"
_KEEP = ("comm", "event", "dev", "dev_name", "rwbs", "skbaddr")  # never numbers, whatever they look like


def with_fields(frame: pl.DataFrame, event: str, names, prefix: str = "") -> pl.DataFrame:
    """``frame`` with a typed column ``prefix + name`` per name: Int64 where every printed value is a
    number, else String. Null where the event lacks the field."""
    names = list(dict.fromkeys(names))
    if not names:
        return frame
    # with_columns, not select: a field no event has is a null literal, which must take the frame's height
    texts = frame.with_columns([raw(frame, event, n).alias(prefix + n) for n in names]).select([prefix + n for n in names])
    cols = []
    for n in names:
        s = texts[prefix + n]
        known = s.drop_nulls()
        if n not in _KEEP and not known.len():  # no value in this chunk: a null number, so chunks concat
            cols.append(pl.Series(prefix + n, [None] * len(s), dtype=pl.Int64))
        elif n not in _KEEP and known.str.contains(_NUMBER).all():
            cols.append(texts.select(numeric(pl.col(prefix + n)))[prefix + n])
        elif n in FLAGS:
            cols.append(texts.select(flags(pl.col(prefix + n), FLAGS[n]))[prefix + n])
        else:
            cols.append(s)
    return frame.with_columns(cols)
