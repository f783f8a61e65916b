//! Recording finished block requests: what `traceparse block` keeps of each one.
//!
//! A finished request is counted, once per latency phase (D2C, I2C, I2D), into
//!
//! - HdrHistogram cells: (device, op, rwbs, pid, comm, counts-array index, log2 bucket in ns and in
//!   the display unit) with count, sum, min, max and bytes. Cells are few however many requests
//!   there are; the report rolls them up into its groupings (total, per device, op, process, ...);
//! - a heat map: (time bucket, quarter-octave latency bucket) cells with their count and their
//!   `KEEP_PER_CELL` slowest requests (ties: earliest, then by comm, pid, dev, rwbs, sector, bytes);
//! - (D2C alone) requests and bytes per time bucket and device, and the slow listing.
//!
//! Each piece computes exactly what reports/histogram.py and reports/heatmap.py define (their
//! bucket formulas, their time-bucket ladder and the rule that widens it); the Python side turns the
//! kernel's answers into their frames and does the rest (roll-up, percentiles, final width, JSON).

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

use crate::pairing::{Done, Ops, NULL};

/// Slowest requests kept per heat-map cell (reports/heatmap.py KEEP_PER_CELL).
pub const KEEP_PER_CELL: usize = 5;
/// Slowest requests kept per heat map in all (MAX_KEPT): every cell's slowest first, then every
/// cell's second, ...
pub const MAX_KEPT: usize = 4_000;
/// Time buckets a heat map draws (MAX_COLUMNS); while streaming, 4x that many are kept.
pub const MAX_COLUMNS: i64 = 120;
/// Longer latencies are clamped into the histogram's top (histogram.py HIGHEST_NS: a week).
pub const HIGHEST_NS: i64 = 7 * 86400 * 1_000_000_000;

/// Time-bucket widths, 1 us .. 2000 s, each a multiple of every one before it: cells counted at a
/// narrow width merge exactly into a wider one (heatmap.py LADDER).
pub fn ladder() -> Vec<i64> {
    (3..13).flat_map(|e| [10i64.pow(e), 2 * 10i64.pow(e)]).collect()
}

/// floor(log2 v) for v >= 1, -1 for 0: the bucket bpftrace's hist() puts v in.
pub fn log2_floor(v: u64) -> i64 {
    if v == 0 {
        -1
    } else {
        63 - i64::from(v.leading_zeros())
    }
}

/// HdrHistogram's counts-array index of `v` (1 .. HIGHEST_NS, 3 significant digits: 2048 sub-buckets).
pub fn hdr_index(v: i64) -> i64 {
    let u = v.clamp(0, HIGHEST_NS) as u64;
    let bucket = (53 - i64::from((u | 2047).leading_zeros())).clamp(0, 63);
    let sub = (u >> bucket) as i64;
    (bucket + 1) * 1024 + sub - 1024
}

/// The quarter-octave latency bucket of `v` ns (heatmap.py lat_bucket): one per value below 4, then
/// four per power of two.
pub fn lat_bucket(v: i64) -> i64 {
    let u = v.max(0) as u64;
    if u < 4 {
        return u as i64;
    }
    let k = (63 - i64::from(u.leading_zeros())).clamp(2, 63);
    let sub = (u >> (k - 2)) as i64 - 4;
    4 * (k - 1) + sub
}

/// A finished request as the report reads it (block.py's `_requests`): who asked (the insert side
/// first), the rwbs (the complete's where the request had none), and its latencies.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    pub ts: Option<i64>,
    pub dev: u32,
    pub rwbs: u32,
    pub op: u8,
    pub comm: u32,
    pub pid: Option<i32>,
    pub sector: Option<u64>,
    pub nr: Option<u32>,
    pub bytes: Option<u64>,
    pub parts: Option<i32>,
    /// D2C, I2C, I2D in ns: complete - issue, complete - insert, issue - insert.
    pub phases: [Option<i64>; 3],
}

