//! perf.data (file and pipe mode) -> columns of samples, in the order `perf script` prints them.
//!
//! The format is read by mstange's `linux-perf-data` (what samply uses): the header, the feature
//! sections, the attrs, the records, and their time order (its sorter keeps perf's FINISHED_ROUND
//! rule: a round is handed out only once the next round has been read). This module keeps what a
//! report needs: per sample the time, CPU, pid/tid, period, attr, the comm the thread had at that
//! time (COMM/EXEC/FORK records replayed in time order), the interned call chain, and the RAW
//! payload (a tracepoint's record, decoded later by the capture's own format files); per CPU the
//! events the kernel said it lost (LOST, LOST_SAMPLES).
//!
//! One thing the crate does not do (0.13): in pipe mode, `perf record -o -` writes the tracing data
//! (the format files) *after* a PERF_RECORD_HEADER_TRACING_DATA record whose size does not count
//! it. [`PipeTracing`] takes those bytes out of the stream before the crate sees it.

#[path = "perf_ahead.rs"]
pub(crate) mod ahead;
#[path = "perf_decode.rs"]
pub mod decode;
#[path = "perf_resync.rs"]
mod resync;
use resync::{Resync, Skips, FILLER};

// The Python bindings, kept in their own file (feature `python`).
#[cfg(feature = "python")]
#[path = "py_perf.rs"]
pub mod py;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use linux_perf_data::{Feature, PerfFile, PerfFileReader, PerfFileRecord, PerfRecordIter};
use crate::block_fields::{cut as c_string, IntField, StrField};
use crate::fields::Fnv;
use crate::text::lane::{self, Lane, LaneEvent};
use crate::maps::{parse_mmap, place, Maps, Space, KERNEL, NO_MAP};
use linux_perf_event_reader::{ClockId, EventRecord, PerfClock, PerfEventType, RawEventRecord, RecordType};

/// The input: a real file (seekable) or a stream (pipe mode needs only `Read`).
pub trait Input: Read + Seek + Send {}
impl<T: Read + Seek + Send> Input for T {}

const HEADER_ATTR: u32 = 64;
const HEADER_TRACING_DATA: u32 = 66;
const HEADER_FEATURE: u32 = 80;
const SIMPLEPERF_SPLIT: u32 = 32772;
const SIMPLEPERF_SPLIT_END: u32 = 32773;
/// The CPU of a record that does not say (no PERF_SAMPLE_CPU).
const TID_UNKNOWN_CPU: u32 = u32::MAX;
/// Call chain entries above this are context markers (PERF_CONTEXT_KERNEL, _USER, ...), not frames.
const PERF_CONTEXT_MAX: u64 = u64::MAX - 4095;

/// A reader that counts where it is, so a damaged record can be named by its file offset.
struct Counted<R> {
    inner: R,
    pos: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(to)?;
        self.pos.store(at, Ordering::Relaxed);
        Ok(at)
    }
}

/// Pipe mode: passes the stream on record by record until the tracing data has gone by (or the
/// first kernel record: then there is none), keeping the tracing data for us; then passes it on
/// untouched.
struct PipeTracing<R> {
    inner: R,
    out: Vec<u8>,
    at: usize,
    framing: bool,
    big_endian: bool,
    started: bool,
    tracing: Arc<Mutex<Vec<u8>>>,
    ends: Arc<Mutex<RecordEnds>>,
}

impl<R: Read> PipeTracing<R> {
    fn u32_at(&self, b: &[u8]) -> u32 {
        let w = [b[0], b[1], b[2], b[3]];
        if self.big_endian { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
    }

    /// Moves the next piece of the stream into `out`; false at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.at = 0;
        if !self.framing {
            self.out.resize(1 << 16, 0);
            let n = self.inner.read(&mut self.out)?;
            self.out.truncate(n);
            return Ok(n > 0);
        }
        if !self.started {
            self.started = true;
            let mut head = [0u8; 16];
            if !read_full(&mut self.inner, &mut head)? {
                self.framing = false;
                self.out.extend_from_slice(&head);
                return Ok(true);
            }
            self.big_endian = &head[..8] == b"2ELIFREP";
            self.out.extend_from_slice(&head);
            return Ok(true);
        }
        let mut head = [0u8; 8];
        if !read_full(&mut self.inner, &mut head)? {
            self.framing = false;
            self.out.extend_from_slice(&head);
            return Ok(!self.out.is_empty());
        }
        let kind = self.u32_at(&head[..4]);
        let size = usize::from(if self.big_endian { u16::from_be_bytes([head[6], head[7]]) } else { u16::from_le_bytes([head[6], head[7]]) });
        let mut body = vec![0u8; size.saturating_sub(8)];
        let whole = read_full(&mut self.inner, &mut body)?;
        if whole && kind == HEADER_ATTR && self.big_endian {
            // the attr's bitfield word in the bit order the crate reads (see be_attr_flags)
            if let Some((at, word)) = be_attr_flags(&body, 0) {
                body[at as usize..at as usize + 8].copy_from_slice(&word);
            }
        }
        self.out.extend_from_slice(&head);
        self.out.extend_from_slice(&body);
        if !whole {
            self.framing = false;
        } else if kind == HEADER_TRACING_DATA && body.len() >= 4 {
            // the record says how many bytes follow it (already padded to 8 by perf)
            let len = self.u32_at(&body[..4]) as usize;
            let mut data = Vec::new();
            (&mut self.inner).take(len as u64).read_to_end(&mut data)?;
            if let Ok(mut t) = self.tracing.lock() {
                *t = data;
            }
            self.framing = false;
        } else if kind == HEADER_FEATURE && body.len() >= 8 {
            let bit = usize::try_from(self.u32_at(&body[..4])).unwrap_or(usize::MAX);
            if bit == FEATURE_CMDLINE || bit == FEATURE_EVENT_DESC {
                check_counts(bit, &body[8..], self.big_endian).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
        } else if kind < 64 {
            self.framing = false; // a kernel record: the synthesized metadata is over
        }
        Ok(true)
    }
}

/// Follows the record boundaries of a stream as its bytes pass (8-byte headers, u16 size at 6):
/// at its end, whether the stream stopped inside a record.
#[derive(Debug, Default)]
struct RecordEnds {
    /// bytes seen; the offset where the next record starts
    seen: u64,
    next: u64,
    head: Vec<u8>,
    big_endian: bool,
    broken: bool,
}

impl RecordEnds {
    fn pass(&mut self, b: &[u8]) {
        let end = self.seen + b.len() as u64;
        while !self.broken && self.next < end {
            let from = (self.next + self.head.len() as u64 - self.seen) as usize; // a header may straddle two pieces
            let want = 8 - self.head.len();
            let got = &b[from.min(b.len())..(from + want).min(b.len())];
            self.head.extend_from_slice(got);
            if self.head.len() < 8 {
                break;
            }
            let size = if self.big_endian { u16::from_be_bytes([self.head[6], self.head[7]]) } else { u16::from_le_bytes([self.head[6], self.head[7]]) };
            self.head.clear();
            if size < 8 {
                self.broken = true; // the crate stops here with its own error
            }
            self.next += u64::from(size.max(8));
        }
        self.seen = end;
    }

    fn inside(&self) -> bool {
        !self.broken && (self.seen != self.next || !self.head.is_empty())
    }
}

/// Fills `buf` from `r`; false when the input ended first (what was read stays in `buf`).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl<R: Read> Read for PipeTracing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.out.len() {
            let first = !self.started;
            if !self.refill()? {
                return Ok(0);
            }
            // what the crate sees: the 16-byte pipe header, then records
            if let Ok(mut ends) = self.ends.lock() {
                if first {
                    ends.big_endian = self.big_endian;
                    ends.next = 16;
                }
                ends.pass(&self.out);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<R> Seek for PipeTracing<R> {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "a pipe cannot seek"))
    }
}

