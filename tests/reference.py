"""An independent, deliberately naive reference: a per-line regex and a dict-based pairing.

It shares no code with traceparse. Tests compare traceparse's numbers with what this computes
from the same file, so neither side's bugs can hide behind the other.
"""
from __future__ import annotations

import lzma
import re
from collections import defaultdict

PERF = re.compile(r"^\s*(.+?)\s+(?:\d+/)?(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(?:\d+\s+)?block:(block_rq_\w+):\s*(.*)$")
FTRACE = re.compile(r"^(?:[\w.-]+: )?\s*(.+)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?(?:\[(\d+)\]\s+(?:\S+\s+)?|\d+\S+\s+)(\d+)\.(\d+):\s+(block_rq_\w+):\s*(.*)$")
PAYLOAD = re.compile(r"^(\d+,\d+) (\w+) (?:\d+ )?\(.*?\) (\d+) \+ (\d+)")


def read_lines(path):
    opener = lzma.open if str(path).endswith(".xz") else open
    with opener(path, "rt", errors="replace") as f:
        return f.read().splitlines()


def block_events(path):
    """[(ts_ns, kind, dev, sector, nr, rwbs, comm, pid)] in file order."""
    out = []
    for line in read_lines(path):
        m = PERF.match(line) or FTRACE.match(line)
        if not m:
            continue
        comm, pid, _cpu, sec, frac, kind, payload = m.groups()
        p = PAYLOAD.match(payload)
        if not p:
            continue
        ts = int(sec) * 10**9 + int(frac.ljust(9, "0")[:9])
        out.append((ts, kind, p.group(1), int(p.group(3)), int(p.group(4)), p.group(2), comm.strip(), int(pid)))
    return out


def op(rwbs):
    m = re.match(r"F?([WDRFN])", rwbs)
    return m.group(1) if m else "?"


def pair(events):
    """biosnoop's rule: key (dev, sector); insert/issue remember, complete takes and forgets."""
    issued, inserted, reqs = {}, {}, []
    without_issue = 0
    for ts, kind, dev, sector, nr, rwbs, comm, pid in sorted(events, key=lambda e: e[0]):
        if sector == 2**64 - 1 and op(rwbs) == "F":
            sector = 0  # a flush completes without a sector; it was issued at sector 0
        key = (dev, sector)
        if kind == "block_rq_insert":
            inserted[key] = (ts, rwbs, comm, pid)
        elif kind == "block_rq_issue":
            issued[key] = (ts, rwbs, comm, pid, nr)
        elif kind == "block_rq_complete":
            iss = issued.get(key)
            if iss and op(iss[1]) != op(rwbs):
                continue
            iss, ins = issued.pop(key, None), inserted.pop(key, None)
            if iss is None:
                without_issue += 1
            if iss is None and ins is None:
                continue
            who = ins or iss
            reqs.append({
                "ts": ts, "dev": dev, "sector": sector, "rwbs": (iss or ins)[1], "comm": who[2], "pid": who[3],
                "d2c": ts - iss[0] if iss else None,
                "i2c": ts - ins[0] if ins else None,
                "i2d": iss[0] - ins[0] if iss and ins else None,
            })
    in_flight = len(issued)
    return reqs, {"complete_without_issue": without_issue, "issue_without_complete": in_flight}


def nearest_rank(values, pct):
    """HdrHistogram's rank rule: the ceil-ish rank round(p/100 * n), at least 1."""
    v = sorted(values)
    rank = max(int(pct * len(v) / 100 + 0.5), 1)
    return v[rank - 1]


def group(reqs, key, phase):
    g = defaultdict(list)
    for r in reqs:
        if r[phase] is not None:
            g[key(r)].append(r[phase])
    return g
