"""The `traceparse` command: wires arguments to a report and a renderer, nothing more.

Errors the user can act on are one line on stderr and exit status 2; never a traceback. Every
option is checked while the command line is parsed (typer callbacks), so a bad one fails before a
byte of input is read: a 150 MB capture, or a pipe that has not finished.
"""
from __future__ import annotations

import gc
import math
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Optional

# A run allocates ~100k objects importing typer, polars and numpy, nearly all of them to live until
# exit, and Python's collector, at its default pace (every 700 allocations, the old ones every
# 10x10), scans them again and again: ~45 ms of CPU on a small capture, measured with gc.callbacks.
# A young generation of 100k objects leaves start-up and a small run without a single collection;
# a large run still collects (its cyclic garbage stays ~1k objects: measured on 60 MB and 224 MB).
# Only for the process that runs the command (run): a process that calls main again and again (the
# tests) at that pace kept every run's cyclic garbage far longer: the suite's process grew to 2 GB.
RUN_GC_THRESHOLD = (100_000, 10, 10)
# numpy's OpenBLAS starts a thread pool as it loads (~18 ms of CPU measured here); traceparse does
# no linear algebra. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# polars' allocator (jemalloc) gives each thread an arena of its own (4 per CPU) and keeps what a
# query freed in it for reuse: a batch of finished requests recorded on polars' threads left ~100 MB
# behind. One arena for the process (read as polars loads, so here, before it does): a 4.5M-event
# trace.dat peaked at 261 MB, not 309, and used 13% less CPU (farm-bench A/B, -n 3). A user's own
# setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "narenas:1")

import typer  # noqa: E402

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Offline analyses of Linux perf/ftrace captures (perf script text, ftrace text, trace.dat).",
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"traceparse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit"),
) -> None:
    pass


def _format(value: str) -> str:
    from .render import FORMATS

    if value not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)} (got {value!r})")
    return value


def _output(path: Optional[Path]) -> Optional[Path]:
    """Refuse a target the report could never be written to, before the input is read. A target
    that passes can still refuse the write itself (/dev/full, a file under /proc, root's view of a
    read-only file): _emit says so then. Nothing is created or truncated here, so a bad input
    leaves an existing report as it was."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise typer.BadParameter(f"{path}: no such folder {folder}")
    if path.exists() and not os.access(path, os.W_OK):
        raise typer.BadParameter(f"{path} is read-only")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{path}: cannot create files in {folder}")
    return path


DURATION_MAX_NS = 2**63 - 1  # event times are Int64 nanoseconds
SECONDS_MAX = DURATION_MAX_NS // 10**9  # a capture's offsets are Int64 nanoseconds: about 292 years


def _seconds(value: Optional[float]) -> Optional[float]:
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number of seconds (got {value})")
    if value is not None and abs(value) > SECONDS_MAX:
        raise typer.BadParameter(f"{value:g} s is beyond any capture (at most {SECONDS_MAX:,} s)")
    return value


FORMAT = typer.Option("terminal", "--format", "-f", callback=_format, help="terminal | markdown | json | html")
OUTPUT = typer.Option(None, "--output", "-o", callback=_output, help="write the report to this file instead of stdout")
STRICT = typer.Option(False, "--strict", help="fail on the first line that does not parse, instead of counting it")
# a perf.data's call chains: where frame names come from (perf's options of the same names; parsers/symbols.py)
KALLSYMS = typer.Option(None, "--kallsyms", help="perf.data: the recording box's /proc/kallsyms, to name kernel frames")
SYMFS = typer.Option(None, "--symfs", help="perf.data: a copy of the box's root; user frames named from the binaries (and debug files) under it")
BUILDID_DIR = typer.Option(None, "--buildid-dir", help="perf.data: a build-id cache (~/.debug layout) or perf archive's perf.data.tar.bz2")

TOP_MAX = 1_000_000_000  # beyond any capture's request count; polars' top_k takes no larger


# "\b" alone on a line keeps click from re-wrapping the paragraph under it: an example copied from
# --help at 80 columns must run as copied.
BLOCK_EPILOG = """Examples:

