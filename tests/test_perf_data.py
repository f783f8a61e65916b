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
# PERF_DATA's tracepoint ids (perf report --header-only), by the payload's common_type
BLOCK_IDS = {0x838: "block:block_rq_issue", 0x839: "block:block_rq_insert", 0x83B: "block:block_rq_complete"}


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
    # the I/O priority too, as perf 6.1 prints it ("0x2,0,4": libtraceevent cannot read the table's
    # IOPRIO_CLASS_* names), not as the kernel's own text does ("be,0,4")
    for kind, want in text.items():
        want = want.drop("tgid", "stack_id")
        assert_frame_equal(binary[kind].select(want.columns), want, check_dtypes=False)
    assert set(binary["block:block_rq_issue"]["ioprio"].unique().to_list()) == {"0x0,0,0", "0x2,0,4"}  # none, be
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


def test_a_perf_data_cut_before_its_data_is_one_line_with_the_offset(tmp_path):
    cut = tmp_path / "cut.perf.data"
    cut.write_bytes(PERF_DATA.read_bytes()[:500])  # inside the attrs (perf report --header-only: data offset 744)
    out = run_cli("block", cut)
    err = out.stderr.decode()
    assert out.returncode == 2 and err.startswith("traceparse: ") and err.count("\n") == 1
    assert "byte" in err and "past the end" in err


def _samples_before(data: bytes, end: int) -> Counter:
    """An independent walk of the data section (perf report --header-only: data offset 744), records up
    to byte ``end``: SAMPLE (type 9) records per tracepoint id. sample_type IP|TID|TIME|CPU|PERIOD|RAW|
    IDENTIFIER puts six u64 after the header, then RAW's u32 size, whose payload starts with common_type."""
    at, kinds = 744, Counter()
    while at + 8 <= end:
        kind, size = int.from_bytes(data[at : at + 4], "little"), int.from_bytes(data[at + 6 : at + 8], "little")
        if at + size > end:
            break
        if kind == 9:
            kinds[int.from_bytes(data[at + 60 : at + 62], "little")] += 1
        at += size
    return kinds


def test_a_perf_data_cut_inside_its_data_is_read_up_to_the_cut_and_says_so(tmp_path):
    # perf itself refuses such a file: `perf script` says "incompatible file format" (perf 6.1)
    data = PERF_DATA.read_bytes()
    cut = tmp_path / "cut.perf.data"
    cut.write_bytes(data[:400_000])
    source, fr = frames(cut)
    # the names went with EVENT_DESC; perf report --header-only of the whole file: config 0x838 is
    # block_rq_issue, 0x839 block_rq_insert, 0x83b block_rq_complete
    want = _samples_before(data, 400_000)
    assert {k: f.height for k, f in fr.items()} == {f"tracepoint:{tp}": n for tp, n in want.items()}
    assert set(want) == {0x838, 0x839, 0x83B} and sum(want.values()) > 2000
    notes = source.skipped.describe()
    assert "cut at byte 400,000" in notes and "tracepoint id" in notes
    # each sample is one perf script printed, at the same time on the same CPU and thread
    names = {"block:block_rq_issue": 0x838, "block:block_rq_insert": 0x839, "block:block_rq_complete": 0x83B}
    text = frames(FIXTURES / "perf-block-ns.txt")[1]
    for kind, tp in names.items():
        mine = fr[f"tracepoint:{tp}"].select("ts_ns", "cpu", "pid", "comm")
        theirs = text[kind].select("ts_ns", "cpu", "pid", "comm")
        assert mine.join(theirs, on=["ts_ns", "cpu", "pid", "comm"], how="anti").height == 0
    out = run_cli("info", cut)
    assert out.returncode == 0 and b"cut at byte 400,000" in out.stdout + out.stderr


