//! The records of a perf.data's data section, checked as they pass to the crate: a header whose size
//! cannot be a record's (0, below a header's 8 bytes, a kernel record's not a multiple of 8, past the
//! section's end) or whose type is no record's makes the reader scan forward, 8 bytes at a time, to
//! the next offset where a chain of plausible headers starts (`CHAIN` in a row, or up to the end).
//! The stretch in between is handed over as filler records the scanner ignores, so every offset
//! after it stays where the file has it; each stretch is counted, with its bytes.
//!
//! The crate reads a record's header, then its body, and stops at the first header it cannot use:
//! without this one broken size ended the read there.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The record type of the filler (a user type no writer uses: the scanner skips it).
pub const FILLER: u32 = 0x7fff_0000;
/// Headers in a row that make a resynchronisation point plausible (fewer where the section ends).
const CHAIN: usize = 4;
const FINISHED_ROUND: u32 = 68;
const FINISHED_INIT: u32 = 82;
/// Bits of a kernel record's misc that no flag uses (perf_event.h: the cpumode is bits 0-2, the
/// flags bits 12-15)
const MISC_UNUSED: u16 = 0x0ff8;
const WINDOW: usize = 1 << 20;
/// A search that found no record in this many bytes hands them over as filler and goes on from
/// there: what it holds stays bounded, whatever the length of the damage
const SEARCH_MAX: u64 = 8 << 20;
const MAX_RECORD: usize = 1 << 16;
/// PERF_RECORD_AUXTRACE: its data (Intel PT, CoreSight) follows the record, outside the header's
/// size, and the crate sizes a buffer by the first u64 of its body before reading it. Nothing here
/// reads AUX data; the bound keeps a damaged claim (ASan saw 14 TB) from reaching that buffer and
/// what this reader holds to check the record at most this much.
const AUXTRACE: u32 = 71;
const MAX_AUX: u64 = 64 << 20;

/// What was skipped: stretches, their bytes, and where the first began.
#[derive(Debug, Default, Clone)]
pub struct Skips {
    pub stretches: u64,
    pub bytes: u64,
    pub first: Option<u64>,
    pub first_why: String,
}

/// Whether `kind` is a record type perf, the kernel or simpleperf writes.
fn known(kind: u32) -> bool {
    matches!(kind, 1..=22 | 64..=84 | 32768..=32800)
}

pub struct Resync<R> {
    inner: R,
    buf: Vec<u8>,
    /// file offset of buf[0]; read position in buf
    base: u64,
    at: usize,
    eof: bool,
    /// the data section (`end` None: a pipe, up to the end of the stream)
    start: u64,
    end: Option<u64>,
    /// the next record header to check; None where the position is not on the record chain
    next: Option<u64>,
    big: bool,
    pipe_magic: bool,
    /// a stretch goes on past what the last search looked at
    searching: bool,
    pos: Arc<AtomicU64>,
    pub skips: Arc<Mutex<Skips>>,
}

impl<R: Read> Resync<R> {
    pub fn new(inner: R, start: u64, end: Option<u64>, big: bool, pos: Arc<AtomicU64>, at: u64) -> Self {
        let next = (at <= start).then_some(start);
        Resync { inner, buf: Vec::new(), base: at, at: 0, eof: false, start, end, next, big, pipe_magic: false, searching: false, pos, skips: Arc::default() }
    }

    /// Pipe mode: the byte order is read off the stream's magic when its first bytes pass.
    pub fn pipe(mut self) -> Self {
        self.pipe_magic = true;
        self
    }

