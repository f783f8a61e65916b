"""An event's ``print fmt`` rendered whole, as ``perf script`` (libtraceevent) prints the payload.

perf script prints a tracepoint sample by its format file's print fmt. From sched_switch's (kernel
6.18, fixtures/events/events.perf.data.xz):

    print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s ...",
        REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & (...)) ? __print_flags(
        REC->prev_state & (...), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, ...) : "R",
        REC->prev_state & (...) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio

    tpcpu 15578 [001] 3584.993470123: sched:sched_switch: prev_comm=tpcpu prev_pid=15578 prev_prio=120 prev_state=S ==> next_comm=polars-0 ...

The arguments are C expressions over the record's fields: casts, arithmetic, comparisons, ``?:``,
``__get_str``, ``REC->f[i]``, ``__print_symbolic`` and ``__print_flags`` (print_fmt.py's tables and
libtraceevent's rules for them), ``%pS`` through the capture's kallsyms. They are evaluated the
way libtraceevent 1.7 evaluates them: a field is read unsigned, as an unsigned long long; a cast
truncates or sign-extends; ``%d`` prints ``(int)val``, ``%ld`` ``(long)val``, ``%lx`` the 64 bits;
``%p`` is glibc's (``(nil)`` for 0). Each argument is a whole column (numpy or polars), never a
Python call per event. A print fmt using anything else (``__print_hex``, ``__get_bitmask``, a
kernel function) is not rendered: ``render_args`` returns None and the caller keeps its own text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from .event_format import EventFormat, Field, gather, hex_digits, int_column, render_column
from .print_fmt import _CONV, _KNOWN, _NO_MATCH, Kallsyms, Render, _const_expr, _leading_string, render

_U64 = np.uint64
_TOKEN = re.compile(
    r"\s*(?:(?P<num>0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(?P<id>[A-Za-z_]\w*)|(?P<str>\"(?:\\.|[^\"\\])*\")"
    r"|(?P<op>->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>?:()\[\]{},]))"
)
_TYPE_WORDS = {"unsigned", "signed", "int", "long", "short", "char", "bool", "_Bool", "const", "volatile", "void"}
_TYPEDEFS = {"pid_t": 4, "gfp_t": 4, "dev_t": 4, "umode_t": 2, "size_t": 8, "ssize_t": 8, "loff_t": 8}
_SIZES = {"char": 1, "short": 2, "int": 4, "long": 8, "bool": 1, "_Bool": 1}
_BINARY = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
           "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}


class Unsupported(Exception):
    """The print fmt uses what this renderer does not evaluate."""


@dataclass
class _Val:
    ints: np.ndarray | None = None  # uint64, libtraceevent's unsigned long long
    text: pl.Series | None = None
    field: Field | None = None  # the field read, when the value is one as it stands (for %s of char arrays)


class _Ctx:
    def __init__(self, fmt: EventFormat, buf: bytes, starts: np.ndarray, lens: np.ndarray, endian: str,
                 kallsyms: Kallsyms | None):
        self.fmt, self.buf, self.starts, self.lens, self.e, self.kallsyms = fmt, buf, starts, lens, endian, kallsyms
        self.n = len(starts)


def render_args(fmt: EventFormat, buf: bytes, starts: np.ndarray, lens: np.ndarray, endian: str,
                kallsyms: Kallsyms | None = None) -> tuple[list[str], list[pl.Series], list[str]] | None:
    """(the literal pieces, each conversion's text column, each conversion's argument text): the payload
    is pieces[0] + text[0] + pieces[1] + ...; None where the print fmt is beyond this renderer."""
    text, rest = _leading_string(fmt.print_fmt.strip())
    if text is None:
        return None
    try:
        tokens = _tokens(rest.lstrip().removeprefix(","))
        args = _split_args(tokens) if tokens else []
        ctx = _Ctx(fmt, buf, starts, lens, endian, kallsyms)
        pieces, cols, used, cur, i, at = [], [], [], "", 0, 0
        literal = _unescape(text)
        for m in _CONV.finditer(literal):
            cur += literal[at : m.start()]
            at = m.end()
            if m.group(0) == "%%":
                cur += "%"
                continue
            stars = []  # a '*' width or precision is an int argument before the value
            for star in (m.group(1), m.group(2)):
                if star == "*" and i < len(args):
                    stars.append(_ints(_Parser(args[i], ctx).parse()).astype(np.uint32).view(np.int32))
                    i += 1
            if i >= len(args):
                raise Unsupported("fewer arguments than conversions")
            ext = ""
            if m.group(3) == "p":
                ext = next((x for x in _P_EXT if literal.startswith(x, at)), "")
                at += len(ext)
            val = _Parser(args[i], ctx).parse()
            cols.append(_convert(val, _starred(m.group(0), m.group(1), m.group(2), stars), ext, ctx, stars))
            used.append(" ".join(t for _, t in args[i]))
            pieces.append(cur)
            cur = ""
            i += 1
        pieces.append(cur + literal[at:])
        return pieces, cols, used
    except Unsupported:
        return None
    except (ValueError, IndexError, OverflowError, RecursionError, pl.exceptions.PolarsError):
        return None  # a damaged print fmt (a cut or overwritten format file): the caller's text stays


def render_payload(fmt: EventFormat, buf: bytes, starts: np.ndarray, lens: np.ndarray, endian: str,
                   kallsyms: Kallsyms | None = None) -> pl.Series | None:
    """The payload text perf script prints for each record, or None (see ``render_args``)."""
    got = render_args(fmt, buf, starts, lens, endian, kallsyms)
    if got is None:
        return None
    pieces, cols, _ = got
    parts = [pl.lit(pieces[0])]
    for p, c in zip(pieces[1:], cols):
        parts += [pl.lit(c), pl.lit(p)]
    if not cols:
        return pl.repeat(pieces[0], len(starts), dtype=pl.String, eager=True)
    return pl.select(pl.concat_str(parts)).to_series()


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if not m or m.end() == at:
            if text[at:].strip():
                raise Unsupported(f"cannot read {text[at:at + 20]!r}")
            break
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        at = m.end()
    return out


def _split_args(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    args, cur, depth = [], [], 0
    for t in tokens:
        if t[0] == "op" and t[1] in "([{":
            depth += 1
        elif t[0] == "op" and t[1] in ")]}":
            depth -= 1
        if t == ("op", ",") and depth == 0:
            args.append(cur)
            cur = []
        else:
            cur.append(t)
    args.append(cur)
    return args


class _Parser:
    """A C expression over REC->fields, evaluated on whole columns as it is parsed."""

    def __init__(self, tokens: list[tuple[str, str]], ctx: _Ctx):
        self.t, self.i, self.c = tokens, 0, ctx

    def parse(self) -> _Val:
        v = self.expr(0)
        if self.i != len(self.t):
            raise Unsupported(f"unexpected {self.t[self.i][1]!r}")
        return v

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        t = self.peek()
        if t is None or (want is not None and t[1] != want):
            raise Unsupported(f"expected {want!r}")
        self.i += 1
        return t

    def expr(self, floor: int) -> _Val:
        left = self.unary()
        while (t := self.peek()) is not None and t[0] == "op":
            if t[1] == "?" and floor == 0:
                self.i += 1
                a = self.expr(0)
                self.take(":")
                b = self.expr(0)
                left = _choose(left, a, b, self.c.n)
                continue
            prec = _BINARY.get(t[1])
            if prec is None or prec < floor:
                break
            self.i += 1
            right = self.expr(prec + 1)
            left = _binary(t[1], left, right)
        return left

    def unary(self) -> _Val:
        t = self.peek()
        if t is None:
            raise Unsupported("an empty expression")
        if t[0] == "op" and t[1] in ("-", "~", "!"):
            self.i += 1
            v = _ints(self.unary())
            if t[1] == "-":
                return _Val(ints=(~v + _U64(1)))
            return _Val(ints=~v) if t[1] == "~" else _Val(ints=(v == 0).astype(np.uint64))
        if t == ("op", "(") and self._is_cast():
            self.i += 1
            words = []
            while self.peek() != ("op", ")"):
                words.append(self.take()[1])
            self.i += 1
            return _cast(words, self.unary())
        return self.postfix()

    def _is_cast(self) -> bool:
        j, words = self.i + 1, []
        while j < len(self.t) and self.t[j] != ("op", ")"):
            words.append(self.t[j])
            j += 1
        if not words or j >= len(self.t):
            return False
        names = [w for k, w in words if k == "id"]
        if any(k not in ("id", "op") or (k == "op" and w != "*") for k, w in words):
            return False
        return bool(names) and all(w in _TYPE_WORDS or w in ("struct", "enum") or w.endswith("_t") or _fixed_size(w) for w in names[:1])

    def postfix(self) -> _Val:
        kind, tok = self.take()
        n = self.c.n
        if kind == "num":
            return _Val(ints=np.full(n, int(tok, 16) if tok[:2].lower() == "0x" else int(tok, 8 if tok.startswith("0") and len(tok) > 1 else 10), _U64))
        if kind == "str":
            return _Val(text=pl.repeat(_unescape(tok[1:-1]), n, dtype=pl.String, eager=True))
        if tok == "(":
            v = self.expr(0)
            self.take(")")
            return v
        if tok == "REC":
            self.take("->")
            name = self.take()[1]
            f = self.c.fmt.get(name) or self.c.fmt.common.get(name)
            if f is None:
                raise Unsupported(f"no field {name}")
            if self.peek() == ("op", "["):
                self.i += 1
                k = _ints(self.expr(0))
                self.take("]")
                if f.kind != "array" or not len(k) or (k != k[0]).any() or f.elem not in (1, 2, 4, 8):
                    raise Unsupported("an index that is not one constant")
                f = Field(f"{f.name}[{int(k[0])}]", f.type, f.offset + int(k[0]) * f.elem, f.elem, f.signed, "int", f.elem, False, False)
            return self._field(f)
        if tok == "__get_str":
            self.take("(")
            name = self.take()[1]
            self.take(")")
            f = self.c.fmt.get(name)
            if f is None or not f.is_char:
                raise Unsupported(f"__get_str({name})")
            return _Val(text=render_column(self.c.buf, self.c.starts, self.c.lens, f, self.c.e), field=f)
        if tok in ("__print_symbolic", "__print_flags"):
            self.take("(")
            v = _ints(self.expr(0))
            delim = ""
            if tok == "__print_flags":
                self.take(",")
                d = self.take()
                if d[0] != "str":
                    raise Unsupported("a flags delimiter that is not a string")
                delim = _unescape(d[1][1:-1])
            table = []
            while self.peek() == ("op", ","):
                self.i += 1
                self.take("{")
                depth, start = 0, self.i
                while not (self.peek() == ("op", ",") and depth == 0):
                    t = self.take()
                    depth += t[1] in "([" if t[0] == "op" else 0
                    depth -= t[1] in ")]" if t[0] == "op" else 0
                value = _table_value(self.t[start : self.i])
                self.take(",")
                label = self.take()
                if label[0] != "str":
                    raise Unsupported("a table name that is not a string")
                self.take("}")
                table.append((value, _unescape(label[1][1:-1])))
            self.take(")")
            how = Render("flags" if tok == "__print_flags" else "symbolic", tuple(table), delim)
            return _Val(text=render(how, v))
        raise Unsupported(f"{tok}")

    def _field(self, f: Field) -> _Val:
        c = self.c
        if f.kind == "int" and f.size in (1, 2, 4, 8):
            raw = int_column(c.buf, c.starts, f, c.e)
            return _Val(ints=raw.view(f"u{f.size}").astype(np.uint64), field=f)
        if f.is_char:
            return _Val(text=render_column(c.buf, c.starts, c.lens, f, c.e), field=f)
        if f.kind == "array":
            return _Val(field=f)  # its bytes, for %pI4, %pI6c, %pM
        raise Unsupported(f"field {f.name} of kind {f.kind}")


def _fixed_size(word: str) -> int:
    m = re.fullmatch(r"(?:__)?[us](8|16|32|64)", word)
    return int(m.group(1)) // 8 if m else 0


def _table_value(tokens: list[tuple[str, str]]) -> int:
    """A table entry's value as libtraceevent's eval_flag reads it: a number, a name it knows, else no match."""
    text = " ".join(t for _, t in tokens)
    if len(tokens) == 1 and tokens[0][0] == "id":
        return _KNOWN.get(tokens[0][1], _NO_MATCH)
    v = _const_expr(text)
    return _NO_MATCH if v is None or v < 0 else v & ((1 << 64) - 1)


def _ints(v: _Val) -> np.ndarray:
    if v.ints is None:
        raise Unsupported("a string where a number is needed")
    return v.ints


def _cast(words: list[str], v: _Val) -> _Val:
    """libtraceevent's eval_type_str: a cast to an integer type truncates and, if signed, sign-extends."""
    if "*" in words or v.ints is None:
        return v  # a pointer cast keeps the value
    names = [w for w in words if w not in ("const", "volatile")]
    if names and names[0] in ("struct", "enum"):
        return v
    size = _fixed_size(names[0]) if len(names) == 1 else 0
    signed = bool(size) and names[0].lstrip("_").startswith("s")
    if not size:
        base = [w for w in names if w in _SIZES]
        if not base and not all(w.endswith("_t") for w in names):
            raise Unsupported(f"a cast to {' '.join(words)}")
        size = _TYPEDEFS.get(names[-1], 8) if not base else 8 if "long" in base else _SIZES[base[-1]]
        signed = ("unsigned" not in names and base[-1:] != ["bool"]) if base else names[-1] in ("pid_t", "ssize_t", "loff_t")
    if size == 8:
        return _Val(ints=v.ints)
    low = v.ints.astype(f"u{size}")
    return _Val(ints=(low.view(f"i{size}").astype(np.int64).view(np.uint64) if signed else low.astype(np.uint64)))