def test_block_on_a_perf_data_cut_inside_its_data_says_the_cut_not_record_these_events(tmp_path):
    # the cut took EVENT_DESC (the names): the block events are there but unnamed; the error says
    # where the file was cut and how many events were read (_samples_before: the record headers walked)
    data = PERF_DATA.read_bytes()
    cut = tmp_path / "cut.perf.data"
    cut.write_bytes(data[:400_000])
    n = sum(_samples_before(data, 400_000).values())
    for report in ("block", "net"):
        out = run_cli(report, cut)
        err = out.stderr.decode()
        assert out.returncode == 2 and len(err.strip().splitlines()) == 1, err
        assert "cut at byte 400,000" in err and f"{n:,} events were read before the cut" in err, err
        assert "Record them with" not in err and "tracepoint id" in err, err


def test_block_on_a_cut_pipe_without_block_events_says_the_cut():
    # pipe mode keeps the names (the tracing data comes first): the net report on a cut block
    # stream names the cut and what was read, and still says how to record its own events
    data = lzma.decompress(PIPE.read_bytes())
    out = run_cli("net", "-", stdin=data[:400_000])
    err = out.stderr.decode()
    assert out.returncode == 2 and "cut inside a record at byte 400,000" in err, err
    assert "1,100 events were read before the cut" in err and "block:block_rq_issue (472)" in err, err


def test_a_cut_pipe_is_read_up_to_the_cut_and_says_so():
    data = lzma.decompress(PIPE.read_bytes())
    out = run_cli("info", "-", "--format", "json", stdin=data[:400_000])
    assert out.returncode == 0, out.stderr.decode()
    info = json.loads(out.stdout)
    # perf script -i - --ns on the same 400,000 bytes: 472 issues and 628 completes (1,100 lines), then
    # "unexpected end of event stream"
    assert info["events"] == {"block:block_rq_issue": 472, "block:block_rq_complete": 628}
    assert "ends inside a record at byte 400,000" in (out.stdout + out.stderr).decode()
    whole = run_cli("info", "-", stdin=data)
    assert whole.returncode == 0 and b"cut" not in whole.stdout + whole.stderr


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


def _record_offsets(data: bytes) -> list[int]:
    """The data section's record offsets (perf report --header-only: data offset 744, size 725,944),
    walked by their headers' u16 sizes."""
    at, out = 744, []
    while at < 744 + 725_944:
        out.append(at)
        at += int.from_bytes(data[at + 6 : at + 8], "little")
    return out


def test_damaged_records_are_counted_and_skipped_and_the_rest_is_read(tmp_path):
    # one record's header given a broken size (the reader resynchronises on the next record), and
    # another sample's RAW size made to claim past its record (its contents do not parse): both
    # are skipped and counted; every other sample reads as perf script reads the original
    data = bytearray(PERF_DATA.read_bytes())
    recs = [at for at in _record_offsets(bytes(data)) if int.from_bytes(data[at : at + 4], "little") == 9]  # samples
    hit = Counter()
    for at, how in ((recs[1000], "size"), (recs[3000], "raw")):
        # the payload's common_type, at byte 60 of these 128-byte samples (perf report -D: RAW size at 56)
        hit[BLOCK_IDS[int.from_bytes(data[at + 60 : at + 62], "little")]] += 1
        if how == "size":
            data[at + 6 : at + 8] = (100).to_bytes(2, "little")
        else:
            assert int.from_bytes(data[at + 56 : at + 60], "little") == 68
            data[at + 56 : at + 60] = (5000).to_bytes(4, "little")
    bad = tmp_path / "bad.perf.data"
    bad.write_bytes(bytes(data))
    source, fr = frames(bad)
    want = text_counts((FIXTURES / "perf-block.txt").read_text())  # perf script of the original
    want.subtract(hit)
    assert {k: f.height for k, f in fr.items()} == {k: n for k, n in want.items() if n}
    notes = source.skipped.describe()
    assert source.skipped.count == 2, notes
    assert f"first at byte {recs[1000]:,}: a record size of 100" in notes and "128 bytes" in notes, notes
    out = run_cli("block", bad, "--format", "json")
    assert out.returncode == 0 and b"damaged stretch of records" in out.stdout + out.stderr


