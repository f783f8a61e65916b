//! The Python face of block pairing: `traceparse.reports._native.Pairing`.
//!
//! Columns come in and go out as little-endian bytes (numpy's `tobytes()` / `frombuffer`), one
//! buffer per column, never a Python object per event. A nullable value goes with a `*_valid` byte
//! column (1: has a value); interned strings are u32 codes with u32::MAX for null.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::pairing::{pair_chunk, Bounds, Done, Event, Open, OpenTable, Ops, Request, Side};

// bits of the `nulls` column: which of an event's values are null in its frame
const TS_NULL: u8 = 1;
const KEY_NULL: u8 = 2;
const PID_NULL: u8 = 4;
const NR_NULL: u8 = 8;
const BYTES_NULL: u8 = 16;

/// A fixed-size little-endian value of a column buffer.
trait Le: Sized + Copy + Default {
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

fn column<T: Le>(cols: &Bound<PyDict>, name: &str, n: usize) -> PyResult<Vec<T>> {
    let item = cols.get_item(name)?.ok_or_else(|| PyValueError::new_err(format!("pairing: no column {name}")))?;
    let bytes = item.cast::<PyBytes>().map_err(|_| PyValueError::new_err(format!("pairing: column {name} is not bytes")))?;
    let b = bytes.as_bytes();
    if b.len() != n * T::N {
        return Err(PyValueError::new_err(format!("pairing: column {name} has {} bytes, expected {}", b.len(), n * T::N)));
    }
    Ok(b.chunks_exact(T::N).map(T::read).collect())
}

fn events(cols: &Bound<PyDict>) -> PyResult<Vec<Event>> {
    let kind: Vec<u8> = {
        let item = cols.get_item("kind")?.ok_or_else(|| PyValueError::new_err("pairing: no column kind"))?;
        item.cast::<PyBytes>().map_err(|_| PyValueError::new_err("pairing: column kind is not bytes"))?.as_bytes().to_vec()
    };
    let n = kind.len();
    let (devnum, sector) = (column::<u64>(cols, "devnum", n)?, column::<u64>(cols, "sector", n)?);
    let (ts, dev, comm) = (column::<i64>(cols, "ts", n)?, column::<u32>(cols, "dev", n)?, column::<u32>(cols, "comm", n)?);
    let (pid, rwbs, nr) = (column::<i32>(cols, "pid", n)?, column::<u32>(cols, "rwbs", n)?, column::<u32>(cols, "nr", n)?);
    let (bytes, nulls) = (column::<u64>(cols, "bytes", n)?, column::<u8>(cols, "nulls", n)?);
    let some = |null: u8, bit: u8| null & bit == 0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let z = nulls[i];
        out.push(Event {
            kind: kind[i],
            key: some(z, KEY_NULL).then_some((devnum[i], sector[i])),
            dev: dev[i],
            ts: some(z, TS_NULL).then_some(ts[i]),
            comm: comm[i],
            pid: some(z, PID_NULL).then_some(pid[i]),
            rwbs: rwbs[i],
            nr: some(z, NR_NULL).then_some(nr[i]),
            bytes: some(z, BYTES_NULL).then_some(bytes[i]),
            sector: some(z, KEY_NULL).then_some(sector[i]),
        });
    }
    Ok(out)
}

/// Output columns under a prefix: "done.ts", "done.ts_valid", ...
struct Out<'py> {
    dict: Bound<'py, PyDict>,
}

