//! The Python face of the recording: `traceparse.reports._native.Recorder`.
//!
//! It records a batch of the pairing's `done.*` columns (py_pairing.rs) as they are, or the pairing
//! hands it a chunk's finished requests itself (`Pairing.pair(record=...)`). At the end it hands
//! back the distributions as column buffers, and the heat maps, series, tally and slow listing as
//! lists with their strings spelled, for reports/block_recording.py.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::pairing::{Done, Ops, Request};
use crate::py_columns::{Le, Out};
use crate::recording::{Finished, Group, Options, Recording, Strings};

/// A column of the pairing's `done.*` output, read in place: little-endian values and, for a
/// nullable one, its `_valid` bytes.
#[derive(Clone, Copy)]
struct Col<'a, T> {
    values: &'a [u8],
    valid: Option<&'a [u8]>,
    _t: std::marker::PhantomData<T>,
}

impl<'a, T: Le> Col<'a, T> {
    fn of(name: &str, n: usize, held: &'a [Option<Bound<'a, PyBytes>>]) -> PyResult<Self> {
        let find = |name: &str| held.iter().zip(DONE).find(|(_, c)| *c == name).and_then(|(b, _)| b.as_ref()).map(|b| b.as_bytes());
        let values = find(name).ok_or_else(|| PyValueError::new_err(format!("recorder: no column {name}")))?;
        let valid = find(&format!("{name}_valid"));
        if values.len() != n * T::N || valid.is_some_and(|v| v.len() != n) {
            return Err(PyValueError::new_err(format!("recorder: column {name} does not hold {n} values")));
        }
        Ok(Col { values, valid, _t: std::marker::PhantomData })
    }
    fn at(&self, i: usize) -> T {
        self.values.get(i * T::N..(i + 1) * T::N).map_or_else(T::default, T::read)
    }
    fn opt(&self, i: usize) -> Option<T> {
        self.valid.is_none_or(|v| v.get(i) == Some(&1)).then(|| self.at(i))
    }
}

/// The pairing's done.* columns (and their `_valid` companions) that the recording reads.
const DONE: [&str; 23] = [
    "done.ts", "done.ts_valid", "done.dev", "done.c_rwbs", "done.rwbs", "done.ins_comm", "done.iss_comm", "done.ins_ts",
    "done.ins_ts_valid", "done.iss_ts", "done.iss_ts_valid", "done.ins_pid", "done.ins_pid_valid", "done.iss_pid",
    "done.iss_pid_valid", "done.nr", "done.nr_valid", "done.bytes", "done.bytes_valid", "done.orig_sector",
    "done.orig_sector_valid", "done.parts", "done.parts_valid",
];

/// The finished requests of one batch, where the pairing wrote them.
struct DoneCols<'a> {
    ts: Col<'a, i64>,
    dev: Col<'a, u32>,
    c_rwbs: Col<'a, u32>,
    rwbs: Col<'a, u32>,
    ins_comm: Col<'a, u32>,
    iss_comm: Col<'a, u32>,
    ins_ts: Col<'a, i64>,
    iss_ts: Col<'a, i64>,
    ins_pid: Col<'a, i32>,
    iss_pid: Col<'a, i32>,
    nr: Col<'a, u32>,
    bytes: Col<'a, u64>,
    sector: Col<'a, u64>,
    parts: Col<'a, i32>,
}

impl DoneCols<'_> {
    /// Request i, as the pairing had it.
    fn row(&self, i: usize) -> Done {
        Done {
            ts: self.ts.opt(i),
            dev: self.dev.at(i),
            c_rwbs: self.c_rwbs.at(i),
            req: Request {
                ins_ts: self.ins_ts.opt(i),
                ins_comm: self.ins_comm.at(i),
                ins_pid: self.ins_pid.opt(i),
                iss_ts: self.iss_ts.opt(i),
                iss_comm: self.iss_comm.at(i),
                iss_pid: self.iss_pid.opt(i),
                rwbs: self.rwbs.at(i),
                nr: self.nr.opt(i),
                bytes: self.bytes.opt(i),
                orig_sector: self.sector.opt(i),
                parts: self.parts.opt(i),
            },
        }
    }
}

/// Finished requests, recorded batch after batch; read out once at the end.
#[pyclass(module = "traceparse.reports._native")]
pub struct Recorder {
    pub(crate) rec: Recording,
}

fn phase(p: usize) -> PyResult<usize> {
    if p < 3 {
        Ok(p)
    } else {
        Err(PyValueError::new_err(format!("recorder: no phase {p} (0 d2c, 1 i2c, 2 i2d)")))
    }
}

#[pymethods]
impl Recorder {
    /// `t0`: the capture's first time (the heat maps' axis); `unit_ns`: the display unit's length;
    /// `keep_slow`: rows the slow listing keeps; `slower_than`: its D2C threshold, if any.
    #[new]
    #[pyo3(signature = (t0, unit_ns, keep_slow, slower_than=None))]
    fn new(t0: i64, unit_ns: i64, keep_slow: usize, slower_than: Option<i64>) -> PyResult<Self> {
        if unit_ns <= 0 {
            return Err(PyValueError::new_err("recorder: unit_ns must be positive"));
        }
        Ok(Recorder { rec: Recording::new(Options { t0, unit_ns, keep_slow, slower_than }) })
    }

