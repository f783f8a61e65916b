"""Exact merges of net reports: several captures' (or saved JSON reports') packets, retransmits,
handshakes and drops made into one, as ``merge.py`` does for block.

Sizes merge through their value counts (``sizes``: packets per len per device), so the merged
percentiles are the nearest-rank percentiles of the concatenated packets, computed by the very code
one report uses (``size_stats``); handshake latency merges through HdrHistograms (``merge_stats``);
tallies add. Rates per interval are each input's own rows, labelled: two captures' intervals start
at their own first event and do not line up.
"""
from __future__ import annotations

import polars as pl

from ..parsers.errors import TraceParseError
from .merge import _add_counts, _label, _labels, _same, _union, _window, add_buckets, by_host, merge_source, merge_stats
from .net_tables import KIND_TITLES, LISTING_KEYS, _by_state, _empty_size, _rates, size_stats

NET_KEYS = ("source", "window", "filters", "events_seen", "tx", "rx", "by_process", "rates", "xmit_rc", "retransmits",
            "tcp_states", "connect_latency", "drops", "warnings", "notes")
MERGE_KEYS = ("unit", "limits", "histograms")  # what a net report carries since it merges
HOSTS_NOTE = ("inputs of several hosts, each on its own clock: packets/s and MB/s are the sum of each host's own rate, "
              "the window's duration the longest host's, and TIME(s) counts from each input's own start")


def merge_net(datas: list[dict]) -> dict:
    """Inputs of one label merge on one clock; inputs of several hosts each keep their own (as block)."""
    for d in datas:
        _check(d)
    _same(datas, "filters", "were made with different --dev")
    _same(datas, "unit", "were made with different --unit; use one --unit")
    _same(datas, "limits", "were made with different --top/--slower-than")
    return by_host(datas, _combine)


def _check(d: dict) -> None:
    missing = [k for k in NET_KEYS if k not in d]
    if missing:
        raise TraceParseError(f"merge: {_label(d)}: not a complete net report (no {', '.join(missing)})")
    old = [k for k in MERGE_KEYS if k not in d] + [f"{s}.sizes" for s in ("tx", "rx") if "sizes" not in d[s]]
    if old:
        raise TraceParseError(f"merge: {_label(d)}: saved by a traceparse that could not merge net reports yet "
                              f"(no {', '.join(old)}); run this traceparse on its capture")


def _combine(datas: list[dict], per_host: bool) -> dict:
    window = _window([d["window"] for d in datas], per_host)
    dur = window["duration_ns"]
    inputs = [i for d in datas for i in _inputs(d)]
    notes = _union(n for d in datas for n in d["notes"])
    first = datas[0]
    return {
        "report": "net",
        "source": merge_source([d["source"] for d in datas]),
        "window": window,
        "filters": first["filters"],
        "events_seen": dict(sorted(_add_counts([d["events_seen"] for d in datas]).items())),
        "tx": _direction([d["tx"] for d in datas], dur, per_host),
        "rx": _direction([d["rx"] for d in datas], dur, per_host),
        "by_process": _processes(datas, dur, per_host),
        "rates": _rates_rows(datas, window["start_ns"], per_host),
        "xmit_rc": _tally([d["xmit_rc"] for d in datas], ("dev", "rc"), order=("dev", "rc")),
        "retransmits": _retransmits(datas, per_host),
        "tcp_states": _tally([d["tcp_states"] for d in datas], ("old", "new")),
        "connect_latency": _latency(datas, per_host),
        "drops": _drops([d["drops"] for d in datas]),
        "warnings": [f"{i['label']}: {w}" for i in inputs for w in i["warnings"]],
        "notes": _union([*notes, HOSTS_NOTE]) if per_host else notes,
        "unit": first["unit"],
        "limits": first["limits"],
        "histograms": {k: add_buckets([d["histograms"][k] for d in datas]) for k in KIND_TITLES},
        "inputs": inputs,
    }


