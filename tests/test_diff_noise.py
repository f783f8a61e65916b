"""`traceparse diff` with several runs a side (issue 17): run-to-run variation, and a gate that does not flap.

Two kinds of input. Synthetic runs drawn from a known distribution (log-normal run effects around a
known centre), where the true false-alarm rate is known: the interval must hit it. And real fio runs
recorded on this machine (fixtures/noise/, README there): same-workload runs must pass the rules,
real changes (64 KiB requests, queue depth 8) must fail them. Expected values come from the
construction or from a small reference written here (numpy, a printed t table), never from
traceparse's output pasted back.
"""
from __future__ import annotations

import json
import lzma
import math
import random
import re

import numpy as np
import pytest
from conftest import FIXTURES, run_cli
from hdrh.histogram import HdrHistogram

import traceparse.api as api
from traceparse.parsers.errors import TraceParseError
from traceparse.reports import diff_runs as dr

NOISE = FIXTURES / "noise"
RULES = ["d2c.p50>+10%", "d2c.p99>+20%"]
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 30: 2.042}  # two-sided 95 %, any t table


def same_runs() -> list:
    return sorted(NOISE.glob("same-*.json"))


def change_runs() -> list:
    return sorted(p for pat in ("bs64k-*.json", "qd8-*.json") for p in NOISE.glob(pat))


# the t distribution and the interval, against references -------------------------------------------


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_quantiles_match_the_printed_table(df):
    assert dr.t_quantile(df) == pytest.approx(T_TABLE[df], abs=1e-3)


def test_one_new_run_gets_the_textbook_prediction_interval():
    base, new = [30.0, 41.0, 24.0], [70.0]
    y = np.log(base)
    half = T_TABLE[2] * y.std(ddof=1) * math.sqrt(1 + 1 / 3)  # ybar +- t(n-1) s sqrt(1 + 1/n)
    rv = dr.run_test(base, new, [0, 0, 0], [0])
    assert (rv.df, rv.lo, rv.hi) == (2, pytest.approx(math.exp(-half), rel=1e-3), pytest.approx(math.exp(half), rel=1e-3))
    assert rv.ratio == pytest.approx(70 / math.exp(y.mean()))
    assert rv.beyond == (1 if math.log(rv.ratio) > half else 0)


def test_several_new_runs_get_the_pooled_two_sample_interval():
    base, new = [30.0, 41.0, 24.0, 33.0], [40.0, 52.0]
    yb, yn = np.log(base), np.log(new)
    sp2 = (((yb - yb.mean()) ** 2).sum() + ((yn - yn.mean()) ** 2).sum()) / 4
    half = T_TABLE[4] * math.sqrt(sp2 * (1 / 4 + 1 / 2))
    rv = dr.run_test(base, new, [0] * 4, [0] * 2)
    assert rv.df == 4 and rv.hi == pytest.approx(math.exp(half), rel=1e-3)


def test_sampling_noise_is_a_floor_under_the_spread():
    """Two base runs that agree by chance must not make every sampling wobble 'beyond run-to-run'."""
    rv = dr.run_test([100.0, 100.0], [103.0], [0.02**2] * 2, [0.02**2])
    half = T_TABLE[1] * math.sqrt(0.02**2 / 2 + 0.02**2)
    assert rv.hi == pytest.approx(math.exp(half), rel=1e-3) and not rv.beyond


def test_one_base_run_has_no_run_to_run_verdict():
    rv = dr.run_test([100.0], [300.0], [0.0], [0.0])
    assert not rv.tested and rv.why_not.startswith("one base run") and rv.beyond == 0


# the false-alarm rate where the truth is known -----------------------------------------------------


@pytest.mark.parametrize("n_base,n_new", [(3, 1), (5, 1), (3, 2), (6, 3)])
def test_false_alarm_rate_on_synthetic_runs_is_the_nominal_one(n_base, n_new):
    """Log-normal run effects, no change: new lies above the interval 2.5 % of the time, below 2.5 %."""
    rng = np.random.default_rng(17)
    trials, above, below = 4000, 0, 0
    for _ in range(trials):
        y = 3.5 + 0.25 * rng.standard_normal(n_base + n_new)
        rv = dr.run_test(list(np.exp(y[:n_base])), list(np.exp(y[n_base:])), [0.0] * n_base, [0.0] * n_new)
        above += rv.beyond > 0
        below += rv.beyond < 0
    sd = math.sqrt(trials * 0.025 * 0.975)  # binomial: 100 +- 10
    assert abs(above - trials * 0.025) < 3.5 * sd and abs(below - trials * 0.025) < 3.5 * sd


