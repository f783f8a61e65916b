//! The block lane: block_rq_insert / issue / complete events as the columns block pairing reads,
//! written straight from the line (schema.py, "The block lane").
//!
//! A block report reads nothing of these events but their key, time, sizes and who: building their
//! whole frames (payload text, ioprio, per-chunk string tables) cost three times the scan. Strings
//! (device, comm, rwbs) are interned for the whole run, so an open request carries its codes from
//! chunk to chunk; a chunk hands over only the strings it saw first.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;

// FNV-1a: short keys (comms, rwbs, device pairs) probed once per event; SipHash cost more than
// the rest of the lane
use crate::fields::Fnv;

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
    map: HashMap<Vec<u8>, u32, BuildHasherDefault<Fnv>>,
    devs: HashMap<(u32, u32), u32, BuildHasherDefault<Fnv>>, // (major, minor) -> the code of "major,minor"
    // the previous value of each column: a column mostly repeats itself (one device, a few comms)
    last: [Option<(Vec<u8>, u32)>; 3],
    last_dev: Option<((u32, u32), u32)>, // the previous plainly spelled device and its code
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
            if same(s, v) {
                return *c;
            }
        }
        let c = match self.map.get(v) {
            Some(&c) => c,
            None => self.add(v),
        };
        if let Some(Some((s, lc))) = self.last.get_mut(col) {
            s.clear();
            s.extend_from_slice(v);
            *lc = c;
        } else if let Some(slot) = self.last.get_mut(col) {
            *slot = Some((v.to_vec(), c));
        }
        c
    }

    fn add(&mut self, v: &[u8]) -> u32 {
        let c = self.map.len() as u32;
        self.map.insert(v.to_vec(), c);
        self.new_blob.extend_from_slice(v);
        self.new_blob.push(b'\n');
        self.new_n += 1;
        c
    }

    /// The code of the device "major,minor" as printed (digits as the line has them).
    fn dev(&mut self, major: u32, minor: u32, printed: (&[u8], &[u8])) -> u32 {
        // "08,1" and "8,1" are one device but two strings (the frames keep the spelling): only the
        // plain spelling, without leading zeros, is looked up by number
        let plain = |d: &[u8]| d.len() == 1 || d.first() != Some(&b'0');
        let canonical = plain(printed.0) && plain(printed.1);
        if canonical {
            if let Some(c) = self.plain_dev(major, minor) {
                return c;
            }
        }
        let text = [printed.0, b",", printed.1].concat();
        let c = match self.map.get(text.as_slice()) {
            Some(&c) => c,
            None => self.add(&text),
        };
        if canonical {
            self.devs.insert((major, minor), c);
        }
        c
    }

    /// The code of a device already seen spelled plainly: the previous one without a lookup.
    fn plain_dev(&mut self, major: u32, minor: u32) -> Option<u32> {
        match self.last_dev {
            Some((d, c)) if d == (major, minor) => Some(c),
            _ => {
                let c = *self.devs.get(&(major, minor))?;
                self.last_dev = Some(((major, minor), c));
                Some(c)
            }
        }
    }

    /// The code of the device major,minor spelled plainly (a binary record's number, no text).
    fn dev_num(&mut self, major: u32, minor: u32) -> u32 {
        match self.plain_dev(major, minor) {
            Some(c) => c,
            None => self.dev(major, minor, (major.to_string().as_bytes(), minor.to_string().as_bytes())),
        }
    }

    /// The strings first seen since the last call, and how many.
    pub fn take_new(&mut self) -> (Vec<u8>, u32) {
        (std::mem::take(&mut self.new_blob), std::mem::replace(&mut self.new_n, 0))
    }
}

/// `a == b` for the short strings of the lane (a comm, an rwbs), compared in place: a call to
/// memcmp per value cost more than the comparison.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Column indexes of `Interner::last`.
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
    pub cpus: BTreeSet<i16>, // those not in low_cpus
    pub low_cpus: u64,       // CPUs 0..64 as bits
}

