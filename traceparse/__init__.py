"""traceparse: offline analyses of Linux perf/ftrace captures.

    import traceparse
    cap = traceparse.open("perf.txt")          # path, binary file object, or "-" for stdin
    report = traceparse.block(cap, unit="ms")  # a Report: tables + the JSON contract in report.data
    print(traceparse.render_report(report, "markdown"))

The API is loaded lazily so that importing a parser never drags in the CLI or the reports.
"""
from __future__ import annotations

__version__ = "0.1.0"
_API = ("open", "block", "net", "info", "diff", "fleet_report", "merge", "export", "report_of", "render_report", "Capture",
        "syscalls", "funclatency", "sched", "irq", "futex", "hist", "count", "stacks")  # from traceparse.api
__all__ = [*_API, "Report", "TraceParseError", "__version__"]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "Report":
        from .reports.result import Report

        return Report
    if name == "TraceParseError":
        from .parsers.errors import TraceParseError

        return TraceParseError
    raise AttributeError(f"module 'traceparse' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the lazy names are not in globals() until first used; tab completion should see them anyway
    return sorted(set(globals()) | set(__all__))