def _binary(op: str, a: _Val, b: _Val) -> _Val:
    x, y = _ints(a), _ints(b)
    with np.errstate(all="ignore"):
        if op in ("<<", ">>"):
            sh = y & _U64(63)
            r = (x << sh) if op == "<<" else (x >> sh)
        elif op in ("/", "%"):
            safe = np.where(y == 0, _U64(1), y)
            r = np.where(y == 0, _U64(0), x // safe if op == "/" else x % safe)
        elif op == "&&":
            r = ((x != 0) & (y != 0)).astype(np.uint64)
        elif op == "||":
            r = ((x != 0) | (y != 0)).astype(np.uint64)
        else:
            f = {"+": np.add, "-": np.subtract, "*": np.multiply, "&": np.bitwise_and, "|": np.bitwise_or,
                 "^": np.bitwise_xor, "==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
                 "<=": np.less_equal, ">=": np.greater_equal}[op]
            r = f(x, y).astype(np.uint64)
    return _Val(ints=r)


def _choose(cond: _Val, a: _Val, b: _Val, n: int) -> _Val:
    mask = _ints(cond) != 0
    if a.ints is not None and b.ints is not None:
        return _Val(ints=np.where(mask, a.ints, b.ints))
    if a.text is None or b.text is None:
        raise Unsupported("?: of a number and a string")
    out = pl.select(pl.when(pl.Series(mask)).then(pl.lit(a.text)).otherwise(pl.lit(b.text))).to_series()
    return _Val(text=out)


def _starred(spec: str, width: str | None, prec: str | None, stars: list) -> str:
    """The conversion with a constant '*' width put in its place ('*' precision is applied per row)."""
    if width == "*":
        w = stars[0]
        if not len(w) or (w != w[0]).any() or w[0] < 0:
            raise Unsupported("a '*' width that varies")
        spec = spec.replace("*", str(int(w[0])), 1)
    return spec


_SPEC = re.compile(r"%([-+ #0]*)(\d+)?(?:\.(\d+|\*))?(hh|h|ll|l|L|z|Z|j|t|q)?([a-zA-Z])")


def _convert(v: _Val, spec: str, ext: str, ctx: _Ctx, stars: list | None = None) -> pl.Series:
    """One conversion of a column, as printf prints what libtraceevent hands it."""
    m = _SPEC.fullmatch(spec)
    if not m:
        raise Unsupported(spec)
    flags, width, prec, length, conv = m.group(1), int(m.group(2) or 0), m.group(3), m.group(4) or "", m.group(5)
    if conv == "s":
        if v.text is None:
            raise Unsupported("%s of a number")
        if prec == "*":  # "%.*s", len, str: at most len bytes of each
            cut = pl.Series(np.maximum(stars[-1], 0).astype(np.int64))
            out = pl.select(pl.lit(v.text).str.slice(0, pl.lit(cut))).to_series()
        else:
            out = v.text if prec is None else v.text.str.slice(0, int(prec))
        return _pad(out, width, "-" in flags, False)
    if prec == "*":
        raise Unsupported("a '*' precision of a number")
    if conv == "p" and ext[:1] in ("I", "i", "M", "m"):
        return _address(v, ext, ctx)
    x = _ints(v)
    if conv == "p":
        if ext in ("S", "s", "F", "f"):
            return render(Render("function", offset=ext in "SF"), x, ctx.kallsyms)
        if flags or width or prec:
            raise Unsupported(spec)
        text = pl.lit("0x") + pl.lit(hex_digits(x))
        return pl.select(pl.when(pl.Series(x == 0)).then(pl.lit("(nil)")).otherwise(text)).to_series()
    if prec is not None or "+" in flags or " " in flags:
        raise Unsupported(spec)
    bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
    if conv in "di":
        vals = x.astype(f"u{bits // 8}").view(f"i{bits // 8}") if bits < 64 else x.view(np.int64)
        text = pl.Series(vals.astype(np.int64)).cast(pl.String)
    elif conv == "u":
        text = pl.Series(x.astype(f"u{bits // 8}").astype(np.uint64)).cast(pl.String)
    elif conv in "xX":
        text = hex_digits(x.astype(f"u{bits // 8}").astype(np.uint64))
        if conv == "X":
            text = text.str.to_uppercase()
        if "#" in flags:  # C: "0x" before a nonzero value, inside the width ("%#010x": 0x0000abcd)
            zero = pl.Series(x.astype(f"u{bits // 8}") == 0)
            if "0" in flags and width:
                body = pl.lit(text).str.zfill(width)
                text = pl.select(pl.when(zero).then(body).otherwise(pl.lit("0x") + pl.lit(text).str.zfill(max(width - 2, 0)))).to_series()
                return _pad(text, width, "-" in flags, False)
            text = pl.select(pl.when(zero).then(pl.lit("0")).otherwise(pl.lit("0x") + pl.lit(text))).to_series()
    elif conv == "c":
        uniq, inv = np.unique(x.astype(np.uint8), return_inverse=True)
        text = pl.Series([chr(c) for c in uniq.tolist()], dtype=pl.String).gather(inv.reshape(-1))
    else:
        raise Unsupported(spec)
    return _pad(text, width, "-" in flags, "0" in flags and conv in "diuxX")


_P_EXT = ("I6c", "I4", "i4", "I6", "i6", "S", "s", "F", "f", "M", "m")
_ADDR_BYTES = {"4": 4, "6": 16, "M": 6, "m": 6}


def _address(v: _Val, ext: str, ctx: _Ctx) -> pl.Series:
    """%pI4 %pi4 %pI6 %pi6 %pI6c %pM %pm of a byte-array field, spelled once per distinct address."""
    f = v.field
    size = _ADDR_BYTES[ext[-1] if ext[0] in "Mm" else ext[1]]
    if f is None or f.kind != "array" or f.elem != 1 or f.size != size:
        raise Unsupported(f"%p{ext} of something that is not a {size}-byte array")
    mat = np.ascontiguousarray(gather(ctx.buf, ctx.starts, f.offset, size))
    uniq, inv = np.unique(mat, axis=0, return_inverse=True) if len(mat) else (mat, np.zeros(0, np.int64))
    spell = {"I4": _ip4, "i4": lambda b: ".".join(f"{x:03d}" for x in b), "I6": lambda b: _ip6(b, ":"),
             "i6": lambda b: _ip6(b, ""), "I6c": _ip6c, "M": lambda b: ":".join(f"{x:02x}" for x in b),
             "m": lambda b: "".join(f"{x:02x}" for x in b)}[ext]
    return pl.Series([spell(bytes(r)) for r in uniq.tolist()], dtype=pl.String).gather(inv.reshape(-1))


def _ip4(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def _ip6(b: bytes, sep: str) -> str:
    return sep.join(b[i : i + 2].hex() for i in range(0, 16, 2))


def _ip6c(b: bytes) -> str:
    """libtraceevent's print_ip6c_addr (the kernel's ip6_compressed_string): the longest run of two or
    more zero words is "::"; a v4-mapped or ISATAP address ends in its IPv4 dotted quad."""
    words = [int.from_bytes(b[i : i + 2], "big") for i in range(0, 16, 2)]
    mapped = words[:5] == [0] * 5 and words[5] == 0xFFFF
    isatap = (int.from_bytes(b[8:12], "big") | 0x02000000) == 0x02005EFE
    v4 = mapped or isatap
    n = 6 if v4 else 8
    runs = [next((j - i for j in range(i, n) if words[j]), n - i) for i in range(n)]
    longest, at = 1, -1
    for i, r in enumerate(runs):
        if r > longest:
            longest, at = r, i
    out, colon, i = "", False, 0
    while i < n:
        if i == at:
            out += ":" if (colon or i == 0) else ""
            out += ":"
            colon = False
            i += longest
            continue
        if colon:
            out += ":"
        out += f"{words[i]:x}"
        colon = True
        i += 1
    if v4:
        out += (":" if colon else "") + _ip4(b[12:])
    return out


def _pad(text: pl.Series, width: int, left: bool, zeros: bool) -> pl.Series:
    if not width:
        return text
    if left:
        return text.str.pad_end(width)
    if zeros:  # a sign stays in front of the zeros
        neg = text.str.starts_with("-")
        body = text.str.strip_prefix("-")
        padded = pl.select(pl.when(pl.Series(neg)).then(pl.lit("-") + pl.lit(body).str.zfill(width - 1)).otherwise(pl.lit(body).str.zfill(width))).to_series()
        return padded
    return text.str.pad_start(width)
