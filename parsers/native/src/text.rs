//! The text scanner: chunks of perf script / ftrace text -> typed columns, call chains, lost-event
//! counts and skipped lines.
//!
//! Python reads the file in chunks of whole lines (parsers/text.py) and hands each one over with
//! the lines it cut for being over `MAX_LINE_BYTES`. A chunk's last event may have call-chain
//! lines in the next chunk, so the lines from its last event line on are carried into the next
//! call. Every line is classified once: an event line (typed into its kind's columns), a frame of
//! the call chain above it, an ftrace stack marker, a lost-event record, a line that carries
//! nothing, or a skipped line (counted; the first one's number and text kept).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

#[path = "text_ahead.rs"]
pub mod ahead;
#[path = "text_cols.rs"]
pub mod cols;
#[path = "text_lane.rs"]
pub mod lane;
#[path = "text_line.rs"]
pub mod line;
#[path = "text_payload.rs"]
pub mod payload;

pub use cols::{Class, KindCols};
use line::{Dialect, Head};
use payload::{signed, unsigned};

/// No trace line comes near this: a longer one is damage, one skipped line (parsers/text.py).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// A "call chain" longer than this is garbage: parse it rather than grow the carry.
pub const MAX_CARRY_LINES: usize = 1 << 18;
const CUT_SHOWN: usize = 60; // how much of a cut line the "first skipped line" shows
const CUT_NOTE: &str = "[a line over 1 MB, cut] ";
// ns timestamps are i64: the latest second (and nanosecond in it) one can hold
const MAX_SEC: i64 = i64::MAX / 1_000_000_000;
const MAX_SEC_NS: i64 = i64::MAX % 1_000_000_000;

/// What the scanner needs to know of the dialect and of the reports' event kinds.
#[derive(Clone, Debug)]
pub struct Config {
    pub dialect: Dialect,
    pub stacks: bool,  // false: call chains are recognised (not skipped) but not interned
    pub payload: bool, // false: block events come without their payload text
    pub lane: bool,    // true: insert/issue/complete go to the block lane only, not to frames
    pub block_events: Vec<String>,
    pub net_events: Vec<String>,
    // ftrace prints event names without their system: (prefix, system) and (name, full name)
    pub systems: Vec<(String, String)>,
    pub exact: Vec<(String, String)>,
}

impl Config {
    /// The block report's scanner (text_ahead.rs): no call chains, no payload text, block
    /// requests in the lane; ftrace's names given their systems as `systems` and `exact` say.
    pub fn block_lane(dialect: Dialect, block_events: Vec<String>, net_events: Vec<String>, systems: Vec<(String, String)>, exact: Vec<(String, String)>) -> Self {
        Config { dialect, stacks: false, payload: false, lane: true, block_events, net_events, systems, exact }
    }

    /// `block_lane` for perf script text with the block and net events the reports know (the
    /// examples' and tests' scanner).
    pub fn perf_block_lane() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        let block = s(&["block:block_rq_insert", "block:block_rq_issue", "block:block_rq_complete", "block:block_rq_requeue"]);
        Config::block_lane(Dialect::Perf, block, s(&["net:net_dev_xmit", "net:netif_receive_skb"]), Vec::new(), Vec::new())
    }
}

