"""The native trace.dat core (parsers/native/src/ring_buffer.rs, fields.rs) against small references
written here: a record-at-a-time page walker, struct-packed payloads, Python's stable sort."""
from __future__ import annotations

import random
import struct
from collections import Counter

import numpy as np
import polars as pl
import pytest
from test_trace_dat import SYNTH_FORMAT, _record

from traceparse.parsers import _native
from traceparse.parsers.event_format import FormatTable, FrameBuilder
from traceparse.parsers.ring_buffer import PageLayout, Records, decode_pages


def reference_walk(buf: bytes, lay: PageLayout):
    """The ring-buffer page format (ring_buffer.py's docstring), one record at a time."""
    e, ps, cs = lay.endian, lay.page_size, lay.commit_size
    u32 = lambda at: struct.unpack_from(f"{e}I", buf, at)[0] if at + 4 <= len(buf) else struct.unpack_from(f"{e}I", buf, len(buf) // 4 * 4 - 4)[0]
    out, lost, bad = [], [], 0
    for p in range(len(buf) // ps):
        base = p * ps
        page_ts = struct.unpack_from(f"{e}Q", buf, base + lay.ts_offset)[0]
        commit = struct.unpack_from(f"{e}{'Q' if cs == 8 else 'I'}", buf, base + lay.commit_offset)[0]
        size, cap = commit & ((1 << 30) - 1), ps - lay.data_offset
        broken = size > cap
        size = 0 if broken else size
        if commit & (1 << 31):
            stored = commit & (1 << 30) and size + cs <= cap
            at = base + lay.data_offset + size
            # Records.lost is int64: a u64 count past 2^63 wraps
            lost.append(struct.unpack_from(f"{e}{'q' if cs == 8 else 'I'}", buf, at)[0] if stored else -1)
        else:
            lost.append(0)
        at, end, ts = base + lay.data_offset, base + lay.data_offset + size // 4 * 4, page_ts
        while at < end:
            word = u32(at)
            tl, delta = (word >> 27, word & 0x7FFFFFF) if e == ">" else (word & 31, word >> 5)
            arr0 = u32(at + 4)
            if tl == 0 or (tl == 29 and delta):
                n = 4 + -(-arr0 // 4) * 4
            else:
                n = 4 + 4 * tl if tl <= 28 else 8
            if (tl == 0 and arr0 < 4) or at + n > end:
                broken = True
                break
            if tl == 29 and not delta:
                break
            if tl == 30:
                ts += arr0 << 27 | delta
            elif tl == 31:
                ts = (arr0 << 27 | delta) | (page_ts & (0xF8 << 56))
            else:
                ts += delta
            ts &= (1 << 64) - 1
            if tl <= 28:
                start, length = (at + 8, arr0 - 4) if tl == 0 else (at + 4, 4 * tl)
                out.append((start, length, ts, p))
            at += n
        bad += broken
    return out, lost, bad


def random_pages(rng: random.Random, lay: PageLayout, npages: int) -> bytes:
    e, ps = lay.endian, lay.page_size
    buf = bytearray(rng.randbytes(npages * ps))
    for p in range(npages):
        base = p * ps
        if rng.random() < 0.8:
            commit = rng.randrange(ps - lay.data_offset + 8) | rng.choice([0, 1 << 31, 3 << 30])
            struct.pack_into(f"{e}{'Q' if lay.commit_size == 8 else 'I'}", buf, base + lay.commit_offset, commit)
        for at in range(base + lay.data_offset, base + ps, 4):
            r = rng.random()
            if r < 0.6:
                tl = rng.choice([0, 1, 2, 3, 29, 30, 31])
                delta = rng.randrange(1 << 27)
                struct.pack_into(f"{e}I", buf, at, tl << 27 | delta if e == ">" else tl | delta << 5)
            elif r < 0.8:
                struct.pack_into(f"{e}I", buf, at, rng.randrange(40))
    return bytes(buf)


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("commit_size", [8, 4])
def test_page_walk_matches_a_record_at_a_time_reference(endian, commit_size):
    rng = random.Random(f"{endian}{commit_size}")
    found = 0
    for _ in range(300):
        lay = PageLayout(rng.choice([64, 128, 4096]), 0, 8, commit_size, 8 + commit_size if commit_size == 8 else 12, endian)
        buf = random_pages(rng, lay, rng.randrange(1, 4))
        rec = decode_pages(buf, lay)
        want, lost, bad = reference_walk(buf, lay)
        got = list(zip(rec.start.tolist(), rec.length.tolist(), rec.ts.tolist(), rec.page.tolist()))
        assert got == want
        assert rec.lost.tolist() == lost and rec.bad_pages == bad
        found += len(want)
    assert found > 200  # the random pages do hold records


def payloads(e: str, n: int, name=None) -> tuple[bytes, list[int]]:
    """n demo records laid end to end, as perf.data's RAW samples are handed over; their starts."""
    parts, starts, at = [], [], 0
    for i in range(n):
        rec = bytearray(_record(e, i % 100, 42 + i % 2))
        if name is not None:
            rec[24:32] = name(i).ljust(8, b"\0")[:8]
        starts.append(at)
        parts.append(bytes(rec))
        at += len(rec)
    return b"".join(parts), starts


def demo_builder(e: str) -> FrameBuilder:
    table = FormatTable()
    table.add(SYNTH_FORMAT, "synth")
    return FrameBuilder(table, {42: "worker"}, e)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_frames_over_concatenated_payloads_with_a_cpu_per_record(endian):
    """The seam perf.data uses: FrameBuilder.frames over a buffer of payloads, not pages."""
    buf, starts = payloads(endian, 5)
    ends = starts[1:] + [len(buf)]
    rec = Records(np.array(starts), np.array(ends) - np.array(starts), np.arange(5, dtype=np.uint64) * 10,
                  np.zeros(5, np.int64), np.zeros(0, np.int64), 0)
    cpu = np.array([3, 0, 3, 1, 2], np.int16)
    frame = demo_builder(endian).frames(np.frombuffer(buf, np.uint8), rec, cpu, Counter())["synth:demo"]
    assert frame["ts_ns"].to_list() == [0, 10, 20, 30, 40]
    assert frame["cpu"].to_list() == cpu.tolist()
    assert frame["pid"].to_list() == [42, 43, 42, 43, 42]
    assert frame["comm"].cast(pl.String).to_list() == ["worker", "<...>", "worker", "<...>", "worker"]
    fields = [{kv["key"]: kv["value"] for kv in row} for row in frame["fields"].to_list()]
    for i, got in enumerate(fields):
        assert got == {
            "small": str(-i), "half": str(60000 + i), "neg": str(-100 * i), "big": str((1 << 63) + i),
            "name": f"nm{i}", "msg": f"m{i}", "rel": "r" * (i % 3 + 1), "arr": f"{i},7",
        }


def test_mostly_distinct_strings_and_bytes_that_are_not_utf8():
    """Past the interning limit the strings come back row by row; a bad byte is replaced, not fatal."""
    n = 3000
    name = lambda i: (b"\xff%d\0zz" % i if i == 7 else b"n%06d\0" % i)[:8].ljust(8, b"\0")
    buf, starts = payloads("<", n, name)
    rec = Records(np.array(starts), np.diff(starts + [len(buf)]), np.zeros(n, np.uint64), np.zeros(n, np.int64), np.zeros(0, np.int64), 0)
    frame = demo_builder("<").frames(buf, rec, 0, Counter())["synth:demo"]
    names = [row[4]["value"] for row in frame["fields"].to_list()]
    assert names[7] == "\ufffd7"
    assert names[:7] + names[8:] == [f"n{i:06d}" for i in range(n) if i != 7]


def test_cpu_merge_orders_shared_kinds_by_time_and_leaves_a_lone_cpus_kind_as_written():
    rng = random.Random(5)
    for _ in range(200):
        runs = [[(rng.choice([1, 2, 3]), rng.randrange(20)) for _ in range(rng.randrange(8))] for _ in range(rng.randrange(1, 4))]
        flat = [(kind, ts, r) for r, run in enumerate(runs) for kind, ts in run]
        kinds = np.array([k for k, _, _ in flat], np.int64)
        ts = np.array([t for _, t, _ in flat], np.int64)
        order = np.frombuffer(_native.merge_order(kinds.tobytes(), ts.tobytes(), [len(r) for r in runs]), np.int64)
        for kind in {1, 2, 3}:
            mine = [i for i, (k, _, _) in enumerate(flat) if k == kind]
            shared = len({flat[i][2] for i in mine}) > 1
            want = sorted(mine, key=lambda i: flat[i][1]) if shared else mine  # sorted() is stable
            assert [i for i in order.tolist() if flat[i][0] == kind] == want
    with pytest.raises(ValueError):
        _native.merge_order(np.zeros(2, np.int64).tobytes(), np.zeros(2, np.int64).tobytes(), [3])


def test_gathers_past_the_buffer_do_not_crash():
    buf = bytes(range(10))
    vals = np.frombuffer(_native.gather_int(buf, np.array([8, -3], np.int64).tobytes(), 0, 4, False), np.uint32)
    assert vals.tolist() == [0x09090908, 0x00000000]
    with pytest.raises(ValueError):
        _native.gather_int(buf, b"\0" * 7, 0, 4, False)
    with pytest.raises(ValueError):
        _native.gather_int(buf, b"", 0, 3, False)