impl Finished {
    /// A finished request of the pairing as the report reads it (block.py's `_requests`): the
    /// insert side's comm and pid first, the complete's rwbs where the request had none, bytes from
    /// the sector count where the event had none.
    pub fn of(d: &Done, ops: &Ops) -> Finished {
        let r = &d.req;
        let rwbs = if r.rwbs != NULL { r.rwbs } else { d.c_rwbs };
        let diff = |end: Option<i64>, start: Option<i64>| Some(end?.wrapping_sub(start?));
        Finished {
            ts: d.ts,
            dev: d.dev,
            rwbs,
            op: ops.of(rwbs),
            comm: r.requester(),
            pid: r.ins_pid.or(r.iss_pid),
            sector: r.orig_sector,
            nr: r.nr,
            bytes: r.bytes.filter(|&b| b > 0).or(r.nr.map(|s| u64::from(s).wrapping_mul(512))),
            parts: r.parts,
            phases: [diff(d.ts, r.iss_ts), diff(d.ts, r.ins_ts), diff(r.iss_ts, r.ins_ts)],
        }
    }
}

/// The strings behind the codes, to order kept requests as the frames would (byte-wise, null last).
#[derive(Default)]
pub struct Strings(pub Vec<Option<String>>);

impl Strings {
    /// The string of code `c` (None for null).
    pub fn text(&self, c: u32) -> Option<&str> {
        if c == NULL {
            None
        } else {
            self.0.get(c as usize).and_then(Option::as_deref)
        }
    }

    fn cmp(&self, a: u32, b: u32) -> Ordering {
        nulls_last(self.text(a), self.text(b))
    }
}

/// Ascending with nulls after every value, as polars sorts with `nulls_last=True`.
fn nulls_last<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A request kept in a heat-map cell: what a click on the cell shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    pub ts: i64,
    pub value: i64,
    pub comm: u32,
    pub pid: Option<i32>,
    pub dev: u32,
    pub rwbs: u32,
    pub sector: Option<u64>,
    pub bytes: Option<u64>,
}

/// Slowest first; ties: earliest, then by the kept fields (the same requests are kept whatever
/// order the chunks brought them in).
fn slower(a: &Kept, b: &Kept, s: &Strings) -> Ordering {
    b.value
        .cmp(&a.value)
        .then(a.ts.cmp(&b.ts))
        .then_with(|| s.cmp(a.comm, b.comm))
        .then_with(|| nulls_last(a.pid, b.pid))
        .then_with(|| s.cmp(a.dev, b.dev))
        .then_with(|| s.cmp(a.rwbs, b.rwbs))
        .then_with(|| nulls_last(a.sector, b.sector))
        .then_with(|| nulls_last(a.bytes, b.bytes))
}

/// A heat map's cells and kept requests, ordered as the report shows them (`HeatMap::data`).
pub struct HeatData<'a> {
    pub lo: i64,
    pub hi: i64,
    pub cells: Vec<(i64, i64, u32)>,
    pub slowest: Vec<(i64, i64, &'a Kept)>,
}

/// The time axis of a heat map or series: the bucket width only grows, by heatmap.py's rule (4x
/// MAX_COLUMNS while streaming), as requests further from t0 arrive.
#[derive(Clone, Debug)]
pub struct Axis {
    pub t0: i64,
    pub width: i64,
}

impl Axis {
    fn new(t0: i64) -> Axis {
        Axis { t0, width: ladder()[0] }
    }

    /// The width wide enough for `span_ns`; None if it stays.
    fn widened(&self, span_ns: i64) -> Option<i64> {
        let ladder = ladder();
        let mut w = self.width;
        let buckets = |w: i64| (span_ns.max(1) as u64).div_ceil(w as u64);
        while buckets(w) > 4 * MAX_COLUMNS as u64 && w < ladder[ladder.len() - 1] {
            w = ladder.iter().copied().find(|&x| x > w).unwrap_or(w);
        }
        (w != self.width).then_some(w)
    }

    fn col(&self, ts: i64) -> i64 {
        ts.wrapping_sub(self.t0).div_euclid(self.width) // wrapping as polars' Int64 does
    }
}

/// One cell of a heat map: its count and its slowest requests, slowest first.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub n: u32,
    pub kept: Vec<Kept>,
}

impl Cell {
    fn keep(&mut self, k: Kept, s: &Strings) {
        if self.kept.len() == KEEP_PER_CELL {
            match self.kept.last() {
                Some(worst) if slower(&k, worst, s) == Ordering::Less => {
                    self.kept.pop();
                }
                _ => return,
            }
        }
        let at = self.kept.partition_point(|x| slower(x, &k, s) != Ordering::Greater);
        self.kept.insert(at, k);
    }
}

/// One latency's heat map: cells by (time bucket, latency bucket).
#[derive(Debug)]
pub struct HeatMap {
    pub axis: Axis,
    pub cells: FxHashMap<(i64, i64), Cell>,
}

