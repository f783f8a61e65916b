"""Fuzz targets: each takes the fuzzer's bytes and must end in a report or a TraceParseError.

Anything else escaping (a polars, numpy or Python exception, an exit code but 0/2, a traceback on
stderr) is a crash: the promise is one clear line and exit 2 for bad input, never a traceback.

    python fuzz/run.py perf_text -max_total_time=3600        # an hour on one target (fuzz/README.md)
    python -m pytest tests/test_fuzz.py                      # a few seconds of each, and the crash replays

The targets are plain functions so that pytest can replay saved crashes (fixtures/damaged/) without
atheris installed; fuzz/run.py wraps them for atheris.
"""
from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


class Crash(AssertionError):
    """A promise broken: raised so the fuzzer (and pytest) see it as a failure."""


def _reports(src_factory, which: int) -> None:
    """One of the four ways in: raw frames, block, net, info; bad input may only be a TraceParseError."""
    import traceparse
    from traceparse.parsers.errors import TraceParseError

    try:
        if which == 0:
            traceparse.open(src_factory()).frames()
        elif which == 1:
            rep = traceparse.block(src_factory())
            traceparse.render_report(rep, "terminal")
        elif which == 2:
            rep = traceparse.net(src_factory())
            traceparse.render_report(rep, "json")
        else:
            rep = traceparse.info(src_factory())
            traceparse.render_report(rep, "markdown")
    except TraceParseError:
        pass


def capture_bytes(data: bytes) -> None:
    """Any bytes as a capture (text, compressed, trace.dat): the first byte picks the report."""
    if not data:
        return
    which, body = data[0] % 4, data[1:]
    _reports(lambda: io.BytesIO(body), which)


# trace.dat inputs are 100 kB to 1 MB (the event formats alone are most of that), too large to mutate
# byte-wise at any useful rate: this target applies a few fuzzer-chosen edits to a real capture instead,
# so every execution starts from a valid file and reaches deep into the header and page walk.
_DAT_BASES: list[bytes] = []


def dat_bases() -> list[bytes]:
    if not _DAT_BASES:
        import lzma

        for name in ("blk.v7zstd.dat", "lost.v7zstd.dat", "cpu1.v7zstd.dat"):
            _DAT_BASES.append((FIXTURES / "tracedat" / name).read_bytes())
        for name in ("blk.v6.dat.xz", "blk.v7none.dat.xz"):
            _DAT_BASES.append(lzma.decompress((FIXTURES / "tracedat" / name).read_bytes()))
    return _DAT_BASES


def patched_dat(data: bytes) -> bytes:
    """Decode the fuzzer's bytes as edits to a base trace.dat.

    Layout: base index (1 byte), cut (4 bytes: keep that many bytes if non-zero), then edits of
    ``offset:4 length:1 bytes`` (offsets wrap around the file; offsets below 64 KiB are favoured,
    where the header, options and format files are).
    """
    bases = dat_bases()
    if len(data) < 5:
        return bases[0]
    base = bytearray(bases[data[0] % len(bases)])
    cut = struct.unpack_from("<I", data, 1)[0]
    pos = 5
    while pos + 5 <= len(data):
        off, n = struct.unpack_from("<IB", data, pos)
        pos += 5
        chunk = data[pos : pos + (n % 16 or 1)]
        pos += len(chunk)
        off = off % (1 << 16) if off & 0x80000000 else off % len(base)
        base[off : off + len(chunk)] = chunk
    if cut:
        base = base[: cut % len(base)]
    return bytes(base)


def trace_dat(data: bytes) -> None:
    """A real trace.dat with edits, read from a real file (the mmap path) by one of the reports."""
    blob = patched_dat(data)
    fd, path = tempfile.mkstemp(suffix=".dat", dir=_scratch())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        _reports(lambda: path, (data[0] >> 4) % 4 if data else 1)
    finally:
        os.unlink(path)


def _scratch() -> str:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


# The CLI target turns bytes into an argument list from these words: commands, every option each
# command has, values that are plausible, absurd and hostile.
COMMANDS = ["block", "net", "diff", "info", "merge", "export", "--version", "--help", "-h", "nosuch", "syscalls", "funclatency", "sched", "irq", "futex", "hist", "count"]
OPTIONS = [
    "--format", "-f", "--output", "-o", "--unit", "-u", "--slower-than", "--top", "-n", "--dev", "-D", "--comm",
    "-c", "--op", "--since", "--until", "--strict", "--interval", "-i", "--fail-on", "--no-significance", "--map",
    "--report", "--help", "-h", "--version", "--where", "--by", "--event", "--field", "--syscall", "--raw", "--label", "--engine", "--scheduler",
]
VALUES = [
    "terminal", "markdown", "json", "html", "xml", "ns", "us", "ms", "s", "10ms", "0", "-3", "1e400", "nan", "inf",
    "-inf", "99999999999999999999", "8,0", "254,0", "a,b", "R", "W", "x", "1", "2", "0.5", "1ns", "-1ms", "abc",
    "d2c.p99>+10%", "d2c.p99[dev=8,0]>+1ms", "nosuch.p1>1", "8,0=259,2", "=", "block", "net", "/nonexistent/dir/out",
    "/dev/full", "/", "", " ", "\t", "%s", "{}", "local", "dask", "spark", "tcp://127.0.0.1:1",
    "ret < 0", 'len > 8192 && comm != "swapper"', "((", "comm ==", "fd == 0x", "syscalls:sys_enter_write", "len", "comm,pid",
]


