//! The block lane of a trace.dat: block_rq_insert / issue / complete records gathered straight
//! into block pairing's columns (schema.py, "The block lane"), without their frames.
//!
//! The same values the frames carry, read by the capture's format files as `block_fields.rs`
//! reads them: the device (`dev`, the kernel's dev_t: MAJOR << 20 | MINOR), sector, nr_sector,
//! bytes (insert and issue; a complete has none), rwbs, the record's pid and the comm that
//! saved_cmdlines gives that pid (`<idle>` for 0, `<...>` for one it does not know), as the
//! frames' `comm` column has it. Strings are interned for the whole run, so an open request
//! carries its codes from chunk to chunk; a chunk hands over only the strings it saw first.
//!
//! A chunk's rows go kind after kind (inserts, issues, completes), each kind in time order: the
//! rows `block_pairing.columns` makes of the frames, in its order.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;

use crate::block_fields::{cut, IntField, PidIndex, StrField};
use crate::fields::{record, Fnv};
use crate::text::lane::{KindStats, Lane, BYTES_NULL};

/// Where one block kind keeps the fields the lane reads.
#[derive(Clone, Copy, Debug)]
pub struct LaneSpec {
    pub kind: u8, // text::lane::INSERT, ISSUE or COMPLETE
    pub pid: IntField,
    pub dev: IntField,
    pub sector: IntField,
    pub nr_sector: Option<IntField>,
    pub bytes: Option<IntField>, // insert and issue only
    pub rwbs: Option<StrField>,
}

impl LaneSpec {
    /// The bytes of a record the fields span (a record cut shorter is read clamped).
    fn span(&self) -> usize {
        let ints = [Some(self.pid), Some(self.dev), Some(self.sector), self.nr_sector, self.bytes];
        let end = ints.iter().flatten().map(IntField::end).chain(self.rwbs.iter().map(StrField::end)).max().unwrap_or(0);
        usize::try_from(end).unwrap_or(0)
    }
}

/// The run's lane state: its strings, the comms of saved_cmdlines, and the chunk being filled.
pub struct DatLane {
    big_endian: bool,
    known_pids: Vec<i64>,         // ascending, as FrameBuilder.comm_pids
    comm_names: Vec<Vec<u8>>,     // by position in known_pids; one more at the end: "<...>"
    comm_codes: Vec<Option<u32>>, // that position -> its string's code
    devs: HashMap<u64, u32, BuildHasherDefault<Fnv>>,
    map: HashMap<Vec<u8>, u32, BuildHasherDefault<Fnv>>,
    n_strings: u32,
    pub new_strings: Vec<Vec<u8>>, // first seen since the last `take_new`
    pub lane: Lane,
}

const NAMES: [&str; 3] = ["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete"];

impl DatLane {
    pub fn new(big_endian: bool, known_pids: Vec<i64>, comm_names: Vec<Vec<u8>>) -> Self {
        let comm_codes = vec![None; comm_names.len()];
        DatLane {
            big_endian, known_pids, comm_names, comm_codes, devs: HashMap::default(), map: HashMap::default(),
            n_strings: 0, new_strings: Vec::new(), lane: Lane::default(),
        }
    }

    fn code(&mut self, v: &[u8]) -> u32 {
        if let Some(&c) = self.map.get(v) {
            return c;
        }
        let c = self.n_strings;
        self.n_strings += 1;
        self.map.insert(v.to_vec(), c);
        self.new_strings.push(v.to_vec());
        c
    }

    /// Strings learnt so far.
    pub fn strings(&self) -> u32 {
        self.n_strings
    }

    /// The comm's code of the pid at position `at` of known_pids (its count: unknown).
    fn comm(&mut self, at: u32) -> u32 {
        let i = (at as usize).min(self.comm_names.len().saturating_sub(1));
        match self.comm_codes.get(i).copied().flatten() {
            Some(c) => c,
            None => {
                let name = self.comm_names.get(i).cloned().unwrap_or_else(|| b"<...>".to_vec());
                let c = self.code(&name);
                if let Some(slot) = self.comm_codes.get_mut(i) {
                    *slot = Some(c);
                }
                c
            }
        }
    }

    /// The code of the device `d` as the frames spell it ("major,minor" of the 64-bit value).
    fn dev(&mut self, d: u64) -> u32 {
        if let Some(&c) = self.devs.get(&d) {
            return c;
        }
        let c = self.code(format!("{},{}", d >> 20, d & 0xF_FFFF).as_bytes());
        self.devs.insert(d, c);
        c
    }

