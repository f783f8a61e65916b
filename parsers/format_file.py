"""tracefs ``format`` files parsed: each event's fields, where its record holds them, and where the
block lane reads a block request. Nothing here imports polars or numpy: ``traceparse block`` reads
a perf.data's format files and sets its block lane before the reports are imported (prefetch.py).

A format file (`/sys/kernel/tracing/events/block/block_rq_issue/format` on 6.18):

    name: block_rq_issue
    ID: 2104
    format:
            field:unsigned short common_type;       offset:0;       size:2; signed:0;
            field:int common_pid;   offset:4;       size:4; signed:1;

            field:dev_t dev;        offset:8;       size:4; signed:0;
            field:sector_t sector;  offset:16;      size:8; signed:0;
            field:char rwbs[10];    offset:34;      size:10;        signed:0;
            field:__data_loc char[] cmd;    offset:60;      size:4; signed:0;

    print fmt: "%d,%d %s %u (%s) %llu + %u %s,%u,%u [%s]", ...

``__data_loc`` holds ``(len << 16) | offset`` from the record start; ``__rel_loc`` the same with the
offset counted from the end of the field itself (kernel 5.17+). A ``char buf[]`` of size 0 (ftrace
``print``) runs to the end of the record. Old kernels print no ``signed:`` (it is guessed from the type).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_FIELD = re.compile(
    r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);(?:\s*signed:(?P<signed>-?\d+);)?"
)
_ARRAY = re.compile(r"\[(?P<n>[^\]]*)\]\s*$")

@dataclass(frozen=True)
class Field:
    name: str
    type: str  # as declared, e.g. "unsigned int", "__data_loc char[]", "char" (for char comm[16])
    offset: int
    size: int
    signed: bool
    kind: str  # "int" | "str" (fixed char array) | "array" (other fixed array) | "loc" | "rel_loc" | "tail"
    elem: int  # element size of arrays (1 for strings)
    is_char: bool  # char elements: render as text
    is_pointer: bool


@dataclass
class EventFormat:
    system: str
    name: str
    id: int
    fields: list[Field] = field(default_factory=list)  # non-common fields, in declaration order
    common: dict[str, Field] = field(default_factory=dict)
    print_fmt: str = ""
    problem: str | None = None  # why the records of this event cannot be decoded (a damaged format file)
    fixed_end: int = 0  # a record shorter than this lacks some of its fields: it is damaged

    @property
    def key(self) -> str:
        return f"{self.system}:{self.name}"

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def parse_format(text: str, system: str) -> EventFormat | None:
    """One format file -> EventFormat, or None when it has no name or ID (not an event)."""
    name = re.search(r"^name:\s*(\S+)", text, re.M)
    ident = re.search(r"^ID:\s*(\d+)", text, re.M)
    if not name or not ident:
        return None
    fmt = EventFormat(system=system, name=name.group(1), id=int(ident.group(1)))
    bad = None
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m:
            try:
                f = _parse_field(m)
            except (IndexError, ValueError):  # "field:__data_loc;": damage, no kernel's declaration
                bad = bad or f"field {m.group('decl').strip()!r} declares no type and name"
                continue
            if f.name.startswith("common_"):
                fmt.common[f.name] = f
            else:
                fmt.fields.append(f)
    at = text.find("print fmt:")
    if at >= 0:  # the last entry, and it may span lines: a "\n" in the kernel's format string is printed as is
        fmt.print_fmt = text[at + len("print fmt:") :].strip()
    fmt.problem = bad or _problem(fmt)
    fixed = [f for f in (*fmt.common.values(), *fmt.fields) if f.kind != "tail"]
    fmt.fixed_end = max((f.offset + f.size for f in fixed), default=0) if fmt.problem is None else 0
    return fmt


_RECORD_MAX = 1 << 24  # no record is larger than the largest ring-buffer page
# fields read as numbers by the decoders (common ones, and the typed block/net columns)
_NUMERIC = {"common_type", "common_pid", "dev", "sector", "nr_sector", "bytes", "ioprio", "error", "errors", "skbaddr", "len"}


def _problem(fmt: EventFormat) -> str | None:
    """What makes a format file impossible (damage, not a kernel's format): a field past any record,
    or a number of a width no integer has."""
    for f in (*fmt.common.values(), *fmt.fields):
        if f.offset + f.size > _RECORD_MAX:
            return f"field {f.name} at offset {f.offset:,} of {f.size:,} bytes"
        if f.name in _NUMERIC and f.kind in ("int", "tail") and f.size not in (1, 2, 4, 8):
            return f"field {f.name} is an integer of {f.size} bytes"
        if f.kind in ("loc", "rel_loc") and f.size != 4:
            return f"field {f.name} is a __data_loc of {f.size} bytes (it is 4)"
    return None


class FormatTable:
    """Event formats by id, parsed when first needed: a capture carries ~2,000 and uses a handful."""

    _ID = re.compile(r"^ID:\s*(\d+)", re.M)

    def __init__(self) -> None:
        self._raw: dict[int, tuple[str, str | bytes | memoryview]] = {}
        self._parsed: dict[int, EventFormat | None] = {}

    def add(self, text: str, system: str) -> None:
        m = self._ID.search(text)
        if m:
            self._raw[int(m.group(1))] = (system, text)

    def add_known(self, event_id: int, raw, system: str) -> None:
        """A format whose id the caller read off its first lines; its bytes (or a memoryview of
        them) are decoded when first needed."""
        self._raw[event_id] = (system, raw)

    def get(self, event_id: int) -> EventFormat | None:
        if event_id not in self._parsed:
            raw = self._raw.get(event_id)
            if raw is None:
                self._parsed[event_id] = None
            else:
                text = raw[1] if isinstance(raw[1], str) else bytes(raw[1]).decode("utf-8", "replace")
                self._parsed[event_id] = parse_format(text, raw[0])
        return self._parsed[event_id]

    def ids(self, system: str) -> list[int]:
        """The ids of the events of ``system``, ascending (their formats are not parsed)."""
        return sorted(i for i, (sys_, _) in self._raw.items() if sys_ == system)

    def any(self) -> EventFormat | None:
        """Some event's format, for the common fields every event shares."""
        return next((f for f in map(self.get, self._raw) if f is not None), None)

    def of_system(self, system: str) -> list[EventFormat]:
        """The formats of one system ("block"), parsed: a few of the capture's thousands."""
        return [f for i, (sys_, _) in list(self._raw.items()) if sys_ == system and (f := self.get(i)) is not None]

    def __len__(self) -> int:
        return len(self._raw)


def _parse_field(m: re.Match) -> Field:
    decl = m.group("decl").strip()
    offset, size = int(m.group("offset")), int(m.group("size"))
    kind, elem = "int", size
    array = _ARRAY.search(decl)
    if decl.startswith("__data_loc") or decl.startswith("__rel_loc"):
        kind = "loc" if decl.startswith("__data_loc") else "rel_loc"
        decl_body = decl.split(None, 1)[1]
        type_, name = decl_body.rsplit(None, 1)
        type_ = type_.replace("[]", "").strip()
    elif array:
        name = decl[: array.start()].strip()
        type_, name = name.rsplit(None, 1) if " " in name else ("", name)
        count = array.group("n")
        if size == 0 or count == "":
            kind, elem = "tail", 1
        else:
            try:
                n = int(count, 0)
            except ValueError:  # a macro the kernel did not expand: trust the byte size
                n = 0
            elem = size // n if n else 1
            kind = "array"
    else:
        type_, name = decl.rsplit(None, 1) if " " in decl else ("", decl)
        if size == 0:  # older kernels' ftrace formats: "char buf; size:0", a flexible array to the record's end
            kind, elem = "tail", 1
    while name.startswith("*"):  # "char *foo" spelled "char * foo" or "char *foo"
        type_, name = type_ + " *", name[1:]
    base = type_.replace("const ", "").replace("volatile ", "").strip()
    is_pointer = "*" in base
    is_char = not is_pointer and base in ("char", "signed char", "unsigned char") and kind != "int"
    if kind == "array" and is_char:
        kind = "str"
    if kind in ("loc", "rel_loc", "tail"):
        is_char = not is_pointer and base in ("char", "signed char", "unsigned char")
        elem = _SIZES.get(base, 1)
    if m.group("signed") is not None:
        signed = m.group("signed") == "1"
    else:  # kernels before 2.6.32 print no "signed:"
        signed = not (base.startswith("unsigned") or base.startswith("u") or is_pointer)
    return Field(name, type_, offset, size, signed, kind, elem, is_char, is_pointer)


_SIZES = {
    "char": 1, "signed char": 1, "unsigned char": 1, "u8": 1, "s8": 1, "__u8": 1, "bool": 1,
    "short": 2, "unsigned short": 2, "u16": 2, "s16": 2, "__u16": 2, "__be16": 2,
    "int": 4, "unsigned int": 4, "u32": 4, "s32": 4, "__u32": 4, "__be32": 4, "pid_t": 4,
    "u64": 8, "s64": 8, "__u64": 8, "unsigned long long": 8, "long long": 8,
}


def parse_header_page(text: str) -> dict[str, tuple[int, int]]:
    """events/header_page -> {field: (offset, size)}; ``commit``'s size is the kernel's long size."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*field:\s*(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);", line)
        if m:
            out[m.group("decl").split()[-1]] = (int(m.group("offset")), int(m.group("size")))
    return out


LANE_KINDS = {"block:block_rq_insert": 1, "block:block_rq_issue": 2, "block:block_rq_complete": 3}


def lane_layout(fmt) -> tuple | None:
    """Where the block lane reads a block request's format: the (offset, size, signed) of dev,
    sector, nr_sector and bytes (insert and issue; None where absent) and the (offset, size) of
    rwbs (None where absent). None where the lane cannot read it as the frames do (no dev or
    sector, an integer of an odd size, an rwbs that is not a char array): its frames are built."""
    if fmt.key not in LANE_KINDS or fmt.problem or fmt.get("dev") is None or fmt.get("sector") is None:
        return None
    submit = fmt.key != "block:block_rq_complete"
    ints = [fmt.get("dev"), fmt.get("sector"), fmt.get("nr_sector"), fmt.get("bytes") if submit else None]
    rwbs = fmt.get("rwbs")
    if any(f is not None and f.size not in (1, 2, 4, 8) for f in ints) or (rwbs is not None and rwbs.kind != "str"):
        return None
    return (*(_int_spec(f) for f in ints), (rwbs.offset, rwbs.size) if rwbs is not None else None)


def _int_spec(f: Field | None) -> tuple[int, int, bool] | None:
    """A field read as a number by the native block gather, as ``int_column`` reads it."""
    if f is None:
        return None
    if f.size not in (1, 2, 4, 8):
        raise ValueError(f"{f.name}: integer of {f.size} bytes")
    return f.offset, f.size, f.signed


def common_type_field(formats: FormatTable) -> Field:
    """The field every record starts with, naming its event (its id): as some format of the
    capture places it, else where the kernel always has it."""
    some = formats.any()
    return (some.common if some else {}).get("common_type") or Field("common_type", "unsigned short", 0, 2, False, "int", 2, False, False)


def common_pid_field(formats: FormatTable) -> Field:
    some = formats.any()
    return (some.common if some else {}).get("common_pid") or Field("common_pid", "int", 4, 4, True, "int", 4, False, False)


def bad_common_field(formats: FormatTable) -> Field | None:
    """A common field that is no integer the decoders read (damage): the capture's records cannot be read."""
    return next((f for f in (common_type_field(formats), common_pid_field(formats)) if f.kind != "int" or f.size not in (1, 2, 4, 8)), None)


def lane_kinds(formats: FormatTable) -> tuple[Field, list[tuple]] | None:
    """The block lane of a capture: its common_type field and, per block request kind whose format
    the lane reads (``lane_layout``), (tracepoint id, lane kind, name, fixed end, layout); None
    where it has none, or where its common fields cannot be read."""
    if bad_common_field(formats) is not None:
        return None
    kinds = []
    for tp in formats.ids("block"):
        fmt = formats.get(tp)
        layout = None if fmt is None else lane_layout(fmt)
        if layout is not None:  # (else: not a request the lane reads as the frames do: its frames say what it holds)
            kinds.append((tp, LANE_KINDS[fmt.key], fmt.key, fmt.fixed_end, layout))
    return (common_type_field(formats), kinds) if kinds else None
