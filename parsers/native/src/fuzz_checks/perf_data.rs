//! Any bytes as a perf.data, in file mode and in pipe mode: the scanner ends (an `OpenError`, an
//! end, or a `Damage` with its offset) and never panics, loops or allocates without bound; with the
//! block lane set (6.x's block_rq_issue offsets, as a format file would place them) too. In file
//! mode the records read ahead by a thread of their own (perf_ahead.rs), and the batches made by
//! one (perf_decode.rs), give what reading them in place gives: the same batches, records, damage
//! and skips.

use std::io::Cursor;

use crate::block_fields::{IntField, StrField};
use crate::perf_data::{decode, LaneCfg, LaneKind, Scanner};
use crate::text::lane::ISSUE;

/// How a check reads: in place, with the records read ahead (perf_ahead.rs), or with the batches
/// made by a thread (perf_decode.rs) holding at most this many bytes of them.
#[derive(Clone, Copy, Debug)]
pub enum Reading {
    InPlace,
    Ahead,
    Decoded(usize),
}

/// Every batch (its columns, lost counts, pauses) up to the first empty one, as a caller reads
/// them, then the records, damage and skips; None where the bytes do not open.
pub fn read_all(data: &[u8], how: Reading) -> Option<String> {
    let mut s = Scanner::open(Box::new(Cursor::new(data.to_vec())), false).ok()?;
    if matches!(how, Reading::Ahead) {
        assert!(s.read_ahead(), "a reading thread");
    }
    let may = s.may_decode_ahead();
    let shared = decode::Shared::new(s);
    let mut made = match how {
        Reading::Decoded(bound) => {
            assert!(may);
            Some(decode::start(shared.clone(), 1 << 10, 1 << 16, bound).expect("a decoding thread"))
        }
        _ => None,
    };
    let mut out = String::new();
    loop {
        // after a thread's last batch (the one that met the end), the scanner's own: empty
        let b = match made.as_mut().and_then(decode::Decoding::take) {
            Some(b) => b,
            None => shared.lock().ok()?.next_batch(1 << 10, 1 << 16),
        };
        out += &format!("{b:?}\n");
        if b.is_empty() && b.lost.is_empty() {
            drop(made);
            let s = shared.lock().ok()?;
            let k = s.skips();
            assert!(s.done() || b.paused);
            return Some(out + &format!("{} {:?} {:?} {} {}", s.records, s.damage, (k.stretches, k.bytes, k.first), s.bad_records, b.paused));
        }
    }
}

pub fn check(data: &[u8]) {
    let here = read_all(data, Reading::InPlace);
    for how in [Reading::Ahead, Reading::Decoded(1), Reading::Decoded(1 << 20)] {
        assert_eq!(here, read_all(data, how), "reading {how:?} and in place differ");
    }
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
