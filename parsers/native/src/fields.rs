//! Typed fields of a batch of records, by the layouts of the capture's format files.
//!
//! A record starts at `start` in a buffer (a run of ring-buffer pages, or perf.data RAW payloads
//! laid end to end); a field is `size` bytes at `offset` from there. Reads past the buffer repeat
//! its last byte (and before it, its first), so a damaged offset yields garbage, never a panic;
//! the callers drop records shorter than their format's fixed fields first.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The bytes `at .. at + n` of `buf`, each index clamped into the buffer (empty buffer: zeros).
pub(crate) fn clamped(buf: &[u8], at: i64, n: usize, out: &mut Vec<u8>) {
    let len = buf.len();
    match usize::try_from(at).ok().and_then(|a| buf.get(a..a.checked_add(n)?)) {
        Some(bytes) => out.extend_from_slice(bytes),
        None if len == 0 => out.resize(out.len() + n, 0),
        None => out.extend((0..n as i64).map(|i| {
            let j = at.saturating_add(i).clamp(0, len as i64 - 1) as usize;
            buf.get(j).copied().unwrap_or(0)
        })),
    }
}

/// The `n` bytes of the record at `at`: borrowed where the buffer holds them whole, else (a record
/// cut by the buffer's edge: damage) clamped into `edge`, as the per-field gathers read them.
pub(crate) fn record<'a>(buf: &'a [u8], at: i64, n: usize, edge: &'a mut Vec<u8>) -> &'a [u8] {
    match usize::try_from(at).ok().and_then(|a| buf.get(a..a.checked_add(n)?)) {
        Some(r) => r,
        None => {
            edge.clear();
            clamped(buf, at, n, edge);
            edge
        }
    }
}

/// The (records x width) byte matrix of the field at `offset` of every record, row-major.
pub fn gather_bytes(buf: &[u8], starts: &[i64], offset: i64, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(starts.len() * width);
    for &s in starts {
        clamped(buf, s.saturating_add(offset), width, &mut out);
    }
    out
}

/// An integer field (1, 2, 4 or 8 bytes) of every record, each in this machine's byte order and
/// its own width (the caller views them as signed or unsigned).
pub fn gather_int(buf: &[u8], starts: &[i64], offset: i64, size: usize, big: bool) -> Vec<u8> {
    match size {
        1 => gather_fixed::<1>(buf, starts, offset, big),
        2 => gather_fixed::<2>(buf, starts, offset, big),
        4 => gather_fixed::<4>(buf, starts, offset, big),
        8 => gather_fixed::<8>(buf, starts, offset, big),
        _ => {
            let mut out = gather_bytes(buf, starts, offset, size);
            if big != cfg!(target_endian = "big") {
                out.chunks_exact_mut(size.max(1)).for_each(<[u8]>::reverse);
            }
            out
        }
    }
}

/// `gather_int` for one width: a fixed-size copy per record, the clamped read only at the edges.
fn gather_fixed<const N: usize>(buf: &[u8], starts: &[i64], offset: i64, big: bool) -> Vec<u8> {
    let swap = big != cfg!(target_endian = "big");
    let mut out = vec![0u8; starts.len() * N];
    let mut edge = Vec::with_capacity(N);
    for (dst, &s) in out.chunks_exact_mut(N).zip(starts) {
        let at = s.saturating_add(offset);
        match usize::try_from(at).ok().and_then(|a| buf.get(a..a.checked_add(N)?)) {
            Some(bytes) => dst.copy_from_slice(bytes),
            None => {
                edge.clear();
                clamped(buf, at, N, &mut edge);
                dst.copy_from_slice(&edge);
            }
        }
        if swap {
            dst.reverse();
        }
    }
    out
}

