//! The text scanner over any bytes, in both dialects, cut into chunks at the fuzzer's choice:
//! it must not panic, and what it reports must add up (every line is one thing, numbered once).

use crate::text::line::{self, Dialect, Named};
use crate::text::{Config, Scanner};

fn cfg(dialect: Dialect, flags: u8) -> Config {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    Config {
        dialect,
        stacks: flags & 1 == 0,
        payload: flags & 2 == 0,
        lane: flags & 2 != 0, // as the block report reads: no payload, block events in the lane
        block_events: s(&["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete", "block:block_rq_requeue"]),
        net_events: s(&["net:net_dev_xmit", "net:netif_receive_skb"]),
        systems: vec![("block_".into(), "block".into()), ("net_dev_".into(), "net".into())],
        exact: vec![("print".into(), "ftrace:print".into())],
    }
}

pub fn check(data: &[u8]) {
    let Some((&flags, data)) = data.split_first() else { return };
    let dialect = if flags & 4 == 0 { Dialect::Perf } else { Dialect::Ftrace };
    let mut s = Scanner::new(cfg(dialect, flags));
    // chunks end on line boundaries, as parsers/text.py cuts them; the fuzzer picks how many lines each holds
    let step = usize::from(flags >> 4) + 1;
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut events = 0;
    let mut skipped = 0;
    for (i, group) in lines.chunks(step).enumerate() {
        let chunk = group.concat();
        let last = (i + 1) * step >= lines.len();
        let cuts = if flags & 8 != 0 && i == 0 { vec![b"cut".to_vec()] } else { Vec::new() };
        if let Some(out) = s.scan(&chunk, &cuts, last) {
            events += out.kinds.iter().map(|k| k.len()).sum::<usize>() + out.lane.len();
            let strings = out.lane_strings_before + out.lane_new.1 as usize;
            assert!(out.lane.dev.iter().chain(&out.lane.comm).chain(&out.lane.rwbs).all(|&c| (c as usize) < strings));
            assert_eq!(out.lane.stats.iter().map(|k| k.n as usize).sum::<usize>(), out.lane.len());
            skipped += out.skipped as usize;
            for k in &out.kinds {
                assert!(k.comm.codes.iter().all(|&c| c <= k.comm.n));
                assert_eq!(k.stack_id.len(), k.len());
            }
        }
        if last {
            break;
        }
    }
    if lines.is_empty() {
        assert!(s.scan(b"", &[], true).is_some());
    }
    known_names_read_as_the_full_read(&lines, dialect);
    reads_join_back_into_the_input(data, usize::from(flags >> 3) + 1);
    assert!(events + skipped <= lines.len() + 1);
    if flags & 1 != 0 && flags & 8 == 0 {
        // without call chains the chunks scanned on their own (two scanners, every other chunk, as
        // parsers/text_alone.py drives them) add up to the same events and skipped lines
        let mut two = [Scanner::new(cfg(dialect, flags)), Scanner::new(cfg(dialect, flags))];
        let (mut alone_events, mut alone_skipped, mut after_head) = (0, 0, false);
        for (i, group) in lines.chunks(step).enumerate() {
            let out = two[i % 2].scan_alone(b"", &group.concat(), &[], after_head);
            alone_events += out.kinds.iter().map(|k| k.len()).sum::<usize>() + out.lane.len();
            alone_skipped += out.skipped as usize;
            after_head |= out.heads > 0 || out.markers > 0;
        }
        assert_eq!((alone_events, alone_skipped), (events, skipped));
    }
}

/// A line whose name is known (line::Named, learned from the lines before it) splits into the
/// head the full reading gives it: the same event, payload and comm.
fn known_names_read_as_the_full_read(lines: &[&[u8]], dialect: Dialect) {
    let mut named = Named::default();
    for (i, l) in lines.iter().enumerate() {
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        let full = line::head(l, dialect);
        let Some(lead) = line::lead(l, dialect) else { continue };
        if let Some((h, kind)) = named.known(&lead, dialect) {
            let full = full.expect("a known name on a line the full reading refuses");
            assert_eq!((&h.event, h.payload, h.comm, h.named), (&full.event, full.payload, full.comm, full.named));
            assert!(kind < i);
        } else if let Some(h) = full {
            named.learn(&h, i);
        }
    }
}

/// The native reading's chunks (text_ahead.rs `Reads`), in reads of any size: whole lines that
/// join back into the input (a fuzz input has no line over the bound, so nothing is cut).
fn reads_join_back_into_the_input(data: &[u8], size: usize) {
    let mut r = crate::text::ahead::Reads::new(data, size);
    let mut joined = Vec::new();
    while let Some(p) = r.next(Vec::new()).expect("reading a slice cannot fail") {
        assert!(p.cuts.is_empty());
        let lines = [p.head.as_slice(), &p.data[..p.end]].concat();
        assert!(p.last || lines.ends_with(b"\n"), "a chunk that is not the last ends inside a line");
        joined.extend(lines);
        if p.last {
            assert!(r.next(Vec::new()).unwrap().is_none());
            break;
        }
    }
    assert_eq!(joined, data);
}
