//! The text scanner alone over a file, as the block report drives it (no payload, no stacks, the
//! block lane), in 12 MB chunks of whole lines: for callgrind's instruction counts, which hold
//! still on a loaded machine where seconds do not.
//!
//!     cargo build --release --example scan -p traceparse-native
//!     valgrind --tool=callgrind target/release/examples/scan FILE

use _native::text::line::Dialect;
use _native::text::{Config, Scanner};

fn main() {
    let path = std::env::args().nth(1).expect("usage: scan FILE");
    let data = std::fs::read(&path).expect("readable file");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    let cfg = Config {
        dialect: Dialect::Perf,
        stacks: false,
        payload: false,
        lane: true,
        block_events: s(&["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete", "block:block_rq_requeue"]),
        net_events: s(&["net:net_dev_xmit", "net:netif_receive_skb"]),
        systems: Vec::new(),
        exact: Vec::new(),
    };
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
