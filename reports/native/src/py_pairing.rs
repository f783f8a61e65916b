//! The Python face of block pairing: `traceparse.reports._native.Pairing`.
//!
//! Columns come in and go out as little-endian bytes (numpy's `tobytes()` / `frombuffer`), one
//! buffer per column, never a Python object per event. A nullable value goes with a `*_valid` byte
//! column (1: has a value); interned strings are u32 codes with u32::MAX for null.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::py_columns::{column, Le, Out};
use crate::py_recording::Recorder;
use crate::recording::{Finished, Strings};
use crate::pairing::{pair_chunk, Bounds, Done, Event, Open, OpenTable, Ops, Request, Scratch, Side};

// bits of the `nulls` column: which of an event's values are null in its frame
const TS_NULL: u8 = 1;
const KEY_NULL: u8 = 2;
const PID_NULL: u8 = 4;
const NR_NULL: u8 = 8;
const BYTES_NULL: u8 = 16;

const COLUMNS: [&str; 11] = ["kind", "devnum", "sector", "ts", "dev", "comm", "pid", "rwbs", "nr", "bytes", "nulls"];

/// The chunk's columns as bytes objects, by name (COLUMNS' order).
fn held<'py>(cols: &Bound<'py, PyDict>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let mut held = Vec::with_capacity(COLUMNS.len());
    for name in COLUMNS {
        let item = cols.get_item(name)?.ok_or_else(|| PyValueError::new_err(format!("pairing: no column {name}")))?;
        held.push(item.cast_into::<PyBytes>().map_err(|_| PyValueError::new_err(format!("pairing: column {name} is not bytes")))?);
    }
    Ok(held)
}

/// A chunk's columns, their lengths checked: slices of immutable bytes objects, which the pairing
/// reads without the GIL (the report's reading thread runs Python meanwhile).
struct Columns<'a> {
    n: usize,
    kind: &'a [u8],
    nulls: &'a [u8],
    devnum: &'a [u8],
    sector: &'a [u8],
    ts: &'a [u8],
    bytes: &'a [u8],
    dev: &'a [u8],
    comm: &'a [u8],
    pid: &'a [u8],
    rwbs: &'a [u8],
    nr: &'a [u8],
}

impl<'a> Columns<'a> {
    fn of(held: &'a [Bound<'a, PyBytes>]) -> PyResult<Self> {
        let n = held.first().map_or(0, |k| k.as_bytes().len());
        let c = |name| column::<u8>(held, &COLUMNS, name, n);
        let c64 = |name| column::<u64>(held, &COLUMNS, name, n);
        let c32 = |name| column::<u32>(held, &COLUMNS, name, n);
        Ok(Columns {
            n,
            kind: c("kind")?,
            nulls: c("nulls")?,
            devnum: c64("devnum")?,
            sector: c64("sector")?,
            ts: c64("ts")?,
            bytes: c64("bytes")?,
            dev: c32("dev")?,
            comm: c32("comm")?,
            pid: c32("pid")?,
            rwbs: c32("rwbs")?,
            nr: c32("nr")?,
        })
    }

    /// The chunk's events, read in one pass into `out` (kept between chunks).
    fn events(&self, out: &mut Vec<Event>) {
        let at8 = |b: &[u8], i: usize| b.get(i * 8..i * 8 + 8).map_or(0, u64::read);
        let at4 = |b: &[u8], i: usize| b.get(i * 4..i * 4 + 4).map_or(0, u32::read);
        out.clear();
        out.reserve(self.n);
        for (i, (&kind, &z)) in self.kind.iter().zip(self.nulls).enumerate() {
            let null = |bit: u8| z & bit != 0;
            out.push(Event::of_lane(
                kind,
                (at8(self.devnum, i), at8(self.sector, i)),
                at4(self.dev, i),
                at8(self.ts, i) as i64,
                at4(self.comm, i),
                at4(self.pid, i) as i32,
                at4(self.rwbs, i),
                at4(self.nr, i),
                at8(self.bytes, i),
                null(KEY_NULL),
                null(TS_NULL),
                null(PID_NULL),
                null(NR_NULL),
                null(BYTES_NULL),
            ));
        }
    }
}

