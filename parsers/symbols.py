"""Names of a perf.data's call-chain frames, from the files perf itself would read.

    traceparse stacks perf.data --kallsyms kallsyms.txt --symfs /srv/box-root
    traceparse stacks perf.data --buildid-dir perf.data.tar.bz2       # what `perf archive` wrote

The options are perf's own (``perf report --kallsyms --symfs``, ``perf --buildid-dir``), so a perf
user's habits carry over:

- ``--kallsyms FILE``: the recording box's /proc/kallsyms; names kernel frames.
- ``--symfs DIR``: a copy of the box's root (binaries at their paths, ``DIR/usr/bin/dd``); debug
  files under it are preferred where they are (``DIR/usr/lib/debug/.build-id/xx/rest.debug``, then
  ``DIR/usr/lib/debug/PATH`` and ``PATH.debug``), as perf prefers them: they keep the local symbols
  a packaged binary was stripped of.
- ``--buildid-dir DIR|TARBALL``: a build-id cache (perf's ``~/.debug`` layout: ``PATH/BUILDID/elf``,
  ``[kernel.kallsyms]/BUILDID/kallsyms``, ``.build-id/xx/rest`` links), or ``perf archive``'s
  ``perf.data.tar.bz2`` read as it is: the tarball holds that same layout (perf's advice is to
  untar it into ~/.debug; there is no need to). Files are found by the build ids the perf.data
  lists, so only the right build is ever used; the kernel's kallsyms comes from here when
  ``--kallsyms`` is not given.

The perf.data's build ids (HEADER_BUILD_ID, MMAP2 records of ``perf record --buildid-mmap``) are
checked against each binary found: a different build is one warning naming the file and both ids,
and that file's frames stay ``[unknown] (PATH)``: never a wrong name. A frame is printed as perf
script prints it less the address: ``sym+0xoff (PATH)``, ``[unknown] (PATH)`` where the binary is
missing or has no symbol there, ``[unknown] ([unknown])`` outside every mapping. Without any of the
three options frames stay their hex addresses.

The symbol tables are read by the native core (``_native.ElfSymbols``, over the ``object`` crate);
this module only finds files, once per binary, and names each distinct frame once.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .errors import TraceParseError

KERNEL = 0xFFFFFFFF  # maps.rs: a kernel frame
NO_MAP = 0xFFFFFFFE  # a user frame outside every mapping
KERNEL_DSO = "[kernel.kallsyms]"


@dataclass(frozen=True)
class SymbolOptions:
    """Where frame names come from; every field optional (see the module's docstring)."""

    kallsyms: str | os.PathLike | bytes | None = None  # a path, or the file's bytes
    symfs: str | os.PathLike | None = None
    buildid_dir: str | os.PathLike | None = None

    def __post_init__(self):
        for name, what in (("symfs", "a directory"), ("buildid_dir", "a directory or perf archive's tarball")):
            p = getattr(self, name)
            if p is not None and not os.path.exists(p):
                raise TraceParseError(f"--{name.replace('_', '-')} {p}: no such file or directory (give {what})")
        if self.symfs is not None and not os.path.isdir(self.symfs):
            raise TraceParseError(f"--symfs {self.symfs}: not a directory (give the root the binaries are under)")
        if isinstance(self.kallsyms, (str, os.PathLike)) and not os.path.isfile(self.kallsyms):
            raise TraceParseError(f"--kallsyms {self.kallsyms}: no such file (give a copy of /proc/kallsyms)")

    @property
    def any(self) -> bool:
        return self.kallsyms is not None or self.symfs is not None or self.buildid_dir is not None


def hex_id(b: bytes | None) -> str | None:
    """A build id as perf prints it; perf pads ids to 20 bytes with zeros in HEADER_BUILD_ID."""
    if not b:
        return None
    return b.hex()


def same_build(recorded: str, found: str | None) -> bool:
    """The recording's id (maybe zero-padded to 20 bytes) names the file's id."""
    if found is None:
        return False
    return recorded == found or (recorded.startswith(found) and set(recorded[len(found):]) <= {"0"})


class BuildIdStore:
    """A build-id cache: a directory in ~/.debug's layout, or perf archive's tarball of one."""

    def __init__(self, path: str | os.PathLike):
        import tarfile  # (here: only --buildid-dir needs it, and every perf.data run imports this module)

        self.path = str(path)
        self.tar: tarfile.TarFile | None = None
        self.members: dict[str, tarfile.TarInfo] = {}
        if os.path.isfile(self.path):
            try:
                self.tar = tarfile.open(self.path, "r:*")
                # tar -C dir names members ".build-id/..."; a tarball made from "." names them "./.build-id/..."
                self.members = {(m.name[2:] if m.name.startswith("./") else m.name): m for m in self.tar.getmembers()}
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise TraceParseError(f"--buildid-dir {self.path}: not a build-id directory nor a readable tarball ({exc})") from None

    def read(self, rel: str, depth: int = 0) -> bytes | None:
        """The file at ``rel`` inside the store (links followed inside it), or None."""
        rel = posixpath.normpath(rel.lstrip("/"))
        if self.tar is None:
            full = Path(self.path, rel)
            try:
                return full.read_bytes() if full.is_file() else None
            except OSError:
                return None
        m = self.members.get(rel)
        if m is None or depth > 8:
            return None
        if m.issym() or m.islnk():
            target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(rel), m.linkname)
            return self.read(target, depth + 1)
        if not m.isfile():
            return None
        import tarfile

        try:
            f = self.tar.extractfile(m)
            return f.read() if f is not None else None
        except (tarfile.TarError, OSError, EOFError):  # a damaged member: that file is missing
            return None

    def _link_dir(self, bid: str) -> str | None:
        """Where ``.build-id/xx/rest`` points (a directory ``PATH/BUILDID``), inside the store."""
        rel = f".build-id/{bid[:2]}/{bid[2:]}"
        if self.tar is None:
            p = Path(self.path, rel)
            if p.is_symlink() or p.is_dir():
                real = os.path.realpath(p)
                root = os.path.realpath(self.path)
                return os.path.relpath(real, root) if real.startswith(root + os.sep) else None
            return None
        m = self.members.get(rel)
        if m is not None and m.issym():
            return posixpath.normpath(posixpath.join(posixpath.dirname(rel), m.linkname))
        return None

    def file(self, path: str, bid: str, names: tuple[str, ...]) -> tuple[bytes, str] | None:
        """The first of ``names`` in the entry of (path, build id): (bytes, where it was found)."""
        dirs = [f"{path.lstrip('/')}/{bid}"]
        link = self._link_dir(bid)
        if link is not None:
            dirs.append(link)
        for d in dirs:
            for name in names:
                data = self.read(f"{d}/{name}")
                if data is not None:
                    return data, f"{self.path}:{d}/{name}"
        return None