/// What the file says about itself (its header features and attrs), for `info` and for naming events.
#[derive(Debug, Default, Clone)]
pub struct Meta {
    pub hostname: Option<String>,
    pub os_release: Option<String>,
    pub perf_version: Option<String>,
    pub arch: Option<String>,
    pub cpu_desc: Option<String>,
    pub nr_cpus_online: Option<u32>,
    pub nr_cpus_available: Option<u32>,
    pub cmdline: Option<Vec<String>>,
    pub total_mem_kb: Option<u64>,
    pub clockid: Option<u32>,
    pub cpu_id: Option<String>,
    /// the clock of the samples' timestamps, as `perf record -k` names it ("perf": its default, local_clock)
    pub clock: Option<String>,
    pub big_endian: bool,
    pub simpleperf: bool,
    pub features: Vec<String>,
    /// per attr: (name as perf names it, tracepoint id or None, sample_type bits)
    pub attrs: Vec<(String, Option<u64>, u64)>,
}

/// One batch of samples, as columns.
#[derive(Debug, Default)]
pub struct Batch {
    pub ts: Vec<u64>,
    pub cpu: Vec<u32>,
    pub pid: Vec<i32>,
    pub tid: Vec<i32>,
    pub period: Vec<u64>,
    pub attr: Vec<u32>,
    pub comm: Vec<u32>,
    /// index into the stack table, -1 without a call chain
    pub stack: Vec<i32>,
    pub raw: Vec<u8>,
    pub raw_off: Vec<u64>,
    pub raw_len: Vec<u32>,
    /// events lost per CPU (`u32::MAX`: the record did not say which CPU), and whether the record
    /// was LOST_SAMPLES (perf record writes those at its end from the counters' own lost counts,
    /// repeating what the LOST records said: the two are not to be added up)
    pub lost: Vec<(u32, u64, bool)>,
    pub throttled: u64,
    /// the block requests gathered into the block lane (with `Scanner::lane` set), not as samples;
    /// the lane strings first seen in this batch, and how many the run had before them
    pub lane: Lane,
    pub lane_new: (Vec<u8>, u32),
    pub lane_strings_before: usize,
    /// the batch ended early, where the tracing data was first met (`Scanner::lane_pending`)
    pub paused: bool,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty() && self.lane.is_empty()
    }
}

/// A block event kind the scanner gathers into the block lane itself: where the capture's format
/// file places its fields (block_fields.rs reads them, as for trace.dat).
#[derive(Debug, Clone)]
pub struct LaneKind {
    /// the tracepoint id (the payload's common_type)
    pub id: i64,
    /// lane::INSERT, ISSUE or COMPLETE
    pub kind: u8,
    /// a payload shorter than this lacks some of its fields: counted (`LaneCfg::short`), left out
    pub fixed_end: usize,
    pub dev: IntField,
    pub sector: IntField,
    pub nr_sector: Option<IntField>,
    /// None: no bytes (a complete has none): the lane's null
    pub bytes: Option<IntField>,
    /// None: no char array rwbs: the empty string
    pub rwbs: Option<StrField>,
}

/// The block lane of a perf.data: block_rq_insert / issue / complete samples go straight from
/// their RAW payload into the lane's columns (text_lane.rs), the time, thread and comm from the
/// sample, as the frames have them.
#[derive(Debug)]
pub struct LaneCfg {
    pub common_type: IntField,
    pub kinds: Vec<LaneKind>,
    /// per attr: a tracepoint's (only its RAW payload is a tracepoint record)
    pub tracepoint_attrs: Vec<bool>,
    pub strings: lane::Interner,
    /// per kind: the payloads shorter than its fields
    pub short: Vec<u64>,
}

impl LaneCfg {
    pub fn new(common_type: IntField, kinds: Vec<LaneKind>, tracepoint_attrs: Vec<bool>) -> Self {
        let short = vec![0; kinds.len()];
        LaneCfg { common_type, kinds, tracepoint_attrs, strings: lane::Interner::default(), short }
    }
}

/// Strings interned once; a column holds their index.
#[derive(Debug, Default)]
pub struct Interner {
    pub names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }
}

/// One call-chain entry: a kernel address (`dso` = maps::KERNEL), a user address outside every
/// mapping (`maps::NO_MAP`, `off` = the address), or a file and the offset in it. `addr` is the
/// address as recorded (what perf script prints without symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    pub dso: u32,
    pub off: u64,
    pub addr: u64,
}

/// Call chains interned once: `frames[offsets[i]..offsets[i+1]]` are stack i's frames, leaf first.
#[derive(Debug, Default)]
pub struct Stacks {
    pub frames: Vec<Frame>,
    pub offsets: Vec<u64>,
    ids: HashMap<Vec<Frame>, i32>,
    /// (space version, chain as recorded) -> id: a chain met again in the same version of its
    /// process's mappings is neither placed nor hashed as frames again (most samples)
    seen: HashMap<(u64, Vec<u64>), i32>,
}

impl Stacks {
    /// The id of a recorded chain of process `pid` (context markers included), placing its frames
    /// in the process's mappings the first time it is met in this version of them.
    fn chain_id(&mut self, chain: &linux_perf_event_reader::RawDataU64, pid: i32, maps: &Maps) -> i32 {
        let space = maps.space(pid);
        let raw: Vec<u64> = (0..chain.len()).filter_map(|i| chain.get(i)).collect();
        let key = (space.map_or(0, |s| s.version), raw);
        if let Some(&i) = self.seen.get(&key) {
            return i;
        }
        let i = self.id(chain_frames(&key.1, space));
        self.seen.insert(key, i);
        i
    }

