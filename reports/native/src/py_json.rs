//! The JSON text of a report: `json.dumps(obj, indent=2, allow_nan=False)`, byte for byte, in one
//! native walk of the Python objects.
//!
//! With an indent the standard library leaves its C encoder for a pure-Python one; a block report's
//! JSON (heat maps, listings, log2 buckets: ~150,000 values, 2 MB on a 1M-event capture) took
//! 0.1 s even through a Python writer made for it. Same rules, in the standard encoder's order:
//! strings ASCII-escaped as `encode_basestring_ascii` does, ints and floats by `int.__repr__` and
//! `float.__repr__`, NaN and infinities refused, dict keys that are numbers, booleans or None spelled
//! as JSON spells them, tuples as lists, anything else a TypeError. tests/test_render.py checks it
//! against json.dumps on every report of the fixtures and on odd values.

use std::fmt::Write;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper than this is no report: a cycle, or a structure no JSON reader would want.
const MAX_DEPTH: usize = 200;

/// A string as `json.encoder.encode_basestring_ascii` writes it: printable ASCII as is, the usual
/// short escapes, everything else `\uXXXX` (lowercase hex; UTF-16 surrogate pairs past U+FFFF).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

struct Writer<'py> {
    out: String,
    /// json.encoder.encode_basestring_ascii, for a str Rust cannot read (lone surrogates)
    escape: Bound<'py, PyAny>,
}

impl<'py> Writer<'py> {
    fn text(&mut self, s: &Bound<'py, PyString>) -> PyResult<()> {
        match s.to_str() {
            Ok(s) => string(&mut self.out, s),
            Err(_) => self.out.push_str(self.escape.call1((s,))?.cast::<PyString>()?.to_str()?),
        }
        Ok(())
    }

    /// A scalar's text; Ok(false) if `v` is not one.
    fn scalar(&mut self, v: &Bound<'py, PyAny>) -> PyResult<bool> {
        if let Ok(s) = v.cast::<PyString>() {
            self.text(s)?;
        } else if v.is_none() {
            self.out.push_str("null");
        } else if let Ok(b) = v.cast::<PyBool>() {
            self.out.push_str(if b.is_true() { "true" } else { "false" });
        } else if let Ok(i) = v.cast::<PyInt>() {
            match i.extract::<i64>() {
                Ok(n) => {
                    let _ = write!(self.out, "{n}");
                }
                // past i64 (and int subclasses' own reprs aside): int.__repr__ of the value
                Err(_) => self.out.push_str(&i.call_method0("__index__")?.repr()?.to_cow()?),
            }
        } else if let Ok(f) = v.cast::<PyFloat>() {
            let x = f.value();
            if !x.is_finite() {
                return Err(PyValueError::new_err(format!("Out of range float values are not JSON compliant: {}", f.repr()?)));
            }
            // float.__repr__ itself (a subclass's own repr is not what json writes)
            let text = v.py().get_type::<PyFloat>().call_method1("__repr__", (f,))?;
            self.out.push_str(text.cast::<PyString>()?.to_str()?);
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    fn value(&mut self, v: &Bound<'py, PyAny>, depth: usize) -> PyResult<()> {
        if self.scalar(v)? {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(PyValueError::new_err("JSON nested too deeply (a circular reference?)"));
        }
        if let Ok(l) = v.cast::<PyList>() {
            self.items(l.len(), depth, |i| l.get_item(i))
        } else if let Ok(t) = v.cast::<PyTuple>() {
            self.items(t.len(), depth, |i| t.get_item(i))
        } else if let Ok(d) = v.cast::<PyDict>() {
            self.dict(d, depth)
        } else {
            Err(PyTypeError::new_err(format!("Object of type {} is not JSON serializable", v.get_type().name()?)))
        }
    }

    fn indent(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn items(&mut self, n: usize, depth: usize, item: impl Fn(usize) -> PyResult<Bound<'py, PyAny>>) -> PyResult<()> {
        if n == 0 {
            self.out.push_str("[]");
            return Ok(());
        }
        self.out.push('[');
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
            }
            self.indent(depth + 1);
            self.value(&item(i)?, depth + 1)?;
        }
        self.indent(depth);
        self.out.push(']');
        Ok(())
    }

    fn dict(&mut self, d: &Bound<'py, PyDict>, depth: usize) -> PyResult<()> {
        if d.is_empty() {
            self.out.push_str("{}");
            return Ok(());
        }
        self.out.push('{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.indent(depth + 1);
            if let Ok(s) = k.cast::<PyString>() {
                self.text(s)?;
            } else {
                // json.dumps quotes a number, boolean or None key's JSON text: {"1": ...}
                let at = self.out.len();
                if !self.scalar(&k)? {
                    return Err(PyTypeError::new_err(format!("keys must be str, int, float, bool or None, not {}", k.get_type().name()?)));
                }
                let key = self.out.split_off(at);
                string(&mut self.out, &key);
            }
            self.out.push_str(": ");
            self.value(&v, depth + 1)?;
        }
        self.indent(depth);
        self.out.push('}');
        Ok(())
    }
}

/// `json.dumps(obj, indent=2, allow_nan=False)`.
#[pyfunction]
fn dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<String> {
    let escape = py.import("json.encoder")?.getattr("encode_basestring_ascii")?;
    let mut w = Writer { out: String::new(), escape };
    w.value(obj, 0)?;
    Ok(w.out)
}

pub fn register(m: &Bound<PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dumps, m)?)
}
