"""The any-event engine on its own: --where, typed fields, the columnar pairing (nested and not),
and the hand-made recursion fixture whose pairs are worked out by hand below."""
from __future__ import annotations

import polars as pl
import pytest

import traceparse
from traceparse.parsers.errors import TraceParseError
from traceparse.reports.engine.fields import numeric, with_fields
from traceparse.reports.engine.pairs import Pairer
from traceparse.reports.engine.where import Where, apply

from conftest import FIXTURES, run_cli


def frame(**cols):
    return pl.DataFrame(cols)


# --where ---------------------------------------------------------------------------------------------

ROWS = frame(len=[10, 9000, 9000, 0x20], comm=["a", "swapper", "b", 'q"x'], ret=[-1, 0, 2, -11])


@pytest.mark.parametrize("expr,keep", [
    ('len > 8192 && comm != "swapper"', [9000]),
    ("ret < 0", [10, 0x20]),
    ("len == 0x20", [0x20]),
    ('ret < 0 || (len == 9000 && !(comm == "b"))', [10, 9000, 0x20]),
    ("!(ret >= 0) && len >= 11", [0x20]),
    ('comm == "q\\"x"', [0x20]),  # an escaped quote inside a string
    ("ret<-5", [0x20]),
    ("-1 == ret", [10]),
])
def test_where_keeps_what_a_reference_keeps(expr, keep):
    assert apply(ROWS, Where(expr))["len"].to_list() == keep


@pytest.mark.parametrize("bad", ["", "len >", "len", "&& x", 'comm < "a"', "1 == 2", "len == 1 )", "a = 1", "(len == 1", "len == 'x'"])
def test_where_mistakes_are_one_line_errors(bad):
    with pytest.raises(TraceParseError) as e:
        Where(bad)
    assert "\n" not in str(e.value) and "--where" in str(e.value)


def test_where_never_evals():
    with pytest.raises(TraceParseError):
        Where("__import__('os').system('true') == 0")


def test_where_type_mismatch_is_one_line():
    with pytest.raises(TraceParseError, match="wrong kind of value"):
        apply(ROWS.with_columns(pl.col("comm").cast(pl.Categorical)), Where("comm == 3"))


def test_where_is_checked_before_any_input_is_read():
    r = run_cli("syscalls", "/nonexistent/file", "--where", "ret <")
    assert r.returncode == 2 and b"--where" in r.stderr and b"Traceback" not in r.stderr


# fields -----------------------------------------------------------------------------------------------

def test_numbers_hex_decimal_and_twos_complement():
    s = pl.Series(["0xfffffffffffffff2", "12", "-5", "0x10", "001", "abc", None])
    assert pl.select(numeric(pl.lit(s))).to_series().to_list() == [-14, 12, -5, 16, 1, None, None]


def test_fields_from_payload_pairs_without_trailing_punctuation():
    kv = pl.Struct({"key": pl.String, "value": pl.String})
    f = pl.DataFrame({
        "pid": [7], "comm": ["w"], "payload": ["fd: 0x00000003, buf: 0x7ffd, count: 0x00000200"],
        "fields": [[{"key": "fd", "value": "0x00000003,"}, {"key": "buf", "value": "0x7ffd,"}, {"key": "count", "value": "0x00000200"}]],
    }, schema_overrides={"fields": pl.List(kv)})
    out = with_fields(f, "syscalls:sys_enter_write", ["fd", "count", "pid", "nothere"])
    assert out.select("fd", "count", "pid", "nothere").row(0) == (3, 512, 7, None)


def test_exit_value_and_raw_syscall_numbers():
    f = pl.DataFrame({"payload": ["0xfffffffffffffff5", "sys_write -> 0x5"], "pid": [1, 1]})
    assert with_fields(f, "syscalls:sys_exit_write", ["ret"])["ret"].to_list() == [-11, 5]
    raw = pl.DataFrame({"payload": ["NR 1 = 4096", "NR 0 = -11"], "pid": [1, 1]})
    out = with_fields(raw, "raw_syscalls:sys_exit", ["id", "ret"])
    assert out.select("id", "ret").rows() == [(1, 4096), (0, -11)]


def test_trace_cmd_sched_plugin_form():
    f = pl.DataFrame({"payload": ["tpcpu:22599 [120] R ==> polars-0:11499 [130]"], "pid": [22599]})
    out = with_fields(f, "sched:sched_switch", ["prev_pid", "prev_state", "next_comm", "next_pid"])
    assert out.select("prev_pid", "prev_state", "next_comm", "next_pid").row(0) == (22599, "R", "polars-0", 11499)


