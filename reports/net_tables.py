"""Turn a finished NetAnalysis into a Report: tables (columns declared once), histograms, the JSON contract.

Everything here runs once per group (device, process, interval, flow), never once per event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ..parsers.source import Source
from .histogram import buckets, log2_floor
from .result import Column, Histogram, Report, Table
from .shared import shown_of

if TYPE_CHECKING:
    from .net import NetAnalysis

from .net import RX_EVENTS, TX_EVENTS

PCTS = (50, 90, 99)
SIZE = [
    Column("count", "PACKETS", "count"),
    Column("bytes", "BYTES", "count"),
    Column("mean_bytes", "MEAN(B)", "bytes"),
    Column("min_bytes", "MIN(B)", "bytes"),
    Column("p50_bytes", "P50(B)", "bytes"),
    Column("p90_bytes", "P90(B)", "bytes"),
    Column("p99_bytes", "P99(B)", "bytes"),
    Column("max_bytes", "MAX(B)", "bytes"),
    Column("pps", "PKT/s", "/s"),
    Column("mb_s", "MB/s", "MB/s"),
]
PROC = [
    Column("pid", "PID"),
    Column("comm", "COMM"),
    Column("dev", "DEVICE"),
    Column("packets", "PACKETS", "count"),
    Column("bytes", "BYTES", "count"),
    Column("pps", "PKT/s", "/s"),
    Column("mb_s", "MB/s", "MB/s"),
]
RATES = [
    Column("time_s", "TIME(s)", "s"),
    Column("tx_packets", "TX PKTS", "count"),
    Column("tx_bytes", "TX BYTES", "count"),
    Column("tx_pps", "TX PKT/s", "/s"),
    Column("tx_mb_s", "TX MB/s", "MB/s"),
    Column("rx_packets", "RX PKTS", "count"),
    Column("rx_bytes", "RX BYTES", "count"),
    Column("rx_pps", "RX PKT/s", "/s"),
    Column("rx_mb_s", "RX MB/s", "MB/s"),
    Column("partial_mark", "PARTIAL"),
]
RC = [Column("dev", "DEVICE"), Column("rc", "RC"), Column("count", "COUNT", "count")]
FLOWS = [Column("flow", "FLOW (saddr:sport -> daddr:dport)"), Column("state", "STATE"), Column("count", "RETRANSMITS", "count")]
RETRANS_EVENTS = [
    Column("time_s", "TIME(s)", "s"), Column("comm", "COMM"), Column("pid", "PID"), Column("flow", "FLOW"), Column("state", "STATE"),
]
STATES = [Column("old", "OLD STATE"), Column("new", "NEW STATE"), Column("count", "COUNT", "count")]
LAT = [
    Column("kind", "KIND"),
    Column("peer", "PEER"),
    Column("count", "COUNT", "count"),
    Column("mean_ns", "MEAN", "ns"),
    Column("min_ns", "MIN", "ns"),
    Column("p50_ns", "P50", "ns"),
    Column("p90_ns", "P90", "ns"),
    Column("p99_ns", "P99", "ns"),
    Column("max_ns", "MAX", "ns"),
]
FAILED = [Column("kind", "KIND"), Column("peer", "PEER"), Column("outcome", "ENDED IN"), Column("count", "COUNT", "count")]
SLOW = [
    Column("time_s", "TIME(s)", "s"), Column("kind", "KIND"), Column("comm", "COMM"), Column("pid", "PID"),
    Column("flow", "FLOW"), Column("lat_ns", "LAT", "ns"),
]
REASONS = [Column("reason", "REASON"), Column("count", "DROPS", "count")]
LOCATIONS = [Column("location", "LOCATION"), Column("count", "DROPS", "count")]
UNPAIRED = [Column("what", "UNPAIRED"), Column("count", "COUNT", "count"), Column("meaning", "MEANING")]
KIND_TITLES = {
    "connect": "connect (SYN_SENT -> ESTABLISHED, like tcpconnlat)",
    "accept": "accept (SYN_RECV -> ESTABLISHED, the child socket of tcpaccept)",
}
TOP_TABLE = 20  # rows of the by-process and drop-location tables (the JSON has them all)


def size_stats(vals: pl.DataFrame, by: str) -> dict[str, dict]:
    """Exact size statistics per ``by`` from value counts (columns ``by``, len, n).

    Percentiles are nearest-rank: the smallest len whose cumulative count reaches ceil(p% of count).
    """
    if not vals.height:
        return {}
    v = vals.sort(by, "len").with_columns(cum=pl.col("n").cum_sum().over(by), total=pl.col("n").sum().over(by))
    agg = v.group_by(by).agg(
        count=pl.col("n").sum(),
        bytes=(pl.col("len") * pl.col("n")).sum(),
        min_bytes=pl.col("len").min(),
        max_bytes=pl.col("len").max(),
        **{f"p{p}_bytes": pl.col("len").filter(pl.col("cum") * 100 >= pl.col("total") * p).first() for p in PCTS},
    )
    log2 = vals.group_by(by, k=log2_floor(pl.col("len"))).agg(n=pl.col("n").sum())
    hists: dict[str, dict[int, int]] = {}
    for r in log2.to_dicts():  # one row per (group, log2 bucket): ~20 per device, not per packet
        hists.setdefault(r[by], {})[r["k"]] = r["n"]
    out = {}
    for r in agg.sort(by).to_dicts():
        key = r.pop(by)
        out[key] = {
            "count": r["count"], "bytes": r["bytes"], "mean_bytes": r["bytes"] / r["count"], "min_bytes": r["min_bytes"],
            "max_bytes": r["max_bytes"], **{f"p{p}_bytes": r[f"p{p}_bytes"] for p in PCTS}, "log2_bytes": buckets(hists.get(key, {})),
        }
    return out


def _empty_size() -> dict:
    return {"count": 0, "bytes": 0, "mean_bytes": None, "min_bytes": None, "max_bytes": None, **{f"p{p}_bytes": None for p in PCTS},
            "log2_bytes": []}


def _direction(a: NetAnalysis, event: str | None, dur: int) -> dict:
    sizes = a.sizes.frame
    if event is None or not sizes.height:
        return {"event": event, "total": _empty_size(), "by_device": {}, "sizes": {}}
    mine = sizes.filter(pl.col("event") == event)
    total = size_stats(mine.group_by("len").agg(pl.col("n").sum()).with_columns(all=pl.lit("")), "all").get("", _empty_size())
    by_dev = size_stats(mine.select("dev", "len", "n"), "dev")
    for s in (total, *by_dev.values()):
        s.update(_rates(s["count"], s["bytes"], dur))
    return {"event": f"{_system(event)}:{event}", "total": total, "by_device": by_dev, "sizes": len_counts(mine)}


def len_counts(sizes: pl.DataFrame) -> dict[str, list[list[int]]]:
    """Per device, [len, packets] for every len seen: the value counts the exact percentiles come
    from, kept in the JSON so that reports merge exactly (a few hundred distinct lens per device)."""
    out: dict[str, list[list[int]]] = {}
    for r in sizes.group_by("dev").agg(pl.col("len", "n").sort_by("len")).sort("dev").to_dicts():
        out[r["dev"]] = [[ln, n] for ln, n in zip(r["len"], r["n"])]
    return out


def _rates(packets: int, size: int, dur_ns: int) -> dict:
    if dur_ns <= 0:
        return {"pps": None, "mb_s": None}
    return {"pps": packets * 1e9 / dur_ns, "mb_s": size * 1e9 / dur_ns / 1e6}


def _system(event: str) -> str:
    return {"tcp_retransmit_skb": "tcp", "inet_sock_set_state": "sock", "kfree_skb": "skb"}.get(event, "net")


def _by_process(a: NetAnalysis, event: str | None, dur: int) -> list[dict]:
    p = a.procs.frame
    if event is None or not p.height:
        return []
    rows = p.filter(pl.col("event") == event).sort(["bytes", "packets", "comm", "pid", "dev"], descending=[True, True, False, False, False])
    return [{**r, **_rates(r["packets"], r["bytes"], dur)} for r in rows.drop("event").to_dicts()]


MAX_RATE_ROWS = 10_000  # rows of the rates table, whatever the span or the interval
WIDEN = [m * 10**e for e in range(19) for m in (1, 2, 5)][1:]  # factors an interval is widened by: 2, 5, 10, 20, ...


@dataclass
class Rates:
    rows: list[dict]
    interval_ns: int  # the interval used: --interval, or a multiple of it past MAX_RATE_ROWS busy intervals
    busy: int  # intervals of --interval that hold packets
    empty_listed: bool  # False when the span holds more intervals than MAX_RATE_ROWS: only busy ones are rows


def _rate_rows(a: NetAnalysis, tx: str | None, rx: str | None, t0: int, t1: int) -> Rates:
    """Packets and bytes per interval from the capture's start. Only intervals that hold packets are
    materialised, plus the empty ones between them while the span has at most MAX_RATE_ROWS intervals;
    with more busy intervals than that, the interval is widened (a warning says so). A partial last
    interval is divided by its real length, to the end of the capture."""
    step = a.opts.interval_ns
    r = a.rates.frame
    r = r.filter(pl.col("event").is_in([e for e in (tx, rx) if e])) if r.height else r
    if not r.height:
        return Rates([], step, 0, True)
    busy = r["bucket"].n_unique()
    k = next((k for k in (1, *WIDEN) if (r["bucket"] // k).n_unique() <= MAX_RATE_ROWS), WIDEN[-1])
    step *= k
    r = r.group_by("event", bucket=pl.col("bucket") // k).agg(pl.col("packets", "bytes").sum())
    lo, hi = min(0, r["bucket"].min()), max((t1 - t0) // step, r["bucket"].max())
    listed = hi - lo + 1 <= MAX_RATE_ROWS
    got = {(x["event"], x["bucket"]): (x["packets"], x["bytes"]) for x in r.to_dicts()}  # one row per busy interval
    rows = []
    for b in range(lo, hi + 1) if listed else sorted(set(r["bucket"].to_list())):
        start = t0 + b * step
        length = min(start + step, t1) - max(start, t0)
        row = {"start_ns": start, "time_s": b * step / 1e9, "duration_ns": max(length, 0), "partial": length < step}
        for side, ev in (("tx", tx), ("rx", rx)):
            n, s = got.get((ev, b), (0, 0))
            mb = _per_s(s, length)
            row.update({f"{side}_packets": n, f"{side}_bytes": s, f"{side}_pps": _per_s(n, length), f"{side}_mb_s": mb and mb / 1e6})
        rows.append(row)
    return Rates(rows, step, busy, listed)


def _per_s(value: int, length_ns: int) -> float | None:
    return value * 1e9 / length_ns if length_ns > 0 else None  # an interval of no length has no rate


def _counts(t, name: str = "count") -> list[dict]:
    """A Tally's rows, most frequent first, ties broken by every key column (deterministic output)."""
    f = t.frame
    if not f.height:
        return []
    return f.rename({"n": name}).sort([name, *t.keys], descending=[True] + [False] * len(t.keys)).to_dicts()


