"""The library surface: open a capture, get its frames, run a report, render it."""
from __future__ import annotations

import os
from collections.abc import Iterator

from typing import TYPE_CHECKING

from .parsers.reader import read_capture
from .reports.result import Report

if TYPE_CHECKING:
    import polars as pl

    from .parsers.schema import Chunk
    from .parsers.source import Source
    from .parsers.symbols import SymbolOptions

# Each report is imported by the function that runs it: a run pays for its own report's modules
# (block's pairing kernel, net's tables...), never for all of them.


class Capture:
    """One input, read lazily. Its chunks can be walked once; ``source`` fills in as they are."""

    def __init__(self, src, strict: bool = False, chunk_bytes: int | None = None, progress=None, lean: bool = False,
                 symbols: SymbolOptions | None = None):
        self.source: Source
        # lean: for the block report: without payload text of binary block events, without call chains,
        # and block requests in the block lane where the parser has one
        self.source, self._chunks = read_capture(
            src, strict=strict, chunk_bytes=chunk_bytes, progress=progress, payload=not lean, stacks=not lean, block_lane=lean,
            symbols=symbols,
        )
        self._used = False

    def chunks(self) -> Iterator[Chunk]:
        """The capture's Chunks, streamed (memory stays flat); a Capture can be walked once."""
        if self._used:
            raise RuntimeError("this Capture was already read; open it again")
        self._used = True
        return self._chunks

    def frames(self) -> dict[str, pl.DataFrame]:
        """All events, one DataFrame per kind (loads the whole capture: for notebooks and small files)."""
        parts: dict[str, list[pl.DataFrame]] = {}
        for chunk in self.chunks():
            for name, frame in chunk.frames.items():
                parts.setdefault(name, []).append(frame)
        import polars as pl

        return {name: pl.concat(fs) for name, fs in sorted(parts.items())}

    @property
    def stacks(self) -> list[tuple[str, ...]]:
        """Interned call chains: ``stack_id`` in the frames indexes this list (innermost frame first)."""
        return self.source.stacks.frames


def open(src, strict: bool = False, kallsyms=None, symfs=None, buildid_dir=None) -> Capture:  # noqa: A001 - mirrors builtins.open on purpose
    """Open a capture: a path (plain, .gz, .zst, .xz), ``"-"`` for stdin, or a binary file object.

    Args:
        kallsyms, symfs, buildid_dir: where a perf.data's call-chain frames get their names (perf's
            options of the same names; see ``traceparse.parsers.symbols``): the recording box's
            /proc/kallsyms (a path or its bytes), a copy of its root, a build-id cache or
            ``perf archive``'s tarball. Without them a perf.data's frames are hex addresses.

    Raises TraceParseError (one line, naming the file) for input that is not a capture.
    """
    from .parsers.symbols import SymbolOptions

    return Capture(src, strict=strict, symbols=SymbolOptions(kallsyms, symfs, buildid_dir))


def _capture(src, strict: bool, progress=None, lean: bool = False, symbols: SymbolOptions | None = None) -> Capture:
    return src if isinstance(src, Capture) else Capture(src, strict=strict, progress=progress, lean=lean, symbols=symbols)


def block(src, strict: bool = False, progress=None, **options) -> Report:
    """Block-request latency (D2C, I2C, I2D) of a capture; ``options`` as BlockOptions fields.

    Args:
        src: a Capture, or anything ``open`` takes.
        progress: optional ``callback(done_bytes, total_bytes)``, called as a file is read.
        options: unit ("ns"|"us"|"ms"), slower_than_ns, top, dev ("8,0"), comm, op ("R"|"W"|...),
            since_s, until_s.
    Returns:
        a Report; ``report.data`` is the JSON contract.
    """
    from .reports.block import BlockOptions, block_report

    opts = BlockOptions(**options)  # bad options fail before the capture is opened (a pipe, 150 MB...)
    cap = _capture(src, strict, progress, lean=True)  # the block report reads typed columns only
    return block_report(cap.source, cap.chunks(), opts)