impl HeatMap {
    fn new(t0: i64) -> HeatMap {
        HeatMap { axis: Axis::new(t0), cells: FxHashMap::default() }
    }

    fn widen(&mut self, span_ns: i64, s: &Strings) {
        if let Some(w) = self.axis.widened(span_ns) {
            self.rebin(w, s);
        }
    }

    /// The cells at width `w` (a multiple of the current one), their kept requests merged.
    fn rebin(&mut self, w: i64, s: &Strings) {
        if w == self.axis.width {
            return;
        }
        let old = std::mem::take(&mut self.cells);
        let ratio = w / self.axis.width; // each width is a multiple of the ones before it
        self.axis.width = w;
        for ((col, row), cell) in old {
            let into = self.cells.entry((col.div_euclid(ratio), row)).or_default();
            into.n += cell.n;
            for k in cell.kept {
                into.keep(k, s);
            }
        }
    }

    /// At most `max` kept requests in all: every cell's slowest first, then every cell's second,
    /// ...; within a rank the slowest, then the earliest (no two cells tie on both).
    fn cut(&mut self, max: usize) {
        // (rank in its cell, slowest first, earliest first, the cell)
        type Place = (usize, std::cmp::Reverse<i64>, i64, (i64, i64));
        let mut all: Vec<Place> =
            self.cells.iter().flat_map(|(at, c)| c.kept.iter().enumerate().map(move |(rank, k)| (rank, std::cmp::Reverse(k.value), k.ts, *at))).collect();
        if all.len() <= max {
            return;
        }
        all.sort_unstable();
        let mut keep: FxHashMap<(i64, i64), usize> = FxHashMap::default();
        for (_, _, _, at) in &all[..max] {
            *keep.entry(*at).or_default() += 1;
        }
        for (at, c) in self.cells.iter_mut() {
            c.kept.truncate(keep.get(at).copied().unwrap_or(0)); // a cell keeps a prefix: ranks come in order
        }
    }

    /// The heat map as the JSON contract has it (heatmap.py HeatMap.data): the span of its latency
    /// buckets (lo, hi), its cells (col, row - lo, n) by column and row, and their kept requests as
    /// (col, row - lo, request) in that order, slowest first; None where it has no cell. (Sorted
    /// here, not by a polars query over the kept requests and a conversion of each row: that was
    /// most of a report's end on a capture of many finished requests.)
    pub fn data(&self, s: &Strings) -> Option<HeatData<'_>> {
        let lo = self.cells.keys().map(|&(_, row)| row).min()?;
        let hi = self.cells.keys().map(|&(_, row)| row).max()?;
        let mut cells: Vec<(i64, i64, u32)> = self.cells.iter().map(|(&(col, row), c)| (col, row - lo, c.n)).collect();
        cells.sort_unstable();
        let mut slowest: Vec<(i64, i64, &Kept)> =
            self.cells.iter().flat_map(|(&(_, row), c)| c.kept.iter().map(move |k| (self.axis.col(k.ts), row - lo, k))).collect();
        slowest.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| slower(a.2, b.2, s)));
        Some(HeatData { lo, hi, cells, slowest })
    }

    fn add(&mut self, value: i64, r: &Finished, ts: i64, s: &Strings) {
        let cell = self.cells.entry((self.axis.col(ts), lat_bucket(value))).or_default();
        cell.n += 1;
        let k = Kept { ts, value, comm: r.comm, pid: r.pid, dev: r.dev, rwbs: r.rwbs, sector: r.sector, bytes: r.bytes };
        cell.keep(k, s);
    }
}

/// Requests and bytes per time bucket and device (the IOPS and MB/s charts).
#[derive(Debug)]
pub struct Series {
    pub axis: Axis,
    pub cells: FxHashMap<(i64, u32), (u32, i64)>,
}

impl Series {
    fn widen(&mut self, span_ns: i64) {
        if let Some(w) = self.axis.widened(span_ns) {
            self.rebin(w);
        }
    }

    fn rebin(&mut self, w: i64) {
        if w == self.axis.width {
            return;
        }
        let ratio = w / self.axis.width;
        self.axis.width = w;
        let old = std::mem::take(&mut self.cells);
        for ((col, dev), (n, b)) in old {
            let into = self.cells.entry((col.div_euclid(ratio), dev)).or_default();
            into.0 = into.0.wrapping_add(n);
            into.1 = into.1.wrapping_add(b);
        }
    }
}

