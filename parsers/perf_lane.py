"""perf.data block events as the block lane (schema.BlockLane), gathered from the RAW payloads.

The block report reads block_rq_insert / issue / complete as the lane's columns; building their
frames first (FrameBuilder: every field, then the report's re-encoding) is most of a perf.data
read. Here the lane's columns come straight from the payloads by the capture's format files: dev
(the kernel's dev_t, MAJOR << 20 | MINOR: the lane's devnum as it is), sector, nr_sector, bytes
(insert and issue), rwbs; the time, thread id and comm come from the sample, as in the frames.
Strings (device, comm, rwbs) are interned for the run, once per distinct value.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from .event_format import int_column, render_column
from .schema import BlockLane, KindStats, LaneStrings

KINDS = {"block:block_rq_insert": 1, "block:block_rq_issue": 2, "block:block_rq_complete": 3}
BYTES_NULL = 16  # reports/block_pairing.py's null bits: only bytes can be missing here (complete has none)


class PerfLane:
    def __init__(self):
        self.strings = LaneStrings()
        self._codes: dict[str, int] = {}
        self._comm_codes = np.zeros(0, np.uint32)  # scanner comm index -> lane code

    def _code(self, values: list[str]) -> list[int]:
        out = []
        for v in values:  # once per distinct string of a chunk
            if v not in self._codes:
                self._codes[v] = len(self.strings.values)
                self.strings.values.append(v)
            out.append(self._codes[v])
        return out

    def _spelled(self, vals: np.ndarray, spell) -> np.ndarray:
        uniq, inv = np.unique(vals, return_inverse=True)
        codes = np.array(self._code([spell(v) for v in uniq.tolist()]), np.uint32)
        return codes[inv.reshape(-1)]

    def take(self, formats: dict, ids: np.ndarray, buf: bytes, starts: np.ndarray, lens: np.ndarray, c: dict,
             rows: np.ndarray, comm_names: list[str], endian: str, damaged: Counter) -> tuple[BlockLane, list[KindStats], np.ndarray]:
        """The lane of the rows (sample indices ``rows``, payloads at ``starts``) that are block
        requests, their KindStats, and a mask of the rows taken."""
        taken = np.zeros(len(rows), bool)
        kind = np.zeros(len(rows), np.uint8)
        for tp, fmt in formats.items():
            if fmt.key in KINDS and fmt.get("dev") and fmt.get("sector") and not fmt.problem:
                mine = ids == tp
                short = mine & (lens < fmt.fixed_end)
                if short.any():
                    damaged[(fmt.key, f"shorter than the {fmt.fixed_end} bytes of its fields")] += int(short.sum())
                kind[mine & ~short] = KINDS[fmt.key]
                taken |= mine
        sel = np.flatnonzero(kind)
        n = len(sel)
        cols = {
            "kind": kind[sel], "devnum": np.zeros(n, np.uint64), "sector": np.zeros(n, np.uint64),
            "ts": c["ts"][rows[sel]].view(np.int64), "pid": c["tid"][rows[sel]].astype(np.int32),
            "nr": np.zeros(n, np.uint32), "bytes": np.zeros(n, np.uint64), "nulls": np.zeros(n, np.uint8),
            "rwbs": np.zeros(n, np.uint32),
        }
        stats = []
        for tp, fmt in formats.items():
            if fmt.key not in KINDS:
                continue
            at = np.flatnonzero((ids[sel] == tp))
            if not len(at):
                continue
            s = starts[sel[at]]
            cols["devnum"][at] = int_column(buf, s, fmt.get("dev"), endian).astype(np.uint64)
            cols["sector"][at] = int_column(buf, s, fmt.get("sector"), endian).astype(np.uint64)
            if fmt.get("nr_sector"):
                cols["nr"][at] = int_column(buf, s, fmt.get("nr_sector"), endian).astype(np.uint32)
            if fmt.key != "block:block_rq_complete" and fmt.get("bytes"):
                cols["bytes"][at] = int_column(buf, s, fmt.get("bytes"), endian).astype(np.uint64)
            else:
                cols["nulls"][at] = BYTES_NULL
            rwbs = fmt.get("rwbs")
            if rwbs is not None and rwbs.kind == "str":  # char rwbs[RWBS_LEN]: 8, or 10 since 6.x
                text = render_column(buf, s, lens[sel[at]], rwbs, endian).cast(pl.Categorical)
                # distinct values by their categorical codes (a hash), not a sort of byte rows
                _, first, inv = np.unique(text.to_physical().to_numpy(), return_index=True, return_inverse=True)
                names = text.gather(first).cast(pl.String).to_list()
                cols["rwbs"][at] = np.array(self._code(names), np.uint32)[inv.reshape(-1)]
            else:
                cols["rwbs"][at] = self._code([""])[0]
            ts = c["ts"][rows[sel[at]]].view(np.int64)
            cpus = np.unique(c["cpu"][rows[sel[at]]]).astype(np.int64).tolist()
            stats.append(KindStats(fmt.key, len(at), int(ts.min()), int(ts.max()), cpus))
        cols["dev"] = self._spelled(cols["devnum"], lambda d: f"{d >> 20},{d & 0xFFFFF}")
        comm = c["comm"][rows[sel]].astype(np.int64)
        if len(comm_names) > len(self._comm_codes):
            new = self._code(comm_names[len(self._comm_codes):])
            self._comm_codes = np.concatenate([self._comm_codes, np.array(new, np.uint32)])
        cols["comm"] = self._comm_codes[comm] if n else np.zeros(0, np.uint32)
        lane = BlockLane({k: np.ascontiguousarray(v).tobytes() for k, v in cols.items()}, self.strings)
        return lane, stats, taken