    fn id(&mut self, chain: Vec<Frame>) -> i32 {
        if let Some(&i) = self.ids.get(&chain) {
            return i;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let i = (self.offsets.len() - 1) as i32;
        self.frames.extend_from_slice(&chain);
        self.offsets.push(self.frames.len() as u64);
        self.ids.insert(chain, i);
        i
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the records come from: the crate's reader, called by the scanner, or a thread reading
/// ahead (perf_ahead.rs).
#[allow(clippy::large_enum_variant)] // one per scanner, made once: its size costs nothing
enum Records {
    Direct(PerfFile, PerfRecordIter<Box<dyn Input>>),
    Ahead(ahead::Ahead),
    Gone, // a thread could not be made
}

/// Where reading stopped early: the offset the reader had reached, and why.
#[derive(Debug, Clone)]
pub struct Damage {
    pub offset: u64,
    pub what: String,
}

/// Streams a perf.data's samples in time order.
pub struct Scanner {
    source: Records,
    build_ids: Vec<(String, Vec<u8>)>,
    pos: Arc<AtomicU64>,
    pipe: bool,
    /// where a reading thread failed (`pos` is where the crate had read to when it is not ahead)
    failed_at: Option<u64>,
    pipe_tracing: Option<Arc<Mutex<Vec<u8>>>>,
    tracing: Option<Vec<u8>>,
    meta: Meta,
    thread_comm: HashMap<i32, u32, BuildHasherDefault<Fnv>>,
    pub comms: Interner,
    pub stacks: Stacks,
    pub stacks_wanted: bool,
    /// the processes' mappings, to place user frames (maps.rs)
    pub maps: Maps,
    split: Vec<u8>,
    pub damage: Option<Damage>,
    done: bool,
    pub records: u64,
    /// file mode: the file ends inside its data section (read up to its last whole record)
    pub cut: Option<CutAt>,
    ends: Option<Arc<Mutex<RecordEnds>>>,
    /// block requests into the block lane (set once the format files are known)
    pub lane: Option<LaneCfg>,
    /// the lane is wanted but not set yet: a batch ends where the tracing data is first met
    pub lane_pending: bool,
    stop_batch: bool,
    /// damaged stretches of the data section skipped (resync.rs)
    skips: Arc<Mutex<Skips>>,
    /// records whose size was sane but whose contents did not parse: skipped
    pub bad_records: u64,
}

/// A file mode perf.data cut inside its data section: the file's length, where its last whole
/// record ends, and where the header said the data ends.
#[derive(Debug, Clone, Copy)]
pub struct CutAt {
    pub at: u64,
    pub data_end: u64,
    pub claimed_end: u64,
}

/// An error that stops reading before any record: the offset reached and the crate's reason.
#[derive(Debug)]
pub struct OpenError {
    pub offset: u64,
    pub what: String,
}

impl Scanner {
    /// Reads the header (file mode: header, attrs, features; pipe mode: the synthesized records).
    pub fn open(input: Box<dyn Input>, pipe: bool) -> Result<Self, OpenError> {
        let pos = Arc::new(AtomicU64::new(0));
        // the position of what the crate has read: Resync's (it reads ahead), or the input's until then
        let counted = Counted { inner: input, pos: pos.clone() };
        let mut cut = None;
        let skips;
        let ends = Arc::new(Mutex::new(RecordEnds::default()));
        let (reader, pipe_tracing) = if pipe {
            let t = Arc::new(Mutex::new(Vec::new()));
            let split = PipeTracing {
                inner: counted, out: Vec::new(), at: 0, framing: true, big_endian: false, started: false, tracing: t.clone(),
                ends: ends.clone(),
            };
            // the byte order is the magic's: a peek at the first 8 bytes passes through PipeTracing untouched
            let checked = Resync::new(split, 16, None, false, Arc::new(AtomicU64::new(0)), 0).pipe();
            skips = checked.skips.clone();
            (guarded(|| PerfFileReader::parse_pipe(Box::new(checked) as Box<dyn Input>)), Some(t))
        } else {
            let mut counted = counted;
            let mut patches = Vec::new();
            let (found, (start, end, big)) = check_sections(&mut counted, &mut patches).map_err(|(offset, what)| OpenError { offset, what })?;
            if let Some(c) = &found {
                patches.push((0, c.head.to_vec()));
            }
            counted.pos = Arc::new(AtomicU64::new(0)); // Resync says where the crate is
            let input: Box<dyn Input> = if patches.is_empty() { Box::new(counted) } else { Box::new(Patched { inner: counted, patches, pos: 0 }) };
            let checked = Resync::new(input, start, Some(end), big, pos.clone(), 0);
            skips = checked.skips.clone();
            let input: Box<dyn Input> = Box::new(checked);
            cut = found.map(|c| CutAt { at: c.at, data_end: c.data_end, claimed_end: c.claimed_end });
            (guarded(|| PerfFileReader::parse_file(input)), None)
        };
        let PerfFileReader { perf_file, record_iter } = reader.map_err(|what| OpenError { offset: pos.load(Ordering::Relaxed), what })?;
        let meta = read_meta(&perf_file);
        let tracing = perf_file.feature_section_data(Feature::TRACING_DATA).map(<[u8]>::to_vec);
        let mut comms = Interner::default();
        comms.id("swapper"); // tid 0, the idle task: perf names it so without any COMM record
        let build_ids = build_ids(&perf_file);
        Ok(Scanner {
            source: Records::Direct(perf_file, record_iter),
            build_ids,
            pos,
            pipe,
            failed_at: None,
            pipe_tracing,
            tracing,
            meta,
            thread_comm: HashMap::from_iter([(0, 0)]),
            comms,
            stacks: Stacks::default(),
            stacks_wanted: true,
            maps: Maps::default(),
            split: Vec::new(),
            damage: None,
            done: false,
            records: 0,
            cut,
            ends: pipe.then_some(ends),
            lane: None,
            lane_pending: false,
            stop_batch: false,
            skips,
            bad_records: 0,
        })
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// HEADER_BUILD_ID: (path, build id) of each file perf record listed, sorted by path; a damaged
    /// section gives what was read before the damage.
    pub fn build_ids(&self) -> Vec<(String, Vec<u8>)> {
        self.build_ids.clone()
    }

    /// Read the records in a thread of its own from here on (perf_ahead.rs); file mode, before
    /// the first record only: false where it is not started.
    pub fn read_ahead(&mut self) -> bool {
        if self.pipe || self.records > 0 || !matches!(self.source, Records::Direct(..)) {
            return false;
        }
        let Records::Direct(file, iter) = std::mem::replace(&mut self.source, Records::Gone) else { return false };
        match ahead::start(file, iter, self.pos.clone()) {
            Some(a) => {
                self.source = Records::Ahead(a);
                true
            }
            None => false,
        }
    }

    /// The capture's tracing data (the format files), once it has been seen.
    pub fn tracing_data(&mut self) -> Option<&[u8]> {
        if self.tracing.is_none() {
            if let Some(t) = &self.pipe_tracing {
                if let Ok(mut data) = t.lock() {
                    if !data.is_empty() {
                        self.tracing = Some(std::mem::take(&mut *data));
                    }
                }
            }
        }
        self.tracing.as_deref()
    }

    /// Up to `max_samples` samples (and the lost counts met on the way); an empty batch at the end.
    pub fn next_batch(&mut self, max_samples: usize, max_raw: usize) -> Batch {
        let mut b = Batch::default();
        self.stop_batch = false;
        while !self.done && !self.stop_batch && b.len() + b.lane.len() < max_samples.max(1) && b.raw.len() < max_raw.max(1) {
            // bad bytes are the crate's errors; a panic inside it would be its bug and must not reach
            // Python: it ends the reading like damage (AssertUnwindSafe: the reader is not used after it)
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step(&mut b)));
            let failed = match step {
                Ok(Ok(true)) => continue,
                Ok(Ok(false)) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(ahead::CRATE_PANIC.to_owned()),
            };
            self.done = true;
            if let Some(what) = failed {
                let offset = self.failed_at.take().unwrap_or_else(|| self.pos.load(Ordering::Relaxed));
                self.damage = Some(Damage { offset, what });
            } else if let Some(at) = self.pipe_cut() {
                self.damage = Some(Damage { offset: at, what: "the stream ends inside a record: cut".to_owned() });
            }
        }
        b.paused = self.stop_batch && !self.done;
        if let Some(l) = &mut self.lane {
            b.lane_new = l.strings.take_new();
            b.lane_strings_before = l.strings.len() - b.lane_new.1 as usize;
        }
        b
    }

    /// Whether the last record has been read (every batch from here on is empty).
    pub fn done(&self) -> bool {
        self.done
    }

    /// Whether its batches may be made ahead by another thread (decode.rs): a file read by this
    /// scanner, before its first record, with nothing pending that Python must settle between
    /// batches (the lane waiting for the tracing data).
    pub fn may_decode_ahead(&self) -> bool {
        !self.pipe && self.records == 0 && !self.lane_pending
    }

    /// The damaged stretches skipped so far (resync.rs).
    pub fn skips(&self) -> Skips {
        self.skips.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Pipe mode, at the end of the stream: the input offset where it ended, if inside a record.
    fn pipe_cut(&self) -> Option<u64> {
        let ends = self.ends.as_ref()?.lock().ok()?;
        ends.inside().then(|| self.pos.load(Ordering::Relaxed))
    }

    /// One record into `b`: Ok(false) at the end of the data.
    fn step(&mut self, b: &mut Batch) -> Result<bool, String> {
        let next = match &mut self.source {
            Records::Direct(file, iter) => iter.next_record(file).map_err(|e| e.to_string()),
            Records::Ahead(a) => a.next_record().map_err(|(at, what)| {
                self.failed_at = Some(at);
                what
            }),
            Records::Gone => Err("the perf.data reading thread could not be started".to_owned()),
        };
        let rec = match next {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(false),
            Err(e) => return Err(e),
        };
        if let PerfFileRecord::UserRecord(u) = &rec {
            if u.record_type.record_type().0 == FILLER {
                return Ok(true); // a damaged stretch, counted by Resync
            }
        }
        self.records += 1;
        match rec {
            PerfFileRecord::EventRecord { attr_index, record } => {
                let mut st = State {
                    threads: &mut self.thread_comm, comms: &mut self.comms, stacks: &mut self.stacks, maps: &mut self.maps,
                    lane: self.lane.as_mut(),
                };
                if !take_event(b, attr_index, &record, &mut st, self.stacks_wanted, self.meta.big_endian) {
                    self.bad_records += 1;
                }
            }
            PerfFileRecord::UserRecord(u) => {
                let kind = u.record_type.record_type().0;
                let data = u.data.as_slice();
                if let Some(t) = user_record(kind, &data, &mut self.split, self.meta.big_endian) {
                    if self.tracing_data().is_none() {
                        self.tracing = Some(t);
                        self.stop_batch = self.lane_pending; // the lane can be set up from here on
                    }
                }
            }
        }
        Ok(true)
    }
}

/// HEADER_BUILD_ID: (path, build id) of each file perf record listed, sorted by path.
fn build_ids(f: &PerfFile) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> =
        f.build_ids().unwrap_or_default().into_values().map(|d| (String::from_utf8_lossy(&d.path).into_owned(), d.build_id)).collect();
    out.sort();
    out
}

/// The crate's header reading, its errors as text; a panic in it (its bug) becomes an error too.
fn guarded<T>(f: impl FnOnce() -> Result<T, linux_perf_data::Error>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the perf.data reader failed on its header".to_owned()),
    }
}

/// File mode: every section the header points at (attrs, data, event types, and each feature
/// section in the table after the data) must lie inside the file. The crate allocates a feature
/// section's claimed size before reading it, so a garbage size would be a huge allocation, not an
/// error; and a cut file is best named here, by the section the cut took.
/// Layout (perf's `perf_file_header`): magic, size, attr_size, then (offset, size) of attrs, data
/// and event types, then 256 feature bits; the feature table holds one (offset, size) per bit set.
/// Returns the cut (if the file is cut inside its data) and the data section as the crate is to
/// read it: (start, end, big-endian).
#[allow(clippy::type_complexity)]
fn check_sections<R: Read + Seek>(r: &mut R, patches: &mut Vec<(u64, Vec<u8>)>) -> Result<(Option<Cut>, (u64, u64, bool)), (u64, String)> {
    let io = |e: io::Error| (0u64, e.to_string());
    let len = r.seek(SeekFrom::End(0)).map_err(io)?;
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut head = [0u8; 104];
    if !read_full(r, &mut head).map_err(io)? {
        return Err((len, format!("the file is {len} bytes, shorter than a perf.data header (104)")));
    }
    let big = &head[..8] == b"2ELIFREP";
    let u64_at = |b: &[u8], at: usize| -> u64 {
        let w = b.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).unwrap_or([0; 8]);
        if big { u64::from_be_bytes(w) } else { u64::from_le_bytes(w) }
    };
    let within = |what: &str, off: u64, size: u64| -> Result<(), (u64, String)> {
        match off.checked_add(size) {
            Some(end) if end <= len => Ok(()),
            _ => Err((off, format!("its {what} (byte {off}, {size} bytes) lies past the end of the file ({len} bytes): cut or damaged"))),
        }
    };
    within("attrs section", u64_at(&head, 24), u64_at(&head, 32))?;
    let (data_off, data_size) = (u64_at(&head, 40), u64_at(&head, 48));
    let cut = data_off < len && data_off.checked_add(data_size).is_none_or(|end| end > len);
    if !cut {
        within("data section", data_off, data_size)?;
    }
    within("event types section", u64_at(&head, 56), u64_at(&head, 64))?;
    let attr_size = u64_at(&head, 16);
    if !(64..=4096).contains(&attr_size) {
        return Err((16, format!("its attr size {attr_size} is no perf_event_attr's (64 to 4096 bytes)")));
    }
    // each attr entry ends in the (offset, size) of its ids; the legacy event types entry is followed by it
    for (what, off, size, entry, ids_at) in [
        ("attr", u64_at(&head, 24), u64_at(&head, 32), attr_size, attr_size - 16),
        ("event type", u64_at(&head, 56), u64_at(&head, 64), attr_size + 16, attr_size),
    ] {
        let table = read_at(r, off, size.min(1 << 24)).map_err(io)?;
        for (i, e) in table.chunks_exact(entry as usize).enumerate() {
            within(&format!("{what} ids"), u64_at(e, ids_at as usize), u64_at(e, ids_at as usize + 8))?;
            if big {
                patches.extend(be_attr_flags(e, off + i as u64 * entry));
            }
        }
    }
    if cut {
        let c = cut_header(r, head, big, data_off, data_off.saturating_add(data_size), len)?;
        let end = c.data_end;
        return Ok((Some(c), (data_off, end, big)));
    }
    let mut bits = Vec::new();
    for i in 0..256usize {
        if u64_at(&head, 72 + 8 * (i / 64)) >> (i % 64) & 1 == 1 {
            bits.push(i);
        }
    }
    let table = data_off.saturating_add(data_size);
    within("feature table", table, 16 * bits.len() as u64)?;
    let entries = read_at(r, table, 16 * bits.len() as u64).map_err(io)?;
    for (bit, e) in bits.iter().zip(entries.chunks_exact(16)) {
        let (off, size) = (u64_at(e, 0), u64_at(e, 8));
        within("feature section", off, size)?;
        if *bit == FEATURE_CMDLINE || *bit == FEATURE_EVENT_DESC {
            let body = read_at(r, off, size).map_err(io)?;
            check_counts(*bit, &body, big).map_err(|what| (off, what))?;
            if big && *bit == FEATURE_EVENT_DESC {
                patches.extend(event_desc_attrs(&body).into_iter().filter_map(|at| be_attr_flags(&body[at..], off + at as u64)));
            }
        }
    }
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok((None, (data_off, data_off + data_size, big)))
}