def build_report(a: NetAnalysis, source: Source) -> Report:
    return report_from_data(net_data(a, source))


def net_data(a: NetAnalysis, source: Source) -> dict:
    """The JSON contract of a finished analysis: everything a Report draws, and what a merge adds up
    (``sizes``: exact value counts behind the size percentiles; ``histograms``: the drawn buckets)."""
    lo, hi = a.window_ns(source)
    dur = hi - lo
    tx_ev, rx_ev = a.chosen(TX_EVENTS), a.chosen(RX_EVENTS)
    rates = _rate_rows(a, tx_ev, rx_ev, a.t0 if a.t0 is not None else lo, hi)
    rc = a.xmit_rc.frame.sort("dev", "rc").rename({"n": "count"}).to_dicts() if a.xmit_rc.frame.height else []
    flows = [{"flow": r["flow"], "saddr_port": r["src"], "daddr_port": r["dst"], "state": r["state"], "count": r["count"]}
             for r in _counts(a.retrans)]
    latency = {
        kind: {
            "total": a.latency.get(kind, "total").stats(),
            "by_peer": {k: a.latency.get(kind, "peer", k).stats() for k in a.latency.keys(kind, "peer")},
        }
        for kind in KIND_TITLES
    }
    slow = a.slow.sort("ts_ns") if a.opts.slower_than_ns is not None and a.slow.height else a.slow
    pend = a.pending
    unpaired = {
        f"{kind}_without_end": pend.filter((pl.col("kind") == kind) & pl.col("is_start")).height for kind in KIND_TITLES
    } | {f"{kind}_end_without_start": pend.filter((pl.col("kind") == kind) & ~pl.col("is_start")).height for kind in KIND_TITLES}
    reasons, locations = _counts(a.drop_reason), _counts(a.drop_location)
    return {
        "report": "net",
        "source": source.as_dict(),
        "window": {"start_ns": lo, "end_ns": hi, "duration_ns": dur},
        "filters": {k: v for k, v in (("dev", a.opts.dev),) if v is not None},
        "events_seen": dict(sorted(a.seen.items())),
        "tx": _direction(a, tx_ev, dur),
        "rx": _direction(a, rx_ev, dur),
        "by_process": _by_process(a, tx_ev, dur),
        "rates": {"interval_ns": rates.interval_ns, "requested_interval_ns": a.opts.interval_ns, "empty_listed": rates.empty_listed,
                  "rows": rates.rows},
        "xmit_rc": rc,
        "retransmits": {"count": sum(r["count"] for r in flows), "by_state": _by_state(flows), "by_flow": flows,
                        "events": a.retrans_events.select("ts_ns", "comm", "pid", "flow", "state").to_dicts()
                        if a.retrans_events.height else []},
        "tcp_states": _counts(a.states),
        "connect_latency": {
            **latency,
            "failed": _counts(a.failed),
            "unpaired": unpaired,
            "listing_total": a.slow_total,
            "listing": [{k: r[k] for k in LISTING_KEYS} for r in slow.to_dicts()],
        },
        "drops": {"count": sum(r["count"] for r in reasons), "by_reason": reasons, "by_location": locations},
        "warnings": _warnings(a, source, tx_ev, rx_ev, rates),
        "notes": _notes(a, tx_ev, rx_ev) + _drop_notes(reasons, locations),
        "unit": a.opts.unit,
        "limits": {"slower_than_ns": a.opts.slower_than_ns, "listing": a.opts.limit, "retransmits": a.opts.retrans_limit},
        "histograms": {kind: buckets(a.latency.get(kind, "total").log2_unit) for kind in KIND_TITLES},
    }