def net(src, strict: bool = False, progress=None, **options) -> Report:
    """Packet sizes, rates and senders; TCP retransmits, handshake latency and drops; ``options`` as NetOptions fields.

    Args:
        src: a Capture, or anything ``open`` takes.
        options: interval_ns (rates table bucket, default 1 s), unit ("ns"|"us"|"ms", for handshake
            latency), slower_than_ns, top (rows in listings, 0: all), dev ("eth0").
    Returns:
        a Report; ``report.data`` is the JSON contract.
    """
    from .reports.net import NetOptions, net_report

    opts = NetOptions(**options)  # bad options fail before the capture is opened
    cap = _capture(src, strict, progress)
    return net_report(cap.source, cap.chunks(), opts)


def info(src, strict: bool = False, progress=None) -> Report:
    """Format, events per kind, time span, CPUs, lost events and skipped lines of a capture."""
    from .reports.info import info_report

    cap = _capture(src, strict, progress)
    return info_report(cap.source, cap.chunks())


def fleet_report(kind: str, inputs, labels=(), engine: str = "local", scheduler: str | None = None, strict: bool = False,
          **options) -> Report:
    """Several captures (files, globs, directories) analysed one by one and merged exactly.

    Args:
        kind: "block", "net" or "info".
        inputs: paths, glob patterns or directories (walked).
        labels: one name per input, in order; none: each input's hostname where the capture
            records one (trace.dat uname), else its file name.
        engine: "local" (this process) or "dask" (each capture on a Dask worker; ``scheduler``
            "tcp://host:8786", or None for a local cluster).
        options: as ``block`` (or ``net``) takes them.
    Returns:
        a Report; ``report.data["inputs"]`` has one summary per input (one input: its own report).
    """
    from . import fleet as _fleet
    from .parsers.errors import TraceParseError

    if kind not in _fleet.KINDS:
        raise TraceParseError(f"several inputs: {kind} takes one capture (block, net and info take several)")
    if engine not in _fleet.ENGINES:
        raise TraceParseError(f"--engine must be one of {', '.join(_fleet.ENGINES)} (got {engine!r})")
    if scheduler and engine != "dask":
        raise TraceParseError("--scheduler goes with --engine dask")
    if kind == "block":  # bad options fail before any input is read
        from .reports.block import BlockOptions

        BlockOptions(**options)
    elif kind == "net":
        from .reports.net import NetOptions

        NetOptions(**options)
    found = _fleet.expand(_fleet.as_list(inputs))
    names = _fleet.check_labels(found, _fleet.as_list(labels))
    return report_of(_fleet.run(kind, found, names, options, strict=strict, engine=engine, scheduler=scheduler))


def export(inputs, out_dir, report: str | None = None, labels=(), strict: bool = False,
           kallsyms=None, symfs=None, buildid_dir=None) -> dict:
    """Write the captures' event frames as hive-partitioned Parquet under ``out_dir`` (``traceparse export``).

    Args:
        inputs: paths, glob patterns or directories.
        report: "block" also writes the paired requests (``requests/host=.../part-N.parquet``).
        labels: one ``host`` partition name per input; none: hostname, else file name.
        kallsyms, symfs, buildid_dir: name perf.data call chains in stacks.parquet (as ``open`` says).
    Returns:
        what ``out_dir/_schema.json`` says: datasets, their columns and types, the inputs.
    """
    from pathlib import Path

    from . import fleet as _fleet
    from . import parquet
    from .parsers.errors import TraceParseError

    if report is not None and report not in parquet.REPORTS:
        raise TraceParseError(f"--report must be one of {', '.join(parquet.REPORTS)} (got {report!r})")
    out = Path(out_dir)
    parquet.check_target(out)
    from .parsers.symbols import SymbolOptions

    symbols = SymbolOptions(kallsyms, symfs, buildid_dir)  # bad paths fail before anything is written
    found = _fleet.expand(_fleet.as_list(inputs))
    return parquet.export(found, _fleet.check_labels(found, _fleet.as_list(labels)), out, report=report, strict=strict,
                          symbols=symbols)


