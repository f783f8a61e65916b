"""traceparse stacks: folded stacks against FlameGraph's own results, a real -g capture against perf
and an independent fold, weighted totals against block and sched, the flame graph in Chromium."""
from __future__ import annotations

import json
import lzma
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLES, run_cli

from traceparse import api
from traceparse.render import flamegraph
from traceparse.reports.folded import FoldOptions

FLAME = SAMPLES / "flamegraph"  # FlameGraph's test inputs and results (CDDL-1.0: read here, not copied)
INPUTS = ["perf-cycles-instructions-01", "perf-iperf-stacks-pidtid-01", "perf-java-faults-01", "perf-java-stacks-02",
          "perf-js-stacks-01", "perf-rust-Yamakaky-dcpu"]
OPTS = ["pid", "tid", "kernel", "jit", "all", "addrs"]
STACKS = FIXTURES / "stacks"
CPU = STACKS / "cpu-g.txt.xz"
SCHED = STACKS / "sched-g.txt.xz"


def _flame(name: str) -> Path:
    path = FLAME / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/samples)")
    return path


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("name", INPUTS)
def test_folded_equals_stackcollapse_perf_results(name, opt):
    """FlameGraph's test.sh: stackcollapse-perf.pl --OPT test/NAME.txt | diff - test/results/NAME-collapsed-OPT.txt."""
    path = _flame(name)
    want = (FLAME / "results" / f"{name}-collapsed-{opt}.txt").read_bytes()
    report = api.stacks(path, fold=FoldOptions.of(**{opt: True}))
    assert flamegraph.folded(report).encode() == want