@pytest.mark.parametrize("claim", [1 << 44, 1 << 27])
def test_an_auxtrace_record_claiming_more_data_than_can_be_is_a_counted_skip_not_an_abort(tmp_path, claim):
    # the crate sizes its buffer by an AUXTRACE record's claimed data before reading it: 14 TB
    # aborted the process (cargo fuzz found it); past the section's end, or the bound of what is
    # passed over (64 MB), the record is a damaged stretch like any broken header
    data = bytearray(PERF_DATA.read_bytes())
    at = [a for a in _record_offsets(bytes(data)) if int.from_bytes(data[a : a + 4], "little") == 9][1000]
    lost = BLOCK_IDS[int.from_bytes(data[at + 60 : at + 62], "little")]
    data[at : at + 4] = (71).to_bytes(4, "little")  # PERF_RECORD_AUXTRACE, its data's size the body's first u64
    data[at + 8 : at + 16] = claim.to_bytes(8, "little")
    bad = tmp_path / "aux.perf.data"
    bad.write_bytes(bytes(data))
    want = text_counts((FIXTURES / "perf-block.txt").read_text())
    want[lost] -= 1
    for args in ((bad,), ("-",)):
        out = run_cli("info", *args, "--format", "json", stdin=bytes(data) if args == ("-",) else None)
        assert out.returncode == 0, out.stderr.decode()
        assert json.loads(out.stdout)["events"] == dict(want)
        assert b"an AUXTRACE record of" in out.stdout + out.stderr

def test_a_damaged_record_in_a_pipe_stream_is_skipped_and_the_stream_read_on():
    # the pipe's records walked from byte 16 (the tracing data follows its HEADER_TRACING_DATA
    # record, its length in the record's first u32); the 501st sample's size made 3
    data = bytearray(lzma.decompress(PIPE.read_bytes()))
    at, samples = 16, []
    while at + 8 <= len(data):
        kind, size = int.from_bytes(data[at : at + 4], "little"), int.from_bytes(data[at + 6 : at + 8], "little")
        samples += [at] if kind == 9 else []
        at += size + (int.from_bytes(data[at + 8 : at + 12], "little") if kind == 66 else 0)
    at = samples[500]
    names = {0x838: "block:block_rq_issue", 0x83B: "block:block_rq_complete"}  # perf report --header-only
    lost = names[int.from_bytes(data[at + 60 : at + 62], "little")]
    data[at + 6 : at + 8] = (3).to_bytes(2, "little")
    out = run_cli("info", "-", "--format", "json", stdin=bytes(data))
    assert out.returncode == 0, out.stderr.decode()
    want = text_counts(lzma.decompress((FIXTURES / "perfdata" / "pipe-block.ns.txt.xz").read_bytes()).decode())
    want[lost] -= 1
    assert json.loads(out.stdout)["events"] == dict(want)
    assert b"damaged stretch of records" in out.stdout + out.stderr


def test_perfile2_magic_on_garbage_is_one_line(tmp_path):
    junk = tmp_path / "junk.perf.data"
    junk.write_bytes(b"PERFILE2" + bytes(range(256)) * 4)
    out = run_cli("info", junk)
    assert out.returncode == 2 and out.stderr.decode().startswith("traceparse: ") and out.stderr.count(b"\n") == 1


@pytest.mark.parametrize("name", ["zstd-block", "zstd-pipe"])
def test_compressed_records_read_equal_perf_scripts_text(name):
    # `perf record -z` (PERF_RECORD_COMPRESSED, zstd), file mode and pipe mode (stdin)
    data = FIXTURES / "perfdata" / f"{name}.perf.data.xz"
    text = FIXTURES / "perfdata" / f"{name}.ns.txt.xz"
    source, binary = frames(data)
    _same_frames(binary, frames(text)[1])
    assert not source.skipped.count
    piped = report_json("block", "-", stdin=lzma.decompress(data.read_bytes()))
    assert piped == report_json("block", text)


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


EVENTS = FIXTURES / "events" / "events.perf.data.xz"
EVENTS_NS = FIXTURES / "events" / "events.perf.ns.txt.xz"  # perf script --ns -i events.perf.data


