//! `_native.PerfScanner`: perf.data samples handed to Python as column buffers (perf_data.rs).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::decode::{self, Decoding, Shared};
use super::{Batch, LaneCfg, LaneKind, Scanner};
use crate::block_fields::{IntField, StrField};
use crate::py_text::lane_dict;

/// A Python binary file object read from Rust: `read(n)`, `seek(pos, whence)`.
struct PyFile(Py<PyAny>);

fn io_err(e: PyErr) -> io::Error {
    io::Error::other(e.to_string())
}

impl Read for PyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let got = self.0.bind(py).call_method1("read", (buf.len(),)).map_err(io_err)?;
            let bytes = got.cast::<PyBytes>().map_err(|e| io::Error::other(e.to_string()))?.as_bytes();
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        })
    }
}

impl Seek for PyFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (pos, whence) = match to {
            SeekFrom::Start(n) => (n as i64, 0),
            SeekFrom::Current(n) => (n, 1),
            SeekFrom::End(n) => (n, 2),
        };
        Python::attach(|py| self.0.bind(py).call_method1("seek", (pos, whence)).and_then(|r| r.extract::<u64>()).map_err(io_err))
    }
}

/// The scanner behind a lock: Python may hand the object to the reading thread.
#[pyclass(module = "traceparse.parsers._native")]
struct PerfScanner {
    inner: Arc<Shared>,
    /// opened by path: its reads need no Python (a thread reading ahead over a Python file object
    /// would wait for the GIL, and dropping the scanner, which waits for that thread, holds it)
    by_path: bool,
    /// the batches, made by a thread of their own from here on (`decode_ahead`)
    decoding: Mutex<Option<Decoding>>,
}

fn bytes_of<T: Copy, const N: usize>(py: Python<'_>, v: &[T], f: impl Fn(T) -> [u8; N]) -> Py<PyBytes> {
    let out: Vec<u8> = v.iter().flat_map(|&x| f(x)).collect();
    PyBytes::new(py, &out).unbind()
}

impl PerfScanner {
    fn of(scanner: Scanner, by_path: bool) -> Self {
        PerfScanner { inner: Shared::new(scanner), by_path, decoding: Mutex::new(None) }
    }

    fn is_decoding(&self) -> bool {
        self.decoding.lock().map_or(true, |d| d.is_some())
    }

    /// A setting changes what the batches from here on hold: refused once they are made by a thread.
    fn settable(&self) -> PyResult<std::sync::MutexGuard<'_, Scanner>> {
        if self.is_decoding() {
            return Err(PyValueError::new_err("the perf.data scanner decodes ahead: its settings are fixed"));
        }
        self.lock()
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Scanner>> {
        self.inner.lock().map_err(|_| PyValueError::new_err("perf.data scanner poisoned"))
    }
}

type Int = (i64, usize, bool);

fn int_field(f: Int) -> PyResult<IntField> {
    if !matches!(f.1, 1 | 2 | 4 | 8) || f.0 < 0 {
        return Err(PyValueError::new_err(format!("an integer of {} bytes at {}", f.1, f.0)));
    }
    Ok(IntField { offset: f.0, size: f.1, signed: f.2 })
}

fn batch_dict<'py>(py: Python<'py>, b: &Batch) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ts", bytes_of(py, &b.ts, u64::to_ne_bytes))?;
    d.set_item("cpu", bytes_of(py, &b.cpu, u32::to_ne_bytes))?;
    d.set_item("pid", bytes_of(py, &b.pid, i32::to_ne_bytes))?;
    d.set_item("tid", bytes_of(py, &b.tid, i32::to_ne_bytes))?;
    d.set_item("period", bytes_of(py, &b.period, u64::to_ne_bytes))?;
    d.set_item("attr", bytes_of(py, &b.attr, u32::to_ne_bytes))?;
    d.set_item("comm", bytes_of(py, &b.comm, u32::to_ne_bytes))?;
    d.set_item("stack", bytes_of(py, &b.stack, i32::to_ne_bytes))?;
    d.set_item("raw", PyBytes::new(py, &b.raw))?;
    d.set_item("raw_off", bytes_of(py, &b.raw_off, u64::to_ne_bytes))?;
    d.set_item("raw_len", bytes_of(py, &b.raw_len, u32::to_ne_bytes))?;
    d.set_item("lost", PyList::new(py, b.lost.iter().copied())?)?;
    d.set_item("throttled", b.throttled)?;
    d.set_item("paused", b.paused)?;
    d.set_item("lane", lane_dict(py, &b.lane, b.lane_strings_before, &b.lane_new)?)?;
    Ok(d)
}

#[pymethods]
impl PerfScanner {
    /// Opens `file` (a binary file object); `pipe`: the stream is perf's pipe mode (header size 16).
    /// A file that cannot be read is ValueError("at byte N: why").
    #[new]
    fn new(file: Py<PyAny>, pipe: bool) -> PyResult<Self> {
        // buffered: the crate reads each record's header and body with their own small reads
        let scanner = Scanner::open(Box::new(io::BufReader::with_capacity(1 << 20, PyFile(file))), pipe)
            .map_err(|e| PyValueError::new_err(format!("at byte {}: {}", e.offset, e.what)))?;
        Ok(PerfScanner::of(scanner, false))
    }

