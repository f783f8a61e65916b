"""Peer: the plain Python a user writes first: a regex per line, a dict for in-flight issues.

    python bench/pair_loop.py perf.txt
"""
import re
import sys

LINE = re.compile(r"\s(\d+\.\d+):\s+(?:\d+\s+)?block:block_rq_(issue|complete):\s+(\d+,\d+) \S+ (?:\d+ )?\(.*?\) (\d+) \+")


def main(path):
    start, n, total, worst = {}, 0, 0.0, 0.0
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            ts, kind, dev, sector = m.groups()
            key = (dev, sector)
            if kind == "issue":
                start[key] = float(ts)
            elif key in start:
                d = float(ts) - start.pop(key)
                n, total, worst = n + 1, total + d, max(worst, d)
    print(f"pairs {n} mean_us {total / max(n, 1) * 1e6:.3f} max_us {worst * 1e6:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