def _inputs(d: dict) -> list[dict]:
    if "inputs" in d:
        return d["inputs"]
    return [{"label": _label(d), "source": d["source"], "window": d["window"],
             "totals": {s: d[s]["total"] for s in ("tx", "rx")}, "warnings": d["warnings"]}]


def _direction(sides: list[dict], dur: int, per_host: bool) -> dict:
    """Sizes from the added value counts; rates over the merged window (several hosts: summed)."""
    events = _union(s["event"] for s in sides if s["event"] is not None)
    if len(events) > 1:
        raise TraceParseError(f"merge: the reports count packets at different events ({', '.join(events)}); "
                              "record the same tracepoints on every host")
    counts: dict[tuple[str, int], int] = {}
    for s in sides:
        for dev, pairs in s["sizes"].items():
            for ln, n in pairs:
                counts[dev, ln] = counts.get((dev, ln), 0) + n
    if not counts:
        return {"event": events[0] if events else None, "total": _empty_size(), "by_device": {}, "sizes": {}}
    vals = pl.DataFrame({"dev": [k[0] for k in counts], "len": [k[1] for k in counts], "n": list(counts.values())},
                        schema={"dev": pl.String, "len": pl.Int64, "n": pl.Int64})
    total = size_stats(vals.group_by("len").agg(pl.col("n").sum()).with_columns(all=pl.lit("")), "all")[""]
    total.update(_host_rates([s["total"] for s in sides], total, dur, per_host))
    by_dev = size_stats(vals, "dev")
    for dev, st in by_dev.items():
        st.update(_host_rates([s["by_device"].get(dev) for s in sides], st, dur, per_host))
    sizes = {dev: [[ln, n] for (d, ln), n in sorted(counts.items()) if d == dev] for dev in sorted(by_dev)}
    return {"event": events[0], "total": total, "by_device": by_dev, "sizes": sizes}


def _host_rates(parts: list[dict | None], merged: dict, dur: int, per_host: bool) -> dict:
    if not per_host:
        return _rates(merged["count"], merged["bytes"], dur)
    return {k: sum((p or {}).get(k) or 0 for p in parts) for k in ("pps", "mb_s")}


def _processes(datas: list[dict], dur: int, per_host: bool) -> list[dict]:
    """Senders by (pid, comm, dev); of several hosts by (label, pid, comm, dev)."""
    groups: dict[tuple, dict] = {}
    for d in datas:
        for r in d["by_process"]:
            label = (r.get("label") or _labels(d)[0]) if per_host else r.get("label")
            g = groups.setdefault((label, r["pid"], r["comm"], r["dev"]), {"packets": 0, "bytes": 0, "pps": 0.0, "mb_s": 0.0})
            for k in ("packets", "bytes"):
                g[k] += r[k]
            for k in ("pps", "mb_s"):
                g[k] += r[k] or 0
    out = []
    for (label, pid, comm, dev), g in groups.items():
        rates = {"pps": g["pps"], "mb_s": g["mb_s"]} if per_host else _rates(g["packets"], g["bytes"], dur)
        out.append({**({"label": label} if label is not None else {}), "pid": pid, "comm": comm, "dev": dev,
                    "packets": g["packets"], "bytes": g["bytes"], **rates})
    return sorted(out, key=lambda r: (-r["bytes"], -r["packets"], r["comm"], r["pid"], r["dev"], r.get("label") or ""))


def _rates_rows(datas: list[dict], t0: int, per_host: bool) -> dict:
    """Each input's rows, labelled; TIME(s) from the merged start (one host) or the row's own input's."""
    rates = [d["rates"] for d in datas]
    steps = _union(r["interval_ns"] for r in rates if r["rows"])
    if len(steps) > 1:
        raise TraceParseError("merge: the reports' rate intervals differ (one was widened past its row bound); "
                              "use one --interval that every input keeps")
    rows = []
    for d in datas:
        for r in d["rates"]["rows"]:
            r = {"label": r.get("label") or _label(d), **r}
            if not per_host:  # one clock: intervals placed from the merged start
                r["time_s"] = (r["start_ns"] - t0) / 1e9
            rows.append(r)
    rows.sort(key=(lambda r: (r["label"], r["time_s"])) if per_host else (lambda r: (r["start_ns"], r["label"])))
    return {"interval_ns": steps[0] if steps else rates[0]["interval_ns"], "requested_interval_ns": rates[0]["requested_interval_ns"],
            "empty_listed": all(r["empty_listed"] for r in rates), "rows": rows}


