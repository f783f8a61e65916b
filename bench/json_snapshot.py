"""Snapshot the JSON of `block`, `net` and `info` on every fixture and shared sample, or compare two snapshots.

    python bench/json_snapshot.py snap OUT_DIR [ROOTS...]   # default roots: fixtures/ ../shared/samples
    python bench/json_snapshot.py diff A_DIR B_DIR

Every file under the roots (but scripts and notes) is run through each command in this one process
(typer's CliRunner: stdout, stderr and exit status are recorded, so an input a report refuses is
compared by its error line too). A change to the ground floor must leave every record identical.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".md", ".py", ".sh", ".bt", ".c"}
COMMANDS = ("block", "net", "info")


def inputs(roots: list[Path]) -> list[Path]:
    return sorted(p for r in roots for p in r.rglob("*") if p.is_file() and p.suffix not in SKIP)


def snap(out: Path, roots: list[Path]) -> None:
    from typer.testing import CliRunner

    from traceparse.cli import app

    runner = CliRunner()
    out.mkdir(parents=True, exist_ok=True)
    for path in inputs(roots):
        for cmd in COMMANDS:
            res = runner.invoke(app, [cmd, "--format", "json", str(path)])
            rec = {"file": str(path), "cmd": cmd, "exit": res.exit_code, "stdout": res.stdout, "stderr": res.stderr,
                   "exception": None if res.exception is None or isinstance(res.exception, SystemExit) else repr(res.exception)}
            name = hashlib.sha1(f"{cmd} {path}".encode()).hexdigest()[:16]
            (out / f"{name}.json").write_text(json.dumps(rec, indent=0))


def diff(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.glob("*.json")} | {p.name for p in b.glob("*.json")})
    bad = 0
    for n in names:
        ra, rb = (json.loads((d / n).read_text()) if (d / n).exists() else None for d in (a, b))
        if ra != rb:
            bad += 1
            what = (ra or rb)
            print(f"differs: {what['cmd']} {what['file']}")
    print(f"{len(names)} records, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        roots = [Path(r) for r in sys.argv[3:]] or [ROOT / "fixtures", ROOT.parent / "shared" / "samples"]
        snap(Path(sys.argv[2]), roots)
    else:
        sys.exit(diff(Path(sys.argv[2]), Path(sys.argv[3])))
