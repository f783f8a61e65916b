//! A text file read and scanned ahead, in threads of their own: the block report's read of perf
//! script / ftrace text from a file on disk.
//!
//! `traceparse block` starts it before Python imports polars and the reports (~0.25 s here, one
//! core busy and the other idle): the file is read and scanned while the imports run, and from
//! then on the two scanners (`Scanner::scan_alone`, every other chunk) run beside the report. The
//! reads are cut into chunks of whole lines as parsers/text.py's `reads` cuts them, a line over
//! `MAX_LINE_BYTES` included (kept as its first bytes, one skipped line), and the chunks come out
//! in file order, the lane's strings recoded in the run's codes (`RunCodes`: each scanner codes them
//! as it first sees them, the run as the file first shows them). The skipped lines' numbers stay
//! each chunk's: Python numbers them from the file's start (parsers/text_alone.py).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::{ChunkOut, Config, Scanner, MAX_LINE_BYTES};

/// parsers/text.py LANE_CHUNK_BYTES: a chunk's read.
pub const CHUNK_BYTES: usize = 4 << 20;
/// parsers/text.py _CUT_SHOWN: what is kept of a line over the bound.
const CUT_SHOWN: usize = 60;
/// Scanned chunks the report has not taken, at most, until it takes the first: the imports' window
/// (~0.25 s here, one core free) scans about 20 of 4 MB. A chunk's lane is ~2 MB of columns.
pub const START_DEPTH: usize = 24;
/// ... and from then on, while the report and the scanners run side by side: a few keep both
/// scanners busy, and a capture's own memory (its open requests) is not added to a full queue's.
pub const DEPTH: usize = 4;
const SCANNERS: usize = 2;
/// A panic in a scanner (its bug) ends the reading like damage does.
pub const SCAN_PANIC: &str = "the text scanner failed on this chunk";

/// One read cut at its last line end, as text.py's `reads` yields it: the chunk's lines are
/// `head + data[..end]` after the cut lines `cuts`; `data[end..]` is the next chunk's head.
#[derive(Debug, Default)]
pub struct Piece {
    pub head: Vec<u8>,
    pub data: Vec<u8>,
    pub end: usize,
    pub cuts: Vec<Vec<u8>>,
    pub last: bool,
    pub read_bytes: u64, // of the file, with this read
}

/// text.py's `reads` over any reader, in reads of `size` bytes.
pub struct Reads<R> {
    src: R,
    size: usize,
    tail: Vec<u8>,              // the unfinished last line, never over the bound
    cut_head: Option<Vec<u8>>, // the start of a line over the bound whose newline is still ahead
    cuts: Vec<Vec<u8>>,        // cut lines that stand before the next chunk's lines
    read_bytes: u64,
    ended: bool,
}

impl<R: Read> Reads<R> {
    pub fn new(src: R, size: usize) -> Self {
        Reads { src, size: size.max(1), tail: Vec::new(), cut_head: None, cuts: Vec::new(), read_bytes: 0, ended: false }
    }

    /// Up to `size` bytes into `buf` (emptied first): fewer only at the end of the input. (Read
    /// into its spare room: zeroing 4 MB before each read cost as much as the read.)
    fn fill(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.reserve_exact(self.size);
        let n = (&mut self.src).take(self.size as u64).read_to_end(buf)?;
        self.read_bytes += n as u64;
        Ok(())
    }

