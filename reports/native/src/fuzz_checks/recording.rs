//! Arbitrary finished requests (any times, latencies, nulls, string codes), in arbitrary batches,
//! some filtered out, through the recording: it must not panic, and what it counted must add up.
//!
//!     cd reports/native && RUSTC_BOOTSTRAP=1 cargo fuzz run recording -- -max_total_time=300

use crate::pairing::NULL;
use crate::recording::{Finished, Options, Recording, Strings, KEEP_PER_CELL};

fn i64_of(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    for (x, y) in a.iter_mut().zip(b) {
        *x = *y;
    }
    i64::from_le_bytes(a)
}

/// 16 bytes per request: nulls, codes, a time step and three latencies (small or extreme).
fn request(b: &[u8], ts: &mut i64) -> (Finished, bool, bool) {
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    let nulls = byte(0);
    *ts = match byte(1) % 8 {
        0 => i64_of(b.get(8..16).unwrap_or(&[])), // anywhere, i64::MIN and MAX too
        s => ts.wrapping_add(i64::from(s) * 1_000_000_000), // seconds apart: the axes widen
    };
    let lat = |i: usize, bit: u8| (nulls & bit == 0).then(|| match byte(i) % 4 {
        0 => -i64::from(byte(i + 1)), // negative: counted, left out
        1 => i64::MAX - i64::from(byte(i + 1)),
        _ => i64::from(byte(i + 1)) << (byte(i) % 48),
    });
    let code = |i: usize| match byte(i) % 5 {
        4 => NULL,
        c => u32::from(c), // code 3 is past the string table: no string
    };
    let r = Finished {
        ts: (nulls & 1 == 0).then_some(*ts),
        dev: code(2),
        rwbs: code(3),
        op: b"RW?"[usize::from(byte(3) % 3)],
        comm: code(4),
        pid: (nulls & 2 == 0).then_some(i32::from(byte(5) % 3)),
        sector: (nulls & 4 == 0).then_some(u64::from(byte(6) % 4)),
        nr: None,
        bytes: (nulls & 8 == 0).then_some(u64::from(byte(7)) << 56),
        parts: Some(0),
        phases: [lat(2, 16), lat(4, 32), lat(6, 64)],
    };
    (r, byte(5) % 7 != 0, byte(7) % 9 == 0)
}

pub fn check(data: &[u8]) {
    let head = |i: usize| data.get(i).copied().unwrap_or(0);
    let opts = Options {
        t0: i64_of(data.get(..8).unwrap_or(&[])) >> (head(8) % 64),
        unit_ns: [1, 1000, 1_000_000, 1_000_000_000][usize::from(head(9) % 4)],
        keep_slow: usize::from(head(10) % 4) + 1,
        slower_than: (head(11) % 2 == 0).then_some(i64::from(head(12))),
    };
    let mut rec = Recording::new(opts);
    rec.strings = Strings(vec![Some("b".into()), None, Some("a".into())]);
    let (mut ts, mut batch, mut kept) = (opts.t0, Vec::new(), Vec::new());
    let (mut n, mut matched) = (0u64, 0u64);
    for b in data.get(13..).unwrap_or(&[]).chunks(16) {
        let (r, keep, cut) = request(b, &mut ts);
        batch.push(r);
        kept.push(keep);
        if cut {
            rec.record(batch.len(), |i| batch[i].clone(), |i| kept[i]);
            n += batch.len() as u64;
            matched += kept.iter().filter(|&&k| k).count() as u64;
            batch.clear();
            kept.clear();
        }
    }
    rec.record(batch.len(), |i| batch[i].clone(), |i| kept[i]);
    n += batch.len() as u64;
    matched += kept.iter().filter(|&&k| k).count() as u64;
    assert_eq!(rec.tally.values().sum::<u64>(), n);
    assert_eq!(rec.matched, matched);
    for (p, heat) in rec.heat.iter().enumerate() {
        let in_cells: u64 = heat.cells.values().map(|c| u64::from(c.n)).sum();
        let in_dists: u64 = rec.dists[p].totals.iter().map(|t| t.n).sum();
        assert_eq!(rec.dists[p].cells().map(|(_, _, n)| n).sum::<u64>(), in_dists);
        assert!(in_cells <= in_dists); // a request without a time has no heat-map cell
        assert!(heat.cells.values().all(|c| c.kept.len() <= KEEP_PER_CELL && c.kept.len() as u64 <= u64::from(c.n)));
    }
    let keep = opts.keep_slow;
    let slow = rec.slowest();
    assert!(slow.len() <= keep);
    assert!(slow.windows(2).all(|w| w[0].phases[0] >= w[1].phases[0]));
}