def power(spread: float, n_base: int, trials: int = 1000) -> float:
    rng = np.random.default_rng(3)
    hits = sum(dr.run_test(list(np.exp(3.5 + spread * rng.standard_normal(n_base))),
                           [math.exp(3.5 + math.log(2) + spread * rng.standard_normal())], [0.0] * n_base, [0.0]).beyond > 0
               for _ in range(trials))
    return hits / trials


def test_a_doubling_is_found_as_often_as_the_spread_and_the_base_runs_allow():
    """Power, with the same construction: t(2) is wide, so three runs find a doubling against a 10 %
    spread most of the time, against a 25 % spread seldom; more base runs help (README, diff)."""
    assert power(0.10, 3) > 0.75
    p3, p5, p8 = power(0.25, 3), power(0.25, 5), power(0.25, 8)
    assert p3 < p5 < p8 and p3 < 0.4


def synthetic_report(rng, centre_log: float, n: int = 4000) -> dict:
    """A block report holding one D2C distribution: log-normal latencies (ns) in an HdrHistogram."""
    values = np.exp(centre_log + 0.5 * rng.standard_normal(n)).astype(np.int64) + 1
    h = HdrHistogram(1, 7 * 86400 * 10**9, 3)
    for v, c in zip(*np.unique(values, return_counts=True)):
        h.record_value(int(v), int(c))
    node = {"count": n, "mean_ns": float(values.mean()), "max_ns": int(values.max()), "iops": n / 3.0,
            **{k: min(int(h.get_value_at_percentile(p)), int(values.max())) for k, p in
               (("p50_ns", 50), ("p90_ns", 90), ("p99_ns", 99), ("p999_ns", 99.9))},
            "hdr": h.encode().decode("ascii")}
    return {"report": "block", "schema": 2, "latency": {"d2c": {"total": node}}}


def test_the_whole_diff_fires_rarely_on_synthetic_runs_without_a_change():
    """End to end (histograms, sampling floor, both rules): runs with a 20 % run effect, no change."""
    rng = np.random.default_rng(11)
    fired = 0
    trials = 40
    for _ in range(trials):
        runs = [synthetic_report(rng, math.log(50_000) + 0.2 * rng.standard_normal()) for _ in range(4)]
        fired += api.diff(runs[:3], runs[3:], fail_on=RULES).exit_code
    assert fired <= 5  # 2.5 % a rule, two rules: about 2 of 40 expected; 6 has a chance under 1 %


def test_the_whole_diff_finds_a_doubling_on_synthetic_runs():
    rng = np.random.default_rng(12)
    runs = [synthetic_report(rng, math.log(50_000) + 0.05 * rng.standard_normal()) for _ in range(3)]
    new = synthetic_report(rng, math.log(100_000))
    rep = api.diff(runs, [new], fail_on=RULES)
    assert rep.exit_code == 1
    match = rep.data["rules"][0]["matches"][0]
    assert match["decided_by"] == "run-to-run and sampling" and match["beyond_runs"] is True
    assert match["base_runs"] == [r["latency"]["d2c"]["total"]["p50_ns"] for r in runs]


# the real runs (fixtures/noise) --------------------------------------------------------------------


def test_the_recorded_runs_are_there():
    assert len(same_runs()) >= 5 and len(change_runs()) >= 2, "fixtures/noise: see its README"


@pytest.mark.parametrize("new", same_runs()[3:], ids=lambda p: p.stem)
def test_same_workload_runs_pass_against_three_base_runs(new):
    base = same_runs()[:3]
    rep = api.diff(base, [new], fail_on=RULES)
    assert rep.exit_code == 0, rep.data["headline"]


@pytest.mark.parametrize("new", change_runs(), ids=lambda p: p.stem)
def test_real_changes_fail_against_three_base_runs(new):
    base = same_runs()[:3]
    rep = api.diff(base, [new], fail_on=RULES)
    assert rep.exit_code == 1, rep.data["headline"]