    /// Append the records `order[lo..hi]` (indices into `starts` of `buf`, `ts` ns, `cpu`) of one kind.
    #[allow(clippy::too_many_arguments)]
    pub fn push_kind(&mut self, buf: &[u8], starts: &[i64], ts: &[i64], cpu: &[i16], order: &[i64], spec: &LaneSpec) {
        let big = self.big_endian;
        let span = spec.span();
        let known = std::mem::take(&mut self.known_pids);
        let mut pids = PidIndex { known: &known, last: None, memo: HashMap::default() };
        let mut edge = Vec::new();
        let (mut last_rwbs, mut last_rwbs_code): (Vec<u8>, Option<u32>) = (Vec::new(), None);
        let (mut last_dev, mut last_dev_code): (u64, Option<u32>) = (0, None);
        let name = NAMES.get(usize::from(spec.kind).wrapping_sub(1)).copied().unwrap_or("?").to_string();
        let mut st = KindStats { kind: spec.kind, name, n: 0, lo: i64::MAX, hi: i64::MIN, cpus: BTreeSet::new(), low_cpus: 0 };
        self.lane.kind.reserve(order.len());
        for &o in order {
            let Some(i) = usize::try_from(o).ok().filter(|&i| i < starts.len() && i < ts.len() && i < cpu.len()) else {
                continue; // an index the merge did not give: never, but no panic
            };
            let s = starts[i];
            let rec = record(buf, s, span, &mut edge);
            let pid = spec.pid.read(rec, big) as i32;
            let comm_at = pids.at(pid);
            let d = spec.dev.read(rec, big) as u64;
            // as block_pairing.columns computes it from the frames' dev_major / dev_minor (u32 each)
            let devnum = u64::from((d >> 20) as u32) * (1 << 20) + (d & 0xF_FFFF);
            let dev = match last_dev_code {
                Some(c) if last_dev == d => c,
                _ => {
                    let c = self.dev(d);
                    (last_dev, last_dev_code) = (d, Some(c));
                    c
                }
            };
            let rwbs_text = spec.rwbs.map_or(&b""[..], |f| cut(f.raw(rec)));
            let rwbs = match last_rwbs_code {
                Some(c) if last_rwbs.as_slice() == rwbs_text => c,
                _ => {
                    let c = self.code(rwbs_text);
                    last_rwbs.clear();
                    last_rwbs.extend_from_slice(rwbs_text);
                    last_rwbs_code = Some(c);
                    c
                }
            };
            let comm = self.comm(comm_at);
            let l = &mut self.lane;
            l.kind.push(spec.kind);
            l.devnum.push(devnum);
            l.sector.push(spec.sector.read(rec, big) as u64);
            l.ts.push(ts[i]);
            l.pid.push(pid);
            l.nr.push(spec.nr_sector.map_or(0, |f| f.read(rec, big) as u32)); // absent: 0, as the frames have it
            match spec.bytes {
                Some(f) => {
                    l.bytes.push(f.read(rec, big) as u64);
                    l.nulls.push(0);
                }
                None => {
                    l.bytes.push(0);
                    l.nulls.push(BYTES_NULL);
                }
            }
            l.dev.push(dev);
            l.comm.push(comm);
            l.rwbs.push(rwbs);
            st.n += 1;
            st.lo = st.lo.min(ts[i]);
            st.hi = st.hi.max(ts[i]);
            match u32::try_from(cpu[i]) {
                Ok(c) if c < 64 => st.low_cpus |= 1 << c,
                _ => {
                    st.cpus.insert(cpu[i]);
                }
            }
        }
        self.known_pids = known;
        if st.n > 0 {
            self.lane.stats.push(st);
        }
    }

