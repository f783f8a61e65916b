//! The Python face of the recording: `traceparse.reports._native.Recorder`.
//!
//! It reads the pairing's `done.*` columns (py_pairing.rs) as they are, and hands back, at the end,
//! the cells, kept requests and listing as columns (py_columns.rs) for reports/block_recording.py.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::pairing::{Ops, NULL};
use crate::py_columns::{optional, values, Out};
use crate::recording::{Finished, Options, Recording, Strings};

/// The pairing's finished requests (`done.*` columns) as the report reads them (block.py's
/// `_requests`): the insert side's comm and pid first, the complete's rwbs where the request had
/// none, bytes from the sector count where the event had none.
fn finished(cols: &Bound<PyDict>, ops: &Ops) -> PyResult<Vec<Finished>> {
    let n = cols.get_item("done.dev")?.map_or(Ok(0), |b| b.len())? / 4;
    let ts = optional::<i64>(cols, "done.ts", n)?;
    let dev = values::<u32>(cols, "done.dev", n)?;
    let c_rwbs = values::<u32>(cols, "done.c_rwbs", n)?;
    let rwbs = values::<u32>(cols, "done.rwbs", n)?;
    let (ins_comm, iss_comm) = (values::<u32>(cols, "done.ins_comm", n)?, values::<u32>(cols, "done.iss_comm", n)?);
    let (ins_ts, iss_ts) = (optional::<i64>(cols, "done.ins_ts", n)?, optional::<i64>(cols, "done.iss_ts", n)?);
    let (ins_pid, iss_pid) = (optional::<i32>(cols, "done.ins_pid", n)?, optional::<i32>(cols, "done.iss_pid", n)?);
    let nr = optional::<u32>(cols, "done.nr", n)?;
    let bytes = optional::<u64>(cols, "done.bytes", n)?;
    let sector = optional::<u64>(cols, "done.orig_sector", n)?;
    let parts = optional::<i32>(cols, "done.parts", n)?;
    let diff = |end: Option<i64>, start: Option<i64>| Some(end?.wrapping_sub(start?));
    Ok((0..n)
        .map(|i| {
            let rwbs = if rwbs[i] != NULL { rwbs[i] } else { c_rwbs[i] };
            Finished {
                ts: ts[i],
                dev: dev[i],
                rwbs,
                op: ops.of(rwbs),
                comm: if ins_comm[i] != NULL { ins_comm[i] } else { iss_comm[i] },
                pid: ins_pid[i].or(iss_pid[i]),
                sector: sector[i],
                nr: nr[i],
                bytes: bytes[i].filter(|&b| b > 0).or(nr[i].map(|s| u64::from(s).wrapping_mul(512))),
                parts: parts[i],
                phases: [diff(ts[i], iss_ts[i]), diff(ts[i], ins_ts[i]), diff(iss_ts[i], ins_ts[i])],
            }
        })
        .collect())
}

