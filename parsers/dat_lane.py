"""trace.dat block events as the block lane (schema.BlockLane), gathered natively from the pages.

The block report reads block_rq_insert / issue / complete as the lane's columns; building their
frames (FrameBuilder._block: every field, the strings spelled, the frame assembled) and then
re-encoding them into pairing's columns (block_pairing.columns) was most of a `block` run on a
trace.dat. Here the native side (parsers/native/src/dat_lane.rs) reads the records a chunk's merge
grouped by kind, straight into the lane's columns, with the values the frames would carry: dev
("major,minor" of the kernel's dev_t), sector, nr_sector, bytes (insert and issue), rwbs, pid, and
the comm saved_cmdlines gives the pid. Strings are interned for the run, once per distinct value.

A capture whose block formats the lane cannot read as the frames do (a field of an odd size, an
rwbs that is not a char array) gets no lane: its block events come as frames, as before.
"""
from __future__ import annotations

import numpy as np

from .event_format import LANE_KINDS, FrameBuilder, _int_spec, lane_layout
from .schema import BlockLane, KindStats, LaneStrings


class DatLane:
    """The lane of one trace.dat run: its native state and the run's strings."""

    def __init__(self, native, ids: dict[int, str]):
        self.native = native
        self.ids = ids  # event id -> its lane kind's name
        self.strings = LaneStrings()

    def groups(self, kinds: np.ndarray, first: np.ndarray, n: int) -> tuple[list[tuple[int, int, int]], set[int]]:
        """The (event id, lo, hi) of the lane's kinds in a chunk's grouping (``merge_grouped``), in
        lane order (inserts, issues, completes), and the ids the frames leave out. Where two ids share
        a name the highest one's records are read, as ``frames_grouped`` keeps that one's frame."""
        bounds = [*first.tolist(), n]
        best: dict[str, tuple[int, int, int]] = {}
        skip = set()
        for i, kind_id in enumerate(kinds.tolist()):
            name = self.ids.get(kind_id)
            if name is None:
                continue
            skip.add(kind_id)
            if name not in best or best[name][0] < kind_id:
                best[name] = (kind_id, bounds[i], bounds[i + 1])
        return [best[k] for k in LANE_KINDS if k in best], skip

    def take(self, buf: bytes, start: np.ndarray, ns: np.ndarray, cpu: np.ndarray, order: np.ndarray,
             groups: list[tuple[int, int, int]]) -> tuple[BlockLane | None, list[KindStats]]:
        if not groups:
            return None, []
        out = self.native.take(buf, _bytes(start, np.int64), _bytes(ns, np.int64), _bytes(cpu, np.int16), _bytes(order, np.int64), groups)
        if out["strings_before"] != len(self.strings.values):
            raise AssertionError("the lane's strings and the native side's went apart")
        self.strings.values += [s.decode("utf-8", "replace") for s in out["new_strings"]]  # once per distinct string
        return BlockLane(out["cols"], self.strings), [KindStats(*s) for s in out["stats"]]


def _bytes(a: np.ndarray, dtype) -> bytes:
    return np.ascontiguousarray(a, dtype=dtype).tobytes()


def make_lane(builder: FrameBuilder) -> DatLane | None:
    """The lane for the capture's formats, or None where one of its block kinds cannot go in it."""
    from . import _native

    fmts = [f for f in builder.formats.of_system("block") if f.key in LANE_KINDS and not f.problem]
    layouts = []
    for fmt in fmts:
        layout = lane_layout(fmt)
        if layout is None or (builder.pid_field is not None and builder.pid_field.size not in (1, 2, 4, 8)):
            return None  # the frames make these otherwise (a generic frame, or an error): leave them to it
        layouts.append((fmt.id, LANE_KINDS[fmt.key], _int_spec(builder.pid_field), *layout))
    names = [s.encode("utf-8", "replace") for s in builder.comm_names.cast(str).to_list()]
    native = _native.DatBlockLane(builder.e == ">", builder.comm_pids.astype(np.int64).tobytes(), names)
    for layout in layouts:
        native.add_kind(*layout)
    return DatLane(native, {f.id: f.key for f in fmts})
