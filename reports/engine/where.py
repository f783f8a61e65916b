"""``--where EXPR``: a small filter language compiled to a polars expression (never ``eval``).

    len > 8192 && comm != "swapper/0"
    ret < 0 || (fd == 3 && count >= 0x1000)
    !(pid == 0)

Grammar (C's precedence: ``!`` binds tightest, then comparisons, ``&&``, ``||``)::

    expr    := and ("||" and)*
    and     := not ("&&" not)*
    not     := "!" not | compare
    compare := "(" expr ")" | operand OP operand        OP: == != < <= > >=
    operand := FIELD | NUMBER | STRING                  NUMBER: 42, -1, 0x1f; STRING: "text" (\\" and \\\\ escape)

A FIELD is any event field (``ret``, ``prev_state``, ``comm``, ``latency_ns``; see engine/fields.py);
strings compare with ``==``/``!=`` only. A field the events lack is null: a comparison with it is
false, so ``--where 'fd == 3'`` keeps no event that has no ``fd``. A mistake is one TraceParseError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from ...parsers.errors import TraceParseError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?0[xX][0-9a-fA-F]+|-?\d+)(?![\w.])|(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<name>[A-Za-z_][\w.]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()]))"
)
COMPARE = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Cmp:
    op: str
    left: tuple  # ("field", name) | ("num", int) | ("str", text)
    right: tuple


@dataclass(frozen=True)
class Bool:
    op: str  # "&&" | "||" | "!"
    args: tuple


class Where:
    """A parsed --where expression: ``names`` it reads, ``expr()`` the polars filter."""

    def __init__(self, text: str):
        self.text = text
        self.tree = _Parser(text).parse()

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(_names(self.tree)))

    def expr(self, alias=lambda n: n) -> pl.Expr:
        """The filter, with each field read from column ``alias(name)``."""
        return _compile(self.tree, alias)


def parse_where(text: str | None) -> Where | None:
    return None if text is None or not text.strip() else Where(text)


class _Parser:
    def __init__(self, text: str):
        self.text, self.toks, at = text, [], 0
        while at < len(text):
            m = _TOKEN.match(text, at)
            if not m or m.end() == at:
                if not text[at:].strip():
                    break
                self._fail(f"unexpected {text[at:].strip()[:12]!r} at column {at + 1 + len(text[at:]) - len(text[at:].lstrip())}")
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind)))
            at = m.end()
        self.i = 0

    def _fail(self, what: str):
        raise TraceParseError(f"--where {self.text!r}: {what}")

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def _take(self, value=None):
        tok = self._peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            self._fail(f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def parse(self):
        if not self.toks:
            self._fail("empty expression")
        tree = self._or()
        if self.i < len(self.toks):
            self._fail(f"unexpected {self.toks[self.i][1]!r}")
        return tree

    def _or(self):
        args = [self._and()]
        while self._peek() == ("op", "||"):
            self._take()
            args.append(self._and())
        return args[0] if len(args) == 1 else Bool("||", tuple(args))

    def _and(self):
        args = [self._not()]
        while self._peek() == ("op", "&&"):
            self._take()
            args.append(self._not())
        return args[0] if len(args) == 1 else Bool("&&", tuple(args))

    def _not(self):
        if self._peek() == ("op", "!"):
            self._take()
            return Bool("!", (self._not(),))
        if self._peek() == ("op", "("):
            self._take()
            inner = self._or()
            self._take(")")
            return inner
        left = self._operand()
        kind, op = self._peek()
        if kind != "op" or op not in COMPARE:
            self._fail(f"expected a comparison after {left[1]!r} (==, !=, <, <=, >, >=)")
        self._take()
        right = self._operand()
        if "str" in (left[0], right[0]) and op not in ("==", "!="):
            self._fail(f"strings compare with == and != only, not {op}")
        if left[0] != "field" and right[0] != "field":
            self._fail("a comparison needs a field on one side")
        return Cmp(op, left, right)

    def _operand(self):
        kind, value = self._take()
        if kind == "num":
            neg = value.startswith("-")
            body = value.lstrip("-")
            n = int(body, 16) if body[:2].lower() == "0x" else int(body)
            return ("num", -n if neg else n)
        if kind == "str":
            return ("str", re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "name":
            return ("field", value)
        self._fail(f"expected a field, number or string, got {value!r}")


def _names(node):
    if isinstance(node, Bool):
        for a in node.args:
            yield from _names(a)
    else:
        for side in (node.left, node.right):
            if side[0] == "field":
                yield side[1]


def _operand_expr(side, other, alias):
    if side[0] == "field":
        col = pl.col(alias(side[1]))
        # a string on the other side: compare as text (comm is Categorical)
        return col.cast(pl.String) if other[0] == "str" else col
    return pl.lit(side[1])


def _compile(node, alias) -> pl.Expr:
    if isinstance(node, Bool):
        parts = [_compile(a, alias) for a in node.args]
        if node.op == "!":
            return ~parts[0]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if node.op == "&&" else (out | p)
        return out
    a, b = _operand_expr(node.left, node.right, alias), _operand_expr(node.right, node.left, alias)
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]


def apply(frame: pl.DataFrame, where: Where | None, alias=lambda n: n) -> pl.DataFrame:
    """Rows of ``frame`` the expression keeps (null counts as false). A field compared with the wrong
    kind of value (a number with a text field) is a one-line error."""
    if where is None or not frame.height:
        return frame
    try:
        return frame.filter(where.expr(alias).fill_null(False))
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError, pl.exceptions.SchemaError) as exc:
        msg = str(exc).splitlines()[0]
        raise TraceParseError(f"--where {where.text!r}: a field compared with the wrong kind of value ({msg})") from None
