//! Reading ahead: the crate's part of reading a perf.data (its reads, the record framing, the time
//! order) in a thread of its own, up to `AHEAD_BYTES` of records before the scanner that takes them.
//!
//! `traceparse block` starts it before Python imports the reports (polars alone is ~0.13 s here):
//! records are read while the imports run, and from then on the crate's work and the scanner's
//! (the lane, comms, call chains) run side by side. Records come out as the crate gave them,
//! copied into pieces, and the scanner reads each as a `PerfFileRecord` borrowing its piece, as it
//! reads the crate's own: both ways give the same columns. File mode only: in pipe mode the tracing
//! data is taken out of the stream as it is read (`PipeTracing`), and the scanner must meet it
//! where the stream has it, not where the reading thread has got to.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use linux_perf_data::{Endianness, PerfFile, PerfFileRecord, PerfRecordIter, RawUserRecord, UserRecordType};
use linux_perf_event_reader::{RawData, RawEventRecord, RecordParseInfo, RecordType};

use super::Input;

/// What the thread may hold that the scanner has not taken: measured on blk-1M.perf.data, the
/// imports' window holds ~0.4 of its 124 MB; the bound keeps a big file's peak RSS where it was.
pub const AHEAD_BYTES: usize = 64 << 20;
const PIECE_BYTES: usize = 256 << 10;
/// A record is at most 64 KiB (its size is a u16): a piece's buffer, made this big, never grows.
const PIECE_ROOM: usize = PIECE_BYTES + (64 << 10);
const PIECES: usize = AHEAD_BYTES / PIECE_BYTES;
/// A panic in the crate (its bug) ends the reading like damage, as `Scanner::next_batch` has it.
pub const CRATE_PANIC: &str = "the perf.data reader failed on this record";

/// A record as the crate gave it, its bytes at `span` of its piece; an event's parse info (the same
/// for every record of its attr, and bigger than the record's own fields) once per piece, at `info`.
enum Kept {
    Event { attr_index: usize, record_type: RecordType, misc: u16, info: u16, span: Range<u32> },
    User { record_type: UserRecordType, endian: Endianness, misc: u16, span: Range<u32> },
}

/// How the reading ended: at the end of the data, or at an error (the offset reached, and why).
#[derive(Debug)]
enum End {
    Done,
    Failed(u64, String),
}

struct Piece {
    bytes: Vec<u8>,
    kept: Vec<Kept>,
    infos: Vec<(usize, RecordParseInfo)>, // (attr index, its parse info)
    end: Option<End>, // the last piece says how the reading ended
}

impl Piece {
    /// A piece handed back by the scanner, emptied (its memory is faulted in and warm: copying
    /// into fresh pages cost more than the copy), or a new one.
    fn reuse(back: &Receiver<Piece>) -> Self {
        match back.try_recv() {
            Ok(mut p) if p.bytes.capacity() >= PIECE_ROOM => {
                p.bytes.clear();
                p.kept.clear();
                p.infos.clear();
                p
            }
            _ => Piece::empty(PIECE_ROOM),
        }
    }

    fn empty(room: usize) -> Self {
        Piece { bytes: Vec::with_capacity(room), kept: Vec::with_capacity(room / 64), infos: Vec::new(), end: None }
    }

    /// (a piece holds PIECE_ROOM bytes, far below u32::MAX)
    fn copy(&mut self, data: &RawData) -> Range<u32> {
        let start = self.bytes.len() as u32;
        match *data {
            RawData::Single(s) => self.bytes.extend_from_slice(s),
            RawData::Split(a, b) => {
                self.bytes.extend_from_slice(a);
                self.bytes.extend_from_slice(b);
            }
        }
        start..self.bytes.len() as u32
    }

    fn keep(&mut self, rec: &PerfFileRecord) {
        let kept = match rec {
            PerfFileRecord::EventRecord { attr_index, record } => {
                let span = self.copy(&record.data);
                // the crate's parse info is its attr's (file_reader.rs: parse_infos[attr_index]):
                // found by the index, not by comparing the whole struct per record
                let info = match self.infos.iter().position(|(a, _)| a == attr_index) {
                    Some(i) => i,
                    None => {
                        self.infos.push((*attr_index, record.parse_info));
                        self.infos.len() - 1
                    }
                };
                Kept::Event { attr_index: *attr_index, record_type: record.record_type, misc: record.misc, info: info as u16, span }
            }
            PerfFileRecord::UserRecord(u) => {
                let span = self.copy(&u.data);
                Kept::User { record_type: u.record_type, endian: u.endian, misc: u.misc, span }
            }
        };
        self.kept.push(kept);
    }
}