LISTING_KEYS = ("kind", "ts_ns", "end_ts_ns", "lat_ns", "comm", "pid", "flow", "peer")


def _by_state(flows: list[dict]) -> dict[str, int]:
    by_state: dict[str, int] = {}
    for r in flows:
        by_state[r["state"]] = by_state.get(r["state"], 0) + r["count"]
    return dict(sorted(by_state.items()))


def _drop_notes(reasons: list[dict], locations: list[dict]) -> list[str]:
    n = []
    if reasons and all(r["reason"].isdigit() for r in reasons):
        n.append("drop reasons are enum skb_drop_reason numbers of the recording kernel (not resolved to names in this input)")
    if locations and all(r["location"].startswith("0x") for r in locations):
        n.append("drop locations are kernel addresses (not resolved to symbols in this input)")
    return n


def _labelled(cols: list[Column], rows: list[dict]) -> list[Column]:
    """A merged report's rows name their input: an INPUT column first."""
    return [Column("label", "INPUT"), *cols] if rows and "label" in rows[0] else cols


def _timed(rows: list[dict], t0: int) -> list[dict]:
    """Rows with TIME(s): from each row's own input's start where a merge of several hosts set
    ``time_ns`` (each host has its own clock), else from the report's start."""
    return [{**r, "time_s": (r["time_ns"] if r.get("time_ns") is not None else r["ts_ns"] - t0) / 1e9} for r in rows]


