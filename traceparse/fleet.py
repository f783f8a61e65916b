"""Many captures, many hosts: inputs, their labels, and the engine that maps each capture to a report.

    traceparse block a.dat b.txt host3/*.txt            # several files, globs, directories
    traceparse block --engine dask --scheduler tcp://10.0.0.5:8786 /nfs/captures/

Each input is analysed on its own (one capture -> one report's JSON data, labelled) and the reports
are merged exactly (reports/merge.py). The engine is the one thing that differs between running
here and running on a cluster, and it is one function: ``local`` maps in this process, ``dask``
maps each capture on a Dask worker (the worker that reads the file: paths must be readable there,
e.g. on NFS) and merges the reports pairwise on the workers, a tree reduce, so only merged
reports travel back. Spark or Ray would be one more function of the same shape. Dask is imported
only when asked for.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .parsers.errors import TraceParseError

ENGINES = ("local", "dask")
KINDS = ("block", "net", "info")


@dataclass
class Inputs:
    """The inputs a fleet command reads: paths, each one's name when the capture gives none, and
    what the listing left out (report warnings)."""

    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # folder (walked: DIR/web1/perf.txt -> web1) or file name
    warnings: list[str] = field(default_factory=list)


def as_list(inputs) -> list[str]:
    """One input (str, bytes, os.PathLike) or several, as path strings."""
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    return [os.fsdecode(x) for x in inputs]


def expand(args: list[str]) -> Inputs:
    """Files as given, globs expanded (sorted), directories walked (regular files, sorted, no dotfiles);
    the same file twice (by its real path) is refused: it would be counted twice."""
    out = Inputs()
    seen: dict[str, str] = {}
    for a in args:
        if a == "-":
            found = [(a, "stdin")]
        elif Path(a).is_dir():
            found = _walk(Path(a), out.warnings)
            if not found:
                raise TraceParseError(f"{a}: is a directory with no files in it; give capture files, or a directory holding them")
        elif any(c in a for c in "*?[") and not Path(a).exists():
            hits = sorted(glob.glob(a, recursive=True))
            if not hits:
                raise TraceParseError(f"{a}: no file matches this pattern")
            found = [(h, Path(h).name) for h in hits]
        elif not Path(a).exists():  # every input checked before any is read (a fifo, a 1 GB file)
            raise TraceParseError(f"{a}: no such file")
        else:
            found = [(a, Path(a).name)]
        for path, name in found:
            real = path if path == "-" else os.path.realpath(path)
            if real in seen:
                raise TraceParseError(f"{path}: given twice (also as {seen[real]}); each capture is read once")
            seen[real] = path
            out.paths.append(path)
            out.names.append(name)
    if "-" in out.paths and len(out.paths) > 1:
        raise TraceParseError("- (stdin) can only be the one input")
    return out


WALK_DEPTH = 2  # DIR/capture and DIR/host/capture: a fleet's layout, never a whole file system
WALK_MAX = 100_000


def _walk(top: Path, warnings: list[str]) -> list[tuple[str, str]]:
    """Regular files at most WALK_DEPTH levels below ``top``, sorted, each with its name: its file
    name, or its folder below ``top`` where the file names repeat (DIR/web1/perf.txt -> web1);
    dotfiles and dot-folders left out; the folders deeper down counted in ``warnings``."""
    found, level = [], [top]
    try:
        for _ in range(WALK_DEPTH):
            nxt = []
            for folder in level:
                for p in sorted(folder.iterdir()):
                    if p.name.startswith("."):
                        continue
                    if p.is_file():
                        found.append(p)
                    elif p.is_dir() and not p.is_symlink():
                        nxt.append(p)
                if len(found) > WALK_MAX:
                    raise TraceParseError(f"{top}: more than {WALK_MAX:,} files; give the folder that holds the captures")
            level = nxt
    except OSError as exc:
        raise TraceParseError(f"{top}: cannot list it ({exc.strerror or exc})") from None
    if level:
        warnings.append(f"{top}: {len(level):,} folders below depth {WALK_DEPTH} not read "
                        f"(a directory is read as DIR/capture and DIR/host/capture; give deeper folders themselves)")
    found.sort()
    names = [p.name for p in found]
    repeated = {n for n in names if names.count(n) > 1}
    return [(str(p), _folder_name(p, top) if p.name in repeated else p.name) for p in found]


def _folder_name(p: Path, top: Path) -> str:
    rel = p.parent.relative_to(top)
    return str(rel) if str(rel) != "." else (top.resolve().name or p.name)


def check_labels(inputs: Inputs, labels: list[str]) -> list[str | None]:
    """--label NAME once per input, in order (one name given twice: one host's captures, merged on
    one clock); none given: each input names itself (hostname, else its name), and two inputs of
    one name are refused, as they would merge as one host."""
    paths = inputs.paths
    if not labels:
        first: dict[str, str] = {}
        for path, name in zip(paths, inputs.names):
            if name in first:
                raise TraceParseError(f"{first[name]} and {path} would both be labelled {name!r}; "
                                      f"name each input with --label (once per input, in order)")
            first[name] = path
        return [None] * len(paths)
    if len(labels) != len(paths):
        raise TraceParseError(f"--label given {len(labels)} times for {len(paths)} inputs: give one per input, in order")
    if any(not lab.strip() for lab in labels):
        raise TraceParseError("--label: an empty name; give each input a name")
    return list(labels)


def hostname(meta: dict) -> str | None:
    """The recording host where the capture says it: trace.dat's uname option is 'Linux HOST release machine'."""
    if meta.get("hostname"):  # perf.data's HEADER_HOSTNAME
        return str(meta["hostname"])
    parts = str(meta.get("uname") or "").split()
    return parts[1] if len(parts) >= 2 else None


