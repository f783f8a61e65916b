//! Python bindings of the text scanner: `TextScanner` and `count_heads`.
//!
//! Columns leave as little-endian bytes (numpy reads them without a Python object per event);
//! strings as one '\n'-separated blob per table or column (no value holds a newline: they come
//! from lines), which polars splits once.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::text::ahead::Ahead;
use crate::text::cols::{Codes, Strings};
use crate::text::lane::Lane;
use crate::text::line::Dialect;
use crate::text::{ChunkOut, Class, Config, KindCols, Scanner};

fn dialect(name: &str) -> PyResult<Dialect> {
    match name {
        "perf-script" => Ok(Dialect::Perf),
        "ftrace-text" => Ok(Dialect::Ftrace),
        _ => Err(PyValueError::new_err(format!("no text dialect {name:?}"))),
    }
}

/// A column as bytes, each value written by `f` (little-endian).
fn le<'py, T: Copy, const N: usize>(py: Python<'py>, v: &[T], f: fn(T) -> [u8; N]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, v.len() * N, |buf| {
        for (out, &x) in buf.chunks_exact_mut(N).zip(v) {
            out.copy_from_slice(&f(x));
        }
        Ok(())
    })
}

fn codes<'py>(py: Python<'py>, c: &Codes) -> PyResult<Bound<'py, PyAny>> {
    Ok((le(py, &c.codes, u32::to_le_bytes)?, PyBytes::new(py, &c.table), c.n).into_pyobject(py)?.into_any())
}

fn strings<'py>(py: Python<'py>, s: &Strings) -> PyResult<Bound<'py, PyAny>> {
    Ok((PyBytes::new(py, &s.blob), s.n).into_pyobject(py)?.into_any())
}

fn kind<'py>(py: Python<'py>, k: &KindCols) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &k.name)?;
    d.set_item("n", k.len())?;
    d.set_item("ts_ns", le(py, &k.ts_ns, i64::to_le_bytes)?)?;
    d.set_item("cpu", le(py, &k.cpu, i16::to_le_bytes)?)?;
    d.set_item("pid", le(py, &k.pid, i32::to_le_bytes)?)?;
    d.set_item("tgid", le(py, &k.tgid, i32::to_le_bytes)?)?;
    d.set_item("tgid_ok", PyBytes::new(py, &k.tgid_ok))?;
    d.set_item("comm", codes(py, &k.comm)?)?;
    d.set_item("stack_id", le(py, &k.stack_id, i32::to_le_bytes)?)?;
    match &k.payload {
        Some(s) => d.set_item("payload", strings(py, s)?)?,
        None => d.set_item("payload", py.None())?,
    }
    match k.class {
        Class::Block => {
            let b = &k.block;
            d.set_item("class", "block")?;
            d.set_item("dev", codes(py, &b.dev)?)?;
            d.set_item("dev_major", le(py, &b.dev_major, u32::to_le_bytes)?)?;
            d.set_item("dev_minor", le(py, &b.dev_minor, u32::to_le_bytes)?)?;
            d.set_item("rwbs", codes(py, &b.rwbs)?)?;
            d.set_item("sector", le(py, &b.sector, u64::to_le_bytes)?)?;
            d.set_item("nr_sector", le(py, &b.nr_sector, u32::to_le_bytes)?)?;
            d.set_item("bytes", le(py, &b.bytes, u64::to_le_bytes)?)?;
            d.set_item("bytes_ok", PyBytes::new(py, &b.bytes_ok))?;
            d.set_item("ioprio", codes(py, &b.ioprio)?)?;
            d.set_item("rq_comm", codes(py, &b.rq_comm)?)?;
            d.set_item("error", le(py, &b.error, i32::to_le_bytes)?)?;
            d.set_item("error_ok", PyBytes::new(py, &b.error_ok))?;
        }
        Class::Net => {
            let n = &k.net;
            d.set_item("class", "net")?;
            d.set_item("dev_name", codes(py, &n.dev_name)?)?;
            d.set_item("skbaddr", codes(py, &n.skbaddr)?)?;
            d.set_item("len", le(py, &n.len, u32::to_le_bytes)?)?;
            d.set_item("len_ok", PyBytes::new(py, &n.len_ok))?;
        }
        Class::Other => d.set_item("class", "other")?,
    }
    Ok(d)
}