/// Finished requests, recorded batch after batch; read out once at the end.
#[pyclass(module = "traceparse.reports._native")]
pub struct Recorder {
    rec: Recording,
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
        let reqs = finished(cols, &Ops(ops))?;
        if kept.is_some_and(|k| k.len() != reqs.len()) {
            return Err(PyValueError::new_err("recorder: the kept mask and the requests differ in length"));
        }
        self.rec.strings = Strings(strings);
        let rec = &mut self.rec;
        py.detach(|| rec.record(&reqs, |i| kept.is_none_or(|k| k.get(i) == Some(&1))));
        Ok(())
    }

    /// (recorded at all, requests the filters kept, negative latencies per phase, slow candidates)
    fn totals(&self) -> (bool, u64, [u64; 3], u64) {
        let r = &self.rec;
        (r.recorded, r.matched, r.negative, r.slow_total)
    }

    /// Finished requests per (dev, comm, op): dev, comm (codes), op (letters), n.
    fn tally<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = Out::new(py);
        let rows: Vec<_> = self.rec.tally.iter().collect();
        out.put("dev", rows.iter().map(|((d, _, _), _)| *d))?;
        out.put("comm", rows.iter().map(|((_, c, _), _)| *c))?;
        out.put("op", rows.iter().map(|((_, _, o), _)| *o))?;
        out.put("n", rows.iter().map(|(_, n)| **n))?;
        Ok(out.dict)
    }

    /// One phase's distribution cells: dev, op, rwbs, pid, comm, idx, k, ku, n, s, lo, hi, size.
    fn dist<'py>(&self, py: Python<'py>, p: usize) -> PyResult<Bound<'py, PyDict>> {
        let out = Out::new(py);
        let rows: Vec<_> = self.rec.dists[phase(p)?].iter().collect();
        out.put("dev", rows.iter().map(|(k, _)| k.0.dev))?;
        out.put("op", rows.iter().map(|(k, _)| k.0.op))?;
        out.put("rwbs", rows.iter().map(|(k, _)| k.0.rwbs))?;
        out.put_opt("pid", rows.iter().map(|(k, _)| k.0.pid))?;
        out.put("comm", rows.iter().map(|(k, _)| k.0.comm))?;
        out.put("idx", rows.iter().map(|(k, _)| k.1))?;
        out.put("k", rows.iter().map(|(k, _)| k.2))?;
        out.put("ku", rows.iter().map(|(k, _)| k.3))?;
        out.put("n", rows.iter().map(|(_, a)| a.n))?;
        out.put("s", rows.iter().map(|(_, a)| a.sum))?;
        out.put("lo", rows.iter().map(|(_, a)| a.lo))?;
        out.put("hi", rows.iter().map(|(_, a)| a.hi))?;
        out.put("size", rows.iter().map(|(_, a)| a.bytes))?;
        Ok(out.dict)
    }

    /// One phase's heat map: (bucket width, cells: col, row, n; kept: ts_ns, value_ns, row, comm,
    /// pid, dev, rwbs, sector, bytes).
    fn heatmap<'py>(&self, py: Python<'py>, p: usize) -> PyResult<(i64, Bound<'py, PyDict>, Bound<'py, PyDict>)> {
        let h = &self.rec.heat[phase(p)?];
        let cells = Out::new(py);
        let rows: Vec<_> = h.cells.iter().collect();
        cells.put("col", rows.iter().map(|((c, _), _)| *c))?;
        cells.put("row", rows.iter().map(|((_, r), _)| *r))?;
        cells.put("n", rows.iter().map(|(_, c)| c.n))?;
        let kept = Out::new(py);
        let ks: Vec<_> = rows.iter().flat_map(|((_, row), c)| c.kept.iter().map(move |k| (*row, k))).collect();
        kept.put("ts_ns", ks.iter().map(|(_, k)| k.ts))?;
        kept.put("value_ns", ks.iter().map(|(_, k)| k.value))?;
        kept.put("row", ks.iter().map(|(r, _)| *r))?;
        kept.put("comm", ks.iter().map(|(_, k)| k.comm))?;
        kept.put_opt("pid", ks.iter().map(|(_, k)| k.pid))?;
        kept.put("dev", ks.iter().map(|(_, k)| k.dev))?;
        kept.put("rwbs", ks.iter().map(|(_, k)| k.rwbs))?;
        kept.put_opt("sector", ks.iter().map(|(_, k)| k.sector))?;
        kept.put_opt("bytes", ks.iter().map(|(_, k)| k.bytes))?;
        Ok((h.axis.width, cells.dict, kept.dict))
    }

    /// Requests and bytes per time bucket and device: (bucket width, col, key (dev code), n, bytes).
    fn series<'py>(&self, py: Python<'py>) -> PyResult<(i64, Bound<'py, PyDict>)> {
        let s = &self.rec.series;
        let out = Out::new(py);
        let rows: Vec<_> = s.cells.iter().collect();
        out.put("col", rows.iter().map(|((c, _), _)| *c))?;
        out.put("key", rows.iter().map(|((_, d), _)| *d))?;
        out.put("n", rows.iter().map(|(_, v)| v.0))?;
        out.put("bytes", rows.iter().map(|(_, v)| v.1))?;
        Ok((s.axis.width, out.dict))
    }

    /// The slow listing, slowest first: ts_ns, comm, pid, dev, op, rwbs, sector, bytes, i2d_ns,
    /// d2c_ns, i2c_ns, parts.
    fn slow<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = Out::new(py);
        let rows = self.rec.slowest();
        out.put_opt("ts_ns", rows.iter().map(|r| r.ts))?;
        out.put("comm", rows.iter().map(|r| r.comm))?;
        out.put_opt("pid", rows.iter().map(|r| r.pid))?;
        out.put("dev", rows.iter().map(|r| r.dev))?;
        out.put("op", rows.iter().map(|r| r.op))?;
        out.put("rwbs", rows.iter().map(|r| r.rwbs))?;
        out.put_opt("sector", rows.iter().map(|r| r.sector))?;
        out.put_opt("bytes", rows.iter().map(|r| r.bytes))?;
        for (name, p) in [("i2d_ns", 2), ("d2c_ns", 0), ("i2c_ns", 1)] {
            out.put_opt(name, rows.iter().map(|r| r.phases[p]))?;
        }
        out.put_opt("parts", rows.iter().map(|r| r.parts))?;
        Ok(out.dict)
    }
}

pub fn register(m: &Bound<PyModule>) -> PyResult<()> {
    m.add_class::<Recorder>()
}
