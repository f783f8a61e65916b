//! The typed columns of `block:block_rq_*` records, gathered in one call per event kind.
//!
//! The fields are the ones the capture's format file places (6.18's `block_rq_issue`):
//!
//! ```text
//! field:int common_pid;   offset:4;  size:4;  signed:1;
//! field:dev_t dev;        offset:8;  size:4;  signed:0;
//! field:sector_t sector;  offset:16; size:8;  signed:0;
//! field:unsigned int nr_sector; offset:24; size:4; signed:0;
//! field:unsigned int bytes;     offset:28; size:4; signed:0;
//! field:unsigned short ioprio;  offset:32; size:2; signed:0;
//! field:char rwbs[10];    offset:34; size:10; signed:0;
//! field:char comm[16];    offset:44; size:16; signed:0;
//! ```
//!
//! Each number is read at its own width and sign, then converted as numpy's `astype` would
//! (sign-extended to 64 bits, then wrapped to the column's type), so the columns equal what the
//! per-field gathers gave. Strings are interned (`fields::gather_cstrings`); a device and an I/O
//! priority are interned as numbers, to be spelled once per distinct value. Reads clamp at the
//! buffer's edges as `fields` does: a damaged offset gives garbage, never a panic.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::fields::{gather_cstrings, record, intern_ints, Fnv, Interned};

/// An integer field: `size` (1, 2, 4 or 8) bytes at `offset` from the record's start.
#[derive(Clone, Copy, Debug)]
pub struct IntField {
    pub offset: i64,
    pub size: usize,
    pub signed: bool,
}

/// A fixed char array (`char rwbs[10]`): at most `size` bytes at `offset`, cut at the first NUL.
#[derive(Clone, Copy, Debug)]
pub struct StrField {
    pub offset: i64,
    pub size: usize,
}

/// Where one block event kind keeps its fields (absent ones are None).
#[derive(Clone, Copy, Debug)]
pub struct BlockSpec {
    pub big_endian: bool,
    pub pid: IntField,
    pub dev: IntField,
    pub sector: IntField,
    pub nr_sector: Option<IntField>,
    pub bytes: Option<IntField>,
    pub ioprio: Option<IntField>,
    pub error: Option<IntField>,
    pub rwbs: Option<StrField>,
    pub comm: Option<StrField>,
}

/// The columns, one value per record (a column whose field is absent is empty).
#[derive(Debug, Default, PartialEq)]
pub struct BlockColumns {
    pub pid: Vec<i32>,
    /// position of the pid in the sorted known pids (saved_cmdlines), or their count when unknown
    pub comm_at: Vec<u32>,
    pub dev_major: Vec<u32>,
    pub dev_minor: Vec<u32>,
    /// the device as codes into the distinct `dev` values (first seen first)
    pub dev_codes: Vec<u32>,
    pub dev_values: Vec<u64>,
    pub sector: Vec<u64>,
    pub nr_sector: Vec<u32>,
    pub bytes: Vec<u64>,
    pub ioprio_codes: Vec<u32>,
    pub ioprio_values: Vec<i64>,
    pub error: Vec<i32>,
    pub rwbs: Option<Interned>,
    pub comm: Option<Interned>,
}

impl IntField {
    pub(crate) fn end(&self) -> i64 {
        self.offset.saturating_add(self.size as i64)
    }

    /// The field in `rec` (the record's bytes from its start), sign- or zero-extended to 64 bits
    /// as numpy's `astype(int64)` extends it.
    #[inline]
    pub(crate) fn read(&self, rec: &[u8], big: bool) -> i64 {
        let at = self.offset.max(0) as usize;
        fn take<const N: usize>(rec: &[u8], at: usize) -> [u8; N] {
            rec.get(at..at + N).and_then(|b| b.try_into().ok()).unwrap_or([0; N])
        }
        let (v, bits) = match (self.size, big) {
            (1, _) => (u64::from(take::<1>(rec, at)[0]), 8),
            (2, false) => (u64::from(u16::from_le_bytes(take(rec, at))), 16),
            (2, true) => (u64::from(u16::from_be_bytes(take(rec, at))), 16),
            (4, false) => (u64::from(u32::from_le_bytes(take(rec, at))), 32),
            (4, true) => (u64::from(u32::from_be_bytes(take(rec, at))), 32),
            (_, false) => (u64::from_le_bytes(take(rec, at)), 64),
            (_, true) => (u64::from_be_bytes(take(rec, at)), 64),
        };
        let shift = 64 - bits;
        if self.signed {
            ((v << shift) as i64) >> shift
        } else {
            v as i64
        }
    }
}