fn chunk<'py>(py: Python<'py>, c: &ChunkOut) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let kinds = PyList::empty(py);
    for k in &c.kinds {
        kinds.append(kind(py, k)?)?;
    }
    d.set_item("kinds", kinds)?;
    d.set_item("skipped", c.skipped)?;
    d.set_item("first_skip", c.first_skip.clone())?;
    d.set_item("lost_events", c.lost_events)?;
    d.set_item("lost_by_cpu", c.lost_by_cpu.clone())?;
    d.set_item("stacks_before", c.stacks_before)?;
    d.set_item("new_frames", PyBytes::new(py, &c.new_frames))?;
    d.set_item("new_counts", c.new_counts.clone())?;
    d.set_item("lane", lane(py, c)?)?;
    d.set_item("lines", c.lines)?;
    d.set_item("heads", c.heads)?;
    d.set_item("markers", c.markers)?;
    Ok(d)
}

/// The block lane as block pairing's columns (reports/block_pairing.py), with the run's strings
/// first seen in this chunk and what Source.track counts of each kind; None where it is empty.
fn lane<'py>(py: Python<'py>, c: &ChunkOut) -> PyResult<Option<Bound<'py, PyDict>>> {
    lane_dict(py, &c.lane, c.lane_strings_before, &c.lane_new)
}

/// A lane's columns, its new strings (`new`: '\n'-terminated, how many; coded from `before` on) and
/// its kinds' stats, as parsers/text.py and parsers/perf_data.py take them; None where it is empty.
pub(crate) fn lane_dict<'py>(py: Python<'py>, l: &Lane, before: usize, new: &(Vec<u8>, u32)) -> PyResult<Option<Bound<'py, PyDict>>> {
    if l.is_empty() && new.1 == 0 {
        return Ok(None);
    }
    let cols = PyDict::new(py);
    cols.set_item("kind", PyBytes::new(py, &l.kind))?;
    cols.set_item("devnum", le(py, &l.devnum, u64::to_le_bytes)?)?;
    cols.set_item("sector", le(py, &l.sector, u64::to_le_bytes)?)?;
    cols.set_item("ts", le(py, &l.ts, i64::to_le_bytes)?)?;
    cols.set_item("pid", le(py, &l.pid, i32::to_le_bytes)?)?;
    cols.set_item("nr", le(py, &l.nr, u32::to_le_bytes)?)?;
    cols.set_item("bytes", le(py, &l.bytes, u64::to_le_bytes)?)?;
    cols.set_item("nulls", PyBytes::new(py, &l.nulls))?;
    cols.set_item("dev", le(py, &l.dev, u32::to_le_bytes)?)?;
    cols.set_item("comm", le(py, &l.comm, u32::to_le_bytes)?)?;
    cols.set_item("rwbs", le(py, &l.rwbs, u32::to_le_bytes)?)?;
    let d = PyDict::new(py);
    d.set_item("cols", cols)?;
    d.set_item("strings_before", before)?;
    d.set_item("new_strings", (PyBytes::new(py, &new.0), new.1))?;
    let stats = PyList::empty(py);
    for s in &l.stats {
        stats.append((&s.name, s.n, s.lo, s.hi, s.all_cpus()))?;
    }
    d.set_item("stats", stats)?;
    Ok(Some(d))
}

/// Scans one text capture chunk by chunk; its state (carried lines, line numbers, call chains
/// interned so far) lives between calls.
#[pyclass(module = "traceparse.parsers._native")]
struct TextScanner {
    inner: Scanner,
}

#[pymethods]
impl TextScanner {
    #[new]
    #[pyo3(signature = (dialect_name, stacks, payload, block_events, net_events, systems, exact, lane=false))]
    #[allow(clippy::too_many_arguments)] // the scanner's Config, field by field, as Python passes it
    fn new(
        dialect_name: &str,
        stacks: bool,
        payload: bool,
        block_events: Vec<String>,
        net_events: Vec<String>,
        systems: Vec<(String, String)>,
        exact: Vec<(String, String)>,
        lane: bool,
    ) -> PyResult<Self> {
        let cfg = Config { dialect: dialect(dialect_name)?, stacks, payload, lane, block_events, net_events, systems, exact };
        Ok(TextScanner { inner: Scanner::new(cfg) })
    }

