"""`traceparse net`: packet sizes, rates, senders, TCP retransmits, connect latency and drops.

The offline counterpart of bpftrace's ``hist(args->len)`` on net:net_dev_queue, bcc's tcpretrans,
tcpconnlat/tcpaccept (from sock:inet_sock_set_state) and dropwatch (skb:kfree_skb). Input lines
it was written for (trace-cmd report, then perf script; fixtures/net/):

    iperf3-7936  [001]  3227.886620: net_dev_queue:        dev=veth-tpa skbaddr=0xffff88813fd0df00 len=42
    python3  7166 [001]  3166.989847: sock:inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP
        sport=43704 dport=40124 saddr=127.0.0.1 daddr=127.0.0.1 ... oldstate=TCP_SYN_SENT newstate=TCP_ESTABLISHED
    <idle>-0     [000]  3228.091509: tcp_retransmit_skb:   skbaddr=0x... skaddr=0x... family=AF_INET
        sport=52454 dport=5202 saddr=10.200.0.1 daddr=10.200.0.2 ... state=0x1 err=0
    iperf3  8024 [001]  3234.564388: skb:kfree_skb: skbaddr=0x... rx_sk=(nil) protocol=2048
        location=nft_do_chain+0x3e8 reason: NETFILTER_DROP

made by ``perf record -a -e net:net_dev_queue -e net:netif_receive_skb ... ; perf script``. A trace.dat
names states, reasons and locations as trace-cmd does (parsers/print_fmt.py) but gives addresses as
raw bytes (``saddr=127,0,0,1``) and adds ``skaddr=0x...``; both spellings are read, and bare numbers
(``oldstate=2``, from a kernel whose print fmt has no table) too.

One tracepoint per direction, so nothing is counted twice: transmit from net_dev_queue (else
net_dev_xmit), receive from netif_receive_skb (else netif_receive_skb_entry, napi_gro_receive_entry,
netif_rx). Every candidate is tallied while streaming; the choice is made in ``finish``, once the
whole capture has been seen. Tables and the JSON contract are built in net_tables.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ..parsers.errors import EmptyCaptureError, MissingEventsError, TraceParseError
from ..parsers.schema import Chunk
from ..parsers.source import Source
from .heatmap import Timeline, add_handshakes, add_packets, net_data
from .histogram import GroupedDistributions
from .result import UNIT_NS, Report
from .shared import DEFAULT_TOP, Tally, check_threshold, check_top, check_unit, listing_limit

TX_EVENTS = ("net_dev_queue", "net_dev_xmit")  # preference order
RX_EVENTS = ("netif_receive_skb", "netif_receive_skb_entry", "napi_gro_receive_entry", "netif_rx")
RETRANS, SET_STATE, KFREE = "tcp_retransmit_skb", "inet_sock_set_state", "kfree_skb"
NET_REPORT_EVENTS = (*TX_EVENTS, *RX_EVENTS, RETRANS, SET_STATE, KFREE)
# the kernel's system of each: `new:netif_rx` (a cut or foreign name) is not net's and has no typed columns
SYSTEM_OF = {RETRANS: "tcp", SET_STATE: "sock", KFREE: "skb"}


def report_event(name: str) -> str | None:
    """The short name of a full ``system:name`` this report reads, or None."""
    system, _, short = name.rpartition(":")
    return short if short in NET_REPORT_EVENTS and system == SYSTEM_OF.get(short, "net") else None
RECORD_HINT = (
    "perf record -a -e net:net_dev_queue -e net:netif_receive_skb -e tcp:tcp_retransmit_skb "
    "-e sock:inet_sock_set_state -e skb:kfree_skb -- sleep 10"
)
# include/net/tcp_states.h: a stable user-visible enum (ss, /proc/net/tcp), so a fixed table is safe.
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
    7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
    13: "BOUND_INACTIVE",
}
# (pairing kind, state that starts it): the end is the next change *out of* that state.
HANDSHAKES = {"connect": "SYN_SENT", "accept": "SYN_RECV"}
PAIR_SCHEMA = {
    "kind": pl.String, "key": pl.String, "ts_ns": pl.Int64, "seq": pl.Int64, "is_start": pl.Boolean,
    "pid": pl.Int32, "comm": pl.String, "flow": pl.String, "peer": pl.String, "new": pl.String,
}


@dataclass
class NetOptions:
    interval_ns: int = 1_000_000_000  # rates table bucket
    unit: str = "us"  # connect latency display unit
    slower_than_ns: int | None = None  # connect latency listing threshold
    top: int | None = None  # rows in listings (0: all; None: 10, and every handshake past slower_than_ns)
    dev: str | None = None  # only packets on this device

    def __post_init__(self):
        # every check runs here, so that a bad option fails before any input is read
        check_unit(self.unit)
        if isinstance(self.interval_ns, bool) or not isinstance(self.interval_ns, int) or self.interval_ns <= 0:
            raise TraceParseError(f"--interval must be a positive duration, e.g. 1s or 100ms (got {self.interval_ns} ns)")
        check_top(self.top)
        check_threshold(self.slower_than_ns)

    @property
    def limit(self) -> int:
        """Rows the handshake listing keeps (0: all)."""
        return listing_limit(self.top, self.slower_than_ns)

    @property
    def retrans_limit(self) -> int:
        return DEFAULT_TOP if self.top is None else self.top


def field_of(name: str, *aliases: str) -> pl.Expr:
    """The value of key ``name`` (or an alias) in the ``fields`` list of {key, value} structs."""
    keys = (name, *aliases)
    hit = pl.element().struct.field("key").is_in(keys)
    return pl.col("fields").list.eval(pl.element().filter(hit).struct.field("value")).list.first().alias(name)


def tcp_state(e: pl.Expr) -> pl.Expr:
    """'TCP_SYN_SENT' (named), '0x2' (tcp_retransmit_skb's unnamed value, printed in hex) or '2' -> 'SYN_SENT'."""
    num = (
        pl.when(e.str.starts_with("0x"))
        .then(e.str.slice(2).str.to_integer(base=16, strict=False))
        .otherwise(e.str.to_integer(strict=False))
    )
    named = num.replace_strict(TCP_STATES, default=None, return_dtype=pl.String)
    return pl.coalesce(named, pl.when(num.is_null()).then(e.str.strip_prefix("TCP_")), num.cast(pl.String))


def _host(frame: pl.DataFrame, v4: str, v6: str) -> pl.Series:
    """Printable host of each row: IPv4 as text ('127,0,0,1' from trace.dat -> '127.0.0.1'), IPv6 as [addr]."""
    fam = frame["family"].fill_null("")
    is6 = fam.is_in(["AF_INET6", "10"])
    four = frame[v4].str.replace_all(",", ".")
    if not is6.any():
        return four.fill_null("?")
    six = frame[v6]
    uniq = six.filter(is6).drop_nulls().unique().to_list()  # once per distinct address, not per event
    six = six.replace_strict({u: f"[{_v6(u)}]" for u in uniq}, default=None, return_dtype=pl.String)
    return pl.select(pl.when(is6).then(six).otherwise(four).fill_null("?")).to_series()


def _v6(text: str) -> str:
    import ipaddress

    if "," in text:  # trace.dat: u8[16] printed as 16 comma-separated bytes
        try:
            return ipaddress.IPv6Address(bytes(int(b) for b in text.split(","))).compressed
        except ValueError:
            return text
    return text


def _sockets(frame: pl.DataFrame) -> pl.DataFrame:
    """tcp_retransmit_skb / inet_sock_set_state rows with family, addresses and ports read from ``fields``."""
    f = frame.with_columns(
        field_of("family"), field_of("protocol"), field_of("skaddr"), field_of("sport"), field_of("dport"),
        field_of("saddr"), field_of("daddr"), field_of("saddrv6", "saddr_v6"), field_of("daddrv6", "daddr_v6"),
        field_of("state"), field_of("oldstate"), field_of("newstate"),
    )
    return f.with_columns(src_host=_host(f, "saddr", "saddrv6"), dst_host=_host(f, "daddr", "daddrv6")).with_columns(
        src=pl.concat_str("src_host", pl.lit(":"), pl.col("sport").fill_null("?")),
        dst=pl.concat_str("dst_host", pl.lit(":"), pl.col("dport").fill_null("?")),
        comm=pl.col("comm").cast(pl.String),
    ).with_columns(flow=pl.concat_str("src", pl.lit(" -> "), "dst"))


@dataclass
class NetAnalysis:
    """Streaming state: per-candidate-tracepoint tallies, open handshakes, listings, chunk after chunk."""

    opts: NetOptions = field(default_factory=NetOptions)

    def __post_init__(self):
        self.sizes = Tally(["event", "dev", "len"])  # exact value counts: percentiles are exact
        self.procs = Tally(["event", "pid", "comm", "dev"])
        self.rates = Tally(["event", "bucket"])
        self.xmit_rc = Tally(["dev", "rc"])
        self.retrans = Tally(["flow", "src", "dst", "state"])
        self.states = Tally(["old", "new"])
        self.failed = Tally(["kind", "peer", "outcome"])
        self.drop_reason = Tally(["reason"])
        self.drop_location = Tally(["location"])
        self.devices = Tally(["event", "dev"])  # packets per device before --dev: what a filter missing says
        self.retrans_events = pl.DataFrame()
        self.latency = GroupedDistributions(UNIT_NS[self.opts.unit])
        self.slow = pl.DataFrame()
        self.slow_total = 0  # handshakes the listing could show (past the threshold)
        self.pending = pl.DataFrame(schema=PAIR_SCHEMA)  # handshakes started, not ended; ends with no start
        self.seen: dict[str, int] = {}  # short event name -> events, before any --dev filter
        self.seq = 0
        self.keyed_by_skaddr = False  # trace.dat prints skaddr; text output does not
        self.t0: int | None = None
        self.timeline: Timeline | None = None  # heat maps and per-interval series (reports/heatmap.py)

    # --- streaming -----------------------------------------------------------------------------
    def feed(self, chunk: Chunk, source: Source) -> None:
        if self.t0 is None:
            self.t0 = source.first_ts_ns or 0
            self.timeline = Timeline(self.t0, ["comm", "pid", "flow"])
        by_short: dict[str, pl.DataFrame] = {}
        for name, frame in chunk.frames.items():
            short = report_event(name)
            if short is not None and frame.height:
                by_short[short] = frame
                self.seen[short] = self.seen.get(short, 0) + frame.height
        self._packets(by_short)
        if RETRANS in by_short:
            self._retransmits(_sockets(by_short[RETRANS]))
        if SET_STATE in by_short:
            self._set_state(_sockets(by_short[SET_STATE]))
        if KFREE in by_short:
            self._drops(by_short[KFREE])

    def _packets(self, by_short: dict[str, pl.DataFrame]) -> None:
        parts = [
            f.select(
                event=pl.lit(short), dev=pl.col("dev_name").fill_null("?"), len=pl.col("len").cast(pl.Int64),
                pid=pl.col("pid"), comm=pl.col("comm").cast(pl.String), ts_ns=pl.col("ts_ns"),
                payload=pl.col("payload"),
            )
            for short, f in by_short.items()
            if short in TX_EVENTS or short in RX_EVENTS
        ]
        if not parts:
            return
        pk = pl.concat(parts).filter(pl.col("len").is_not_null())
        self.devices.add(pk.group_by("event", "dev").agg(n=pl.len()))
        if self.opts.dev is not None:
            pk = pk.filter(pl.col("dev") == self.opts.dev)
        add_packets(self.timeline, pk, TX_EVENTS, RX_EVENTS)
        self.sizes.add(pk.group_by("event", "dev", "len").agg(n=pl.len()))
        self.procs.add(pk.group_by("event", "pid", "comm", "dev").agg(packets=pl.len(), bytes=pl.col("len").sum()))
        bucket = (pl.col("ts_ns") - self.t0).floordiv(self.opts.interval_ns)
        self.rates.add(pk.group_by("event", bucket=bucket).agg(packets=pl.len(), bytes=pl.col("len").sum()))
        xmit = pk.filter(pl.col("event") == "net_dev_xmit")
        if xmit.height:
            rc = pl.col("payload").str.extract(r"(?:^|\s)rc=(-?\d+)", 1).cast(pl.Int64, strict=False)
            self.xmit_rc.add(xmit.group_by("dev", rc=rc).agg(n=pl.len()))

    def _retransmits(self, r: pl.DataFrame) -> None:
        r = r.with_columns(state=tcp_state(pl.col("state")).fill_null("?"))
        self.retrans.add(r.group_by("flow", "src", "dst", "state").agg(n=pl.len()))
        ev = r.select("ts_ns", "comm", "pid", "flow", "state")
        both = pl.concat([self.retrans_events, ev]) if self.retrans_events.height else ev
        both = both.sort(["ts_ns", "flow", "state"], maintain_order=True)
        self.retrans_events = both.head(self.opts.retrans_limit) if self.opts.retrans_limit else both

    def _set_state(self, s: pl.DataFrame) -> None:
        # inet_sock_set_state also fires for SCTP and MPTCP sockets; the handshakes here are TCP's.
        s = s.filter(pl.col("protocol").is_null() | pl.col("protocol").is_in(["IPPROTO_TCP", "6"]))
        s = s.with_columns(old=tcp_state(pl.col("oldstate")).fill_null("?"), new=tcp_state(pl.col("newstate")).fill_null("?"))
        self.states.add(s.group_by("old", "new").agg(n=pl.len()))
        s = s.with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64) + self.seq)
        self.seq += s.height
        self.keyed_by_skaddr |= s["skaddr"].null_count() < s.height
        rows = []
        for kind, state in HANDSHAKES.items():
            # Key a socket by skaddr where the capture has it (trace.dat). Text output does not print it,
            # and at CLOSE -> SYN_SENT the source port is still 0 (tcp_v4_connect sets the state before
            # inet_hash_connect picks the port), so connects are keyed by saddr, daddr:dport and paired
            # first-in first-out; accepted sockets have all four from LISTEN -> SYN_RECV on.
            tuple_key = pl.concat_str("src_host", pl.lit(">"), "dst") if kind == "connect" else pl.col("flow")
            rows.append(
                s.filter((pl.col("new") == state) | (pl.col("old") == state)).select(
                    kind=pl.lit(kind), key=pl.coalesce("skaddr", tuple_key), ts_ns="ts_ns", seq="seq",
                    is_start=pl.col("new") == state, pid="pid", comm="comm", flow="flow",
                    peer=pl.col("dst") if kind == "connect" else pl.col("src"), new="new",
                )
            )
        self._pair(pl.concat([self.pending, *rows], how="vertical_relaxed"))

    def _pair(self, rows: pl.DataFrame) -> None:
        """First-in first-out pairing of handshake starts and ends per (kind, key), as columns.

        Walking a key's events in time, ``depth`` counts starts minus ends. An end that takes depth
        below every earlier value (and below 0) has no start to pair with: its socket began before
        the capture. The remaining ends pair with the starts in order: the n-th end with the n-th start.
        """
        grp = ["kind", "key"]
        r = rows.sort([*grp, "ts_ns", "seq"]).with_columns(
            depth=pl.when("is_start").then(1).otherwise(-1).cum_sum().over(grp)
        )
        r = r.with_columns(floor=pl.col("depth").cum_min().shift(1).over(grp).fill_null(0).clip(upper_bound=0))
        r = r.with_columns(orphan=~pl.col("is_start") & (pl.col("depth") < pl.col("floor")))
        live = r.filter(~pl.col("orphan")).with_columns(n=pl.int_range(pl.len()).over([*grp, "is_start"]))
        starts = live.filter("is_start").drop("is_start")
        ends = live.filter(~pl.col("is_start")).drop("is_start")
        done = starts.join(ends, on=[*grp, "n"], how="inner", suffix="_end")
        open_starts = starts.join(ends, on=[*grp, "n"], how="anti")
        self.pending = pl.concat(
            [
                open_starts.with_columns(is_start=pl.lit(True)).select(list(PAIR_SCHEMA)),
                r.filter("orphan").select(list(PAIR_SCHEMA)),
            ],
            how="vertical_relaxed",
        )
        if not done.height:
            return
        done = done.select(
            kind="kind", ts_ns="ts_ns", end_ts_ns="ts_ns_end", lat_ns=pl.col("ts_ns_end") - pl.col("ts_ns"),
            pid="pid", comm="comm", flow="flow_end", peer="peer", outcome="new_end",
        )
        ok = done.filter(pl.col("outcome") == "ESTABLISHED")
        self.failed.add(done.filter(pl.col("outcome") != "ESTABLISHED").group_by("kind", "peer", "outcome").agg(n=pl.len()))
        long = pl.concat(
            [ok.select(phase="kind", dim=pl.lit("total"), key=pl.lit(""), value_ns="lat_ns"),
             ok.select(phase="kind", dim=pl.lit("peer"), key="peer", value_ns="lat_ns")]
        )
        self.latency.add(long)
        add_handshakes(self.timeline, ok)
        cand = ok if self.opts.slower_than_ns is None else ok.filter(pl.col("lat_ns") >= self.opts.slower_than_ns)
        self.slow_total += cand.height
        both = pl.concat([self.slow, cand]) if self.slow.height else cand
        both = both.sort(["lat_ns", "ts_ns", "kind", "flow"], descending=[True, False, False, False])
        self.slow = both.head(self.opts.limit) if self.opts.limit else both

    def _drops(self, frame: pl.DataFrame) -> None:
        d = frame.select(field_of("reason"), field_of("location"))
        # kfree_skb has printed a reason since 5.17; older kernels give none.
        d = d.with_columns(reason=pl.col("reason").fill_null("(not recorded)"), location=pl.col("location").fill_null("?"))
        self.drop_reason.add(d.group_by("reason").agg(n=pl.len()))
        self.drop_location.add(d.group_by("location").agg(n=pl.len()))

    # --- end of capture ------------------------------------------------------------------------
    def finish(self, source: Source) -> Report:
        _check_events(source, self.seen)
        from .net_tables import build_report

        report = build_report(self, source)
        chosen = (self.chosen(TX_EVENTS), self.chosen(RX_EVENTS))
        report.data.update(net_data(self.timeline, self.window_ns(source)[1], chosen))  # added keys: heatmaps, series
        return report

    def chosen(self, candidates: tuple[str, ...]) -> str | None:
        """The tracepoint a direction is counted from: the first candidate the capture has."""
        return next((e for e in candidates if self.seen.get(e)), None)

    def window_ns(self, source: Source) -> tuple[int, int]:
        lo = source.first_ts_ns or 0
        return lo, max(source.last_ts_ns or lo, lo)


def _check_events(source: Source, seen: dict[str, int]) -> None:
    if not source.events:
        raise EmptyCaptureError(f"{source.path}: no events in this capture ({source.skipped.describe()})")
    if not seen:
        what = ("network events (net:net_dev_queue, net:netif_receive_skb, tcp:tcp_retransmit_skb, "
                "sock:inet_sock_set_state, skb:kfree_skb)")
        raise MissingEventsError(f"{source.path}: {source.missing(what, RECORD_HINT)}")


def net_report(source: Source, chunks, opts: NetOptions | None = None) -> Report:
    """Run the net analysis over ``chunks`` (from ``read_capture``) and return its Report."""
    analysis = NetAnalysis(opts or NetOptions())
    for chunk in chunks:
        analysis.feed(chunk, source)
    return analysis.finish(source)


__all__ = ["NetAnalysis", "NetOptions", "net_report", "TCP_STATES"]