/// FNV-1a: the strings interned here are short (a comm, an rwbs, a device name).
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Strings as codes into a table of the distinct ones (in order of first appearance), or, when
/// most are distinct (addresses in hex, file names), the strings themselves (`codes` empty).
#[derive(Debug, Default, PartialEq)]
pub struct Interned {
    pub codes: Vec<u32>,
    /// the distinct strings (or every string), each NUL-padded to `width` bytes
    pub table: Vec<u8>,
    pub width: usize,
}

/// More distinct strings than this share of the rows: hand over the rows, not a table.
const DISTINCT_SHARE: usize = 8;

/// The C strings at `at[i]`, at most `len[i]` bytes (cut at the first NUL), interned.
pub fn gather_cstrings(buf: &[u8], at: &[i64], len: &[i64]) -> Interned {
    let cap = buf.len().max(1);
    let rows: Vec<Cow<[u8]>> = at
        .iter()
        .zip(len)
        .map(|(&a, &n)| {
            let n = usize::try_from(n).unwrap_or(0).min(cap);
            let row = match usize::try_from(a).ok().and_then(|a| buf.get(a..a.checked_add(n)?)) {
                Some(bytes) => Cow::Borrowed(bytes),
                None => {
                    let mut edge = Vec::with_capacity(n);
                    clamped(buf, a, n, &mut edge);
                    Cow::Owned(edge)
                }
            };
            match memchr::memchr(0, &row) {
                Some(z) => match row {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[..z]),
                    Cow::Owned(mut v) => {
                        v.truncate(z);
                        Cow::Owned(v)
                    }
                },
                None => row,
            }
        })
        .collect();
    let limit = (at.len() / DISTINCT_SHARE).max(1024);
    let mut seen: HashMap<&[u8], u32, BuildHasherDefault<Fnv>> = HashMap::default();
    let mut uniques: Vec<&[u8]> = Vec::new();
    let mut codes = Vec::with_capacity(at.len());
    for row in &rows {
        let row: &[u8] = row;
        // a handful of distinct values (an rwbs, a device name) is the common case: compare, not hash
        let few = if uniques.len() <= 8 { uniques.iter().position(|u| *u == row) } else { None };
        let code = match few {
            Some(c) => c as u32,
            None => {
                let next = uniques.len() as u32;
                *seen.entry(row).or_insert_with(|| {
                    uniques.push(row);
                    next
                })
            }
        };
        codes.push(code);
        if uniques.len() > limit {
            return padded(rows.iter().map(|r| &r[..]), Vec::new());
        }
    }
    padded(uniques.into_iter(), codes)
}

fn padded<'a>(strings: impl Iterator<Item = &'a [u8]> + Clone, codes: Vec<u32>) -> Interned {
    let width = strings.clone().map(<[u8]>::len).max().unwrap_or(0);
    let mut table = Vec::new();
    for s in strings {
        table.extend_from_slice(s);
        table.resize(table.len() + width - s.len(), 0);
    }
    Interned { codes, table, width }
}

/// Numbers as codes into the distinct values (in order of first appearance): a device or an I/O
/// priority is spelled once per distinct value, however many records carry it.
pub fn intern_ints(vals: &[u64]) -> (Vec<u32>, Vec<u64>) {
    let mut seen: HashMap<u64, u32, BuildHasherDefault<Fnv>> = HashMap::default();
    let mut uniques = Vec::new();
    let mut last: Option<(u64, u32)> = None; // runs of one value are the common case
    let codes = vals
        .iter()
        .map(|&v| match last {
            Some((lv, lc)) if lv == v => lc,
            _ => {
                let c = *seen.entry(v).or_insert_with(|| {
                    uniques.push(v);
                    (uniques.len() - 1) as u32
                });
                last = Some((v, c));
                c
            }
        })
        .collect();
    (codes, uniques)
}

