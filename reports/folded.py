"""Folded stacks, as FlameGraph's stackcollapse-perf.pl prints them: one ``root;...;leaf COUNT`` a line.

Made by ``perf record -F 999 -a -g -- CMD`` and ``perf script > perf.txt``; a sample of perf script
text and what it folds to:

    iperf 27409/28744 [000] 441995.133575: cpu-clock:
            59fef5 copy_user_enhanced_fast_string (/lib/modules/4.3.0-rc1-virtual/build/vmlinux)
            86bb0e skb_copy_datagram_iter (/lib/modules/4.3.0-rc1-virtual/build/vmlinux)

    iperf;skb_copy_datagram_iter;copy_user_enhanced_fast_string 1              (default)
    iperf-27409/28744;skb_copy_datagram_iter_[k];copy_user_enhanced_fast_string_[k] 1   (--tid --kernel)

The rules, read from stackcollapse-perf.pl's usage and FlameGraph's test/results (not its code):

- A sample line is ``COMM PID[/TID] ...``; the comm is the shortest text before a number with space
  around it. Without ``/TID`` the one number is the thread: the process is ``?`` (``cksum-?/21804``).
  The root frame is the comm (``--pid``: ``comm-PID``, ``--tid``: ``comm-PID/TID``), spaces as ``_``.
- A period column (``75695.008865:   16 cycles:u:``) is the sample's weight; without one it is 1.
- Only one event is folded: ``--event`` names it, else the first event the capture holds.
- A frame is ``ADDR SYMBOL (DSO)``. ``+0x..`` offsets go; an argument list ``(...)`` and everything
  after it go (``(anonymous namespace)`` stays); ``"`` and ``'`` go; ``;`` becomes ``:``.
  ``[unknown]`` takes the DSO's file name (``[libpthread-2.19.so]``) where it has one, and with
  ``--addrs`` the address too (``[unknown <f35d>]``, ``[libpthread-2.19.so <f35d>]``).
- ``--kernel`` marks kernel frames ``_[k]`` (DSO ``[kernel.kallsyms]``, ``[vdso]``, ``...vmlinux``),
  ``--jit`` marks JIT frames ``_[j]`` (DSO ``/tmp/perf-PID.map``), ``--all`` both.
- Lines sorted as bytes, as Perl's ``sort`` does.

Two sources feed the same naming: perf script lines (``fold_lines``, exact: periods, addresses and
the old formats without CPU or time that the event parser does not read), and a capture's interned
call chains (``chain_frames``: any format, any event, any weight).
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..parsers.errors import TraceParseError

# "iperf 27409/28744 [000] 441995.133575: cpu-clock:", "java 19983 cycles:" (old perf: no CPU, no time)
SAMPLE = r"^(?P<comm>\S.+?)\s+(?P<pid>\d+)/*(?P<tid>\d+)?\s+"
# "75695.008865:          1 cycles:u: " -> period 1, event cycles:u; the first such match on the line
PERIOD = r":\s*(?P<period>\d+)?\s+(?P<event>\S+):\s*"
# "	ffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])"; the DSO is the last "(...)" group
FRAME = r"^\s*(?P<pc>\w+)\s*(?P<func>.+) \((?P<mod>\S*)\)"
# a chain frame as the event parser interns it, address gone: "blk_mq_start_request+0xcf ([kernel.kallsyms])"
CHAIN_FRAME = r"^(?P<func>.+) \((?P<mod>\S*)\)\s*$"
ANON = "(anonymous namespace)"
_ANON_MARK = "\x00"  # no symbol holds a NUL: it keeps "(anonymous namespace)" from the argument-list cut


@dataclass(frozen=True)
class FoldOptions:
    pid: bool = False  # root frame comm-PID
    tid: bool = False  # root frame comm-PID/TID
    kernel: bool = False  # kernel frames _[k]
    jit: bool = False  # JIT frames _[j]
    addrs: bool = False  # [unknown <ADDR>]
    event: str | None = None  # fold this event only (default: the first one seen)
    inline: bool = False  # inlined frames _[i] (perf prints "ADDR func (inlined)"): for the flame graph's colours

    @property
    def java_l(self) -> bool:
        # FlameGraph's results drop the "L" of Java class names in every mode but --pid and --tid
        # (those keep "Ljava/io/PrintStream:::print"): followed as its expected output has it
        return not (self.pid or self.tid)

    @classmethod
    def of(cls, pid=False, tid=False, kernel=False, jit=False, all=False, addrs=False, event=None,  # noqa: A002
           inline=False) -> "FoldOptions":
        return cls(pid, tid, kernel or all, jit or all, addrs, event, inline)


def frame_name(func: pl.Expr, mod: pl.Expr, pc: pl.Expr, opts: FoldOptions) -> pl.Expr:
    """One frame's name in a folded stack, from its symbol, DSO (null: a kernel frame, as ftrace
    prints them) and address (null where the source dropped it)."""
    f = func.str.replace(r"\+0x[0-9a-f]+$", "")
    base = mod.str.replace(r"^.*/", "")
    unknown = f == "[unknown]"
    known_mod = mod.is_not_null() & (mod != "[unknown]")
    addr = pl.when(pc.is_not_null()).then(pl.lit(" <") + pc + pl.lit(">")).otherwise(pl.lit(""))
    unk = pl.when(known_mod).then(pl.lit("[") + base).otherwise(pl.lit("[unknown"))
    unk = unk + (addr if opts.addrs else pl.lit("")) + pl.lit("]")
    tidy = (
        f.str.replace_all(ANON, _ANON_MARK, literal=True)
        .str.replace(r"\(.*", "")
        .str.replace_all(_ANON_MARK, ANON, literal=True)
        .str.replace_all(";", ":", literal=True)
        .str.replace_all(r"[\"']", "")
    )
    if opts.java_l:  # a Java class name's type letter: "Ljava/lang/Thread;::run" -> "java/lang/Thread:::run"
        tidy = tidy.str.replace(r"^L([^\s:]*/[^\s:]*:)", "$1")
    name = pl.when(unknown).then(unk).otherwise(tidy)
    m = mod.fill_null("[kernel.kallsyms]")
    if opts.kernel:
        is_k = (m.str.starts_with("[") | m.str.ends_with("vmlinux")) & ~m.str.contains("unknown", literal=True)
        name = pl.when(is_k).then(name + pl.lit("_[k]")).otherwise(name)
    if opts.jit:
        name = pl.when(m.str.contains(r"^/tmp/perf-\d+\.map$")).then(name + pl.lit("_[j]")).otherwise(name)
    if opts.inline:
        name = pl.when(m == "inlined").then(name + pl.lit("_[i]")).otherwise(name)
    return name


def root_name(comm: pl.Expr, pid: pl.Expr, tid: pl.Expr, opts: FoldOptions) -> pl.Expr:
    """The root frame: the comm, with the process (and thread) id where asked; spaces as ``_``."""
    p = pid.cast(pl.String).fill_null("?")
    if opts.tid:
        root = pl.concat_str(comm, pl.lit("-"), p, pl.lit("/"), tid.cast(pl.String))
    elif opts.pid:
        root = pl.concat_str(comm, pl.lit("-"), p)
    else:
        root = comm
    return root.str.replace_all(" ", "_", literal=True)


class LineFolder:
    """Fold perf script lines chunk by chunk: ``feed`` frames of ``line`` (whole lines, in order),
    then ``result()``. A sample cut by a chunk's end is carried to the next chunk."""

    def __init__(self, opts: FoldOptions, comm: str | None = None, pid: int | None = None):
        self.opts, self.comm, self.pid = opts, comm, pid
        self.event = opts.event
        self.carry = pl.DataFrame(schema={"line": pl.String})
        self.parts: list[pl.DataFrame] = []
        self.samples = 0  # samples folded (after the event filter)
        self.other_events: dict[str, int] = {}  # samples of other events, left out
        self.weight = 0

    def feed(self, lines: pl.DataFrame, last: bool = False) -> None:
        df = pl.concat([self.carry, lines.select("line")])
        heads = df.select(is_s=pl.col("line").str.contains(SAMPLE))["is_s"]
        keep = df.height
        if not last:
            idx = heads.arg_true()
            keep = int(idx[-1]) if len(idx) else 0
        self.carry = df.slice(keep)
        if keep:
            self._fold(df.head(keep))

    def _fold(self, df: pl.DataFrame) -> None:
        line = pl.col("line")
        df = df.filter(~line.str.starts_with("#")).with_columns(s=line.str.extract_groups(SAMPLE)).unnest("s")
        df = df.with_columns(seq=pl.col("comm").is_not_null().cum_sum())
        # stackcollapse-perf counts a sample when a blank line ends it: the last one of a file
        # without its blank line is not counted (perf-iperf-stacks-pidtid-01's last sample)
        ended = df.filter(pl.col("comm").is_null() & line.str.contains(r"^\s*$")).select("seq").unique()
        samples = df.filter(pl.col("comm").is_not_null()).join(ended, on="seq", how="semi").with_columns(p=line.str.extract_groups(PERIOD)).unnest("p")
        samples = self._filter(samples)
        frames = df.filter(pl.col("comm").is_null() & (pl.col("seq") > 0) & line.str.contains(FRAME))
        frames = frames.select("seq", f=line.str.extract_groups(FRAME)).unnest("f")
        o = self.opts
        frames = frames.select("seq", name=frame_name(pl.col("func"), pl.col("mod"), pl.col("pc"), o))
        chains = frames.group_by("seq", maintain_order=True).agg(chain=pl.col("name").reverse().str.join(";"))
        s = samples.select("seq", root=root_name(pl.col("comm"), pl.when(pl.col("tid").is_null()).then(None).otherwise(pl.col("pid")),
                                                     pl.coalesce("tid", "pid"), o),
                           n=pl.col("period").cast(pl.Int64, strict=False).fill_null(1).clip(1))
        s = s.join(chains, on="seq", how="left")
        stack = pl.when(pl.col("chain").is_null()).then("root").otherwise(pl.concat_str("root", pl.lit(";"), "chain"))
        self.parts.append(s.group_by(stack.alias("stack")).agg(pl.col("n").sum()))
        self.samples += s.height
        self.weight += int(s["n"].sum() or 0)

    def _filter(self, samples: pl.DataFrame) -> pl.DataFrame:
        """The event filter (the first event seen, unless --event named one), then --comm and --pid."""
        ev = samples["event"].drop_nulls()
        if self.event is None and len(ev):
            self.event = ev[0]
        if self.event is not None:
            other = samples.filter(pl.col("event").is_not_null() & (pl.col("event") != self.event))
            counts = other.group_by("event").len()  # one row per event kind
            for e, n in zip(counts["event"].to_list(), counts["len"].to_list()):
                self.other_events[e] = self.other_events.get(e, 0) + n
            samples = samples.filter(pl.col("event").is_null() | (pl.col("event") == self.event))
        if self.comm is not None:
            samples = samples.filter(pl.col("comm") == self.comm)
        if self.pid is not None:
            samples = samples.filter((pl.col("pid").cast(pl.Int64) == self.pid) | (pl.col("tid").cast(pl.Int64) == self.pid))
        return samples

    def result(self) -> pl.DataFrame:
        """(stack, n) sorted by stack as bytes."""
        if self.carry.height:
            self.feed(pl.DataFrame(schema={"line": pl.String}), last=True)
        if not self.parts:
            return pl.DataFrame(schema={"stack": pl.String, "n": pl.Int64})
        out = pl.concat(self.parts).group_by("stack").agg(pl.col("n").sum())
        return out.sort("stack")


