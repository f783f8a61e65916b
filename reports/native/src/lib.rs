//! traceparse's report kernels: the per-event work of the middle floor, over frame columns.
//!
//! Plain Rust over slices (testable without Python); `py` binds them to
//! `traceparse.reports._native`.

pub mod pairing;
pub mod recording;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz_checks;
#[cfg(test)]
mod fuzz_runs;
#[cfg(feature = "python")]
mod py;
#[cfg(feature = "python")]
mod py_columns;
#[cfg(feature = "python")]
mod py_json;
#[cfg(feature = "python")]
mod py_pairing;
#[cfg(feature = "python")]
mod py_recording;
