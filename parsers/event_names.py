"""The tracepoints the reports type fields of: block requests and packets.

A module of its own, importing nothing, for what must run before polars is imported (the reading
that prefetch.py starts while the reports are imported).
"""
from __future__ import annotations

BLOCK_EVENTS = (
    "block:block_rq_insert",
    "block:block_rq_issue",
    "block:block_rq_complete",
    "block:block_rq_requeue",
)
NET_EVENTS = (
    "net:net_dev_queue",
    "net:net_dev_xmit",
    "net:netif_receive_skb",
    "net:netif_receive_skb_entry",
    "net:netif_rx",
    "net:napi_gro_receive_entry",
)
