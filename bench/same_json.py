"""Check that a change keeps every report byte-identical: run `traceparse block|net|info --format json`
on every fixture and shared sample, and save (or compare) stdout, stderr and the exit status.

    python bench/same_json.py save /tmp/before      # on the commit before the change
    python bench/same_json.py check /tmp/before     # after it: prints each difference, exit 1 if any
    python bench/same_json.py save /tmp/before cli  # the CLI's help texts and usage errors instead
    PYTHONPATH=/tmp/old python bench/same_json.py save /tmp/before   # "before" from an installed copy
                                                    # (traceparse/ with parsers/ and reports/ inside it)

Every file under fixtures/ and ../shared/samples/ is an input, whatever it holds (a JSON report or
a script is an input error, whose one line and exit status 2 must stay the same too); a few block
runs add the options that change the report's shape (filters, a threshold, a listing of all).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = [ROOT / "fixtures", ROOT.parent / "shared" / "samples"]
REPORTS = (["block"], ["net"], ["info"])
EXTRA = {  # options runs on the block fixtures, besides the defaults
    "fixtures/perf-block.txt": (["--dev", "8,0", "--op", "W"], ["--slower-than", "1ms", "--unit", "ms"], ["--top", "0"],
                                ["--since", "0.5", "--comm", "dd"]),
    "fixtures/tracedat/blk.v7zstd.dat": (["--top", "0"], ["--slower-than", "100us"], ["--op", "R"]),
}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "80", "NO_COLOR": "1"}


COMMANDS = ("block", "net", "diff", "info", "export", "merge", "syscalls", "funclatency", "sched", "irq", "futex", "hist",
            "count", "stacks")
CLI = [[], ["--help"], ["--version"], ["bogus"], ["blok", "x"], ["block"], ["block", "--bogus", "x"], ["block", "x", "--top", "-1"],
       *([c, "--help"] for c in COMMANDS)]  # help texts, usage errors: what the CLI says before any input is read


def cli_runs():
    for args in CLI:
        yield "cli", None, args


def report_runs():
    for folder in INPUTS:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(ROOT.parent if folder.name == "samples" else ROOT).as_posix()
            for rep in REPORTS:
                yield rel, path, [*rep]
            for extra in EXTRA.get(rel, ()):
                yield rel, path, ["block", *extra]


def result(path: Path | None, args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "traceparse", *args] if path is None else \
        [sys.executable, "-m", "traceparse", args[0], str(path), "--format", "json", *args[1:]]
    # cwd outside the tree: with PYTHONPATH=a copy of the installed package, the run is that copy's
    p = subprocess.run(cmd, capture_output=True, cwd="/", env=ENV, timeout=600)
    return {"rc": p.returncode, "stderr": p.stderr.decode(errors="replace"), "sha": hashlib.sha256(p.stdout).hexdigest(),
            "bytes": len(p.stdout)}


def main() -> int:
    mode, out = sys.argv[1], Path(sys.argv[2])
    group = sys.argv[3] if len(sys.argv) > 3 else "reports"
    runs = {"reports": report_runs, "cli": cli_runs}[group]
    out.mkdir(parents=True, exist_ok=True)
    saved = out / f"results-{group}.json"
    before = json.loads(saved.read_text()) if mode == "check" else {}
    now, diffs = {}, 0
    for rel, path, args in runs():
        key = f"{rel} :: {' '.join(args)}"
        now[key] = r = result(path, args)
        if mode == "check":
            b = before.get(key)
            if b != r:
                diffs += 1
                print(f"DIFF {key}\n  before {b}\n  now    {r}", flush=True)
    if mode == "save":
        saved.write_text(json.dumps(now, indent=1) + "\n")
    print(f"{len(now)} runs, {diffs} differ" if mode == "check" else f"{len(now)} runs saved in {saved}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