\b
  perf record -a -g -e block:block_rq_insert -e block:block_rq_issue -e block:block_rq_complete -- sleep 10
  perf script > perf.txt
  traceparse block perf.txt                       # D2C/I2C/I2D per device, op, process; D2C histogram
  traceparse block perf.txt --slower-than 10ms    # every request slower than 10 ms, biosnoop-style
  traceparse block trace.txt.gz --dev 8,0 --op W --unit ms
  perf script | traceparse block - --format json -o perf.json
  traceparse block web1.dat web2.dat db/*.txt.xz             # several captures: each, and merged exactly
  traceparse block --engine dask --scheduler tcp://10.0.0.5:8786 /nfs/captures/
"""

def duration_ns(text: str, bare: str = "ms") -> int:
    """'10ms', '500us', '2s', '1500ns'; a bare number is in ``bare`` (ms, like bcc's *slower tools)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration like 10ms, 500us or 2s")
    scale = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}[m.group(2) or bare]
    value = float(m.group(1)) * scale
    if not value <= DURATION_MAX_NS:  # also catches inf, from a number too long for a float
        raise typer.BadParameter(f"{text!r} is longer than any capture (at most {DURATION_MAX_NS // 10**9:,} s)")
    return int(value)


def _threshold(value: Optional[str]) -> Optional[int]:
    return None if value is None else duration_ns(value)


def _interval(value: str) -> int:
    step = duration_ns(value, bare="s")
    if step <= 0:
        raise typer.BadParameter(f"must be a positive duration, e.g. 1s or 100ms (got {value!r})")
    return step


PROGRESS_AFTER_S = 2.0  # a run that ends sooner draws no bar at all
PROGRESS_ENV = "TRACEPARSE_PROGRESS_AFTER_S"  # overrides it (tests start the bar at once with 0)
_live: list = []  # progress being drawn: stopped before the report or an error reaches the terminal


def progress_for(file: str):
    """A ``callback(done, total)`` that draws a bar on stderr once reading has taken a couple of
    seconds (on stdin, whose size is unknown, a pulsing bar and the bytes read), or None when stderr
    is no terminal."""
    if sys.stderr is None or not sys.stderr.isatty():
        return None
    progress = _Progress(_progress_after())
    _live.append(progress)
    return progress


class _Progress:
    def __init__(self, after_s: float):
        self.after_s, self.started = after_s, time.monotonic()
        self.bar = None
        self.stopped = False
        # the parser calls from its own thread, a chunk ahead: a bar must not start while, or
        # after, the main thread stops it to write the report
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        if self.stopped:
            return
        if self.bar is None:
            with self.lock:
                if self.stopped or time.monotonic() - self.started < self.after_s:
                    return
                self.bar = self.bar or _bar()
        self.bar[0].update(self.bar[1], completed=done, total=total)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.bar is not None:
                self.bar[0].stop()


def _progress_after() -> float:
    text = os.environ.get(PROGRESS_ENV)
    if text is None:
        return PROGRESS_AFTER_S
    try:
        return float(text)
    except ValueError:
        from .parsers.errors import TraceParseError

        raise TraceParseError(f"{PROGRESS_ENV} must be a number of seconds (got {text!r})") from None


def _bar():
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    # rich would otherwise take over sys.stdout while the bar is live, and a report written to a
    # redirected stdout would be drawn on the terminal instead
    bar = Progress(BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
                   redirect_stdout=False, redirect_stderr=False)
    task = bar.add_task("reading", total=None)
    bar.start()
    return bar, task


def stop_progress() -> None:
    """Clear the bar (it is transient) so that what follows is not drawn over."""
    while _live:
        _live.pop().stop()


def _check_stdout(output: Optional[Path]) -> None:
    if output is None and sys.stdout is None:  # `traceparse info f >&-`
        from .parsers.errors import TraceParseError

        raise TraceParseError("stdout is closed: give -o FILE for the report")


def _emit(report, fmt: str, output: Optional[Path]) -> None:
    from .render import render

    _write(render(report, fmt), output)


def _write(text: str, output: Optional[Path]) -> None:
    from .parsers.errors import TraceParseError

    stop_progress()
    try:
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            with output.open("w") as f:
                f.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        if output is None:
            _discard_stdout()
        where = "stdout" if output is None else str(output)
        raise TraceParseError(f"cannot write the report to {where}: {exc.strerror or exc}") from None


def _discard_stdout() -> None:
    """What stdout could not take stays buffered and Python would try again at exit, with a
    second error; send it to /dev/null instead."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _window(ctx: typer.Context, since: Optional[float], until: Optional[float]) -> None:
    if since is not None and until is not None and since >= until:
        raise typer.BadParameter(f"--since {since:g} must be before --until {until:g}: the window is empty",
                                 ctx=ctx, param_hint="'--since' / '--until'")


FILE = typer.Argument(..., help="capture file (plain, .gz, .zst, .xz), or - for stdin")
FILES = typer.Argument(..., metavar="FILE...", help="capture files (plain, .gz, .zst, .xz), globs or directories; or - for stdin")
LABEL = typer.Option([], "--label", "-l", help="name of each input, once per input in order (default: the capture's hostname, else its file name)")
ENGINE = typer.Option("local", "--engine", help="where several inputs are analysed: local | dask")
SCHEDULER = typer.Option(None, "--scheduler", help="with --engine dask: the cluster's scheduler, tcp://host:8786 (default: start a local one)")


def _engine(value: str) -> str:
    if value == "local":  # the default: a one-capture run need not load the fleet module to know it
        return value
    from .fleet import ENGINES

    if value not in ENGINES:
        raise typer.BadParameter(f"must be one of {', '.join(ENGINES)} (got {value!r})")
    return value


ENGINE.callback = _engine
SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")


def _scheduler(value: Optional[str]) -> Optional[str]:
    """tcp://host:port (or tls://, ws://, host:port): checked here, so a typo is a usage error, not a 5 s wait."""
    if value is None:
        return value
    m = SCHEDULER_ADDRESS.match(value)
    if not m or not 0 < int(m.group(1)) < 65536:
        raise typer.BadParameter(f"not a scheduler address (got {value!r}); give tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786")
    return value


SCHEDULER.callback = _scheduler


def _fleet_wanted(files: list[str], engine: str, scheduler: Optional[str], labels: list[str]) -> bool:
    """One plain input analysed here, unlabelled: the one-capture report as it always was."""
    if scheduler and engine != "dask":
        raise typer.BadParameter("--scheduler goes with --engine dask", param_hint="'--scheduler'")
    return len(files) > 1 or engine != "local" or bool(labels) or any(f != "-" and Path(f).is_dir() for f in files) \
        or any(c in f for f in files for c in "*?[" if not Path(f).exists())
UNIT = typer.Option("us", "--unit", "-u", help="time unit of tables and histograms: ns | us | ms")


@app.command(epilog=BLOCK_EPILOG)
def block(
    ctx: typer.Context,
    files: list[str] = FILES,
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    unit: str = UNIT,
    slower_than: Optional[str] = typer.Option(None, "--slower-than", callback=_threshold,
                                              help="list requests with D2C at least this (10ms, 500us)"),
    top: Optional[int] = typer.Option(None, "--top", "-n", min=0, max=TOP_MAX,
                                      help="list the N slowest requests (default 10; with --slower-than all of them; 0: all)"),
    dev: Optional[str] = typer.Option(None, "--dev", "-D", help="only this device, major,minor (8,0)"),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="only requests inserted/issued by this comm"),
    op: Optional[str] = typer.Option(None, "--op", help="only this operation: R, W, D (discard), F (flush), N"),
    since: Optional[float] = typer.Option(None, "--since", callback=_seconds,
                                          help="only requests completing this many seconds into the capture or later"),
    until: Optional[float] = typer.Option(None, "--until", callback=_seconds,
                                          help="only requests completing before this many seconds into the capture"),
    strict: bool = STRICT,
    label: list[str] = LABEL,
    engine: str = ENGINE,
    scheduler: Optional[str] = SCHEDULER,
) -> None:
    """Block I/O latency: issue->complete (D2C), insert->complete (I2C), insert->issue (I2D)."""
    from .parsers import prefetch

    if len(files) == 1:
        prefetch.start(files[0])  # a perf.data is read while the reports are imported
    try:
        from . import api

        _window(ctx, since, until)
        _check_stdout(output)
        options = dict(unit=unit, slower_than_ns=slower_than, top=top, dev=dev, comm=comm, op=op, since_s=since, until_s=until)
        if _fleet_wanted(files, engine, scheduler, label):
            report = api.fleet_report("block", files, labels=label, engine=engine, scheduler=scheduler, strict=strict, **options)
        else:
            report = api.block(files[0], strict=strict, progress=progress_for(files[0]), **options)
    finally:
        prefetch.discard()
    _emit(report, fmt, output)


NET_EPILOG = """Examples:

\b
  perf record -a -e net:net_dev_queue -e net:netif_receive_skb -e tcp:tcp_retransmit_skb -e sock:inet_sock_set_state -e skb:kfree_skb -- sleep 10
  perf script > perf.txt
  traceparse net perf.txt                          # packet sizes per device, senders, rates, retransmits, drops
  traceparse net perf.txt --interval 100ms         # packets and bytes per 100 ms
  traceparse net trace.dat --slower-than 1ms       # every TCP handshake slower than 1 ms, tcpconnlat-style
  traceparse net perf.txt --dev eth0 --format markdown -o net.md
  perf script | traceparse net - --format json -o net.json
  traceparse net web1.dat web2.dat db/*.txt.xz     # several captures: each, and merged exactly
"""


@app.command(epilog=NET_EPILOG)
def net(
    files: list[str] = FILES,
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    interval: str = typer.Option("1s", "--interval", "-i", callback=_interval,
                                 help="bucket of the rates table (1s, 100ms; a bare number is seconds)"),
    unit: str = typer.Option("us", "--unit", "-u", help="time unit of handshake latency: ns | us | ms"),
    slower_than: Optional[str] = typer.Option(None, "--slower-than", callback=_threshold,
                                              help="list TCP handshakes taking at least this (1ms, 500us)"),
    top: Optional[int] = typer.Option(None, "--top", "-n", min=0, max=TOP_MAX,
                                      help="rows in the handshake and retransmit listings (default 10; handshakes with --slower-than: all; 0: all)"),
    dev: Optional[str] = typer.Option(None, "--dev", "-D", help="only packets on this device (eth0)"),
    strict: bool = STRICT,
    label: list[str] = LABEL,
    engine: str = ENGINE,
    scheduler: Optional[str] = SCHEDULER,
) -> None:
    """Network: packet sizes (tx/rx, per device), senders, rates, TCP retransmits, connect latency, drops."""
    from . import api

    _check_stdout(output)
    options = dict(interval_ns=interval, unit=unit, slower_than_ns=slower_than, top=top, dev=dev)
    if _fleet_wanted(files, engine, scheduler, label):
        report = api.fleet_report("net", files, labels=label, engine=engine, scheduler=scheduler, strict=strict, **options)
    else:
        report = api.net(files[0], strict=strict, progress=progress_for(files[0]), **options)
    _emit(report, fmt, output)


DIFF_EPILOG = """Examples:

\b
  traceparse block before.txt --format json -o before.json     # keep a baseline
  traceparse diff before.json after.perf.txt                    # or two raw captures
  traceparse diff before.txt after.txt --fail-on 'd2c.p99>+10%' --fail-on 'i2c.p50>+2ms'
  traceparse diff old.txt new.txt --fail-on 'd2c.p50[dev=8,0]>+500us' --map 8,0=259,2
  traceparse diff base.json new.txt --format markdown -o diff.md   # paste into the ticket
  traceparse diff base.json new.txt --format json --fail-on 'd2c.p99[op=W]>+20%'   # CI: exit 1 on a regression
  traceparse diff --base mon.dat --base tue.dat --base wed.dat new.dat --fail-on 'd2c.p99>+20%'   # several base runs
  traceparse diff --base 'baselines/*.json' new1.dat new2.dat     # saved reports as runs; several new runs

Rules: PHASE.STAT[SCOPE] OP VALUE. PHASE d2c|i2c|i2d (net: connect|accept); STAT count|mean|p50|p90|p99|p999|max|iops;
OP > or <; VALUE a change, relative (+10%, -5%) or absolute (2ms, +500us, -1ms; a count for count/iops); SCOPE
[dev=8,0], [op=W], [rwbs=WS], [dev=*] (every device); without one, the total. Presets (--report syscalls|sched|irq|futex)
name their groups by key: 'p99[syscall=write]>+20%' (PHASE may go when a report has one: syscalls' latency), 'runq.p99>+1ms'. A rule fires when it holds and the
change is significant (count and iops rules: when it holds); --no-significance fires on the numbers alone.
With 2 or more --base runs a rule also needs the new run(s) beyond the base runs' run-to-run variation
(a t interval on the per-run values); with one base run that variation is unknown and the headline says so.
Exit status: 0 no rule fired, 1 a rule fired, 2 bad input or a bad rule.
"""


@app.command(epilog=DIFF_EPILOG)
def diff(
    runs: Optional[list[str]] = typer.Argument(None, metavar="[BASE] NEW...", show_default=False,
                                               help="BASE NEW; or, with --base, the new run(s): captures or saved JSON reports"),
    base_runs: list[str] = typer.Option([], "--base", help="a base run (repeatable; a glob such as 'baselines/*.json' is expanded): "
                                        "with 2 or more, changes are judged against their run-to-run variation"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    fail_on: list[str] = typer.Option([], "--fail-on", help="exit 1 when this rule holds, e.g. 'd2c.p99>+10%' (repeatable)"),
    no_significance: bool = typer.Option(False, "--no-significance", help="fire --fail-on rules on the numbers, significant or not"),
    mapping: list[str] = typer.Option([], "--map", help="pair base device with new device, BASE=NEW: 8,0=259,2 (repeatable)"),
    unit: str = UNIT,
    report_kind: Optional[str] = typer.Option(None, "--report", help="analysis run on raw captures: block | net | syscalls | sched | irq | futex | stacks (default: a saved side's, else block)"),
    strict: bool = STRICT,
    kallsyms: Optional[Path] = KALLSYMS,
    symfs: Optional[Path] = SYMFS,
    buildid_dir: Optional[Path] = BUILDID_DIR,
) -> None:
    """Regression diff of two captures or saved reports (or of several base runs and new runs): D2C/I2C/I2D per device and op."""
    from . import api
    from .parsers.errors import TraceParseError

    runs = list(runs or [])
    if base_runs:
        base, new = list(base_runs), runs
        if not new:
            raise TraceParseError("diff: give the new run(s) after the options: --base A --base B NEW")
    elif len(runs) == 2:
        base, new = runs
    else:  # worded as click's own usage errors were when BASE and NEW were two arguments
        what = f"Missing argument '{'BASE' if not runs else 'NEW'}'" if len(runs) < 2 else f"Got unexpected extra argument ({runs[2]})"
        raise TraceParseError(f"diff: {what}: give BASE NEW, or --base RUN (repeatable) and then the NEW run(s)")
    _check_stdout(output)
    report = api.diff(base, new, strict=strict, fail_on=fail_on, significance=not no_significance, mapping=mapping,
                      unit=unit, report=report_kind, kallsyms=kallsyms, symfs=symfs, buildid_dir=buildid_dir)
    if report.data.get("kind") == "stacks" and output is not None and output.suffix.lower() == ".svg":
        from .render import flamegraph

        _write(flamegraph.svg(report, diff=True), output)  # the differential flame graph
    else:
        _emit(report, fmt, output)
    sys.exit(report.exit_code)


INFO_EPILOG = """Examples:

\b
  traceparse info perf.txt
  traceparse info trace.dat --format json
  traceparse info captures/                       # every capture in a directory, and their totals
"""


@app.command(epilog=INFO_EPILOG)
def info(files: list[str] = FILES, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, strict: bool = STRICT,
         label: list[str] = LABEL, engine: str = ENGINE, scheduler: Optional[str] = SCHEDULER) -> None:
    """What a capture holds: format, events per kind, time span, CPUs, lost events, skipped lines."""
    from . import api

    _check_stdout(output)
    if _fleet_wanted(files, engine, scheduler, label):
        report = api.fleet_report("info", files, labels=label, engine=engine, scheduler=scheduler, strict=strict)
    else:
        report = api.info(files[0], strict=strict, progress=progress_for(files[0]))
    _emit(report, fmt, output)


EXPORT_EPILOG = """Examples:

\b
  traceparse export web1.dat web2.dat -o frames/ --report block
  duckdb -c "SELECT host, quantile_disc(d2c_ns, 0.99) FROM read_parquet('frames/requests/*/*.parquet', hive_partitioning=true) GROUP BY host"
  traceparse export /nfs/captures/ -o frames/          # a directory of captures, one host= partition each
