//! Reads a perf.data's block requests into the block lane, as `traceparse block` has the scanner do,
//! for profiling the read alone (callgrind counts its instructions: repeatable on a loaded machine):
//!
//!     cargo build --release --example perf_lane
//!     valgrind --tool=callgrind target/release/examples/perf_lane bench/work/blk-1M.perf.data
//!
//! With AHEAD set in the environment the records are read by a thread of their own (perf_ahead.rs).
//!
//! The lane's fields are 6.x's block_rq_* offsets (this machine's format files: dev 8, sector 16,
//! nr_sector 24, bytes 28, rwbs 34) for the tracepoint ids given after the file (insert issue complete).
use _native::block_fields::{IntField, StrField};
use _native::perf_data::{LaneCfg, LaneKind, Scanner};
use _native::text::lane::{COMPLETE, INSERT, ISSUE};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("a perf.data");
    let ids: Vec<i64> = args[2..].iter().map(|a| a.parse().expect("a tracepoint id")).collect();
    let (insert, issue, complete) = match ids[..] {
        [a, b, c] => (a, b, c),
        _ => (2105, 2104, 2107), // bench/work/blk-1M.perf.data's
    };
    let file = std::fs::File::open(path).expect("opened");
    let mut s = Scanner::open(Box::new(file), false).expect("a perf.data");
    let int = |offset, size| IntField { offset, size, signed: false };
    let kind = |id, kind, fixed_end, bytes| LaneKind {
        id,
        kind,
        fixed_end,
        dev: int(8, 4),
        sector: int(16, 8),
        nr_sector: Some(int(24, 4)),
        bytes,
        rwbs: Some(StrField { offset: 34, size: 10 }),
    };
    let kinds = vec![kind(insert, INSERT, 64, Some(int(28, 4))), kind(issue, ISSUE, 64, Some(int(28, 4))), kind(complete, COMPLETE, 48, None)];
    s.lane = Some(LaneCfg::new(int(0, 2), kinds, vec![true; 16]));
    s.stacks_wanted = false;
    if std::env::var_os("AHEAD").is_some() {
        assert!(s.read_ahead(), "a reading thread");
    }
    let (mut lane, mut samples, mut batches) = (0, 0, 0);
    loop {
        let b = s.next_batch(1 << 16, 4 << 20);
        if b.is_empty() && b.lost.is_empty() {
            break;
        }
        lane += b.lane.len();
        samples += b.len();
        batches += 1;
    }
    println!("{lane} lane events, {samples} other samples, {batches} batches, {} records, damage {:?}", s.records, s.damage);
}