/// A file cut inside its data section (a copy that stopped early): the features that follow the
/// data (event names, the format files, hostname...) are gone, the records before the cut are not.
/// The header the crate reads is patched to a data section that ends at the last whole record
/// (found by walking the record headers) and to no features.
fn cut_header<R: Read + Seek>(r: &mut R, mut head: [u8; 104], big: bool, data_off: u64, claimed_end: u64, len: u64) -> Result<Cut, (u64, String)> {
    let io = |e: io::Error| (0u64, e.to_string());
    r.seek(SeekFrom::Start(data_off)).map_err(io)?;
    let mut rd = io::BufReader::with_capacity(1 << 16, &mut *r);
    let mut at = data_off;
    let mut h = [0u8; 8];
    while at + 8 <= len {
        if !read_full(&mut rd, &mut h).map_err(io)? {
            break;
        }
        let size = u64::from(if big { u16::from_be_bytes([h[6], h[7]]) } else { u16::from_le_bytes([h[6], h[7]]) });
        if size < 8 || at + size > len {
            break; // the cut record, or damage: either way the readable data ends here
        }
        rd.seek_relative(size as i64 - 8).map_err(io)?;
        at += size;
    }
    drop(rd);
    let size = at - data_off;
    head[48..56].copy_from_slice(&if big { size.to_be_bytes() } else { size.to_le_bytes() });
    head[72..104].fill(0);
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(Cut { at: len, data_end: at, claimed_end, head })
}

/// Where a file was cut: its length, the end of the last whole record, the end the header claimed,
/// and the header as the crate is to read it.
struct Cut {
    at: u64,
    data_end: u64,
    claimed_end: u64,
    head: [u8; 104],
}

/// A big-endian perf_event_attr's bitfield word (after read_format, at byte 40) as the crate must see
/// it. C allocates bitfields from the most significant bit on a big-endian machine, so field k is
/// bit 63 - k of the word; the crate (linux-perf-event-reader 0.10) reads the word as if bit k, as
/// perf does after its swap_bitfield(). Patched: the same word with its bits reversed.
fn be_attr_flags(attr: &[u8], at: u64) -> Option<(u64, Vec<u8>)> {
    let w: [u8; 8] = attr.get(40..48)?.try_into().ok()?;
    Some((at + 40, u64::from_be_bytes(w).reverse_bits().to_be_bytes().to_vec()))
}

/// Where each attr starts in an EVENT_DESC section (its counts already checked by check_counts).
fn event_desc_attrs(b: &[u8]) -> Vec<usize> {
    let u32_at = |at: usize| b.get(at..at + 4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as usize);
    let (Some(n), Some(attr_size)) = (u32_at(0), u32_at(4)) else { return Vec::new() };
    let mut out = Vec::new();
    let mut at = 8usize;
    for _ in 0..n {
        out.push(at);
        at = at.saturating_add(attr_size);
        let (Some(ids), Some(name)) = (u32_at(at), u32_at(at + 4)) else { break };
        at = at.saturating_add(8).saturating_add(name).saturating_add(ids.saturating_mul(8));
    }
    out
}

/// A file read with some of its bytes replaced: (offset, bytes) patches laid over what is read.
struct Patched<R> {
    inner: R,
    patches: Vec<(u64, Vec<u8>)>,
    pos: u64,
}

impl<R: Read + Seek> Read for Patched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (lo, hi) = (self.pos, self.pos + n as u64);
        for (at, bytes) in &self.patches {
            let (from, to) = ((*at).max(lo), (at + bytes.len() as u64).min(hi));
            if from < to {
                buf[(from - lo) as usize..(to - lo) as usize].copy_from_slice(&bytes[(from - at) as usize..(to - at) as usize]);
            }
        }
        self.pos = hi;
        Ok(n)
    }
}

