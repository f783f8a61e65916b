"""Seeds for the native core's cargo-fuzz targets, from the real fixtures.

    python fuzz/native_seeds.py text /tmp/fz-text        # then, in parsers/native:
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O text /tmp/fz-text -- -max_len=4096 -max_total_time=3600

Each target reads its input in its own encoding (its fuzz_targets/NAME.rs says how): `text` a
flags byte (dialect, stacks, lane, chunk size) and then lines; `perf_data` a perf.data's bytes;
`ring_buffer` a layout byte and then ring-buffer pages; `elf_syms` an ELF binary. The pairing,
recording and fields targets start from nothing as well as they would from seeds.
"""
from __future__ import annotations

import lzma
import shutil
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FTRACE = ("tracefs-", "blk.report")  # the fixtures in ftrace's dialect; the rest are perf script's


def _read(p: Path) -> bytes:
    return lzma.open(p).read() if p.suffix == ".xz" else p.read_bytes()


def text(out: Path) -> None:
    paths = [*FIXTURES.glob("perf-block*.txt*"), *FIXTURES.glob("tracefs-*.txt.xz"),
             *FIXTURES.glob("blk.report*.txt.xz"), *FIXTURES.glob("perfdata/*.txt.xz")]
    for p in paths:
        head = b"".join(_read(p).splitlines(keepends=True)[:150])
        dialect = 4 if p.name.startswith(FTRACE) else 0
        # flags: bit 0 no stacks, bit 1 the lane, bit 3 a cut line first, bits 4-7 lines per chunk - 1
        for flags in (0x00, 0x03, 0x13, 0x21, 0x09):
            (out / f"{p.name}-{flags | dialect:02x}").write_bytes(bytes([flags | dialect]) + head)


def perf_data(out: Path) -> None:
    data = (FIXTURES / "perf-block.perf.data").read_bytes()
    for cut in (3000, 20000, 60000):  # the header, the attrs and tracing data, then the first records
        (out / f"perf-block-{cut}").write_bytes(data[:cut])


def ring_buffer(out: Path) -> None:
    data = _read(FIXTURES / "blk.v7-nocompress.dat.xz")
    for i, how in enumerate((0, 1, 6, 7, 8, 14)):  # commit size, page size, byte order
        at = (len(data) - 4096 * (i + 2)) // 4096 * 4096  # pages near the end, inside the CPU data
        (out / f"pages-{how:02x}").write_bytes(bytes([how]) + data[at : at + 2048])


def elf_syms(out: Path) -> None:
    # the machine's own small ELF binaries (a corpus is never committed): whole, and their headers
    for name in ("true", "env", "sleep"):
        path = shutil.which(name)
        if path:
            data = Path(path).read_bytes()
            (out / name).write_bytes(data)
            (out / f"{name}-head").write_bytes(data[:4096])


SEEDS = {"text": text, "perf_data": perf_data, "ring_buffer": ring_buffer, "elf_syms": elf_syms}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in SEEDS:
        sys.exit(f"usage: native_seeds.py {{{','.join(SEEDS)}}} OUT_DIR")
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    SEEDS[sys.argv[1]](out)
