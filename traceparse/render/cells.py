"""Cell formatting shared by the table renderers: units in headers, fixed decimals in cells."""
from __future__ import annotations

from ..reports.result import UNIT_NS, Column, Report, Table

TIME_DECIMALS = {"ns": 0, "us": 1, "ms": 3, "s": 6}


def header(col: Column, report: Report) -> str:
    if col.unit == "ns":
        return f"{col.title}({report.unit})"
    if col.unit == "s" and "(s)" not in col.title:
        return f"{col.title}(s)"
    return col.title


def cell(value, col: Column, report: Report) -> str:
    if value is None:
        return "-"
    unit = col.unit
    if unit == "ns":
        return f"{value / UNIT_NS[report.unit]:.{TIME_DECIMALS[report.unit]}f}"
    if unit == "count":
        return f"{int(value)}"
    if unit == "s":
        return f"{value:.6f}"
    if unit == "/s":
        return f"{value:.1f}"
    if unit in ("MB/s", "MB"):
        return f"{value:.2f}"
    if unit == "bytes":  # sizes: whole bytes as integers, means with one decimal
        return f"{value}" if isinstance(value, int) else f"{value:.1f}"
    return str(value)


def grid(table: Table, report: Report) -> tuple[list[str], list[list[str]]]:
    heads = [header(c, report) for c in table.columns]
    rows = [[cell(r.get(c.key), c, report) for c in table.columns] for r in table.rows]
    return heads, rows


def headline(report: Report) -> list[str]:
    """The few lines a report opens with (the diff's verdict), drawn above warnings and tables."""
    return list(report.data.get("headline") or [])


def numeric(col: Column) -> bool:
    return col.unit is not None