    /// Record one pairing's finished requests (`cols`: its done.* columns). `ops`: each rwbs code's
    /// op letter; `strings`: the run's strings by code (they order ties); `kept`: a byte per request,
    /// 1 where the report's filters keep it (None: all).
    #[pyo3(signature = (cols, ops, strings, kept=None))]
    fn record(&mut self, py: Python<'_>, cols: &Bound<'_, PyDict>, ops: &[u8], strings: Vec<Option<String>>, kept: Option<&[u8]>) -> PyResult<()> {
        let mut held = Vec::with_capacity(DONE.len());
        for name in DONE {
            match cols.get_item(name)? {
                Some(b) => held.push(Some(b.cast_into::<PyBytes>().map_err(|_| PyValueError::new_err(format!("recorder: column {name} is not bytes")))?)),
                None => held.push(None), // a column without nulls may come without its _valid
            }
        }
        let n = held.get(2).and_then(Option::as_ref).map_or(0, |b| b.as_bytes().len()) / 4;
        let done = DoneCols {
            ts: Col::of("done.ts", n, &held)?,
            dev: Col::of("done.dev", n, &held)?,
            c_rwbs: Col::of("done.c_rwbs", n, &held)?,
            rwbs: Col::of("done.rwbs", n, &held)?,
            ins_comm: Col::of("done.ins_comm", n, &held)?,
            iss_comm: Col::of("done.iss_comm", n, &held)?,
            ins_ts: Col::of("done.ins_ts", n, &held)?,
            iss_ts: Col::of("done.iss_ts", n, &held)?,
            ins_pid: Col::of("done.ins_pid", n, &held)?,
            iss_pid: Col::of("done.iss_pid", n, &held)?,
            nr: Col::of("done.nr", n, &held)?,
            bytes: Col::of("done.bytes", n, &held)?,
            sector: Col::of("done.orig_sector", n, &held)?,
            parts: Col::of("done.parts", n, &held)?,
        };
        if kept.is_some_and(|k| k.len() != n) {
            return Err(PyValueError::new_err("recorder: the kept mask and the requests differ in length"));
        }
        self.rec.strings = Strings(strings);
        let (rec, ops) = (&mut self.rec, Ops(ops));
        py.detach(|| rec.record(n, |i| Finished::of(&done.row(i), &ops), |i| kept.is_none_or(|k| k.get(i) == Some(&1))));
        Ok(())
    }

    /// (recorded at all, requests the filters kept, negative latencies per phase, slow candidates)
    fn totals(&self) -> (bool, u64, [u64; 3], u64) {
        let r = &self.rec;
        (r.recorded, r.matched, r.negative, r.slow_total)
    }

