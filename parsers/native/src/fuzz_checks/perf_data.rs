//! Any bytes as a perf.data, in file mode and in pipe mode: the scanner ends (an `OpenError`, an
//! end, or a `Damage` with its offset) and never panics, loops or allocates without bound; with the
//! block lane set (6.x's block_rq_issue offsets, as a format file would place them) too. In file
//! mode the records read ahead by a thread of their own (perf_ahead.rs) give what reading them in
//! place gives: the same batches, records, damage and skips.

use std::io::Cursor;

use crate::block_fields::{IntField, StrField};
use crate::perf_data::{LaneCfg, LaneKind, Scanner};
use crate::text::lane::ISSUE;

/// Every batch and how the reading ended, as text; None where the bytes do not open.
fn read_all(data: &[u8], ahead: bool) -> Option<String> {
    let mut s = Scanner::open(Box::new(Cursor::new(data.to_vec())), false).ok()?;
    if ahead {
        assert!(s.read_ahead(), "a reading thread");
    }
    let mut out = String::new();
    loop {
        let b = s.next_batch(1 << 10, 1 << 16);
        out += &format!("{b:?}\n");
        if b.is_empty() && b.lost.is_empty() {
            let k = s.skips();
            out += &format!("{} {:?} {:?} {}", s.records, s.damage, (k.stretches, k.bytes, k.first), s.bad_records);
            return Some(out);
        }
    }
}

pub fn check(data: &[u8]) {
    assert_eq!(read_all(data, false), read_all(data, true), "reading ahead and in place differ");
    for (pipe, lane) in [(false, false), (true, false), (false, true)] {
        let Ok(mut s) = Scanner::open(Box::new(Cursor::new(data.to_vec())), pipe) else { continue };
        if lane {
            let int = |offset, size| IntField { offset, size, signed: false };
            let kind = LaneKind {
                id: i64::from(data.first().copied().unwrap_or(0)),
                kind: ISSUE,
                fixed_end: 44,
                dev: int(8, 4),
                sector: int(16, 8),
                nr_sector: Some(int(24, 4)),
                bytes: Some(int(28, 4)),
                rwbs: Some(StrField { offset: 34, size: 10 }),
            };
            s.lane = Some(LaneCfg::new(int(0, 2), vec![kind], vec![true; 4]));
        }
        let _ = s.tracing_data();
        loop {
            let b = s.next_batch(1 << 10, 1 << 16);
            if b.is_empty() && b.lost.is_empty() {
                break;
            }
        }
    }
}