    /// The next chunk (read into `buf`, whose memory is reused), or None after the last one.
    pub fn next(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Piece>> {
        while !self.ended {
            self.fill(&mut buf)?;
            if buf.is_empty() {
                self.ended = true;
                self.cuts.extend(self.cut_head.take());
                let head = std::mem::take(&mut self.tail);
                return Ok(Some(Piece { head, data: buf, end: 0, cuts: std::mem::take(&mut self.cuts), last: true, read_bytes: self.read_bytes }));
            }
            if let Some(cut) = self.cut_head.take() {
                let Some(nl) = memchr::memchr(b'\n', &buf) else {
                    self.cut_head = Some(cut); // still inside the line over the bound
                    continue;
                };
                self.cuts.push(cut);
                buf.drain(..=nl);
            }
            let Some(cut) = memchr::memrchr(b'\n', &buf) else {
                // the read holds no line end: all of it continues the unfinished line
                self.tail.extend_from_slice(&buf);
                self.bound_tail();
                continue;
            };
            let head = std::mem::replace(&mut self.tail, buf[cut + 1..].to_vec());
            self.bound_tail();
            let cuts = std::mem::take(&mut self.cuts);
            return Ok(Some(Piece { head, data: buf, end: cut + 1, cuts, last: false, read_bytes: self.read_bytes }));
        }
        Ok(None)
    }

    fn bound_tail(&mut self) {
        if self.tail.len() > MAX_LINE_BYTES {
            self.tail.truncate(CUT_SHOWN);
            self.cut_head = Some(std::mem::take(&mut self.tail));
        }
    }
}

/// A chunk scanned, or how the reading ended early (an I/O error, a scanner's panic).
pub struct Scanned {
    pub seq: u64,
    pub scanner: usize, // which scanner scanned it (its lane is in the run's codes by now)
    pub out: Result<ChunkOut, String>,
    pub last: bool,
    pub read_bytes: u64,
}

struct Job {
    seq: u64,
    piece: Piece,
    after_head: bool,
}

/// Until a chunk with an event line (or a stack marker) is scanned, the next waits for it: whether
/// a chunk's first lines are frames of an earlier event depends on it (`Scanner::scan_alone`).
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, usize)>, // (an event line or marker seen, chunks being scanned)
    changed: Condvar,
}

impl Gate {
    /// Whether an earlier chunk had an event line, once the next chunk may go.
    fn admit(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !s.0 && s.1 > 0 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.1 += 1;
        s.0
    }

    fn done(&self, heads: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 |= heads;
        s.1 -= 1;
        self.changed.notify_all();
    }
}

/// How many scanned chunks wait for the report, within a bound that narrows once it takes one.
struct Room {
    state: Mutex<(usize, usize, bool)>, // (waiting, the bound, stopped)
    changed: Condvar,
}

impl Room {
    /// Wait for room for one more; false once the reading is stopped.
    fn enter(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !s.2 && s.0 >= s.1 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.0 += 1;
        !s.2
    }

    fn leave(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = s.0.saturating_sub(1);
        s.1 = DEPTH;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).2 = true;
        self.changed.notify_all();
    }
}

/// The lane's strings coded for the whole run, in the order the file first shows them (what one
/// scanner alone would have given), and each scanner's codes mapped to the run's.
#[derive(Default)]
struct RunCodes {
    code: std::collections::HashMap<Vec<u8>, u32>,
    of: [Vec<u32>; SCANNERS], // a scanner's code -> the run's
}

/// The code of a null lane string (parsers/schema.py LaneStrings): it stays null.
const NULL: u32 = u32::MAX;

impl RunCodes {
    /// Put a chunk's lane, coded by scanner `s`, in the run's codes: its new strings become the
    /// run's new strings (those it had not seen), coded from the run's count on.
    fn recode(&mut self, out: &mut ChunkOut, s: usize) {
        let before = self.code.len();
        let (blob, n) = std::mem::take(&mut out.lane_new);
        let mut new = Vec::new();
        let of = &mut self.of[s];
        debug_assert_eq!(of.len(), out.lane_strings_before, "a scanner's strings and the run's went apart");
        for v in blob.split(|&b| b == b'\n').take(n as usize) {
            let next = self.code.len() as u32;
            let c = *self.code.entry(v.to_vec()).or_insert_with(|| {
                new.extend_from_slice(v);
                new.push(b'\n');
                next
            });
            of.push(c);
        }
        let lane = &mut out.lane;
        for col in [&mut lane.dev, &mut lane.comm, &mut lane.rwbs] {
            for c in col.iter_mut() {
                *c = of.get(*c as usize).copied().unwrap_or(NULL);
            }
        }
        out.lane_new = (new, (self.code.len() - before) as u32);
        out.lane_strings_before = before;
    }
}

