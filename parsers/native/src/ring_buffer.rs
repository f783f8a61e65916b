//! Kernel ring-buffer pages, as trace-cmd copies them from `per_cpu/cpuN/trace_pipe_raw`.
//!
//! Each page ("sub-buffer") is described by the capture's `events/header_page`:
//!
//! ```text
//! field: u64 timestamp;   offset:0;   size:8;     signed:0;
//! field: local_t commit;  offset:8;   size:8;     signed:1;     <- 4 on a 32-bit kernel
//! field: char data;       offset:16;  size:4080;  signed:0;
//! ```
//!
//! `commit` is the number of data bytes used; bit 31 says events were lost before this page, bit
//! 30 that their count is stored as a long right after the data. The data is a run of records,
//! each a 32-bit header (`type_len:5 time_delta:27`, type_len the top 5 bits on big-endian
//! machines), then an optional 32-bit `array[0]`:
//!
//! ```text
//! type_len 1..28   data record, type_len * 4 bytes of data follow
//! type_len 0       data record, array[0] = data length + 4, data follows array[0]
//! type_len 29      padding of array[0] bytes; time_delta 0 = the rest of the page is empty
//! type_len 30      time extend: delta = array[0] << 27 | time_delta
//! type_len 31      absolute time stamp: ts = array[0] << 27 | time_delta (kernel 5.10+)
//! ```
//!
//! A record's time is the page timestamp plus the deltas before it (its own included). A page
//! whose commit or records point outside it is counted bad and read up to the damage.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::fields::Fnv;

const PADDING: u32 = 29;
const TIME_EXTEND: u32 = 30;
const TIME_STAMP: u32 = 31;
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;
/// An absolute stamp keeps 59 bits; the top 5 come from the page's time (the kernel's rb_fix_abs_ts).
const TS_MSB: u64 = 0xF8 << 56;

/// Where a page's header fields are (from header_page), and the capture's byte order.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub page_size: usize,
    pub ts_offset: usize,
    pub commit_offset: usize,
    pub commit_size: usize,
    pub data_offset: usize,
    pub big_endian: bool,
}

impl Layout {
    /// Why no kernel writes pages like these, if it does not.
    pub fn check(&self) -> Result<(), String> {
        let ps = self.page_size;
        let ok = ps >= 8
            && ps.is_multiple_of(4)
            && matches!(self.commit_size, 4 | 8)
            && self.ts_offset.saturating_add(8) <= self.data_offset
            && self.commit_offset.saturating_add(self.commit_size) <= self.data_offset
            && self.data_offset.is_multiple_of(4)
            && self.data_offset < ps;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "impossible page layout (page size {ps}, timestamp at {}, commit at {} of {} bytes, data at {})",
                self.ts_offset, self.commit_offset, self.commit_size, self.data_offset
            ))
        }
    }
}

/// The data records of a run of pages, in page order then record order (time order per CPU).
#[derive(Debug, Default, PartialEq)]
pub struct Records {
    /// byte offset in the buffer of each record's data (where common_type sits)
    pub start: Vec<i64>,
    pub length: Vec<i64>,
    /// raw timestamp, clock units
    pub ts: Vec<u64>,
    pub page: Vec<i64>,
    /// per page: events lost before it (0 none, -1 lost but the count is unknown)
    pub lost: Vec<i64>,
    /// pages whose header or records were corrupt (read up to the damage)
    pub bad_pages: u64,
}

/// An unsigned integer of `size` (1..=8) bytes at `at`, or None past the end.
pub fn read_uint(buf: &[u8], at: usize, size: usize, big: bool) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(size)?)?;
    let fold = |v: u64, b: &u8| (v << 8) | u64::from(*b);
    Some(if big { bytes.iter().fold(0, fold) } else { bytes.iter().rev().fold(0, fold) })
}

struct Words<'a> {
    buf: &'a [u8],
    big: bool,
    len: usize,
}

impl Words<'_> {
    fn get(&self, i: usize) -> u32 {
        read_uint(self.buf, i * 4, 4, self.big).unwrap_or(0) as u32
    }
}

