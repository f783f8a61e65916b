//! cargo fuzz's entry to the ring_buffer check: src/fuzz_checks/ring_buffer.rs holds it (and says what it
//! checks), so that `cargo test` runs it too, over mutated seeds (src/fuzz_runs.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| _native::fuzz_checks::ring_buffer::check(data));