impl StrField {
    pub(crate) fn end(&self) -> i64 {
        self.offset.saturating_add(self.size as i64)
    }

    /// The field's bytes in `rec`, all `size` of them (the string is cut at its NUL when interned).
    pub(crate) fn raw<'a>(&self, rec: &'a [u8]) -> &'a [u8] {
        let at = self.offset.max(0) as usize;
        rec.get(at..at.saturating_add(self.size)).unwrap_or(&[])
    }
}

/// Strings interned as they come, in first-seen order; gives up (`push` false) past `limit`
/// distinct ones, where `gather_cstrings` would hand over the rows instead. (Looking the raw
/// 16 bytes up first, NUL and stale bytes included, measured no faster: ~35 ns a record both.)
struct Interner {
    seen: HashMap<Vec<u8>, u32, BuildHasherDefault<Fnv>>,
    uniques: Vec<Vec<u8>>,
    codes: Vec<u32>,
    limit: usize,
    last: u32,
}

impl Interner {
    fn new(n: usize) -> Self {
        Interner { seen: HashMap::default(), uniques: Vec::new(), codes: Vec::with_capacity(n), limit: (n / 8).max(1024), last: 0 }
    }

    /// Add the string in `field` (a fixed char array's bytes: cut at the first NUL).
    fn push(&mut self, field: &[u8]) -> bool {
        let s = cut(field);
        // a handful of distinct values (an rwbs, a comm) is the common case: compare, not hash
        let code = if self.uniques.get(self.last as usize).is_some_and(|u| u == s) {
            self.last
        } else if let Some(c) = self.uniques.iter().take(8).position(|u| u == s) {
            c as u32
        } else if let Some(&c) = self.seen.get(s) {
            c
        } else {
            let c = self.uniques.len() as u32;
            self.seen.insert(s.to_vec(), c);
            self.uniques.push(s.to_vec());
            c
        };
        self.last = code;
        self.codes.push(code);
        self.uniques.len() <= self.limit
    }

    fn finish(self) -> Interned {
        let width = self.uniques.iter().map(Vec::len).max().unwrap_or(0);
        let mut table = Vec::with_capacity(width * self.uniques.len());
        for s in &self.uniques {
            table.extend_from_slice(s);
            table.resize(table.len() + width - s.len(), 0);
        }
        Interned { codes: self.codes, table, width }
    }
}

/// A C string: the bytes before the first NUL (a few bytes: a plain loop beats memchr's set-up).
pub(crate) fn cut(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |z| &s[..z])
}

/// The same column with `fields::gather_cstrings`, for the rare one with too many distinct strings.
fn strings_as_rows(buf: &[u8], starts: &[i64], f: StrField) -> Interned {
    let at: Vec<i64> = starts.iter().map(|&s| s.saturating_add(f.offset)).collect();
    gather_cstrings(buf, &at, &vec![f.size as i64; starts.len()])
}

/// Position of `pid` in the ascending `known` pids, or `known.len()`. A chunk holds a few
/// threads' events: each pid is searched once, then remembered (the last one first).
pub(crate) struct PidIndex<'a> {
    pub(crate) known: &'a [i64],
    pub(crate) last: Option<(i32, u32)>,
    pub(crate) memo: HashMap<i32, u32, BuildHasherDefault<Fnv>>,
}

impl PidIndex<'_> {
    pub(crate) fn at(&mut self, pid: i32) -> u32 {
        match self.last {
            Some((p, at)) if p == pid => at,
            _ => {
                let known = self.known;
                let at = *self.memo.entry(pid).or_insert_with(|| known.binary_search(&i64::from(pid)).unwrap_or(known.len()) as u32);
                self.last = Some((pid, at));
                at
            }
        }
    }
}