/// Walk every record of `buf` (whole pages; a partial last page is ignored).
pub fn decode_pages(buf: &[u8], layout: &Layout) -> Result<Records, String> {
    layout.check()?;
    let ps = layout.page_size;
    let npages = buf.len() / ps;
    let words = Words { buf, big: layout.big_endian, len: buf.len() / 4 };
    let mut out = Records { lost: Vec::with_capacity(npages), ..Records::default() };
    let guess = buf.len() / 32;
    out.start.reserve(guess);
    out.length.reserve(guess);
    out.ts.reserve(guess);
    out.page.reserve(guess);
    for p in 0..npages {
        let base = p * ps;
        let (size, bad, lost) = page_header(buf, base, layout);
        out.lost.push(lost);
        let corrupt = walk_page(&words, p, base, size, layout, &mut out);
        out.bad_pages += u64::from(bad || corrupt);
    }
    Ok(out)
}

/// (data bytes used, commit points past the page, events lost before it) of the page at `base`.
fn page_header(buf: &[u8], base: usize, layout: &Layout) -> (usize, bool, i64) {
    let e = layout.big_endian;
    let commit = read_uint(buf, base + layout.commit_offset, layout.commit_size, e).unwrap_or(0);
    let capacity = layout.page_size - layout.data_offset;
    let mut size = (commit & (MISSED_STORED - 1)) as usize;
    let bad = size > capacity;
    if bad {
        size = 0;
    }
    let lost = if commit & MISSED_EVENTS == 0 {
        0
    } else if commit & MISSED_STORED != 0 && size + layout.commit_size <= capacity {
        let at = base + layout.data_offset + size;
        read_uint(buf, at, layout.commit_size, e).unwrap_or(0) as i64
    } else {
        -1 // a page flagged without a stored count
    };
    (size, bad, lost)
}

/// Append the page's data records to `out`; true when a record points past the committed data.
fn walk_page(words: &Words, p: usize, base: usize, size: usize, layout: &Layout, out: &mut Records) -> bool {
    let page_ts = read_uint(words.buf, base + layout.ts_offset, 8, layout.big_endian).unwrap_or(0);
    let mut ts = page_ts;
    let mut cur = (base + layout.data_offset) / 4;
    let end = cur + size / 4;
    while cur < end {
        let hdr = words.get(cur);
        let (tl, delta) = if layout.big_endian { (hdr >> 27, hdr & 0x7FF_FFFF) } else { (hdr & 31, hdr >> 5) };
        // array[0] may lie in the next page (or be the buffer's last word) when the record is broken;
        // only its being zero or not then matters, as for the records the page says are there
        let arr0 = u64::from(words.get((cur + 1).min(words.len.saturating_sub(1))));
        let sized = tl == 0 || (tl == PADDING && delta != 0);
        let n = if sized {
            1 + (arr0 as usize).div_ceil(4)
        } else if tl <= 28 {
            1 + tl as usize
        } else {
            2
        };
        let next = cur + n;
        if (tl == 0 && arr0 < 4) || next > end {
            return true;
        }
        if tl == PADDING && delta == 0 {
            break; // the rest of the page is empty
        }
        let wide = (arr0 << 27) | u64::from(delta);
        match tl {
            TIME_EXTEND => ts = ts.wrapping_add(wide),
            TIME_STAMP => ts = wide | (page_ts & TS_MSB),
            _ => ts = ts.wrapping_add(u64::from(delta)),
        }
        if tl <= 28 {
            let (at, len) = if tl == 0 { (cur + 2, arr0 as i64 - 4) } else { (cur + 1, i64::from(tl) * 4) };
            out.start.push((at * 4) as i64);
            out.length.push(len);
            out.ts.push(ts);
            out.page.push(p as i64);
        }
        cur = next;
    }
    false
}

/// The order in which to hand out the records of several CPUs' runs, laid one run after another
/// (`run_lens` records each): an event kind found in more than one run has its records in time
/// order, ties in run order; a kind of a single run keeps that run's order as it is (a damaged
/// page's time going back stays where the CPU wrote it). Only the order within a kind matters:
/// the frames are built per kind. (`merge_grouped`'s order, which also groups the kinds.)
pub fn merge_order(kinds: &[i64], ts_ns: &[i64], run_lens: &[usize]) -> Result<Vec<i64>, String> {
    merge_grouped(kinds, ts_ns, run_lens).map(|(order, _, _)| order)
}