def chain_frames(chains: list[tuple[str, ...]], opts: FoldOptions) -> pl.DataFrame:
    """A capture's interned call chains (innermost frame first) as (stack_id, chain: root-first
    frames joined by ``;``), named as stackcollapse names them."""
    if not chains:
        return pl.DataFrame(schema={"stack_id": pl.Int32, "chain": pl.String})
    df = pl.DataFrame({"stack_id": pl.Series(range(len(chains)), dtype=pl.Int32), "sym": [list(c) for c in chains]})
    df = df.explode("sym").with_columns(g=pl.col("sym").str.extract_groups(CHAIN_FRAME))
    func = pl.coalesce(pl.col("g").struct.field("func"), pl.col("sym"))
    mod = pl.col("g").struct.field("mod")
    df = df.select("stack_id", name=frame_name(func, mod, pl.lit(None, pl.String), opts))
    return df.group_by("stack_id", maintain_order=True).agg(chain=pl.col("name").reverse().str.join(";"))


def write_folded(folded: pl.DataFrame) -> str:
    """``stack count`` lines, as stackcollapse prints them."""
    if not folded.height:
        return ""
    return "\n".join(folded.select(pl.concat_str("stack", pl.lit(" "), pl.col("n").cast(pl.String)))["stack"]) + "\n"


def check_fold_options(opts: FoldOptions) -> None:
    if opts.pid and opts.tid:
        raise TraceParseError("--pid and --tid: give one (--tid includes the pid)")