def label_of(path: str, meta: dict, given: str | None, name: str | None = None) -> str:
    if given:
        return given
    return hostname(meta) or name or ("stdin" if path == "-" else Path(path).name)


def analyse(task: tuple) -> dict:
    """One capture -> its report's JSON data with a "label": what a worker runs. ``task`` is
    (kind, path, label or None, name, strict, options) and the result plain JSON-able data."""
    from . import api

    kind, path, label, name, strict, options = task
    cap = api.Capture(path, strict=strict, lean=kind == "block")
    run = {"block": api.block, "net": api.net, "info": api.info}[kind]
    data = dict(run(cap, **options).data)
    data["label"] = label_of(path, cap.source.meta, label, name)
    t0 = (data["source"]["first_ts_ns"] or 0) if kind != "info" else 0
    own = lambda rows: [{"label": data["label"], **r, "time_ns": r["ts_ns"] - t0} for r in rows]  # noqa: E731
    # each listed row's time on its own capture's clock, before another host's rows join it
    if kind == "block":
        data["slow"] = own(data["slow"])
    elif kind == "net":
        data["retransmits"] = {**data["retransmits"], "events": own(data["retransmits"]["events"])}
        data["connect_latency"] = {**data["connect_latency"], "listing": own(data["connect_latency"]["listing"])}
    return data


def merge_pair(a: dict, b: dict) -> dict:
    from .reports.merge import merge

    return merge([a, b])


def run(kind: str, inputs: Inputs, labels: list[str | None], options: dict, strict: bool = False,
        engine: str = "local", scheduler: str | None = None) -> dict:
    """Every input analysed and merged: the merged report's data (one input: its own report's)."""
    if engine == "dask" and "-" in inputs.paths:
        raise TraceParseError("--engine dask: - (stdin) cannot be read on a worker; give files the workers can read")
    tasks = [(kind, p, lab, name, strict, options) for p, lab, name in zip(inputs.paths, labels, inputs.names)]
    if engine == "dask":
        data = _dask([(t[0], os.path.abspath(t[1]), *t[2:]) for t in tasks], scheduler)
    else:
        datas = [analyse(t) for t in tasks]
        if len(datas) == 1:
            data = datas[0]
        else:
            from .reports.merge import merge

            data = merge(datas)
    if inputs.warnings:
        data = {**data, "warnings": [*inputs.warnings, *data.get("warnings", [])]}
    return data


def _dask(tasks: list[tuple], scheduler: str | None) -> dict:
    try:
        from dask.distributed import Client, LocalCluster
        from distributed import KilledWorker
    except ImportError:
        raise TraceParseError("--engine dask needs Dask: pip install 'traceparse[dask]' (or 'dask[distributed]')") from None
    where = scheduler or "(local cluster)"
    with _quiet("distributed"), contextlib.ExitStack() as stack:  # closed however it ends: no cluster left behind
        try:
            if scheduler:
                client = stack.enter_context(Client(scheduler, timeout="5s"))
            else:
                cluster = stack.enter_context(LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None,
                                                           silence_logs=logging.CRITICAL))
                client = stack.enter_context(Client(cluster))
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise TraceParseError(f"--engine dask: cannot reach the scheduler {where}: {_one_line(exc)}") from None
        try:
            futures = client.map(analyse, tasks, pure=False)
            while len(futures) > 1:  # pairwise merges on the workers: a tree, in input order
                pairs = [futures[i : i + 2] for i in range(0, len(futures), 2)]
                futures = [client.submit(merge_pair, *p, pure=False) if len(p) == 2 else p[0] for p in pairs]
            return futures[0].result()
        except KilledWorker as exc:
            raise TraceParseError(f"--engine dask: a worker died running {_one_line(exc)} (out of memory?)") from None
        except (OSError, TimeoutError) as exc:
            raise TraceParseError(f"--engine dask: lost the scheduler {where}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def _quiet(name: str):
    """Dask's loggers at CRITICAL while it runs: its warnings (a worker restarting, a closing
    comm) would break the one-line error rule on stderr."""
    log = logging.getLogger(name)
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(old)
