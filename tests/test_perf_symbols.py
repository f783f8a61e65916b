"""A perf.data's call-chain frames named as `perf script` names them (parsers/symbols.py, maps.rs, elf_syms.rs).

Oracle: `perf script` of the same recordings, run with the same symbol sources (`--kallsyms`,
`--symfs`, `--buildid-dir`) and the binaries moved away from their paths, so perf read only what the
test gives traceparse (fixtures/perfdata/sym/README.md says how each file was made). The frames are
compared sample by sample, each frame less its address: perf prints `ADDR sym+0xoff (dso)`,
traceparse interns `sym+0xoff (dso)`.
"""
from __future__ import annotations

import lzma
import re
import shutil
import tarfile

import numpy as np
import pytest
from conftest import FIXTURES, read_frames, run_cli
from traceparse.parsers.errors import TraceParseError
from traceparse.parsers.symbols import KernelSymbols, SymbolOptions

SYM = FIXTURES / "perfdata" / "sym"
NOLIBC = "/tmp/sym/app-nolibc"
NOLIBC_ID = "25db88f828e22dd520998316d4712c26863ced36"  # readelf -n of the recorded build
OTHER_ID = "4399608465d3ad80a63afc8f3dc2ec19c403e313"  # of src/nolibc-other.c's build


def perf_script_stacks(name: str, text: str | None = None) -> dict[str, list[tuple[str, ...]]]:
    """{event: [frames of each sample, leaf first]} of a saved `perf script` text (or of ``text``)."""
    if text is None:
        text = lzma.decompress((SYM / name).read_bytes()).decode()
    out: dict[str, list[tuple[str, ...]]] = {}
    for block in text.strip("\n").split("\n\n"):
        head, *lines = block.splitlines()
        kind = re.search(r"\d+\.\d+:\s+(?:\d+\s+)?(\S+):", head).group(1)
        out.setdefault(kind, []).append(tuple(re.sub(r"^\s*[0-9a-f]+ ", "", line) for line in lines))
    return out


def our_stacks(data: str, **symbols) -> tuple[dict[str, list[tuple[str, ...]]], list[str]]:
    source, fr = read_frames(SYM / data, symbols=SymbolOptions(**symbols))
    stacks = {k: [source.stacks.frames[i] for i in f["stack_id"].to_list()] for k, f in fr.items()}
    return stacks, source.meta.get("symbol_warnings", [])


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """The two symfs roots (the recorded builds; another build of app-nolibc) and the kallsyms file."""
    d = tmp_path_factory.mktemp("sym")
    for name in ("symfs", "symfs-other"):
        with tarfile.open(SYM / f"{name}.tar.xz") as t:
            t.extractall(d / name, filter="data")
    (d / "kallsyms").write_bytes(lzma.decompress((SYM / "sym.kallsyms.xz").read_bytes()))
    return d


def test_pie_non_pie_stripped_and_shared_library_frames_equal_perf_script(roots):
    # sym.perf.data: a shell running app-pie, app-nopie (both with .symtab, calling libtpwork.so) and
    # app-stripped (its .dynsym has no function of its own); libc and ld.so are not in the symfs
    mine, warnings = our_stacks("sym.perf.data.xz", kallsyms=roots / "kallsyms", symfs=roots / "symfs")
    theirs = perf_script_stacks("sym.script.txt.xz")
    assert warnings == []
    assert mine.keys() == theirs.keys() == {"raw_syscalls:sys_enter", "sched:sched_switch"}
    for kind in theirs:
        assert len(mine[kind]) == len(theirs[kind])
        assert mine[kind] == theirs[kind]
    frames = [f for kind in theirs for chain in theirs[kind] for f in chain]
    # each case is there, so each rule was checked (counts from grep on the perf script text)
    assert sum(f.startswith("main+") and f.endswith("(/tmp/sym/app-pie)") for f in frames) == 200
    assert sum(f.startswith("main+") and f.endswith("(/tmp/sym/app-nopie)") for f in frames) == 200
    assert sum(f == "tp_lib_mid+0x9 (/tmp/sym/libtpwork.so)" for f in frames) == 316
    assert sum(f == "[unknown] (/tmp/sym/app-stripped)" for f in frames) == 354
    assert sum(f == "[unknown] ([unknown])" for f in frames) == 254
    assert sum(f.endswith("(/usr/lib/x86_64-linux-gnu/libc.so.6)") for f in frames) > 1000
    assert sum(f.endswith("([kernel.kallsyms])") and not f.startswith("[unknown]") for f in frames) > 3000


def test_cpp_frames_are_demangled_as_perf_prints_them(roots):
    # app-cxx: tp::run(int, int) and tp::run(int, long) print alike, without parameter lists
    mine, warnings = our_stacks("cxx.perf.data.xz", kallsyms=roots / "kallsyms", symfs=roots / "symfs")
    theirs = perf_script_stacks("cxx.script.txt.xz")
    assert warnings == [] and mine == theirs
    frames = [f for chain in theirs["raw_syscalls:sys_enter"] for f in chain]
    assert sum(f.startswith("tp::run+") for f in frames) == 90


