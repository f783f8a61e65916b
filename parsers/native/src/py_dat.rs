//! The trace.dat scanners' Python face: ring-buffer pages -> record columns, and field gathers.
//!
//! Columns cross as `bytes` in this machine's byte order (numpy views them with `frombuffer`):
//! one copy per column, no Python object per record.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::block_fields::{gather_block, BlockSpec, IntField, StrField};
use crate::dat_lane::{DatLane, LaneSpec};

use crate::fields::{gather_bytes, gather_cstrings, gather_int, group_by, intern_ints};
use crate::ring_buffer::{decode_pages, merge_grouped, merge_order, Layout};

/// A column of fixed-width numbers -> bytes, in native byte order.
fn column<'py, const N: usize, T: Copy>(py: Python<'py>, v: &[T], ne: fn(T) -> [u8; N]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, v.len() * N, |out| {
        for (dst, x) in out.chunks_exact_mut(N).zip(v) {
            dst.copy_from_slice(&ne(*x));
        }
        Ok(())
    })
}

/// An int64 numpy array's bytes (`arr.tobytes()`) -> its values.
fn int64s(raw: &[u8]) -> PyResult<Vec<i64>> {
    if !raw.len().is_multiple_of(8) {
        return Err(PyValueError::new_err("an int64 column's length is not a multiple of 8"));
    }
    Ok(raw.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().unwrap_or([0; 8]))).collect())
}

type RecordColumns<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, u64);

/// (start, length, ts, page, lost, bad_pages) of the data records of `buf`'s whole pages.
#[pyfunction(name = "decode_pages")]
#[allow(clippy::too_many_arguments)]
fn py_decode_pages<'py>(
    py: Python<'py>, buf: &[u8], page_size: usize, ts_offset: usize, commit_offset: usize,
    commit_size: usize, data_offset: usize, big_endian: bool,
) -> PyResult<RecordColumns<'py>> {
    let layout = Layout { page_size, ts_offset, commit_offset, commit_size, data_offset, big_endian };
    let rec = py.detach(|| decode_pages(buf, &layout)).map_err(PyValueError::new_err)?;
    Ok((
        column(py, &rec.start, i64::to_ne_bytes)?,
        column(py, &rec.length, i64::to_ne_bytes)?,
        column(py, &rec.ts, u64::to_ne_bytes)?,
        column(py, &rec.page, i64::to_ne_bytes)?,
        column(py, &rec.lost, i64::to_ne_bytes)?,
        rec.bad_pages,
    ))
}

/// The integer field `size` bytes at `offset` of each record: bytes of `size`-byte native ints.
#[pyfunction(name = "gather_int")]
fn py_gather_int<'py>(py: Python<'py>, buf: &[u8], starts: &[u8], offset: i64, size: usize, big_endian: bool) -> PyResult<Bound<'py, PyBytes>> {
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(PyValueError::new_err(format!("an integer of {size} bytes")));
    }
    let starts = int64s(starts)?;
    let out = py.detach(|| gather_int(buf, &starts, offset, size, big_endian));
    Ok(PyBytes::new(py, &out))
}

/// The (records x width) matrix of bytes at `offset` of each record.
#[pyfunction(name = "gather_bytes")]
fn py_gather_bytes<'py>(py: Python<'py>, buf: &[u8], starts: &[u8], offset: i64, width: usize) -> PyResult<Bound<'py, PyBytes>> {
    let starts = int64s(starts)?;
    if width > (1 << 24) || starts.len().saturating_mul(width) > (1 << 34) {
        return Err(PyValueError::new_err(format!("a field of {width} bytes in {} records", starts.len())));
    }
    let out = py.detach(|| gather_bytes(buf, &starts, offset, width));
    Ok(PyBytes::new(py, &out))
}

/// (uint32 codes, table of the distinct strings NUL-padded to `width`, width) of the C strings
/// at `at[i]` of at most `len[i]` bytes.
#[pyfunction(name = "gather_cstrings")]
fn py_gather_cstrings<'py>(py: Python<'py>, buf: &[u8], at: &[u8], len: &[u8]) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, usize)> {
    let (at, len) = (int64s(at)?, int64s(len)?);
    if at.len() != len.len() {
        return Err(PyValueError::new_err("string offsets and lengths differ in count"));
    }
    let got = py.detach(|| gather_cstrings(buf, &at, &len));
    Ok((column(py, &got.codes, u32::to_ne_bytes)?, PyBytes::new(py, &got.table), got.width))
}