/// The attributes a distribution cell is counted under (before the roll-up into groupings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attrs {
    pub dev: u32,
    pub op: u8,
    pub rwbs: u32,
    pub pid: Option<i32>,
    pub comm: u32,
}

/// One set of attributes' totals in one phase: count, sum, extremes and bytes of its values, and
/// its log2 buckets: (bucket in ns, bucket in the display unit, count), a few per attributes (a
/// capture's latencies span a few octaves), looked up in turn. (Dense tables of every bucket were
/// 1 KB per attributes and phase: a capture of 100k short-lived processes would have held 300 MB.)
#[derive(Clone, Debug)]
pub struct Totals {
    pub n: u64,
    pub sum: i64,
    pub lo: i64,
    pub hi: i64,
    pub bytes: u64,
    pub log2: Vec<(i8, i8, u64)>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals { n: 0, sum: 0, lo: i64::MAX, hi: i64::MIN, bytes: 0, log2: Vec::new() }
    }
}

/// One phase's distribution cells: per attributes (their id in `Recording::attrs`) the totals, and
/// the HdrHistogram counts by (attributes id, counts-array index) in one map of 16-byte entries.
/// (One map keyed by the attributes, index and both log2 buckets, 88 bytes an entry, missed the
/// cache on most requests: 37% of the recording's time was that load, perf annotate on
/// blk-1M.perf.data.)
#[derive(Debug, Default)]
pub struct Dist {
    pub totals: Vec<Totals>,
    pub counts: FxHashMap<u64, u64>,
}

impl Dist {
    fn add(&mut self, attr: u32, v: i64, unit_ns: i64, bytes: u64) {
        let at = attr as usize;
        if at >= self.totals.len() {
            self.totals.resize(at + 1, Totals::default());
        }
        let t = &mut self.totals[at];
        t.n += 1;
        t.sum = t.sum.wrapping_add(v);
        t.lo = t.lo.min(v);
        t.hi = t.hi.max(v);
        t.bytes = t.bytes.wrapping_add(bytes);
        // (-1 ..= 63: an i8)
        let (k, ku) = (log2_floor(v as u64) as i8, log2_floor((v / unit_ns) as u64) as i8);
        match t.log2.iter_mut().find(|(a, b, _)| (*a, *b) == (k, ku)) {
            Some((_, _, n)) => *n += 1,
            None => t.log2.push((k, ku, 1)),
        }
        // (an index is below 2^16: hdr_index of HIGHEST_NS is ~41k)
        *self.counts.entry(u64::from(attr) << 32 | hdr_index(v) as u64).or_default() += 1;
    }

    /// The HdrHistogram cells: (attributes id, counts-array index, count).
    pub fn cells(&self) -> impl Iterator<Item = (u32, i64, u64)> + '_ {
        self.counts.iter().map(|(&key, &n)| ((key >> 32) as u32, (key & 0xffff_ffff) as i64, n))
    }
}

/// One distribution of the report's groupings (block.py DIMS): its totals, its HdrHistogram
/// counts by index and its log2 buckets in ns and in the display unit.
#[derive(Debug, Default)]
pub struct Group {
    pub n: u64,
    pub sum: i64,
    pub lo: i64,
    pub hi: i64,
    pub bytes: u64,
    pub counts: FxHashMap<i64, u64>,
    pub log2: FxHashMap<i64, u64>,
    pub log2_unit: FxHashMap<i64, u64>,
}

/// The groupings a cell is rolled up into, named as block.py's DIMS names them, with each one's key
/// for `a` ("?" where a string it needs is null, as the frames' fill_null does).
pub fn group_keys(a: &Attrs, s: &Strings) -> [(&'static str, String); 6] {
    let text = |c: u32| s.text(c).map(str::to_string);
    let (dev, rwbs, comm, op) = (text(a.dev), text(a.rwbs), text(a.comm), char::from(a.op).to_string());
    let or_null = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    let proc_key = match (a.pid, &comm) {
        (Some(pid), Some(comm)) => format!("{pid}\t{comm}"),
        _ => "?".into(),
    };
    let devop = dev.as_ref().map_or_else(|| "?".into(), |d| format!("{d}\t{op}"));
    [("total", String::new()), ("dev", or_null(dev)), ("op", op), ("rwbs", or_null(rwbs)), ("proc", proc_key), ("devop", devop)]
}

/// What the report asks of the recording: its display unit and the slow listing's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub t0: i64,
    pub unit_ns: i64,
    /// Requests the slow listing keeps (the slowest by D2C).
    pub keep_slow: usize,
    /// Only requests at least this slow (D2C) are listed.
    pub slower_than: Option<i64>,
}