/// The block columns of the records at `starts` of `buf`; `known_pids` ascending. One pass over
/// the records, each read once for all its fields (the records of a chunk are megabytes apart
/// from each other's CPU: one pass per field read them all again per field).
pub fn gather_block(buf: &[u8], starts: &[i64], spec: &BlockSpec, known_pids: &[i64]) -> BlockColumns {
    let big = spec.big_endian;
    let n = starts.len();
    let ints = [Some(spec.pid), Some(spec.dev), Some(spec.sector), spec.nr_sector, spec.bytes, spec.ioprio, spec.error];
    let texts = [spec.rwbs, spec.comm];
    let span = ints.iter().flatten().map(IntField::end).chain(texts.iter().flatten().map(StrField::end)).max().unwrap_or(0);
    let span = usize::try_from(span).unwrap_or(0);
    let mut c = BlockColumns::default();
    c.pid.reserve(n);
    c.comm_at.reserve(n);
    c.dev_major.reserve(n);
    c.dev_minor.reserve(n);
    c.sector.reserve(n);
    c.nr_sector.reserve(n);
    let mut dev = Vec::with_capacity(n);
    let (mut bytes, mut ioprio, mut error) = (Vec::new(), Vec::new(), Vec::new());
    let mut rwbs = spec.rwbs.map(|_| Interner::new(n));
    let mut comm = spec.comm.map(|_| Interner::new(n));
    let (mut rwbs_ok, mut comm_ok) = (true, true);
    let mut pids = PidIndex { known: known_pids, last: None, memo: HashMap::default() };
    let mut edge = Vec::new();
    for &s in starts {
        let rec = record(buf, s, span, &mut edge);
        let pid = spec.pid.read(rec, big) as i32;
        c.pid.push(pid);
        c.comm_at.push(pids.at(pid));
        let d = spec.dev.read(rec, big) as u64;
        dev.push(d);
        c.dev_major.push((d >> 20) as u32);
        c.dev_minor.push((d & 0xF_FFFF) as u32);
        c.sector.push(spec.sector.read(rec, big) as u64);
        c.nr_sector.push(spec.nr_sector.map_or(0, |f| f.read(rec, big) as u32)); // absent: 0, as printed
        if let Some(f) = spec.bytes {
            bytes.push(f.read(rec, big) as u64);
        }
        if let Some(f) = spec.ioprio {
            ioprio.push(f.read(rec, big) as u64);
        }
        if let Some(f) = spec.error {
            error.push(f.read(rec, big) as i32);
        }
        if let (Some(f), Some(t)) = (spec.rwbs, rwbs.as_mut()) {
            rwbs_ok = rwbs_ok && t.push(f.raw(rec));
        }
        if let (Some(f), Some(t)) = (spec.comm, comm.as_mut()) {
            comm_ok = comm_ok && t.push(f.raw(rec));
        }
    }
    (c.dev_codes, c.dev_values) = intern_ints(&dev);
    if spec.ioprio.is_some() {
        let (codes, vals) = intern_ints(&ioprio);
        (c.ioprio_codes, c.ioprio_values) = (codes, vals.into_iter().map(|v| v as i64).collect());
    }
    (c.bytes, c.error) = (bytes, error);
    c.rwbs = rwbs.zip(spec.rwbs).map(|(t, f)| if rwbs_ok { t.finish() } else { strings_as_rows(buf, starts, f) });
    c.comm = comm.zip(spec.comm).map(|(t, f)| if comm_ok { t.finish() } else { strings_as_rows(buf, starts, f) });
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(offset: i64, size: usize, signed: bool) -> IntField {
        IntField { offset, size, signed }
    }

    /// A record laid out as 6.18's block_rq_issue (above), little- or big-endian.
    fn record(big: bool, pid: i32, dev: u32, sector: u64, nr: u32, rwbs: &[u8], comm: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 60];
        let put = |r: &mut Vec<u8>, at: usize, v: &[u8]| r[at..at + v.len()].copy_from_slice(v);
        if big {
            put(&mut r, 4, &pid.to_be_bytes());
            put(&mut r, 8, &dev.to_be_bytes());
            put(&mut r, 16, &sector.to_be_bytes());
            put(&mut r, 24, &nr.to_be_bytes());
        } else {
            put(&mut r, 4, &pid.to_le_bytes());
            put(&mut r, 8, &dev.to_le_bytes());
            put(&mut r, 16, &sector.to_le_bytes());
            put(&mut r, 24, &nr.to_le_bytes());
        }
        put(&mut r, 34, rwbs);
        put(&mut r, 44, comm);
        r
    }

    fn spec(big: bool) -> BlockSpec {
        BlockSpec {
            big_endian: big,
            pid: int(4, 4, true),
            dev: int(8, 4, false),
            sector: int(16, 8, false),
            nr_sector: Some(int(24, 4, false)),
            bytes: None,
            ioprio: None,
            error: None,
            rwbs: Some(StrField { offset: 34, size: 10 }),
            comm: Some(StrField { offset: 44, size: 16 }),
        }
    }

    #[test]
    fn columns_of_both_byte_orders() {
        for big in [false, true] {
            let dev = (254 << 20) | 3;
            let buf = [record(big, 77, dev, u64::MAX, 8, b"WS\0", b"dd\0"), record(big, 0, 8 << 20, 9, 1, b"R", b"kworker/0:1H")].concat();
            let got = gather_block(&buf, &[0, 60], &spec(big), &[0, 77]);
            assert_eq!(got.pid, vec![77, 0]);
            assert_eq!(got.comm_at, vec![1, 0]);
            assert_eq!((got.dev_major, got.dev_minor), (vec![254, 8], vec![3, 0]));
            assert_eq!((got.dev_codes, got.dev_values), (vec![0, 1], vec![u64::from(dev), 8 << 20]));
            assert_eq!(got.sector, vec![u64::MAX, 9]);
            assert_eq!(got.nr_sector, vec![8, 1]);
            let rwbs = got.rwbs.unwrap();
            assert_eq!((rwbs.codes, rwbs.width, rwbs.table), (vec![0, 1], 2, b"WSR\0".to_vec()));
            assert!(got.bytes.is_empty() && got.error.is_empty() && got.ioprio_codes.is_empty());
        }
    }

    #[test]
    fn signed_fields_sign_extend_before_they_wrap() {
        // error is an int: -5 stays -5; a signed 2-byte ioprio of 0xFFFF is -1, as numpy reads it
        let mut r = record(false, -1, 0xFFFF_FFFF, 0, 0, b"", b"");
        r[28..32].copy_from_slice(&(-5i32).to_le_bytes());
        r[32..34].copy_from_slice(&[0xFF, 0xFF]);
        let s = BlockSpec { error: Some(int(28, 4, true)), ioprio: Some(int(32, 2, true)), nr_sector: None, ..spec(false) };
        let got = gather_block(&r, &[0], &s, &[]);
        assert_eq!((got.pid, got.comm_at), (vec![-1], vec![0]));
        assert_eq!(got.error, vec![-5]);
        assert_eq!(got.ioprio_values, vec![-1]);
        assert_eq!(got.nr_sector, vec![0]); // absent: zeros, as the gathers gave
        assert_eq!((got.dev_major, got.dev_minor), (vec![0xFFF], vec![0xF_FFFF]));
    }

    #[test]
    fn records_cut_by_the_buffer_end_read_clamped_not_past_it() {
        let r = record(false, 5, 1, 2, 3, b"W", b"x");
        let got = gather_block(&r[..20], &[0, 19, -40], &spec(false), &[5]);
        assert_eq!(got.pid.len(), 3);
        assert_eq!(got.comm_at[0], 0);
        assert_eq!(got.rwbs.map(|s| s.codes.len()), Some(3));
    }

    #[test]
    fn stale_bytes_after_the_nul_do_not_make_another_string() {
        let a = record(false, 1, 1, 0, 0, b"R\0xx", b"kworker/1:2\0junk");
        let b = record(false, 1, 1, 0, 0, b"R\0yy", b"kworker/1:2\0JUNK");
        let c = record(false, 1, 1, 0, 0, b"RA", b"dd");
        let buf = [a, b, c.clone(), c].concat();
        let got = gather_block(&buf, &[0, 60, 120, 180], &spec(false), &[]);
        let rwbs = got.rwbs.unwrap();
        assert_eq!((rwbs.codes, rwbs.table), (vec![0, 0, 1, 1], b"R\0RA".to_vec()));
        let comm = got.comm.unwrap();
        assert_eq!((comm.codes, comm.width), (vec![0, 0, 1, 1], 11));
    }

    #[test]
    fn many_distinct_strings_come_back_as_rows_as_gather_cstrings_gives_them() {
        let n = 1100usize;
        let buf: Vec<u8> = (0..n).flat_map(|i| record(false, 1, 1, 0, 0, b"W", format!("t{i:04}").as_bytes())).collect();
        let starts: Vec<i64> = (0..n as i64).map(|i| i * 60).collect();
        let got = gather_block(&buf, &starts, &spec(false), &[]);
        let comm = got.comm.unwrap();
        assert!(comm.codes.is_empty());
        assert_eq!((comm.width, &comm.table[..10]), (5, &b"t0000t0001"[..]));
        assert_eq!(got.rwbs.unwrap().codes.len(), n); // the other column stays interned
    }

    #[test]
    fn no_records_no_rows() {
        let got = gather_block(&[], &[], &spec(true), &[]);
        assert!(got.pid.is_empty() && got.dev_values.is_empty() && got.nr_sector.is_empty());
    }
}