# pairs --------------------------------------------------------------------------------------------------

def _events(seq):
    """seq of ("S"|"E", ts[, n]) for pid 1 -> (starts, ends)."""
    s = [(t, n) for k, t, *n in seq if k == "S" for n in [n[0] if n else 0]]
    e = [t for k, t, *_ in seq if k == "E"]
    return frame(pid=[1] * len(s), ts_ns=[t for t, _ in s], n=[n for _, n in s]), frame(pid=[1] * len(e), ts_ns=e)


def _reference(seq, nested):
    """A plain per-event stack machine: the independent reference for the columnar pairing."""
    stack, pairs, orphans, overwritten = [], [], 0, 0
    for k, t, *n in seq:
        if k == "S":
            if not nested and stack:
                overwritten += 1
                stack.clear()
            stack.append(t)
        elif stack:
            pairs.append((stack.pop(), t))
        else:
            orphans += 1
    return sorted(pairs), orphans, len(stack), overwritten


@pytest.mark.parametrize("nested", [True, False])
@pytest.mark.parametrize("cut", [0, 3, 5, 8])
def test_pairing_matches_a_stack_machine_across_chunks(nested, cut):
    seq = [("E", 5), ("S", 10), ("S", 20), ("S", 30), ("E", 35), ("E", 40), ("S", 50), ("E", 55), ("E", 70), ("S", 80),
           ("E", 90), ("E", 95), ("S", 100)]
    p = Pairer(["pid"], nested=nested)
    got = []
    for part in (seq[:cut], seq[cut:]):
        s, e = _events(part)
        out = p.feed(s, e)
        if out.height:
            got += out.select("start_ts_ns", "ts_ns").rows()
    pairs, orphans, still, overwritten = _reference(seq, nested)
    assert sorted(got) == pairs
    assert p.unmatched["end_without_start"] == orphans
    assert p.still_open().height == still
    assert p.unmatched["overwritten"] == overwritten


def test_open_starts_are_bounded():
    p = Pairer(["pid"], nested=False, max_open=2)
    p.feed(frame(pid=[1, 2, 3, 4], ts_ns=[1, 2, 3, 4]), frame(pid=[9], ts_ns=[5]))
    assert p.still_open()["pid"].to_list() == [3, 4] and p.unmatched["open_dropped"] == 2


def test_keys_may_differ_per_side():
    """sched_wakeup's pid pairs with sched_switch's next_pid: both renamed to the key first."""
    p = Pairer(["pid"], nested=False)
    out = p.feed(frame(pid=[5, 6], ts_ns=[10, 11]), frame(pid=[6, 5], ts_ns=[20, 30]))
    assert sorted(out.select("pid", "latency_ns").rows()) == [(5, 20), (6, 9)]


# the hand-made recursion fixture --------------------------------------------------------------------------

def test_recursion_fixture_worked_out_by_hand():
    """fixtures/handmade/recursion.perf.txt, thread 100: fact(3) at 0 calls fact(2) at 10, which calls
    fact(1) at 20 (returns at 25); fact(2) returns at 40; fact(3) calls fact(1) again at 50 (returns
    at 52) and returns at 70; fact(4) starts at 80 and never returns. Thread 101: a return at 1 whose
    call came before the capture, then fact(1) from 12 to 30. So, in us: n=3 70, n=2 30, n=1 18
    (thread 101), n=1 5, n=1 2; one end without start, one start without end. (Pairing first-in
    first-out, as funclatency's known bug does, would give fact(3) 25 us and fact(1) 60 us.)"""
    r = traceparse.funclatency(FIXTURES / "handmade" / "recursion.perf.txt", func="fact", top=0)
    got = sorted((s["pid"], s["args"], s["latency_ns"]) for s in r.data["slow"])
    assert got == sorted([
        (100, "(401136) n=3", 70_000), (100, "(401136) n=2", 30_000), (101, "(401136) n=1", 18_000),
        (100, "(401136) n=1", 5_000), (100, "(401136) n=1", 2_000),
    ])
    assert r.data["unmatched"]["latency"] == {"end_without_start": 1, "start_without_end": 1, "overwritten": 0, "open_dropped": 0}
    total = r.data["groups"][0]
    assert total["key"] == {} and total["count"] == 5 and total["stats"]["max_ns"] == 70_000 and total["stats"]["hdr"]