impl Out<'_> {
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
    events: Vec<Event>,
    scratch: Scratch,
}

#[pymethods]
impl Pairing {
    #[new]
    fn new() -> Self {
        Pairing { table: OpenTable::default(), events: Vec::new(), scratch: Scratch::default() }
    }

    /// Pair one chunk's events (`cols`: name -> bytes) with the open requests; `ops` maps rwbs
    /// codes to op letters. Returns name -> bytes: done.*, without_issue.*, mismatched.*,
    /// partials.*, overwritten.*, dropped.* (open requests the bound dropped); each unpaired side's
    /// count as `<side>.n` (and `without_issue.empty_n`), its rows only with `sides` (the report's
    /// filters read them; unfiltered, a count is all it needs).
    ///
    /// With `record` (a Recorder, and `strings`, the run's strings by code) the finished requests
    /// are recorded here, not handed over: only their number comes back, as `done.n`.
    #[pyo3(signature = (cols, ops, hot_rows, max_open, sides=true, record=None, strings=None))]
    #[allow(clippy::too_many_arguments)] // Python's keywords, one per knob
    fn pair<'py>(
        &mut self, py: Python<'py>, cols: &Bound<'py, PyDict>, ops: &[u8], hot_rows: usize, max_open: usize, sides: bool,
        record: Option<PyRefMut<'py, Recorder>>, strings: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let held = held(cols)?;
        let columns = Columns::of(&held)?;
        let (table, events, scratch) = (&mut self.table, &mut self.events, &mut self.scratch);
        let p = py.detach(|| {
            columns.events(events);
            pair_chunk(table, events, &Ops(ops), Bounds { hot_rows, max_open }, scratch)
        });
        let out = Out::new(py);
        out.dict.set_item("done.n", p.done.len())?;
        match record {
            Some(mut r) => {
                let rec = &mut r.rec;
                if let Some(strings) = strings {
                    rec.strings = Strings(strings);
                }
                let (done, ops) = (&p.done, Ops(ops));
                py.detach(|| rec.record(done.len(), |i| Finished::of(&done[i], &ops), |_| true));
            }
            None => out.done(&p.done)?,
        }
        let empty_n = p.without_issue.iter().filter(|(_, e)| *e).count();
        for (name, n) in [("without_issue", p.without_issue.len()), ("mismatched", p.mismatched.len()), ("partials", p.partials.len()), ("overwritten", p.overwritten.len())] {
            out.dict.set_item(format!("{name}.n"), n)?;
        }
        out.dict.set_item("without_issue.empty_n", empty_n)?;
        if sides {
            let (wi, empty): (Vec<Side>, Vec<bool>) = p.without_issue.iter().copied().unzip();
            out.sides("without_issue", &wi)?;
            out.put("without_issue.empty", empty.into_iter().map(u8::from))?;
            out.sides("mismatched", &p.mismatched)?;
            out.sides("partials", &p.partials)?;
            out.sides("overwritten", &p.overwritten)?;
        }
        out.opens("dropped", &p.dropped)?;
        Ok(out.dict)
    }

    /// Every open request (open.* columns, as `dropped.*` above).
    fn open<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = Out::new(py);
        out.opens("open", &self.table.all())?;
        Ok(out.dict)
    }

    /// (issued, inserted and never issued) of the open requests: what the report counts of them
    /// without filters, without handing them all over.
    fn open_counts(&self) -> (usize, usize) {
        self.table.counts()
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }
}

pub fn register(m: &Bound<PyModule>) -> PyResult<()> {
    m.add_class::<Pairing>()
}
