"""perf.data read directly (parsers/perf_data.py over the native scanner).

Oracles: `perf script` text of the same recordings (fixtures/perf-block-ns.txt is
`perf script --ns -i fixtures/perf-block.perf.data`; fixtures/perfdata/pipe-block.ns.txt.xz the same
for the pipe-mode recording), `perf report --header-only` (values copied below), and the record
counts of ../shared/samples/SOURCES.md.
"""
from __future__ import annotations

import json
import lzma
import shutil
import subprocess
from collections import Counter

import pytest
from conftest import FIXTURES, SAMPLES, read_frames, run_cli
from polars.testing import assert_frame_equal
from traceparse.fleet import hostname
from traceparse.parsers.errors import TraceParseError

PERF_DATA = FIXTURES / "perf-block.perf.data"
PIPE = FIXTURES / "perfdata" / "pipe-block.perf.data.xz"


frames = read_frames


def report_json(*args, stdin: bytes | None = None) -> dict:
    out = run_cli(*args, "--format", "json", stdin=stdin)
    assert out.returncode == 0, out.stderr.decode()
    data = json.loads(out.stdout)
    data.pop("source", None)
    return data


def text_counts(text: str) -> Counter:
    """Events per kind in perf script text: the word ending in ':' that names a system:event."""
    counts = Counter()
    for line in text.splitlines():
        for word in line.split():
            if word.endswith(":") and word.count(":") == 2:
                counts[word[:-1]] += 1
                break
    return counts


def test_block_report_equals_the_report_on_perf_scripts_text():
    # --ns text: perf script's default µs text rounds every time, so only the ns rendering can agree
    assert report_json("block", PERF_DATA) == report_json("block", FIXTURES / "perf-block-ns.txt")


def test_events_per_kind_equal_perf_scripts():
    source, fr = frames(PERF_DATA)
    want = text_counts((FIXTURES / "perf-block.txt").read_text())
    assert {k: f.height for k, f in fr.items()} == dict(want) == {
        "block:block_rq_insert": 2655, "block:block_rq_issue": 2669, "block:block_rq_complete": 32,
    }
    assert source.format == "perf-data" and not source.skipped.count


def test_frames_carry_what_perf_script_prints():
    # every column the text has (time, cpu, tid, comm at its time, payload fields), row for row
    _, binary = frames(PERF_DATA)
    _, text = frames(FIXTURES / "perf-block-ns.txt")
    # (the I/O priority is spelled "be,0,4" as trace-cmd spells it; perf 6.1 prints "0x2,0,4")
    skip = ("tgid", "stack_id", "ioprio", "payload")
    for kind, want in text.items():
        want = want.drop(skip)
        assert_frame_equal(binary[kind].select(want.columns), want, check_dtypes=False)
        spelled = binary[kind]["payload"]
        for name, code in (("none", "0x0"), ("rt", "0x1"), ("be", "0x2"), ("idle", "0x3")):
            spelled = spelled.str.replace(f" {name},", f" {code},", literal=True)
        assert spelled.to_list() == text[kind]["payload"].to_list()
    # the sample's pid (tgid) is in perf.data even where the text left it out
    assert binary["block:block_rq_issue"]["tgid"].null_count() == 0


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf not installed")
def test_counts_equal_perf_script_run_now():
    out = subprocess.run(["perf", "script", "-i", str(PERF_DATA)], capture_output=True, text=True, timeout=120)
    _, fr = frames(PERF_DATA)
    assert {k: f.height for k, f in fr.items()} == dict(text_counts(out.stdout))


def test_pipe_mode_streamed_from_stdin_equals_its_text():
    raw = lzma.decompress(PIPE.read_bytes())
    text = lzma.decompress((FIXTURES / "perfdata" / "pipe-block.ns.txt.xz").read_bytes())
    piped = report_json("block", "-", stdin=raw)
    assert piped == report_json("block", "-", stdin=text)
    assert report_json("block", PIPE) == piped  # the .xz file itself: the same
    source, fr = frames(PIPE)
    assert {k: f.height for k, f in fr.items()} == dict(text_counts(text.decode()))