/// Records grouped by event id, a counting sort: (record indices, id by id ascending, each id's in
/// record order; the distinct ids ascending; where each id's indices start).
pub fn group_by(ids: &[i64]) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let (codes, kinds) = intern_ints(&ids.iter().map(|&i| i as u64).collect::<Vec<_>>());
    let mut by_id: Vec<(i64, usize)> = kinds.iter().enumerate().map(|(c, &k)| (k as i64, c)).collect();
    by_id.sort_unstable();
    let mut rank = vec![0usize; by_id.len()];
    for (r, &(_, c)) in by_id.iter().enumerate() {
        rank[c] = r;
    }
    let mut count = vec![0usize; by_id.len()];
    for &c in &codes {
        count[rank[c as usize]] += 1;
    }
    let mut first = Vec::with_capacity(count.len());
    let mut at = 0;
    for n in &count {
        first.push(at as i64);
        at += n;
    }
    let mut next: Vec<usize> = first.iter().map(|&f| f as usize).collect();
    let mut order = vec![0i64; ids.len()];
    for (i, &c) in codes.iter().enumerate() {
        let r = rank[c as usize];
        order[next[r]] = i as i64;
        next[r] += 1;
    }
    (order, by_id.into_iter().map(|(k, _)| k).collect(), first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_of_both_byte_orders_and_widths() {
        let buf = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let le = gather_int(&buf, &[0, 4], 1, 4, false);
        let vals: Vec<u32> = le.chunks_exact(4).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect();
        assert_eq!(vals, vec![0x0403_0201, 0x0807_0605]);
        let be = gather_int(&buf, &[0], 0, 2, true);
        assert_eq!(u16::from_ne_bytes(be[..].try_into().unwrap()), 0x0001);
    }

    #[test]
    fn reads_past_the_buffer_clamp_instead_of_panicking() {
        let buf = [1u8, 2, 3];
        assert_eq!(gather_bytes(&buf, &[2, -5], 0, 3), vec![3, 3, 3, 1, 1, 1]);
        assert_eq!(gather_bytes(&[], &[0], 7, 2), vec![0, 0]);
        assert_eq!(gather_bytes(&buf, &[i64::MAX], i64::MAX, 1), vec![3]);
    }

    #[test]
    fn cstrings_cut_at_nul_and_interned_in_first_seen_order() {
        let buf = b"WS\0xR\0\0\0WS\0y";
        let got = gather_cstrings(buf, &[0, 3, 8, 11], &[4, 4, 3, 0]);
        assert_eq!(got.codes, vec![0, 1, 0, 2]);
        assert_eq!(got.width, 2);
        assert_eq!(got.table, b"WSxR\0\0".to_vec());
    }

    #[test]
    fn mostly_distinct_strings_come_back_as_rows() {
        let buf: Vec<u8> = (0..5000u32).flat_map(|i| format!("{i:05}").into_bytes()).collect();
        let at: Vec<i64> = (0..5000).map(|i| i * 5).collect();
        let got = gather_cstrings(&buf, &at, &vec![5; 5000]);
        assert!(got.codes.is_empty());
        assert_eq!((got.width, &got.table[..]), (5, &buf[..]));
    }

    #[test]
    fn grouped_by_id_ascending_each_in_record_order() {
        let (order, kinds, first) = group_by(&[5, -1, 5, 3, -1]);
        assert_eq!((order, kinds, first), (vec![1, 4, 3, 0, 2], vec![-1, 3, 5], vec![0, 2, 3]));
    }

    #[test]
    fn ints_interned_in_first_seen_order() {
        assert_eq!(intern_ints(&[7, 7, 3, 7, u64::MAX]), (vec![0, 0, 1, 0, 2], vec![7, 3, u64::MAX]));
    }

    #[test]
    fn negative_or_huge_lengths_do_not_allocate_past_the_buffer() {
        let got = gather_cstrings(b"abc", &[0, 0], &[-1, i64::MAX]);
        assert_eq!(got.codes, vec![0, 1]);
        assert_eq!(got.table, b"\0\0\0abc".to_vec());
    }
}