def report_from_data(data: dict) -> Report:
    """The Report of a net JSON contract: one analysed capture's, or several merged."""
    src, unit = data["source"], data["unit"]
    report = Report(kind="net", title=f"traceparse net: {src['path']}", unit=unit)
    report.tables += _packet_tables(data)
    report.tables += _tcp_tables(data, src["first_ts_ns"] or 0)
    if data.get("inputs"):
        report.tables.append(Table("inputs", f"Inputs ({len(data['inputs']):,}, merged above)", INPUTS,
                                   [_input_row(i) for i in data["inputs"]]))
    for side in ("tx", "rx"):
        d = data[side]
        if d["total"]["count"]:
            report.histograms.append(_size_hist(side, "all devices", d["event"], d["total"]))
            if len(d["by_device"]) > 1:
                report.histograms += [_size_hist(f"{side}:{k}", f"device {k}", d["event"], v) for k, v in d["by_device"].items()]
    for kind in KIND_TITLES:
        if data["connect_latency"][kind]["total"]["count"]:
            report.histograms.append(Histogram(kind, f"TCP {KIND_TITLES[kind]}", unit, data["histograms"][kind]))
    report.warnings = list(data["warnings"])
    report.notes = list(data["notes"])
    report.data = data
    return report


def _packet_tables(data: dict) -> list[Table]:
    out = []
    for side in ("tx", "rx"):
        d = data[side]
        if d["total"]["count"]:
            rows = [{"dev": "all", **d["total"]}] + [{"dev": k, **v} for k, v in d["by_device"].items()]
            out.append(Table(side, _side_title(side, d["event"]), [Column("dev", "DEVICE"), *SIZE], rows))
    procs = data["by_process"]
    if procs:
        out.append(Table("by_process", f"Senders by bytes ({data['tx']['event']}; top {TOP_TABLE})", _labelled(PROC, procs),
                         procs[:TOP_TABLE]))
    r = data["rates"]
    if r["rows"]:
        out.append(_rates_table(Rates(r["rows"], r["interval_ns"], 0, r["empty_listed"])))
    rc = data["xmit_rc"]
    if any(x["rc"] != 0 for x in rc):
        out.append(Table("xmit_rc", "net_dev_xmit return codes (non-zero: the driver refused the packet)", RC, rc))
    return out