impl<R: Seek> Seek for Patched<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

const FEATURE_CMDLINE: usize = 11;
const FEATURE_EVENT_DESC: usize = 12;

fn read_at<R: Read + Seek>(r: &mut R, off: u64, size: u64) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(off))?;
    let mut out = Vec::new();
    r.take(size).read_to_end(&mut out)?;
    Ok(out)
}

/// The counts in CMDLINE (strings) and EVENT_DESC (attrs, ids) must fit in their section: the
/// crate reserves room for the claimed count before reading a single item.
fn check_counts(bit: usize, b: &[u8], big: bool) -> Result<(), String> {
    let u32_at = |at: usize| -> Option<u64> {
        let w = <[u8; 4]>::try_from(b.get(at..at.checked_add(4)?)?).ok()?;
        Some(u64::from(if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }))
    };
    let bad = |what: &str| format!("its {what} claims more than its {} bytes hold", b.len());
    let len = b.len() as u64;
    let n = u32_at(0).ok_or_else(|| bad("count"))?;
    if bit == FEATURE_CMDLINE {
        return if n.saturating_mul(4) <= len { Ok(()) } else { Err(bad("cmdline")) };
    }
    // EVENT_DESC: nr, attr_size, then per attr: attr, nr_ids, string (u32 length, bytes), ids
    let attr_size = u32_at(4).ok_or_else(|| bad("event desc"))?;
    if n.saturating_mul(attr_size.saturating_add(8)) > len {
        return Err(bad("event desc"));
    }
    let mut at = 8u64;
    for _ in 0..n {
        at = at.saturating_add(attr_size);
        let ids = u32_at(at as usize).ok_or_else(|| bad("event desc"))?;
        let name = u32_at(at as usize + 4).ok_or_else(|| bad("event desc"))?;
        at = at.saturating_add(8).saturating_add(name).saturating_add(ids.saturating_mul(8));
        if at > len {
            return Err(bad("event desc"));
        }
    }
    Ok(())
}

/// Simpleperf keeps the tracing data in a record of the data section (type 66, its size counting
/// the data), split in SPLIT/SPLIT_END records when over 64 KiB: returns the tracing data met.
fn user_record(kind: u32, data: &[u8], split: &mut Vec<u8>, big: bool) -> Option<Vec<u8>> {
    let u32_of = |b: &[u8]| -> Option<u32> {
        let w: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
    };
    match kind {
        HEADER_TRACING_DATA => {
            // perf's pipe mode writes the data after the record (PipeTracing took it): not in here
            let len = u32_of(data)? as usize;
            data.get(4..4usize.checked_add(len)?).map(<[u8]>::to_vec).filter(|d| !d.is_empty())
        }
        SIMPLEPERF_SPLIT => {
            split.extend_from_slice(data);
            None
        }
        SIMPLEPERF_SPLIT_END => {
            split.extend_from_slice(data);
            let whole = std::mem::take(split);
            // the pieces make up one whole record, its header included
            let inner = u32_of(&whole)?;
            user_record(inner, whole.get(8..)?, &mut Vec::new(), big)
        }
        _ => None,
    }
}

/// What the records replayed so far say about the threads: their comms, the chains met, the maps.
struct State<'a> {
    threads: &'a mut HashMap<i32, u32, BuildHasherDefault<Fnv>>,
    comms: &'a mut Interner,
    stacks: &'a mut Stacks,
    maps: &'a mut Maps,
    lane: Option<&'a mut LaneCfg>,
}

// call chain context markers (perf_event.h's enum perf_callchain_context)
const CONTEXT_HV: u64 = -32i64 as u64;
const CONTEXT_KERNEL: u64 = -128i64 as u64;
const CONTEXT_USER: u64 = -512i64 as u64;
const CONTEXT_GUEST: u64 = -2048i64 as u64;
const CONTEXT_GUEST_KERNEL: u64 = -2176i64 as u64;
const CONTEXT_GUEST_USER: u64 = -2560i64 as u64;
/// Where a chain without markers changes from kernel to user addresses (x86-64, arm64).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Unmarked,
    Kernel,
    User,
    /// a guest's: no map of ours places it
    Guest,
}

/// A sample's call chain as frames: kernel addresses as they are, user ones placed in the
/// process's mappings at this point of the replay. A marker that is no context (a -1 where the
/// kernel's user-stack walk read garbage) makes the chain corrupt: it is dropped whole, as perf
/// drops it (`perf script` prints such a sample without frames).
fn chain_frames(chain: &[u64], space: Option<&Space>) -> Vec<Frame> {
    let mut ctx = Context::Unmarked;
    let mut out = Vec::with_capacity(chain.len());
    for &addr in chain {
        if addr >= PERF_CONTEXT_MAX {
            ctx = match addr {
                CONTEXT_KERNEL | CONTEXT_HV => Context::Kernel,
                CONTEXT_USER => Context::User,
                CONTEXT_GUEST | CONTEXT_GUEST_KERNEL | CONTEXT_GUEST_USER => Context::Guest,
                _ => return Vec::new(),
            };
            continue;
        }
        let user = match ctx {
            Context::Unmarked => addr < KERNEL_HALF,
            Context::Kernel => false,
            Context::User => true,
            Context::Guest => {
                out.push(Frame { dso: NO_MAP, off: addr, addr });
                continue;
            }
        };
        let (dso, off) = if user { place(space, addr) } else { (KERNEL, addr) };
        out.push(Frame { dso, off, addr });
    }
    out
}

fn take_event(b: &mut Batch, attr: usize, record: &RawEventRecord, st: &mut State, stacks_wanted: bool, big: bool) -> bool {
    if record.record_type == RecordType::MMAP || record.record_type == RecordType::MMAP2 {
        // read here, not by the crate: it asserts on a damaged MMAP2 build id (a panic)
        let data = record.data.as_slice();
        if let Some(m) = parse_mmap(&data, record.misc, record.record_type == RecordType::MMAP2, big) {
            st.maps.mmap(m);
        }
        return true;
    }
    if record.record_type == RecordType::SAMPLE {
        if let Some(l) = st.lane.as_deref_mut() {
            // a block request goes to the lane read off its record, without the crate's whole parse
            if let Some(s) = lane_sample(&record.data.as_slice(), &record.parse_info, big) {
                let comm = thread_comm(st.threads, st.comms, s.tid);
                if to_lane(l, &mut b.lane, attr, &s, comm, st.comms, big) {
                    return true;
                }
            }
        }
    }
    // only the kinds kept here are parsed
    let wanted = [RecordType::SAMPLE, RecordType::COMM, RecordType::FORK, RecordType::LOST, RecordType::THROTTLE, RecordType::LOST_SAMPLES];
    if !wanted.contains(&record.record_type) {
        return true;
    }
    let Ok(parsed) = record.parse() else { return false }; // a sane size, contents that do not parse
    match parsed {
        EventRecord::Sample(s) => {
            let tid = s.tid.unwrap_or(-1);
            let comm = thread_comm(st.threads, st.comms, tid);
            if let (Some(l), Some(raw)) = (st.lane.as_deref_mut(), &s.raw) {
                let raw = raw.as_slice();
                let mine = LaneSample { ts: s.timestamp.unwrap_or(0), cpu: s.cpu.unwrap_or(TID_UNKNOWN_CPU), tid, raw: &raw };
                if to_lane(l, &mut b.lane, attr, &mine, comm, st.comms, big) {
                    return true;
                }
            }
            b.ts.push(s.timestamp.unwrap_or(0));
            b.cpu.push(s.cpu.unwrap_or(TID_UNKNOWN_CPU));
            b.pid.push(s.pid.unwrap_or(-1));
            b.tid.push(tid);
            b.period.push(s.period.unwrap_or(1));
            b.attr.push(attr as u32);
            b.comm.push(comm);
            let stack = match (&s.callchain, stacks_wanted) {
                (Some(chain), true) => st.stacks.chain_id(chain, s.pid.unwrap_or(tid), st.maps),
                _ => -1,
            };
            b.stack.push(stack);
            let raw = s.raw.map(|r| r.as_slice()).unwrap_or_default();
            b.raw_off.push(b.raw.len() as u64);
            b.raw_len.push(raw.len() as u32);
            b.raw.extend_from_slice(&raw);
        }
        EventRecord::Comm(c) => {
            let name = String::from_utf8_lossy(&c.name.as_slice()).into_owned();
            st.threads.insert(c.tid, st.comms.id(&name));
            if c.is_execve {
                st.maps.exec(c.pid);
            }
        }
        EventRecord::Fork(f) => {
            // the child starts with its parent's name; one never named keeps perf's ":tid"
            if let Some(&c) = st.threads.get(&f.ptid) {
                st.threads.insert(f.tid, c);
            }
            st.maps.fork(f.pid, f.ppid);
        }
        EventRecord::Lost(l) => {
            let cpu = record.common_data().ok().and_then(|d| d.cpu).unwrap_or(TID_UNKNOWN_CPU);
            b.lost.push((cpu, l.count, false));
        }
        EventRecord::Throttle(_) => b.throttled += 1,
        EventRecord::Raw(r) if r.record_type == RecordType::LOST_SAMPLES => {
            let data = r.data.as_slice();
            let n = data.get(..8).and_then(|w| w.try_into().ok()).map(|w: [u8; 8]| match r.parse_info.endian {
                linux_perf_event_reader::Endianness::BigEndian => u64::from_be_bytes(w),
                linux_perf_event_reader::Endianness::LittleEndian => u64::from_le_bytes(w),
            });
            let cpu = r.common_data().ok().and_then(|d| d.cpu).unwrap_or(TID_UNKNOWN_CPU);
            b.lost.push((cpu, n.unwrap_or(0), true));
        }
        _ => {}
    }
    true
}