def test_a_binary_of_another_build_is_one_warning_and_its_frames_stay_unknown(roots):
    # mmapid.perf.data: perf record --buildid-mmap (the MMAP2 records carry the build ids)
    mine, warnings = our_stacks("mmapid.perf.data.xz", kallsyms=roots / "kallsyms", symfs=roots / "symfs")
    assert warnings == [] and mine == perf_script_stacks("mmapid.script.txt.xz")
    assert any(f.startswith("nl_outer+") for chain in mine["raw_syscalls:sys_enter"] for f in chain)
    mine, warnings = our_stacks("mmapid.perf.data.xz", kallsyms=roots / "kallsyms", symfs=roots / "symfs-other")
    assert mine == perf_script_stacks("mmapid.other-build.script.txt.xz")
    assert len(warnings) == 1 and NOLIBC in warnings[0] and NOLIBC_ID in warnings[0] and OTHER_ID in warnings[0]
    assert not any(f.startswith("nl_") for chain in mine["raw_syscalls:sys_enter"] for f in chain)


def test_the_header_build_ids_are_checked_too(roots):
    # arch.perf.data: no build ids in its MMAP2 records; HEADER_BUILD_ID lists app-nolibc (its samples hit it)
    mine, warnings = our_stacks("arch.perf.data.xz", kallsyms=roots / "kallsyms", symfs=roots / "symfs-other")
    assert mine == perf_script_stacks("arch.other-build.script.txt.xz")
    assert len(warnings) == 1 and NOLIBC_ID in warnings[0] and OTHER_ID in warnings[0]


def test_perf_archive_tarball_names_kernel_and_user_frames_alone(tmp_path):
    # perf archive's perf.data.tar.bz2: [kernel.kallsyms]/ID/kallsyms and tmp/sym/app-nolibc/ID/elf
    theirs = perf_script_stacks("arch.archive.script.txt.xz")
    mine, warnings = our_stacks("arch.perf.data.xz", buildid_dir=SYM / "arch.perf.data.tar.bz2")
    assert warnings == [] and mine == theirs
    assert any(f.startswith("nl_spin+") for chain in mine["cpu-clock"] for f in chain)
    # untarred into a build-id directory (perf's advice: tar xf ... -C ~/.debug): the same
    with tarfile.open(SYM / "arch.perf.data.tar.bz2") as t:
        t.extractall(tmp_path, filter="fully_trusted")  # its .build-id links point inside it
    mine, _ = our_stacks("arch.perf.data.xz", buildid_dir=tmp_path)
    assert mine == theirs


def test_folded_output_of_the_cli_equals_perf_scripts_frames_folded(roots, tmp_path):
    # the folded stacks of the perf.data equal those folded from perf script's text of it
    text = tmp_path / "sym.script.txt"
    text.write_bytes(lzma.decompress((SYM / "sym.script.txt.xz").read_bytes()))
    data = tmp_path / "sym.perf.data"
    data.write_bytes(lzma.decompress((SYM / "sym.perf.data.xz").read_bytes()))
    for event in ("raw_syscalls:sys_enter", "sched:sched_switch"):
        ours = run_cli("stacks", data, "--kallsyms", roots / "kallsyms", "--symfs", roots / "symfs", "-e", event, "--folded")
        perfs = run_cli("stacks", text, "-e", event, "--folded")
        assert ours.returncode == 0 and perfs.returncode == 0, ours.stderr
        assert ours.stdout == perfs.stdout and ours.stdout.count(b"\n") > 10
        assert ours.stderr == b""


def test_cli_warns_on_stderr_once_and_bad_sources_are_one_line(roots):
    out = run_cli("stacks", SYM / "mmapid.perf.data.xz", "--symfs", roots / "symfs-other", "--folded")
    err = out.stderr.decode()
    assert out.returncode == 0 and err.count("\n") == 1 and err.startswith("traceparse: warning: /tmp/sym/app-nolibc")
    for opt, bad in (("--symfs", "/nonexistent/root"), ("--kallsyms", "/nonexistent/kallsyms"), ("--buildid-dir", "/nonexistent")):
        out = run_cli("stacks", SYM / "mmapid.perf.data.xz", opt, bad)
        err = out.stderr.decode()
        assert out.returncode == 2 and err.count("\n") == 1 and opt in err and "Traceback" not in err


def test_a_file_that_is_no_tarball_nor_directory_is_an_error(tmp_path):
    junk = tmp_path / "junk.tar.bz2"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(TraceParseError, match="--buildid-dir"):
        our_stacks("arch.perf.data.xz", buildid_dir=junk)


