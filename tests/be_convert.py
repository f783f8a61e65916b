"""Rewrite a little-endian file-mode perf.data as a big-endian machine (s390x, ppc64) would have
written it, for the tests: no big-endian sample exists here, and this machine records little-endian.

Every number is byte-swapped where it lies, by the layouts of perf's own headers
(tools/perf/util/header.c, include/uapi/linux/perf_event.h, tools/lib/perf/include/perf/event.h);
nothing moves. A big-endian perf_event_attr keeps its bitfield word's bytes in place with the bits
of each byte reversed (C bitfields are allocated from the most significant bit there: perf reads
such a file with bswap of the words before it and swap_bitfield() on that one). The tracing data
says its own byte order (the byte after "tracing0.6"): set to big, with its sizes swapped; the RAW
payloads are swapped field by field by the capture's format files. Features that traceparse does not
read (build ids, topologies, caches, PMU mappings, sample times, BPF) are dropped from the feature
table, since each has its own layout to swap; the rest keep their bytes. Record kinds met in this
machine's captures only: any other is an error, not a guess. Checked by perf itself, which reads
files of the other byte order: `perf script` prints the same on the converted file
(tests/test_perf_data.py).
"""
from __future__ import annotations

import re

KEEP_FEATURES = {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}  # tracing data .. event desc
PERF_RECORD_MISC_MMAP_BUILD_ID = 1 << 14


class _File:
    def __init__(self, data: bytes):
        self.b = bytearray(data)

    def u(self, at: int, n: int) -> int:
        return int.from_bytes(self.b[at : at + n], "little")

    def swap(self, at: int, n: int, count: int = 1) -> None:
        for k in range(count):
            lo = at + k * n
            self.b[lo : lo + n] = self.b[lo : lo + n][::-1]


