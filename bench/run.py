"""Benchmark traceparse against the tools people use today, in one run, as ratios against issue 11's targets.

    python bench/run.py                 # 224 MB and ~1.3 GB of perf text, -g text, trace.dats if present,
                                        # a capture that lost its completes, fixed cost, per-event cost
    python bench/run.py --quick         # a smoke run: small inputs, one run each, no 1.3 GB
    python bench/run.py --dat-dir DIR   # where the recorded trace.dats are (default bench/work)
    python bench/run.py --fixed 11      # the fixed-cost rows alone, interleaved, medians of 11 rounds

Inputs are built in bench/work/ from the real fixtures (a capture repeated with shifted
timestamps, see make_inputs.py); bench/work/ is not committed. Peers, on the same input in the same run:
  limit  bench/limit.c (gcc -O2)   find issue/complete lines, pair them in a hash map: the floor
  mawk   bench/pair.awk            one-pass issue/complete pairing, the fastest thing a user writes
  python bench/pair_loop.py        a regex per line and a dict, the first thing a user writes
  trace-cmd report > /dev/null     trace-cmd's own text conversion of the same trace.dat
A trace.dat cannot be built by repetition; record them once (root, tracefs) with
  ../shared/tools/record.sh tracedat bench/work/blk-200k.dat block:block_rq_insert,block:block_rq_issue,block:block_rq_complete -- \\
      dd if=/dev/zero of=/var/tmp/tpbench bs=4k count=70000 oflag=direct
and bench/work/blk-1M.dat (BUFFER_KB=131072, count=340000) and, for the large case (~4M events,
BUFFER_KB=262144), bench/work/blk-5M.dat with count=1700000. The perf.data row (issue 12: ≥ 5x faster
than `perf script > /dev/null` alone) reads bench/work/blk-1M.perf.data, recorded with
  ../shared/tools/record.sh perf bench/work/blk-1M.perf.data block:block_rq_insert,block:block_rq_issue,block:block_rq_complete -- \
      dd if=/dev/zero of=/var/tmp/tpbench bs=4k count=340000 oflag=direct
(~1.03M samples, 127 MB; this kernel's perf drops some block_rq_complete under load: fine for speed);
`traceparse info` on it is the reading alone, without the block report.
Each case runs its commands in turn, traceparse then its peers, each after the input is read once
into the page cache (this VM drops cached pages on its own), for 3 rounds (trace.dat and perf.data,
a few seconds each: 5; --quick: 1); the table shows the median wall time, the median CPU time (user
+ system, of the command and its threads: on this shared 2-core VM it moves less with the load than
the wall time does) and the largest peak RSS; a peer's ratio is the median of the rounds' ratios
(neighbours in time share the VM's load, which drifts over minutes: the same perf.data ratio was
3.80x with each command's runs back to back and 4.8-5.0x in farm-bench's A/B pairs that hour).
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
SMALL_DAT = ROOT / "fixtures" / "tracedat" / "blk.v7zstd.dat"  # 801 events: what every run pays before its first event
# the console script a user runs (`traceparse block ...`), from this interpreter's environment;
# `python -m traceparse` pays runpy's start-up on top (~4% of the perf.data run, farm-bench -n 10)
_SCRIPT = Path(sys.executable).with_name("traceparse")
TP = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "traceparse"]
# Python caches compiled modules as an installed package has them (pip compiles at install); an
# environment that forbids it (PYTHONDONTWRITEBYTECODE) would add ~35 ms of compiling to every run
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# A child's peak RSS as the kernel counts it includes what it had before exec, i.e. this script's
# own memory; GNU time, a small process, runs each command so that the figure is the command's own.
TIME = ["/usr/bin/time", "-f", "RSS_KB=%M CPU=%U+%S"] if os.path.exists("/usr/bin/time") else []
MAWK, LOOP, LIMIT, TRACE_CMD = "mawk -f bench/pair.awk", "python bench/pair_loop.py", "limit (bench/limit.c, gcc -O2)", "trace-cmd report > /dev/null"
PERF_SCRIPT, TP_INFO = "perf script > /dev/null", "traceparse info (reading alone)"


def run(cmd: list, repeat: int) -> dict:
    """Median wall and CPU seconds, max peak RSS (MB) of ``cmd`` (stdout discarded)."""
    walls, cpus, rss = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run([*TIME, *map(str, cmd)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
        walls.append(time.perf_counter() - t0)
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed: {err[-500:]}")
        for line in err.splitlines():
            if line.startswith("RSS_KB="):
                kb, cpu = line[7:].split(" CPU=")
                rss = max(rss, int(kb) // 1024)
                cpus.append(sum(map(float, cpu.split("+"))))
    return {"t": statistics.median(walls), "cpu": statistics.median(cpus) if cpus else float("nan"), "rss": rss}


def warm(path: Path) -> None:
    """Read ``path`` once, into the page cache: this VM drops cached pages on its own (a 1.3 GB
    text read cold took 3.2 s of kernel time, warm 0.14 s), and a command must not pay for the
    read its neighbour in the round was spared."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def merged(runs: list[dict]) -> dict:
    """One command's runs as one row: median wall and CPU, the largest peak RSS."""
    return {"t": statistics.median(r["t"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs), "rss": max(r["rss"] for r in runs)}


def perf_text(events: int, fixture: Path = FIXTURE, tag: str = "perf", *extra: str) -> Path:
    path = WORK / f"{tag}-{events}.txt"
    if not path.exists():
        subprocess.run([sys.executable, ROOT / "bench" / "make_inputs.py", "perf", fixture, path, "--events", str(events), *extra], check=True)
    return path


def count_events(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b" block:block_rq_") for chunk in iter(lambda: f.read(1 << 24), b""))


