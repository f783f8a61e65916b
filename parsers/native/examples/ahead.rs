//! The block report's native reading of a text file alone (text_ahead.rs: reads, two scanners in
//! threads, chunks in file order), for timing and profiling it without Python:
//!
//!     cargo build --release --example ahead -p traceparse-native
//!     target/release/examples/ahead FILE
use _native::text::ahead::Ahead;
use _native::text::Config;

fn main() {
    let path = std::env::args().nth(1).expect("usage: ahead FILE");
    let cfg = Config::perf_block_lane();
    let ahead = Ahead::start(std::fs::File::open(&path).expect("readable file"), &cfg).expect("threads");
    let (mut events, mut chunks) = (0, 0);
    for s in ahead {
        events += s.out.expect("scanned").lane.len();
        chunks += 1;
    }
    println!("{events} events in {chunks} chunks");
}
