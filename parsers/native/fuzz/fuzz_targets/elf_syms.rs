//! cargo fuzz's entry to the elf_syms check: src/fuzz_checks/elf_syms.rs holds it (and says what it
//! checks), so that `cargo test` runs it too, over mutated seeds (src/fuzz_runs.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| _native::fuzz_checks::elf_syms::check(data));