def test_any_event_frames_equal_perf_scripts_text_field_for_field():
    # sched_switch's prev_state (S, R+, D: an expression over __print_flags), sched_wakeup's %03d
    # target_cpu, softirq's [action=SCHED], irq_handler_exit's handled, syscalls' "fd: 0x%08lx",
    # raw_syscalls' "NR 12 (0, c, ...)": every field as perf script prints it
    _, binary = frames(EVENTS)
    _, text = frames(EVENTS_NS)
    assert {k: f.height for k, f in binary.items()} == {k: f.height for k, f in text.items()}
    assert len(text) == 19
    for kind, want in text.items():
        want = want.drop("tgid", "stack_id")
        assert_frame_equal(binary[kind].select(want.columns), want, check_dtypes=False)
    states = set(binary["sched:sched_switch"]["payload"].str.extract(r"prev_state=(\S+)").to_list())
    assert {"R", "S"} <= states and not any(s.isdigit() for s in states)


@pytest.mark.parametrize("report", ["syscalls", "sched", "irq", "futex", "net"])
def test_any_event_reports_on_perf_data_equal_them_on_perf_scripts_text(report):
    assert report_json(report, EVENTS) == report_json(report, EVENTS_NS)


def test_count_by_a_rendered_field_equals_perf_scripts():
    args = ("count", "--by", "prev_state")
    assert report_json(*args, EVENTS) == report_json(*args, EVENTS_NS)


NET = FIXTURES / "perfdata" / "net-tcp.perf.data.xz"
FUNC = FIXTURES / "perfdata" / "func.perf.data.xz"


def _same_frames(binary: dict, text: dict) -> None:
    assert {k: f.height for k, f in binary.items()} == {k: f.height for k, f in text.items()}
    for kind, want in text.items():
        want = want.drop("tgid", "stack_id")
        assert_frame_equal(binary[kind].select(want.columns), want, check_dtypes=False)


def test_net_frames_equal_perf_scripts_text_addresses_and_locations_included():
    # inet_sock_set_state prints saddr=%pI4 saddrv6=%pI6c ("::ffff:127.0.0.1"); kfree_skb's
    # location=%pS is named by perf from the recording box's kallsyms, here by the lines given
    kallsyms = lzma.decompress((FIXTURES / "perfdata" / "net-tcp.kallsyms.xz").read_bytes())
    _, binary = frames(NET, kallsyms=kallsyms)
    _, text = frames(FIXTURES / "perfdata" / "net-tcp.ns.txt.xz")
    _same_frames(binary, text)
    assert "saddrv6=::ffff:127.0.0.1 " in binary["sock:inet_sock_set_state"]["payload"][0]
    # without a kallsyms the location stays the address perf would have named
    _, bare = frames(NET)
    assert bare["skb:kfree_skb"]["payload"].str.contains("location=0xffffffff").all()


def test_uprobe_pair_frames_and_funclatency_equal_perf_scripts_text():
    _, binary = frames(FUNC)
    text_path = FIXTURES / "perfdata" / "func.ns.txt.xz"
    _, text = frames(text_path)
    _same_frames(binary, text)
    assert {k: f.height for k, f in binary.items()} == {"probe_tpfunc:work": 200, "probe_tpfunc:work__return": 200}
    assert report_json("funclatency", FUNC, "--func", "work") == report_json("funclatency", text_path, "--func", "work")


def test_block_with_call_chains_report_equals_perf_scripts_text():
    g = FIXTURES / "perfdata" / "g-block.perf.data.xz"
    text = FIXTURES / "perfdata" / "g-block.ns.txt.xz"
    assert report_json("block", g) == report_json("block", text)
    _, binary = frames(g)
    _same_frames(binary, frames(text)[1])


def _big_endian(path, tmp_path):
    from be_convert import to_big_endian

    data = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
    out = tmp_path / (path.name.removesuffix(".xz") + ".be")
    out.write_bytes(to_big_endian(data))
    return out


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf not installed")
def test_the_big_endian_rewrite_is_one_perf_reads_as_the_original(tmp_path):
    # perf reads files of the other byte order (it swaps them as it reads): its text of the rewritten
    # file is byte for byte its text of the original, so the rewrite is a faithful big-endian file
    be = _big_endian(PERF_DATA, tmp_path)
    assert be.read_bytes()[:8] == b"2ELIFREP"
    out = subprocess.run(["perf", "script", "-f", "--ns", "-i", str(be)], capture_output=True, timeout=120)
    assert out.stdout == (FIXTURES / "perf-block-ns.txt").read_bytes()