def kallsyms_bytes(k: bytes | str | os.PathLike | None) -> bytes | None:
    """--kallsyms as given: a path (read here) or the file's bytes."""
    if isinstance(k, (str, os.PathLike)):
        try:
            return Path(k).read_bytes()
        except OSError as exc:
            raise TraceParseError(f"--kallsyms {k}: cannot be read ({exc.strerror or exc})") from None
    return k


class Symbolizer:
    """Names the distinct frames of one perf.data (see the module's docstring)."""

    def __init__(self, opts: SymbolOptions, header_ids: dict[str, str], warn):
        self.opts, self.header_ids, self.warn = opts, header_ids, warn
        self.store = BuildIdStore(opts.buildid_dir) if opts.buildid_dir is not None else None
        self.kallsyms = self._kallsyms()
        self.elves: dict[int, object | None] = {}  # dso index -> ElfSymbols, None: unresolved

    def _kallsyms(self) -> KernelSymbols | None:
        k = kallsyms_bytes(self.opts.kallsyms)
        if k is None and self.store is not None and KERNEL_DSO in self.header_ids:
            got = self.store.file(KERNEL_DSO, self.header_ids[KERNEL_DSO], ("kallsyms",))
            k = got[0] if got else None
        return KernelSymbols.parse(k) if k else None

    def names(self, dso: np.ndarray, off: np.ndarray, addr: np.ndarray, dsos: list[tuple[str, bytes | None]]) -> list[str]:
        """One name per frame (arrays of the scanner's stacks: file index, file offset, address)."""
        out = [""] * len(dso)
        kern = np.flatnonzero(dso == KERNEL)
        for i, name in zip(kern.tolist(), self._kernel(addr[kern])):
            out[i] = name
        for i in np.flatnonzero(dso == NO_MAP).tolist():
            out[i] = "[unknown] ([unknown])"
        user = dso < NO_MAP
        for d in np.unique(dso[user]).tolist():
            rows = np.flatnonzero(dso == d)
            path = dsos[d][0]
            elf = self._elf(d, dsos[d])
            if elf is None:
                for i in rows.tolist():
                    out[i] = f"[unknown] ({path})"
                continue
            found = elf.lookup(off[rows].astype(np.uint64).tobytes())
            for i, (sym, at) in zip(rows.tolist(), found):
                out[i] = f"{sym}+0x{at:x} ({path})" if sym is not None else f"[unknown] ({path})"
        return out

    def _kernel(self, addrs: np.ndarray) -> list[str]:
        if self.kallsyms is None or not len(addrs):
            return ["[unknown] ([kernel.kallsyms])"] * len(addrs)
        return self.kallsyms.names_of(addrs)

    def _elf(self, d: int, dso: tuple[str, bytes | None]):
        if d not in self.elves:
            self.elves[d] = self._load(*dso)
        return self.elves[d]

    def _load(self, path: str, mmap_id: bytes | None):
        """The symbols of one mapped file, or None (missing, another build, not ELF)."""
        from ._native import ElfSymbols, elf_build_id

        want = hex_id(mmap_id) or self.header_ids.get(path)
        runtime = self._runtime(path, want)
        if runtime is None:
            return None
        data, where = runtime
        has = hex_id(elf_build_id(data))
        if want is not None and not same_build(want, has):
            self.warn(f"{path}: build id {has or 'none'} in {where}, the recording's is {want}: "
                      "another build of the file; its frames are left [unknown]")
            return None
        debug = self._debug(path, want or has)
        try:
            return ElfSymbols(data, debug)
        except ValueError as exc:
            self.warn(f"{path}: {where} is not readable as ELF ({exc}); its frames are left [unknown]")
            return None

    def _runtime(self, path: str, bid: str | None) -> tuple[bytes, str] | None:
        if self.store is not None and bid is not None:
            got = self.store.file(path, bid, ("elf", posixpath.basename(path).strip("[]")))
            if got is not None:
                return got
        if self.opts.symfs is not None and path.startswith("/"):
            full = Path(self.opts.symfs, path.lstrip("/"))
            try:
                return full.read_bytes(), str(full)
            except OSError:
                return None
        return None

    def _debug(self, path: str, bid: str | None) -> bytes | None:
        """A detached debug file of this very build, where perf looks for one."""
        from ._native import elf_build_id

        if bid is None:
            return None
        if self.store is not None:
            got = self.store.file(path, bid, ("debug",))
            if got is not None:
                return got[0]
        if self.opts.symfs is None or not path.startswith("/"):
            return None
        root = Path(self.opts.symfs)
        for cand in (root / "usr/lib/debug/.build-id" / bid[:2] / f"{bid[2:]}.debug",
                     root / "usr/lib/debug" / path.lstrip("/"), root / "usr/lib/debug" / (path.lstrip("/") + ".debug")):
            try:
                data = cand.read_bytes() if cand.is_file() else None
            except OSError:
                data = None
            if data is not None and same_build(bid, hex_id(elf_build_id(data))):
                return data
        return None