    /// Makes buf hold at least `want` bytes from the read position (fewer at the input's end).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.buf.len() - self.at >= want || self.eof {
            return Ok(());
        }
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.base += self.at as u64;
            self.at = 0;
        }
        while self.buf.len() < want && !self.eof {
            let have = self.buf.len();
            // the data section in large reads; the header and feature sections (read a piece
            // here, a piece there) in small ones. read_to_end appends without zeroing the room first
            let piece = if self.next.is_some() { WINDOW } else { 64 << 10 };
            let n = (&mut self.inner).take(want.max(piece).max(have + 4096) as u64 - have as u64).read_to_end(&mut self.buf)?;
            self.eof = n == 0;
        }
        Ok(())
    }

    /// The header at file offset `off` (in buf): (type, misc, size), or None past what buf holds.
    fn header(&self, off: u64) -> Option<(u32, u16, u64)> {
        let i = usize::try_from(off.checked_sub(self.base)?).ok()?;
        let h = self.buf.get(i..i + 8)?;
        let kind = if self.big { u32::from_be_bytes([h[0], h[1], h[2], h[3]]) } else { u32::from_le_bytes([h[0], h[1], h[2], h[3]]) };
        let misc = if self.big { u16::from_be_bytes([h[4], h[5]]) } else { u16::from_le_bytes([h[4], h[5]]) };
        let size = if self.big { u16::from_be_bytes([h[6], h[7]]) } else { u16::from_le_bytes([h[6], h[7]]) };
        let mut size = u64::from(size);
        if kind == AUXTRACE {
            // the record's extent is its header's size and the data after it
            let d: [u8; 8] = self.buf.get(i + 8..i + 16)?.try_into().ok()?;
            size = size.saturating_add(if self.big { u64::from_be_bytes(d) } else { u64::from_le_bytes(d) });
        }
        Some((kind, misc, size))
    }

    /// Why the header at `off` is no record's, or None when it is plausible.
    fn bad(&self, off: u64) -> Option<String> {
        let (kind, misc, size) = self.header(off)?;
        if !known(kind) {
            return Some(format!("a record of unknown type {kind}"));
        }
        // the kernel's records are 8-byte aligned; a round's end is a bare header
        if size < 8 || (kind < 64 && size % 8 != 0) || (matches!(kind, FINISHED_ROUND | FINISHED_INIT) && size != 8) {
            return Some(format!("a record size of {size}"));
        }
        if kind == AUXTRACE && size > MAX_AUX {
            return Some(format!("an AUXTRACE record of {size} bytes with its data"));
        }
        if kind < 64 && misc & MISC_UNUSED != 0 {
            return Some(format!("a record header's misc {misc:#x}"));
        }
        if let Some(end) = self.end {
            if off + size > end {
                return Some(format!("a record of {size} bytes past the data section's end (byte {end})"));
            }
        }
        None
    }

    /// Whether `CHAIN` plausible headers in a row (or fewer, up to the section's end) start at `off`.
    fn plausible_from(&self, mut off: u64) -> bool {
        for _ in 0..CHAIN {
            if self.end == Some(off) || (self.end.is_none() && self.eof && off == self.base + self.buf.len() as u64) {
                return true;
            }
            if self.header(off).is_none() || self.bad(off).is_some() {
                return false;
            }
            off += self.header(off).map_or(0, |h| h.2);
        }
        true
    }

    /// Where the records go on inside the record at `off` of `size` bytes, when the header after it
    /// is no record's: None when it is one (or the section, or what is held of the input, ends).
    fn inside(&self, off: u64, size: u64) -> Option<u64> {
        let after = off + size;
        if self.end == Some(after) || self.header(after).is_none() || self.bad(after).is_none() {
            return None;
        }
        (off + 8..after).step_by(8).find(|&c| self.plausible_from(c))
    }

    /// The end of the run of good records from `off` that buf holds, each with the header after
    /// it: checked at once, so that the crate's reads inside them cost a compare. It stops before
    /// a record whose header, or the one after it, is broken: `check` looks at that one closely.
    fn run_from(&self, mut off: u64) -> u64 {
        let held = self.base + self.buf.len() as u64;
        // a header is measured when held whole (an AUXTRACE's with its data size): one that is
        // not ends the run, and `check` looks at it once it is
        let measured = |at: u64| at + 8 <= held && self.header(at).is_some() && self.bad(at).is_none();
        if !measured(off) {
            return off;
        }
        // `off`'s header is good: each step checks the header after it, which the next step takes
        while self.end.is_none_or(|e| off < e) {
            let after = off + self.header(off).map_or(0, |h| h.2);
            if self.end == Some(after) {
                return after;
            }
            if !measured(after) {
                break;
            }
            off = after;
        }
        off
    }

    /// At a header in the data section: check it; on a broken one, find where the records go on
    /// and lay filler records over the stretch.
    fn check(&mut self) -> io::Result<()> {
        if self.pipe_magic && self.base == 0 && self.at == 0 {
            self.fill(16)?;
            self.big = self.buf.starts_with(b"2ELIFREP");
            self.pipe_magic = false;
        }
        let Some(next) = self.next else { return Ok(()) };
        if self.end.is_some_and(|e| next >= e) || next != self.base + self.at as u64 {
            return Ok(());
        }
        self.fill(16)?; // a header, and an AUXTRACE's data size after it
        if self.header(next).is_none() {
            return Ok(()); // the input ends inside a header: the crate says so
        }
        let resumed = self.searching;
        let (why, mut to, search) = if resumed { (String::new(), next, true) } else { match self.bad(next) {
            Some(why) => (why, next + 8, true),
            None => {
                // a plausible header whose size does not lead to another record: its size is the
                // damage if the records go on before it says it ends
                let size = self.header(next).map_or(8, |h| h.2);
                self.fill(size as usize + 8)?;
                match self.inside(next, size) {
                    Some(c) => (format!("a record size of {size} that ends inside another record"), c, false),
                    None => {
                        self.next = Some(self.run_from(next + size));
                        return Ok(());
                    }
                }
            }
        } };
        let mut partial = false;
        if search {
            loop {
                if self.end.is_some_and(|e| to >= e) {
                    to = self.end.unwrap_or(to);
                    break;
                }
                self.fill((to - next) as usize + CHAIN * MAX_RECORD + 8)?;
                let held = self.base + self.buf.len() as u64;
                if to + 8 > held {
                    to = held; // the input ends: the rest is the stretch (the crate then ends too)
                    break;
                }
                if self.plausible_from(to) {
                    break;
                }
                if to - next >= SEARCH_MAX {
                    partial = true;
                    break;
                }
                to += 8;
            }
        }
        self.searching = partial;
        if resumed && to == next {
            return self.check(); // the records go on right here: check this one as any other
        }
        if let Ok(mut s) = self.skips.lock() {
            s.stretches += u64::from(!resumed);
            s.bytes += to - next;
            if s.first.is_none() {
                s.first = Some(next);
                s.first_why = why;
            }
        }
        self.lay_filler(next, to);
        self.next = Some(to);
        Ok(())
    }

    /// Filler records over [from, to) (at least 8 bytes: the stretch starts with a whole header).
    fn lay_filler(&mut self, from: u64, to: u64) {
        let (lo, hi) = ((from - self.base) as usize, ((to - self.base) as usize).min(self.buf.len()));
        let mut i = lo;
        while hi - i >= 8 {
            let size = if hi - i < MAX_RECORD { hi - i } else { MAX_RECORD / 2 };
            let rec = &mut self.buf[i..i + size];
            rec.fill(0);
            let kind = if self.big { FILLER.to_be_bytes() } else { FILLER.to_le_bytes() };
            rec[..4].copy_from_slice(&kind);
            let sz = size as u16;
            rec[6..8].copy_from_slice(&if self.big { sz.to_be_bytes() } else { sz.to_le_bytes() });
            i += size;
        }
    }
}