def _tcp_tables(data: dict, t0: int) -> list[Table]:
    out = []
    rt = data["retransmits"]
    if rt["by_flow"]:
        total, events = rt["count"], _timed(rt["events"], t0)
        out.append(Table("retransmits", f"TCP retransmits by flow ({total:,} in all)", FLOWS, rt["by_flow"]))
        title = "TCP retransmits (all)" if len(events) >= total else f"TCP retransmits (first {len(events):,} of {total:,}; --top 0 lists all)"
        out.append(Table("retransmit_events", title, _labelled(RETRANS_EVENTS, events), events))
    if data["tcp_states"]:
        out.append(Table("tcp_states", "TCP state changes (sock:inet_sock_set_state)", STATES, data["tcp_states"]))
    cl = data["connect_latency"]
    lat_rows = []
    for kind in KIND_TITLES:
        lat = cl[kind]
        if lat["total"]["count"]:
            lat_rows.append({"kind": kind, "peer": "all", **lat["total"]})
            lat_rows += [{"kind": kind, "peer": k, **v} for k, v in lat["by_peer"].items()]
    if lat_rows:
        out.append(Table("connect_latency", "TCP handshake latency (connect: by daddr:dport; accept: by local saddr:sport)", LAT, lat_rows))
    if cl["failed"]:
        out.append(Table("connect_failed", "TCP handshakes that ended without ESTABLISHED", FAILED, cl["failed"]))
    if cl["listing"]:
        title = "Slowest handshakes" if data["limits"]["slower_than_ns"] is None else "Handshakes slower than the threshold"
        out.append(Table("connect_slow", title + shown_of(len(cl["listing"]), cl["listing_total"]), _labelled(SLOW, cl["listing"]),
                         _timed(cl["listing"], t0)))
    if data["events_seen"].get("inet_sock_set_state"):
        out.append(Table("unpaired", "Handshakes not paired", UNPAIRED,
                         [{"what": k, "count": v, "meaning": UNPAIRED_MEANING[k]} for k, v in cl["unpaired"].items()]))
    drops = data["drops"]
    if drops["by_reason"]:
        out.append(Table("drops_by_reason", f"Dropped packets by reason (skb:kfree_skb, {drops['count']:,} in all)", REASONS, drops["by_reason"]))
        out.append(Table("drops_by_location", f"Dropped packets by location (top {TOP_TABLE})", LOCATIONS, drops["by_location"][:TOP_TABLE]))
    return out


