"""`traceparse export`: the event frames as Parquet, for notebooks and SQL over a fleet's captures.

    traceparse export web1.dat web2.dat -o frames/ --report block

    frames/_schema.json                                   columns and types of every dataset
    frames/host=web1/event=block:block_rq_issue/part-0.parquet
    frames/host=web1/event=block:block_rq_complete/part-0.parquet
    frames/requests/host=web1/part-0.parquet             --report block: the paired requests

Hive-partitioned by label (``host``) and event kind (``event``): those two are the path, not
columns of the files. Frames keep the frame schema (README, "As a library"). Streamed: chunks
are written as they are read, a part per ROWS_PER_PART rows of a kind, so memory stays that of one
chunk and a few parts' buffers however large the capture. The paired requests come from the block
report's own pairing (BlockAnalysis.on_requests), so SQL over them gives the report's numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .parsers.errors import TraceParseError

ROWS_PER_PART = 250_000
REPORTS = ("block",)


def check_target(out: Path) -> None:
    """A directory to create, or an empty one: parts of an older export never mix with these."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TraceParseError(f"{out}: {'not a directory' if not out.is_dir() else 'not empty'}; export writes into a new or empty directory")
    if not out.exists() and not out.parent.is_dir():
        raise TraceParseError(f"{out}: no such folder {out.parent}")


class _Dataset:
    """Buffered frames of one partition, written a part at a time."""

    def __init__(self, folder: Path):
        self.folder, self.buf, self.rows, self.parts = folder, [], 0, 0
        self.schema: dict | None = None

    def add(self, frame: pl.DataFrame) -> None:
        self.buf.append(frame)
        self.rows += frame.height
        if self.rows >= ROWS_PER_PART:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        frame = pl.concat(self.buf, how="vertical_relaxed")
        self.schema = self.schema or {c: str(t) for c, t in frame.schema.items()}
        self.folder.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(self.folder / f"part-{self.parts}.parquet")
        self.parts += 1
        self.buf, self.rows = [], 0


def _partition(value: str) -> str:
    return value.replace("/", "_").replace("=", "_") or "_"


def export(inputs: list[str], labels: list[str | None], out: Path, report: str | None = None, strict: bool = False) -> dict:
    """Write every input's frames (and, with ``report="block"``, its paired requests) under ``out``.
    Returns what ``_schema.json`` says."""
    from . import api
    from .fleet import label_of
    from .reports.block import BlockAnalysis, BlockOptions

    sets: dict[tuple, _Dataset] = {}
    written = []
    for path, given in zip(inputs, labels):
        cap = api.Capture(path, strict=strict)
        analysis = BlockAnalysis(BlockOptions()) if report == "block" else None
        host = None
        for chunk in cap.chunks():
            host = host or _partition(label_of(path, cap.source.meta, given))  # the header is read by now
            if analysis is not None:
                key = ("requests", host)
                analysis.on_requests = lambda req, k=key: sets.setdefault(k, _Dataset(out / "requests" / f"host={k[1]}")).add(req)
                analysis.feed(chunk, cap.source)
            for kind, frame in chunk.frames.items():
                if frame.height:
                    key = (host, kind)
                    sets.setdefault(key, _Dataset(out / f"host={host}" / f"event={_partition(kind)}")).add(frame.drop("event"))
        if analysis is not None:
            analysis.finish(cap.source)  # a capture without block events is an error, as in `block`
        for (h, _), d in sets.items():  # this input's buffers out now: memory does not grow with the inputs
            if h == host or (h == "requests" and _ == host):
                d.flush()
        written.append({"label": host or label_of(path, cap.source.meta, given), "path": path, "format": cap.source.format,
                        "events": sum(cap.source.events.values()), "events_by_kind": dict(sorted(cap.source.events.items()))})
    for d in sets.values():
        d.flush()
    return _write_schema(out, sets, written)


def _write_schema(out: Path, sets: dict, written: list[dict]) -> dict:
    from . import __version__

    frames = {k[1]: d.schema for k, d in sorted(sets.items()) if k[0] != "requests"}
    requests = next((d.schema for k, d in sets.items() if k[0] == "requests"), None)
    schema = {
        "traceparse_version": __version__,
        "layout": "host=LABEL/event=KIND/part-N.parquet; requests/host=LABEL/part-N.parquet",
        "partitioning": ["host", "event"],
        "frames": frames,
        "requests": requests,
        "inputs": written,
        "notes": [
            "host and event are the hive partition columns (the path), not columns of the files",
            "times are integer nanoseconds (ts_ns, d2c_ns, ...); each host's ts_ns runs on its own clock",
            "requests: one row per paired block request, as traceparse block pairs it (d2c_ns null without an issue)",
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "_schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    return schema
