"""An event's ``print fmt``: which fields trace-cmd prints as names, and those names for a column of values.

The kernel prints some fields through a table or a symbol lookup. From skb:kfree_skb's format file
(kernel 6.18; fixtures/net/):

    print fmt: "skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk,
        REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)

and ``trace-cmd report`` (libtraceevent) prints the record as

    skbaddr=0xffff88810ac488e0 rx_sk=(nil) protocol=2048 location=nft_do_chain+0x3e8 reason: NETFILTER_DROP

``field_renderers`` maps each conversion to its argument (in order; a ``*`` width takes one too) and
keeps three kinds of argument on a plain field: ``__print_symbolic(REC->f, {v, "NAME"}, ...)``,
``__print_flags(REC->f, "|", {v, "NAME"}, ...)`` and ``REC->f`` printed with ``%pS``/``%pF``
(``sym+0xoff``) or ``%ps``/``%pf`` (``sym``). A field also printed as itself (softirq's
``"vec=%u [action=%s]", REC->vec, __print_symbolic(REC->vec, ...)``) keeps its number, as trace-cmd
shows it under the field's name. Expressions (sched_switch's ``REC->prev_state & ... ? __print_flags(...)
: "R"``) are left alone.

What libtraceevent 1.7 does, and so what ``render`` does (checked with trace-cmd 3.1.6 on this machine):
a table value that is not a number (``{ TCP_ESTABLISHED, "TCP_ESTABLISHED" }`` in tcp_retransmit_skb,
an enum the kernel did not export) never matches, and a value without a name prints as ``0x%llx``
(so tcp_retransmit_skb's ``state=0x1``). Flags print every name whose bits are all set, in table
order, joined by the delimiter, then any bits left as ``0x..``; zero prints the first table entry
whose value is not a number, else nothing. Addresses resolve through the capture's kallsyms: the
symbol at or below, by the same binary search trace-cmd uses (see ``Kallsyms``); none prints ``0x..``.

Values are rendered once per distinct value of a column and gathered back, never once per event.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

_U64 = (1 << 64) - 1
_NO_MATCH = _U64  # libtraceevent's eval_flag() returns -1 for a value it cannot read
# names libtraceevent knows without the kernel's help (its eval_flag table)
_KNOWN = {
    "HI_SOFTIRQ": 0, "TIMER_SOFTIRQ": 1, "NET_TX_SOFTIRQ": 2, "NET_RX_SOFTIRQ": 3, "BLOCK_SOFTIRQ": 4,
    "IRQ_POLL_SOFTIRQ": 5, "TASKLET_SOFTIRQ": 6, "SCHED_SOFTIRQ": 7, "HRTIMER_SOFTIRQ": 8, "RCU_SOFTIRQ": 9,
    "HRTIMER_NORESTART": 0, "HRTIMER_RESTART": 1,
}
# a conversion: %% or %[flags][width][.prec][length]conv, with %p's extension letter
_CONV = re.compile(r"%(?:%|[-+ #0]*(\*|\d+)?(?:\.(\*|\d+)?)?(?:hh|h|ll|l|L|z|Z|j|t|q)?([a-zA-Z]))")
_FIELD = re.compile(r"REC\s*->\s*(\w+)")
_CAST = re.compile(r"^\(\s*(?:(?:const|volatile|unsigned|signed|struct|enum)\s+)*\w+(?:\s+\w+)*\s*\**\s*\)\s*")
_INT = re.compile(r"^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)[uUlL]*$")


@dataclass(frozen=True)
class Render:
    """How trace-cmd prints one field: through a table (``symbolic``/``flags``) or kallsyms (``function``)."""

    kind: str  # "symbolic" | "flags" | "function"
    table: tuple[tuple[int, str], ...] = ()  # (value as u64, name), in print fmt order
    delim: str = ""  # flags
    offset: bool = True  # function: %pS/%pF add "+0x<off>", %ps/%pf do not


def field_renderers(print_fmt: str) -> dict[str, Render]:
    """``print fmt`` text (after ``print fmt:``) -> {field name: Render} for the fields it names."""
    fmt, rest = _leading_string(print_fmt.strip())
    if fmt is None:
        return {}
    args = _split_top(rest.lstrip().removeprefix(",")) if rest.strip() else []
    uses: dict[str, list[Render | None]] = {}
    i = 0
    for m in _CONV.finditer(fmt):
        if m.group(0) == "%%":
            continue
        i += (m.group(1) == "*") + (m.group(2) == "*")  # a '*' width or precision takes an argument
        if i >= len(args):
            break
        conv, ext = m.group(3), fmt[m.end() : m.end() + 1]
        name, how = _classify(args[i], conv, ext)
        if name is not None:
            uses.setdefault(name, []).append(how)
        i += 1
    # a field printed as itself anywhere keeps its number (softirq: "vec=%u [action=%s]")
    return {name: hows[0] for name, hows in uses.items() if hows and all(hows)}


def _classify(arg: str, conv: str, ext: str) -> tuple[str | None, Render | None]:
    """(field, Render) for a renderable argument, (field, None) for a field printed as itself, else (None, None)."""
    arg = _strip(arg)
    if conv == "p" and ext and ext in "SsFf":
        name = _plain_field(arg, casts=True)
        return (name, Render("function", offset=ext in "SF")) if name else (None, None)
    for func in ("__print_symbolic", "__print_flags"):
        if arg.startswith(func) and arg[len(func) :].lstrip().startswith("("):
            inner = arg[len(func) :].lstrip()
            if _matching(inner, 0) != len(inner) - 1:
                return None, None
            parts = _split_top(inner[1:-1])
            name = _plain_field(parts[0], casts=False) if parts else None
            if name is None:
                return None, None
            if func == "__print_flags":
                delim = _string(parts[1]) if len(parts) > 1 else None
                if delim is None:
                    return None, None
                table = _table(parts[2:])
                return (name, Render("flags", table, delim)) if table is not None else (None, None)
            table = _table(parts[1:])
            return (name, Render("symbolic", table)) if table is not None else (None, None)
    name = _plain_field(arg, casts=True)
    return (name, None) if name else (None, None)


def _plain_field(arg: str, casts: bool) -> str | None:
    """``REC->name`` (optionally behind casts) -> name; anything else -> None."""
    arg = _strip(arg)
    while casts and (m := _CAST.match(arg)):
        arg = _strip(arg[m.end() :])
    m = _FIELD.fullmatch(arg)
    return m.group(1) if m else None


def _table(entries: list[str]) -> tuple[tuple[int, str], ...] | None:
    out = []
    for entry in entries:
        entry = entry.strip()
        if not (entry.startswith("{") and entry.endswith("}")):
            return None
        parts = _split_top(entry[1:-1])
        if len(parts) != 2 or (label := _string(parts[1])) is None:
            return None
        out.append((_value(parts[0]), label))
    return tuple(out)


def _value(text: str) -> int:
    """A table value as libtraceevent reads it, as u64: a number, a name it knows, else no-match (-1)."""
    text = _strip(text)
    while (m := _CAST.match(text)) and m.end() < len(text):  # "(unsigned long)0x1"
        text = _strip(text[m.end() :])
    if text in _KNOWN:
        return _KNOWN[text]
    m = _INT.match(text)
    if m:
        digits = m.group(1)
        return int(digits, 8 if len(digits) > 1 and digits[0] == "0" and digits[1] in "01234567" else 0) & _U64
    value = _const_expr(text)  # "(1UL << 3)": libtraceevent evaluates constant expressions
    return _NO_MATCH if value is None or value < 0 else value & _U64


def _const_expr(text: str) -> int | None:
    """A C constant expression of integers (| & ^ << >> + - * ~), or None."""
    try:
        tree = ast.parse(re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", text), mode="eval").body
    except SyntaxError:
        return None
    return _ev(tree)


def _ev(node) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Invert)):
        v = _ev(node.operand)
        return None if v is None else -v if isinstance(node.op, ast.USub) else ~v
    if not isinstance(node, ast.BinOp):
        return None
    a, b, op = _ev(node.left), _ev(node.right), node.op
    if a is None or b is None:
        return None
    if isinstance(op, (ast.LShift, ast.RShift)):
        if not 0 <= b < 64:
            return None
        return a << b if isinstance(op, ast.LShift) else a >> b
    ops = {ast.BitOr: int.__or__, ast.BitAnd: int.__and__, ast.BitXor: int.__xor__,
           ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__}
    return ops[type(op)](a, b) if type(op) in ops else None


# --- C text: string literals, brackets, top-level commas -------------------------------------------


def _leading_string(text: str) -> tuple[str | None, str]:
    """The format string at the start of ``text`` (adjacent literals joined, escapes kept) and what follows."""
    if not text.startswith('"'):
        return None, text
    out, i = [], 0
    while i < len(text) and text[i] == '"':
        end = _string_end(text, i)
        if end < 0:
            return None, text
        out.append(text[i + 1 : end])
        i = end + 1
        while i < len(text) and text[i].isspace():
            i += 1
    return "".join(out), text[i:]


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _string(text: str) -> str | None:
    text = text.strip()
    if not text.startswith('"') or _string_end(text, 0) != len(text) - 1:
        return None
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text[1:-1])


_OPEN, _CLOSE = "({[", ")}]"


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (strings skipped), or -1."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            if i < 0:
                return -1
        elif c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets and strings."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            i = len(text) if end < 0 else end
        elif c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail or parts:
        parts.append(tail)
    return parts


def _strip(text: str) -> str:
    """Drop whitespace and parentheses that enclose the whole text."""
    text = text.strip()
    while text.startswith("(") and _matching(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


# --- columns ---------------------------------------------------------------------------------------


class Kallsyms:
    """The capture's /proc/kallsyms (trace.dat keeps a copy), for ``%pS`` addresses.

    Lines look like ``ffffffff81f63250 T nft_do_chain`` or ``ffffffffc002707c t bpf_prog_..._kfree_skb\\t[bpf]``.
    trace-cmd skips absolute symbols (``A``/``a``, per-CPU offsets on x86-64) and arm's ``$a``-style
    names, stops at the first line it cannot read, and ignores the module when printing.
    """

    def __init__(self, addrs: np.ndarray, names: pl.Series):
        self.addrs, self.names = addrs, names  # sorted by address; equal addresses in trace-cmd's order

    @classmethod
    def parse(cls, text: bytes) -> Kallsyms:
        lines = pl.Series(text.decode("utf-8", "replace").split("\n"), dtype=pl.String)
        parts = lines.str.extract_groups(r"^\s*([0-9a-fA-F]{1,16})\s+(\S)\s+(\S+)").struct.unnest()
        bad = parts[:, 0].is_null() & (lines != "")
        first_bad = int(bad.arg_true()[0]) if bad.any() else len(lines)  # trace-cmd stops there
        parts = parts.head(first_bad).drop_nulls()
        keep = ~parts[:, 1].is_in(["A", "a"]) & ~parts[:, 2].str.starts_with("$")
        parts = parts.filter(keep)
        hexa = parts[:, 0].str.zfill(16)
        hi = hexa.str.slice(0, 8).str.to_integer(base=16).to_numpy().astype(np.uint64)
        lo = hexa.str.slice(8, 8).str.to_integer(base=16).to_numpy().astype(np.uint64)
        addrs = (hi << np.uint64(32)) | lo
        # libtraceevent registers symbols by pushing onto a list (last line first), then sorts them by
        # address with glibc's qsort, a merge sort: aliases at one address end up in reverse file order.
        rev = np.arange(len(addrs))[::-1]
        order = rev[np.argsort(addrs[rev], kind="stable")]
        return cls(addrs[order], parts[:, 2].gather(order))

    def __len__(self) -> int:
        return len(self.addrs)

    def find(self, vals: np.ndarray) -> np.ndarray:
        """Index of the symbol trace-cmd names for each address, -1 where none.

        libtraceevent's find_func() is glibc's bsearch() with a comparison that matches an entry when
        the address equals it or lies below the next entry; the last entry matches only exactly. The
        search is replayed here on all values at once, so aliases resolve to the same one trace-cmd picks.
        """
        n = len(self.addrs)
        out = np.full(len(vals), -1, dtype=np.int64)
        if not n:
            return out
        nxt = np.append(self.addrs[1:], np.uint64(0))  # libtraceevent's sentinel entry has address 0
        lo, hi = np.zeros(len(vals), np.int64), np.full(len(vals), n, np.int64)
        live = lo < hi
        while live.any():
            mid = (lo + hi) // 2
            a, b = self.addrs[np.minimum(mid, n - 1)], nxt[np.minimum(mid, n - 1)]
            hit = live & ((vals == a) | ((vals > a) & (vals < b)))
            out[hit] = mid[hit]
            left = live & ~hit & (vals < a)
            right = live & ~hit & ~left
            hi = np.where(left, mid, hi)
            lo = np.where(right, mid + 1, lo)
            live = live & ~hit & (lo < hi)
        return out


def render(how: Render, vals: np.ndarray, kallsyms: Kallsyms | None = None) -> pl.Series:
    """A column of field values (read unsigned, as libtraceevent reads them) -> the text trace-cmd prints."""
    if not len(vals):
        return pl.Series([], dtype=pl.String)
    uniq, inv = np.unique(vals.astype(np.uint64), return_inverse=True)
    values = uniq.tolist()
    if how.kind == "symbolic":
        names = dict(reversed(how.table))  # the first entry of a value wins
        text = [names.get(v, f"0x{v:x}") for v in values]
    elif how.kind == "flags":
        text = [_flags(v, how) for v in values]
    else:
        text = _functions(uniq, how.offset, kallsyms)
    return pl.Series(text, dtype=pl.String).gather(inv.reshape(-1))


def _functions(addrs: np.ndarray, offset: bool, kallsyms: Kallsyms | None) -> list[str]:
    """libtraceevent's print_function(): "sym+0xoff" (%pS) or "sym" (%ps); "0x<addr>" without a symbol."""
    if kallsyms is None or not len(kallsyms):
        return [f"0x{v:x}" for v in addrs.tolist()]
    at = kallsyms.find(addrs)
    known = np.maximum(at, 0)
    names, base = kallsyms.names.gather(known).to_list(), kallsyms.addrs[known].tolist()
    return [
        f"0x{v:x}" if i < 0 else f"{name}+0x{v - b:x}" if offset else name
        for v, i, name, b in zip(addrs.tolist(), at.tolist(), names, base)
    ]


def _flags(val: int, how: Render) -> str:
    """libtraceevent's TEP_PRINT_FLAGS, step by step (including its quirk: once the bits left reach zero,
    an entry it could not read prints, without a delimiter)."""
    out, printed = "", False
    for fval, label in how.table:
        if not val and fval >= 1 << 63:
            return out + label
        if 0 < fval < 1 << 63 and val & fval == fval:
            out += (how.delim if printed else "") + label
            printed = True
            val &= ~fval
    if val:
        out += (how.delim if printed else "") + f"0x{val:x}"
    return out
