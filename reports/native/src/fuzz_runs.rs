//! A brief fuzz run of the kernels' checks in `cargo test`: the cargo-fuzz targets' own checks
//! (src/fuzz_checks/) on random inputs from a fixed seed. CI runs this; the hour-long
//! coverage-guided runs are cargo fuzz's (fuzz/README.md). The checks read any bytes as events or
//! requests (a few bytes each), so random bytes are already well-formed inputs for them.

use crate::fuzz_checks;

/// `check` on `runs` random inputs of up to `max_len` bytes (xorshift64*: the same every run).
fn run(check: fn(&[u8]), runs: usize, max_len: usize) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..runs {
        let len = (next() % max_len as u64) as usize;
        // a few distinct byte values most of the time, so that keys, codes and times repeat
        let narrow = next() % 2 == 0;
        let data: Vec<u8> = (0..len).map(|_| if narrow { (next() % 4) as u8 } else { next() as u8 }).collect();
        check(&data);
    }
}

#[test]
fn pairing_on_random_event_sequences() {
    run(fuzz_checks::pairing::check, 15000, 4096);
}

#[test]
fn recording_on_random_requests() {
    run(fuzz_checks::recording::check, 15000, 4096);
}
