//! The Python face of the report kernels: `traceparse.reports._native`.

use pyo3::prelude::*;

#[pymodule(name = "_native")]
fn kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    crate::py_pairing::register(m)?;
    crate::py_recording::register(m)?;
    crate::py_json::register(m)?;
    Ok(())
}