/// One line of a chunk: its bytes, or the first bytes of a line cut for being over the bound.
#[derive(Clone, Copy)]
enum Line<'a> {
    Text(&'a [u8]),
    Cut(&'a [u8]),
}

/// What one chunk gave.
#[derive(Debug, Default)]
pub struct ChunkOut {
    pub kinds: Vec<KindCols>,
    pub skipped: u64,
    pub first_skip: Option<(u64, String)>,
    pub lost_events: i128,
    pub lost_by_cpu: BTreeMap<i64, i128>,
    // call chains first seen in this chunk (ids follow on from `stacks_before`): their frames,
    // each followed by '\n', and how many frames each has
    pub stacks_before: usize,
    pub new_frames: Vec<u8>,
    pub new_counts: Vec<u32>,
    // the block lane (Config::lane), and the lane strings first seen in this chunk
    pub lane: lane::Lane,
    pub lane_new: (Vec<u8>, u32),
    pub lane_strings_before: usize,
    pub lines: u64, // lines scanned (`Scanner::scan_alone`: its line numbers count from the chunk's first)
    pub heads: u32, // event lines among them
    pub markers: u32, // ftrace's stack markers among them: like an event line, each owns the frames after it
}

impl ChunkOut {
    fn skip(&mut self, no: u64, text: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.first_skip.is_none() {
            self.first_skip = Some((no, text()));
        }
    }
}

pub struct Scanner {
    cfg: Config,
    next_no: u64,                      // the line number of the first carried line
    carry: Vec<u8>,                    // carried lines, each followed by '\n'
    carry_cuts: Vec<(usize, Vec<u8>)>, // cut lines among them: (index among the carried lines, first bytes)
    kinds: HashMap<Vec<u8>, usize>,    // event name as printed -> index in `names`
    names: Vec<(String, Class)>,
    lane_kinds: Vec<u8>, // per kind: its lane kind code, 0 where it goes to frames
    lane_strings: lane::Interner,
    stacks: HashMap<Vec<u8>, i32>,
    named: line::Named, // event names met, by what their lines print before the payload
}

/// Where a call-chain frame goes: the event line above it (perf), or the event an ftrace stack
/// marker points at (None where that CPU had no event yet in this chunk).
#[derive(Clone, Copy, PartialEq)]
enum Owner {
    Nobody,
    Head(u32),
    Marker(Option<u32>),
}

/// The state of one chunk's pass.
struct Pass {
    out: ChunkOut,
    by_kind: Vec<Option<usize>>, // kind index -> position in out.kinds
    seq: u32,                    // event lines so far
    owner: Owner,
    last_on_cpu: HashMap<i16, u32>,
    group_of: HashMap<u32, usize>, // seq -> call chain being gathered
    groups: Vec<(Vec<u8>, u32)>,   // frames joined by '\n', and how many
}

fn text(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// `str::trim`, with ASCII whitespace stripped bytewise first: nearly every line's ends are ASCII,
/// and the char-by-char walk cost more than parsing the payload. Where an end is not ASCII, the
/// full trim decides (Unicode whitespace such as U+00A0 is trimmed as `str::trim` trims it).
fn trim_str(s: &str) -> &str {
    // char::is_whitespace over ASCII: space, \t, \n, \x0B, \x0C, \r
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
    let b = s.as_bytes();
    let a = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let z = b.iter().rposition(|c| !ws(c)).map_or(a, |i| i + 1);
    match (b.get(a), z.checked_sub(1).and_then(|i| b.get(i))) {
        (Some(&x), Some(&y)) if x < 0x80 && y < 0x80 => s.get(a..z).unwrap_or_default(),
        (None, _) => "",
        _ => s.trim(),
    }
}

/// `b` as valid UTF-8 (invalid bytes replaced), trimmed as `str::trim` trims. Nearly every comm
/// and payload is ASCII: it needs neither the UTF-8 check nor the replacement, and is trimmed
/// bytewise (what `trim_str` does to ASCII ends).
fn clean(b: &[u8]) -> Cow<'_, [u8]> {
    if b.is_ascii() {
        return Cow::Borrowed(line::trim(b));
    }
    match lossy(b) {
        Cow::Borrowed(s) => Cow::Borrowed(trim_str(s).as_bytes()),
        Cow::Owned(s) => Cow::Owned(trim_str(&s).as_bytes().to_vec()),
    }
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    // the check alone is faster than the lossy walk, and nearly every line is valid
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

impl Scanner {
    pub fn new(cfg: Config) -> Self {
        Scanner {
            cfg,
            next_no: 1,
            carry: Vec::new(),
            carry_cuts: Vec::new(),
            kinds: HashMap::new(),
            names: Vec::new(),
            lane_kinds: Vec::new(),
            lane_strings: lane::Interner::default(),
            stacks: HashMap::new(),
            named: line::Named::default(),
        }
    }

    /// Interned call chains so far.
    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// Scan `data` (whole lines; the last chunk's may end without a newline), after the lines
    /// `cuts` (the first bytes of lines cut before it). None: no event line ended yet, all is carried.
    pub fn scan(&mut self, data: &[u8], cuts: &[Vec<u8>], last: bool) -> Option<ChunkOut> {
        self.scan_after(b"", data, cuts, last)
    }

    /// As `scan`, where the chunk's first line starts with `head` (the unfinished last line of the
    /// previous read): the reader hands its reads over as they are, and only that line is copied.
    pub fn scan_after(&mut self, head: &[u8], data: &[u8], cuts: &[Vec<u8>], last: bool) -> Option<ChunkOut> {
        let joined: Vec<u8>;
        let (first, data) = if head.is_empty() {
            (None, data)
        } else {
            let nl = memchr::memchr(b'\n', data).unwrap_or(data.len());
            joined = [head, data.get(..nl).unwrap_or_default()].concat();
            (Some(joined.as_slice()), data.get(nl + 1..).unwrap_or_default())
        };
        let carry = std::mem::take(&mut self.carry);
        let carry_cuts = std::mem::take(&mut self.carry_cuts);
        let lines = gather(&carry, &carry_cuts, cuts, first, data);
        let keep = if last {
            lines.len()
        } else {
            let at = lines.iter().rposition(|l| self.is_head(*l)).unwrap_or(0);
            if at == 0 && lines.len() < MAX_CARRY_LINES {
                self.keep(&lines);
                return None;
            }
            if at == 0 {
                lines.len()
            } else {
                at
            }
        };
        let out = self.pass(lines.get(..keep).unwrap_or_default(), Owner::Nobody);
        self.keep(lines.get(keep..).unwrap_or_default());
        self.next_no += keep as u64;
        Some(out)
    }

    /// One chunk on its own, for scanning chunks in parallel (two scanners, every other chunk):
    /// nothing is carried between calls, so the frames that open a chunk belong to the last event
    /// of the one before (`after_head`: an earlier chunk had an event line or a stack marker), as they would were
    /// that event carried over; line numbers count from the chunk's first line (1). Only without
    /// call chains (`Config::stacks` false), which would need the event they hang from.
    pub fn scan_alone(&mut self, head: &[u8], data: &[u8], cuts: &[Vec<u8>], after_head: bool) -> ChunkOut {
        let joined: Vec<u8>;
        let first = if head.is_empty() {
            None
        } else {
            let nl = memchr::memchr(b'\n', data).unwrap_or(data.len());
            joined = [head, data.get(..nl).unwrap_or_default()].concat();
            Some(joined.as_slice())
        };
        let rest = if head.is_empty() { data } else { data.get(memchr::memchr(b'\n', data).map_or(data.len(), |nl| nl + 1)..).unwrap_or_default() };
        let lines = gather(&[], &[], cuts, first, rest);
        self.next_no = 1;
        // seq 0 is no event of this chunk: the carried event's frames are recognised, never kept
        self.pass(&lines, if after_head && !self.cfg.stacks { Owner::Head(0) } else { Owner::Nobody })
    }

    fn keep(&mut self, lines: &[Line]) {
        for (i, l) in lines.iter().enumerate() {
            match l {
                Line::Text(t) => {
                    self.carry.extend_from_slice(t);
                    self.carry.push(b'\n');
                }
                Line::Cut(c) => self.carry_cuts.push((i, c.to_vec())),
            }
        }
    }

    /// The line as an event line, with its kind where its name is one met before, or (perf) as the
    /// TAB-led frame it plainly is: a -g capture's lines are 97% frames, and no comm starts with a TAB.
    fn classify<'a>(&self, l: &'a [u8]) -> Result<(Head<'a>, Option<usize>), Option<&'a [u8]>> {
        let d = self.cfg.dialect;
        if d == Dialect::Perf && l.first() == Some(&b'\t') {
            if let Some(sym) = line::frame(l, Dialect::Perf) {
                return Err(Some(sym));
            }
        }
        let lead = line::lead(l, d).ok_or(None)?;
        if let Some((h, kind)) = self.named.known(&lead, d) {
            return Ok((h, Some(kind)));
        }
        lead.head(d).map(|h| (h, None)).ok_or(None)
    }

    fn is_head(&self, l: Line) -> bool {
        matches!(l, Line::Text(t) if text(t).len() <= MAX_LINE_BYTES && self.classify(text(t)).is_ok())
    }

    fn pass(&mut self, lines: &[Line], owner: Owner) -> ChunkOut {
        let mut p = Pass {
            out: ChunkOut {
                stacks_before: self.stacks.len(),
                lane_strings_before: self.lane_strings.len(),
                lines: lines.len() as u64,
                ..ChunkOut::default()
            },
            by_kind: Vec::new(),
            seq: 0,
            owner,
            last_on_cpu: HashMap::new(),
            group_of: HashMap::new(),
            groups: Vec::new(),
        };
        if self.cfg.lane {
            p.out.lane.reserve(lines.len()); // (a line is at most one event)
        }
        for (i, l) in lines.iter().enumerate() {
            let no = self.next_no + i as u64;
            match *l {
                Line::Cut(c) => p.out.skip(no, || format!("{CUT_NOTE}{}", lossy(c))),
                Line::Text(t) => self.line(&mut p, no, text(t)),
            }
        }
        self.finish(p)
    }

    fn line(&mut self, p: &mut Pass, no: u64, l: &[u8]) {
        let d = self.cfg.dialect;
        if l.len() > MAX_LINE_BYTES {
            let shown: String = lossy(l).chars().take(CUT_SHOWN).collect();
            return p.out.skip(no, || format!("{CUT_NOTE}{shown}"));
        }
        let frame = match self.classify(l) {
            Ok((h, kind)) => {
                p.seq += 1;
                p.out.heads += 1;
                p.owner = Owner::Head(p.seq);
                return self.event(p, no, l, h, kind);
            }
            Err(frame) => frame,
        };
        if d == Dialect::Ftrace {
            if let Some(cpu) = line::marker(l) {
                if let Some(cpu) = signed::<i16>(cpu) {
                    p.seq += 1;
                    p.out.markers += 1;
                    p.owner = Owner::Marker(p.last_on_cpu.get(&cpu).copied());
                }
            }
        }
        let sym = if p.owner == Owner::Nobody { None } else { frame.or_else(|| line::frame(l, d)) };
        if let (Some(sym), true) = (sym, self.cfg.stacks) {
            let owner = match (d, p.owner) {
                (Dialect::Perf, Owner::Head(s)) | (Dialect::Ftrace, Owner::Marker(Some(s))) => Some(s),
                _ => None, // ftrace's frames belong to a marker; one whose CPU had no event is dropped
            };
            if let Some(s) = owner {
                p.add_frame(s, trim_str(&lossy(sym)));
            }
        }
        let lost = line::lost(l, d);
        if let Some((cpu, n)) = lost {
            let n = i128::from(n.unwrap_or(0));
            p.out.lost_events += n;
            if let Some(cpu) = cpu {
                *p.out.lost_by_cpu.entry(cpu).or_insert(0) += n;
            }
        }
        if sym.is_none() && lost.is_none() && !line::quiet(l, d) {
            p.out.skip(no, || lossy(l).into_owned());
        }
    }

    /// The kind of an event name as printed, registered on first sight.
    fn kind(&mut self, raw: &[u8]) -> usize {
        // a capture has a handful of kinds: comparing them beats hashing the name per event
        if self.names.len() <= 16 {
            if let Some((_, &k)) = self.kinds.iter().find(|(name, _)| name.as_slice() == raw) {
                return k;
            }
        } else if let Some(&k) = self.kinds.get(raw) {
            return k;
        }
        let name = lossy(raw).into_owned();
        let name = if self.cfg.dialect == Dialect::Ftrace { self.with_system(name) } else { name };
        let class = if self.cfg.block_events.contains(&name) {
            Class::Block
        } else if self.cfg.net_events.contains(&name) {
            Class::Net
        } else {
            Class::Other
        };
        let k = self.names.len();
        self.lane_kinds.push(if self.cfg.lane { lane::kind_of(&name) } else { 0 });
        self.names.push((name, class));
        self.kinds.insert(raw.to_vec(), k);
        k
    }

    /// ftrace's "block_rq_issue" -> "block:block_rq_issue", for the systems reports know.
    fn with_system(&self, name: String) -> String {
        if !name.contains(':') {
            if let Some((_, sys)) = self.cfg.systems.iter().find(|(pre, _)| name.starts_with(pre.as_str())) {
                return format!("{sys}:{name}");
            }
        }
        self.cfg.exact.iter().find(|(k, _)| *k == name).map_or(name, |(_, v)| v.clone())
    }

    fn event(&mut self, p: &mut Pass, no: u64, l: &[u8], h: Head, known: Option<usize>) {
        let pre = h.pre;
        let sec = line::int(pre.sec);
        let frac = h.frac.iter().take(9).fold(0i64, |a, &b| a * 10 + i64::from(b - b'0')) * 10i64.pow(9 - h.frac.len().min(9) as u32);
        let cpu = signed::<i16>(pre.cpu);
        let pid = signed::<i32>(pre.pid);
        let tgid = match pre.tgid {
            Some(t) if t.iter().all(|&b| b == b'-') => Ok(None), // ftrace's "(-----)": no tgid recorded
            Some(t) => signed::<i32>(t).map(Some).ok_or(()),
            None => Ok(None),
        };
        let fits = |s: i64| s < MAX_SEC || (s == MAX_SEC && frac <= MAX_SEC_NS);
        let (Some(sec), Some(cpu), Some(pid), Ok(tgid)) = (sec.filter(|&s| fits(s)), cpu, pid, tgid) else {
            // the line is an event line whose numbers do not fit their columns
            return p.out.skip(no, || lossy(l).into_owned());
        };
        if self.cfg.dialect == Dialect::Ftrace {
            p.last_on_cpu.insert(cpu, p.seq); // whose stack marker is whose
        }
        let kind = match known {
            Some(k) => k,
            None => {
                let k = self.kind(&h.event);
                self.named.learn(&h, k);
                k
            }
        };
        let (name, class) = &self.names[kind];
        let lane_kind = self.lane_kinds.get(kind).copied().unwrap_or(0);
        // the lane types only ASCII fields of a block payload (a byte of UTF-8 or its replacement
        // is in none): one whose ends are ASCII and not whitespace is its own trim, and it types
        // as its lossy copy would
        let ascii_end = |b: Option<&u8>| b.is_some_and(|&b| b < 0x80 && !line::is_ws(b));
        let own = lane_kind != 0 && ascii_end(h.payload.first()) && ascii_end(h.payload.last());
        let body = if own { Cow::Borrowed(h.payload) } else { clean(h.payload) };
        let typed = match class {
            Class::Block => block_fields(&body, name),
            Class::Net => net_fields(&body),
            Class::Other => Some(Typed::Other),
        };
        let Some(typed) = typed else {
            return p.out.skip(no, || format!("{name}: {}", lossy(&body)));
        };
        let comm = &h.comm[if self.cfg.dialect == Dialect::Ftrace { line::instance_len(h.comm) } else { 0 }..];
        if let (Typed::Block { b, major, minor, sector, nr, bytes, .. }, true) = (&typed, lane_kind != 0) {
            let comm = clean(comm);
            let ev = lane::LaneEvent {
                kind: lane_kind,
                ts: sec * 1_000_000_000 + frac,
                cpu,
                pid,
                comm: &comm,
                major: *major,
                minor: *minor,
                dev: Some((b.major.text, b.minor.text)),
                rwbs: b.rwbs,
                sector: *sector,
                nr: *nr,
                bytes: *bytes,
            };
            return p.out.lane.push(&ev, &mut self.lane_strings);
        }
        if kind >= p.by_kind.len() {
            p.by_kind.resize(kind + 1, None);
        }
        let at = *p.by_kind[kind].get_or_insert_with(|| {
            let keep = self.cfg.payload || *class != Class::Block;
            p.out.kinds.push(KindCols::new(name.clone(), *class, keep));
            p.out.kinds.len() - 1
        });
        let k = &mut p.out.kinds[at];
        k.ts_ns.push(sec * 1_000_000_000 + frac);
        k.cpu.push(cpu);
        k.pid.push(pid);
        k.tgid.push(tgid.unwrap_or(0));
        k.tgid_ok.push(u8::from(tgid.is_some()));
        k.comm.push(Some(&clean(comm)));
        k.seq.push(p.seq);
        if let Some(s) = &mut k.payload {
            s.push(&body);
        }
        typed.push(k);
    }

    fn finish(&mut self, mut p: Pass) -> ChunkOut {
        let mut ids = Vec::with_capacity(p.groups.len());
        for (joined, count) in std::mem::take(&mut p.groups) {
            let next = self.stacks.len() as i32;
            let id = *self.stacks.entry(joined).or_insert_with_key(|key| {
                p.out.new_frames.extend_from_slice(key);
                p.out.new_counts.push(count);
                next
            });
            ids.push(id);
        }
        for k in &mut p.out.kinds {
            k.stack_id = if ids.is_empty() {
                vec![-1; k.len()]
            } else {
                k.seq.iter().map(|s| p.group_of.get(s).map_or(-1, |&g| ids[g])).collect()
            };
            k.finish();
        }
        p.out.lane_new = self.lane_strings.take_new();
        p.out
    }
}

impl Pass {
    fn add_frame(&mut self, seq: u32, sym: &str) {
        let n = self.groups.len();
        let g = *self.group_of.entry(seq).or_insert(n);
        if g == n {
            self.groups.push((Vec::new(), 0));
        }
        let (joined, count) = &mut self.groups[g];
        joined.extend_from_slice(sym.as_bytes());
        joined.push(b'\n');
        *count += 1;
    }
}

/// The lines of a chunk in order: carried lines (with the cut ones among them), the lines cut
/// since, the line the last read ended inside (`first`), then `data`'s lines.
fn gather<'a>(carry: &'a [u8], carry_cuts: &'a [(usize, Vec<u8>)], cuts: &'a [Vec<u8>], first: Option<&'a [u8]>, data: &'a [u8]) -> Vec<Line<'a>> {
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', data).count() + cuts.len() + 1);
    let mut cc = carry_cuts.iter().peekable();
    let mut take_cuts = |lines: &mut Vec<Line<'a>>| {
        while let Some((_, c)) = cc.next_if(|(i, _)| *i <= lines.len()) {
            lines.push(Line::Cut(c));
        }
    };
    for t in split(carry) {
        take_cuts(&mut lines);
        lines.push(Line::Text(t));
    }
    take_cuts(&mut lines);
    for (_, c) in cc {
        lines.push(Line::Cut(c));
    }
    lines.extend(cuts.iter().map(|c| Line::Cut(c)));
    lines.extend(first.map(Line::Text));
    lines.extend(split(data).map(Line::Text));
    lines
}

