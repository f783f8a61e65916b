"""perf_print.py's printf conversions and C expressions, against C itself: gcc compiles the same
conversions and expressions and prints them (glibc's printf), the oracle for what libtraceevent
prints once it has evaluated an argument. The whole print fmts of real captures are checked against
perf script in test_perf_data.py."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import polars as pl
import pytest
from traceparse.parsers.event_format import Field
from traceparse.parsers.perf_print import _convert, _Ctx, _Parser, _tokens, _Val

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

VALUES = [0, 5, 0xABCD, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x123456789, (1 << 64) - 11]
SPECS = ["%d", "%u", "%x", "%X", "%ld", "%lu", "%lx", "%lld", "%llx", "%hd", "%hu", "%hhu", "%08lx", "%03d",
         "%-6d", "%5u", "%#x", "%#lx", "%#010x", "%#016lx", "%i", "%zu"]


def _c(tmp_path, body: str) -> list[str]:
    src = tmp_path / "t.c"
    src.write_text("#include <stdio.h>\n#include <stddef.h>\nint main(void) {\n" + body + "return 0; }\n")
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-w", "-o", str(exe), str(src)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")[:-1]


def _cast_for(spec: str) -> str:
    """The argument type printf expects: libtraceevent casts its value so (int, long, short, char)."""
    length = spec.rstrip("dixXu")[-2:]
    if length.endswith("hh"):
        return "(unsigned char)" if spec[-1] in "uxX" else "(signed char)"
    if length.endswith("h"):
        return "(unsigned short)" if spec[-1] in "uxX" else "(short)"
    if length.endswith("l") or length.endswith("z"):
        return "(unsigned long)" if spec[-1] in "uxX" else "(long)"
    return "(unsigned int)" if spec[-1] in "uxX" else "(int)"


def test_integer_conversions_print_as_c_prints_them(tmp_path):
    body = "".join(
        f'printf("{spec}\\n", {_cast_for(spec)}{v}ULL);\n' for spec in SPECS for v in VALUES
    )
    want = _c(tmp_path, body)
    got = []
    vals = np.array(VALUES, dtype=np.uint64)
    for spec in SPECS:
        got += _convert(_Val(ints=vals), spec, "", None).to_list()
    assert got == want


def test_string_conversions_and_star_precision_print_as_c_prints_them(tmp_path):
    words = ["abcdef", "xy", "", "hello world"]
    lens = [3, 5, 0, 20]
    body = "".join(f'printf("[%-8s][%5s][%.2s][%.*s]\\n", "{w}", "{w}", "{w}", {n}, "{w}");\n' for w, n in zip(words, lens))
    want = _c(tmp_path, body)
    t = _Val(text=pl.Series(words))
    parts = [_convert(t, "%-8s", "", None), _convert(t, "%5s", "", None), _convert(t, "%.2s", "", None),
             _convert(t, "%.*s", "", None, [np.array(lens, np.int32)])]
    got = [f"[{a}][{b}][{c}][{d}]" for a, b, c, d in zip(*(p.to_list() for p in parts))]
    assert got == want


def test_expressions_evaluate_as_c_evaluates_them(tmp_path):
    # a record of two fields: u32 a at 0, s16 b at 4 (little-endian); C computes the same expressions
    # over unsigned long long values, as libtraceevent does
    recs = [(0x00000001, -2), (0x80000040, 7), (0, 0), (0xFFFFFFFF, -32768)]
    buf = b"".join(a.to_bytes(4, "little") + b.to_bytes(2, "little", signed=True) + b"\0\0" for a, b in recs)
    fields = [Field("a", "unsigned int", 0, 4, False, "int", 4, False, False), Field("b", "short", 4, 2, True, "int", 2, False, False)]

    class Fmt:
        def get(self, name):
            return next((f for f in fields if f.name == name), None)
        common: dict = {}

    ctx = _Ctx(Fmt(), buf, np.arange(len(recs), dtype=np.int64) * 8, np.full(len(recs), 8, np.int64), "<", None)
    exprs = ["REC->a & ((((0x1 | 0x2 | 0x40) + 1) << 1) - 1)", "(REC->a >> 4) + 3 * 2", "(int) REC->a",
             "(unsigned char) REC->a", "(short)REC->b", "REC->b", "REC->a == 0 || REC->b > 3", "!REC->a",
             "~REC->a", "-REC->b", "(REC->a & 0x40) ? 1 : 2", "REC->a % 7 + REC->a / 3"]
    body = ""
    for a, b in recs:
        for e in exprs:
            c = e.replace("REC->a", f"(unsigned long long)(unsigned int){a}U").replace("REC->b", f"(unsigned long long)(unsigned short)({b})")
            body += f'printf("%llu\\n", (unsigned long long)({c}));\n'
    want = [int(x) for x in _c(tmp_path, body)]
    got_by_expr = [_Parser(_tokens(e), ctx).parse().ints.tolist() for e in exprs]
    got = [got_by_expr[j][i] for i in range(len(recs)) for j in range(len(exprs))]
    assert got == want
