//! The block lane: block_rq_insert / issue / complete events as the columns block pairing reads,
//! written straight from the line (schema.py, "The block lane").
//!
//! A block report reads nothing of these events but their key, time, sizes and who: building their
//! whole frames (payload text, ioprio, per-chunk string tables) cost three times the scan. Strings
//! (device, comm, rwbs) are interned for the whole run, so an open request carries its codes from
//! chunk to chunk; a chunk hands over only the strings it saw first.

use std::collections::{BTreeSet, HashMap};

/// The lane's kind codes (reports/block_pairing.py INSERT, ISSUE, COMPLETE; pairing.rs Kind).
pub const INSERT: u8 = 1;
pub const ISSUE: u8 = 2;
pub const COMPLETE: u8 = 3;
/// Bits of `nulls` (reports/block_pairing.py): a complete has no bytes field.
pub const BYTES_NULL: u8 = 16;

/// The lane kind of an event name: 0 for the block events pairing does not read (requeue).
pub fn kind_of(name: &str) -> u8 {
    NAMES.iter().position(|&n| n == name).map_or(0, |i| i as u8 + 1)
}

const NAMES: [&str; 3] = ["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete"];

/// Strings interned for the whole run: code -> the order they were first seen.
#[derive(Default, Debug)]
pub struct Interner {
    map: HashMap<Vec<u8>, u32>,
    // the previous value of each column: a column mostly repeats itself (one device, a few comms)
    last: [Option<(Vec<u8>, u32)>; 3],
    pub new_blob: Vec<u8>, // strings first seen in this chunk, each followed by '\n'
    pub new_n: u32,
}

impl Interner {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn code(&mut self, col: usize, v: &[u8]) -> u32 {
        if let Some((s, c)) = self.last.get(col).and_then(Option::as_ref) {
            if s.as_slice() == v {
                return *c;
            }
        }
        let next = self.map.len() as u32;
        let (blob, n) = (&mut self.new_blob, &mut self.new_n);
        let c = *self.map.entry(v.to_vec()).or_insert_with(|| {
            blob.extend_from_slice(v);
            blob.push(b'\n');
            *n += 1;
            next
        });
        if let Some(slot) = self.last.get_mut(col) {
            *slot = Some((v.to_vec(), c));
        }
        c
    }

    /// The strings first seen since the last call, and how many.
    pub fn take_new(&mut self) -> (Vec<u8>, u32) {
        (std::mem::take(&mut self.new_blob), std::mem::replace(&mut self.new_n, 0))
    }
}

/// Column indexes of `Interner::last`.
const DEV: usize = 0;
const COMM: usize = 1;
const RWBS: usize = 2;

/// Per event kind: how many, the time span and the CPUs (what `Source.track` reads of a frame).
#[derive(Debug, Clone)]
pub struct KindStats {
    pub kind: u8,
    pub name: String,
    pub n: u64,
    pub lo: i64,
    pub hi: i64,
    pub cpus: BTreeSet<i16>,
}

/// One chunk's lane.
#[derive(Default, Debug)]
pub struct Lane {
    pub kind: Vec<u8>,
    pub devnum: Vec<u64>,
    pub sector: Vec<u64>,
    pub ts: Vec<i64>,
    pub pid: Vec<i32>,
    pub nr: Vec<u32>,
    pub bytes: Vec<u64>,
    pub nulls: Vec<u8>,
    pub dev: Vec<u32>,
    pub comm: Vec<u32>,
    pub rwbs: Vec<u32>,
    pub stats: Vec<KindStats>,
}

/// One event's values, as the line gave them.
pub struct LaneEvent<'a> {
    pub kind: u8,
    pub ts: i64,
    pub cpu: i16,
    pub pid: i32,
    pub comm: &'a [u8],
    pub major: u32,
    pub minor: u32,
    pub dev: (&'a [u8], &'a [u8]), // as printed: "major", "minor"
    pub rwbs: &'a [u8],
    pub sector: u64,
    pub nr: u32,
    pub bytes: Option<u64>,
}