def report_of(data: dict) -> Report:
    """The Report of a block, net or info report's JSON data: one capture's, merged or saved."""
    from .parsers.errors import TraceParseError
    from .reports.block_tables import report_from_data
    from .reports.info import merged_info_report
    from .reports.merge import merge as _merge

    if data.get("report") == "block":
        return _own_times(report_from_data(data))
    if data.get("report") == "net":
        from .reports.net_tables import report_from_data as net_from_data

        return net_from_data(data)
    if data.get("report") == "info":
        return merged_info_report(data if "inputs" in data else _merge([data]))
    raise TraceParseError(f"a {data.get('report')} report cannot be rebuilt from its JSON (block, net and info can)")


def _own_times(report: Report) -> Report:
    """A listing of several hosts' rows: TIME(s) from each row's own input's start (``time_ns``),
    not from the earliest host's start (each host has its own clock)."""
    for t in report.tables:
        if t.key == "slow":
            t.rows = [{**r, "time_s": r["time_ns"] / 1e9} if r.get("time_ns") is not None else r for r in t.rows]
    return report


def merge(reports) -> Report:
    """Merge saved JSON reports (paths, or report data dicts) exactly into one Report: ``traceparse merge``."""
    import json
    from pathlib import Path

    from .parsers.errors import TraceParseError
    from .reports.merge import merge as _merge
    from .reports.result import SCHEMA

    MERGES_SCHEMAS = (2, SCHEMA)  # 2: what the fleet feature first wrote (a 2 of before it lacks keys: merge names them)
    datas = []
    for r in reports:
        if isinstance(r, Report):
            r = r.data
        if not isinstance(r, dict):
            try:
                text = Path(r).read_text(errors="replace")
            except OSError as exc:
                raise TraceParseError(f"{r}: cannot read it ({exc.strerror or exc})") from None
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TraceParseError(f"{r}: not a JSON report ({exc}); save one with --format json -o FILE") from None
            if not isinstance(data, dict) or not isinstance(data.get("report"), str):
                raise TraceParseError(f"{r}: JSON but not a traceparse report (no \"report\" key)")
            if data.get("schema") not in MERGES_SCHEMAS or type(data.get("schema")) is not int:
                raise TraceParseError(f"{r}: a report of schema {data.get('schema', 1)}; merge reads schema "
                                      f"{' and '.join(map(str, MERGES_SCHEMAS))} (re-run this traceparse on its capture)")
            data.setdefault("label", Path(r).name.removesuffix(".json"))
            r = data
        datas.append(r)
    return report_of(_merge(datas))


def _repr_html_(report: Report) -> str:
    """Jupyter shows a Report as its HTML rendering. Attached here, on the top floor, because
    reports/ must not import the renderers (imports run downward)."""
    return render_report(report, "html")


Report._repr_html_ = _repr_html_


def render_report(report: Report, fmt: str = "terminal") -> str:
    """Render a Report as "terminal", "markdown", "json" or "html" text."""
    from .render import render as _render

    return _render(report, fmt)