def cli_args(data: bytes) -> list[str]:
    """The fuzzer's bytes as an argument list: a command, a capture, then options and values."""
    files = small_captures()
    if not data:
        return []
    args = [COMMANDS[data[0] % len(COMMANDS)]]
    if data[0] % 5:  # most runs name a capture (or two, for diff)
        args.append(files[data[1 % len(data)] % len(files)])
        if args[0] == "diff":
            args.append(files[data[2 % len(data)] % len(files)])
    for b in data[3:24]:
        pool = OPTIONS if b & 1 else VALUES
        args.append(pool[(b >> 1) % len(pool)])
    return args


def small_captures() -> list[str]:
    """Real captures small enough to run a report on many times a second, and some that are not captures."""
    names = [
        "handmade/comm-spaces.perf.txt", "handmade/flush-and-max-sector.txt", "handmade/old-kernel-3.10.txt",
        "handmade/truncated.perf.txt", "tracedat/lost.report-t.txt.xz", "tracedat/blk.v7zstd.dat",
        "net/net-udp.perf.txt", "README.md", "nosuch.txt",
    ]
    return [str(FIXTURES / n) for n in names] + ["/", "/dev/null"]  # never "-": a fuzz run has no stdin to read


def cli(data: bytes) -> None:
    """Run the CLI in-process on fuzzed arguments: exit 0 or 2 (1 only from diff), one stderr line on 2."""
    from traceparse import cli as tp_cli

    args = cli_args(data)
    if "--engine" in args and "dask" in args:  # would start a Dask cluster or dial a scheduler: not in a fuzz run
        return
    out, err = io.StringIO(), io.StringIO()
    code = 0
    argv = sys.argv
    try:
        sys.argv = ["traceparse", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _cwd_scratch():
            tp_cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = argv
    text = err.getvalue()
    if "Traceback" in text:
        raise Crash(f"traceback for {args!r}:\n{text}")
    if code not in (0, 2) and not (code == 1 and args and args[0] == "diff"):
        raise Crash(f"exit {code} for {args!r}: {text}")
    if code == 2 and args and len(text.strip().splitlines()) != 1:  # no arguments at all: the help, on purpose
        raise Crash(f"exit 2 for {args!r} without exactly one line on stderr: {text!r}")


@contextlib.contextmanager
def _cwd_scratch():
    """A relative -o lands in a scratch folder, never in the repository."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(here)


# perf.data: a few fuzzer-chosen edits to real recordings (as for trace.dat), read as a file on disk (the
# scanner opens it itself) or as a Python stream (pipe mode included); the format files in their
# tracing data reach the print fmt renderer (parsers/perf_print.py), the records the native scanner.
_PERF_BASES: list[bytes] = []


def perf_bases() -> list[bytes]:
    if not _PERF_BASES:
        import lzma

        for name in ("func", "net-tcp", "zstd-block", "mono-block", "pipe-block", "zstd-pipe"):
            _PERF_BASES.append(lzma.decompress((FIXTURES / "perfdata" / f"{name}.perf.data.xz").read_bytes()))
    return _PERF_BASES


def patched_perf(data: bytes) -> bytes:
    """The fuzzer's bytes as edits to a base perf.data: base (1 byte), cut (4 bytes), then edits of
    ``offset:4 length:1 bytes``; an offset with its top bit set lands in the last 64 KiB, where a
    file-mode perf.data keeps its features (the format files among them)."""
    bases = perf_bases()
    if len(data) < 5:
        return bases[0]
    base = bytearray(bases[data[0] % len(bases)])
    cut = struct.unpack_from("<I", data, 1)[0]
    pos = 5
    while pos + 5 <= len(data):
        off, n = struct.unpack_from("<IB", data, pos)
        pos += 5
        chunk = data[pos : pos + (n % 16 or 1)]
        pos += len(chunk)
        off = len(base) - 1 - off % min(len(base), 1 << 16) if off & 0x80000000 else off % len(base)
        base[off : off + len(chunk)] = chunk
    if cut:
        base = base[: cut % len(base)]
    return bytes(base)


def perf_data(data: bytes) -> None:
    """A real perf.data with edits, by one of the reports, from a file or from a stream."""
    blob = patched_perf(data)
    which = (data[0] >> 4) % 4 if data else 1
    if data and data[0] & 0x08:
        _reports(lambda: io.BytesIO(blob), which)
        return
    fd, path = tempfile.mkstemp(suffix=".perf.data", dir=_scratch())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        _reports(lambda: path, which)
    finally:
        os.unlink(path)


# The any-event presets over any bytes: each name a report that needs no argument but the capture.
PRESETS = (
    ("syscalls", {}), ("sched", {}), ("irq", {}), ("futex", {}), ("funclatency", {}),
    ("hist", {"event": "net:net_dev_queue", "field": "len"}), ("count", {"by": "comm"}),
    ("syscalls", {"where": 'ret < 0 || comm != "swapper"'}),
)


def preset_bytes(data: bytes) -> None:
    """Any bytes as a capture for one of the presets (the first byte picks it)."""
    import traceparse
    from traceparse.parsers.errors import TraceParseError

    if not data:
        return
    name, options = PRESETS[data[0] % len(PRESETS)]
    try:
        rep = getattr(traceparse, name)(io.BytesIO(data[1:]), **options)
        traceparse.render_report(rep, "terminal")
        traceparse.render_report(rep, "json")
    except TraceParseError:
        pass


TARGETS = {
    "perf_text": capture_bytes,
    "ftrace_text": capture_bytes,
    "compressed": capture_bytes,
    "trace_dat": trace_dat,
    "perf_data": perf_data,
    "events": preset_bytes,
    "cli": cli,
}