    /// Finished requests per (dev, comm, op): name -> list (strings spelled, None for null).
    fn tally<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (rows, s) = (self.rec.tally.iter().collect::<Vec<_>>(), &self.rec.strings);
        let out = PyDict::new(py);
        out.set_item("dev", PyList::new(py, rows.iter().map(|((d, _, _), _)| s.text(*d)))?)?;
        out.set_item("comm", PyList::new(py, rows.iter().map(|((_, c, _), _)| s.text(*c)))?)?;
        out.set_item("op", PyList::new(py, rows.iter().map(|((_, _, o), _)| op_letter(*o)))?)?;
        out.set_item("n", PyList::new(py, rows.iter().map(|(_, n)| **n))?)?;
        Ok(out)
    }

    /// One phase's distributions in every grouping: dims and keys (lists), then columns: n, s, lo,
    /// hi, size per group, and each group's HdrHistogram counts (idx, cn) and log2 buckets (k, kn;
    /// ku, kun) one after another, `*_end` saying where each group's run ends.
    fn groups<'py>(&self, py: Python<'py>, p: usize) -> PyResult<(Vec<&'static str>, Vec<String>, Bound<'py, PyDict>)> {
        let mut groups: Vec<_> = self.rec.groups(phase(p)?).into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let out = Out::new(py);
        out.put("n", groups.iter().map(|(_, g)| g.n))?;
        out.put("s", groups.iter().map(|(_, g)| g.sum))?;
        out.put("lo", groups.iter().map(|(_, g)| g.lo))?;
        out.put("hi", groups.iter().map(|(_, g)| g.hi))?;
        out.put("size", groups.iter().map(|(_, g)| g.bytes))?;
        for (name, of) in [("c", 0), ("k", 1), ("ku", 2)] {
            let table = |g: &Group| -> Vec<(i64, u64)> {
                let m = [&g.counts, &g.log2, &g.log2_unit][of];
                let mut v: Vec<_> = m.iter().map(|(a, b)| (*a, *b)).collect();
                v.sort_unstable();
                v
            };
            let tables: Vec<_> = groups.iter().map(|(_, g)| table(g)).collect();
            let mut end = 0u64;
            out.put(&format!("{name}_end"), tables.iter().map(|t| {
                end += t.len() as u64;
                end
            }))?;
            out.put(&format!("{name}_at"), tables.iter().flatten().map(|(a, _)| *a))?;
            out.put(&format!("{name}_n"), tables.iter().flatten().map(|(_, n)| *n))?;
        }
        let (dims, keys) = groups.into_iter().map(|((d, k), _)| (d, k)).unzip();
        Ok((dims, keys, out.dict))
    }

    /// The widths of the three heat maps' axes and the series'.
    fn widths(&self) -> Vec<i64> {
        self.rec.widths()
    }

    /// Every axis at the final width `w` (a multiple of every width so far), each heat map's kept
    /// requests cut to the report's bound: what heatmap.py's finish and final cut did.
    fn finish_axes(&mut self, w: i64) -> PyResult<()> {
        if self.rec.widths().iter().any(|&x| x <= 0 || w % x != 0) {
            return Err(PyValueError::new_err(format!("recorder: width {w} is not a multiple of the axes' widths")));
        }
        self.rec.finish_axes(w);
        Ok(())
    }

    /// One phase's heat map as the report's JSON has it (heatmap.py HeatMap.data): (bucket width,
    /// lo, hi: the latency buckets' span, cells: [[col, row - lo, n]], slowest: [[col, row - lo,
    /// ts_ns, value_ns, comm, pid, dev, rwbs, sector, bytes]]); None where it has no cell.
    #[allow(clippy::type_complexity)] // a tuple Python unpacks
    fn heatmap_data<'py>(&self, py: Python<'py>, p: usize) -> PyResult<Option<(i64, i64, i64, Bound<'py, PyList>, Bound<'py, PyList>)>> {
        let (h, s) = (&self.rec.heat[phase(p)?], &self.rec.strings);
        let Some(d) = h.data(s) else { return Ok(None) };
        let cells = PyList::empty(py);
        for (col, row, n) in &d.cells {
            cells.append(PyList::new(py, [*col, *row, i64::from(*n)])?)?;
        }
        let slowest = PyList::empty(py);
        for (col, row, k) in &d.slowest {
            let r = (*col, *row, k.ts, k.value, s.text(k.comm), k.pid, s.text(k.dev), s.text(k.rwbs), k.sector, k.bytes);
            slowest.append(r.into_pyobject(py)?)?;
        }
        Ok(Some((h.axis.width, d.lo, d.hi, cells, slowest)))
    }

    /// Requests and bytes per time bucket and device: (bucket width, col, key (dev), n, bytes).
    fn series<'py>(&self, py: Python<'py>) -> PyResult<(i64, Bound<'py, PyDict>)> {
        let (se, s) = (&self.rec.series, &self.rec.strings);
        let rows: Vec<_> = se.cells.iter().collect();
        let out = PyDict::new(py);
        out.set_item("col", PyList::new(py, rows.iter().map(|((c, _), _)| *c))?)?;
        out.set_item("key", PyList::new(py, rows.iter().map(|((_, d), _)| s.text(*d)))?)?;
        out.set_item("n", PyList::new(py, rows.iter().map(|(_, v)| v.0))?)?;
        out.set_item("bytes", PyList::new(py, rows.iter().map(|(_, v)| v.1))?)?;
        Ok((se.axis.width, out))
    }

    /// The slow listing, slowest first: ts_ns, comm, pid, dev, op, rwbs, sector, bytes, i2d_ns,
    /// d2c_ns, i2c_ns, parts.
    fn slow<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rows = self.rec.slowest().to_vec();
        let s = &self.rec.strings;
        let out = PyDict::new(py);
        out.set_item("ts_ns", PyList::new(py, rows.iter().map(|r| r.ts))?)?;
        out.set_item("comm", PyList::new(py, rows.iter().map(|r| s.text(r.comm)))?)?;
        out.set_item("pid", PyList::new(py, rows.iter().map(|r| r.pid))?)?;
        out.set_item("dev", PyList::new(py, rows.iter().map(|r| s.text(r.dev)))?)?;
        out.set_item("op", PyList::new(py, rows.iter().map(|r| op_letter(r.op)))?)?;
        out.set_item("rwbs", PyList::new(py, rows.iter().map(|r| s.text(r.rwbs)))?)?;
        out.set_item("sector", PyList::new(py, rows.iter().map(|r| r.sector))?)?;
        out.set_item("bytes", PyList::new(py, rows.iter().map(|r| r.bytes))?)?;
        for (name, p) in [("i2d_ns", 2), ("d2c_ns", 0), ("i2c_ns", 1)] {
            out.set_item(name, PyList::new(py, rows.iter().map(|r| r.phases[p]))?)?;
        }
        out.set_item("parts", PyList::new(py, rows.iter().map(|r| r.parts))?)?;
        Ok(out)
    }
}

/// An op letter as the frames spell it (block_pairing.OPS): "?" for anything else.
fn op_letter(op: u8) -> &'static str {
    match op {
        b'R' => "R",
        b'W' => "W",
        b'D' => "D",
        b'F' => "F",
        b'N' => "N",
        _ => "?",
    }
}

pub fn register(m: &Bound<PyModule>) -> PyResult<()> {
    m.add_class::<Recorder>()
}