/// The comm a thread has at this point of the replay: perf's ":tid" for one it never saw named.
fn thread_comm(threads: &HashMap<i32, u32, BuildHasherDefault<Fnv>>, comms: &mut Interner, tid: i32) -> u32 {
    match threads.get(&tid) {
        Some(&c) => c,
        None => comms.id(&format!(":{tid}")),
    }
}

/// What the lane reads of a sample: its time, CPU, thread and RAW payload.
struct LaneSample<'a> {
    ts: u64,
    cpu: u32,
    tid: i32,
    raw: &'a [u8],
}

/// The sample fields a block request in the lane needs, read off the record by its attr's
/// sample_type in the order the kernel writes them (perf_event.h `PERF_RECORD_SAMPLE`), as the
/// crate's `SampleRecord::parse` reads them; None where the record has fields this does not read
/// (a READ group, anything after RAW) or no RAW, or is short: then the crate parses it whole.
fn lane_sample<'a>(data: &'a [u8], info: &linux_perf_event_reader::RecordParseInfo, big: bool) -> Option<LaneSample<'a>> {
    use linux_perf_event_reader::SampleFormat as F;
    let f = info.sample_format;
    let read = F::IDENTIFIER | F::IP | F::TID | F::TIME | F::ADDR | F::ID | F::STREAM_ID | F::CPU | F::PERIOD | F::CALLCHAIN | F::RAW;
    if !f.contains(F::RAW) || !read.contains(f) {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        let w: [u8; 8] = data.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if big { u64::from_be_bytes(w) } else { u64::from_le_bytes(w) })
    };
    let half = |at: usize| -> Option<u32> {
        let w: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
    };
    // the fixed fields are u64 words, each where the words present before it end
    let words = |before: F| 8 * (f & before).bits().count_ones() as usize;
    let to_tid = F::IDENTIFIER | F::IP;
    let to_cpu = to_tid | F::TID | F::TIME | F::ADDR | F::ID | F::STREAM_ID;
    let mut at = words(to_cpu | F::CPU | F::PERIOD);
    if data.len() < at {
        return None;
    }
    let mut s = LaneSample { ts: 0, cpu: TID_UNKNOWN_CPU, tid: -1, raw: &[] };
    if f.contains(F::TID) {
        s.tid = half(words(to_tid) + 4)? as i32; // u32 pid, u32 tid
    }
    if f.contains(F::TIME) {
        s.ts = word(words(to_tid | F::TID))?;
    }
    if f.contains(F::CPU) {
        s.cpu = half(words(to_cpu))?; // u32 cpu, u32 reserved
    }
    if f.contains(F::CALLCHAIN) {
        let nr = usize::try_from(word(at)?).ok()?;
        at = at.checked_add(8)?.checked_add(nr.checked_mul(8)?)?;
    }
    let size = half(at)? as usize;
    s.raw = data.get(at + 4..at.checked_add(4)?.checked_add(size)?)?;
    Some(s)
}

/// A block request's sample into the lane; false when it is no block request the lane takes.
fn to_lane(l: &mut LaneCfg, out: &mut Lane, attr: usize, s: &LaneSample, comm: u32, comms: &Interner, big: bool) -> bool {
    let rec = s.raw;
    if rec.is_empty() || !l.tracepoint_attrs.get(attr).copied().unwrap_or(false) {
        return false;
    }
    let id = l.common_type.read(rec, big);
    let Some(i) = l.kinds.iter().position(|k| k.id == id) else { return false };
    let k = &l.kinds[i];
    if rec.len() < k.fixed_end {
        l.short[i] += 1; // damaged: counted, neither in the lane nor a frame
        return true;
    }
    let comm = comms.names.get(comm as usize).map_or(&b""[..], |c| c.as_bytes());
    let rwbs = k.rwbs.map_or(&b""[..], |f| c_string(f.raw(rec)));
    if comm.contains(&b'\n') || rwbs.contains(&b'\n') {
        return false; // the lane's strings are handed over '\n'-terminated: this one goes as a frame
    }
    let dev = k.dev.read(rec, big) as u64;
    let ev = LaneEvent {
        kind: k.kind,
        ts: s.ts as i64,
        cpu: s.cpu as i16,
        pid: s.tid,
        comm,
        major: (dev >> 20) as u32,
        minor: (dev & 0xF_FFFF) as u32,
        dev: None,
        rwbs,
        sector: k.sector.read(rec, big) as u64,
        nr: k.nr_sector.map_or(0, |f| f.read(rec, big) as u32),
        bytes: k.bytes.map(|f| f.read(rec, big) as u64),
    };
    out.push(&ev, &mut l.strings);
    true
}

fn clock_name(c: PerfClock) -> &'static str {
    match c {
        PerfClock::Default => "perf",
        PerfClock::ClockId(id) => match id {
            ClockId::Realtime => "realtime",
            ClockId::Monotonic => "monotonic",
            ClockId::MonotonicRaw => "monotonic_raw",
            ClockId::Boottime => "boottime",
            ClockId::RealtimeCoarse => "realtime_coarse",
            ClockId::MonotonicCoarse => "monotonic_coarse",
            _ => "other",
        },
    }
}

