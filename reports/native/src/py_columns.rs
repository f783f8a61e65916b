//! Columns between Python and the kernels: one little-endian buffer per column (numpy's
//! `tobytes()` / `frombuffer`), never a Python object per row. A nullable value goes with a
//! `*_valid` byte column (1: has a value); interned strings are u32 codes with u32::MAX for null.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// A fixed-size little-endian value of a column buffer.
pub trait Le: Sized + Copy + Default {
    const N: usize;
    fn read(b: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
}

macro_rules! le {
    ($($t:ty),*) => {$(
        impl Le for $t {
            const N: usize = std::mem::size_of::<$t>();
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b); // callers pass chunks_exact(N): the lengths agree
                <$t>::from_le_bytes(a)
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le!(u8, u32, u64, i32, i64);

/// A column's bytes, checked to hold `n` values of `T`.
pub fn column<'a, T: Le>(cols: &'a [Bound<'a, PyBytes>], names: &[&str], name: &str, n: usize) -> PyResult<&'a [u8]> {
    let at = names.iter().position(|&x| x == name).ok_or_else(|| PyValueError::new_err(format!("kernels: no column {name}")))?;
    let b = cols.get(at).map(|c| c.as_bytes()).unwrap_or_default();
    if b.len() != n * T::N {
        return Err(PyValueError::new_err(format!("kernels: column {name} has {} bytes, expected {}", b.len(), n * T::N)));
    }
    Ok(b)
}

/// Output columns under a prefix: "done.ts", "done.ts_valid", ...
pub struct Out<'py> {
    pub dict: Bound<'py, PyDict>,
}

impl<'py> Out<'py> {
    pub fn new(py: Python<'py>) -> Self {
        Out { dict: PyDict::new(py) }
    }

    pub fn put<T: Le>(&self, name: &str, values: impl Iterator<Item = T>) -> PyResult<()> {
        let mut buf = Vec::new();
        values.for_each(|v| v.write(&mut buf));
        self.dict.set_item(name, PyBytes::new(self.dict.py(), &buf))
    }
    pub fn put_opt<T: Le>(&self, name: &str, values: impl Iterator<Item = Option<T>> + Clone) -> PyResult<()> {
        self.put(&format!("{name}_valid"), values.clone().map(|v| u8::from(v.is_some())))?;
        self.put(name, values.map(Option::unwrap_or_default))
    }
}