# `perf report --header-only -i fixtures/perf-block.perf.data`
HEADER = {
    "hostname": "vm", "os_release": "6.18.44-fc-v657", "perf_version": "6.1.187", "arch": "x86_64",
    "nr_cpus_online": 2, "nr_cpus_available": 2, "cpu_desc": "AMD EPYC", "cpu_id": "AuthenticAMD,26,2,1",
    "total_mem_kb": 24684092,
    "cmdline": "/usr/bin/perf record -q -a -e block:block_rq_insert -e block:block_rq_issue -e block:block_rq_complete "
               "-o /tmp/blk.perf.data -- ./workload.sh",
}


def test_info_shows_the_header_features_perf_report_shows():
    meta = report_json("info", PERF_DATA)["meta"]
    assert {k: meta[k] for k in HEADER} == HEADER
    assert meta["perf_events"] == ["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete", "dummy:HG"]
    assert meta["clock"] == "perf"


def test_fleet_labels_a_perf_data_by_its_hostname():
    source, _ = frames(PERF_DATA)
    assert hostname(source.meta) == "vm"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples not beside the repo")
@pytest.mark.parametrize(
    "name, counts",
    [
        # SOURCES.md: 539 samples (285 sched_switch), 551 in pipe mode (297), simpleperf's 31 + 14, perf 4.1's 156
        ("linuxtracepoints/perf.data", {"sched:sched_switch": 285, "total": 539}),  # attr v8 (size 152): perf 6.1 refuses it
        ("linuxtracepoints/pipe.data", {"sched:sched_switch": 297, "total": 551}),
        ("simpleperf/perf_with_tracepoint_event.data", {"sched:sched_switch": 31, "cpu-cycles": 14, "total": 45}),
        ("simpleperf/generated_by_linux_perf.data", {"cycles": 156, "total": 156}),
        ("simpleperf/perf_with_trace_offcpu.data", {"cpu-cycles": 2270, "sched:sched_switch": 99, "total": 2369}),
    ],
)
def test_shared_samples_decode_to_their_record_counts(name, counts):
    source, fr = frames(SAMPLES / name)
    got = {k: f.height for k, f in fr.items() if k in counts}
    assert {**got, "total": sum(f.height for f in fr.values())} == counts
    assert not source.skipped.count


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples not beside the repo")
def test_sched_switch_fields_equal_the_decoders_expected_json():
    # perf.data.linux.json: Microsoft's decoder output for the same file, one event a line
    lines = (SAMPLES / "linuxtracepoints" / "perf.data.linux.json").read_bytes().decode("utf-8", "replace").splitlines()
    want = [json.JSONDecoder().raw_decode(line.strip())[0] for line in lines if '"n":"sched:sched_switch"' in line]
    _, fr = frames(SAMPLES / "linuxtracepoints" / "perf.data")
    got = fr["sched:sched_switch"]
    assert got.height == len(want) == 285
    def key(cpu, tid, f):  # (their tids are unsigned: a dying task's -1 is 4294967295 there)
        return (cpu, tid & 0xFFFFFFFF, f["prev_comm"], int(str(f["prev_pid"]), 0), f["next_comm"], int(str(f["next_pid"]), 0))

    mine = [key(c, t, {kv["key"]: kv["value"] for kv in row}) for c, t, row in zip(got["cpu"], got["pid"], got["fields"])]
    theirs = [key(e["meta"]["cpu"], e["meta"]["tid"], e) for e in want]
    assert sorted(mine) == sorted(theirs)


def test_lost_samples_are_counted_per_cpu():
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples not beside the repo")
    # SOURCES.md: 11 LOST records in the simpleperf off-cpu capture; their counts sum per CPU
    out = report_json("info", SAMPLES / "simpleperf" / "perf_with_trace_offcpu.data")
    assert out["lost_events"] == sum(out["lost_by_cpu"].values()) > 0
    assert out["meta"]["throttled"] == 309  # SOURCES.md: 309 THROTTLE records


def test_a_cut_perf_data_is_one_line_with_the_offset(tmp_path):
    cut = tmp_path / "cut.perf.data"
    cut.write_bytes(PERF_DATA.read_bytes()[:300_000])
    out = run_cli("block", cut)
    err = out.stderr.decode()
    assert out.returncode == 2 and err.startswith("traceparse: ") and err.count("\n") == 1
    assert "byte" in err and "past the end" in err


