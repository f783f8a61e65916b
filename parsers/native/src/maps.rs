//! The recorded processes' address spaces, replayed from MMAP/MMAP2, FORK and exec records, so
//! that a user-space call-chain address becomes (binary, file offset) as it was at the sample's time.
//!
//! `perf record` writes one MMAP2 record per executable mapping (synthesized from /proc/PID/maps
//! for the processes that ran before it, then from the kernel as they mmap):
//!
//! ```text
//! app-pie 15292 [000]   625.658527: PERF_RECORD_MMAP2 15292/15292: [0x5637867e6000(0x1000) @ 0x1000 fe:00 10010912 3606814117]: r-xp /tmp/sym/app-pie
//! ```
//!
//! (`perf script --show-mmap-events`). An address `a` in it is at file offset `a - start + pgoff`.
//! Rules, each a case of cargo test below:
//! - a mapping over part of an older one cuts that one (what the kernel does on MAP_FIXED); the
//!   older one's remaining parts keep their file offsets;
//! - threads share their process's space (keyed by pid); a FORK into a new pid copies the parent's;
//!   an exec (COMM with PERF_RECORD_MISC_COMM_EXEC) empties it: the new image's MMAPs follow;
//! - kernel mappings (pid -1) are not kept: kernel frames are named from kallsyms by address.

use std::collections::HashMap;

/// A kernel frame: its address is the frame (kallsyms names it).
pub const KERNEL: u32 = u32::MAX;
/// A user frame outside every mapping of its process (perf: `[unknown] ([unknown])`).
pub const NO_MAP: u32 = u32::MAX - 1;

const MISC_MMAP_BUILD_ID: u16 = 1 << 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Map {
    pub start: u64,
    pub end: u64,
    pub pgoff: u64,
    pub dso: u32,
}

/// One process's mappings: sorted by start, never overlapping.
#[derive(Debug, Clone, Default)]
pub struct Space {
    maps: Vec<Map>,
    /// changes with every change of the mappings (never 0): a call chain already placed in this
    /// version of the space is placed again the same way (perf_data.rs's Stacks skips the work)
    pub version: u64,
}

impl Space {
    /// Adds `m`, cutting what it covers out of the older mappings.
    pub fn insert(&mut self, m: Map) {
        if m.end <= m.start {
            return;
        }
        // the older mappings that m overlaps are a contiguous run in start order
        let lo = self.maps.partition_point(|o| o.end <= m.start);
        let hi = self.maps.partition_point(|o| o.start < m.end);
        let mut keep = Vec::with_capacity(3);
        for o in self.maps.get(lo..hi).unwrap_or_default() {
            if o.start < m.start {
                keep.push(Map { end: m.start, ..*o });
            }
            if o.end > m.end {
                keep.push(Map { start: m.end, pgoff: o.pgoff.wrapping_add(m.end - o.start), ..*o });
            }
        }
        keep.push(m);
        keep.sort_by_key(|x| x.start);
        self.maps.splice(lo..hi.max(lo), keep);
    }

    pub fn find(&self, addr: u64) -> Option<&Map> {
        let i = self.maps.partition_point(|m| m.start <= addr).checked_sub(1)?;
        self.maps.get(i).filter(|m| addr < m.end)
    }

    pub fn len(&self) -> usize {
        self.maps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }
}

/// A mapped file as the recording named it, with the build id its MMAP2 carried (perf record
/// --buildid-mmap), if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dso {
    pub path: String,
    pub build_id: Option<Vec<u8>>,
}

/// Every process's space, and the files mapped, interned (a frame holds the file's index).
#[derive(Debug, Default)]
pub struct Maps {
    spaces: HashMap<i32, Space>,
    versions: u64,
    pub dsos: Vec<Dso>,
    ids: HashMap<Dso, u32>,
}

/// The fields of an MMAP or MMAP2 record that place a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmapRecord {
    pub pid: i32,
    pub start: u64,
    pub len: u64,
    pub pgoff: u64,
    pub path: String,
    pub build_id: Option<Vec<u8>>,
}

impl Maps {
    fn dso(&mut self, d: Dso) -> u32 {
        if let Some(&i) = self.ids.get(&d) {
            return i;
        }
        let i = self.dsos.len() as u32;
        self.dsos.push(d.clone());
        self.ids.insert(d, i);
        i
    }

    pub fn mmap(&mut self, r: MmapRecord) {
        if r.pid == -1 || self.dsos.len() >= (NO_MAP - 1) as usize {
            return; // a kernel map; or more files than ids (never met)
        }
        let dso = self.dso(Dso { path: r.path, build_id: r.build_id });
        let end = r.start.saturating_add(r.len);
        self.versions += 1;
        let space = self.spaces.entry(r.pid).or_default();
        space.insert(Map { start: r.start, end, pgoff: r.pgoff, dso });
        space.version = self.versions;
    }

