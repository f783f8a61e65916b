//! `_native.ElfSymbols`: a binary's symbol table, asked for the names of file offsets (elf_syms.rs).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::elf_syms::{self, ElfSymbols as Inner};

#[pyclass(module = "traceparse.parsers._native", frozen)]
struct ElfSymbols {
    inner: Inner,
}

#[pymethods]
impl ElfSymbols {
    /// `data`: the binary's bytes; `debug`: a detached debug file's (its .symtab is preferred).
    /// Bytes that are no ELF: ValueError(why).
    #[new]
    #[pyo3(signature = (data, debug=None))]
    fn new(py: Python<'_>, data: &[u8], debug: Option<&[u8]>) -> PyResult<Self> {
        let inner = py.detach(|| Inner::parse(data, debug)).map_err(PyValueError::new_err)?;
        Ok(ElfSymbols { inner })
    }

    #[getter]
    fn build_id<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.build_id.as_deref().map(|b| PyBytes::new(py, b))
    }

    /// "symtab", "dynsym", or "" when the file has no function symbols.
    #[getter]
    fn table(&self) -> &'static str {
        self.inner.table
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Per file offset (a u64 buffer): the symbol's name or None, and the offset into it.
    fn lookup(&self, offsets: &[u8]) -> Vec<(Option<String>, u64)> {
        offsets
            .chunks_exact(8)
            .map(|w| {
                let off = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                match self.inner.lookup(off) {
                    Some((name, at)) => (Some(name), at),
                    None => (None, 0),
                }
            })
            .collect()
    }
}

/// The build id of an ELF file's bytes, or None.
#[pyfunction]
fn elf_build_id<'py>(py: Python<'py>, data: &[u8]) -> Option<Bound<'py, PyBytes>> {
    elf_syms::build_id(data).map(|b| PyBytes::new(py, &b))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ElfSymbols>()?;
    m.add_function(wrap_pyfunction!(elf_build_id, m)?)
}