    /// The chunk's lane, and the strings first seen in it; the next chunk starts empty.
    pub fn take(&mut self) -> (Lane, Vec<Vec<u8>>) {
        (std::mem::take(&mut self.lane), std::mem::take(&mut self.new_strings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::lane::{COMPLETE, ISSUE};

    fn int(offset: i64, size: usize, signed: bool) -> IntField {
        IntField { offset, size, signed }
    }

    /// 6.18's block_rq_issue layout (block_fields.rs), little-endian.
    fn record(pid: i32, dev: u32, sector: u64, nr: u32, bytes: u32, rwbs: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 60];
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..12].copy_from_slice(&dev.to_le_bytes());
        r[16..24].copy_from_slice(&sector.to_le_bytes());
        r[24..28].copy_from_slice(&nr.to_le_bytes());
        r[28..32].copy_from_slice(&bytes.to_le_bytes());
        r[34..34 + rwbs.len()].copy_from_slice(rwbs);
        r
    }

    fn spec(kind: u8) -> LaneSpec {
        LaneSpec {
            kind,
            pid: int(4, 4, true),
            dev: int(8, 4, false),
            sector: int(16, 8, false),
            nr_sector: Some(int(24, 4, false)),
            bytes: (kind != COMPLETE).then_some(int(28, 4, false)),
            rwbs: Some(StrField { offset: 34, size: 10 }),
        }
    }

    fn lane() -> DatLane {
        DatLane::new(false, vec![0, 77], vec![b"<idle>".to_vec(), b"dd".to_vec(), b"<...>".to_vec()])
    }

    #[test]
    fn rows_follow_the_order_and_strings_are_new_once() {
        let dev = (254 << 20) | 3;
        let buf = [record(77, dev, 2048, 8, 4096, b"WS\0xx"), record(5, dev, 2048, 8, 0, b"WS")].concat();
        let mut l = lane();
        l.push_kind(&buf, &[0, 60], &[10, 20], &[1, 0], &[1, 0], &spec(ISSUE));
        let (got, new) = l.take();
        assert_eq!(got.ts, vec![20, 10]);
        assert_eq!(got.pid, vec![5, 77]);
        assert_eq!(got.devnum, vec![u64::from(dev); 2]);
        assert_eq!(new, vec![b"254,3".to_vec(), b"WS".to_vec(), b"<...>".to_vec(), b"dd".to_vec()]);
        assert_eq!((got.dev, got.rwbs, got.comm), (vec![0, 0], vec![1, 1], vec![2, 3]));
        assert_eq!((got.bytes, got.nulls), (vec![0, 4096], vec![0, 0]));
        let st = &got.stats[0];
        assert_eq!((st.n, st.lo, st.hi, st.all_cpus(), st.name.as_str()), (2, 10, 20, vec![0, 1], "block:block_rq_issue"));
        // the next chunk: known strings keep their codes and are not handed over again
        l.push_kind(&buf, &[0], &[30], &[0], &[0], &spec(COMPLETE));
        let (got, new) = l.take();
        assert!(new.is_empty());
        assert_eq!((got.comm, got.nulls, got.bytes), (vec![3], vec![BYTES_NULL], vec![0]));
    }

    #[test]
    fn damaged_offsets_and_cut_records_read_clamped_never_panic() {
        let buf = record(77, 8 << 20, 1, 1, 512, b"R");
        let mut l = lane();
        l.push_kind(&buf[..30], &[0, 20, -5, i64::MAX], &[1, 2, 3, 4], &[0, 0, 0, 300], &[0, 1, 2, 3, 9, -1], &spec(ISSUE));
        let (got, _) = l.take();
        assert_eq!(got.kind.len(), 4); // the two indices outside the columns are left out
        assert_eq!(got.stats[0].all_cpus(), vec![0, 300]);
        assert_eq!(got.pid[0], 77);
    }

    #[test]
    fn big_endian_records_read_in_their_order() {
        let mut r = vec![0u8; 60];
        r[4..8].copy_from_slice(&77i32.to_be_bytes());
        r[8..12].copy_from_slice(&((8u32 << 20) | 16).to_be_bytes());
        r[16..24].copy_from_slice(&4096u64.to_be_bytes());
        r[24..28].copy_from_slice(&8u32.to_be_bytes());
        r[28..32].copy_from_slice(&4096u32.to_be_bytes());
        let mut l = DatLane::new(true, vec![77], vec![b"dd".to_vec(), b"<...>".to_vec()]);
        l.push_kind(&r, &[0], &[1], &[0], &[0], &spec(ISSUE));
        let (got, new) = l.take();
        assert_eq!((got.pid, got.devnum, got.sector, got.nr, got.bytes), (vec![77], vec![(8 << 20) + 16], vec![4096], vec![8], vec![4096]));
        assert_eq!(new[0], b"8,16".to_vec());
    }

    #[test]
    fn a_missing_rwbs_is_empty_and_a_missing_nr_is_zero() {
        let buf = record(0, 1, 1, 9, 0, b"W");
        let mut l = lane();
        let s = LaneSpec { rwbs: None, nr_sector: None, ..spec(ISSUE) };
        l.push_kind(&buf, &[0], &[1], &[0], &[0], &s);
        let (got, new) = l.take();
        assert_eq!((got.nr, got.comm), (vec![0], vec![2]));
        assert_eq!(new, vec![b"0,1".to_vec(), b"".to_vec(), b"<idle>".to_vec()]);
    }
}