/// (uint32 codes, uint64 distinct values) of a uint64 column's bytes.
#[pyfunction(name = "intern_ints")]
fn py_intern_ints<'py>(py: Python<'py>, vals: &[u8]) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let vals: Vec<u64> = int64s(vals)?.into_iter().map(|v| v as u64).collect();
    let (codes, uniques) = py.detach(|| intern_ints(&vals));
    Ok((column(py, &codes, u32::to_ne_bytes)?, column(py, &uniques, u64::to_ne_bytes)?))
}

/// The int64 permutation that merges CPU runs (see `ring_buffer::merge_order`).
#[pyfunction(name = "merge_order")]
fn py_merge_order<'py>(py: Python<'py>, kinds: &[u8], ts_ns: &[u8], run_lens: Vec<usize>) -> PyResult<Bound<'py, PyBytes>> {
    let (kinds, ts) = (int64s(kinds)?, int64s(ts_ns)?);
    let order = py.detach(|| merge_order(&kinds, &ts, &run_lens)).map_err(PyValueError::new_err)?;
    column(py, &order, i64::to_ne_bytes)
}

/// (int64 order, int64 distinct ids ascending, int64 group starts) of an int64 id column's bytes.
#[pyfunction(name = "group_by")]
fn py_group_by<'py>(py: Python<'py>, ids: &[u8]) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let ids = int64s(ids)?;
    let (order, kinds, first) = py.detach(|| group_by(&ids));
    Ok((column(py, &order, i64::to_ne_bytes)?, column(py, &kinds, i64::to_ne_bytes)?, column(py, &first, i64::to_ne_bytes)?))
}

/// (int64 order, int64 kinds, int64 group starts): the runs' records merged and grouped by kind
/// (see `ring_buffer::merge_grouped`).
#[pyfunction(name = "merge_grouped")]
fn py_merge_grouped<'py>(py: Python<'py>, kinds: &[u8], ts_ns: &[u8], run_lens: Vec<usize>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let (kinds, ts) = (int64s(kinds)?, int64s(ts_ns)?);
    let (order, listed, first) = py.detach(|| merge_grouped(&kinds, &ts, &run_lens)).map_err(PyValueError::new_err)?;
    Ok((column(py, &order, i64::to_ne_bytes)?, column(py, &listed, i64::to_ne_bytes)?, column(py, &first, i64::to_ne_bytes)?))
}

type IntSpec = Option<(i64, usize, bool)>;

fn int_field(f: (i64, usize, bool)) -> PyResult<IntField> {
    if !matches!(f.1, 1 | 2 | 4 | 8) {
        return Err(PyValueError::new_err(format!("an integer of {} bytes", f.1)));
    }
    Ok(IntField { offset: f.0, size: f.1, signed: f.2 })
}

fn str_field(f: (i64, usize)) -> PyResult<StrField> {
    if f.1 > (1 << 24) {
        return Err(PyValueError::new_err(format!("a string field of {} bytes", f.1)));
    }
    Ok(StrField { offset: f.0, size: f.1 })
}