def diff(base, new, strict: bool = False, fail_on=(), significance: bool = True, mapping=(), unit: str = "us",
         report: str | None = None) -> Report:
    """Compare two captures, or saved JSON reports (``traceparse block x --format json``), side by side;
    or two sets of runs, judged against the base runs' run-to-run variation.

    Args:
        base, new: each a path (a capture in any format ``block`` reads, or a saved report: JSON
            starting with ``{`` and having ``"report"``), ``"-"``, a Capture, a Report or a report's
            ``data`` dict; or a list of them: several runs of one workload (a path may be a glob,
            ``"baselines/*.json"``). With two or more base runs, a change must also lie beyond their
            run-to-run variation to count (README, "traceparse diff").
        fail_on: rules like ``"d2c.p99>+10%"``, ``"i2c.p50[dev=8,0]>+2ms"``; checked before any
            input is read (a bad one raises TraceParseError).
        significance: False fires rules on the numbers alone (``--no-significance``).
        mapping: ``["8,0=259,2"]`` pairs a base group (device) with a new one.
        report: the analysis run on raw captures, "block" or "net" (default: the saved side's, else block).
    Returns:
        a Report; ``report.data`` is the JSON contract, ``report.exit_code`` 1 when a rule fired.
    """
    from .parsers.errors import TraceParseError
    from .reports.diff import DiffOptions, diff_report, parse_map, parse_rule

    opts = DiffOptions(unit=unit, rules=[parse_rule(e) for e in fail_on], significance=significance, mapping=parse_map(mapping))
    if report not in (None, *DIFF_REPORTS):
        raise TraceParseError(f"--report must be one of {', '.join(DIFF_REPORTS)} (got {report!r})")
    runs = {"base": _expand(base, "base"), "new": _expand(new, "new")}
    if sum(1 for xs in runs.values() for x in xs if isinstance(x, str) and x == "-") > 1:
        raise TraceParseError("stdin ('-') can be only one of the runs")
    sides = {k: [_saved_side(x) for x in xs] for k, xs in runs.items()}
    saved = (s for xs in sides.values() for s in xs if not isinstance(s, _Raw))
    kind = report or next((s.data["report"] for s in saved), "block")
    run = globals()[kind] if kind in DIFF_REPORTS else block
    done = {k: [s if not isinstance(s, _Raw) else _side_from(s.label, "capture", run(s.src, strict=strict)) for s in xs]
            for k, xs in sides.items()}
    one = {k: xs[0] if len(xs) == 1 else xs for k, xs in done.items()}
    return diff_report(one["base"], one["new"], opts)


def _expand(x, what: str) -> list:
    """A side as a list of runs; a path that does not exist but has glob characters is a glob (sorted)."""
    import glob
    from pathlib import Path

    from .parsers.errors import TraceParseError

    items = list(x) if isinstance(x, (list, tuple)) else [x]
    if not items:
        raise TraceParseError(f"no {what} run given")
    out = []
    for item in items:
        if isinstance(item, (str, Path)) and glob.has_magic(str(item)) and not Path(item).exists():
            found = sorted(glob.glob(str(item)))
            if not found:
                raise TraceParseError(f"{what} {str(item)!r}: no file matches")
            out += found
        else:
            out.append(item)
    return out


# the reports a diff can run on raw captures (the presets with their default options)
DIFF_REPORTS = ("block", "net", "syscalls", "sched", "irq", "futex", "stacks")


class _Raw:
    """A diff side still to be analysed: a capture (path, stdin bytes or file object)."""

    def __init__(self, label: str, src):
        self.label, self.src = label, src


def _side_from(label: str, how: str, rep):
    from .reports.diff import Side

    return Side(label, how, rep.data if isinstance(rep, Report) else rep)


def _saved_side(src):
    """A saved JSON report is told by its content (``{`` first); anything else is a capture to analyse."""
    import io
    from pathlib import Path

    from .reports.diff import saved_report

    if isinstance(src, Report):
        return _side_from(src.title, "report", src)
    if isinstance(src, dict):
        import json

        return _side_from("(report data)", "saved report", saved_report(json.dumps(src), "(report data)"))
    if isinstance(src, Capture):
        return _Raw(src.source.path, src)
    if src == "-":
        import sys

        data = sys.stdin.buffer.read()
        if data.lstrip()[:1] == b"{":
            return _side_from("<stdin>", "saved report", saved_report(data.decode("utf-8", "replace"), "<stdin>"))
        return _Raw("<stdin>", io.BytesIO(data))
    if isinstance(src, (str, Path)):
        try:
            with Path(src).open("rb") as f:
                head = f.read(4096).lstrip()
        except OSError:  # missing, a directory...: the capture reader says so in its own words
            return _Raw(str(src), src)
        if head[:1] == b"{":
            return _side_from(str(src), "saved report", saved_report(Path(src).read_text(errors="replace"), str(src)))
        return _Raw(str(src), src)
    return _Raw(getattr(src, "name", "(file)"), src)


# The any-event engine and its presets (reports/events.py) -----------------------------------------


def _pair_preset(name: str, src, strict: bool, progress, options) -> Report:
    from .reports.events import EventOptions, pair_report

    opts = EventOptions(**options)  # bad options (a --where that does not parse) fail before any read
    cap = _capture(src, strict, progress)
    return pair_report(name, cap.source, cap.chunks(), opts)