    /// A FORK: a new process starts as a copy of its parent (a new thread shares its process's).
    pub fn fork(&mut self, pid: i32, ppid: i32) {
        if pid == ppid {
            return;
        }
        let mut copy = self.spaces.get(&ppid).cloned().unwrap_or_default();
        self.versions += 1;
        copy.version = self.versions;
        self.spaces.insert(pid, copy);
    }

    /// An exec: the old image is gone; the new one's MMAP records follow.
    pub fn exec(&mut self, pid: i32) {
        self.spaces.remove(&pid);
    }

    /// (file, file offset) of a user address of process `pid`; (NO_MAP, addr) outside its maps.
    pub fn resolve(&self, pid: i32, addr: u64) -> (u32, u64) {
        place(self.spaces.get(&pid), addr)
    }

    pub fn space(&self, pid: i32) -> Option<&Space> {
        self.spaces.get(&pid)
    }
}

/// (file, file offset) of a user address in `space`; (NO_MAP, addr) outside it (or without one).
pub fn place(space: Option<&Space>, addr: u64) -> (u32, u64) {
    match space.and_then(|s| s.find(addr)) {
        Some(m) => (m.dso, addr.wrapping_sub(m.start).wrapping_add(m.pgoff)),
        None => (NO_MAP, addr),
    }
}

