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

import glob
from pathlib import Path

from .parsers.errors import TraceParseError

ENGINES = ("local", "dask")
KINDS = ("block", "info")


def expand(args: list[str]) -> list[str]:
    """Files as given, globs expanded (sorted), directories walked (regular files, sorted, no dotfiles)."""
    out: list[str] = []
    for a in args:
        if a == "-":
            out.append(a)
        elif Path(a).is_dir():
            files = _walk(Path(a))
            if not files:
                raise TraceParseError(f"{a}: is a directory with no files in it; give capture files, or a directory holding them")
            out += files
        elif any(c in a for c in "*?[") and not Path(a).exists():
            hits = sorted(glob.glob(a, recursive=True))
            if not hits:
                raise TraceParseError(f"{a}: no file matches this pattern")
            out += hits
        elif not Path(a).exists():  # every input checked before any is read (a fifo, a 1 GB file)
            raise TraceParseError(f"{a}: no such file")
        else:
            out.append(a)
    if "-" in out and len(out) > 1:
        raise TraceParseError("- (stdin) can only be the one input")
    return out


WALK_DEPTH = 2  # DIR/capture and DIR/host/capture: a fleet's layout, never a whole file system
WALK_MAX = 100_000


def _walk(top: Path) -> list[str]:
    """Regular files at most WALK_DEPTH levels below ``top``, sorted; dotfiles and dot-folders left out."""
    found, level = [], [top]
    try:
        for _ in range(WALK_DEPTH):
            nxt = []
            for folder in level:
                for p in sorted(folder.iterdir()):
                    if p.name.startswith("."):
                        continue
                    if p.is_file():
                        found.append(str(p))
                    elif p.is_dir() and not p.is_symlink():
                        nxt.append(p)
                if len(found) > WALK_MAX:
                    raise TraceParseError(f"{top}: more than {WALK_MAX:,} files; give the folder that holds the captures")
            level = nxt
    except OSError as exc:
        raise TraceParseError(f"{top}: cannot list it ({exc.strerror or exc})") from None
    return sorted(found)


def check_labels(inputs: list[str], labels: list[str]) -> list[str | None]:
    """--label NAME once per input, in order; none given: each input names itself (hostname, else file name)."""
    if not labels:
        return [None] * len(inputs)
    if len(labels) != len(inputs):
        raise TraceParseError(f"--label given {len(labels)} times for {len(inputs)} inputs: give one per input, in order")
    return list(labels)


def hostname(meta: dict) -> str | None:
    """The recording host where the capture says it: trace.dat's uname option is 'Linux HOST release machine'."""
    parts = str(meta.get("uname") or "").split()
    return parts[1] if len(parts) >= 2 else None


def label_of(path: str, meta: dict, given: str | None) -> str:
    if given:
        return given
    return hostname(meta) or ("stdin" if path == "-" else Path(path).name)


def analyse(task: tuple) -> dict:
    """One capture -> its report's JSON data with a "label": what a worker runs. ``task`` is
    (kind, path, label or None, strict, options) and the result plain JSON-able data."""
    from . import api

    kind, path, label, strict, options = task
    cap = api.Capture(path, strict=strict, lean=kind == "block")
    run = {"block": api.block, "info": api.info}[kind]
    data = dict(run(cap, **options).data)
    data["label"] = label_of(path, cap.source.meta, label)
    return data


def merge_pair(a: dict, b: dict) -> dict:
    from .reports.merge import merge

    return merge([a, b])


def run(kind: str, inputs: list[str], labels: list[str | None], options: dict, strict: bool = False,
        engine: str = "local", scheduler: str | None = None) -> dict:
    """Every input analysed and merged: the merged report's data (one input: its own report's)."""
    tasks = [(kind, p, lab, strict, options) for p, lab in zip(inputs, labels)]
    if engine == "dask":
        return _dask(tasks, scheduler)
    datas = [analyse(t) for t in tasks]
    if len(datas) == 1:
        return datas[0]
    from .reports.merge import merge

    return merge(datas)


def _dask(tasks: list[tuple], scheduler: str | None) -> dict:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise TraceParseError("--engine dask needs Dask: pip install 'traceparse[dask]' (or 'dask[distributed]')") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="5s")
        else:
            cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise TraceParseError(f"--engine dask: cannot reach the scheduler {scheduler or '(local cluster)'}: {exc}") from None
    with client:
        futures = client.map(analyse, tasks, pure=False)
        while len(futures) > 1:  # pairwise merges on the workers: a tree, in input order
            pairs = [futures[i : i + 2] for i in range(0, len(futures), 2)]
            futures = [client.submit(merge_pair, *p, pure=False) if len(p) == 2 else p[0] for p in pairs]
        data = futures[0].result()
    if cluster is not None:
        cluster.close()
    return data