def test_kallsyms_aliases_and_ends_as_perf_reads_them():
    # kallsyms has no sizes: perf keeps the last alias at an address (the only one that reaches past
    # it); rodata (r) and absolute (A) symbols are not functions; the last symbol ends a page later
    k = KernelSymbols.parse(
        b"ffffffff8135ff10 t __do_sys_vfork\n"
        b"ffffffff8135ff10 T __ia32_sys_vfork\n"
        b"ffffffff8135ff10 T __x64_sys_vfork\n"
        b"ffffffff8135ff80 r some_table\n"
        b"ffffffff81360000 T next_func\n"
        b"0000000000000000 A fixed_percpu_data\n"
    )
    names = k.names_of(np.array([0xFFFFFFFF8135FF76, 0xFFFFFFFF8135FF90, 0xFFFFFFFF81360FFF,
                                                  0xFFFFFFFF81361000, 0xFFFFFFFF81362000, 0x10], dtype="uint64"))
    assert names == ["__x64_sys_vfork+0x66 ([kernel.kallsyms])", "__x64_sys_vfork+0x80 ([kernel.kallsyms])",
                     "next_func+0xfff ([kernel.kallsyms])", "[unknown] ([kernel.kallsyms])",
                     "[unknown] ([kernel.kallsyms])", "[unknown] ([kernel.kallsyms])"]


def test_perf_itself_agrees_when_it_is_installed(roots, tmp_path):
    # the saved oracle is perf script's own output: rerun it where perf is here, on the same inputs
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    import subprocess

    data = tmp_path / "mmapid.perf.data"
    data.write_bytes(lzma.decompress((SYM / "mmapid.perf.data.xz").read_bytes()))
    run = subprocess.run(["perf", "script", "-i", data, "--kallsyms", roots / "kallsyms", "--symfs", roots / "symfs-other"],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        pytest.skip(f"perf script failed here: {run.stderr[:200]}")
    saved = lzma.decompress((SYM / "mmapid.other-build.script.txt.xz").read_bytes()).decode()
    assert run.stdout == saved


def test_this_machines_libc_and_ld_so_named_as_perf_names_them(roots, tmp_path):
    # --symfs /: traceparse and perf read the same local files (libc.so.6, ld.so and their detached
    # debug files under /usr/lib/debug, whose .symtab holds aliases such as glibc's six names of write)
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")
    import subprocess

    data = tmp_path / "sym.perf.data"
    data.write_bytes(lzma.decompress((SYM / "sym.perf.data.xz").read_bytes()))
    run = subprocess.run(["perf", "script", "-i", data, "--kallsyms", roots / "kallsyms", "--symfs", "/"],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        pytest.skip(f"perf script failed here: {run.stderr[:200]}")
    theirs = perf_script_stacks("", run.stdout)
    source, fr = read_frames(data, symbols=SymbolOptions(kallsyms=roots / "kallsyms", symfs="/"))
    mine = {k: [source.stacks.frames[i] for i in f["stack_id"].to_list()] for k, f in fr.items()}
    assert mine == theirs
    libc = [f for k in theirs for c in theirs[k] for f in c if f.endswith("libc.so.6)")]
    assert len(libc) > 1000


def test_export_writes_the_named_frames_and_the_warning(roots, tmp_path):
    import polars as pl

    out = run_cli("export", SYM / "mmapid.perf.data.xz", "-o", tmp_path / "ok", "--symfs", roots / "symfs",
                  "--kallsyms", roots / "kallsyms")
    assert out.returncode == 0, out.stderr
    frames = pl.read_parquet(next((tmp_path / "ok").rglob("stacks.parquet")))["frames"].explode().to_list()
    theirs = {f for chains in perf_script_stacks("mmapid.script.txt.xz").values() for c in chains for f in c}
    assert set(frames) == theirs and any(f.startswith("nl_outer+") for f in frames)
    out = run_cli("export", SYM / "mmapid.perf.data.xz", "-o", tmp_path / "other", "--symfs", roots / "symfs-other")
    assert out.returncode == 0 and out.stderr.decode().count("warning:") == 1 and OTHER_ID in out.stderr.decode()


@pytest.mark.parametrize("binary", ["app-pie", "app-nopie", "libtpwork.so"])
def test_plt_stubs_are_named_as_objdump_labels_them(roots, binary):
    # perf names a frame in a PLT stub `write@plt+0x0`; objdump -d labels the stubs the same way
    if shutil.which("objdump") is None:
        pytest.skip("objdump is not installed")
    import subprocess

    from traceparse.parsers._native import ElfSymbols

    path = roots / "symfs" / "tmp" / "sym" / binary
    dump = subprocess.run(["objdump", "-d", "-j", ".plt", path], capture_output=True, text=True, check=True).stdout
    labels = {int(a, 16): name for a, name in re.findall(r"^([0-9a-f]+) <(\S+@plt)>:", dump, re.M)}
    assert len(labels) >= 2
    base = 0x400000 if binary == "app-nopie" else 0  # a non-PIE's text is linked at 0x400000 + its file offset
    names = ElfSymbols(path.read_bytes()).lookup(np.array([a - base for a in labels], dtype=np.uint64).tobytes())
    assert [(n, 0) for n in labels.values()] == names