/// Everything recorded so far.
pub struct Recording {
    pub opts: Options,
    pub strings: Strings,
    /// Finished requests per (dev, comm, op), before the report's filters.
    pub tally: FxHashMap<(u32, u32, u8), u64>,
    /// Requests the filters kept.
    pub matched: u64,
    /// Per phase: pairs whose end precedes their start (left out of everything).
    pub negative: [u64; 3],
    /// The attributes requests were counted under, by id (`attr_ids` the other way).
    pub attrs: Vec<Attrs>,
    attr_ids: FxHashMap<Attrs, u32>,
    /// Per phase: the distribution cells.
    pub dists: [Dist; 3],
    /// Per phase (D2C, I2C, I2D): the heat maps.
    pub heat: [HeatMap; 3],
    pub series: Series,
    /// Candidates of the slow listing (more than `keep_slow` between cuts).
    pub slow: Vec<Finished>,
    /// The last row of the last cut: the listing's bar, which only rises.
    slow_floor: Option<Finished>,
    pub slow_total: u64,
    /// Whether anything was recorded (even nothing): the report then has its (empty) heat maps.
    pub recorded: bool,
}

impl Recording {
    pub fn new(opts: Options) -> Recording {
        Recording {
            opts,
            strings: Strings::default(),
            tally: FxHashMap::default(),
            matched: 0,
            negative: [0; 3],
            attrs: Vec::new(),
            attr_ids: FxHashMap::default(),
            dists: Default::default(),
            heat: [HeatMap::new(opts.t0), HeatMap::new(opts.t0), HeatMap::new(opts.t0)],
            series: Series { axis: Axis::new(opts.t0), cells: FxHashMap::default() },
            slow: Vec::new(),
            slow_floor: None,
            slow_total: 0,
            recorded: false,
        }
    }

    /// Record a batch of `n` finished requests, `req(i)` the i-th; `kept(i)`: whether the report's
    /// filters keep it (every one is tallied first). Requests are read where they lie, twice: a
    /// batch of them made whole is ~100 bytes a request of memory to fill and read back.
    pub fn record(&mut self, n: usize, req: impl Fn(usize) -> Finished, kept: impl Fn(usize) -> bool) {
        self.recorded = true;
        // the axes widen by the batch's latest request, before any of it is counted (as heatmap.py)
        let mut last: [Option<i64>; 3] = [None; 3];
        for i in 0..n {
            let r = req(i);
            *self.tally.entry((r.dev, r.comm, r.op)).or_default() += 1;
            if !kept(i) {
                continue;
            }
            for (p, l) in last.iter_mut().enumerate() {
                if r.phases[p].is_some_and(|v| v >= 0) && r.ts.is_some() {
                    *l = (*l).max(r.ts);
                }
            }
        }
        for (p, heat) in self.heat.iter_mut().enumerate() {
            if let Some(last) = last[p] {
                heat.widen(last.wrapping_sub(self.opts.t0), &self.strings);
                if p == 0 {
                    self.series.widen(last.wrapping_sub(self.opts.t0));
                }
            }
        }
        for i in (0..n).filter(|&i| kept(i)) {
            self.matched += 1;
            self.one(&req(i));
            if self.slow.len() > 2 * self.opts.keep_slow.max(1024) {
                self.cut_slow();
            }
        }
    }

    fn one(&mut self, r: &Finished) {
        let attr = self.attr_id(Attrs { dev: r.dev, op: r.op, rwbs: r.rwbs, pid: r.pid, comm: r.comm });
        for p in 0..3 {
            let Some(v) = r.phases[p] else { continue };
            if v < 0 {
                self.negative[p] += 1;
                continue;
            }
            self.dists[p].add(attr, v, self.opts.unit_ns, r.bytes.unwrap_or(0));
            if let Some(ts) = r.ts {
                self.heat[p].add(v, r, ts, &self.strings);
                if p == 0 {
                    let c = self.series.cells.entry((self.series.axis.col(ts), r.dev)).or_default();
                    c.0 = c.0.wrapping_add(1);
                    c.1 = c.1.wrapping_add(r.bytes.map_or(0, |b| b as i64));
                }
            }
        }
        if let Some(d2c) = r.phases[0] {
            if self.opts.slower_than.is_none_or(|t| d2c >= t) {
                self.slow_total += 1;
                // behind the last cut's last row, a request can never make the listing
                if self.slow_floor.as_ref().is_none_or(|f| self.slow_order(r, f) != Ordering::Greater) {
                    self.slow.push(r.clone());
                }
            }
        }
    }

