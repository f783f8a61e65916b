//! The Python face of the core: `traceparse.parsers._native`.

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    crate::py_dat::register(m)?;
    crate::py_text::register(m)?;
    crate::perf_data::py::register(m)?;
    crate::py_elf::register(m)?;
    Ok(())
}