impl Lane {
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    pub fn push(&mut self, e: &LaneEvent, strings: &mut Interner) {
        self.kind.push(e.kind);
        // as block_pairing.columns computes it from dev_major / dev_minor
        self.devnum.push(u64::from(e.major) * (1 << 20) + u64::from(e.minor));
        self.sector.push(e.sector);
        self.ts.push(e.ts);
        self.pid.push(e.pid);
        self.nr.push(e.nr);
        self.bytes.push(e.bytes.unwrap_or(0));
        self.nulls.push(if e.bytes.is_some() { 0 } else { BYTES_NULL });
        let mut dev = Vec::with_capacity(e.dev.0.len() + 1 + e.dev.1.len());
        dev.extend_from_slice(e.dev.0);
        dev.push(b',');
        dev.extend_from_slice(e.dev.1);
        self.dev.push(strings.code(DEV, &dev));
        self.comm.push(strings.code(COMM, e.comm));
        self.rwbs.push(strings.code(RWBS, e.rwbs));
        let st = match self.stats.iter().position(|s| s.kind == e.kind) {
            Some(i) => &mut self.stats[i],
            None => {
                let name = NAMES.get(usize::from(e.kind).wrapping_sub(1)).copied().unwrap_or("?").to_string();
                self.stats.push(KindStats { kind: e.kind, name, n: 0, lo: e.ts, hi: e.ts, cpus: BTreeSet::new() });
                let last = self.stats.len() - 1;
                &mut self.stats[last]
            }
        };
        st.n += 1;
        st.lo = st.lo.min(e.ts);
        st.hi = st.hi.max(e.ts);
        st.cpus.insert(e.cpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(kind: u8, ts: i64, comm: &'a [u8], minor: &'a [u8]) -> LaneEvent<'a> {
        LaneEvent {
            kind,
            ts,
            cpu: (ts % 2) as i16,
            pid: 7,
            comm,
            major: 8,
            minor: std::str::from_utf8(minor).unwrap().parse().unwrap(),
            dev: (b"8", minor),
            rwbs: b"WS",
            sector: 100,
            nr: 8,
            bytes: (kind != COMPLETE).then_some(4096),
        }
    }

    #[test]
    fn strings_keep_their_codes_across_chunks_and_only_new_ones_are_handed_over() {
        let (mut s, mut lane) = (Interner::default(), Lane::default());
        lane.push(&ev(ISSUE, 1, b"dd", b"0"), &mut s);
        lane.push(&ev(COMPLETE, 2, b"swapper/0", b"0"), &mut s);
        let (blob, n) = s.take_new();
        assert_eq!((blob.as_slice(), n), (&b"8,0\ndd\nWS\nswapper/0\n"[..], 4));
        assert_eq!((lane.dev.clone(), lane.comm.clone(), lane.rwbs.clone()), (vec![0, 0], vec![1, 3], vec![2, 2]));
        let mut next = Lane::default();
        next.push(&ev(ISSUE, 3, b"swapper/0", b"16"), &mut s);
        let (blob, n) = s.take_new();
        assert_eq!((blob.as_slice(), n), (&b"8,16\n"[..], 1));
        assert_eq!((next.dev[0], next.comm[0], next.devnum[0]), (4, 3, (8 << 20) + 16));
    }

    #[test]
    fn a_complete_has_no_bytes_and_stats_follow_each_kind() {
        let (mut s, mut lane) = (Interner::default(), Lane::default());
        lane.push(&ev(ISSUE, 5, b"dd", b"0"), &mut s);
        lane.push(&ev(COMPLETE, 9, b"dd", b"0"), &mut s);
        lane.push(&ev(ISSUE, 2, b"dd", b"0"), &mut s);
        assert_eq!(lane.nulls, vec![0, BYTES_NULL, 0]);
        let issue = &lane.stats[0];
        assert_eq!((issue.n, issue.lo, issue.hi, issue.cpus.len()), (2, 2, 5, 2));
        assert_eq!((lane.stats[1].n, lane.stats[1].name.as_str()), (1, "block:block_rq_complete"));
        assert_eq!((kind_of("block:block_rq_insert"), kind_of("block:block_rq_requeue")), (INSERT, 0));
    }
}