def test_a_big_endian_perf_data_reads_as_its_little_endian_original(tmp_path):
    be = _big_endian(PERF_DATA, tmp_path)
    source, binary = frames(be)
    assert source.meta["endianness"] == "big" and not source.skipped.count
    _same_frames(binary, frames(FIXTURES / "perf-block-ns.txt")[1])
    assert report_json("block", be) == report_json("block", FIXTURES / "perf-block-ns.txt")


def test_a_big_endian_attrs_bitfields_are_read_in_their_own_order(tmp_path):
    # `perf record -k monotonic`: use_clockid is a bit of the attr's bitfield word, which a
    # big-endian perf allocates from the other end (perf report --header-only: use_clockid = 1)
    mono = FIXTURES / "perfdata" / "mono-block.perf.data.xz"
    be = _big_endian(mono, tmp_path)
    assert report_json("info", mono)["meta"]["clock"] == "monotonic"
    info = report_json("info", be)
    assert info["meta"]["clock"] == "monotonic" and info["meta"]["endianness"] == "big"
    assert info["events"] == {"block:block_rq_issue": 43, "block:block_rq_complete": 43}


@pytest.mark.parametrize("path", [PERF_DATA, FIXTURES / "perfdata" / "g-block.perf.data.xz", PIPE])
def test_the_block_lane_holds_what_the_frames_hold(path):
    # the block report reads perf.data block requests as the lane (the scanner gathers it); the
    # same requests made from the frames by the report's own columns() must be the same, row for row
    import numpy as np
    import polars as pl
    from traceparse.reports.block_pairing import KINDS, Strings, columns

    def rows(cols, values):
        out = {k: np.frombuffer(cols[k], t) for k, t in (("kind", np.uint8), ("devnum", np.uint64), ("sector", np.uint64),
               ("ts", np.int64), ("pid", np.int32), ("nr", np.uint32), ("bytes", np.uint64), ("nulls", np.uint8))}
        for k in ("dev", "comm", "rwbs"):
            out[k] = [values[c] for c in np.frombuffer(cols[k], np.uint32).tolist()]
        return pl.DataFrame(out).sort("kind", "ts", "sector", maintain_order=True)

    _, fr = frames(path, payload=False, stacks=False)
    strings = Strings()
    want = rows(columns(fr, strings), strings.values)
    source, chunks = __import__("traceparse.parsers.reader", fromlist=["x"]).read_capture(path, payload=False, stacks=False, block_lane=True)
    lanes = [c for c in chunks if c.block_lane is not None]
    assert lanes and not any(k in c.frames for c in lanes for k, _ in KINDS)
    got = pl.concat([rows(c.block_lane.cols, c.block_lane.strings.values) for c in lanes]).sort("kind", "ts", "sector", maintain_order=True)
    assert_frame_equal(got, want)
    assert set(source.events) == set(fr) and all(source.events[k] == f.height for k, f in fr.items())


def test_a_big_endian_pipe_reads_as_its_little_endian_original():
    # tests/be_convert.py's pipe rewrite swaps each record with the file-mode swappers perf vouched
    # for above (perf 6.1 itself fails on a big-endian stream: "Can't parse sample, err = -14")
    from be_convert import pipe_to_big_endian

    be = pipe_to_big_endian(lzma.decompress(PIPE.read_bytes()))
    text = FIXTURES / "perfdata" / "pipe-block.ns.txt.xz"
    assert report_json("block", "-", stdin=be) == report_json("block", text)
    mono = pipe_to_big_endian(lzma.decompress((FIXTURES / "perfdata" / "mono-pipe.perf.data.xz").read_bytes()))
    info = report_json("info", "-", stdin=mono)
    assert info["meta"]["clock"] == "monotonic" and info["meta"]["endianness"] == "big"
    assert info["events"] == {"block:block_rq_issue": 39}