    fn attr_id(&mut self, a: Attrs) -> u32 {
        let next = self.attrs.len() as u32;
        *self.attr_ids.entry(a).or_insert_with(|| {
            self.attrs.push(a);
            next
        })
    }

    /// The widths of the heat maps' and the series' axes.
    pub fn widths(&self) -> Vec<i64> {
        self.heat.iter().map(|h| h.axis.width).chain([self.series.axis.width]).collect()
    }

    /// Every axis at the report's final width `w` (heatmap.py Timeline.finish chooses it: a
    /// multiple of every width so far), and each heat map's kept requests cut to MAX_KEPT.
    pub fn finish_axes(&mut self, w: i64) {
        for h in self.heat.iter_mut() {
            h.rebin(w, &self.strings);
            h.cut(MAX_KEPT);
        }
        self.series.rebin(w);
    }

    /// One phase's distributions, rolled up from its cells into every grouping: (dim, key) -> group.
    pub fn groups(&self, p: usize) -> FxHashMap<(&'static str, String), Group> {
        let mut slot_of: FxHashMap<(&'static str, String), usize> = FxHashMap::default();
        let mut groups: Vec<Group> = Vec::new();
        let Some(dist) = self.dists.get(p) else { return FxHashMap::default() };
        // each attributes' totals into its six groupings, whose slots it keeps for its counts
        let mut slots_of: Vec<[usize; 6]> = Vec::with_capacity(dist.totals.len());
        for (attrs, t) in self.attrs.iter().zip(&dist.totals) {
            let keys = group_keys(attrs, &self.strings);
            let slots = keys.map(|key| {
                *slot_of.entry(key).or_insert_with(|| {
                    groups.push(Group { lo: i64::MAX, hi: i64::MIN, ..Group::default() });
                    groups.len() - 1
                })
            });
            if t.n > 0 {
                for &g in &slots {
                    let g = &mut groups[g];
                    g.n += t.n;
                    g.sum = g.sum.wrapping_add(t.sum);
                    g.lo = g.lo.min(t.lo);
                    g.hi = g.hi.max(t.hi);
                    g.bytes = g.bytes.wrapping_add(t.bytes);
                    for &(k, ku, n) in &t.log2 {
                        *g.log2.entry(i64::from(k)).or_default() += n;
                        *g.log2_unit.entry(i64::from(ku)).or_default() += n;
                    }
                }
            }
            slots_of.push(slots);
        }
        for (attr, idx, n) in dist.cells() {
            for &g in &slots_of[attr as usize] {
                *groups[g].counts.entry(idx).or_default() += n;
            }
        }
        // (a grouping no request of this phase reached is not one: only attributes counted here make one)
        slot_of.into_iter().map(|(key, g)| (key, std::mem::take(&mut groups[g]))).filter(|(_, g)| g.n > 0).collect()
    }

    /// The slow listing's order: slowest D2C first; ties: earliest, then by device and sector.
    fn slow_order(&self, a: &Finished, b: &Finished) -> Ordering {
        b.phases[0]
            .cmp(&a.phases[0])
            .then(nulls_last(a.ts, b.ts))
            .then_with(|| self.strings.cmp(a.dev, b.dev))
            .then_with(|| nulls_last(a.sector, b.sector))
    }

    fn cut_slow(&mut self) {
        let keep = self.opts.keep_slow;
        let mut slow = std::mem::take(&mut self.slow);
        if slow.len() > keep {
            if keep > 0 {
                slow.select_nth_unstable_by(keep - 1, |a, b| self.slow_order(a, b));
            }
            slow.truncate(keep);
            self.slow_floor = slow.iter().max_by(|a, b| self.slow_order(a, b)).cloned();
        }
        self.slow = slow;
    }

    /// The slow listing: at most `keep_slow` requests, slowest first.
    pub fn slowest(&mut self) -> &[Finished] {
        self.cut_slow();
        let mut slow = std::mem::take(&mut self.slow);
        slow.sort_by(|a, b| self.slow_order(a, b));
        self.slow = slow;
        &self.slow
    }
}

#[cfg(test)]
#[path = "recording_tests.rs"]
mod tests;