/// A dict of the block columns of the records at `starts` (int64 bytes) of `buf`: numbers as
/// native-order bytes, strings as (uint32 codes, NUL-padded table, width) as `gather_cstrings`
/// hands them. Fields are (offset, size, signed), strings (offset, size); None where absent.
#[pyfunction(name = "gather_block")]
#[pyo3(signature = (buf, starts, big_endian, known_pids, pid, dev, sector, nr_sector, bytes, ioprio, error, rwbs, comm))]
#[allow(clippy::too_many_arguments)]
fn py_gather_block<'py>(
    py: Python<'py>, buf: &[u8], starts: &[u8], big_endian: bool, known_pids: &[u8], pid: (i64, usize, bool),
    dev: (i64, usize, bool), sector: (i64, usize, bool), nr_sector: IntSpec, bytes: IntSpec, ioprio: IntSpec,
    error: IntSpec, rwbs: Option<(i64, usize)>, comm: Option<(i64, usize)>,
) -> PyResult<Bound<'py, PyDict>> {
    let spec = BlockSpec {
        big_endian,
        pid: int_field(pid)?,
        dev: int_field(dev)?,
        sector: int_field(sector)?,
        nr_sector: nr_sector.map(int_field).transpose()?,
        bytes: bytes.map(int_field).transpose()?,
        ioprio: ioprio.map(int_field).transpose()?,
        error: error.map(int_field).transpose()?,
        rwbs: rwbs.map(str_field).transpose()?,
        comm: comm.map(str_field).transpose()?,
    };
    let (starts, known) = (int64s(starts)?, int64s(known_pids)?);
    let c = py.detach(|| gather_block(buf, &starts, &spec, &known));
    let out = PyDict::new(py);
    out.set_item("pid", column(py, &c.pid, i32::to_ne_bytes)?)?;
    out.set_item("comm_at", column(py, &c.comm_at, u32::to_ne_bytes)?)?;
    out.set_item("dev_major", column(py, &c.dev_major, u32::to_ne_bytes)?)?;
    out.set_item("dev_minor", column(py, &c.dev_minor, u32::to_ne_bytes)?)?;
    out.set_item("dev_codes", column(py, &c.dev_codes, u32::to_ne_bytes)?)?;
    out.set_item("dev_values", column(py, &c.dev_values, u64::to_ne_bytes)?)?;
    out.set_item("sector", column(py, &c.sector, u64::to_ne_bytes)?)?;
    out.set_item("nr_sector", column(py, &c.nr_sector, u32::to_ne_bytes)?)?;
    out.set_item("bytes", column(py, &c.bytes, u64::to_ne_bytes)?)?;
    out.set_item("ioprio_codes", column(py, &c.ioprio_codes, u32::to_ne_bytes)?)?;
    out.set_item("ioprio_values", column(py, &c.ioprio_values, i64::to_ne_bytes)?)?;
    out.set_item("error", column(py, &c.error, i32::to_ne_bytes)?)?;
    for (name, s) in [("rwbs", c.rwbs), ("comm", c.comm)] {
        if let Some(s) = s {
            out.set_item(name, (column(py, &s.codes, u32::to_ne_bytes)?, PyBytes::new(py, &s.table), s.width))?;
        }
    }
    Ok(out)
}

/// A trace.dat's block lane (`dat_lane.rs`) for one run: the kinds' field layouts by event id,
/// the comms of saved_cmdlines, and the strings interned so far.
#[pyclass(module = "traceparse.parsers._native")]
struct DatBlockLane {
    inner: DatLane,
    specs: Vec<(i64, LaneSpec)>,
}

#[pymethods]
impl DatBlockLane {
    /// `known_pids`: int64 bytes, ascending; `comm_names`: their comms, then the unknown pid's.
    #[new]
    fn new(big_endian: bool, known_pids: &[u8], comm_names: Vec<Vec<u8>>) -> PyResult<Self> {
        let known = int64s(known_pids)?;
        if comm_names.len() != known.len() + 1 {
            return Err(PyValueError::new_err("one comm per known pid, and one for the unknown"));
        }
        Ok(DatBlockLane { inner: DatLane::new(big_endian, known, comm_names), specs: Vec::new() })
    }