def dat_events(path: Path) -> int:
    info = subprocess.run([*TP, "info", str(path), "-f", "json"], capture_output=True, text=True, cwd=ROOT, env=ENV, check=True)
    return sum(json.loads(info.stdout)["events"].values())


def limit_binary() -> Path | None:
    exe = WORK / "limit"
    if shutil.which("gcc") and subprocess.run(["gcc", "-O2", "-o", exe, ROOT / "bench" / "limit.c"]).returncode == 0:
        return exe
    return None


class Bench:
    def __init__(self, repeat: int):
        self.repeat, self.rows = repeat, []

    def case(self, label: str, path: Path, events: int, peers: list[tuple[str, list]], tp: list | None = None, repeat: int | None = None) -> dict:
        """traceparse block on ``path`` and each peer on the same file, in turn round after round (A B C
        A B C ...: on this shared VM the load drifts between minutes, less between neighbours); each
        peer's ratio is the median of its rounds' ratios. Returns traceparse's row."""
        mb = path.stat().st_size / 1e6
        cmds = [tp or [*TP, "block", path, "-f", "json"], *(cmd for _, cmd in peers)]
        rounds = [[warm(path) or run(cmd, 1) for cmd in cmds] for _ in range(repeat or self.repeat)]
        rows = [merged([r[i] for r in rounds]) for i in range(len(cmds))]
        me = dict(case=label, name="traceparse block " + str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), events=events, mb=mb, **rows[0])
        self.rows.append(me)
        for i, (name, _) in enumerate(peers, 1):
            x = statistics.median(r[i]["t"] / r[0]["t"] for r in rounds)  # the peer's time / traceparse's
            ratio = f"{x:.2f}x faster" if x >= 1 else f"{1 / x:.2f}x slower"
            walls = [r[i]["t"] for r in rounds]  # per round, for a ratio between two peers
            self.rows.append(dict(case=label, name=name, events=events, mb=mb, ratio=ratio, x=x, walls=walls, **rows[i]))
        return me

    def mine(self, label: str) -> dict | None:
        return next((r for r in self.rows if r["case"] == label and r["name"].startswith("traceparse")), None)

    def peer(self, label: str, name: str) -> dict | None:
        return next((r for r in self.rows if r["case"] == label and r["name"] == name), None)

    def table(self) -> str:
        out = ["| case | command | events | MB | time (s) | CPU (s) | events/s | MB/s | peak RSS (MB) | traceparse is |", "|" + "---|" * 10]
        for r in self.rows:
            out.append(
                f"| {r['case']} | `{r['name']}` | {r['events']:,} | {r['mb']:.0f} | {r['t']:.2f} | {r['cpu']:.2f} | "
                f"{r['events'] / r['t']:,.0f} | {r['mb'] / r['t']:.0f} | {r['rss']} | {r.get('ratio', '')} |"
            )
        return "\n".join(out)


def text_peers(path: Path, limit: Path | None, loop: bool = True) -> list[tuple[str, list]]:
    peers = [(LIMIT, [limit, path])] if limit else []
    if shutil.which("mawk"):
        peers.append((MAWK, ["mawk", "-f", "bench/pair.awk", path]))
    if loop:
        peers.append((LOOP, [sys.executable, "bench/pair_loop.py", path]))
    return peers