def _tally(lists: list[list[dict]], keys: tuple[str, ...], order: tuple[str, ...] | None = None, name: str = "count") -> list[dict]:
    """Rows counted by ``keys`` added; most frequent first, ties by the keys (as one report's
    ``_counts``), or in ``order``."""
    counts: dict[tuple, int] = {}
    for rows in lists:
        for r in rows:
            k = tuple(r[c] for c in keys)
            counts[k] = counts.get(k, 0) + r[name]
    out = [{**dict(zip(keys, k)), name: n} for k, n in counts.items()]
    if order:
        return sorted(out, key=lambda r: tuple(r[c] for c in order))
    return sorted(out, key=lambda r: (-r[name], *(r[c] for c in keys)))


def _retransmits(datas: list[dict], per_host: bool) -> dict:
    rt = [d["retransmits"] for d in datas]
    flows = _tally([x["by_flow"] for x in rt], ("flow", "saddr_port", "daddr_port", "state"))
    limit = datas[0]["limits"]["retransmits"]
    events = sorted(_listed(datas, lambda d: d["retransmits"]["events"], per_host),
                    key=lambda r: (*_when(r, per_host), r["flow"] or "", r["state"]))
    return {"count": sum(x["count"] for x in rt), "by_state": _by_state(flows), "by_flow": flows,
            "events": events[:limit] if limit else events}


def _listed(datas: list[dict], rows_of, per_host: bool) -> list[dict]:
    """Listing rows of every input, labelled; several hosts: each with its time from its own start."""
    out = []
    for d in datas:
        t0 = d["source"].get("first_ts_ns") or 0
        for r in rows_of(d):
            r = {"label": r.get("label") or _label(d), **r}
            if per_host:
                r.setdefault("time_ns", r["ts_ns"] - t0)
            elif len(_labels(d)) == 1:
                r.pop("time_ns", None)
            out.append(r)
    return out


def _when(r: dict, per_host: bool):
    return (r["time_ns"], r["label"]) if per_host else (r["ts_ns"],)


def _latency(datas: list[dict], per_host: bool) -> dict:
    cls = [d["connect_latency"] for d in datas]
    out: dict = {}
    for kind in KIND_TITLES:
        peers = sorted({p for c in cls for p in c[kind]["by_peer"]})
        out[kind] = {"total": merge_stats([c[kind]["total"] for c in cls], None),
                     "by_peer": {p: merge_stats([c[kind]["by_peer"][p] for c in cls if p in c[kind]["by_peer"]], None) for p in peers}}
    limits = datas[0]["limits"]
    rows = _listed(datas, lambda d: d["connect_latency"]["listing"], per_host)
    # the slowest first, ties by time, kind, flow (as NetAnalysis keeps them); a threshold's: in time order
    rows.sort(key=lambda r: (-r["lat_ns"], r["ts_ns"], r["kind"], r["flow"] or ""))
    if limits["listing"]:
        rows = rows[: limits["listing"]]
    if limits["slower_than_ns"] is not None:
        rows.sort(key=lambda r: _when(r, per_host))
    return {
        **out,
        "failed": _tally([c["failed"] for c in cls], ("kind", "peer", "outcome")),
        "unpaired": _add_counts([c["unpaired"] for c in cls]),
        "listing_total": sum(c["listing_total"] for c in cls),
        "listing": [{k: r[k] for k in ("label", *LISTING_KEYS, "time_ns") if k in r} for r in rows],
    }


def _drops(drops: list[dict]) -> dict:
    return {"count": sum(x["count"] for x in drops),
            "by_reason": _tally([x["by_reason"] for x in drops], ("reason",)),
            "by_location": _tally([x["by_location"] for x in drops], ("location",))}