def syscalls(src, strict: bool = False, progress=None, **options) -> Report:
    """Syscall counts, errors and latency per syscall (syscount -L); options as EventOptions fields
    (unit, where, by, syscall, slower_than_ns, top, arch)."""
    return _pair_preset("syscalls", src, strict, progress, options)


def funclatency(src, strict: bool = False, progress=None, **options) -> Report:
    """Function latency from probe pairs (func and func__return, or start/end events), nested calls stacked."""
    return _pair_preset("funclatency", src, strict, progress, options)


def sched(src, strict: bool = False, progress=None, **options) -> Report:
    """On-CPU time per thread, run-queue latency, off-CPU time by state, context switches."""
    return _pair_preset("sched", src, strict, progress, options)


def irq(src, strict: bool = False, progress=None, **options) -> Report:
    """Hard irq counts and handler time per name; softirq counts and time per vector."""
    return _pair_preset("irq", src, strict, progress, options)


def futex(src, strict: bool = False, progress=None, **options) -> Report:
    """Futex waits (count, time) per process comm and lock address."""
    return _pair_preset("futex", src, strict, progress, options)


def hist(src, strict: bool = False, progress=None, **options) -> Report:
    """The distribution of one numeric field (bpftrace hist()/stats()); options as HistOptions fields
    (event, field, by, where, linear)."""
    from .reports.events import HistOptions, hist_report

    opts = HistOptions(**options)
    cap = _capture(src, strict, progress)
    return hist_report(cap.source, cap.chunks(), opts)


def count(src, strict: bool = False, progress=None, **options) -> Report:
    """Event counts by fields (bpftrace count()); options as CountOptions fields (event, by, where, interval_ns)."""
    from .reports.events import CountOptions, count_report

    opts = CountOptions(**options)
    cap = _capture(src, strict, progress)
    return count_report(cap.source, cap.chunks(), opts)


def stacks(src, strict: bool = False, progress=None, kallsyms=None, symfs=None, buildid_dir=None, **options) -> Report:
    """Folded call chains weighted by samples, block latency (d2c, i2c), off-CPU time or any pair's
    duration; ``options`` as StacksOptions fields (weight, start, end, event, comm, pid, slower_than_ns,
    since_s, until_s, where, top, display_unit, fold=FoldOptions(...)). ``kallsyms``, ``symfs``,
    ``buildid_dir`` name a perf.data's frames (as ``open`` says); a binary of another build than
    the recording's is one of the report's warnings, and its frames stay ``[unknown]``.

    CPU samples of perf script text are folded from its lines as stackcollapse-perf.pl folds them
    (periods, addresses, perf's old formats); everything else from the parsed events' call chains.
    """
    from .parsers.errors import MissingEventsError, UnknownFormatError
    from .parsers.sniff import detect, open_input
    from .parsers.text import line_frames
    from .reports.stacks import StacksOptions, stacks_from_lines, stacks_report

    opts = StacksOptions(**options)  # bad options fail before any read
    from .parsers.symbols import SymbolOptions

    symbols = SymbolOptions(kallsyms, symfs, buildid_dir)
    if opts.lines_exact and not isinstance(src, Capture):
        stream, name, _ = open_input(src)
        err = None
        try:
            fmt = detect(stream, name)
        except UnknownFormatError as exc:  # perf's old formats (no CPU, no time) are no parser's
            fmt, err = None, exc
        if fmt in (None, "perf-script"):
            try:
                with stream:
                    return stacks_from_lines(name, line_frames(stream), opts)
            except MissingEventsError:
                if err is not None:
                    raise err from None
                raise
        if not isinstance(src, (str, os.PathLike)) or src == "-":
            src = stream  # stdin or a file object: read on from where it was sniffed (a peek consumes nothing)
        else:
            stream.close()
    cap = _capture(src, strict, progress, symbols=symbols)
    report = stacks_report(cap.source, cap.chunks(), opts)
    report.warnings += cap.source.meta.get("symbol_warnings", [])
    return report