def targets(b: Bench, texts: dict[str, str], dats: dict[str, str], lost: str | None, fixed: tuple[float, float]) -> str:
    """Issue 11's targets against this run's rows: (what, measured, met)."""
    out = ["| target | measured in this run | met |", "|---|---|---|"]

    def faster(label, peer, k, what):
        me, p = b.mine(label), b.peer(label, peer)
        if me and p:
            x = p["x"]  # the median of the rounds' ratios
            out.append(f"| {what}: ≥ {k}x faster than `{peer}` | {x:.2f}x (median of rounds; medians {me['t']:.2f} s vs {p['t']:.2f} s; CPU {me['cpu']:.2f} vs {p['cpu']:.2f} s) | {'yes' if x >= k else 'no'} |")

    for label, what in texts.items():
        if what == "1.3 GB":
            faster(label, MAWK, 8, f"perf text {what}")
            me, lim = b.mine(label), b.peer(label, LIMIT)
            if lim:
                x = 1 / lim["x"]
                out.append(f"| perf text {what}: within 2x of the C limit | {x:.2f}x the limit's time (median of rounds; medians {me['t']:.2f} s vs {lim['t']:.2f} s) | {'yes' if x <= 2 else 'no'} |")
        elif " MB" in what:
            faster(label, MAWK, 3, f"perf text {what}")
            faster(label, LOOP, 8, f"perf text {what}")
        elif what == "-g":
            faster(label, MAWK, 3, "perf script -g text")
    for label, k in dats.items():
        faster(label, TRACE_CMD, k, label)
    faster("perf.data ~1M", PERF_SCRIPT, 5, "perf.data ~1M")
    me, info, ps = b.mine("perf.data ~1M"), b.peer("perf.data ~1M", TP_INFO), b.peer("perf.data ~1M", PERF_SCRIPT)
    if me and info and ps:
        x = statistics.median(p / i for p, i in zip(ps["walls"], info["walls"]))
        out.append(f"| (perf.data ~1M, the reading alone: `traceparse info` {x:.2f}x faster than `{PERF_SCRIPT}`; CPU {info['cpu']:.2f} vs {ps['cpu']:.2f} s) | | |")
    for label in (*[k for k, v in texts.items() if v == "1.3 GB"], *dats, lost, "perf.data ~1M"):
        r = b.mine(label)
        if r:
            out.append(f"| peak RSS ≤ 300 MB: {r['case']} | {r['rss']} MB | {'yes' if r['rss'] <= 300 else 'no'} |")
    polars, small = fixed
    out.append(f"| fixed cost ≤ 1.5x `python -c 'import polars'` | {small / polars:.2f}x ({small:.2f} s vs {polars:.2f} s) | {'yes' if small <= 1.5 * polars else 'no'} |")
    return "\n".join(out)


def per_event(b: Bench, sizes: list[int], start: float) -> str:
    out = ["| events | time (s) | CPU (s) | ns per event | ns per event after start-up |", "|---|---|---|---|---|"]
    for e in sizes:
        p = perf_text(e)
        warm(p)  # (the 1.1 GB one, built long before, was read cold in session 10's second run: 3.69 s)
        r = run([*TP, "block", p, "-f", "json"], b.repeat)
        n = count_events(p)
        out.append(f"| {n:,} | {r['t']:.2f} | {r['cpu']:.2f} | {r['t'] / n * 1e9:.0f} | {(r['t'] - start) / n * 1e9:.0f} |")
    return "\n".join(out)


FIXED = {
    "`python -c 'import polars'`": [sys.executable, "-c", "import polars"],
    "`traceparse block` on the 801-event trace.dat fixture": [*TP, "block", SMALL_DAT, "-f", "json"],
    "`traceparse block` on an 18-event perf text": [*TP, "block", ROOT / "fixtures" / "handmade" / "comm-spaces.perf.txt", "-f", "json"],
    "`traceparse --help`": [*TP, "--help"],
}


def fixed_runs(rounds: int) -> dict[str, dict]:
    """The fixed-cost commands run round after round in turn (medians): on a shared machine the
    load moves less between neighbours than between commands minutes apart."""
    got: dict[str, list[dict]] = {k: [] for k in FIXED}
    for _ in range(rounds):
        for k, cmd in FIXED.items():
            got[k].append(run(cmd, 1))
    return {k: merged(rs) for k, rs in got.items()}


