"""traceparse: offline analyses of Linux perf/ftrace captures.

    import traceparse
    cap = traceparse.open("perf.txt")          # path, binary file object, or "-" for stdin
    report = traceparse.block(cap, unit="ms")  # a Report: tables + the JSON contract in report.data
    print(traceparse.render_report(report, "markdown"))

The API is loaded lazily so that importing a parser never drags in the CLI or the reports.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["open", "block", "net", "info", "render_report", "Capture", "TraceParseError", "__version__"]


def __getattr__(name: str):
    if name in ("open", "block", "net", "info", "render_report", "Capture"):
        from . import api

        return getattr(api, name)
    if name == "TraceParseError":
        from .parsers.errors import TraceParseError

        return TraceParseError
    raise AttributeError(f"module 'traceparse' has no attribute {name!r}")
