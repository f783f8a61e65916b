//! Arbitrary block event sequences, cut into arbitrary chunks, through the pairing kernel with a
//! tiny table: it must not panic, and every complete must be accounted for exactly once.
//!
//!     cd reports/native && RUSTC_BOOTSTRAP=1 cargo fuzz run pairing -- -max_total_time=300

use crate::pairing::{pair_chunk, Bounds, Event, EventValues, OpenTable, Ops, Scratch, NULL};

/// 12 bytes per event: kind, key, time step, rwbs, sector count, nulls, chunk cut.
fn event(b: &[u8], ts: &mut i64) -> (Event, bool) {
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    *ts += i64::from(byte(2) % 4) - 1; // times mostly rise, sometimes repeat or step back
    let nulls = byte(6);
    let sector = match byte(1) % 8 {
        7 => u64::MAX,     // a flush's complete has no sector
        6 => u64::MAX - 3, // a partial rest here would wrap
        s => u64::from(s) * 8,
    };
    let e: Event = EventValues {
        kind: byte(0) % 5, // 0 and 4 are no kinds the caller sends: ignored
        key: (nulls & 1 == 0).then_some((u64::from(byte(3) % 2), sector)),
        dev: u32::from(byte(3) % 2),
        ts: (nulls & 2 == 0).then_some(*ts),
        comm: if nulls & 4 == 0 { u32::from(byte(4) % 3) } else { NULL },
        pid: (nulls & 8 == 0).then_some(i32::from(byte(4))),
        rwbs: if nulls & 16 == 0 { u32::from(byte(5) % 6) } else { NULL }, // codes past the op table too
        nr: (nulls & 32 == 0).then_some(u32::from(byte(7) % 20)),
        bytes: (nulls & 64 == 0).then_some(u64::from(byte(8)) * 512),
        sector: (nulls & 1 == 0).then_some(sector),
    }
    .into();
    (e, byte(9) % 8 == 0)
}

pub fn check(data: &[u8]) {
    let ops = Ops(b"RWFN");
    let bounds = Bounds { hot_rows: usize::from(data.first().copied().unwrap_or(0) % 5), max_open: usize::from(data.get(1).copied().unwrap_or(0) % 7) };
    let mut table = OpenTable::default();
    let (mut ts, mut chunk, mut completes) = (0i64, Vec::new(), 0usize);
    let (mut taken, mut mismatched, mut dropped) = (0usize, 0usize, 0usize);
    let mut scratch = Scratch::default();
    let mut flush = |chunk: &mut Vec<Event>, table: &mut OpenTable| {
        let p = pair_chunk(table, chunk, &ops, bounds, &mut scratch);
        // a complete is mismatched, or taken: then partial, finished, or without issue (or both
        // finished and without issue: an inserted request that was never issued)
        let both = p.done.iter().filter(|d| d.req.iss_ts.is_none()).count();
        taken += p.partials.len() + p.done.len() + p.without_issue.len() - both;
        mismatched += p.mismatched.len();
        dropped += p.dropped.len();
        assert!(table.len() <= bounds.max_open + bounds.hot_rows + chunk.len());
        chunk.clear();
    };
    for b in data.get(2..).unwrap_or(&[]).chunks(12) {
        let (e, cut) = event(b, &mut ts);
        completes += usize::from(e.kind == 3);
        chunk.push(e);
        if cut {
            flush(&mut chunk, &mut table);
        }
    }
    flush(&mut chunk, &mut table);
    assert_eq!(taken + mismatched, completes);
    assert_eq!(table.all().len(), table.len());
    let _ = dropped;
}
