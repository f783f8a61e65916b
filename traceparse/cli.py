"""The `traceparse` command: wires arguments to a report and a renderer, nothing more.

Errors the user can act on are one line on stderr and exit status 2; never a traceback.
"""
from __future__ import annotations

import atexit
import re
import sys
import time
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Offline analyses of Linux perf/ftrace captures (perf script text, ftrace text, trace.dat).",
)

FORMAT = typer.Option("terminal", "--format", "-f", help="terminal | markdown | json | html")
OUTPUT = typer.Option(None, "--output", "-o", help="write the report to this file instead of stdout")
STRICT = typer.Option(False, "--strict", help="fail on the first line that does not parse, instead of counting it")

BLOCK_EPILOG = """Examples:\n
  perf record -a -g -e block:block_rq_insert -e block:block_rq_issue -e block:block_rq_complete -- sleep 10\n
  perf script > perf.txt\n
  traceparse block perf.txt                       # D2C/I2C/I2D per device, op, process; D2C histogram\n
  traceparse block perf.txt --slower-than 10ms    # every request slower than 10 ms, biosnoop-style\n
  traceparse block trace.txt.gz --dev 8,0 --op W --unit ms\n
  perf script | traceparse block - --format json -o perf.json
"""


def duration_ns(text: str) -> int:
    """'10ms', '500us', '2s', '1500ns'; a bare number is milliseconds (like bcc's *slower tools)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration like 10ms, 500us or 2s")
    scale = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1_000_000}[m.group(2)]
    return int(float(m.group(1)) * scale)


PROGRESS_AFTER_S = 2.0  # a run that ends sooner draws no bar at all


def progress_for(file: str):
    """A ``callback(done, total)`` that draws a bar on stderr once reading has taken a couple of
    seconds (on stdin, whose size is unknown, a pulsing bar and the bytes read), or None when stderr
    is no terminal."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if time.monotonic() - started < PROGRESS_AFTER_S:
                return
            bar = _bar()
        bar[0].update(bar[1], completed=done, total=total)

    return update