INPUTS = [
    Column("label", "INPUT"), Column("path", "PATH"), Column("events", "EVENTS", "count"), Column("lost_events", "LOST", "count"),
    Column("tx_packets", "TX PKTS", "count"), Column("tx_bytes", "TX BYTES", "count"),
    Column("rx_packets", "RX PKTS", "count"), Column("rx_bytes", "RX BYTES", "count"), Column("warnings", "WARNINGS", "count"),
]


def _input_row(i: dict) -> dict:
    s = i["source"]
    return {"label": i["label"], "path": s["path"], "events": s["events"], "lost_events": s["lost_events"],
            **{f"{side}_{k}": i["totals"][side][n] for side in ("tx", "rx") for k, n in (("packets", "count"), ("bytes", "bytes"))},
            "warnings": len(i["warnings"])}


def _rates_table(rates: Rates) -> Table:
    title = f"Per {rates.interval_ns / 1e9:g} s interval"
    if not rates.empty_listed:
        title += " (intervals without packets not listed)"
    if rates.rows[-1]["partial"]:
        title += "; the last one is partial: its rates are over its real length, to the end of the capture"
    rows = [{**r, "partial_mark": "partial" if r["partial"] else ""} for r in rates.rows]
    return Table("rates", title, _labelled(RATES, rows), rows)


UNPAIRED_MEANING = {
    "connect_without_end": "SYN_SENT with no later state change (connecting at the end of the capture)",
    "accept_without_end": "SYN_RECV with no later state change (handshake open at the end of the capture)",
    "connect_end_without_start": "left SYN_SENT with no SYN_SENT before it (connect began before the capture)",
    "accept_end_without_start": "left SYN_RECV with no SYN_RECV before it (began before the capture)",
}


def _side_title(side: str, event: str) -> str:
    if side == "tx":
        return f"Transmit packet sizes ({event}; len includes the link-layer header)"
    return f"Receive packet sizes ({event}; len excludes the link-layer header)"