def test_a_garbage_record_size_is_a_counted_skip_and_what_came_before_is_read(tmp_path):
    data = bytearray(PERF_DATA.read_bytes())
    at = 744  # the data section (perf report --header-only: data offset 744); walk 3000 record headers
    for _ in range(3000):
        at += int.from_bytes(data[at + 6 : at + 8], "little")
    data[at + 6 : at + 8] = (2).to_bytes(2, "little")
    bad = tmp_path / "bad.perf.data"
    bad.write_bytes(bytes(data))
    source, fr = frames(bad)
    assert 0 < sum(f.height for f in fr.values()) < 5356
    assert source.skipped.count == 1 and "byte" in source.skipped.describe()
    with pytest.raises(TraceParseError):  # --strict: the damage is the error
        frames(bad, strict=True)


def test_perfile2_magic_on_garbage_is_one_line(tmp_path):
    junk = tmp_path / "junk.perf.data"
    junk.write_bytes(b"PERFILE2" + bytes(range(256)) * 4)
    out = run_cli("info", junk)
    assert out.returncode == 2 and out.stderr.decode().startswith("traceparse: ") and out.stderr.count(b"\n") == 1


def test_compressed_records_are_named_not_called_damage():
    # fixtures/perfdata/zstd-block.perf.data.xz: `perf record -z` (PERF_RECORD_COMPRESSED, zstd)
    out = run_cli("info", FIXTURES / "perfdata" / "zstd-block.perf.data.xz")
    err = out.stderr.decode()
    assert out.returncode == 2 and err.startswith("traceparse: ") and err.count("\n") == 1
    assert "perf record -z" in err


def _stacks(src, **kw):
    source, fr = frames(src, **kw)
    return {k: [source.stacks.frames[i] for i in f["stack_id"].to_list()] for k, f in fr.items()}


def test_call_chains_kernel_frames_named_from_kallsyms_as_perf_script_names_them(tmp_path):
    # g-block: `perf record -g`; its text is `perf script` on the recording box; g-block.kallsyms holds
    # the lines of that box's /proc/kallsyms around each kernel frame (each symbol and the next)
    d = FIXTURES / "perfdata"
    text = _stacks(d / "g-block.txt.xz")
    kallsyms = lzma.decompress((d / "g-block.kallsyms.xz").read_bytes())
    named = _stacks(d / "g-block.perf.data.xz", kallsyms=kallsyms)
    assert named.keys() == text.keys()
    kernel = 0
    for kind in text:
        assert len(named[kind]) == len(text[kind])
        for mine, theirs in zip(named[kind], text[kind]):
            assert len(mine) == len(theirs)
            for m, t in zip(mine, theirs):
                if t.endswith("([kernel.kallsyms])"):
                    assert m == t
                    kernel += 1
                else:  # user frames: placed in their mapped file (MMAP2), named only with --symfs
                    assert m == "[unknown] " + t[t.rindex(" (") + 1:]
    assert kernel > 1000
    # without kallsyms a frame is its address, as perf script prints it before the name
    raw = lzma.decompress((d / "g-block.txt.xz").read_bytes()).decode()
    first = [line.split()[0] for line in raw.split("\n\n")[0].splitlines()[1:]]
    assert _stacks(d / "g-block.perf.data.xz")["block:block_rq_issue"][0] == tuple(first)


def test_lost_events_as_perf_report_stats_counts_them():
    # `perf report --stats -i lost-syscalls.perf.data`: SAMPLE 19568; LOST_SAMPLES 67163 + 58 (two
    # events). perf record's closing LOST_SAMPLES repeat what the LOST records said: not added twice
    out = report_json("info", FIXTURES / "perfdata" / "lost-syscalls.perf.data.xz")
    assert out["events"] == {"raw_syscalls:sys_enter": 19568}
    assert out["lost_events"] == 67163 + 58
    assert sum(out["lost_by_cpu"].values()) <= out["lost_events"] and set(out["lost_by_cpu"]) <= {"0", "1"}