impl<R: Read> Read for Resync<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let here = self.base + self.at as u64;
        let held = self.buf.len() - self.at;
        if held > 0 && self.next.is_none_or(|next| next > here) {
            // inside a checked record, or outside the data section: the bytes as they are
            let mut n = out.len().min(held);
            if let Some(next) = self.next {
                n = n.min((next - here) as usize);
            }
            out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
            self.at += n;
            self.pos.store(here + n as u64, Ordering::Relaxed);
            return Ok(n);
        }
        self.check()?;
        self.fill(1)?;
        let mut n = out.len().min(self.buf.len() - self.at);
        if let Some(next) = self.next {
            let here = self.base + self.at as u64;
            if next > here {
                n = n.min((next - here) as usize); // up to the next header, which is checked first
            }
        }
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        self.pos.store(self.base + self.at as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// The crate reads each record by two exact reads (header, body): one copy where both ends are
    /// held and inside checked records (what `read` would hand over in one call), else `read` in turn.
    fn read_exact(&mut self, out: &mut [u8]) -> io::Result<()> {
        let (here, n) = (self.base + self.at as u64, out.len());
        if self.buf.len() - self.at >= n && self.next.is_none_or(|next| next > here && next - here >= n as u64) {
            out.copy_from_slice(&self.buf[self.at..self.at + n]);
            self.at += n;
            self.pos.store(here + n as u64, Ordering::Relaxed);
            return Ok(());
        }
        let mut rest = out;
        while !rest.is_empty() {
            match self.read(rest) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer")),
                Ok(k) => rest = &mut rest[k..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read + Seek> Seek for Resync<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let here = self.base + self.at as u64;
        let to = match to {
            SeekFrom::Current(d) => SeekFrom::Start(here.checked_add_signed(d).ok_or_else(|| io::Error::other("seek before 0"))?),
            other => other,
        };
        let held = self.base..self.base + self.buf.len() as u64;
        let at = match to {
            SeekFrom::Start(t) if held.contains(&t) => {
                self.at = (t - self.base) as usize; // inside what is held: no read again
                t
            }
            to => {
                let at = self.inner.seek(to)?;
                self.buf.clear();
                (self.base, self.at, self.eof) = (at, 0, false);
                at
            }
        };
        self.next = (at == self.start).then_some(at);

        self.pos.store(at, Ordering::Relaxed);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn rec(kind: u32, size: u16) -> Vec<u8> {
        let mut r = vec![0u8; usize::from(size)];
        r[..4].copy_from_slice(&kind.to_le_bytes());
        r[6..8].copy_from_slice(&size.to_le_bytes());
        r
    }

    fn through(data: Vec<u8>, end: Option<u64>) -> (Vec<u8>, Skips) {
        let mut r = Resync::new(Cursor::new(data), 0, end, false, Arc::default(), 0);
        let mut out = Vec::new();
        let mut piece = [0u8; 13]; // small reads, as the crate's: header, then body
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        let s = r.skips.lock().unwrap().clone();
        (out, s)
    }

    #[test]
    fn whole_records_pass_untouched() {
        let data = [rec(9, 48), rec(68, 8), rec(3, 40)].concat();
        let (out, s) = through(data.clone(), Some(data.len() as u64));
        assert_eq!((out, s.stretches), (data, 0));
    }

    #[test]
    fn a_broken_size_becomes_filler_up_to_the_next_chain() {
        for bad in [0u16, 3, 44, 60000] {
            let mut broken = rec(9, 48);
            broken[6..8].copy_from_slice(&bad.to_le_bytes());
            let data = [rec(9, 48), broken, rec(9, 48), rec(9, 48), rec(9, 48)].concat();
            let (out, s) = through(data.clone(), Some(data.len() as u64));
            assert_eq!(out.len(), data.len());
            assert_eq!((s.stretches, s.bytes, s.first), (1, 48, Some(48)), "size {bad}");
            assert_eq!(&out[..48], &data[..48]);
            assert_eq!(&out[96..], &data[96..]);
            assert_eq!(u32::from_le_bytes(out[48..52].try_into().unwrap()), FILLER);
            assert_eq!(u16::from_le_bytes([out[54], out[55]]), 48);
        }
    }

    #[test]
    fn a_size_past_the_section_and_an_unknown_type_are_broken_too() {
        let data = [rec(9, 48), rec(9, 48), rec(1234, 16), rec(9, 48)].concat();
        let (_, s) = through(data.clone(), Some(data.len() as u64));
        assert_eq!((s.stretches, s.bytes, s.first), (1, 16, Some(96)));
        assert!(s.first_why.contains("unknown type 1234"), "{}", s.first_why);
        // the last record claims more than the section holds: it is the stretch, to the end
        let mut last = rec(9, 48);
        last[6..8].copy_from_slice(&64u16.to_le_bytes());
        let data = [rec(9, 48), last].concat();
        let (out, s) = through(data.clone(), Some(data.len() as u64));
        assert_eq!((s.stretches, s.bytes, out.len()), (1, 48, 96));
    }

    #[test]
    fn a_long_stretch_of_garbage_is_one_stretch_read_in_bounded_pieces() {
        let junk = vec![0xab; 20 << 20];
        let data = [rec(9, 48), junk, rec(9, 48), rec(68, 8), rec(9, 48), rec(9, 48)].concat();
        let (out, s) = through(data.clone(), None);
        assert_eq!(out.len(), data.len());
        assert_eq!((s.stretches, s.bytes, s.first), (1, 20 << 20, Some(48)));
        assert_eq!(&out[48 + (20 << 20)..], &data[48 + (20 << 20)..]);
    }

    fn auxtrace(data_size: u64) -> Vec<u8> {
        let mut r = rec(AUXTRACE, 48);
        r[8..16].copy_from_slice(&data_size.to_le_bytes());
        r
    }

    #[test]
    fn an_auxtrace_records_data_is_part_of_it_and_a_claim_past_the_bound_is_broken() {
        // its data passes as it is, and the records after it are on the chain
        let data = [rec(9, 48), auxtrace(24), vec![0xab; 24], rec(9, 48), rec(68, 8)].concat();
        let (out, s) = through(data.clone(), Some(data.len() as u64));
        assert_eq!((out, s.stretches), (data, 0));
        // a claimed size the section cannot hold, or past the bound in a pipe, is a stretch of its own
        for (claim, end) in [(1u64 << 44, true), (MAX_AUX, false), (u64::MAX, false)] {
            let data = [rec(9, 48), auxtrace(claim), rec(9, 48), rec(9, 48), rec(9, 48)].concat();
            let (out, s) = through(data.clone(), end.then_some(data.len() as u64));
            assert_eq!((s.stretches, s.bytes, s.first, out.len()), (1, 48, Some(48), data.len()), "{claim}");
            assert!(s.first_why.contains("AUXTRACE") || s.first_why.contains("past the data section"), "{}", s.first_why);
            assert_eq!(u32::from_le_bytes(out[48..52].try_into().unwrap()), FILLER);
        }
    }

    #[test]
    fn an_auxtrace_header_at_the_end_of_what_is_held_is_checked_when_its_size_is() {
        // the header's 8 bytes held but not its data size: the run of checked records stops there
        // (it looped on the record it could not measure)
        for pad in 0..4 {
            let mut data = Vec::new();
            while data.len() + 48 <= WINDOW - 8 - 8 * pad {
                data.extend(rec(9, 48));
            }
            while data.len() < WINDOW - 8 - 8 * pad {
                data.extend(rec(68, 8));
            }
            data.extend([auxtrace(24), vec![0xab; 24], rec(9, 48), rec(68, 8)].concat());
            let (out, s) = through(data.clone(), Some(data.len() as u64));
            assert_eq!((out, s.stretches), (data, 0), "pad {pad}");
        }
    }

    #[test]
    fn bytes_outside_the_section_are_not_checked() {
        let data = [vec![0xee; 16], rec(9, 48), rec(9, 48)].concat();
        let mut r = Resync::new(Cursor::new(data.clone()), 16, Some(112), false, Arc::default(), 0);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        r.seek(SeekFrom::Start(16)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!((out.len(), r.skips.lock().unwrap().stretches), (96, 0));
    }
}
