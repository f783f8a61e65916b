"""Renderers: one small module per output format, each ``render(report) -> str``."""
from __future__ import annotations

FORMATS = ("terminal", "markdown", "json", "html")


def render(report, fmt: str = "terminal") -> str:
    if fmt == "terminal":
        from .terminal import render as r
    elif fmt == "markdown":
        from .markdown import render as r
    elif fmt == "json":
        from .json import render as r
    elif fmt == "html":
        from .html import render as r
    else:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return r(report)