/// `data` split on '\n' (a last line without one is a line too).
fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    let mut ends = memchr::memchr_iter(b'\n', data);
    std::iter::from_fn(move || {
        let start = at;
        match ends.next() {
            Some(e) => {
                at = e + 1;
                data.get(start..e)
            }
            None if start < data.len() => {
                at = data.len();
                data.get(start..)
            }
            None => None,
        }
    })
}

/// A payload typed for its kind's columns.
enum Typed<'a> {
    Block { b: payload::Block<'a>, major: u32, minor: u32, sector: u64, nr: u32, bytes: Option<u64>, error: Option<i32>, submit: bool },
    Net { n: payload::Net<'a>, len: Option<u32> },
    Other,
}

fn block_fields<'a>(body: &'a [u8], name: &str) -> Option<Typed<'a>> {
    let b = payload::block(body)?;
    let submit = matches!(name, "block:block_rq_insert" | "block:block_rq_issue");
    let bytes = match (submit, b.bytes) {
        (true, Some(t)) => Some(t.fits::<u64>()?),
        _ => None,
    };
    // complete's [...] holds the error code: a number, but any text may stand there
    let error = if submit { None } else { signed::<i32>(b.tail) };
    let numeric = |t: &[u8]| {
        let d = t.strip_prefix(b"-").unwrap_or(t);
        !d.is_empty() && d.iter().all(|c| c.is_ascii_digit())
    };
    if !submit && error.is_none() && numeric(b.tail) {
        return None;
    }
    Some(Typed::Block {
        major: b.major.fits()?,
        minor: b.minor.fits()?,
        sector: b.sector.fits()?,
        nr: b.nr.fits()?,
        b,
        bytes,
        error,
        submit,
    })
}