/// The reading and scanning threads, and the chunks they have scanned, handed out in file order.
pub struct Ahead {
    codes: RunCodes,
    scanned: Option<Receiver<Scanned>>,
    room: Arc<Room>,
    early: BTreeMap<u64, Scanned>, // scanned before an earlier chunk was
    next: u64,
    ended: bool,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Ahead {
    /// Start reading `file` with two scanners of `cfg` (the block report's: no call chains).
    pub fn start(file: File, cfg: &Config) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(Gate::default());
        let room = Arc::new(Room { state: Mutex::new((0, START_DEPTH, false)), changed: Condvar::new() });
        let (done_tx, done_rx) = channel::<Scanned>(); // bounded by `room`
        let (back_tx, back_rx) = sync_channel::<Vec<u8>>(1); // a read buffer handed back (its pages warm)
        let mut jobs = Vec::new();
        let mut threads = Vec::new();
        for s in 0..SCANNERS {
            let (tx, rx) = sync_channel::<Job>(0); // handed over, not queued: the read buffers in use stay few
            jobs.push(tx);
            let (scanner, gate, room, done, back) = (Scanner::new(cfg.clone()), gate.clone(), room.clone(), done_tx.clone(), back_tx.clone());
            let t = std::thread::Builder::new().name("traceparse-scan".into()).spawn(move || scan(s, scanner, &rx, &gate, &room, &done, &back))?;
            threads.push(t);
        }
        let reads = Reads::new(file, CHUNK_BYTES);
        let (stop2, gate2) = (stop.clone(), gate);
        let t = std::thread::Builder::new().name("traceparse-read".into()).spawn(move || read(reads, &jobs, &gate2, &done_tx, &back_rx, &stop2))?;
        threads.push(t);
        Ok(Ahead { codes: RunCodes::default(), scanned: Some(done_rx), room, early: BTreeMap::new(), next: 0, ended: false, stop, threads })
    }

}

/// The chunks in file order, up to the last (or the one that ended the reading early).
impl Iterator for Ahead {
    type Item = Scanned;

    fn next(&mut self) -> Option<Scanned> {
        if self.ended {
            return None;
        }
        let got = match self.early.remove(&self.next) {
            Some(s) => Some(s),
            None => loop {
                let got = self.scanned.as_ref()?.recv();
                if got.is_ok() {
                    self.room.leave();
                }
                match got {
                    Ok(s) if s.seq == self.next => break Some(s),
                    Ok(s) => {
                        self.early.insert(s.seq, s);
                    }
                    Err(_) => break None, // every thread gone without a last chunk: cannot happen, ends the input
                }
            },
        };
        self.next += 1;
        self.ended = got.as_ref().is_none_or(|s| s.last || s.out.is_err());
        let mut got = got;
        if let Some(Scanned { out: Ok(out), scanner, .. }) = got.as_mut() {
            self.codes.recode(out, *scanner);
        }
        got
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.room.stop();
        self.scanned = None; // a thread waiting to hand a chunk over gives up, and the rest follow
        self.early.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The reading thread: chunks to the scanners in turn, each after the gate lets it go.
fn read(mut reads: Reads<File>, jobs: &[SyncSender<Job>], gate: &Gate, done: &Sender<Scanned>, back: &Receiver<Vec<u8>>, stop: &AtomicBool) {
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let buf = match back.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(CHUNK_BYTES),
        };
        let piece = match reads.next(buf) {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                let _ = done.send(Scanned { seq, scanner: 0, out: Err(format!("read failed at byte {}: {e}", reads.read_bytes)), last: true, read_bytes: reads.read_bytes });
                return;
            }
        };
        let last = piece.last;
        let after_head = gate.admit();
        if jobs[(seq % jobs.len() as u64) as usize].send(Job { seq, piece, after_head }).is_err() {
            return;
        }
        if last {
            return;
        }
        seq += 1;
    }
}

