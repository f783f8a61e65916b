//! The text scanner alone over a file, as the block report drives it (no payload, no stacks, the
//! block lane), in 12 MB chunks of whole lines: for callgrind's instruction counts, which hold
//! still on a loaded machine where seconds do not.
//!
//!     cargo build --release --example scan -p traceparse-native
//!     valgrind --tool=callgrind target/release/examples/scan FILE

use _native::text::{Config, Scanner};

fn main() {
    let path = std::env::args().nth(1).expect("usage: scan FILE");
    let data = std::fs::read(&path).expect("readable file");
    let cfg = Config::perf_block_lane();
    let mut scanner = Scanner::new(cfg);
    let (mut events, mut at) = (0usize, 0usize);
    while at < data.len() {
        let end = (at + (12 << 20)).min(data.len());
        let end = if end == data.len() { end } else { data[..end].iter().rposition(|&b| b == b'\n').map_or(end, |i| i + 1) };
        if let Some(out) = scanner.scan(&data[at..end], &[], end == data.len()) {
            events += out.lane.len() + out.kinds.iter().map(|k| k.len()).sum::<usize>();
        }
        at = end;
    }
    println!("{events} events");
}