def fixed_costs(rounds: int) -> str:
    med = fixed_runs(rounds)
    t0, c0 = med[next(iter(FIXED))]["t"], med[next(iter(FIXED))]["cpu"]
    out = [f"load average: {os.getloadavg()[0]:.1f}; medians of {rounds} interleaved rounds\n",
           "| fixed cost | wall (s) | CPU (s) | x import polars (wall) | x import polars (CPU) |", "|---|---|---|---|---|"]
    out += [f"| {k} | {r['t']:.3f} | {r['cpu']:.3f} | {r['t'] / t0:.2f}x | {r['cpu'] / c0:.2f}x |" for k, r in med.items()]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: small inputs, one run each")
    ap.add_argument("--dat-dir", type=Path, default=WORK)
    ap.add_argument("--fixed", type=int, metavar="ROUNDS", help="only the fixed-cost rows, interleaved, medians of ROUNDS")
    a = ap.parse_args()
    if a.fixed:
        print(fixed_costs(a.fixed))
        return
    WORK.mkdir(exist_ok=True)
    b = Bench(1 if a.quick else 3)
    limit = limit_binary()
    small, big, g_events, lost_events = (100_000, None, 10_000, 100_000) if a.quick else (2_000_000, 12_000_000, 150_000, 2_000_000)
    texts = {}
    text = perf_text(small)
    b.case("perf script text", text, count_events(text), text_peers(text, limit))
    texts["perf script text"] = "224 MB" if not a.quick else f"{text.stat().st_size / 1e6:.0f} MB (--quick; the target is for 224 MB)"
    if big:
        text = perf_text(big)
        b.case("perf script text, 1.3 GB", text, count_events(text), text_peers(text, limit, loop=False))
        texts["perf script text, 1.3 GB"] = "1.3 GB"
    g = perf_text(g_events, FIXTURE_G, "perf-g")
    b.case("perf script -g text", g, count_events(g), text_peers(g, None, loop=False))
    texts["perf script -g text"] = "-g"
    lost = perf_text(lost_events, FIXTURE, "perf-lost", "--lose-completes")
    b.case("perf text, every complete lost", lost, count_events(lost), [])

    dats = {}
    for label, name, k in (("trace.dat ~200k", "blk-200k.dat", 1), ("trace.dat ~1M", "blk-1M.dat", 5), ("trace.dat ~4M", "blk-5M.dat", 8)):
        path = a.dat_dir / name
        if path.exists() and not (a.quick and k > 1):
            peers = [(TRACE_CMD, ["trace-cmd", "report", "-i", path])] if shutil.which("trace-cmd") else []
            b.case(label, path, dat_events(path), peers, repeat=b.repeat + 2 * (not a.quick))
            dats[label] = k

    perf_data = a.dat_dir / "blk-1M.perf.data"
    if perf_data.exists() and not a.quick:
        peers = [(TP_INFO, [*TP, "info", perf_data, "-f", "json"])]
        if shutil.which("perf"):
            peers.append((PERF_SCRIPT, ["perf", "script", "-f", "-i", perf_data]))
        b.case("perf.data ~1M", perf_data, dat_events(perf_data), peers, repeat=5)

    fixed = list(fixed_runs(1 if a.quick else 7).values())
    polars, small_dat, start, helps = fixed[0]["t"], fixed[1]["t"], fixed[2]["t"], fixed[3]

    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print(f"load average before the run's end: {os.getloadavg()[0]:.1f}\n")
    print(b.table())
    print(f"\n`traceparse --help`: {helps['t']:.2f} s, peak RSS {helps['rss']} MB")
    print(f"\nFixed costs, medians of {1 if a.quick else 7} rounds run in turn:\n")
    print(f"| fixed cost | time (s) |\n|---|---|\n| `python -c 'import polars'` | {polars:.2f} |")
    print(f"| `traceparse block` on the 801-event trace.dat fixture (start-up, imports, format files, report) | {small_dat:.2f} |")
    print(f"| `traceparse block` on an 18-event perf text | {start:.2f} |\n")
    print(targets(b, texts, dats, "perf text, every complete lost", (polars, small_dat)))
    sizes = [10_000, 100_000] if a.quick else [100_000, 1_000_000, 10_000_000]
    print(f"\nPer-event cost (perf text; start-up, the 18-event run: {start:.2f} s):\n")
    print(per_event(b, sizes, start))


if __name__ == "__main__":
    main()