    /// Scan `data` (whole lines) after the lines `cuts` (first bytes of lines cut since the last
    /// call); `last`: the input ends with `data`. None while no event line has ended.
    /// `head`: the start of the chunk's first line, which the previous read ended inside; `end`:
    /// where `data`'s whole lines end (the rest is the next chunk's head).
    #[pyo3(signature = (data, cuts, last, head=b"".as_slice(), end=None))]
    fn scan<'py>(&mut self, py: Python<'py>, data: &[u8], cuts: Vec<Vec<u8>>, last: bool, head: &[u8], end: Option<usize>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let inner = &mut self.inner;
        let data = data.get(..end.unwrap_or(data.len()).min(data.len())).unwrap_or_default();
        // the scan touches no Python object: let the report thread run meanwhile
        let out = py.detach(|| inner.scan_after(head, data, &cuts, last));
        out.map(|c| chunk(py, &c)).transpose()
    }

    /// Scan one chunk on its own (`Scanner::scan_alone`): `data[:end]` after `head` and the cut
    /// lines `cuts`; `after_head`: an earlier chunk had an event line or a stack marker. Its "first_skip" line
    /// number counts from the chunk's first line, "lines" says how many it had.
    #[pyo3(signature = (data, cuts, head, end, after_head))]
    fn scan_alone<'py>(&mut self, py: Python<'py>, data: &[u8], cuts: Vec<Vec<u8>>, head: &[u8], end: usize, after_head: bool) -> PyResult<Bound<'py, PyDict>> {
        let inner = &mut self.inner;
        let data = data.get(..end.min(data.len())).unwrap_or_default();
        let out = py.detach(|| inner.scan_alone(head, data, &cuts, after_head));
        chunk(py, &out)
    }
}

/// A text file read and scanned ahead, in threads of their own (text::ahead): the block report's
/// chunks, in file order, each as `TextScanner.scan_alone` gives it.
#[pyclass(module = "traceparse.parsers._native")]
struct TextAhead {
    // (a Mutex only to be Sync, as a pyclass must be: `next` takes it through &mut self, uncontended)
    inner: Option<std::sync::Mutex<Ahead>>,
    size: u64,
}

#[pymethods]
impl TextAhead {
    /// Start reading `path` with the block report's scanners (no call chains, no payload text,
    /// block requests in the lane) of the dialect and event names given.
    #[new]
    fn new(path: &str, dialect_name: &str, block_events: Vec<String>, net_events: Vec<String>, systems: Vec<(String, String)>, exact: Vec<(String, String)>) -> PyResult<Self> {
        let cfg = Config::block_lane(dialect(dialect_name)?, block_events, net_events, systems, exact);
        let opened = std::fs::File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
        let (size, file) = opened.map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
        let ahead = Ahead::start(file, &cfg).map_err(|e| PyOSError::new_err(format!("{path}: cannot start reading: {e}")))?;
        Ok(TextAhead { inner: Some(std::sync::Mutex::new(ahead)), size })
    }

    /// The next chunk, with "scanner" (whose string codes its lane is in) and "read_fraction" (of
    /// the file, read with it); None after the last. A failed read raises OSError.
    fn next<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(ahead) = self.inner.as_mut() else { return Ok(None) };
        let ahead = ahead.get_mut().unwrap_or_else(|e| e.into_inner());
        let Some(s) = py.detach(|| ahead.next()) else { return Ok(None) };
        let out = s.out.map_err(PyOSError::new_err)?;
        let d = chunk(py, &out)?;
        d.set_item("scanner", s.scanner)?;
        d.set_item("read_fraction", if self.size > 0 { s.read_bytes as f64 / self.size as f64 } else { 1.0 })?;
        Ok(Some(d))
    }

    /// Stop reading (the threads end; what they scanned is dropped).
    fn close(&mut self, py: Python<'_>) {
        let inner = self.inner.take();
        py.detach(move || drop(inner));
    }
}

/// How many of `data`'s lines are event lines of the dialect `dialect_name`.
#[pyfunction]
fn count_heads(py: Python<'_>, data: &[u8], dialect_name: &str) -> PyResult<usize> {
    let d = dialect(dialect_name)?;
    Ok(py.detach(|| crate::text::count_heads(data, d)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TextScanner>()?;
    m.add_class::<TextAhead>()?;
    m.add_function(wrap_pyfunction!(count_heads, m)?)?;
    Ok(())
}
