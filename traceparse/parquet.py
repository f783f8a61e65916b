"""`traceparse export`: the event frames as Parquet, for notebooks and SQL over a fleet's captures.

    traceparse export web1.dat web2.dat -o frames/ --report block

    frames/_schema.json                                   columns and types of every dataset
    frames/host=web1/event=block:block_rq_issue/part-0.parquet
    frames/host=web1/event=block:block_rq_complete/part-0.parquet
    frames/host=web1/stacks.parquet                       call chains (stack_id, frames), where the capture has them
    frames/requests/host=web1/part-0.parquet             --report block: the paired requests

Hive-partitioned by label (``host``) and event kind (``event``): those two are the path, not
columns of the files. Frames keep the frame schema (README, "As a library"). Streamed: chunks
are written as they are read, a part per ROWS_PER_PART rows of a kind, so memory stays that of one
chunk and a few parts' buffers however large the capture. The paired requests come from the block
report's own pairing (BlockAnalysis.on_requests), so SQL over them gives the report's numbers.
"""
from __future__ import annotations

import json
import shutil
import tempfile
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


def export(inputs, labels: list[str | None], out: Path, report: str | None = None, strict: bool = False, symbols=None) -> dict:
    """Write every input's frames (and, with ``report="block"``, its paired requests) under ``out``;
    ``inputs`` a fleet.Inputs. Written into a temporary sibling folder and moved into ``out`` when
    done: an export that fails halfway leaves nothing behind, and its re-run starts clean.
    Returns what ``_schema.json`` says."""
    out = out.resolve()
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise TraceParseError(f"{out.parent}: cannot write in it ({exc.strerror or exc})") from None
    try:
        schema = _export(inputs, labels, tmp, report, strict, symbols)
        _move_into(tmp, out)
    except OSError as exc:
        raise TraceParseError(f"{out}: cannot write the export ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return schema


def _move_into(tmp: Path, out: Path) -> None:
    if not out.exists():
        tmp.rename(out)
        return
    # an empty directory given: its contents moved in, _schema.json last (the mark of a whole export)
    for p in sorted(tmp.iterdir(), key=lambda p: p.name == "_schema.json"):
        p.rename(out / p.name)


def _export(inputs, labels: list[str | None], out: Path, report: str | None, strict: bool, symbols=None) -> dict:
    from . import api
    from .fleet import label_of
    from .reports.block import BlockAnalysis, BlockOptions

    # ("frames", host, kind), ("requests", host), ("stacks", host): a host named "requests" is a host
    sets: dict[tuple, _Dataset] = {}
    stacks: dict[str, list[pl.DataFrame]] = {}  # host -> its inputs' call chains, ids offset past the previous input's
    written = []
    for path, given, name in zip(inputs.paths, labels, inputs.names):
        cap = api.Capture(path, strict=strict, symbols=symbols)  # symbols: a perf.data's frame names
        analysis = BlockAnalysis(BlockOptions()) if report == "block" else None
        host = offset = None
        for chunk in cap.chunks():
            if host is None:  # the header is read by now
                host = _partition(label_of(path, cap.source.meta, given, name))
                offset = sum(f.height for f in stacks.get(host, []))
            if analysis is not None:
                key = ("requests", host)
                analysis.on_requests = lambda req, k=key: sets.setdefault(k, _Dataset(out / "requests" / f"host={k[1]}")).add(req)
                analysis.feed(chunk, cap.source)
            for kind, frame in chunk.frames.items():
                if frame.height:
                    if offset and "stack_id" in frame.columns:  # a second input of this label: its ids after the first's
                        frame = frame.with_columns(pl.col("stack_id") + offset)
                    key = ("frames", host, kind)
                    sets.setdefault(key, _Dataset(out / f"host={host}" / f"event={_partition(kind)}")).add(frame.drop("event"))
        if analysis is not None:
            analysis.finish(cap.source)  # a capture without block events is an error, as in `block`
        host = host or _partition(label_of(path, cap.source.meta, given, name))
        if cap.stacks:
            stacks.setdefault(host, []).append(_stack_table(cap.stacks, offset or 0))
        inputs.warnings.extend(f"{path}: {w}" for w in cap.source.meta.get("symbol_warnings", []))
        for key, d in sets.items():  # this input's buffers out now: memory does not grow with the inputs
            if key[1] == host:
                d.flush()
        written.append({"label": host, "path": path, "format": cap.source.format,
                        "events": sum(cap.source.events.values()), "events_by_kind": dict(sorted(cap.source.events.items()))})
    for d in sets.values():
        d.flush()
    return _write_schema(out, sets, _write_stacks(stacks, out), written, inputs.warnings)


def _write_stacks(stacks: dict[str, list[pl.DataFrame]], out: Path) -> dict:
    """The interned call chains the frames' ``stack_id`` indexes, one file per host: host=X/stacks.parquet."""
    schemas = {}
    for host, parts in sorted(stacks.items()):
        frame = pl.concat(parts)
        (out / f"host={host}").mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out / f"host={host}" / "stacks.parquet")
        schemas[host] = {c: str(t) for c, t in frame.schema.items()}
    return schemas


def _stack_table(chains: list[tuple[str, ...]], offset: int) -> pl.DataFrame:
    return pl.DataFrame({"stack_id": pl.Series(range(offset, offset + len(chains)), dtype=pl.Int32),
                         "frames": pl.Series([list(c) for c in chains], dtype=pl.List(pl.String))})


def _write_schema(out: Path, sets: dict, stacks: dict, written: list[dict], warnings: list[str]) -> dict:
    from . import __version__

    def by_host(what: str) -> dict:
        return {k[1]: d.schema for k, d in sorted(sets.items()) if k[0] == what and d.schema}

    frames: dict = {}
    for k, d in sorted(sets.items()):
        if k[0] == "frames" and d.schema:
            frames.setdefault(k[1], {})[k[2]] = d.schema
    schema = {
        "traceparse_version": __version__,
        "layout": "host=LABEL/event=KIND/part-N.parquet; host=LABEL/stacks.parquet; requests/host=LABEL/part-N.parquet",
        "partitioning": ["host", "event"],
        "frames": frames,
        "stacks": stacks,
        "requests": by_host("requests"),
        "inputs": written,
        "warnings": warnings,
        "notes": [
            "frames, stacks and requests: columns and types per host (a kind's columns can differ between formats)",
            "host and event are the hive partition columns (the path), not columns of the files",
            "times are integer nanoseconds (ts_ns, d2c_ns, ...); each host's ts_ns runs on its own clock",
            "stacks: stack_id -> frames (innermost first), the call chains the frames' stack_id indexes, per host",
            "requests: one row per paired block request, as traceparse block pairs it (d2c_ns null without an issue)",
        ],
    }
    (out / "_schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    return schema