/// The records of a reading thread, in the crate's order.
pub struct Ahead {
    rx: Option<Receiver<Piece>>, // None once dropped: the thread's next send fails, and it ends
    thread: Option<JoinHandle<()>>,
    back: Sender<Piece>,
    piece: Piece,
    at: usize,
    end: Option<End>,
    pos: Arc<AtomicU64>,
}

/// Starts the thread over `iter`; None where no thread could be made (the records are gone with it).
pub fn start(mut file: PerfFile, mut iter: PerfRecordIter<Box<dyn Input>>, pos: Arc<AtomicU64>) -> Option<Ahead> {
    let (tx, rx) = sync_channel::<Piece>(PIECES);
    let (back, back_rx) = channel::<Piece>();
    let at = pos.clone();
    let thread = std::thread::Builder::new().name("traceparse-perf".into()).spawn(move || {
        let mut p = Piece::reuse(&back_rx);
        loop {
            let step = catch_unwind(AssertUnwindSafe(|| match iter.next_record(&mut file) {
                Ok(Some(r)) => {
                    p.keep(&r);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e.to_string()),
            }));
            let end = match step {
                Ok(Ok(true)) => None,
                Ok(Ok(false)) => Some(End::Done),
                Ok(Err(what)) => Some(End::Failed(at.load(Ordering::Relaxed), what)),
                Err(_) => Some(End::Failed(at.load(Ordering::Relaxed), CRATE_PANIC.to_owned())),
            };
            if end.is_some() || p.bytes.len() >= PIECE_BYTES {
                let last = end.is_some();
                p.end = end;
                // a dropped receiver: the scanner is gone, and nobody wants the rest
                if tx.send(std::mem::replace(&mut p, Piece::reuse(&back_rx))).is_err() || last {
                    return;
                }
            }
        }
    });
    let piece = Piece::empty(0);
    thread.ok().map(|t| Ahead { rx: Some(rx), thread: Some(t), back, piece, at: 0, end: None, pos })
}

impl Ahead {
    /// The next record; Err((offset, why)) where the reading failed, then None.
    pub fn next_record(&mut self) -> Result<Option<PerfFileRecord<'_>>, (u64, String)> {
        while self.at >= self.piece.kept.len() {
            if let Some(end) = self.piece.end.take() {
                self.end = Some(end);
            }
            match self.end.take() {
                Some(End::Done) => {
                    self.end = Some(End::Done);
                    return Ok(None);
                }
                Some(End::Failed(at, what)) => {
                    self.end = Some(End::Done); // said once, as the crate's reader says it
                    return Err((at, what));
                }
                None => {}
            }
            match self.rx.as_ref().map(Receiver::recv) {
                Some(Ok(p)) => {
                    let used = std::mem::replace(&mut self.piece, p);
                    let _ = self.back.send(used); // (a thread that is done has no use for it)
                    self.at = 0;
                }
                // the thread is gone without its last piece: only a panic outside the crate does that
                _ => self.end = Some(End::Failed(self.pos.load(Ordering::Relaxed), CRATE_PANIC.to_owned())),
            }
        }
        let k = &self.piece.kept[self.at];
        self.at += 1;
        let (b, infos) = (&self.piece.bytes, &self.piece.infos);
        let bytes = |span: &Range<u32>| RawData::Single(b.get(span.start as usize..span.end as usize).unwrap_or_default());
        Ok(Some(match k {
            Kept::Event { attr_index, record_type, misc, info, span } => {
                let Some(&(_, parse_info)) = infos.get(usize::from(*info)) else { return Err((self.pos.load(Ordering::Relaxed), CRATE_PANIC.to_owned())) };
                PerfFileRecord::EventRecord {
                    attr_index: *attr_index,
                    record: RawEventRecord { record_type: *record_type, misc: *misc, data: bytes(span), parse_info },
                }
            }
            Kept::User { record_type, endian, misc, span } => {
                PerfFileRecord::UserRecord(RawUserRecord { record_type: *record_type, endian: *endian, misc: *misc, data: bytes(span) })
            }
        }))
    }
}

impl Drop for Ahead {
    /// The thread is told (its channel closes) and waited for: it holds a piece at most, and no
    /// thread outlives the scanner that started it.
    fn drop(&mut self) {
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