class KernelSymbols:
    """/proc/kallsyms as perf reads it for call chains (``perf script --kallsyms``), which is not
    how trace-cmd reads it for ``%pS`` (print_fmt.Kallsyms):

        ffffffff810b8f40 T __x64_sys_vfork
        ffffffff810b8f40 t __do_sys_vfork

    - only text and data symbols (types T, W, D, B in either case, and ``u``, ``l``);
    - a symbol reaches to the next address (the last one to its page's end and a page more; the
      last before a module's, or the kernel's after modules, to its page's end and a page more);
    - one name per address: kallsyms has no sizes, so only the last alias at an address reaches
      past it, and perf keeps the one with a size: the last line (``__x64_sys_vfork``).
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray, names: list[str]):
        self.starts, self.ends, self.names = starts, ends, names

    @classmethod
    def parse(cls, text: bytes) -> KernelSymbols:
        lines = pl.Series(text.decode("utf-8", "replace").split("\n"), dtype=pl.String)
        p = lines.str.extract_groups(r"^\s*([0-9a-fA-F]{1,16})\s+([TtWwDdBbul])\s+(\S+)").struct.unnest()
        p.columns = ["addr", "kind", "name"]
        p = p.with_columns(module=lines.str.contains(r"\[\S+\]\s*$")).with_row_index("line").drop_nulls()
        hexa = p["addr"].str.zfill(16)
        hi = hexa.str.slice(0, 8).str.to_integer(base=16).to_numpy().astype(np.uint64)
        lo = hexa.str.slice(8, 8).str.to_integer(base=16).to_numpy().astype(np.uint64)
        p = p.with_columns(a=pl.Series((hi << np.uint64(32)) | lo, dtype=pl.UInt64))
        best = p.sort(["a", "line"]).unique("a", keep="last", maintain_order=True)
        starts = best["a"].to_numpy()
        ends = np.empty_like(starts)
        if len(starts):
            page_end = ((starts + np.uint64(0xFFF)) & ~np.uint64(0xFFF)) + np.uint64(0x1000)
            ends[:-1] = starts[1:]
            ends[-1] = page_end[-1]
            mod = best["module"].to_numpy()
            edge = np.flatnonzero(mod[:-1] != mod[1:])
            ends[edge] = ((starts[edge] + np.uint64(0x1000) + np.uint64(0xFFF)) & ~np.uint64(0xFFF))
        return cls(starts, ends, best["name"].to_list())

    def __len__(self) -> int:
        return len(self.starts)

    def names_of(self, addrs: np.ndarray) -> list[str]:
        """``sym+0xoff ([kernel.kallsyms])`` per address, ``[unknown] ([kernel.kallsyms])`` outside."""
        i = np.searchsorted(self.starts, addrs, side="right") - 1
        ok = (i >= 0) & (addrs < self.ends[i.clip(0)]) if len(self.starts) else np.zeros(len(addrs), bool)
        out = []
        for a, k, good in zip(addrs.tolist(), i.tolist(), ok.tolist()):  # once per distinct frame
            out.append(f"{self.names[k]}+0x{a - int(self.starts[k]):x} ([kernel.kallsyms])" if good
                       else "[unknown] ([kernel.kallsyms])")
        return out