impl<'py> Out<'py> {
    fn put<T: Le>(&self, name: &str, values: impl Iterator<Item = T>) -> PyResult<()> {
        let mut buf = Vec::new();
        values.for_each(|v| v.write(&mut buf));
        self.dict.set_item(name, PyBytes::new(self.dict.py(), &buf))
    }
    fn put_opt<T: Le>(&self, name: &str, values: impl Iterator<Item = Option<T>> + Clone) -> PyResult<()> {
        self.put(&format!("{name}_valid"), values.clone().map(|v| u8::from(v.is_some())))?;
        self.put(name, values.map(Option::unwrap_or_default))
    }
    fn requests<'a>(&self, p: &str, reqs: impl Iterator<Item = &'a Request> + Clone) -> PyResult<()> {
        self.put_opt(&format!("{p}.ins_ts"), reqs.clone().map(|r| r.ins_ts))?;
        self.put(&format!("{p}.ins_comm"), reqs.clone().map(|r| r.ins_comm))?;
        self.put_opt(&format!("{p}.ins_pid"), reqs.clone().map(|r| r.ins_pid))?;
        self.put_opt(&format!("{p}.iss_ts"), reqs.clone().map(|r| r.iss_ts))?;
        self.put(&format!("{p}.iss_comm"), reqs.clone().map(|r| r.iss_comm))?;
        self.put_opt(&format!("{p}.iss_pid"), reqs.clone().map(|r| r.iss_pid))?;
        self.put(&format!("{p}.rwbs"), reqs.clone().map(|r| r.rwbs))?;
        self.put_opt(&format!("{p}.nr"), reqs.clone().map(|r| r.nr))?;
        self.put_opt(&format!("{p}.bytes"), reqs.clone().map(|r| r.bytes))?;
        self.put_opt(&format!("{p}.orig_sector"), reqs.clone().map(|r| r.orig_sector))?;
        self.put_opt(&format!("{p}.parts"), reqs.map(|r| r.parts))
    }
    fn done(&self, done: &[Done]) -> PyResult<()> {
        self.put_opt("done.ts", done.iter().map(|d| d.ts))?;
        self.put("done.dev", done.iter().map(|d| d.dev))?;
        self.put("done.c_rwbs", done.iter().map(|d| d.c_rwbs))?;
        self.requests("done", done.iter().map(|d| &d.req))
    }
    fn sides(&self, p: &str, sides: &[Side]) -> PyResult<()> {
        self.put(&format!("{p}.dev"), sides.iter().map(|s| s.dev))?;
        self.put(&format!("{p}.op"), sides.iter().map(|s| s.op))?;
        self.put(&format!("{p}.comm"), sides.iter().map(|s| s.comm))?;
        self.put_opt(&format!("{p}.ts"), sides.iter().map(|s| s.ts))
    }
    fn opens(&self, p: &str, opens: &[Open]) -> PyResult<()> {
        self.put(&format!("{p}.dev"), opens.iter().map(|o| o.dev))?;
        self.requests(p, opens.iter().map(|o| &o.req))
    }
}

/// The open-request table, kept between chunks; `pair` pairs one chunk against it.
#[pyclass(module = "traceparse.reports._native")]
pub struct Pairing {
    table: OpenTable,
}

#[pymethods]
impl Pairing {
    #[new]
    fn new() -> Self {
        Pairing { table: OpenTable::default() }
    }

    /// Pair one chunk's events (`cols`: name -> bytes) with the open requests; `ops` maps rwbs
    /// codes to op letters. Returns name -> bytes: done.*, without_issue.*, mismatched.*,
    /// partials.*, overwritten.*, dropped.* (open requests the bound dropped).
    fn pair<'py>(&mut self, py: Python<'py>, cols: &Bound<'py, PyDict>, ops: &[u8], hot_rows: usize, max_open: usize) -> PyResult<Bound<'py, PyDict>> {
        let events = events(cols)?;
        let table = &mut self.table;
        let p = py.detach(|| pair_chunk(table, &events, &Ops(ops), Bounds { hot_rows, max_open }));
        let out = Out { dict: PyDict::new(py) };
        out.done(&p.done)?;
        let (wi, empty): (Vec<Side>, Vec<bool>) = p.without_issue.iter().copied().unzip();
        out.sides("without_issue", &wi)?;
        out.put("without_issue.empty", empty.into_iter().map(u8::from))?;
        out.sides("mismatched", &p.mismatched)?;
        out.sides("partials", &p.partials)?;
        out.sides("overwritten", &p.overwritten)?;
        out.opens("dropped", &p.dropped)?;
        Ok(out.dict)
    }

    /// Every open request (open.* columns, as `dropped.*` above).
    fn open<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = Out { dict: PyDict::new(py) };
        out.opens("open", &self.table.all())?;
        Ok(out.dict)
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }
}

pub fn register(m: &Bound<PyModule>) -> PyResult<()> {
    m.add_class::<Pairing>()
}