impl KindStats {
    /// Every CPU seen, ascending.
    pub fn all_cpus(&self) -> Vec<i16> {
        let low = (0..64).filter(|c| self.low_cpus & (1 << c) != 0).map(|c| c as i16);
        let mut all: Vec<i16> = low.chain(self.cpus.iter().copied()).collect();
        all.sort_unstable();
        all
    }
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
    /// as printed: "major", "minor"; None: a binary record's number, spelled plainly
    pub dev: Option<(&'a [u8], &'a [u8])>,
    pub rwbs: &'a [u8],
    pub sector: u64,
    pub nr: u32,
    pub bytes: Option<u64>,
}

impl Lane {
    /// Room for `n` events in every column: a chunk's lane grown push by push copied each column
    /// a dozen times over.
    pub fn reserve(&mut self, n: usize) {
        self.kind.reserve(n);
        self.devnum.reserve(n);
        self.sector.reserve(n);
        self.ts.reserve(n);
        self.pid.reserve(n);
        self.nr.reserve(n);
        self.bytes.reserve(n);
        self.nulls.reserve(n);
        self.dev.reserve(n);
        self.comm.reserve(n);
        self.rwbs.reserve(n);
    }

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
        self.dev.push(match e.dev {
            Some(printed) => strings.dev(e.major, e.minor, printed),
            None => strings.dev_num(e.major, e.minor),
        });
        self.comm.push(strings.code(COMM, e.comm));
        self.rwbs.push(strings.code(RWBS, e.rwbs));
        let st = match self.stats.iter().position(|s| s.kind == e.kind) {
            Some(i) => &mut self.stats[i],
            None => {
                let name = NAMES.get(usize::from(e.kind).wrapping_sub(1)).copied().unwrap_or("?").to_string();
                self.stats.push(KindStats { kind: e.kind, name, n: 0, lo: e.ts, hi: e.ts, cpus: BTreeSet::new(), low_cpus: 0 });
                let last = self.stats.len() - 1;
                &mut self.stats[last]
            }
        };
        st.n += 1;
        st.lo = st.lo.min(e.ts);
        st.hi = st.hi.max(e.ts);
        match u32::try_from(e.cpu) {
            Ok(c) if c < 64 => st.low_cpus |= 1 << c, // a set insert per event cost more than the rest of the stats
            _ => {
                st.cpus.insert(e.cpu);
            }
        }
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
            dev: Some((b"8", minor)),
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
    fn a_device_spelled_two_ways_keeps_each_spelling() {
        let (mut s, mut lane) = (Interner::default(), Lane::default());
        let mut e = ev(ISSUE, 1, b"dd", b"1");
        lane.push(&e, &mut s);
        e.dev = Some((b"08", b"1")); // the same numbers, printed otherwise: its own string, as the frames have it
        lane.push(&e, &mut s);
        lane.push(&ev(ISSUE, 2, b"dd", b"1"), &mut s);
        assert_eq!(lane.dev, [0, 3, 0]);
        assert_eq!(String::from_utf8_lossy(&s.take_new().0), "8,1\ndd\nWS\n08,1\n");
    }

    #[test]
    fn a_complete_has_no_bytes_and_stats_follow_each_kind() {
        let (mut s, mut lane) = (Interner::default(), Lane::default());
        lane.push(&ev(ISSUE, 5, b"dd", b"0"), &mut s);
        lane.push(&ev(COMPLETE, 9, b"dd", b"0"), &mut s);
        lane.push(&ev(ISSUE, 2, b"dd", b"0"), &mut s);
        assert_eq!(lane.nulls, vec![0, BYTES_NULL, 0]);
        let issue = &lane.stats[0];
        assert_eq!((issue.n, issue.lo, issue.hi, issue.all_cpus()), (2, 2, 5, vec![0, 1]));
        let mut big = ev(ISSUE, 1, b"dd", b"0");
        big.cpu = 300;
        lane.push(&big, &mut s);
        assert_eq!(lane.stats[0].all_cpus(), [0, 1, 300]);
        assert_eq!((lane.stats[1].n, lane.stats[1].name.as_str()), (1, "block:block_rq_complete"));
        assert_eq!((kind_of("block:block_rq_insert"), kind_of("block:block_rq_requeue")), (INSERT, 0));
    }
}
