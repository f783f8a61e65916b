//! traceparse's native core: the per-line and per-record work of the ground floor.
//!
//! Each scanner is plain Rust over byte slices (testable and fuzzable without Python); `py` binds
//! them to the `traceparse.parsers._native` extension module and hands their columns over.

#[cfg(feature = "python")]
mod py;
pub mod block_fields;
pub mod dat_lane;
pub mod fields;
pub mod ring_buffer;
#[cfg(feature = "python")]
mod py_dat;
#[cfg(feature = "python")]
mod py_text;
#[cfg(feature = "python")]
mod py_elf;
pub mod text;
pub mod perf_data;
pub mod elf_syms;
pub mod maps;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz_checks;
#[cfg(test)]
mod fuzz_runs;