@pytest.mark.parametrize("new", sorted(NOISE.glob("throttle-*.json")), ids=lambda p: p.stem)
def test_a_throttled_run_is_seen_by_iops_not_by_d2c(new):
    """blk-throttle holds bios back before they become requests: D2C (driver and device) does not
    move, so the D2C rules pass, as they should; IOPS falls far beyond run-to-run variation."""
    base, new = [stripped(p) for p in same_runs()[:3]], stripped(new)
    assert api.diff(base, [new], fail_on=RULES).exit_code == 0
    rep = api.diff(base, [new], fail_on=["d2c.iops<-20%"])
    assert rep.exit_code == 1 and rep.data["rules"][0]["matches"][0]["decided_by"] == "run-to-run"


def stripped(path) -> dict:
    """A saved run cut to its D2C total: the rules read only it, and the diff is fast."""
    data = json.loads(path.read_text())
    return {"report": "block", "schema": data["schema"], "latency": {"d2c": {"total": data["latency"]["d2c"]["total"]}}}


def test_false_alarm_rate_over_random_splits_of_the_real_runs():
    """Random 3 base + 1 or 2 new of the same-workload runs: any rule firing stays near the 5 % documented."""
    runs = [stripped(p) for p in same_runs()]
    rng = random.Random(17)
    splits = [rng.sample(range(len(runs)), 3 + rng.choice((1, 2))) for _ in range(40)]
    fired = sum(api.diff([runs[i] for i in s[:3]], [runs[i] for i in s[3:]], fail_on=RULES).exit_code for s in splits)
    assert fired <= 4, f"{fired} of {len(splits)} splits fired"  # 5 % is 2 of 40 (fixtures/noise/splits.py: all splits)


# the command line, JSON and the one-run case -------------------------------------------------------


def test_cli_globs_several_new_runs_and_exit_codes():
    same, change = same_runs(), change_runs()
    pattern = str(NOISE / "same-0[1-3].json")
    ok = run_cli("diff", "--base", pattern, str(same[3]), str(same[4]), *sum((["--fail-on", r] for r in RULES), []))
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("diff", "--base", pattern, str(change[0]), "--fail-on", RULES[0], "-f", "json")
    assert bad.returncode == 1, bad.stderr
    data = json.loads(bad.stdout)
    assert [r["label"] for r in data["base"]["runs"]] == [str(p) for p in same[:3]]
    p50 = next(g for g in data["groups"] if g["path"] == "latency/d2c/total")["stats"]["p50"]
    expected = [json.loads(p.read_text())["latency"]["d2c"]["total"]["p50_ns"] for p in same[:3]]
    assert p50["base_runs"] == expected and p50["new_runs"] == [json.loads(change[0].read_text())["latency"]["d2c"]["total"]["p50_ns"]]
    assert p50["base"] == pytest.approx(math.exp(np.log(expected).mean()))
    assert p50["run_to_run"]["df"] == 2 and p50["run_to_run"]["beyond"] == "above"
    assert p50["decided_by"] in ("run-to-run and sampling", "sampling")
    head = data["headline"]
    assert head[0].startswith("D2C p50 base runs ") and "beyond it, by +" in head[0], head[0]
    assert data["rules"][0]["matches"][0]["decided_by"] == "run-to-run and sampling"


def test_cli_usage_errors_are_one_line_exit_2(tmp_path):
    one = str(same_runs()[0])
    for args, words in ((["diff", one], "give BASE NEW"), (["diff", one, one, one], "give BASE NEW"),
                        (["diff", "--base", one], "new run"), (["diff", "--base", str(tmp_path / "none-*.json"), one], "no file matches")):
        r = run_cli(*args)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.count("\n") == 1 and err.startswith("traceparse: ") and words in err, (args, err)


