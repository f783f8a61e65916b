"""Rewrite a trace-cmd v7 trace.dat with another block compression (e.g. zlib), for the tests.

This machine's trace-cmd offers zstd only, so no zlib-compressed v7 file can be recorded here. This
writes one from a real zstd capture, following the v7 layout (trace-cmd.dat.v7(5)): every section
keeps its place in the order, compressed bodies are decompressed and compressed again, and each
offset that points into the file (option sections' DONE chain, the metadata sections' options, the
BUFFER options' data section and per-CPU data) is moved to where its target now lies. Little-endian
files only (all captures of this machine are).
"""
from __future__ import annotations

import struct
from collections.abc import Callable

SEC_HEADER = struct.Struct("<HHIQ")  # id, flags, string id, body size
COMPRESSED = 1
OPT_DONE, OPT_BUFFER = 0, 3
SECTION_OPTIONS = (16, 17, 18, 19, 20, 21)  # header info, ftrace/event formats, kallsyms, printk, cmdlines


def _cstr_end(raw: bytes, at: int) -> int:
    return raw.index(b"\0", at) + 1


def _blocks(raw: bytes, at: int) -> tuple[list[bytes], int]:
    """Decompressed blocks of a compressed CPU stream at ``at`` (u32 count, then size/usize/data)."""
    import zstandard

    (count,) = struct.unpack_from("<I", raw, at)
    at += 4
    out = []
    for _ in range(count):
        csize, usize = struct.unpack_from("<II", raw, at)
        out.append(zstandard.ZstdDecompressor().decompress(raw[at + 8 : at + 8 + csize], max_output_size=usize))
        at += 8 + csize
    return out, at


def _options(body: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 6 <= len(body):
        opt, size = struct.unpack_from("<HI", body, pos)
        out.append((opt, body[pos + 6 : pos + 6 + size]))
        pos += 6 + size
    return out


def recompress(raw: bytes, name: bytes, version: bytes, compress: Callable[[bytes], bytes]) -> bytes:
    import zstandard

    at = _cstr_end(raw, 10) + 6  # magic, version, endianness, long size, page size
    (page,) = struct.unpack_from("<I", raw, at - 4)
    old_comp_end = _cstr_end(raw, _cstr_end(raw, at))
    (first_options,) = struct.unpack_from("<Q", raw, old_comp_end)

    # the sections, in file order
    sections, off = [], old_comp_end + 8
    while off + SEC_HEADER.size <= len(raw):
        sid, flags, strid, size = SEC_HEADER.unpack_from(raw, off)
        sections.append((off, sid, flags, strid, raw[off + 16 : off + 16 + size]))
        off += 16 + size
    buffers = {}  # data section offset -> [(cpu, offset, size)]
    for _, sid, _, _, body in sections:
        if sid == OPT_DONE:
            for opt, val in _options(body):
                if opt == OPT_BUFFER:
                    data_off = struct.unpack_from("<Q", val)[0]
                    p = _cstr_end(val, _cstr_end(val, 8))
                    (n,) = struct.unpack_from("<I", val, p + 4)
                    buffers[data_off] = [struct.unpack_from("<IQQ", val, p + 8 + 20 * i) for i in range(n)]

    # lay the file out again: header, then every section with its new body
    header = raw[:at] + name + b"\0" + version + b"\0"
    moved, cpu_moved, bodies = {}, {}, []
    off = len(header) + 8
    for old, sid, flags, strid, body in sections:
        moved[old] = off
        if sid == OPT_BUFFER:
            new = bytearray()
            for cpu, cpu_off, _ in buffers.get(old, []):  # a buffer without data has an empty section
                start = off + 16 + len(new)
                new += b"\0" * (-start % page)  # each CPU's data starts on a page
                blocks, _ = _blocks(raw, cpu_off)
                packed = [compress(b) for b in blocks]
                stream = struct.pack("<I", len(blocks)) + b"".join(
                    struct.pack("<II", len(c), len(b)) + c for c, b in zip(packed, blocks)
                )
                cpu_moved[(old, cpu)] = (off + 16 + len(new), len(stream) - 4)  # trace-cmd's size leaves out the count
                new += stream
            body = bytes(new)
        elif flags & COMPRESSED:
            csize, usize = struct.unpack_from("<II", body)
            plain = zstandard.ZstdDecompressor().decompress(body[8 : 8 + csize], max_output_size=usize)
            packed = compress(plain)
            body = struct.pack("<II", len(packed), len(plain)) + packed
        bodies.append([sid, flags, strid, body])
        off += 16 + len(body)

    # point every offset at its target's new place (options keep their sizes)
    for entry, (old, sid, *_rest) in zip(bodies, sections):
        if sid != OPT_DONE:
            continue
        out = bytearray()
        for opt, val in _options(entry[3]):
            if opt in SECTION_OPTIONS or (opt == OPT_DONE and len(val) >= 8):
                target = struct.unpack_from("<Q", val)[0]
                val = struct.pack("<Q", moved.get(target, 0) if target else 0) + val[8:]
            elif opt == OPT_BUFFER:
                data_off = struct.unpack_from("<Q", val)[0]
                p = _cstr_end(val, _cstr_end(val, 8))
                (n,) = struct.unpack_from("<I", val, p + 4)
                val = bytearray(struct.pack("<Q", moved[data_off]) + val[8:])
                for i in range(n):
                    cpu = struct.unpack_from("<I", val, p + 8 + 20 * i)[0]
                    struct.pack_into("<QQ", val, p + 12 + 20 * i, *cpu_moved[(data_off, cpu)])
                val = bytes(val)
            out += struct.pack("<HI", opt, len(val)) + val
        entry[3] = bytes(out)
    parts = [header, struct.pack("<Q", moved[first_options])]
    for sid, flags, strid, body in bodies:
        parts += [SEC_HEADER.pack(sid, flags, strid, len(body)), body]
    return b"".join(parts)