    /// The layout of the event id `event_id`, of lane kind `kind` (1 insert, 2 issue, 3 complete).
    #[pyo3(signature = (event_id, kind, pid, dev, sector, nr_sector, bytes, rwbs))]
    #[allow(clippy::too_many_arguments)]
    fn add_kind(
        &mut self, event_id: i64, kind: u8, pid: (i64, usize, bool), dev: (i64, usize, bool), sector: (i64, usize, bool),
        nr_sector: IntSpec, bytes: IntSpec, rwbs: Option<(i64, usize)>,
    ) -> PyResult<()> {
        if !(1..=3).contains(&kind) {
            return Err(PyValueError::new_err(format!("lane kind {kind}")));
        }
        let spec = LaneSpec {
            kind,
            pid: int_field(pid)?,
            dev: int_field(dev)?,
            sector: int_field(sector)?,
            nr_sector: nr_sector.map(int_field).transpose()?,
            bytes: bytes.map(int_field).transpose()?,
            rwbs: rwbs.map(str_field).transpose()?,
        };
        self.specs.retain(|(id, _)| *id != event_id);
        self.specs.push((event_id, spec));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // a chunk's record columns, as Python holds them
    /// One chunk's lane: for each (event id, lo, hi) of `groups`, the records `order[lo..hi]`
    /// (int64 indices into `starts` of `buf`; `ts` int64 ns, `cpu` int16 of each record). A dict
    /// as the text scanner's lane: cols (block pairing's columns), strings_before, new_strings (a
    /// list of bytes), stats ((name, n, first ts, last ts, cpus) per kind).
    fn take<'py>(
        &mut self, py: Python<'py>, buf: &[u8], starts: &[u8], ts: &[u8], cpu: &[u8], order: &[u8], groups: Vec<(i64, usize, usize)>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (starts, ts, order) = (int64s(starts)?, int64s(ts)?, int64s(order)?);
        if !cpu.len().is_multiple_of(2) {
            return Err(PyValueError::new_err("an int16 column's length is not a multiple of 2"));
        }
        let cpu: Vec<i16> = cpu.chunks_exact(2).map(|c| i16::from_ne_bytes([c[0], c[1]])).collect();
        let mut jobs = Vec::new();
        for (id, lo, hi) in groups {
            let spec = self.specs.iter().find(|(i, _)| *i == id).map(|(_, s)| *s);
            let spec = spec.ok_or_else(|| PyValueError::new_err(format!("no lane layout for event id {id}")))?;
            let part = order.get(lo..hi).ok_or_else(|| PyValueError::new_err("a group outside the order"))?;
            jobs.push((part, spec));
        }
        let inner = &mut self.inner;
        let (lane, new) = py.detach(|| {
            for (part, spec) in &jobs {
                inner.push_kind(buf, &starts, &ts, &cpu, part, spec);
            }
            inner.take()
        });
        let cols = PyDict::new(py);
        cols.set_item("kind", PyBytes::new(py, &lane.kind))?;
        cols.set_item("devnum", column(py, &lane.devnum, u64::to_le_bytes)?)?;
        cols.set_item("sector", column(py, &lane.sector, u64::to_le_bytes)?)?;
        cols.set_item("ts", column(py, &lane.ts, i64::to_le_bytes)?)?;
        cols.set_item("pid", column(py, &lane.pid, i32::to_le_bytes)?)?;
        cols.set_item("nr", column(py, &lane.nr, u32::to_le_bytes)?)?;
        cols.set_item("bytes", column(py, &lane.bytes, u64::to_le_bytes)?)?;
        cols.set_item("nulls", PyBytes::new(py, &lane.nulls))?;
        cols.set_item("dev", column(py, &lane.dev, u32::to_le_bytes)?)?;
        cols.set_item("comm", column(py, &lane.comm, u32::to_le_bytes)?)?;
        cols.set_item("rwbs", column(py, &lane.rwbs, u32::to_le_bytes)?)?;
        let d = PyDict::new(py);
        d.set_item("cols", cols)?;
        d.set_item("strings_before", self.inner.strings() as usize - new.len())?;
        let strings = PyList::empty(py);
        for s in &new {
            strings.append(PyBytes::new(py, s))?;
        }
        d.set_item("new_strings", strings)?;
        let stats = PyList::empty(py);
        for s in &lane.stats {
            stats.append((&s.name, s.n, s.lo, s.hi, s.all_cpus()))?;
        }
        d.set_item("stats", stats)?;
        Ok(d)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DatBlockLane>()?;
    m.add_function(wrap_pyfunction!(py_decode_pages, m)?)?;
    m.add_function(wrap_pyfunction!(py_gather_int, m)?)?;
    m.add_function(wrap_pyfunction!(py_gather_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(py_gather_cstrings, m)?)?;
    m.add_function(wrap_pyfunction!(py_intern_ints, m)?)?;
    m.add_function(wrap_pyfunction!(py_merge_order, m)?)?;
    m.add_function(wrap_pyfunction!(py_group_by, m)?)?;
    m.add_function(wrap_pyfunction!(py_merge_grouped, m)?)?;
    m.add_function(wrap_pyfunction!(py_gather_block, m)?)?;
    Ok(())
}