def to_big_endian(data: bytes) -> bytes:
    f = _File(data)
    if f.b[:8] != b"PERFILE2":
        raise ValueError("not a little-endian file-mode perf.data")
    attr_size, attrs_at, attrs_size = f.u(16, 8), f.u(24, 8), f.u(32, 8)
    data_at, data_size = f.u(40, 8), f.u(48, 8)
    bits = [i for i in range(256) if f.u(72 + 8 * (i // 64), 8) >> (i % 64) & 1]
    table = data_at + data_size
    sections = {bit: (f.u(table + 16 * k, 8), f.u(table + 16 * k + 8, 8)) for k, bit in enumerate(bits)}
    sample_types = [f.u(attrs_at + k * attr_size + 24, 8) for k in range(attrs_size // attr_size)]
    by_id = {}  # event id -> its attr's sample_type (a sample starts with its IDENTIFIER)
    for k, st in enumerate(sample_types):
        a = attrs_at + k * attr_size
        ids_at, ids_size = f.u(a + attr_size - 16, 8), f.u(a + attr_size - 8, 8)
        by_id.update((f.u(ids_at + 8 * i, 8), st) for i in range(ids_size // 8))
    formats = _formats(f, *sections[1]) if 1 in sections else {}

    # the records, before any number of theirs is swapped
    at = data_at
    while at < table:
        kind, misc, size = f.u(at, 4), f.u(at + 4, 2), f.u(at + 6, 2)
        _record(f, at, kind, misc, size, sample_types, by_id, formats)
        f.swap(at, 4)
        f.swap(at + 4, 2)
        f.swap(at + 6, 2)
        at += size

    for k in range(attrs_size // attr_size):  # attrs, each followed by its ids section
        a = attrs_at + k * attr_size
        _attr(f, a)
        ids_at, ids_size = f.u(a + attr_size - 16, 8), f.u(a + attr_size - 8, 8)
        f.swap(a + attr_size - 16, 8, 2)
        f.swap(ids_at, 8, ids_size // 8)

    for bit, (off, size) in sections.items():
        if bit in KEEP_FEATURES:
            _feature(f, bit, off, size)
    kept = [b for b in bits if b in KEEP_FEATURES]
    for k, bit in enumerate(kept):  # the table holds one entry per bit set, in bit order
        off, size = sections[bit]
        f.b[table + 16 * k : table + 16 * k + 16] = off.to_bytes(8, "big") + size.to_bytes(8, "big")
    mask = [0, 0, 0, 0]
    for bit in kept:
        mask[bit // 64] |= 1 << (bit % 64)
    f.b[72:104] = b"".join(m.to_bytes(8, "big") for m in mask)

    f.b[:8] = b"2ELIFREP"
    for at in range(8, 72, 8):  # size, attr_size, then (offset, size) of attrs, data, event types
        f.swap(at, 8)
    return bytes(f.b)


def _attr(f: _File, a: int) -> None:
    """perf_event_attr (VER7/8) at ``a``: numbers swapped, the bitfield word's bits reversed per byte."""
    f.swap(a, 4, 2)  # type, size
    f.swap(a + 8, 8, 4)  # config, sample_period, sample_type, read_format
    for i in range(a + 40, a + 48):
        f.b[i] = int(f"{f.b[i]:08b}"[::-1], 2)
    f.swap(a + 48, 4, 2)  # wakeup_events, bp_type
    f.swap(a + 56, 8, 4)  # config1, config2, branch_sample_type, sample_regs_user
    f.swap(a + 88, 4, 2)  # sample_stack_user, clockid
    f.swap(a + 96, 8)  # sample_regs_intr
    f.swap(a + 104, 4)  # aux_watermark
    f.swap(a + 108, 2, 2)  # sample_max_stack, reserved
    f.swap(a + 112, 4, 2)  # aux_sample_size, reserved
    f.swap(a + 120, 8)  # sig_data
    if int.from_bytes(f.b[a + 4 : a + 8], "big") >= 136:  # (size, swapped above)
        f.swap(a + 128, 8)  # config3


def _sample_id(f: _File, end: int, sample_type: int) -> None:
    """The sample_id_all trailer ending at ``end``: TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER."""
    parts = [(1 << 1, 4, 2), (1 << 2, 8, 1), (1 << 6, 8, 1), (1 << 9, 8, 1), (1 << 7, 4, 2), (1 << 16, 8, 1)]
    size = sum(n * c for bit, n, c in parts if sample_type & bit)
    at = end - size
    for bit, n, c in parts:
        if sample_type & bit:
            f.swap(at, n, c)
            at += n * c


def _record(f: _File, at: int, kind: int, misc: int, size: int, sample_types: list[int], by_id: dict, formats: dict) -> None:
    body, end = at + 8, at + size
    st = sample_types[0]
    tail = {t & ((1 << 1) | (1 << 2) | (1 << 6) | (1 << 9) | (1 << 7) | (1 << 16)) for t in sample_types}
    if len(tail) != 1:
        raise ValueError("attrs with different sample_id layouts")
    if kind == 9:
        _sample(f, body, end, by_id, formats)
    elif kind == 3:  # COMM: pid, tid, comm
        f.swap(body, 4, 2)
        _sample_id(f, end, st)
    elif kind in (4, 7):  # EXIT, FORK: pid, ppid, tid, ptid, time
        f.swap(body, 4, 4)
        f.swap(body + 16, 8)
        _sample_id(f, end, st)
    elif kind == 1:  # MMAP: pid, tid, start, len, pgoff, filename
        f.swap(body, 4, 2)
        f.swap(body + 8, 8, 3)
        _sample_id(f, end, st)
    elif kind == 10:  # MMAP2: pid, tid, start, len, pgoff, (maj, min, ino, ino_gen | build id), prot, flags
        f.swap(body, 4, 2)
        f.swap(body + 8, 8, 3)
        if not misc & PERF_RECORD_MISC_MMAP_BUILD_ID:
            f.swap(body + 32, 4, 2)
            f.swap(body + 40, 8, 2)
        f.swap(body + 56, 4, 2)
        _sample_id(f, end, st)
    elif kind in (68, 82):  # FINISHED_ROUND, FINISHED_INIT: a header alone
        pass
    elif kind == 69:  # ID_INDEX: nr, then (id, idx, cpu, tid) each
        f.swap(body, 8, (size - 8) // 8)
    elif kind == 73:  # THREAD_MAP: nr, then (pid, comm[16])
        nr = f.u(body, 8)
        f.swap(body, 8)
        for k in range(nr):
            f.swap(body + 8 + 24 * k, 8)
    elif kind == 74:  # CPU_MAP, type 2 (range): type u16, any_cpu u8, pad u8, start_cpu u16, end_cpu u16
        if f.u(body, 2) != 2:
            raise ValueError("a CPU_MAP record of a type not met here")
        f.swap(body, 2)
        f.swap(body + 4, 2, 2)
    else:
        raise ValueError(f"record type {kind} at byte {at}: its layout is not written here")


def _sample(f: _File, at: int, end: int, by_id: dict, formats: dict) -> None:
    """PERF_RECORD_SAMPLE in sample_type order (perf_event.h); RAW swapped by its format file."""
    st = by_id[f.u(at, 8)]
    if not st & (1 << 16):
        raise ValueError("samples without PERF_SAMPLE_IDENTIFIER")
    order = [(1 << 16, 8, 1), (1 << 0, 8, 1), (1 << 1, 4, 2), (1 << 2, 8, 1), (1 << 3, 8, 1), (1 << 6, 8, 1),
             (1 << 9, 8, 1), (1 << 7, 4, 2), (1 << 8, 8, 1)]  # IDENTIFIER IP TID TIME ADDR ID STREAM_ID CPU PERIOD
    for bit, n, c in order:
        if st & bit:
            f.swap(at, n, c)
            at += n * c
    if st & ~((1 << 10) | sum(bit for bit, _, _ in order)):
        raise ValueError(f"sample_type {st:#x}: fields beyond those written here")
    if st & (1 << 10):  # RAW: u32 size, then the tracepoint record
        size = f.u(at, 4)
        f.swap(at, 4)
        _payload(f, at + 4, size, formats)


def _payload(f: _File, at: int, size: int, formats: dict) -> None:
    kind = f.u(at, 2)
    fields = formats.get(kind)
    if fields is None:
        raise ValueError(f"a RAW payload of event id {kind} without a format file")
    for off, n, elem, loc in fields:
        if off + n > size:
            continue
        if loc:
            f.swap(at + off, 4)  # __data_loc: u32 (length << 16 | offset)
        elif elem in (2, 4, 8):
            f.swap(at + off, elem, n // elem)


_FIELD = re.compile(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);")


def _formats(f: _File, off: int, size: int) -> dict[int, list[tuple[int, int, int, bool]]]:
    """Event id -> (offset, size, element size, is __data_loc) of each field, from the tracing data's
    format files (read as text: the numbers around them are swapped later by _tracing)."""
    text = bytes(f.b[off : off + size]).decode("latin-1")
    out = {}
    for m in re.finditer(r"name: \S+\nID: (\d+)\nformat:(.*?)\nprint fmt", text, re.S):
        fields = []
        for decl, o, n in _FIELD.findall(m.group(2)):
            o, n = int(o), int(n)
            name = decl.strip()
            loc = "__data_loc" in name or "__rel_loc" in name
            array = re.search(r"\[(\d*)\]\s*$", name)
            if "char" in name.split("[")[0].split() and array:
                elem = 1
            elif array and array.group(1):
                elem = n // int(array.group(1))
            else:
                elem = n
            fields.append((o, n, elem, loc))
        out[int(m.group(1))] = fields
    return out


def _feature(f: _File, bit: int, off: int, size: int) -> None:
    if bit == 1:
        _tracing(f, off)
    elif bit in (3, 4, 5, 6, 8, 9):  # strings: u32 length, bytes
        f.swap(off, 4)
    elif bit == 7:  # NRCPUS: available, online
        f.swap(off, 4, 2)
    elif bit == 10:  # TOTAL_MEM
        f.swap(off, 8)
    elif bit == 11:  # CMDLINE: u32 count, then strings
        nr, at = f.u(off, 4), off + 4
        f.swap(off, 4)
        for _ in range(nr):
            n = f.u(at, 4)
            f.swap(at, 4)
            at += 4 + n
    elif bit == 12:  # EVENT_DESC: nr, attr_size, then (attr, nr_ids, name string, ids)
        nr, attr_size, at = f.u(off, 4), f.u(off + 4, 4), off + 8
        f.swap(off, 4, 2)
        for _ in range(nr):
            _attr(f, at)
            at += attr_size
            ids, name = f.u(at, 4), f.u(at + 4, 4)
            f.swap(at, 4, 2)
            at += 8 + name
            f.swap(at, 8, ids)
            at += 8 * ids


def _tracing(f: _File, at: int) -> None:
    """HEADER_TRACING_DATA: magic, version, endian byte, long size, page size, then the sections."""
    at += 10  # \x17\x08\x44tracing
    version_end = f.b.index(0, at)
    version = bytes(f.b[at:version_end]).decode()
    at = version_end + 1
    f.b[at] = 1  # big endian
    at += 2
    f.swap(at, 4)  # page size
    at += 4
    for name in (b"header_page\0", b"header_event\0"):
        assert f.b[at : at + len(name)] == name
        at += len(name)
        n = f.u(at, 8)
        f.swap(at, 8)
        at += 8 + n
    count = f.u(at, 4)  # ftrace formats: count, then (u64 size, text)
    f.swap(at, 4)
    at += 4
    for _ in range(count):
        n = f.u(at, 8)
        f.swap(at, 8)
        at += 8 + n
    systems = f.u(at, 4)  # event systems: count, then (name, count, (u64 size, text)...)
    f.swap(at, 4)
    at += 4
    for _ in range(systems):
        at = f.b.index(0, at) + 1
        count = f.u(at, 4)
        f.swap(at, 4)
        at += 4
        for _ in range(count):
            n = f.u(at, 8)
            f.swap(at, 8)
            at += 8 + n
    for width in (4, 4):  # kallsyms, printk formats: u32 size, text
        n = f.u(at, width)
        f.swap(at, width)
        at += width + n
    if version >= "0.6":  # saved cmdlines: u64 size, text
        f.swap(at, 8)