def test_one_run_a_side_is_as_before_with_the_note():
    a, b = same_runs()[:2]
    rep = api.diff(a, b, fail_on=RULES)
    listed = api.diff([a], [b], fail_on=RULES)
    assert json.dumps(rep.data, default=str) == json.dumps(listed.data, default=str)
    assert "input" not in rep.data["base"] or rep.data["base"]["input"] == "saved report"
    note = next(line for line in rep.data["headline"] if line.startswith("one base run"))
    assert "run-to-run variation is unknown" in note and "a rule fires on any change beyond" in note
    assert rep.data["headline"][-1].startswith("rules: ")  # the verdict stays last
    assert all(not c["run_to_run"]["tested"] for g in rep.data["groups"] for c in g["stats"].values())


def test_net_reports_diff_as_runs():
    """Any report with STATS: three runs of a net capture (identical: the spread is the sampling floor)."""
    net = api.net(FIXTURES / "net" / "net-tcp-connect.dat")
    rep = api.diff([net, net, net], [net], fail_on=["connect.p50>+10%"])
    assert rep.exit_code == 0 and rep.data["compares"] == "net"
    cells = [c for g in rep.data["groups"] for c in g["stats"].values() if c["run_to_run"]["tested"]]
    assert cells and all(c["run_to_run"]["beyond"] is None for c in cells)


def test_runs_of_different_reports_are_refused():
    net = api.net(FIXTURES / "net" / "net-tcp-connect.dat")
    with pytest.raises(TraceParseError, match="cannot diff a block report"):
        api.diff([same_runs()[0], same_runs()[1]], [net])


def test_pooled_histogram_is_the_sum_of_the_runs():
    runs = [json.loads(p.read_text())["latency"]["d2c"]["total"] for p in same_runs()[:3]]
    pooled = dr.pool(dr.run_bins(runs))
    assert pooled.n == sum(r["count"] for r in runs)
    ref = HdrHistogram.decode(runs[0]["hdr"])
    for r in runs[1:]:
        ref.add(HdrHistogram.decode(r["hdr"]))
    assert pooled.n == ref.get_total_count()
    rank = max(int(0.5 * pooled.n + 0.5), 1)  # HdrHistogram's rank rule
    assert pooled.values[np.searchsorted(pooled.cum, rank)] == min(ref.get_value_at_percentile(50), max(r["max_ns"] for r in runs))



# the fixtures themselves, against trace-cmd --------------------------------------------------------

REPORT_LINE = re.compile(r"\s(\d+)\.(\d{9}): (block_rq_issue|block_rq_complete):\s+(\d+,\d+) (\S+) .*?\(\) (\d+) \+")


def test_a_saved_run_holds_what_trace_cmd_shows_of_its_capture():
    """same-01.report-t.txt.xz is `trace-cmd report -t` of same-01's trace.dat: pair it here (issue ->
    complete by (dev, sector), as biosnoop does) and check the saved JSON's D2C count, p50 and p99."""
    issued, d2c = {}, []
    for line in lzma.decompress((NOISE / "same-01.report-t.txt.xz").read_bytes()).decode().splitlines():
        m = REPORT_LINE.search(line)
        if not m:
            continue
        ts, key = int(m[1]) * 10**9 + int(m[2]), (m[4], m[6])
        if m[3] == "block_rq_issue":
            issued[key] = ts
        elif key in issued:
            d2c.append(ts - issued.pop(key))
    d2c.sort()
    saved = json.loads((NOISE / "same-01.json").read_text())["latency"]["d2c"]["total"]
    assert saved["count"] == len(d2c)
    for key, pct in (("p50_ns", 50), ("p99_ns", 99)):
        exact = d2c[max(int(pct / 100 * len(d2c) + 0.5), 1) - 1]  # HdrHistogram's rank rule
        assert exact <= saved[key] <= exact * (1 + 1 / 1024) + 1, key  # the bucket's top, 3 significant digits


def test_a_capture_and_saved_reports_mix_as_runs():
    capture = NOISE / "same-01.report-t.txt.xz"
    rep = api.diff([capture, *same_runs()[1:3]], [change_runs()[0]], fail_on=RULES)
    assert [r["input"] for r in rep.data["base"]["runs"]] == ["capture", "saved report", "saved report"]
    p50 = next(g for g in rep.data["groups"] if g["path"] == "latency/d2c/total")["stats"]["p50"]
    assert p50["base_runs"][0] == json.loads((NOISE / "same-01.json").read_text())["latency"]["d2c"]["total"]["p50_ns"]