fn net_fields(body: &[u8]) -> Option<Typed<'_>> {
    let n = payload::net(body);
    let len = match n.len {
        Some(t) => Some(unsigned::<u32>(t)?),
        None => None,
    };
    Some(Typed::Net { n, len })
}

impl Typed<'_> {
    fn push(self, k: &mut KindCols) {
        match self {
            Typed::Block { b, major, minor, sector, nr, bytes, error, submit } => {
                let c = &mut k.block;
                c.dev.push_joined(b.major.text, b',', b.minor.text);
                c.dev_major.push(major);
                c.dev_minor.push(minor);
                c.rwbs.push(Some(b.rwbs));
                c.sector.push(sector);
                c.nr_sector.push(nr);
                c.bytes.push(bytes.unwrap_or(0));
                c.bytes_ok.push(u8::from(bytes.is_some()));
                c.ioprio.push(b.ioprio);
                c.rq_comm.push(submit.then_some(b.tail));
                c.error.push(error.unwrap_or(0));
                c.error_ok.push(u8::from(error.is_some()));
            }
            Typed::Net { n, len } => {
                let c = &mut k.net;
                c.dev_name.push(n.dev_name);
                c.skbaddr.push(n.skbaddr);
                c.len.push(len.unwrap_or(0));
                c.len_ok.push(u8::from(len.is_some()));
            }
            Typed::Other => {}
        }
    }
}

/// How many of `data`'s lines are event lines of `dialect` (for sniffing the dialect).
pub fn count_heads(data: &[u8], dialect: Dialect) -> usize {
    split(data).filter(|l| line::head(text(l), dialect).is_some()).count()
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