/// An MMAP (`mmap2` false) or MMAP2 record's body: pid, tid, addr, len, pgoff, then MMAP2's
/// (maj, min, ino, ino generation) or, with PERF_RECORD_MISC_MMAP_BUILD_ID, (size, 3 reserved
/// bytes, 20 bytes of build id), prot, flags; then the file name, NUL-ended (the sample id
/// fields follow it). None when the body is too short.
pub fn parse_mmap(data: &[u8], misc: u16, mmap2: bool, big: bool) -> Option<MmapRecord> {
    let u32_at = |at: usize| -> Option<u32> {
        let w: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
    };
    let u64_at = |at: usize| -> Option<u64> {
        let w: [u8; 8] = data.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if big { u64::from_be_bytes(w) } else { u64::from_le_bytes(w) })
    };
    let pid = u32_at(0)? as i32;
    let (start, len, pgoff) = (u64_at(8)?, u64_at(16)?, u64_at(24)?);
    let mut build_id = None;
    let name_at = if mmap2 {
        if misc & MISC_MMAP_BUILD_ID != 0 {
            let size = usize::from(*data.get(32)?).min(20);
            build_id = Some(data.get(36..36 + size)?.to_vec());
        }
        32 + 24 + 8
    } else {
        32
    };
    let rest = data.get(name_at..)?;
    let name = &rest[..memchr::memchr(0, rest).unwrap_or(rest.len())];
    Some(MmapRecord { pid, start, len, pgoff, path: String::from_utf8_lossy(name).into_owned(), build_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: i32, start: u64, len: u64, pgoff: u64, path: &str) -> MmapRecord {
        MmapRecord { pid, start, len, pgoff, path: path.into(), build_id: None }
    }

    fn path_at(m: &Maps, pid: i32, addr: u64) -> Option<(String, u64)> {
        match m.resolve(pid, addr) {
            (NO_MAP, _) => None,
            (d, off) => Some((m.dsos[d as usize].path.clone(), off)),
        }
    }

    #[test]
    fn an_address_outside_every_map_is_no_map() {
        let mut m = Maps::default();
        m.mmap(rec(7, 0x1000, 0x1000, 0, "/bin/a"));
        assert_eq!(m.resolve(7, 0xfff), (NO_MAP, 0xfff));
        assert_eq!(m.resolve(7, 0x2000), (NO_MAP, 0x2000)); // end is exclusive
        assert_eq!(m.resolve(8, 0x1000), (NO_MAP, 0x1000)); // another process
        assert_eq!(m.resolve(7, 0), (NO_MAP, 0));
    }

    #[test]
    fn pgoff_gives_the_file_offset_pie_and_non_pie_alike() {
        let mut m = Maps::default();
        // PIE text: mapped at a random base, the segment at file offset 0x1000
        m.mmap(rec(7, 0x55d0_c2a6_1000, 0x1000, 0x1000, "/tmp/app-pie"));
        // non-PIE text: at its link address 0x401000, file offset 0x1000
        m.mmap(rec(7, 0x401000, 0x1000, 0x1000, "/tmp/app-nopie"));
        assert_eq!(path_at(&m, 7, 0x55d0_c2a6_11cb), Some(("/tmp/app-pie".into(), 0x11cb)));
        assert_eq!(path_at(&m, 7, 0x4011cb), Some(("/tmp/app-nopie".into(), 0x11cb)));
    }

    #[test]
    fn an_overlapping_map_cuts_the_older_one() {
        let mut m = Maps::default();
        m.mmap(rec(7, 0x10000, 0x10000, 0x0, "/old"));
        m.mmap(rec(7, 0x14000, 0x2000, 0x0, "/new"));
        assert_eq!(path_at(&m, 7, 0x13fff), Some(("/old".into(), 0x3fff)));
        assert_eq!(path_at(&m, 7, 0x14000), Some(("/new".into(), 0)));
        assert_eq!(path_at(&m, 7, 0x16000), Some(("/old".into(), 0x6000))); // the tail keeps its offset
        assert_eq!(m.space(7).unwrap().len(), 3);
        // one covering everything replaces all three
        m.mmap(rec(7, 0x8000, 0x20000, 0x100, "/all"));
        assert_eq!(m.space(7).unwrap().len(), 1);
        assert_eq!(path_at(&m, 7, 0x10000), Some(("/all".into(), 0x8100)));
    }

    #[test]
    fn exec_replaces_the_maps_fork_copies_them() {
        let mut m = Maps::default();
        m.mmap(rec(10, 0x1000, 0x1000, 0, "/bin/sh"));
        m.fork(11, 10); // the shell forks: the child runs the shell's code until it execs
        m.fork(10, 10); // a thread: nothing changes
        assert_eq!(path_at(&m, 11, 0x1800), Some(("/bin/sh".into(), 0x800)));
        m.exec(11);
        assert_eq!(path_at(&m, 11, 0x1800), None);
        m.mmap(rec(11, 0x1000, 0x1000, 0, "/tmp/app"));
        assert_eq!(path_at(&m, 11, 0x1800), Some(("/tmp/app".into(), 0x800)));
        assert_eq!(path_at(&m, 10, 0x1800), Some(("/bin/sh".into(), 0x800)));
        // a fork into a pid seen before (reused) starts from the parent, not the old process
        m.fork(11, 10);
        assert_eq!(path_at(&m, 11, 0x1800), Some(("/bin/sh".into(), 0x800)));
    }

    #[test]
    fn every_change_of_a_space_gives_it_a_new_version() {
        let mut m = Maps::default();
        assert!(m.space(1).is_none());
        m.mmap(rec(1, 0x1000, 0x1000, 0, "/a"));
        let v1 = m.space(1).unwrap().version;
        m.fork(2, 1);
        let v2 = m.space(2).unwrap().version;
        m.mmap(rec(1, 0x3000, 0x1000, 0, "/b"));
        let v3 = m.space(1).unwrap().version;
        assert!(v1 > 0 && v2 != v1 && v3 != v1 && v3 != v2);
        assert_eq!(m.space(2).unwrap().version, v2); // the child's did not change
    }

    #[test]
    fn kernel_maps_are_not_kept_and_files_are_interned() {
        let mut m = Maps::default();
        m.mmap(rec(-1, 0xffff_ffff_8100_0000, 0x100_0000, 0, "[kernel.kallsyms]_text"));
        assert!(m.dsos.is_empty());
        m.mmap(rec(1, 0x1000, 0x1000, 0, "/lib/libc.so.6"));
        m.mmap(rec(2, 0x5000, 0x1000, 0, "/lib/libc.so.6"));
        assert_eq!(m.dsos.len(), 1);
    }

    #[test]
    fn mmap_records_are_read_with_their_build_id() {
        let mut body = Vec::new();
        for v in [7u32, 8] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0x401000u64, 0x1000, 0x1000] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        let mut id = vec![20u8, 0, 0, 0];
        id.extend(1..=20u8);
        body.extend_from_slice(&id);
        body.extend_from_slice(&[5, 0, 0, 0, 2, 0, 0, 0]); // prot, flags
        body.extend_from_slice(b"/tmp/app\0\0\0\0\0\0\0\0");
        body.extend_from_slice(&[9; 16]); // the sample id fields
        let r = parse_mmap(&body, MISC_MMAP_BUILD_ID, true, false).unwrap();
        assert_eq!((r.pid, r.start, r.len, r.pgoff, r.path.as_str()), (7, 0x401000, 0x1000, 0x1000, "/tmp/app"));
        assert_eq!(r.build_id, Some((1..=20u8).collect()));
        // without the flag the same bytes are (maj, min, ino, generation): no build id
        assert_eq!(parse_mmap(&body, 0, true, false).unwrap().build_id, None);
        // cut bodies are None, never a panic
        for cut in 0..40 {
            assert_eq!(parse_mmap(&body[..cut], MISC_MMAP_BUILD_ID, true, false), None);
        }
        // MMAP: the name follows pgoff
        let mut old = body[..32].to_vec();
        old.extend_from_slice(b"/bin/x\0\0");
        assert_eq!(parse_mmap(&old, 0, false, false).unwrap().path, "/bin/x");
    }
}