/// (record indices kind after kind, the kinds, where each kind's indices start)
pub type Grouped = (Vec<i64>, Vec<i64>, Vec<i64>);

/// `merge_order`, grouped by kind: (record indices kind after kind, each kind's in the order
/// `merge_order` gives them; the kinds in the order the CPUs' runs first hold them, run after run
/// and ids ascending within one; where each kind's indices start). One call instead of a merge,
/// a group-by and a search for each run's kinds; a kind shared by runs is time-sorted by a stable
/// sort, which merges the runs' already ordered stretches instead of sorting from scratch.
pub fn merge_grouped(kinds: &[i64], ts_ns: &[i64], run_lens: &[usize]) -> Result<Grouped, String> {
    if kinds.len() != ts_ns.len() || run_lens.iter().sum::<usize>() != kinds.len() {
        return Err(format!("{} kinds, {} times, runs of {} records", kinds.len(), ts_ns.len(), run_lens.iter().sum::<usize>()));
    }
    // kind -> (rank, first run, seen in another run too)
    let mut of: HashMap<i64, (usize, usize, bool), BuildHasherDefault<Fnv>> = HashMap::default();
    let mut order_kinds: Vec<i64> = Vec::new();
    let mut codes: Vec<u32> = Vec::with_capacity(kinds.len());
    let mut at = 0;
    for (run, &n) in run_lens.iter().enumerate() {
        let mut new_here: Vec<i64> = Vec::new();
        let mut last: Option<(i64, u32)> = None; // runs of one kind are the common case
        for &k in &kinds[at..at + n] {
            let code = match last {
                Some((lk, lc)) if lk == k => lc,
                _ => {
                    let next = of.len();
                    let e = of.entry(k).or_insert_with(|| {
                        new_here.push(k);
                        (next, run, false)
                    });
                    e.2 |= e.1 != run;
                    last = Some((k, e.0 as u32));
                    e.0 as u32
                }
            };
            codes.push(code);
        }
        new_here.sort_unstable();
        order_kinds.extend(new_here);
        at += n;
    }
    // codes were handed out as first met; ranks follow the order the kinds are listed in
    let mut rank = vec![0usize; of.len()];
    for (r, k) in order_kinds.iter().enumerate() {
        rank[of[k].0] = r;
    }
    let mut first = vec![0i64; order_kinds.len()];
    for &c in &codes {
        first[rank[c as usize]] += 1;
    }
    let mut next = 0i64;
    for slot in first.iter_mut() {
        let n = *slot;
        *slot = next;
        next += n;
    }
    let mut fill: Vec<usize> = first.iter().map(|&f| f as usize).collect();
    let mut order = vec![0i64; kinds.len()];
    for (i, &c) in codes.iter().enumerate() {
        let r = rank[c as usize];
        order[fill[r]] = i as i64;
        fill[r] += 1;
    }
    for (r, k) in order_kinds.iter().enumerate() {
        if of[k].2 {
            let end = first.get(r + 1).map_or(order.len(), |&e| e as usize);
            // stable: equal times keep run order, then record order
            order[first[r] as usize..end].sort_by_key(|&i| ts_ns[i as usize]);
        }
    }
    Ok((order, order_kinds, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: usize = 64;

    fn layout(commit_size: usize, big: bool) -> Layout {
        let data_offset = 8 + commit_size;
        Layout { page_size: PS, ts_offset: 0, commit_offset: 8, commit_size, data_offset, big_endian: big }
    }

    /// A page of `words` after the header, committed `commit` bytes (None: the words' length).
    fn page(lay: &Layout, ts: u64, commit: Option<u64>, words: &[u32]) -> Vec<u8> {
        let mut p = vec![0u8; PS];
        let put = |p: &mut Vec<u8>, at: usize, v: u64, n: usize| {
            let b = if lay.big_endian { v.to_be_bytes()[8 - n..].to_vec() } else { v.to_le_bytes()[..n].to_vec() };
            p[at..at + n].copy_from_slice(&b);
        };
        put(&mut p, 0, ts, 8);
        put(&mut p, 8, commit.unwrap_or(words.len() as u64 * 4), lay.commit_size);
        for (i, w) in words.iter().enumerate() {
            put(&mut p, lay.data_offset + 4 * i, u64::from(*w), 4);
        }
        p
    }

    fn hdr(lay: &Layout, tl: u32, delta: u32) -> u32 {
        if lay.big_endian {
            (tl << 27) | delta
        } else {
            (delta << 5) | tl
        }
    }

    #[test]
    fn small_records_add_their_deltas_to_the_page_time() {
        let lay = layout(8, false);
        let p = page(&lay, 1000, None, &[hdr(&lay, 2, 5), 0xAA, 0xBB, hdr(&lay, 1, 7), 0xCC]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!(r.start, vec![16 + 4, 16 + 16]);
        assert_eq!(r.length, vec![8, 4]);
        assert_eq!(r.ts, vec![1005, 1012]);
        assert_eq!(r.bad_pages, 0);
    }

    #[test]
    fn zero_length_record_is_corrupt_and_stops_the_page() {
        let lay = layout(8, false);
        // type_len 0 with array[0] < 4 claims less than its own length word
        let p = page(&lay, 0, None, &[hdr(&lay, 1, 1), 9, hdr(&lay, 0, 1), 0, hdr(&lay, 1, 1), 9]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!(r.start, vec![20]);
        assert_eq!(r.bad_pages, 1);
    }

    #[test]
    fn long_record_gives_its_length_in_array0() {
        let lay = layout(8, false);
        let p = page(&lay, 10, None, &[hdr(&lay, 0, 3), 4 + 6, 1, 2]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!((r.start, r.length, r.ts), (vec![24], vec![6], vec![13]));
    }

    #[test]
    fn commit_beyond_the_page_is_a_bad_page_without_records() {
        let lay = layout(8, false);
        let p = page(&lay, 0, Some(4096), &[hdr(&lay, 1, 1), 1]);
        let r = decode_pages(&p, &lay).unwrap();
        assert!(r.start.is_empty());
        assert_eq!(r.bad_pages, 1);
    }

    #[test]
    fn time_extend_at_page_end_is_cut_and_counted() {
        let lay = layout(8, false);
        // a time extend needs two words; the commit ends after the first
        let p = page(&lay, 0, Some(12), &[hdr(&lay, 1, 1), 5, hdr(&lay, TIME_EXTEND, 1), 1]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!(r.ts, vec![1]);
        assert_eq!(r.bad_pages, 1);
    }

    #[test]
    fn time_extend_and_absolute_stamps() {
        let lay = layout(8, false);
        let page_ts = 0xF800_0000_0000_0100u64;
        let words = [
            hdr(&lay, TIME_EXTEND, 3), 2, // + (2 << 27 | 3)
            hdr(&lay, 1, 1), 0,
            hdr(&lay, TIME_STAMP, 7), 1, // = 1 << 27 | 7, top bits from the page
            hdr(&lay, 1, 2), 0,
        ];
        let r = decode_pages(&page(&lay, page_ts, None, &words), &lay).unwrap();
        let first = page_ts + ((2 << 27) | 3) + 1;
        let abs = ((1u64 << 27) | 7) | (page_ts & TS_MSB);
        assert_eq!(r.ts, vec![first, abs + 2]);
    }

    #[test]
    fn padding_with_length_is_skipped_and_null_padding_ends_the_page() {
        let lay = layout(8, false);
        let words = [hdr(&lay, PADDING, 4), 8, 0xDEAD, hdr(&lay, 1, 1), 0, hdr(&lay, PADDING, 0), 0, hdr(&lay, 1, 1), 0];
        let r = decode_pages(&page(&lay, 100, None, &words), &lay).unwrap();
        assert_eq!(r.start, vec![16 + 16]);
        assert_eq!(r.ts, vec![105]);
        assert_eq!(r.bad_pages, 0);
    }

    #[test]
    fn big_endian_page() {
        let lay = layout(8, true);
        let p = page(&lay, 50, None, &[hdr(&lay, 1, 0x10_0000), 0x0102_0304]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!((r.start, r.ts), (vec![20], vec![50 + 0x10_0000]));
    }

    #[test]
    fn four_byte_commit_of_a_32_bit_kernel_and_lost_counts() {
        let lay = layout(4, false);
        let mut p = page(&lay, 0, Some(MISSED_EVENTS | MISSED_STORED | 8), &[hdr(&lay, 1, 1), 0]);
        p[12 + 8..12 + 12].copy_from_slice(&77u32.to_le_bytes()); // the count right after the data
        let flagged = page(&lay, 0, Some(MISSED_EVENTS | 8), &[hdr(&lay, 1, 1), 0]);
        let both = [p, flagged].concat();
        let r = decode_pages(&both, &lay).unwrap();
        assert_eq!(r.start, vec![16, PS as i64 + 16]);
        assert_eq!(r.page, vec![0, 1]);
        assert_eq!(r.lost, vec![77, -1]);
    }

    #[test]
    fn truncated_last_page_is_ignored() {
        let lay = layout(8, false);
        let mut p = page(&lay, 0, None, &[hdr(&lay, 1, 1), 0]);
        p.extend_from_slice(&p.clone()[..PS / 2]);
        let r = decode_pages(&p, &lay).unwrap();
        assert_eq!((r.start.len(), r.lost.len()), (1, 1));
    }

    #[test]
    fn merge_orders_shared_kinds_by_time_and_leaves_lone_kinds_alone() {
        // run 0: kinds 1,1,2 at 5,20,9; run 1: kind 1 at 5 and 10, kind 3 at 1 then 0 (going back)
        let kinds = [1, 1, 2, 1, 1, 3, 3];
        let ts = [5, 20, 9, 5, 10, 1, 0];
        let order = merge_order(&kinds, &ts, &[3, 4]).unwrap();
        let of = |k: i64| order.iter().copied().filter(|&i| kinds[i as usize] == k).collect::<Vec<_>>();
        assert_eq!(of(1), vec![0, 3, 4, 1]);
        assert_eq!(of(2), vec![2]);
        assert_eq!(of(3), vec![5, 6]);
        assert!(merge_order(&kinds, &ts, &[3]).is_err());
    }

    #[test]
    fn impossible_layout_is_an_error_not_a_panic() {
        let lay = Layout { page_size: 16, ts_offset: 0, commit_offset: 8, commit_size: 8, data_offset: 16, big_endian: false };
        assert!(decode_pages(&[0; 64], &lay).is_err());
    }

    #[test]
    fn merge_grouped_lists_kinds_run_by_run_and_orders_each_as_merge_order_does() {
        let kinds = [1, 1, 2, 1, 1, 3, 3, 0];
        let ts = [5, 20, 9, 5, 10, 1, 0, 7];
        let (order, listed, first) = merge_grouped(&kinds, &ts, &[3, 5]).unwrap();
        assert_eq!(listed, vec![1, 2, 0, 3]); // run 0: 1, 2; run 1 adds 0 and 3, ascending
        assert_eq!(first, vec![0, 4, 5, 6]);
        // kind 1 is on both CPUs: by time, ties (5) in run order; 2, 0 and 3 as their CPU wrote them
        assert_eq!(order, vec![0, 3, 4, 1, 2, 7, 5, 6]);
        assert!(merge_grouped(&kinds, &ts, &[3]).is_err());
        assert_eq!(merge_grouped(&[], &[], &[0, 0]).unwrap(), (vec![], vec![], vec![]));
    }

    #[test]
    fn merge_grouped_ties_keep_run_order() {
        // the same time on two CPUs: CPU (run) order, as merge_order's index tie-break
        let (order, _, _) = merge_grouped(&[4, 4, 4], &[3, 3, 1], &[2, 1]).unwrap();
        assert_eq!(order, vec![2, 0, 1]);
    }
}