    /// Opens the file at `path` itself: no Python call per read, and no GIL while it scans.
    #[staticmethod]
    fn open_path(path: &str, pipe: bool) -> PyResult<Self> {
        let file = std::fs::File::open(path).map_err(|e| PyValueError::new_err(format!("at byte 0: {e}")))?;
        // unbuffered: the scanner's record check (resync.rs) reads the data section in 1 MiB pieces
        // and the sections around it in small ones (a buffer here read 1 MiB at each of their seeks)
        let scanner = Scanner::open(Box::new(file), pipe).map_err(|e| PyValueError::new_err(format!("at byte {}: {}", e.offset, e.what)))?;
        Ok(PerfScanner::of(scanner, true))
    }

    /// Up to `max_samples` samples (or `max_raw` payload bytes) as a dict of column buffers. The GIL
    /// is released while it scans (a Python file object's reads take it back for each 1 MiB).
    /// Decoding ahead, the next batch its thread made (with the bounds `decode_ahead` was given).
    fn next_batch<'py>(&self, py: Python<'py>, max_samples: usize, max_raw: usize) -> PyResult<Bound<'py, PyDict>> {
        let b = py.detach(|| {
            let made = self.decoding.lock().ok()?.as_mut().map(Decoding::take);
            match made {
                Some(Some(b)) => Some(b),
                // here, or after the thread's last batch: the scanner's own (empty once it is done)
                _ => self.inner.lock().ok().map(|mut s| s.next_batch(max_samples, max_raw)),
            }
        });
        let b = b.ok_or_else(|| PyValueError::new_err("perf.data scanner poisoned"))?;
        batch_dict(py, &b)
    }

    /// Make the batches in a thread of their own from here on, each of at most `max_samples`
    /// samples or `max_raw` payload bytes, up to 64 MiB of them before the caller takes them
    /// (perf_decode.rs): a file opened by path, in file mode, before its first batch, its settings
    /// made (they are fixed from here on). False where it was not started.
    fn decode_ahead(&self, max_samples: usize, max_raw: usize) -> PyResult<bool> {
        if !self.by_path || self.is_decoding() || !self.lock()?.may_decode_ahead() {
            return Ok(false);
        }
        let Some(d) = decode::start(self.inner.clone(), max_samples, max_raw, super::ahead::AHEAD_BYTES) else { return Ok(false) };
        if let Ok(mut slot) = self.decoding.lock() {
            *slot = Some(d);
        }
        Ok(true)
    }

    /// Whether the batches are made ahead (`decode_ahead`).
    fn decoding(&self) -> bool {
        self.is_decoding()
    }

    /// Read the records in a thread of their own from here on (perf_ahead.rs): a file opened by
    /// path, in file mode, before the first batch. False where it was not started (then the
    /// scanner reads them itself).
    fn read_ahead(&self) -> PyResult<bool> {
        Ok(self.by_path && self.settable()?.read_ahead())
    }

    /// The block lane is wanted: a batch ends where the tracing data is first met, so that it can
    /// be set (`set_lane`) before the block requests after it are read.
    fn want_lane(&self) -> PyResult<()> {
        self.settable()?.lane_pending = true;
        Ok(())
    }

    /// Block requests into the block lane from here on: `common_type` (offset, size, signed); per
    /// kind (tracepoint id, lane kind, fixed end, dev, sector, nr_sector, bytes, rwbs) with fields
    /// as (offset, size, signed) and rwbs (offset, size), None where absent; per attr whether it
    /// is a tracepoint.
    #[allow(clippy::type_complexity)]
    fn set_lane(&self, common_type: Int, kinds: Vec<(i64, u8, usize, Int, Int, Option<Int>, Option<Int>, Option<(i64, usize)>)>, tracepoint_attrs: Vec<bool>) -> PyResult<()> {
        let kinds = kinds
            .into_iter()
            .map(|(id, kind, fixed_end, dev, sector, nr, bytes, rwbs)| {
                Ok(LaneKind {
                    id,
                    kind,
                    fixed_end,
                    dev: int_field(dev)?,
                    sector: int_field(sector)?,
                    nr_sector: nr.map(int_field).transpose()?,
                    bytes: bytes.map(int_field).transpose()?,
                    rwbs: rwbs.map(|(offset, size)| StrField { offset, size }),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let mut s = self.settable()?;
        s.lane = Some(LaneCfg::new(int_field(common_type)?, kinds, tracepoint_attrs));
        s.lane_pending = false;
        Ok(())
    }

    /// Per lane kind (in `set_lane`'s order): the payloads too short for its fields, left out.
    fn lane_short(&self) -> PyResult<Vec<u64>> {
        Ok(self.lock()?.lane.as_ref().map(|l| l.short.clone()).unwrap_or_default())
    }

    fn set_stacks(&self, wanted: bool) -> PyResult<()> {
        self.settable()?.stacks_wanted = wanted;
        Ok(())
    }

    /// Interned comm names from index `start` on.
    fn comms(&self, start: usize) -> PyResult<Vec<String>> {
        Ok(self.lock()?.comms.names.get(start..).unwrap_or_default().to_vec())
    }

    /// Stacks `start..`: (number of stacks, and four buffers: per frame its file (u32: an index
    /// into `dsos`, or KERNEL / NO_MAP), its offset in the file (u64), its address (u64); per stack
    /// where its frames end (u64, from 0)).
    #[allow(clippy::type_complexity)]
    fn stacks<'py>(&self, py: Python<'py>, start: usize) -> PyResult<(usize, Py<PyBytes>, Py<PyBytes>, Py<PyBytes>, Py<PyBytes>)> {
        let s = self.lock()?;
        let st = &s.stacks;
        let n = st.len();
        let empty = || PyBytes::new(py, b"").unbind();
        if start >= n {
            return Ok((n, empty(), empty(), empty(), empty()));
        }
        let offs = &st.offsets[start..];
        let lo = offs.first().copied().unwrap_or(0) as usize;
        let frames = st.frames.get(lo..).unwrap_or_default();
        let rebased: Vec<u64> = offs.iter().map(|o| o - lo as u64).collect();
        let dso: Vec<u32> = frames.iter().map(|f| f.dso).collect();
        let off: Vec<u64> = frames.iter().map(|f| f.off).collect();
        let addr: Vec<u64> = frames.iter().map(|f| f.addr).collect();
        Ok((
            n,
            bytes_of(py, &dso, u32::to_ne_bytes),
            bytes_of(py, &off, u64::to_ne_bytes),
            bytes_of(py, &addr, u64::to_ne_bytes),
            bytes_of(py, &rebased, u64::to_ne_bytes),
        ))
    }

    /// The mapped files from index `start` on: (path, build id bytes from its MMAP2, or None).
    fn dsos<'py>(&self, py: Python<'py>, start: usize) -> PyResult<Vec<(String, Option<Py<PyBytes>>)>> {
        let s = self.lock()?;
        let list = s.maps.dsos.get(start..).unwrap_or_default();
        Ok(list.iter().map(|d| (d.path.clone(), d.build_id.as_ref().map(|b| PyBytes::new(py, b).unbind()))).collect())
    }

    /// HEADER_BUILD_ID: (path, build id bytes) of each file perf record listed.
    fn build_ids<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Py<PyBytes>)>> {
        let s = self.lock()?;
        Ok(s.build_ids().into_iter().map(|(p, b)| (p, PyBytes::new(py, &b).unbind())).collect())
    }

    fn tracing_data<'py>(&self, py: Python<'py>) -> PyResult<Option<Py<PyBytes>>> {
        let mut s = self.lock()?;
        Ok(s.tracing_data().map(|t| PyBytes::new(py, t).unbind()))
    }

    /// The damaged records skipped: (stretches of broken record headers skipped, their bytes, the
    /// first one's offset and what was wrong with it, records whose contents did not parse).
    fn skipped(&self) -> PyResult<(u64, u64, Option<u64>, String, u64)> {
        let s = self.lock()?;
        let k = s.skips();
        Ok((k.stretches, k.bytes, k.first, k.first_why, s.bad_records))
    }

    /// (offset, what) where reading stopped early, or None.
    fn damage(&self) -> PyResult<Option<(u64, String)>> {
        Ok(self.lock()?.damage.as_ref().map(|d| (d.offset, d.what.clone())))
    }

    /// File mode cut inside its data section: (file length, end of its last whole record, the
    /// data's end the header claimed), or None.
    fn cut(&self) -> PyResult<Option<(u64, u64, u64)>> {
        Ok(self.lock()?.cut.map(|c| (c.at, c.data_end, c.claimed_end)))
    }

    fn records(&self) -> PyResult<u64> {
        Ok(self.lock()?.records)
    }

    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.lock()?;
        let m = s.meta();
        let d = PyDict::new(py);
        d.set_item("hostname", &m.hostname)?;
        d.set_item("os_release", &m.os_release)?;
        d.set_item("perf_version", &m.perf_version)?;
        d.set_item("arch", &m.arch)?;
        d.set_item("cpu_desc", &m.cpu_desc)?;
        d.set_item("nr_cpus_online", m.nr_cpus_online)?;
        d.set_item("nr_cpus_available", m.nr_cpus_available)?;
        d.set_item("cmdline", &m.cmdline)?;
        d.set_item("total_mem_kb", m.total_mem_kb)?;
        d.set_item("clockid", m.clockid)?;
        d.set_item("cpu_id", &m.cpu_id)?;
        d.set_item("clock", &m.clock)?;
        d.set_item("endianness", if m.big_endian { "big" } else { "little" })?;
        d.set_item("simpleperf", m.simpleperf)?;
        d.set_item("features", &m.features)?;
        d.set_item("attrs", m.attrs.clone())?;
        Ok(d)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PerfScanner>()
}