def _size_hist(key: str, what: str, event: str, s: dict) -> Histogram:
    stats = {"count": s["count"], "average": s["bytes"] // s["count"], "total": s["bytes"]}  # as bpftrace's stats()
    side = "transmit" if key.startswith("tx") else "receive"
    return Histogram(key, f"{side} len ({event}), {what}", "bytes", s["log2_bytes"], stats=stats)


def _warnings(a: NetAnalysis, source: Source, tx_ev: str | None, rx_ev: str | None, rates: Rates) -> list[str]:
    w = _dev_miss(a, tx_ev, rx_ev)
    if rates.interval_ns != a.opts.interval_ns:
        w.append(
            f"--interval {a.opts.interval_ns / 1e9:g} s gives {rates.busy:,} intervals with packets, more than the "
            f"{MAX_RATE_ROWS:,} rows the rates table keeps: the interval was widened to {rates.interval_ns / 1e9:g} s"
        )
    if source.lost_events:
        per_cpu = ", ".join(f"CPU {c}: {n:,}" for c, n in sorted(source.lost_by_cpu.items()))
        w.append(f"the tracer lost {source.lost_events:,} events ({per_cpu or 'per CPU unknown'}): counts are low")
    # netif_rx queues a packet to the backlog that netif_receive_skb then delivers: on a device that
    # has both (lo, veth, tun) the counts are equal unless events were lost, which perf may do
    # without writing a LOST record (fixtures/net: net-retrans.perf.txt).
    sizes = a.sizes.frame
    if sizes.height:
        per = sizes.group_by("event", "dev").agg(pl.col("n").sum())
        both = per.filter(pl.col("event") == "netif_rx").join(per.filter(pl.col("event") == "netif_receive_skb"), on="dev")
        for r in both.filter(pl.col("n") != pl.col("n_right")).sort("dev").to_dicts():
            w.append(
                f"device {r['dev']}: netif_rx ({r['n']:,}) and netif_receive_skb ({r['n_right']:,}) differ: "
                "the capture lost events (perf can drop them without a LOST record); counts are low"
            )
    if source.skipped.count:
        w.append(source.skipped.describe())
    return w


def _dev_miss(a: NetAnalysis, tx_ev: str | None, rx_ev: str | None) -> list[str]:
    """--dev that matches no packet: the devices the capture has, with their packets (both directions)."""
    dev = a.opts.dev
    if dev is None or not a.devices.frame.height:
        return []
    counted = a.devices.frame.filter(pl.col("event").is_in([e for e in (tx_ev, rx_ev) if e]))
    have = counted.group_by("dev").agg(pl.col("n").sum()).sort(["n", "dev"], descending=[True, False]).head(8)
    if dev in counted["dev"].to_list():
        return []
    shown = ", ".join(f"{d} ({n:,} packets)" for d, n in zip(have["dev"].to_list(), have["n"].to_list()))
    return [f"no packets match --dev {dev}: the capture has devices {shown}"]


def _notes(a: NetAnalysis, tx_ev: str | None, rx_ev: str | None) -> list[str]:
    n = []
    for side, ev, cands in (("transmit", tx_ev, TX_EVENTS), ("receive", rx_ev, RX_EVENTS)):
        unused = [f"{e} ({a.seen[e]:,})" for e in cands if e != ev and a.seen.get(e)]
        if ev:
            extra = f"; also in the capture, not counted again: {', '.join(unused)}" if unused else ""
            n.append(f"{side} counted from {_system(ev)}:{ev}{extra}")
        else:
            n.append(f"no {side} events: record net:{cands[0]}")
    if tx_ev and rx_ev:
        n.append("transmit len includes the link-layer header (14 bytes on Ethernet/veth/lo); receive len excludes it")
    if tx_ev == "net_dev_queue" and a.seen.get("net_dev_xmit") not in (None, a.seen["net_dev_queue"]):
        n.append("net_dev_queue fires once per GSO skb (up to 64 KiB); net_dev_xmit once per segment after segmentation")
    if a.seen.get("tcp_retransmit_skb") or a.seen.get("kfree_skb"):
        n.append("the comm on retransmits and drops is often softirq or idle context, not the socket's owner")
    if a.latency.get("accept", "total").count:
        n.append("accept latency runs from the child socket's SYN_RECV (made when the handshake's last ACK arrives) to ESTABLISHED")
    if a.seen.get("inet_sock_set_state") and not a.keyed_by_skaddr:
        n.append("without skaddr (text captures) connects are keyed by saddr, daddr:dport and paired first-in first-out")
    return n