@pytest.mark.parametrize("opt", ["tid", "all", "addrs"])
def test_folded_from_the_command_line_and_stdin(opt):
    """The flags reach the fold; stdin works for the old format no event parser reads (no CPU, no time)."""
    path = _flame("perf-java-stacks-02")
    proc = run_cli("stacks", "-", "--folded", f"--{opt}", stdin=path.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (FLAME / "results" / f"perf-java-stacks-02-collapsed-{opt}.txt").read_bytes()


def test_event_filter_picks_the_other_event():
    """perf-cycles-instructions-01 holds 333 instructions and 111 cycles samples: by default the first
    event (instructions) is folded, --event cycles folds the 111 others."""
    path = _flame("perf-cycles-instructions-01")
    default = api.stacks(path).data
    cycles = api.stacks(path, event="cycles").data
    assert (default["event"], default["events"], default["total"]) == ("instructions", 333, 333)
    assert (cycles["event"], cycles["events"], cycles["total"]) == ("cycles", 111, 111)


INLINED = b"""app 4242 [001] 100.000100:    1000 cycles:
\t          4004f6 inner (inlined)
\t          4004f6 main+0x16 (/tmp/app)
\t    7f00000273fb __libc_start_call_main+0x7b (/usr/lib/x86_64-linux-gnu/libc.so.6)

"""  # hand-made as perf prints an inlined frame: its symbol and " (inlined)" in place of the DSO


def test_inlined_frames_are_frames_of_their_own(tmp_path):
    path = tmp_path / "inlined.txt"
    path.write_bytes(INLINED)
    assert flamegraph.folded(api.stacks(path)) == "app;__libc_start_call_main;main;inner 1000\n"
    svg = flamegraph.svg(api.stacks(path, fold=FoldOptions.of(all=True, inline=True)))
    assert 'data-k="inline"><title>inner</title>' in svg


# -- the capture recorded here: perf record -F 999 -a -g ------------------------------------------


def _perf_stats_samples(path: Path) -> int:
    return int(re.search(r"^\s*SAMPLE events:\s+(\d+)", path.read_text(), re.M).group(1))


def _independent_fold(text: str, periods: bool = True) -> Counter:
    """A fold written for this test from the perf script text alone: comm, period, frames leaf-first."""
    out: Counter = Counter()
    for block in re.split(r"\n\s*\n", text):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines or lines[0].startswith((" ", "\t")):
            continue
        head = re.match(r"^(.+?)\s+\d+\s+\[\d+\]\s+[\d.]+:\s+(\d+)\s+\S+:", lines[0])
        names = []
        for frame in lines[1:]:
            addr, rest = frame.strip().split(" ", 1)
            sym, dso = rest.rsplit(" (", 1)
            dso = dso.rstrip(")")
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if sym == "[unknown]":
                sym = "[unknown]" if dso == "[unknown]" else f"[{dso.rsplit('/', 1)[-1]}]"
            else:
                keep = "(anonymous namespace)"
                sym = sym.replace(keep, "\0").split("(", 1)[0].replace("\0", keep).replace(";", ":")
                sym = sym.replace('"', "").replace("'", "")
            names.append(sym)
        stack = ";".join([head.group(1).replace(" ", "_"), *reversed(names)])
        out[stack] += int(head.group(2)) if periods else 1
    return out


def test_cpu_capture_sample_count_equals_perf_report_stats():
    data = api.stacks(CPU).data
    assert data["events"] == _perf_stats_samples(STACKS / "cpu-g.report-stats.txt") == 1187


def test_cpu_capture_folds_as_an_independent_fold():
    """Line path (periods, as stackcollapse-perf weighs them) and event path (one per sample, from the
    parsed call chains: --since 0 asks for the parsed events) both equal the test's own fold."""
    text = lzma.decompress(CPU.read_bytes()).decode()
    got = {r["stack"]: r["weight"] for r in api.stacks(CPU).data["folded"]}
    assert got == dict(_independent_fold(text))
    parsed = {r["stack"]: r["weight"] for r in api.stacks(CPU, since_s=0.0).data["folded"]}
    assert parsed == dict(_independent_fold(text, periods=False))


# -- weights checked against block and sched on the same capture ----------------------------------


@pytest.mark.parametrize("capture", ["perf-block-g.txt.xz", "tracefs-block-stack.txt.xz"])
@pytest.mark.parametrize("phase", ["d2c", "i2c"])
def test_block_weights_add_up_to_the_block_reports_latency(capture, phase):
    path = FIXTURES / capture
    block = api.block(path).data["latency"][phase]["total"]
    stacks = api.stacks(path, weight=phase).data
    assert stacks["total"] == block["sum_ns"] and stacks["events"] == block["count"] > 0
    assert sum(r["count"] for r in stacks["folded"]) == block["count"]
    # the issuing stacks: the block layer's issue path is on (nearly) every one
    on_issue = sum(r["weight"] for r in stacks["folded"] if "blk_mq_start_request" in r["stack"])
    assert on_issue >= 0.9 * stacks["total"]


def test_block_weights_since_until_follow_block():
    path = FIXTURES / "tracefs-block-stack.txt.xz"
    block = api.block(path, since_s=0.1, until_s=0.2).data["latency"]["d2c"]["total"]
    stacks = api.stacks(path, weight="d2c", since_s=0.1, until_s=0.2).data
    assert stacks["total"] == block["sum_ns"] and 0 < block["count"] < 391


def test_block_weights_where_follows_block_op():
    path = FIXTURES / "tracefs-block-stack.txt.xz"
    block = api.block(path, op="W").data["latency"]["d2c"]["total"]
    stacks = api.stacks(path, weight="d2c", where='op == "W"').data
    assert stacks["total"] == block["sum_ns"] and 0 < block["count"] < 391


def test_samples_cut_by_chunk_ends_fold_the_same():
    """A sample whose call chain runs past a chunk's end is carried to the next chunk, not cut."""
    import io

    from traceparse.parsers.text import line_frames
    from traceparse.reports.folded import LineFolder

    text = lzma.decompress(CPU.read_bytes())
    folder = LineFolder(FoldOptions())
    chunks = 0
    for lines, last in line_frames(io.BytesIO(text), chunk_bytes=4096):
        folder.feed(lines, last)
        chunks += 1
    assert chunks > 100
    got = dict(zip(*folder.result().select("stack", "n").to_dict(as_series=False).values()))
    assert got == dict(_independent_fold(text.decode()))


def test_offcpu_per_thread_equals_sched():
    sched = api.sched(SCHED, by="pid").data
    want: Counter = Counter()
    for g in sched["groups"]:
        if g["metric"] == "offcpu" and "pid" in g["key"]:
            want[int(g["key"]["pid"])] += g["total_ns"]
    data = api.stacks(SCHED, weight="offcpu", fold=FoldOptions(tid=True)).data
    got: Counter = Counter()
    for r in data["folded"]:
        got[int(r["stack"].split(";", 1)[0].rsplit("/", 1)[1])] += r["weight"]
    assert got == want and len(got) > 10
    # the switch-out stack: every one goes through the scheduler
    assert all("__schedule" in r["stack"] for r in data["folded"])


def test_latency_weight_equals_the_engines_pairs():
    """Any start -> end pair: here sched_wakeup -> sched_switch per pid, as funclatency pairs them."""
    pairs = api.funclatency(SCHED, start="sched:sched_wakeup", end="sched:sched_switch").data
    total = next(g for g in pairs["groups"] if g["key"] == {})
    data = api.stacks(SCHED, weight="latency", start="sched:sched_wakeup", end="sched:sched_switch").data
    assert data["total"] == total["total_ns"] and data["events"] == total["count"] > 0


def test_comm_and_pid_filters_keep_that_threads_stacks():
    data = api.stacks(CPU, comm="gzip").data
    assert data["folded"] and all(r["stack"].startswith("gzip;") for r in data["folded"])
    off = api.stacks(SCHED, weight="offcpu", pid=22133, fold=FoldOptions(tid=True)).data
    assert off["folded"] and all(r["stack"].split(";")[0].endswith("/22133") for r in off["folded"])


# -- renderers ---------------------------------------------------------------------------------------


def test_flamegraph_boxes_merge_common_prefixes():
    import polars as pl

    folded = pl.DataFrame({"stack": ["a;b;c", "a;b", "a;d", "e"], "w": [3, 2, 1, 4]})
    boxes = flamegraph.nodes(folded).select("depth", "name", "x", "w").rows()
    # sorted by frames: a;b (2) a;b;c (3) a;d (1) e (4) -> a spans 0..6, b 0..5, c 2..5, d 5..6, e 6..10
    assert sorted(boxes) == sorted([(0, "a", 0, 6), (0, "e", 6, 4), (1, "b", 0, 5), (1, "d", 5, 1), (2, "c", 2, 3)])


def test_speedscope_file_rebuilds_the_folded_stacks():
    report = api.stacks(CPU)
    doc = json.loads(flamegraph.speedscope(report))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = [f["name"] for f in doc["shared"]["frames"]]
    prof = doc["profiles"][0]
    assert prof["type"] == "sampled" and len(prof["samples"]) == len(prof["weights"])
    rebuilt = Counter()
    for stack, w in zip(prof["samples"], prof["weights"]):
        rebuilt[";".join(names[i] for i in stack)] += w
    assert rebuilt == {r["stack"]: r["weight"] for r in report.data["folded"]}
    assert prof["endValue"] == sum(prof["weights"]) == report.data["total"]


def test_flamegraph_svg_in_chromium(tmp_path):
    from browser import opened

    out = tmp_path / "cpu.svg"
    proc = run_cli("stacks", CPU, "-o", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch
    with opened(out, height=2200) as page:
        p = page.page
        assert p.evaluate("document.querySelectorAll('g.f').length") > 500
        p.screenshot(path=str(tmp_path / "cpu.png"), clip={"x": 0, "y": 1500, "width": 1200, "height": 640})
        assert (tmp_path / "cpu.png").stat().st_size > 10_000
        labels = p.evaluate("Array.from(document.querySelectorAll('g.f text')).map(t => t.textContent).filter(Boolean)")
        assert "gzip" in labels and "sha1sum" in labels  # roots wide enough to be labelled
        # hover: name, weight and share
        p.hover("g.f[data-name='sha1sum']")
        detail = p.evaluate("document.getElementById('details').textContent")
        assert detail.startswith("sha1sum (") and "%)" in detail
        # search: the frames named so are highlighted, and only they
        p.on("dialog", lambda d: d.accept("^sha1sum$"))
        p.click("#search")
        hits = p.evaluate("Array.from(document.querySelectorAll('g.f.match')).map(g => g.dataset.name)")
        assert hits == ["sha1sum"]
        fill = p.evaluate("getComputedStyle(document.querySelector('g.f.match rect')).fill")
        assert fill == "rgb(230, 0, 230)"
        # click zooms: the frame takes the whole width, frames beside it are hidden
        p.click("g.f[data-name='gzip']")
        width = float(p.evaluate("document.querySelector(\"g.f[data-name='gzip'] rect\").getAttribute('width')"))
        assert width == pytest.approx(1200 - 20, abs=0.5)
        assert p.evaluate("document.querySelector(\"g.f[data-name='sha1sum']\").classList.contains('hide')")
        assert page.errors == [] and page.requests == []


def test_kernel_frames_are_coloured_apart_from_user_frames():
    svg = flamegraph.svg(api.stacks(CPU, fold=FoldOptions.of(all=True)))
    kinds = Counter(re.findall(r'data-k="(\w+)"', svg))
    assert kinds["kernel"] > 100 and kinds["user"] > 100
    assert "_[k]" not in re.sub(r"<title>.*?</title>", "", svg)  # the mark is the colour, not the label


def test_diff_stacks_compares_shares(tmp_path):
    from browser import opened

    text = lzma.decompress(CPU.read_bytes()).decode()
    blocks = text.split("\n\n")
    base, new = tmp_path / "base.txt", tmp_path / "new.txt"
    base.write_text("\n\n".join(blocks[:500]) + "\n\n")
    new.write_text("\n\n".join(blocks[500:]) + "\n\n")
    fb, fn = _independent_fold(base.read_text()), _independent_fold(new.read_text())
    tb, tn = sum(fb.values()), sum(fn.values())
    proc = run_cli("diff", base, new, "--report", "stacks", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    rows = {r["stack"]: r for r in data["stacks"]}
    assert set(rows) == set(fb) | set(fn)
    for stack, r in rows.items():
        assert r["delta"] == pytest.approx(100 * fn[stack] / tn - 100 * fb[stack] / tb)
    deltas = [abs(r["delta"]) for r in data["stacks"]]
    assert deltas == sorted(deltas, reverse=True)
    saved = tmp_path / "base.json"  # a side saved as speedscope's file diffs as its capture does
    assert run_cli("stacks", base, "--format", "json", "-o", saved).returncode == 0
    again = run_cli("diff", saved, new, "--report", "stacks", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stacks"] == data["stacks"]
    out = tmp_path / "diff.svg"
    assert run_cli("diff", base, new, "--report", "stacks", "-o", out).returncode == 0
    with opened(out, height=2200) as page:
        reds = page.page.evaluate("Array.from(document.querySelectorAll('g.f rect')).filter(r => r.getAttribute('fill').startsWith('rgb(255,')).length")
        blues = page.page.evaluate("Array.from(document.querySelectorAll('g.f rect')).filter(r => /,255\\)$/.test(r.getAttribute('fill'))).length")
        assert reds > 0 and blues > 0 and page.errors == []


@pytest.mark.parametrize("args, says", [
    (["--weight", "bogus"], "--weight must be one of"),
    (["--weight", "latency"], "give --start EV and --end EV"),
    (["--pid", "--tid", "--folded"], "--pid and --tid"),
    (["--slower-than", "1ms"], "--slower-than goes with a weight"),
    (["--format", "pdf"], "must be one of"),
])
def test_bad_options_are_one_line_and_exit_2(args, says):
    proc = run_cli("stacks", CPU, *args)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("traceparse: ") and says in err and err.count("\n") == 1


def test_a_capture_without_call_chains_says_so():
    proc = run_cli("stacks", FIXTURES / "perf-block.txt", "--since", "0")
    assert proc.returncode == 2 and "record with -g" in proc.stderr.decode()
