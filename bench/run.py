"""Benchmark traceparse against the tools people use today, in one run, as ratios.

    python bench/run.py                 # ~2M-event perf text, 150k events of -g text, trace.dats if present, start-up
    python bench/run.py --scaling       # + per-event cost at 1e5, 1e6, 1e7 events (1.1 GB of text)
    python bench/run.py --big           # + peak RSS on ~1.3 GB of perf text

Inputs are built in bench/work/ from the real fixtures (a capture repeated with shifted
timestamps, see make_inputs.py). Peers, on the same input in the same run:
  mawk   bench/pair.awk        one-pass issue/complete pairing, the fastest thing a user writes
  python bench/pair_loop.py    a regex per line and a dict, the first thing a user writes
  perf script                  turning an equivalent perf.data into text in the first place
  trace-cmd report > /dev/null trace-cmd's own text conversion of the same trace.dat
A trace.dat and a perf.data cannot be built by repetition; record them once (root, tracefs) with
  ../shared/tools/record.sh tracedat bench/work/blk-200k.dat block:block_rq_insert,block:block_rq_issue,block:block_rq_complete -- \
      dd if=/dev/zero of=/var/tmp/tpbench bs=4k count=70000 oflag=direct
  ../shared/tools/record.sh perf bench/work/blk-2M.perf.data (same events, count=650000: ~1.3M events,
      as this kernel's perf drops most completes)
and bench/work/blk-1M.dat (BUFFER_KB=131072, count=340000) and, for the large case (~5M events,
BUFFER_KB=262144), bench/work/blk-5M.dat with count=1700000.
Each command runs 3 times; the table shows the median wall time and the largest peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
FIXTURE = ROOT / "fixtures" / "perf-block.txt"
FIXTURE_G = ROOT / "fixtures" / "perf-block-g.txt.xz"
TP = [sys.executable, "-m", "traceparse"]
# Python caches compiled modules as an installed package has them (pip compiles at install); an
# environment that forbids it (PYTHONDONTWRITEBYTECODE) would add ~35 ms of compiling to every run
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# A child's peak RSS as the kernel counts it includes what it had before exec, i.e. this script's
# own memory; GNU time, a small process, runs each command so that the figure is the command's own.
TIME = ["/usr/bin/time", "-f", "RSS_KB=%M"] if os.path.exists("/usr/bin/time") else []


def run(cmd: list[str], repeat: int = 3) -> tuple[float, int]:
    """Median wall seconds and max peak RSS (MB) of ``cmd`` (stdout discarded)."""
    times, rss = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run([*TIME, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
        times.append(time.perf_counter() - t0)
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed: {err[-500:]}")
        kb = [int(line[7:]) for line in err.splitlines() if line.startswith("RSS_KB=")]
        rss = max(rss, kb[-1] // 1024 if kb else 0)
    return statistics.median(times), rss


def perf_text(events: int, fixture: Path = FIXTURE, tag: str = "perf") -> Path:
    path = WORK / f"{tag}-{events}.txt"
    if not path.exists():
        subprocess.run([sys.executable, ROOT / "bench" / "make_inputs.py", "perf", fixture, path, "--events", str(events)], check=True)
    return path


def count_events(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b" block:block_rq_") for chunk in iter(lambda: f.read(1 << 24), b""))


def table(rows: list[dict]) -> str:
    head = "| case | command | events | MB | time (s) | events/s | MB/s | peak RSS (MB) | traceparse is |"
    out = [head, "|" + "---|" * 9]
    for r in rows:
        out.append(
            f"| {r['case']} | `{r['name']}` | {r['events']:,} | {r['mb']:.0f} | {r['t']:.2f} | "
            f"{r['events'] / r['t']:,.0f} | {r['mb'] / r['t']:.0f} | {r['rss']} | {r.get('ratio', '')} |"
        )
    return "\n".join(out)


def case(rows, label, path, events, tp_cmd, peers, repeat=3):
    mb = path.stat().st_size / 1e6
    t, rss = run(tp_cmd, repeat)
    rows.append(dict(case=label, name="traceparse " + " ".join(map(str, tp_cmd[3:])).replace(str(ROOT) + "/", ""), events=events, mb=mb, t=t, rss=rss))
    for name, cmd in peers:
        pt, prss = run(cmd, repeat)
        rows.append(dict(case=label, name=name, events=events, mb=mb, t=pt, rss=prss, ratio=f"{pt / t:.2f}x faster" if pt >= t else f"{t / pt:.2f}x slower"))


TINY_TEXT = ROOT / "fixtures" / "handmade" / "comm-spaces.perf.txt"
SMALL_DAT = ROOT / "fixtures" / "tracedat" / "blk.v7zstd.dat"  # 801 events: what every run pays before its first event


def fixed_costs(rows: list[dict]) -> str:
    """What a run costs before it reads an event, against the time the ratio targets leave."""
    imports, _ = run([sys.executable, "-c", "import polars, numpy"], repeat=5)
    small, _ = run([*TP, "block", str(SMALL_DAT), "-f", "json"], repeat=5)
    out = [
        "| fixed cost | time (s) |", "|---|---|",
        f"| `python -c 'import polars, numpy'` | {imports:.2f} |",
        f"| `traceparse block` on an 801-event trace.dat (start-up, imports, format files, report) | {small:.2f} |",
    ]
    if shutil.which("trace-cmd"):
        tc, _ = run(["trace-cmd", "report", "-i", str(SMALL_DAT)], repeat=5)
        out.append(f"| `trace-cmd report` on the same file | {tc:.2f} |")
    need = {"mawk -f bench/pair.awk": 3, "python bench/pair_loop.py": 8, "trace-cmd report > /dev/null": 2}
    out += ["", "| peer | case | peer's time (s) | target | leaves traceparse (s) |", "|---|---|---|---|---|"]
    for r in rows:
        if r["name"] in need:
            k = need[r["name"]]
            out.append(f"| `{r['name']}` | {r['case']} | {r['t']:.2f} | {k}x faster | {r['t'] / k:.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--events-g", type=int, default=150_000)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--big", action="store_true")
    a = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    rows: list[dict] = []
    text = perf_text(a.events)
    n = count_events(text)
    peers = [("mawk -f bench/pair.awk", ["mawk", "-f", "bench/pair.awk", str(text)])] if shutil.which("mawk") else []
    peers.append(("python bench/pair_loop.py", [sys.executable, "bench/pair_loop.py", str(text)]))
    case(rows, "perf script text", text, n, [*TP, "block", str(text), "-f", "json"], peers)

    # with call chains (perf record -g): 30-odd frame lines per event, 3.5 KB per event
    g = perf_text(a.events_g, FIXTURE_G, "perf-g")
    peers = [(name, [*cmd[:-1], str(g)]) for name, cmd in peers]
    case(rows, "perf script -g text", g, count_events(g), [*TP, "block", str(g), "-f", "json"], peers)

    # a real recording (not repeated): `perf script` turning it into text is the first peer
    pdata = WORK / "blk-2M.perf.data"
    if pdata.exists() and shutil.which("perf"):
        ptext = WORK / "blk-2M.perf.txt"
        if not ptext.exists():
            with open(ptext, "wb") as out:
                subprocess.run(["perf", "script", "-i", str(pdata)], stdout=out, stderr=subprocess.DEVNULL, check=True)
        peers = [
            ("perf script > /dev/null (the perf.data it came from)", ["perf", "script", "-i", str(pdata)]),
            ("mawk -f bench/pair.awk", ["mawk", "-f", "bench/pair.awk", str(ptext)]),
            ("python bench/pair_loop.py", [sys.executable, "bench/pair_loop.py", str(ptext)]),
        ]
        case(rows, "recorded perf text", ptext, count_events(ptext), [*TP, "block", str(ptext), "-f", "json"], peers)
    dat = WORK / "blk-200k.dat"
    if dat.exists():
        info = subprocess.run([*TP, "info", str(dat), "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=True)
        ev = sum(json.loads(info.stdout)["events"].values())
        peers = [("trace-cmd report > /dev/null", ["trace-cmd", "report", "-i", str(dat)])] if shutil.which("trace-cmd") else []
        case(rows, "trace.dat", dat, ev, [*TP, "block", str(dat), "-f", "json"], peers)

    for label, name, repeat in (("trace.dat, 1M", "blk-1M.dat", 3), ("trace.dat, large", "blk-5M.dat", 1)):
        path = WORK / name
        if path.exists():
            info = subprocess.run([*TP, "info", str(path), "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=True)
            ev = sum(json.loads(info.stdout)["events"].values())
            peers = [("trace-cmd report > /dev/null", ["trace-cmd", "report", "-i", str(path)])] if shutil.which("trace-cmd") else []
            case(rows, label, path, ev, [*TP, "block", str(path), "-f", "json"], peers, repeat=repeat)

    t, rss = run([*TP, "--help"], repeat=5)
    startup = f"`traceparse --help`: {t:.2f} s (median of 5), peak RSS {rss} MB"
    startup += "\n\n" + fixed_costs(rows)

    extra = []
    if a.scaling:
        # the marginal cost: time = start-up + events x cost per event; start-up measured on an 18-event file
        t0, _ = run([*TP, "block", str(TINY_TEXT), "-f", "json"], repeat=5)
        extra.append(f"Start-up (`traceparse block` on an 18-event perf text): {t0:.2f} s\n")
        extra.append("| events | time (s) | ns per event | ns per event after start-up |\n|---|---|---|---|")
        for e in (100_000, 1_000_000, 10_000_000):
            p = perf_text(e)
            t, rss = run([*TP, "block", str(p), "-f", "json"], repeat=1 if e >= 10_000_000 else 3)
            n = count_events(p)
            extra.append(f"| {n:,} | {t:.2f} | {t / n * 1e9:.0f} | {(t - t0) / n * 1e9:.0f} |")
    if a.big:
        p = perf_text(12_000_000)
        t, rss = run([*TP, "block", str(p), "-f", "json"], repeat=1)
        extra.append(f"\nPeak RSS on {p.stat().st_size / 1e9:.2f} GB of perf text: {rss} MB ({t:.1f} s)")

    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print()
    print(table(rows))
    print()
    print(startup)
    if extra:
        print()
        print("\n".join(extra))


if __name__ == "__main__":
    main()
