"""The pairing rules of DESIGN.md, one hand-made trace each, expected values worked out by hand."""
from __future__ import annotations

import io

import pytest
import traceparse
from traceparse.api import Capture

# ftrace text, as `trace-cmd report` prints it; times chosen so every latency is a round number
TRACE = """\
cpus=2
          fio-500   [000]  1.000000: block_rq_issue:       8,0 W 8192 () 100 + 16 [fio]
       <idle>-0     [001]  1.000100: block_rq_complete:    8,0 W () 100 + 8 [0]
       <idle>-0     [000]  1.000300: block_rq_complete:    8,0 W () 108 + 8 [0]
          fio-500   [000]  2.000000: block_rq_issue:       8,0 W 4096 () 200 + 8 [fio]
       <idle>-0     [001]  2.000100: block_rq_complete:    8,0 R () 200 + 8 [0]
       <idle>-0     [001]  2.000500: block_rq_complete:    8,0 W () 200 + 8 [0]
  kworker/0:1-33    [000]  3.000000: block_rq_insert:      8,0 WS 4096 () 300 + 8 [kworker/0:1]
  kworker/1:1H-44   [001]  3.000100: block_rq_issue:       8,0 WS 4096 () 300 + 8 [kworker/1:1H]
  kworker/1:1H-44   [001]  3.000200: block_rq_requeue:     8,0 WS () 300 + 8 [0]
  kworker/1:1H-44   [001]  3.000400: block_rq_issue:       8,0 WS 4096 () 300 + 8 [kworker/1:1H]
       <idle>-0     [000]  3.000600: block_rq_complete:    8,0 WS () 300 + 8 [0]
       <idle>-0     [000]  4.000000: block_rq_complete:    8,0 R () 400 + 8 [0]
          fio-500   [000]  5.000000: block_rq_insert:      259,2 R 4096 () 500 + 8 [fio]
          fio-500   [000]  5.000010: block_rq_issue:       259,2 R 4096 () 500 + 8 [fio]
          fio-500   [000]  5.000020: block_rq_insert:      259,2 R 4096 () 600 + 8 [fio]
"""


def run(text=TRACE, **opts):
    return traceparse.block(io.BytesIO(text.encode()), unit="us", **opts).data


def d2c_listing(data):
    return sorted((s["sector"], s["d2c_ns"], s["i2c_ns"], s["comm"]) for s in data["slow"])


def test_partial_completion_is_followed_to_the_last_part():
    data = run(top=0, slower_than_ns=0)
    assert (100, 300_000, None, "fio") in d2c_listing(data)
    assert data["unmatched"]["partial_completions"] == 1


def test_read_complete_does_not_pair_with_a_write_issue():
    data = run(top=0, slower_than_ns=0)
    assert data["unmatched"]["op_mismatch"] == 1
    assert (200, 500_000, None, "fio") in d2c_listing(data)


def test_requeue_restarts_d2c_and_the_insert_side_owns_the_request():
    data = run(top=0, slower_than_ns=0)
    assert (300, 200_000, 600_000, "kworker/0:1") in d2c_listing(data)
    assert data["unmatched"]["requeues"] == 1
    i2d = data["latency"]["i2d"]["total"]
    assert i2d["count"] == 1 and i2d["min_ns"] == 400_000


def test_unpaired_ends_are_counted():
    u = run()["unmatched"]
    assert u["complete_without_issue"] == 1  # sector 400 (the mismatched read at 200 counts as op_mismatch)
    assert u["issue_without_complete"] == 1  # sector 500
    assert u["insert_without_complete"] == 1  # sector 600


def test_totals_and_devices():
    data = run()
    d2c = data["latency"]["d2c"]
    assert d2c["total"]["count"] == 3
    assert d2c["total"]["mean_ns"] == pytest.approx((300_000 + 500_000 + 200_000) / 3)
    assert set(d2c["by_device"]) == {"8,0"}
    assert data["source"]["events"] == 15


@pytest.mark.parametrize("chunk_bytes", [64, 300])
def test_open_requests_survive_chunk_boundaries(chunk_bytes):
    whole = run(top=0, slower_than_ns=0)
    small = Capture(io.BytesIO(TRACE.encode()), chunk_bytes=chunk_bytes)
    chunked = traceparse.block(small, top=0, slower_than_ns=0).data
    assert chunked["latency"] == whole["latency"]
    assert chunked["unmatched"] == whole["unmatched"]
    assert chunked["slow"] == whole["slow"]


def test_filters():
    assert run(dev="259,2")["latency"]["d2c"]["total"]["count"] == 0
    only_w = run(op="W")["latency"]["d2c"]
    assert set(only_w["by_op"]) == {"W"} and only_w["total"]["count"] == 3
    assert run(comm="kworker/0:1")["latency"]["d2c"]["total"]["count"] == 1
    # completions at 1.0003, 2.0005, 3.0006 s; the capture starts at 1.0 s, so 1.5 s in is 2.5 s
    assert run(since_s=1.5)["latency"]["d2c"]["total"]["count"] == 1
    assert run(until_s=1.5)["latency"]["d2c"]["total"]["count"] == 2
