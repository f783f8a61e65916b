"""The report object every renderer takes: tables whose columns are declared once, plus the JSON data.

A report never formats numbers: times stay integer nanoseconds (``unit="ns"``) until a renderer
shows them in the unit the user asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# The JSON contract's version, written by render/json.py into every report. 1: no "schema" key
# (before it existed); 2: the key, "traceparse_version", and net sizes named with their unit;
# 3: block gained what an exact merge reads (sum_ns, hdr, bytes in STATS; unit, slow_limit,
# histograms; a merged report's inputs and its rows' label and time_ns).
SCHEMA = 3


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str | None = None  # "ns" (a time), "count", "bytes", "/s", "MB/s", "%" or None (text)


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict]
    note: str | None = None


@dataclass
class Histogram:
    """A log2 histogram drawn like bpftrace's ``hist()``; buckets are in ``unit``."""

    key: str
    title: str
    unit: str  # "ns" | "us" | "ms" | "bytes"
    buckets: list[dict]  # {lo, hi, count}
    stats: dict | None = None  # shown as a bpftrace-style stats() line when present


@dataclass
class Report:
    kind: str  # "block", "info", "net", "diff"
    title: str
    unit: str  # display unit for times: "ns" | "us" | "ms"
    tables: list[Table] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)  # the JSON contract
    exit_code: int = 0


UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
