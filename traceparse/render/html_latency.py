"""Which latencies a report has, for the HTML page: (key, title, STATS, heat map) read from report.data.

block: D2C, I2C, I2D (``latency/<phase>/total``); net: TCP connect and accept handshakes
(``connect_latency/<kind>/total``); the pair presets: each metric's whole (``groups`` with key {}).
The heat maps are ``heatmaps/<key>`` of the same data (reports/heatmap.py).
"""
from __future__ import annotations

from ..reports.block_tables import PHASE_TITLES

NET_TITLES = {"connect": "TCP connect latency (SYN_SENT -> ESTABLISHED)", "accept": "TCP accept latency (SYN_RECV -> ESTABLISHED)"}


def latencies(report) -> list[tuple[str, str, dict, dict | None]]:
    data = report.data or {}
    heat = data.get("heatmaps") or {}
    out = []
    if report.kind == "block" and isinstance(data.get("latency"), dict):
        for phase, title in PHASE_TITLES.items():
            stats = (data["latency"].get(phase) or {}).get("total") or {}
            if stats.get("count"):
                out.append((phase, title, stats, heat.get(phase)))
    elif report.kind == "net" and isinstance(data.get("connect_latency"), dict):
        for kind, title in NET_TITLES.items():
            stats = (data["connect_latency"].get(kind) or {}).get("total") or {}
            if stats.get("count"):
                out.append((kind, title, stats, heat.get(kind)))
    elif isinstance(data.get("groups"), list) and report.kind not in ("diff", "hist", "count"):
        titles = {t.key: t.title for t in report.tables}
        for g in data["groups"]:
            if isinstance(g, dict) and g.get("key") == {} and isinstance(g.get("stats"), dict) and g["stats"].get("count"):
                metric = g.get("metric", "latency")
                out.append((metric, titles.get(metric, metric), g["stats"], heat.get(metric)))
    return out