"""


@app.command(epilog=EXPORT_EPILOG)
def export(
    files: list[str] = FILES,
    output: Path = typer.Option(..., "--output", "-o", help="directory to write (new, or empty)"),
    report_kind: Optional[str] = typer.Option(None, "--report", help="block: also write the paired requests (D2C, I2C, I2D per request)"),
    label: list[str] = LABEL,
    strict: bool = STRICT,
    kallsyms: Optional[Path] = KALLSYMS,
    symfs: Optional[Path] = SYMFS,
    buildid_dir: Optional[Path] = BUILDID_DIR,
) -> None:
    """Event frames as Parquet, hive-partitioned host=.../event=.../part-N.parquet, with _schema.json."""
    from . import api

    if report_kind is not None and report_kind != "block":
        raise typer.BadParameter(f"must be block (got {report_kind!r})", param_hint="'--report'")
    schema = api.export(files, output, report=report_kind, labels=label, strict=strict,
                        kallsyms=kallsyms, symfs=symfs, buildid_dir=buildid_dir)
    for w in schema["warnings"]:
        print(f"traceparse: warning: {w}", file=sys.stderr)
    parts = sum(1 for _ in output.rglob("*.parquet"))
    events = sum(i["events"] for i in schema["inputs"])
    print(f"{output}: {parts:,} Parquet files, {events:,} events of {len(schema['inputs']):,} inputs; columns in {output / '_schema.json'}")


MERGE_EPILOG = """Examples:

\b
  for h in web1 web2 db1; do ssh $h traceparse block /var/tmp/trace.dat --format json > $h.json; done
  traceparse merge web1.json web2.json db1.json              # the fleet's block report, exact
  traceparse merge *.json --format json -o fleet.json        # a merged report merges again
  traceparse diff last-week.json fleet.json
"""


@app.command(epilog=MERGE_EPILOG)
def merge(
    reports: list[str] = typer.Argument(..., metavar="REPORT.json...", help="saved JSON reports (block or info, --format json)"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
) -> None:
    """Merge saved JSON reports exactly: histograms and counts add, percentiles re-read from the merged histograms."""
    from . import api

    _check_stdout(output)
    _emit(api.merge(reports), fmt, output)


# The any-event engine: one command per preset, shared options -----------------------------------

WHERE = typer.Option(None, "--where", "-w", help="keep events/pairs where EXPR holds: 'ret < 0 && comm != \"sshd\"' (see README)")
BY = typer.Option(None, "--by", "-b", help="group by these fields too, comma-separated: comm, pid, or any event field")
SLOWER = typer.Option(None, "--slower-than", callback=_threshold, help="list every pair at least this long (6ms, 500us)")
TOP = typer.Option(None, "--top", "-n", min=0, max=TOP_MAX, help="list the N longest pairs (default 10; with --slower-than all; 0: all)")


def _run_preset(name: str, file: str, fmt: str, output: Optional[Path], strict: bool, **options) -> None:
    from . import api

    _check_stdout(output)
    report = getattr(api, name)(file, strict=strict, progress=progress_for(file), **options)
    _emit(report, fmt, output)


SYSCALLS_EPILOG = """Examples:

\b
  perf record -a -e 'syscalls:sys_enter_*' -e 'syscalls:sys_exit_*' -- sleep 10     # or raw_syscalls:sys_enter/sys_exit
  perf script > perf.txt
  traceparse syscalls perf.txt                          # count, errors, latency per syscall (syscount -L)
  traceparse syscalls perf.txt --syscall read,write --by comm
  traceparse syscalls trace.dat --where 'ret < 0' --by comm,pid     # failing calls only
  traceparse syscalls perf.txt --slower-than 10ms      # every syscall that took 10 ms or more, with its arguments
"""


@app.command(epilog=SYSCALLS_EPILOG)
def syscalls(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, unit: str = UNIT,
    syscall: Optional[str] = typer.Option(None, "--syscall", "-s", help="only these syscalls, comma-separated: read,write"),
    by: Optional[str] = BY, where: Optional[str] = WHERE, slower_than: Optional[str] = SLOWER, top: Optional[int] = TOP,
    arch: Optional[str] = typer.Option(None, "--arch", help="raw_syscalls number table: x86_64 | arm64 (default: the capture's, else x86_64)"),
    raw: bool = typer.Option(False, "--raw", help="pair raw_syscalls:sys_enter/sys_exit even when per-syscall events are there too"),
    strict: bool = STRICT,
) -> None:
    """Syscalls: counts, errors (ret < 0) and latency per syscall, from syscalls:* or raw_syscalls:*."""
    _run_preset("syscalls", file, fmt, output, strict, unit=unit, syscall=syscall or (), by=by, where=where,
                slower_than_ns=slower_than, top=top, arch=arch, raw=raw)


FUNCLATENCY_EPILOG = """Examples:

\b
  perf probe -x ./app work && perf probe -x ./app work%return
  perf record -e probe_app:work -e probe_app:work__return -a -- ./app
  perf script > perf.txt
  traceparse funclatency perf.txt --func work           # calls, latency histogram; recursion matched per thread
  traceparse funclatency perf.txt --func work --slower-than 6ms    # every call of 6 ms or more, with its arguments
  traceparse funclatency trace.dat --start probe_app:begin --end probe_app:done
"""


@app.command(epilog=FUNCLATENCY_EPILOG)
def funclatency(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, unit: str = UNIT,
    func: Optional[str] = typer.Option(None, "--func", help="the probed function: pairs FUNC with FUNC__return"),
    start: Optional[str] = typer.Option(None, "--start", help="start event (with --end), e.g. probe_app:begin"),
    end: Optional[str] = typer.Option(None, "--end", help="end event (with --start)"),
    by: Optional[str] = BY, where: Optional[str] = WHERE, slower_than: Optional[str] = SLOWER, top: Optional[int] = TOP,
    strict: bool = STRICT,
) -> None:
    """Function latency from uprobe/probe pairs, nested and recursive calls matched per thread (funclatency)."""
    if func is None and (start is None or end is None):
        raise typer.BadParameter("give --func NAME, or --start EV and --end EV")
    _run_preset("funclatency", file, fmt, output, strict, unit=unit, func=func, start=start, end=end, by=by, where=where,
                slower_than_ns=slower_than, top=top)


SCHED_EPILOG = """Examples:

\b
  perf record -a -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_wakeup_new -- sleep 10
  perf script > perf.txt
  traceparse sched perf.txt                             # on-CPU time and share per thread, runqlat, off-CPU by state
  traceparse sched trace.dat --where 'comm == "postgres"' --unit ms
"""


@app.command(epilog=SCHED_EPILOG)
def sched(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, unit: str = UNIT,
    by: Optional[str] = BY, where: Optional[str] = WHERE, slower_than: Optional[str] = SLOWER, top: Optional[int] = TOP,
    strict: bool = STRICT,
) -> None:
    """Scheduler: on-CPU time per thread, run-queue latency (runqlat), off-CPU time by state, switches."""
    _run_preset("sched", file, fmt, output, strict, unit=unit, by=by, where=where, slower_than_ns=slower_than, top=top)


IRQ_EPILOG = """Examples:

\b
  perf record -a -e irq:irq_handler_entry -e irq:irq_handler_exit -e irq:softirq_entry -e irq:softirq_exit -- sleep 10
  perf script > perf.txt
  traceparse irq perf.txt                               # hard irqs per name, softirqs per vector: count and time
  traceparse irq trace.dat --by cpu --unit us
"""


@app.command(epilog=IRQ_EPILOG)
def irq(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, unit: str = UNIT,
    by: Optional[str] = BY, where: Optional[str] = WHERE, slower_than: Optional[str] = SLOWER, top: Optional[int] = TOP,
    strict: bool = STRICT,
) -> None:
    """Interrupts: hard irq counts and handler time per name (hardirqs), softirqs per vector."""
    _run_preset("irq", file, fmt, output, strict, unit=unit, by=by, where=where, slower_than_ns=slower_than, top=top)


FUTEX_EPILOG = """Examples:

\b
  perf record -a -e syscalls:sys_enter_futex -e syscalls:sys_exit_futex -- sleep 10
  perf script > perf.txt
  traceparse futex perf.txt                             # contended waits per process and lock address
  traceparse futex perf.txt --slower-than 1ms --top 20
"""


@app.command(epilog=FUTEX_EPILOG)
def futex(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT, unit: str = UNIT,
    by: Optional[str] = BY, where: Optional[str] = WHERE, slower_than: Optional[str] = SLOWER, top: Optional[int] = TOP,
    strict: bool = STRICT,
) -> None:
    """Futex waits per process and lock address: count, time waited (futexes.stp)."""
    _run_preset("futex", file, fmt, output, strict, unit=unit, by=by, where=where, slower_than_ns=slower_than, top=top)


HIST_EPILOG = """Examples:

\b
  traceparse hist perf.txt --event net:net_dev_queue --field len --by dev_name     # @[dev] = hist(args->len)
  traceparse hist trace.dat --event 'syscalls:sys_exit_read' --field ret --where 'ret >= 0'
  traceparse hist perf.txt --event net_dev_queue --field len --linear 512          # lhist(), 512-wide buckets
"""


def _linear(value: Optional[int]) -> Optional[int]:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be a positive bucket width (got {value})")
    return value


@app.command(epilog=HIST_EPILOG)
def hist(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
    event: Optional[str] = typer.Option(None, "--event", "-e", help="events to read: net:net_dev_queue, net_dev_queue, 'syscalls:sys_exit_*' (comma list)"),
    field: str = typer.Option(..., "--field", help="the numeric field to draw: len, ret, count, ..."),
    by: Optional[str] = BY, where: Optional[str] = WHERE,
    linear: Optional[int] = typer.Option(None, "--linear", callback=_linear, help="linear buckets of this width instead of log2"),
    strict: bool = STRICT,
) -> None:
    """Distribution of any numeric field: log2 (or linear) histogram and stats(), per group (bpftrace hist())."""
    _run_preset("hist", file, fmt, output, strict, event=event, field=field, by=by, where=where, linear=linear)


COUNT_EPILOG = """Examples:

\b
  traceparse count perf.txt                                       # events per kind
  traceparse count perf.txt --event net:net_dev_queue --by comm,dev_name --interval 1s
  traceparse count trace.dat --event irq:irq_handler_entry --by name     # @[args->name] = count()
"""


def _interval_opt(value: Optional[str]) -> Optional[int]:
    return None if value is None else _interval(value)


@app.command(epilog=COUNT_EPILOG)
def count(
    file: str = FILE, fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
    event: Optional[str] = typer.Option(None, "--event", "-e", help="events to count (default: all); globs and comma lists"),
    by: Optional[str] = typer.Option("event", "--by", "-b", help="fields to count by, comma-separated (default: event)"),
    where: Optional[str] = WHERE,
    interval: Optional[str] = typer.Option(None, "--interval", "-i", callback=_interval_opt, help="also count per interval (1s, 100ms)"),
    strict: bool = STRICT,
) -> None:
    """Event counts by any fields, over the capture and per --interval (bpftrace count())."""
    _run_preset("count", file, fmt, output, strict, event=event, by=by, where=where, interval_ns=interval)


STACKS_EPILOG = """Examples:

\b
  perf record -F 999 -a -g -- sleep 10; perf script > perf.txt
  traceparse stacks perf.txt                          # CPU samples: heaviest stacks and functions
  traceparse stacks perf.txt --folded > out.folded    # what stackcollapse-perf.pl prints (--pid --tid --kernel --jit --all --addrs)
  traceparse stacks perf.txt -o cpu.svg               # flame graph: hover, click to zoom, Ctrl-F to search
  traceparse stacks perf.txt --format json -o cpu.speedscope.json    # opens in speedscope
  traceparse stacks perf.txt --weight d2c -o io.svg   # issuing stacks weighted by D2C: who waits on slow I/O
  traceparse stacks trace.dat --weight offcpu --only-pid 4242        # switch-out stacks by time off CPU
  traceparse stacks perf.txt --weight latency --start probe_app:begin --end probe_app:done
  traceparse stacks perf.data --kallsyms kallsyms.txt --symfs /srv/box-root   # a perf.data's frames named
  traceparse stacks perf.data --buildid-dir perf.data.tar.bz2                  # from what perf archive wrote