fn read_meta(f: &PerfFile) -> Meta {
    let s = |r: Result<Option<&str>, linux_perf_data::Error>| r.ok().flatten().map(str::to_owned);
    let nr = f.nr_cpus().ok().flatten();
    let attrs = f
        .event_attributes()
        .iter()
        .map(|a| {
            let attr = a.attributes();
            let tp = match attr.type_ {
                PerfEventType::Tracepoint(id) => Some(id),
                _ => None,
            };
            (a.name().unwrap_or("").to_owned(), tp, attr.sample_format.bits())
        })
        .collect();
    Meta {
        hostname: s(f.hostname()),
        os_release: s(f.os_release()),
        perf_version: s(f.perf_version()),
        arch: s(f.arch()),
        cpu_desc: s(f.cpu_desc()),
        nr_cpus_online: nr.as_ref().map(|n| n.nr_cpus_online),
        nr_cpus_available: nr.map(|n| n.nr_cpus_available),
        cmdline: f.cmdline().ok().flatten().map(|v| v.into_iter().map(str::to_owned).collect()),
        total_mem_kb: f.total_mem().ok().flatten(),
        clockid: f.clock_data().ok().flatten().map(|c| c.clockid),
        cpu_id: s(f.cpu_id()),
        clock: f.event_attributes().first().map(|a| clock_name(a.attributes().clock).to_owned()),
        big_endian: f.endian() == linux_perf_data::Endianness::BigEndian,
        simpleperf: f.simpleperf_meta_info().ok().flatten().is_some(),
        features: f.features().iter().map(|x| x.to_string()).collect(),
        attrs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn open(bytes: Vec<u8>, pipe: bool) -> Result<Scanner, OpenError> {
        Scanner::open(Box::new(Cursor::new(bytes)), pipe)
    }

    #[test]
    fn not_perf_data_is_an_error_not_a_panic() {
        assert!(open(b"hello world, this is no perf.data at all....".to_vec(), false).is_err());
        assert!(open(Vec::new(), true).is_err());
        assert!(open(b"PERFILE2".to_vec(), false).is_err());
    }

    #[test]
    fn pipe_tracing_data_is_taken_out_of_the_stream() {
        // pipe header, one HEADER_TRACING_DATA record (12 bytes + 4 pad) announcing 8 bytes, the 8
        // bytes, then a FINISHED_ROUND record: what passes on is the records without the 8 bytes
        let mut s = b"PERFILE2".to_vec();
        s.extend_from_slice(&16u64.to_le_bytes());
        s.extend_from_slice(&66u32.to_le_bytes());
        s.extend_from_slice(&0u16.to_le_bytes());
        s.extend_from_slice(&16u16.to_le_bytes());
        s.extend_from_slice(&8u32.to_le_bytes());
        s.extend_from_slice(&[0; 4]);
        s.extend_from_slice(b"formats!");
        s.extend_from_slice(&68u32.to_le_bytes());
        s.extend_from_slice(&0u16.to_le_bytes());
        s.extend_from_slice(&8u16.to_le_bytes());
        let t = Arc::new(Mutex::new(Vec::new()));
        let mut p = PipeTracing { inner: Cursor::new(s.clone()), out: Vec::new(), at: 0, framing: true, big_endian: false, started: false, tracing: t.clone(), ends: Default::default() };
        let mut out = Vec::new();
        p.read_to_end(&mut out).unwrap();
        let mut want = s[..32].to_vec();
        want.extend_from_slice(&s[40..]);
        assert_eq!(out, want);
        assert_eq!(&*t.lock().unwrap(), b"formats!");
    }

    #[test]
    fn split_records_join_into_the_tracing_data() {
        let mut whole = Vec::new();
        whole.extend_from_slice(&66u32.to_le_bytes());
        whole.extend_from_slice(&[0, 0, 0, 0]);
        whole.extend_from_slice(&5u32.to_le_bytes());
        whole.extend_from_slice(b"abcde");
        let mut split = Vec::new();
        assert!(user_record(SIMPLEPERF_SPLIT, &whole[..6], &mut split, false).is_none());
        assert_eq!(user_record(SIMPLEPERF_SPLIT_END, &whole[6..], &mut split, false).as_deref(), Some(&b"abcde"[..]));
        // a size past the record: the data is not in it (perf's pipe mode), never read past it
        let mut bad = 1000u32.to_le_bytes().to_vec();
        bad.extend_from_slice(b"xy");
        assert_eq!(user_record(HEADER_TRACING_DATA, &bad, &mut Vec::new(), false), None);
        assert_eq!(user_record(HEADER_TRACING_DATA, &u32::MAX.to_le_bytes(), &mut Vec::new(), false), None);
    }

    #[test]
    fn counts_past_their_section_are_refused() {
        // CMDLINE: u32 count, then strings of at least 4 bytes each
        let mut cmd = 2u32.to_le_bytes().to_vec();
        cmd.extend_from_slice(&[0; 8]);
        assert!(check_counts(FEATURE_CMDLINE, &cmd, false).is_ok());
        assert!(check_counts(FEATURE_CMDLINE, &u32::MAX.to_le_bytes(), false).is_err());
        // EVENT_DESC: one attr of 8 bytes, 2 ids, a 4-byte name: 8 + 8 + 8 + 4 + 16 bytes
        let mut d = [1u32, 8].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        d.extend_from_slice(&[0; 8]);
        d.extend([2u32, 4].iter().flat_map(|v| v.to_le_bytes()));
        d.extend_from_slice(&[0; 4 + 16]);
        assert!(check_counts(FEATURE_EVENT_DESC, &d, false).is_ok());
        assert!(check_counts(FEATURE_EVENT_DESC, &d[..d.len() - 1], false).is_err());
        d[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // nr_ids
        assert!(check_counts(FEATURE_EVENT_DESC, &d, false).is_err());
    }

    #[test]
    fn a_big_endian_attrs_bitfield_word_is_reversed_for_the_crate() {
        // disabled (field 0) and use_clockid (field 25), as a big-endian perf lays them out: from bit 63 down
        let mut attr = vec![0u8; 128];
        attr[40..48].copy_from_slice(&((1u64 << 63) | (1u64 << (63 - 25))).to_be_bytes());
        let (at, word) = be_attr_flags(&attr, 1000).expect("a patch");
        assert_eq!(at, 1040);
        assert_eq!(u64::from_be_bytes(word.try_into().unwrap()), 1 | (1 << 25));
        assert!(be_attr_flags(&attr[..44], 0).is_none());
    }

    #[test]
    fn chain_markers_say_kernel_or_user_and_a_bad_one_drops_the_chain() {
        let mut maps = Maps::default();
        maps.mmap(crate::maps::MmapRecord { pid: 7, start: 0x1000, len: 0x1000, pgoff: 0x2000, path: "/a".into(), build_id: None });
        let space = maps.space(7);
        // perf script -D of a real sample: kernel marker, 3 kernel frames, user marker, 1 user frame
        let k = |a: u64| Frame { dso: KERNEL, off: a, addr: a };
        let chain = [CONTEXT_KERNEL, 0xffffffff81424310, CONTEXT_USER, 0x1010, 0x9999];
        assert_eq!(chain_frames(&chain, space), vec![
            k(0xffffffff81424310),
            Frame { dso: 0, off: 0x2010, addr: 0x1010 },
            Frame { dso: NO_MAP, off: 0x9999, addr: 0x9999 },
        ]);
        // no markers: the address says which half it is in
        assert_eq!(chain_frames(&[0xffffffff81000130, 0x1010], space)[0], k(0xffffffff81000130));
        assert_eq!(chain_frames(&[0xffffffff81000130, 0x1010], space)[1].dso, 0);
        // a -1 after the user frames (seen on this machine): perf discards the whole chain
        assert!(chain_frames(&[CONTEXT_KERNEL, 0xffffffff81424310, CONTEXT_USER, 0x1010, u64::MAX], space).is_empty());
        // a guest's frames are no frames of ours
        assert_eq!(chain_frames(&[CONTEXT_GUEST_USER, 0x1010], space)[0].dso, NO_MAP);
    }

    #[test]
    fn stacks_are_interned_once() {
        let mut s = Stacks::default();
        let f = |a: u64| Frame { dso: KERNEL, off: a, addr: a };
        assert_eq!(s.id(vec![f(1), f(2), f(3)]), 0);
        assert_eq!(s.id(vec![f(4)]), 1);
        assert_eq!(s.id(vec![f(1), f(2), f(3)]), 0);
        // the same address in another file (another process's map) is another frame
        assert_eq!(s.id(vec![Frame { dso: 0, off: 1, addr: 1 }, f(2), f(3)]), 2);
        assert_eq!(s.offsets, vec![0, 3, 4, 7]);
    }
}

/// Damaged copies of a real perf.data (cut anywhere, bytes overwritten): each reads to an end, a
/// `Damage` or an `OpenError`, never a panic or an endless loop. cargo fuzz does the same at random
/// (fuzz/fuzz_targets/perf_data.rs).
#[cfg(test)]
mod damaged {
    use super::*;
    use crate::fuzz_checks::perf_data::{read_all, Reading};
    use std::io::Cursor;

    fn drain(bytes: Vec<u8>, pipe: bool) -> (usize, Option<Damage>) {
        let Ok(mut s) = Scanner::open(Box::new(Cursor::new(bytes)), pipe) else { return (0, None) };
        let n = samples(&mut s);
        (n, s.damage.clone())
    }

    /// The samples a scanner gives to the end of its input.
    fn samples(s: &mut Scanner) -> usize {
        let mut n = 0;
        for _ in 0..100_000 {
            let b = s.next_batch(1 << 12, 1 << 20);
            if b.is_empty() && b.lost.is_empty() {
                return n;
            }
            n += b.len();
        }
        panic!("the scanner never ended");
    }

    fn fixture() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/perf-block.perf.data");
        std::fs::read(path).expect("fixtures/perf-block.perf.data")
    }

    #[test]
    fn the_whole_fixture_has_perf_scripts_count() {
        // `perf script -i fixtures/perf-block.perf.data | wc -l` = 5356
        let (n, damage) = drain(fixture(), false);
        assert_eq!(n, 5356);
        assert!(damage.is_none());
    }

    #[test]
    fn cut_files_read_up_to_the_cut_and_say_where() {
        // file mode keeps the features (format files included) after the data (744 + 725944,
        // `perf report --header-only`): a file cut before the data cannot be opened; one cut inside
        // the data reads its whole records, fewer the earlier the cut, and says where it was cut
        let data = fixture();
        for cut in [7, 8, 743] {
            let e = Scanner::open(Box::new(Cursor::new(data[..cut].to_vec())), false).err().expect("refused");
            assert!(e.offset <= data.len() as u64 && !e.what.is_empty(), "{cut}: {e:?}");
        }
        let mut last = 0;
        for cut in (800..744 + 725_944).step_by(72_500).chain([744 + 725_943]) {
            let mut s = Scanner::open(Box::new(Cursor::new(data[..cut].to_vec())), false).expect("opened");
            let c = s.cut.expect("a cut");
            assert_eq!((c.at, c.claimed_end), (cut as u64, 744 + 725_944));
            assert!(c.data_end <= cut as u64 && c.data_end + (1 << 16) > cut as u64, "{c:?}");
            assert!(s.meta().features.is_empty() && s.tracing_data().is_none());
            let n = samples(&mut s);
            assert!(s.damage.is_none(), "{cut}: {:?}", s.damage);
            assert!(n >= last && n <= 5356, "{cut}: {n} samples after {last}");
            last = n;
        }
        assert!(last > 5300, "{last}");
    }

    #[test]
    fn a_cut_pipe_says_so_and_a_whole_one_does_not() {
        let data = fixture();
        // a pipe stream made of the file's data section behind a pipe header: whole, then cut
        let mut pipe = b"PERFILE2".to_vec();
        pipe.extend_from_slice(&16u64.to_le_bytes());
        let mut ends = RecordEnds { next: 16, ..Default::default() };
        ends.pass(&pipe);
        for piece in data[744..744 + 725_944].chunks(1001) {
            ends.pass(piece);
        }
        assert!(!ends.inside());
        let mut cut = RecordEnds { next: 16, ..Default::default() };
        cut.pass(&pipe);
        cut.pass(&data[744..744 + 1003]);
        assert!(cut.inside());
    }

    /// The data section's record offsets (u32 type, u16 misc, u16 size headers) from its start
    /// (byte 744, `perf report --header-only`).
    fn records(data: &[u8]) -> Vec<usize> {
        let mut at = 744usize;
        let mut out = Vec::new();
        while at < 744 + 725_944 {
            out.push(at);
            at += usize::from(u16::from_le_bytes([data[at + 6], data[at + 7]]));
        }
        out
    }

    #[test]
    fn a_garbage_record_size_is_skipped_up_to_the_next_record_and_counted() {
        // the 4000th record (a 128-byte sample) given a size below a header's, 0, one not a multiple
        // of 8, one ending inside another record (65000, 136: the bytes there are no header): the
        // reader finds the next record and goes on; one sample lost. (A size that happens to end on
        // another record's header, as 1024 does here, cannot be told from a true one.)
        let data = fixture();
        let at = records(&data)[4000];
        assert_eq!(u16::from_le_bytes([data[at + 6], data[at + 7]]), 128);
        for size in [3u16, 0, 100, 65000, 136] {
            let mut d = data.clone();
            d[at + 6..at + 8].copy_from_slice(&size.to_le_bytes());
            let mut s = Scanner::open(Box::new(Cursor::new(d)), false).expect("opened");
            let n = samples(&mut s);
            assert!(s.damage.is_none(), "{size}: {:?}", s.damage);
            assert_eq!(n, 5355, "size {size}");
            let k = s.skips();
            assert_eq!((k.stretches, k.bytes, k.first), (1, 128, Some(at as u64)), "size {size}: {k:?}");
        }
    }

    #[test]
    fn a_sample_whose_contents_do_not_parse_is_skipped_and_counted() {
        // the same sample, its size sane, its RAW size (at byte 56 of the record: `perf report -D`
        // shows the payload's 68 bytes there) past the record's end
        let mut data = fixture();
        let at = records(&data)[4000];
        assert_eq!(u32::from_le_bytes(data[at + 56..at + 60].try_into().unwrap()), 68);
        data[at + 56..at + 60].copy_from_slice(&4000u32.to_le_bytes());
        let mut s = Scanner::open(Box::new(Cursor::new(data)), false).expect("opened");
        let n = samples(&mut s);
        assert_eq!((n, s.bad_records, s.skips().stretches), (5355, 1, 0));
        assert!(s.damage.is_none());
    }

    #[test]
    fn a_feature_size_past_the_file_is_an_error_not_an_allocation() {
        // the feature table follows the data section (744 + 725944, `perf report --header-only`);
        // its first entry's size: make it 2^62
        let mut data = fixture();
        let at = 744 + 725_944 + 8;
        data[at..at + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
        let e = Scanner::open(Box::new(Cursor::new(data)), false).err().expect("refused");
        assert!(e.what.contains("feature section"), "{e:?}");
    }

    #[test]
    fn a_decoding_dropped_mid_stream_ends_its_thread() {
        let s = Scanner::open(Box::new(Cursor::new(fixture())), false).expect("opens");
        let shared = decode::Shared::new(s);
        let mut d = decode::start(shared.clone(), 1 << 10, 1 << 16, 1).expect("a decoding thread");
        assert!(d.take().is_some_and(|b| !b.is_empty()));
        drop(d); // its thread waits on the bound: told, it ends, and the scanner is the caller's alone
        assert_eq!(Arc::strong_count(&shared), 1);
        let mut s = shared.lock().expect("not poisoned");
        assert!(!s.done() && !s.next_batch(1 << 10, 1 << 16).is_empty()); // it reads on from there
    }

    #[test]
    fn read_ahead_gives_what_reading_in_place_gives_whole_cut_or_damaged() {
        let data = fixture();
        let at = records(&data)[4000];
        let mut inputs = vec![data.clone(), data[..400_000].to_vec()];
        let mut bad_size = data.clone();
        bad_size[at + 6..at + 8].copy_from_slice(&3u16.to_le_bytes());
        inputs.push(bad_size);
        // a sample retyped as PERF_RECORD_COMPRESSED: its bytes are no zstd frame, the crate's reading
        // fails there (damage, with the offset the reader had reached)
        let mut compressed = data.clone();
        compressed[at..at + 4].copy_from_slice(&81u32.to_le_bytes());
        inputs.push(compressed);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..12 {
            let mut d = data.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = 744 + (seed % 725_944) as usize; // inside the data section
                d[at] = (seed >> 32) as u8;
            }
            inputs.push(d);
        }
        let mut ends = Vec::new();
        for (i, d) in inputs.into_iter().enumerate() {
            let here = read_all(&d, Reading::InPlace).unwrap_or_else(|| panic!("input {i} opens"));
            // (decoded with room for one batch only, and with the bound a run has)
            for how in [Reading::Ahead, Reading::Decoded(1), Reading::Decoded(64 << 20)] {
                assert!(Some(&here) == read_all(&d, how).as_ref(), "input {i}: reading {how:?} differs");
            }
            ends.push(here.lines().last().unwrap_or_default().to_owned());
        }
        // the inputs reach each ending: whole, cut, a stretch skipped, damage, a record that did not parse
        assert!(ends[0].starts_with("5746 None (0, 0, None) 0") && ends[1].starts_with("3187 None"), "{ends:?}");
        assert!(ends[2].contains("(1, 128, Some(") && ends[3].contains("Some(Damage { offset: "), "{ends:?}");
        assert!(ends.iter().any(|e| e.ends_with(" 1 false")), "{ends:?}");
    }

    #[test]
    fn overwritten_bytes_never_panic() {
        let data = fixture();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..40 {
            let mut d = data.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % d.len() as u64) as usize;
                d[at] = (seed >> 32) as u8;
            }
            drain(d.clone(), false);
            drain(d, true);
        }
    }
}