/// A scanning thread: its scanner over the chunks it is given.
fn scan(me: usize, mut scanner: Scanner, jobs: &Receiver<Job>, gate: &Gate, room: &Room, done: &Sender<Scanned>, back: &SyncSender<Vec<u8>>) {
    while let Ok(Job { seq, piece, after_head }) = jobs.recv() {
        let data = piece.data.get(..piece.end).unwrap_or_default();
        let out = catch_unwind(AssertUnwindSafe(|| scanner.scan_alone(&piece.head, data, &piece.cuts, after_head)));
        gate.done(out.as_ref().is_ok_and(|o| o.heads > 0 || o.markers > 0));
        let failed = out.is_err();
        // where the chunk stands in the file: its read ends at read_bytes, its head before that read
        let to = piece.read_bytes.saturating_sub((piece.data.len() - piece.end) as u64);
        let from = piece.read_bytes.saturating_sub((piece.data.len() + piece.head.len()) as u64);
        let out = out.map_err(|_| format!("{SCAN_PANIC} (bytes {from}..{to})"));
        let _ = back.try_send(piece.data);
        if !room.enter() {
            return;
        }
        if done.send(Scanned { seq, scanner: me, out, last: piece.last || failed, read_bytes: piece.read_bytes }).is_err() || failed {
            return; // the report is gone, or this scanner's state is not to be trusted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(input: &[u8], size: usize) -> Vec<Piece> {
        let mut r = Reads::new(input, size);
        let mut out = Vec::new();
        while let Some(p) = r.next(Vec::new()).unwrap() {
            out.push(p);
        }
        out
    }

    /// The lines a piece holds, as the scanner joins them.
    fn lines(p: &Piece) -> Vec<u8> {
        [p.head.as_slice(), &p.data[..p.end]].concat()
    }

    #[test]
    fn chunks_end_on_line_ends_and_join_back_into_the_input() {
        let input = b"one\ntwo two\nthree\nfour\nno newline at the end";
        for size in 1..input.len() + 2 {
            let ps = pieces(input, size);
            let joined: Vec<u8> = ps.iter().flat_map(lines).collect();
            assert_eq!(joined, input, "size {size}");
            assert!(ps.iter().all(|p| p.cuts.is_empty()));
            assert!(ps.last().unwrap().last && ps.iter().filter(|p| p.last).count() == 1);
            assert!(ps[..ps.len() - 1].iter().all(|p| lines(p).ends_with(b"\n")));
            assert_eq!(ps.last().unwrap().read_bytes, input.len() as u64);
        }
    }

    #[test]
    fn a_line_over_the_bound_is_one_line_however_the_reads_fall() {
        let mut input = b"before\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10_000));
        input.extend_from_slice(b"\nafter\n");
        for size in [1000, 4096, 1 << 20, 3 << 20] {
            let ps = pieces(&input, size);
            // a line whose end the same read holds comes whole (the scanner skips it); one whose
            // end is further is held as its first bytes only, a cut line
            let cuts: Vec<&Vec<u8>> = ps.iter().flat_map(|p| &p.cuts).collect();
            let joined: Vec<u8> = ps.iter().flat_map(lines).collect();
            let long: Vec<&[u8]> = joined.split(|&b| b == b'\n').filter(|l| l.len() > MAX_LINE_BYTES).collect();
            let short: Vec<&[u8]> = joined.split(|&b| b == b'\n').filter(|l| l.len() <= MAX_LINE_BYTES).collect();
            assert_eq!(cuts.len() + long.len(), 1, "size {size}");
            assert_eq!(cuts.len(), usize::from(size < 10_000), "size {size}"); // small reads outrun the bound
            assert!(cuts.iter().all(|c| **c == vec![b'x'; CUT_SHOWN]));
            assert_eq!(short, [&b"before"[..], b"after", b""], "size {size}");
            assert!(ps.iter().all(|p| p.head.len() <= MAX_LINE_BYTES), "size {size}: a held line over the bound");
        }
        // cut at the very end, without a newline after it
        let mut open = b"a\n".to_vec();
        open.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES + 1));
        let ps = pieces(&open, 1 << 16);
        assert_eq!(ps.last().unwrap().cuts, [vec![b'y'; CUT_SHOWN]]);
    }

    #[test]
    fn every_chunk_comes_out_once_in_file_order() {
        let line = b"  dd  4116 [001]  2406.385071:     block:block_rq_issue: 254,0 WS 4096 () 2048 + 8 [dd]\n";
        let n = 3 * CHUNK_BYTES / line.len() + 7;
        let mut text = b"\tffff frame_before_any_event+0x1 (k)\n".to_vec(); // a skipped line: no event above it
        text.extend(line.repeat(n));
        let path = std::env::temp_dir().join(format!("traceparse-ahead-{}.txt", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let mut a = Ahead::start(File::open(&path).unwrap(), &Config::perf_block_lane()).unwrap();
        let (mut events, mut seqs, mut skipped, mut lines) = (0, Vec::new(), 0, 0);
        for s in a.by_ref() {
            let out = s.out.unwrap();
            assert_eq!(s.scanner as u64, s.seq % 2);
            events += out.lane.len();
            skipped += out.skipped;
            lines += out.lines;
            seqs.push(s.seq);
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!((events, skipped, lines), (n, 1, n as u64 + 1));
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        assert!(seqs.len() >= 4);
        assert!(a.next().is_none());
    }

    #[test]
    fn the_lanes_strings_come_in_the_codes_one_scanner_would_give() {
        // comms and devices first seen in later chunks, some by one scanner and some by the other
        let mut text = Vec::new();
        let mut i = 0u64;
        while text.len() < 3 * CHUNK_BYTES + 1000 {
            let (comm, dev) = match (text.len() / CHUNK_BYTES, i % 3) {
                (0, _) => ("dd", 0),
                (1, 0) => ("fio", 16),
                (2, 1) => ("kworker/0:1H", 0),
                (_, k) => (["dd", "fio", "jbd2/vda1-8"][k as usize], k * 16),
            };
            text.extend(format!("  {comm}  4116 [001]  2406.{i:06}:     block:block_rq_issue: 254,{dev} WS 4096 () {i} + 8 [dd]\n").bytes());
            i += 1;
        }
        let path = std::env::temp_dir().join(format!("traceparse-ahead-codes-{}.txt", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let events = |l: &crate::text::lane::Lane| -> Vec<(u32, u32, u32)> {
            l.comm.iter().zip(&l.dev).zip(&l.rwbs).map(|((&c, &d), &r)| (c, d, r)).collect()
        };
        let lines = |(blob, n): &(Vec<u8>, u32)| -> Vec<Vec<u8>> { blob.split(|&b| b == b'\n').take(*n as usize).map(<[u8]>::to_vec).collect() };
        let (mut strings, mut codes) = (Vec::new(), Vec::new());
        for s in Ahead::start(File::open(&path).unwrap(), &Config::perf_block_lane()).unwrap() {
            let out = s.out.unwrap();
            assert_eq!(out.lane_strings_before, strings.len());
            strings.extend(lines(&out.lane_new));
            codes.extend(events(&out.lane));
        }
        std::fs::remove_file(&path).unwrap();
        let whole = Scanner::new(Config::perf_block_lane()).scan(&text, &[], true).unwrap();
        assert_eq!(strings, lines(&whole.lane_new));
        assert_eq!(codes, events(&whole.lane));
        assert!(strings.len() >= 7, "{}", strings.len()); // 4 comms, 3 devices and the rwbs
    }

    #[test]
    fn dropped_before_the_end_its_threads_stop() {
        let path = std::env::temp_dir().join(format!("traceparse-ahead-drop-{}.txt", std::process::id()));
        std::fs::write(&path, b"x\n".repeat(CHUNK_BYTES)).unwrap();
        let mut a = Ahead::start(File::open(&path).unwrap(), &Config::perf_block_lane()).unwrap();
        assert!(a.next().is_some());
        drop(a); // joins the reading and scanning threads: a hang here is the bug
        std::fs::remove_file(&path).unwrap();
    }
}