"""
STACK_FORMATS = ("terminal", "markdown", "json", "html", "svg")


def _stack_format(value: str) -> str:
    if value not in STACK_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(STACK_FORMATS)} (got {value!r})")
    return value


@app.command(epilog=STACKS_EPILOG)
def stacks(
    ctx: typer.Context,
    file: str = FILE,
    fmt: str = typer.Option("terminal", "--format", "-f", callback=_stack_format,
                            help="terminal | markdown | json (speedscope's file format) | html | svg (flame graph; also -o FILE.svg)"),
    output: Optional[Path] = OUTPUT,
    folded: bool = typer.Option(False, "--folded", help="print folded stacks, one 'root;...;leaf COUNT' a line (stackcollapse-perf.pl)"),
    weight: str = typer.Option("samples", "--weight", help="samples | d2c | i2c | offcpu | latency"),
    start: Optional[str] = typer.Option(None, "--start", help="--weight latency: the start event"),
    end: Optional[str] = typer.Option(None, "--end", help="--weight latency: the end event"),
    event: Optional[str] = typer.Option(None, "--event", "--event-filter", "-e", help="samples: fold this event (default: the first one)"),
    pid: bool = typer.Option(False, "--pid", help="root frame comm-PID (stackcollapse-perf's --pid)"),
    tid: bool = typer.Option(False, "--tid", help="root frame comm-PID/TID (stackcollapse-perf's --tid)"),
    kernel: bool = typer.Option(False, "--kernel", help="mark kernel frames _[k]"),
    jit: bool = typer.Option(False, "--jit", help="mark JIT frames _[j] (/tmp/perf-PID.map)"),
    all_: bool = typer.Option(False, "--all", help="all marks: --kernel --jit"),
    addrs: bool = typer.Option(False, "--addrs", help="keep the address of frames without a symbol: [unknown <ADDR>]"),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="only this thread name"),
    only_pid: Optional[int] = typer.Option(None, "--only-pid", "-p", min=0, help="only this thread or process id (--pid names the root)"),
    slower_than: Optional[str] = typer.Option(None, "--slower-than", callback=_threshold,
                                              help="weighted: only requests/pairs at least this long (10ms, 500us)"),
    since: Optional[float] = typer.Option(None, "--since", callback=_seconds, help="only events this many seconds into the capture or later"),
    until: Optional[float] = typer.Option(None, "--until", callback=_seconds, help="only events before this many seconds into the capture"),
    where: Optional[str] = WHERE,
    top: Optional[int] = typer.Option(20, "--top", "-n", min=0, max=TOP_MAX, help="rows of the stacks and functions tables (0: all)"),
    unit: str = UNIT,
    strict: bool = STRICT,
    kallsyms: Optional[Path] = KALLSYMS,
    symfs: Optional[Path] = SYMFS,
    buildid_dir: Optional[Path] = BUILDID_DIR,
) -> None:
    """Stacks: folded call chains and flame graphs, weighted by samples, block I/O latency or off-CPU time."""
    from . import api
    from .reports.folded import FoldOptions

    _window(ctx, since, until)
    _check_stdout(output)
    svg = fmt == "svg" or (output is not None and output.suffix.lower() == ".svg" and not folded)
    # a flame graph colours frames by their marks: it asks for them all
    fold = FoldOptions.of(pid=pid, tid=tid, kernel=kernel or svg, jit=jit or svg, all=all_, addrs=addrs, inline=svg)
    report = api.stacks(file, strict=strict, progress=progress_for(file), weight=weight, start=start, end=end, event=event,
                        comm=comm, pid=only_pid, slower_than_ns=slower_than, since_s=since, until_s=until, where=where,
                        top=top, display_unit=unit, fold=fold, kallsyms=kallsyms, symfs=symfs, buildid_dir=buildid_dir)
    _emit_stacks(report, "folded" if folded else "svg" if svg else fmt, output)


def _emit_stacks(report, fmt: str, output: Optional[Path]) -> None:
    from .render import flamegraph

    if fmt in ("terminal", "markdown", "html"):
        return _emit(report, fmt, output)
    for w in report.warnings:  # folded text, speedscope and svg have no place for them
        print(f"traceparse: warning: {w}", file=sys.stderr)
    _write({"folded": flamegraph.folded, "svg": flamegraph.svg, "json": flamegraph.speedscope}[fmt](report), output)


def _click_exceptions():
    try:  # typer 0.2x carries its own copy of click
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _command_of(exc, argv: list[str]) -> Optional[str]:
    """The command a usage error belongs to; click's parser leaves some errors (an option missing
    its value) without a context, and then it is the first word naming a command."""
    if exc.ctx is not None and exc.ctx.parent is not None:
        return exc.ctx.info_name
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    return next((a for a in argv if a in names), None)


def _fail(message: str) -> None:
    stop_progress()
    print(f"traceparse: {message}", file=sys.stderr)
    sys.exit(2)


def run() -> None:
    """The console script and ``python -m traceparse``: ``main``, then out of the process without
    the interpreter's teardown. Once the report is written, that teardown (every module's objects
    freed one by one, polars' and numpy's runtimes shut down; the gc.freeze below spares it
    the final collection) is all a small run has left: 0.48 -> 0.44 s of CPU for the 801-event
    trace.dat, 21 interleaved rounds. atexit handlers still run and stdout and stderr are flushed;
    with a stream that cannot be flushed, or a thread still running, the interpreter exits as it
    always did (and says what it always said)."""
    import atexit

    gc.set_threshold(*RUN_GC_THRESHOLD)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    # The interpreter's exit ends with a full collection over every object polars, numpy and the
    # run made, for memory the OS takes back anyway: ~0.1 s of CPU (and more of wall on a busy
    # machine) after a small report was written. Frozen objects are left out of it. Here, not in
    # main: a process that calls main again and again (the tests) would never free a run's garbage.
    gc.freeze()
    if not isinstance(code, (int, type(None))) or any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()  # what the interpreter would run first at exit (logging, finalizers...)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # a closed or broken stream (None: stdout was closed)
        sys.exit(code)
    os._exit(code or 0)


def _app_for(argv: list[str]):
    """The app with only the command ``argv`` names, when it names one: typer turns every registered
    command into click's on each run (~600 signature and type-hint inspections, 20 ms, more than the
    report on a small capture), and one run needs one command. Bare ``traceparse``, ``--help`` and
    ``--version`` list or check the whole app, so they get it whole."""
    from copy import copy

    from typer.main import get_command_name

    first = argv[0] if argv else None
    chosen = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == first]
    if not chosen:
        return app
    one = copy(app)  # shallow: the same callback, settings and commands, fewer of them listed
    one.registered_commands = chosen
    return one


def main(argv: Optional[list[str]] = None) -> None:
    from .parsers.errors import TraceParseError

    click_exc = _click_exceptions()
    try:
        # not standalone: click's usage errors come here, to be said in one line
        code = _app_for(sys.argv[1:] if argv is None else argv)(args=argv, prog_name="traceparse", standalone_mode=False)
    except getattr(click_exc, "NoArgsIsHelpError", ()) as exc:  # bare `traceparse`: the help it asked for, as click gives it
        exc.show()
        sys.exit(exc.exit_code)
    except click_exc.UsageError as exc:
        command = _command_of(exc, sys.argv[1:] if argv is None else argv)
        _fail((f"{command}: " if command else "") + exc.format_message())
    except click_exc.ClickException as exc:
        _fail(exc.format_message())
    except typer.Abort:  # ^C, or end of input at a prompt
        _fail("interrupted")
    except TraceParseError as exc:
        _fail(str(exc))
    except BrokenPipeError:  # `traceparse block x | head`
        stop_progress()
        sys.stderr.close()
        sys.exit(0)
    finally:
        stop_progress()
    sys.exit(code if isinstance(code, int) else 0)
