//! The checks of the cargo-fuzz targets (fuzz/fuzz_targets/ calls them): each takes any bytes,
//! must not panic, and asserts what its scanner or kernel promises of them. Built for `cargo test`
//! (src/fuzz_runs.rs feeds them mutated seeds, a brief fuzz run in CI) and with the `fuzz` feature.

pub mod text;
pub mod fields;
pub mod ring_buffer;
pub mod perf_data;
pub mod elf_syms;