def _bar():
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress(BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task("reading", total=None)
    bar.start()
    atexit.register(bar.stop)
    return bar, task


def _emit(report, fmt: str, output: Optional[Path]) -> None:
    from .render import FORMATS, render

    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    text = render(report, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@app.command(epilog=BLOCK_EPILOG)
def block(
    file: str = typer.Argument(..., help="capture file (plain, .gz, .zst, .xz), or - for stdin"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    unit: str = typer.Option("us", "--unit", "-u", help="time unit of tables and histograms: ns | us | ms"),
    slower_than: Optional[str] = typer.Option(None, "--slower-than", help="list requests with D2C at least this (10ms, 500us)"),
    top: Optional[int] = typer.Option(None, "--top", "-n", help="list the N slowest requests (default 10; with --slower-than all of them; 0: all)"),
    dev: Optional[str] = typer.Option(None, "--dev", "-D", help="only this device, major,minor (8,0)"),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="only requests inserted/issued by this comm"),
    op: Optional[str] = typer.Option(None, "--op", help="only this operation: R, W, D (discard), F (flush), N"),
    since: Optional[float] = typer.Option(None, "--since", help="only requests completing this many seconds into the capture or later"),
    until: Optional[float] = typer.Option(None, "--until", help="only requests completing before this many seconds into the capture"),
    strict: bool = STRICT,
) -> None:
    """Block I/O latency: issue->complete (D2C), insert->complete (I2C), insert->issue (I2D)."""
    from . import api

    threshold = duration_ns(slower_than) if slower_than is not None else None
    report = api.block(
        file, strict=strict, progress=progress_for(file), unit=unit, slower_than_ns=threshold, top=top, dev=dev, comm=comm, op=op,
        since_s=since, until_s=until,
    )
    _emit(report, fmt, output)


NET_EPILOG = """Examples:\n
  perf record -a -e net:net_dev_queue -e net:netif_receive_skb -e tcp:tcp_retransmit_skb -e sock:inet_sock_set_state -e skb:kfree_skb -- sleep 10\n
  perf script > perf.txt\n
  traceparse net perf.txt                          # packet sizes per device, senders, rates, retransmits, drops\n
  traceparse net perf.txt --interval 100ms         # packets and bytes per 100 ms\n
  traceparse net trace.dat --slower-than 1ms       # every TCP handshake slower than 1 ms, tcpconnlat-style\n
  traceparse net perf.txt --dev eth0 --format markdown -o net.md\n
  perf script | traceparse net - --format json -o net.json
"""


@app.command(epilog=NET_EPILOG)
def net(
    file: str = typer.Argument(..., help="capture file (plain, .gz, .zst, .xz), or - for stdin"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    interval: str = typer.Option("1s", "--interval", "-i", help="bucket of the rates table (1s, 100ms)"),
    unit: str = typer.Option("us", "--unit", "-u", help="time unit of handshake latency: ns | us | ms"),
    slower_than: Optional[str] = typer.Option(None, "--slower-than", help="list TCP handshakes taking at least this (1ms, 500us)"),
    top: Optional[int] = typer.Option(None, "--top", "-n", help="rows in the handshake and retransmit listings (default 10; handshakes with --slower-than: all; 0: all)"),
    dev: Optional[str] = typer.Option(None, "--dev", "-D", help="only packets on this device (eth0)"),
    strict: bool = STRICT,
) -> None:
    """Network: packet sizes (tx/rx, per device), senders, rates, TCP retransmits, connect latency, drops."""
    from . import api

    threshold = duration_ns(slower_than) if slower_than is not None else None
    step = duration_ns(interval if re.search(r"[a-zµ]", interval) else interval + "s")  # a bare number: seconds
    report = api.net(file, strict=strict, progress=progress_for(file), interval_ns=step, unit=unit, slower_than_ns=threshold, top=top, dev=dev)
    _emit(report, fmt, output)


DIFF_EPILOG = """Examples:\n
  traceparse block before.txt --format json -o before.json     # keep a baseline\n
  traceparse diff before.json after.perf.txt                    # or two raw captures\n
  traceparse diff before.txt after.txt --fail-on 'd2c.p99>+10%' --fail-on 'i2c.p50>+2ms'\n
  traceparse diff old.txt new.txt --fail-on 'd2c.p50[dev=8,0]>+500us' --map 8,0=259,2\n
  traceparse diff base.json new.txt --format markdown -o diff.md   # paste into the ticket\n
  traceparse diff base.json new.txt --format json --fail-on 'd2c.p99[op=W]>+20%'   # CI: exit 1 on a regression\n
\n
Rules: PHASE.STAT[SCOPE] OP VALUE. PHASE d2c|i2c|i2d (net: connect|accept); STAT count|mean|p50|p90|p99|p999|max|iops;
OP > or <; VALUE a change, relative (+10%, -5%) or absolute (2ms, +500us, -1ms; a count for count/iops); SCOPE
[dev=8,0], [op=W], [rwbs=WS], [dev=*] (every device); without one, the total. A rule fires when it holds and the
change is significant (count and iops rules: when it holds); --no-significance fires on the numbers alone.
Exit status: 0 no rule fired, 1 a rule fired, 2 bad input or a bad rule.
"""


@app.command(epilog=DIFF_EPILOG)
def diff(
    base: str = typer.Argument(..., help="baseline: a capture (any format block reads) or a saved JSON report"),
    new: str = typer.Argument(..., help="the capture or saved report to compare with the baseline"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    fail_on: list[str] = typer.Option([], "--fail-on", help="exit 1 when this rule holds, e.g. 'd2c.p99>+10%' (repeatable)"),
    no_significance: bool = typer.Option(False, "--no-significance", help="fire --fail-on rules on the numbers, significant or not"),
    mapping: list[str] = typer.Option([], "--map", help="pair base device with new device, BASE=NEW: 8,0=259,2 (repeatable)"),
    unit: str = typer.Option("us", "--unit", "-u", help="time unit of tables and histograms: ns | us | ms"),
    report_kind: Optional[str] = typer.Option(None, "--report", help="analysis run on raw captures: block | net (default: a saved side's, else block)"),
    strict: bool = STRICT,
) -> None:
    """Regression diff of two captures or saved reports: D2C/I2C/I2D per device and op, with significance."""
    from . import api

    report = api.diff(base, new, strict=strict, fail_on=fail_on, significance=not no_significance, mapping=mapping,
                      unit=unit, report=report_kind)
    _emit(report, fmt, output)
    sys.exit(report.exit_code)


@app.command(epilog="Examples:\n\n  traceparse info perf.txt\n\n  traceparse info trace.dat --format json")
def info(
    file: str = typer.Argument(..., help="capture file (plain, .gz, .zst, .xz), or - for stdin"),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    strict: bool = STRICT,
) -> None:
    """What a capture holds: format, events per kind, time span, CPUs, lost events, skipped lines."""
    from . import api

    _emit(api.info(file, strict=strict, progress=progress_for(file)), fmt, output)


def main() -> None:
    from .parsers.errors import TraceParseError

    try:
        app()  # click itself answers usage errors with a message and exit status 2
    except TraceParseError as exc:
        print(f"traceparse: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `traceparse block x | head`
        sys.stderr.close()
        sys.exit(0)
