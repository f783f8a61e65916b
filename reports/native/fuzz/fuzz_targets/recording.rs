//! cargo fuzz's entry to the recording check: src/fuzz_checks/recording.rs holds it (and says what it
//! checks), so that `cargo test` runs it too, over mutated seeds (src/fuzz_runs.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traceparse_kernels::fuzz_checks::recording::check(data));
