//! Block request pairing: block_rq_insert / issue / complete into requests, chunk after chunk.
//!
//! The rules are DESIGN.md's "Semantics of block latency"; each is named where it is applied
//! (`Rule:` comments) and each unpaired end is counted, never dropped silently:
//!
//! - A request is keyed by (dev, sector), as biosnoop and bpftrace's biolatency do. Issue and complete
//!   often run on different CPUs, so nothing is paired per CPU.
//! - insert and issue remember their values under the key; a later one overwrites the earlier one
//!   (counted as "overwritten": a re-issue after block_rq_requeue, or a lost complete).
//! - complete takes what the key remembers and forgets it. With no issue remembered it is a
//!   "complete without issue" (the request started before the capture).
//! - A read complete never pairs with a write issue to the same sector: the complete is counted as an
//!   op mismatch and the issue stays open for its own complete.
//! - A flush is issued at sector 0 and completes with no sector (2^64-1): the complete is keyed at
//!   sector 0, so the flush pairs with itself.
//! - A partial completion (fewer sectors than issued) fires complete at the request's start sector and
//!   the request goes on at sector + done: it is followed to its last part, the partials counted.
//! - Open requests are carried from chunk to chunk in a bounded table ([`OpenTable`]).
//!
//! Order: within a chunk, events of a key are taken by (time, kind, arrival): at equal times an insert
//! comes before an issue and an issue before a complete, and the open request carried from an earlier
//! chunk before all of them. Keys are swept in ascending (devnum, sector) order; a partial completion's
//! rest lands at a larger sector of the same device, so it always reaches a key not swept yet.
//!
//! "Remembering" is per value, not per event: a value an event does not have (null in its frame) leaves
//! the one remembered before it in place, so an issue without a `bytes` field keeps its insert's.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

/// (sector_t)-1: a request without a position, as a flush's complete prints it.
pub const NO_SECTOR: u64 = u64::MAX;

/// The string code of a null (device, comm and rwbs strings are interned by the caller).
pub const NULL: u32 = u32::MAX;

/// What a row of the pairing is. The order is the tie-break at equal times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An open request carried over from an earlier chunk.
    Open = 0,
    Insert = 1,
    Issue = 2,
    Complete = 3,
}

impl Kind {
    pub fn from_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::Insert),
            2 => Some(Kind::Issue),
            3 => Some(Kind::Complete),
            _ => None,
        }
    }
}

/// (devnum, sector): devnum is major << 20 | minor, as the caller computes it.
pub type Key = (u64, u64);

/// One block event, as the frames have it (`EventValues`). `key` is None where the device or sector
/// is null: such an event pairs with nothing (a complete is "without issue", an insert/issue stays
/// open). Its nullable values are kept as values and a bit each, not as Options: an event is 64
/// bytes, not 104, and a chunk's events are written, gathered in sweep order and read again, so
/// their size was the pairing's memory traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    devnum: u64,
    key_sector: u64,
    sector: u64,
    ts: i64,
    bytes: u64,
    pub dev: u32,
    pub comm: u32,
    pub rwbs: u32,
    pid: i32,
    nr: u32,
    pub kind: u8,
    absent: u8, // the bits below: which values are null (stored as 0)
}

const NO_KEY: u8 = 1;
const NO_TS: u8 = 2;
const NO_PID: u8 = 4;
const NO_NR: u8 = 8;
const NO_BYTES: u8 = 16;
const NO_SECTOR_VALUE: u8 = 32;

/// An event's values, each nullable one as an Option.
#[derive(Clone, Debug, Default)]
pub struct EventValues {
    pub kind: u8,
    pub key: Option<Key>,
    pub dev: u32,
    pub ts: Option<i64>,
    pub comm: u32,
    pub pid: Option<i32>,
    pub rwbs: u32,
    pub nr: Option<u32>,
    pub bytes: Option<u64>,
    /// The sector as printed (a complete's key may be the flush's 0 instead).
    pub sector: Option<u64>,
}

impl From<EventValues> for Event {
    #[inline]
    fn from(v: EventValues) -> Self {
        let bit = |some: bool, b: u8| if some { 0 } else { b };
        let absent = bit(v.key.is_some(), NO_KEY) | bit(v.ts.is_some(), NO_TS) | bit(v.pid.is_some(), NO_PID) | bit(v.nr.is_some(), NO_NR)
            | bit(v.bytes.is_some(), NO_BYTES) | bit(v.sector.is_some(), NO_SECTOR_VALUE);
        let (devnum, key_sector) = v.key.unwrap_or_default();
        Event {
            devnum,
            key_sector,
            sector: v.sector.unwrap_or(0),
            ts: v.ts.unwrap_or(0),
            bytes: v.bytes.unwrap_or(0),
            dev: v.dev,
            comm: v.comm,
            rwbs: v.rwbs,
            pid: v.pid.unwrap_or(0),
            nr: v.nr.unwrap_or(0),
            kind: v.kind,
            absent,
        }
    }
}

impl Event {
    #[inline]
    fn has(&self, bit: u8) -> bool {
        self.absent & bit == 0
    }
    #[inline]
    pub fn key(&self) -> Option<Key> {
        self.has(NO_KEY).then_some((self.devnum, self.key_sector))
    }
    #[inline]
    pub fn ts(&self) -> Option<i64> {
        self.has(NO_TS).then_some(self.ts)
    }
    #[inline]
    pub fn pid(&self) -> Option<i32> {
        self.has(NO_PID).then_some(self.pid)
    }
    #[inline]
    pub fn nr(&self) -> Option<u32> {
        self.has(NO_NR).then_some(self.nr)
    }
    #[inline]
    pub fn bytes(&self) -> Option<u64> {
        self.has(NO_BYTES).then_some(self.bytes)
    }
    #[inline]
    pub fn sector(&self) -> Option<u64> {
        self.has(NO_SECTOR_VALUE).then_some(self.sector)
    }
    /// An event of the lane's columns (py_pairing.rs): `null_*` say which values are null.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // a column each
    pub fn of_lane(kind: u8, key: Key, dev: u32, ts: i64, comm: u32, pid: i32, rwbs: u32, nr: u32, bytes: u64, null_key: bool, null_ts: bool, null_pid: bool, null_nr: bool, null_bytes: bool) -> Self {
        let keep = |null: bool, v: u64| if null { 0 } else { v };
        let bit = |null: bool, b: u8| if null { b } else { 0 };
        Event {
            devnum: keep(null_key, key.0),
            key_sector: keep(null_key, key.1),
            sector: keep(null_key, key.1),
            ts: keep(null_ts, ts as u64) as i64,
            bytes: keep(null_bytes, bytes),
            dev,
            comm,
            rwbs,
            pid: keep(null_pid, pid as u32 as u64) as u32 as i32,
            nr: keep(null_nr, u64::from(nr)) as u32,
            kind,
            absent: bit(null_key, NO_KEY | NO_SECTOR_VALUE) | bit(null_ts, NO_TS) | bit(null_pid, NO_PID) | bit(null_nr, NO_NR) | bit(null_bytes, NO_BYTES),
        }
    }

    #[cfg(test)]
    pub fn set_key(&mut self, key: Option<Key>) {
        (self.devnum, self.key_sector) = key.unwrap_or_default();
        self.absent = (self.absent & !NO_KEY) | if key.is_some() { 0 } else { NO_KEY };
    }
}

/// What a key remembers of its request: the insert and issue sides and the request's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub ins_ts: Option<i64>,
    pub ins_comm: u32,
    pub ins_pid: Option<i32>,
    pub iss_ts: Option<i64>,
    pub iss_comm: u32,
    pub iss_pid: Option<i32>,
    pub rwbs: u32,
    pub nr: Option<u32>,
    pub bytes: Option<u64>,
    pub orig_sector: Option<u64>,
    /// Parts completed before this one (0 for a request that was never partially completed).
    pub parts: Option<i32>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            ins_ts: None,
            ins_comm: NULL,
            ins_pid: None,
            iss_ts: None,
            iss_comm: NULL,
            iss_pid: None,
            rwbs: NULL,
            nr: None,
            bytes: None,
            orig_sector: None,
            parts: None,
        }
    }
}

fn newer<T: Copy>(old: &mut Option<T>, new: Option<T>) {
    if new.is_some() {
        *old = new;
    }
}

fn newer_code(old: &mut u32, new: u32) {
    if new != NULL {
        *old = new;
    }
}

impl Request {
    /// The values an insert or issue brings (the other side's are null: it does not know them).
    fn of(e: &Event, kind: Kind) -> Request {
        let mut r = Request {
            rwbs: e.rwbs,
            nr: e.nr(),
            bytes: e.bytes(),
            orig_sector: e.sector(),
            parts: Some(0),
            ..Request::default()
        };
        if kind == Kind::Insert {
            (r.ins_ts, r.ins_comm, r.ins_pid) = (e.ts(), e.comm, e.pid());
        } else {
            (r.iss_ts, r.iss_comm, r.iss_pid) = (e.ts(), e.comm, e.pid());
        }
        r
    }

    /// Remember `new`'s values over the older ones; a value `new` lacks keeps the older one.
    fn remember(&mut self, new: &Request) {
        newer(&mut self.ins_ts, new.ins_ts);
        newer_code(&mut self.ins_comm, new.ins_comm);
        newer(&mut self.ins_pid, new.ins_pid);
        newer(&mut self.iss_ts, new.iss_ts);
        newer_code(&mut self.iss_comm, new.iss_comm);
        newer(&mut self.iss_pid, new.iss_pid);
        newer_code(&mut self.rwbs, new.rwbs);
        newer(&mut self.nr, new.nr);
        newer(&mut self.bytes, new.bytes);
        newer(&mut self.orig_sector, new.orig_sector);
        newer(&mut self.parts, new.parts);
    }

    /// Who asked: the insert side first, as the complete runs in irq/idle context.
    pub fn requester(&self) -> u32 {
        if self.ins_comm != NULL {
            self.ins_comm
        } else {
            self.iss_comm
        }
    }

    pub fn opened(&self) -> bool {
        self.iss_ts.is_some() || self.ins_ts.is_some()
    }
}

/// An open request: what its key remembers, and the device, time and key of its last event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub key: Option<Key>,
    pub dev: u32,
    pub ts: Option<i64>,
    pub req: Request,
}

/// An unpaired end as the report's filters see it: device, op letter, who (NULL: that side does
/// not know), when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    pub dev: u32,
    pub op: u8,
    pub comm: u32,
    pub ts: Option<i64>,
}

/// A finished request: its complete's time, device and rwbs, and what its key remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    pub ts: Option<i64>,
    pub dev: u32,
    pub c_rwbs: u32,
    pub req: Request,
}

/// What one chunk's pairing found.
#[derive(Debug, Default)]
pub struct Paired {
    pub done: Vec<Done>,
    /// Completes with no issue, and whether they were zero-length (the end of a flush sequence).
    pub without_issue: Vec<(Side, bool)>,
    pub mismatched: Vec<Side>,
    pub partials: Vec<Side>,
    /// Inserts/issues that replaced an earlier one of the same open request.
    pub overwritten: Vec<Side>,
    /// Open requests dropped by the table's bound, oldest first.
    pub dropped: Vec<Open>,
}

/// The op letter of rwbs codes: R, W, D, F or N (or `?`), looked up in the caller's table.
pub struct Ops<'a>(pub &'a [u8]);

impl Ops<'_> {
    pub fn of(&self, rwbs: u32) -> u8 {
        self.0.get(rwbs as usize).copied().unwrap_or(b'?')
    }
}

/// The open side of a request, as the filters see it: who asked, its op, when it started.
pub fn open_side(o: &Open, ops: &Ops) -> Side {
    Side { dev: o.dev, op: ops.of(o.req.rwbs), comm: o.req.requester(), ts: o.req.iss_ts.or(o.req.ins_ts) }
}

/// One key's events since its last complete (a "segment"): the request they open.
#[derive(Default)]
struct Segment {
    req: Request,
    last: Option<(u32, Option<i64>)>, // device and time of the segment's last event: an open request
    ins_set: bool,
    iss_set: bool,
}

/// A row of the sweep: an event of the chunk, an open request carried in, or a partial's rest.
enum Row<'a> {
    Event(&'a Event),
    Carried(Open),
    Rest(Open),
}

/// A row's place in the sweep, and where the row is: `at` indexes the events, or for carried rows
/// (kind Open, which no event has) the carried requests.
#[derive(Clone, Copy)]
struct Place {
    key: Key,
    ts: Option<i64>,
    kind: Kind,
    at: u32,
}

/// Buffers of a chunk's pairing, kept for the next chunk: a chunk's buffers are tens of MB, and
/// fresh ones each time cost more in page faults than the pairing itself.
#[derive(Default)]
pub struct Scratch {
    places: Vec<Place>,
    group_of: FxHashMap<Key, u32>,
    keys: Vec<Key>,
    group: Vec<u32>,
    grouped: Vec<Place>,
    sorted: Vec<Place>,
    ordered: Vec<Event>,
}

/// Pair one chunk's events with the open requests of `table`; what stays open goes back into it.
pub fn pair_chunk(table: &mut OpenTable, events: &[Event], ops: &Ops, bounds: Bounds, scratch: &mut Scratch) -> Paired {
    let mut out = Paired::default();
    let mut places = std::mem::take(&mut scratch.places);
    places.clear();
    let mut state: Vec<Open> = Vec::new();
    for (at, e) in events.iter().enumerate() {
        let key = match e.key() {
            // Rule: a flush completes with no sector (2^64-1); it was issued at sector 0, keyed there
            Some((dev, NO_SECTOR)) if e.kind == Kind::Complete as u8 && ops.of(e.rwbs) == b'F' => Some((dev, 0)),
            k => k,
        };
        let Some(kind) = Kind::from_code(e.kind) else { continue }; // the caller sends only the three kinds
        match key {
            Some(key) => places.push(Place { key, ts: e.ts(), kind, at: at as u32 }),
            None if kind == Kind::Complete => {
                // Rule: with no key nothing can have been issued under it
                let side = Side { dev: e.dev, op: ops.of(e.rwbs), comm: NULL, ts: e.ts() };
                out.without_issue.push((side, e.nr() == Some(0)));
            }
            None => state.push(Open { key: None, dev: e.dev, ts: e.ts(), req: Request::of(e, kind) }),
        }
    }
    let mut carried: Vec<Option<Open>> = Vec::new();
    let sorted = sweep_order(&places, table, &mut carried, scratch);
    scratch.places = places;
    let places = sorted;
    // the events in sweep order, gathered in one pass of independent loads: the sweep then reads
    // memory in order (reading the events in place, one cache miss at a time, cost 4x)
    let mut ordered = std::mem::take(&mut scratch.ordered);
    ordered.clear();
    ordered.extend(places.iter().filter(|p| p.kind != Kind::Open).filter_map(|p| events.get(p.at as usize).cloned()));
    let mut next = ordered.iter();
    let mut row = |p: &Place, carried: &mut Vec<Option<Open>>| match p.kind {
        Kind::Open => carried.get_mut(p.at as usize).and_then(Option::take).map(Row::Carried),
        _ => next.next().map(Row::Event),
    };
    let mut rests: BTreeMap<Key, Vec<Open>> = BTreeMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut i = 0;
    loop {
        let key = match (places.get(i).map(|p| p.key), rests.keys().next().copied()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        rows.clear();
        while let Some(p) = places.get(i).filter(|p| p.key == key) {
            rows.extend(row(p, &mut carried));
            i += 1;
        }
        if let Some(landed) = rests.remove(&key) {
            if rows.is_empty() {
                // Rule: a rest landing on an open request of another chunk replaces it ("the newer wins").
                if let Some(old) = table.take(&key) {
                    out.overwritten.push(open_side(&old, ops));
                }
            }
            rows = merge(std::mem::take(&mut rows), landed);
        }
        if let Some(open) = pair_key(key, rows.drain(..), ops, &mut rests, &mut out) {
            state.push(open);
        }
    }
    table.put(state, bounds, &mut out.dropped);
    drop(next);
    scratch.ordered = ordered;
    scratch.sorted = places;
    out
}

/// The places in sweep order: keys ascending; within a key by (time, kind, arrival), the open
/// request carried in for the key among them. Rule: a chunk starts from the open requests of its own
/// keys, as if no chunk border were there.
///
/// Grouped by key through a hash map, then only the distinct keys are sorted: a chunk has a few
/// events per key, already in time order as the capture wrote them, so this does the work of a sort
/// of every event (which cost most of the pairing) in about one pass.
fn sweep_order(places: &[Place], table: &mut OpenTable, carried: &mut Vec<Option<Open>>, scratch: &mut Scratch) -> Vec<Place> {
    let Scratch { group_of, keys, group, grouped, sorted, .. } = scratch;
    group_of.clear();
    keys.clear();
    group.clear();
    for p in places {
        let next = keys.len() as u32;
        let g = *group_of.entry(p.key).or_insert_with(|| {
            keys.push(p.key);
            next
        });
        group.push(g);
    }
    // a group's places start at start[g]; one more slot each for the open request it may carry in
    let mut start = vec![0usize; keys.len() + 1];
    for &g in group.iter() {
        start[g as usize + 1] += 1;
    }
    let mut carried_of: Vec<Option<Place>> = vec![None; keys.len()];
    for (g, key) in keys.iter().enumerate() {
        if let Some(o) = table.take(key) {
            carried_of[g] = Some(Place { key: *key, ts: o.ts, kind: Kind::Open, at: carried.len() as u32 });
            carried.push(Some(o));
            start[g + 1] += 1;
        }
    }
    for g in 0..keys.len() {
        start[g + 1] += start[g];
    }
    let mut fill = start.clone();
    grouped.clear();
    grouped.resize(start[keys.len()], Place { key: (0, 0), ts: None, kind: Kind::Open, at: 0 });
    for (g, c) in carried_of.into_iter().enumerate() {
        if let Some(c) = c {
            grouped[fill[g]] = c;
            fill[g] += 1;
        }
    }
    for (p, &g) in places.iter().zip(group.iter()) {
        grouped[fill[g as usize]] = *p;
        fill[g as usize] += 1;
    }
    let mut by_key: Vec<u32> = (0..keys.len() as u32).collect();
    by_key.sort_unstable_by_key(|&g| keys[g as usize]);
    let mut out = std::mem::take(sorted);
    out.clear();
    for g in by_key {
        let part = &mut grouped[start[g as usize]..start[g as usize + 1]];
        let order = |p: &Place| (p.ts, p.kind, p.at);
        if !part.windows(2).all(|w| order(&w[0]) <= order(&w[1])) {
            part.sort_unstable_by_key(order);
        }
        out.extend_from_slice(part);
    }
    out
}

impl Row<'_> {
    fn kind(&self) -> Kind {
        match self {
            Row::Event(e) => Kind::from_code(e.kind).unwrap_or(Kind::Complete),
            Row::Carried(_) => Kind::Open,
            Row::Rest(_) => Kind::Issue, // the rest of a partially completed request is issued
        }
    }
    fn ts(&self) -> Option<i64> {
        match self {
            Row::Event(e) => e.ts(),
            Row::Carried(o) | Row::Rest(o) => o.ts,
        }
    }
}

/// A key's rows with the rests that landed on it: rests go after the key's own rows at equal
/// (time, kind), among themselves in the order they were made.
fn merge<'a>(rows: Vec<Row<'a>>, mut rests: Vec<Open>) -> Vec<Row<'a>> {
    rests.sort_by_key(|o| o.ts); // stable: made-order at equal times
    let mut out = Vec::with_capacity(rows.len() + rests.len());
    let mut rests = rests.into_iter().peekable();
    for r in rows {
        while let Some(rest) = rests.next_if(|o| (o.ts, Kind::Issue) < (r.ts(), r.kind())) {
            out.push(Row::Rest(rest));
        }
        out.push(r);
    }
    out.extend(rests.map(Row::Rest));
    out
}

/// One key's rows in order; returns the request left open at the key, if any.
fn pair_key<'a>(key: Key, rows: impl Iterator<Item = Row<'a>>, ops: &Ops, rests: &mut BTreeMap<Key, Vec<Open>>, out: &mut Paired) -> Option<Open> {
    let mut seg = Segment::default();
    for row in rows {
        let kind = row.kind();
        let (dev, ts, req, sets_ins, sets_iss) = match row {
            Row::Event(e) if kind == Kind::Complete => {
                if complete(key, e, &seg.req, ops, rests, out) {
                    seg = Segment::default(); // Rule: complete takes what the key remembers and forgets it
                }
                continue;
            }
            Row::Event(e) => (e.dev, e.ts(), Request::of(e, kind), kind == Kind::Insert, kind == Kind::Issue),
            Row::Carried(o) => {
                let (i, s) = (o.req.ins_ts.is_some(), o.req.iss_ts.is_some());
                (o.dev, o.ts, o.req, i, s)
            }
            Row::Rest(o) => (o.dev, o.ts, o.req, false, true),
        };
        seg.req.remember(&req);
        // Rule: a later insert (issue) overwrites the earlier one of the same open request: counted
        if sets_ins && seg.ins_set {
            out.overwritten.push(Side { dev, op: ops.of(seg.req.rwbs), comm: seg.req.ins_comm, ts });
        }
        if sets_iss && seg.iss_set {
            out.overwritten.push(Side { dev, op: ops.of(seg.req.rwbs), comm: seg.req.iss_comm, ts });
        }
        seg.ins_set |= sets_ins;
        seg.iss_set |= sets_iss;
        seg.last = Some((dev, ts));
    }
    let (dev, ts) = seg.last?;
    Some(Open { key: Some(key), dev, ts, req: seg.req })
}

/// A complete against what its key remembers; false if it was not taken (an op mismatch).
fn complete(key: Key, c: &Event, req: &Request, ops: &Ops, rests: &mut BTreeMap<Key, Vec<Open>>, out: &mut Paired) -> bool {
    let side = Side { dev: c.dev, op: ops.of(c.rwbs), comm: NULL, ts: c.ts() };
    // Rule: a read complete never pairs with a write issue: the issue stays open for its own complete
    let differs = req.rwbs != NULL && c.rwbs != NULL && c.rwbs != req.rwbs;
    if differs && ops.of(c.rwbs) != ops.of(req.rwbs) {
        out.mismatched.push(side);
        return false;
    }
    if req.iss_ts.is_none() {
        // Rule: a complete with no issue started before the capture (or ends a flush sequence: 0 sectors)
        out.without_issue.push((side, c.nr() == Some(0)));
    }
    match (req.iss_ts, c.nr(), req.nr) {
        (Some(_), Some(done), Some(nr)) if done > 0 && done < nr => {
            // Rule: a partial completion; the request goes on at sector + done, where its next complete fires
            let who = req.requester();
            out.partials.push(Side { dev: c.dev, op: ops.of(req.rwbs), comm: who, ts: c.ts() });
            let rest = Request { nr: Some(nr - done), parts: req.parts.map(|p| p.saturating_add(1)), ..req.clone() };
            let at = (key.0, key.1.wrapping_add(u64::from(done)));
            // a sector wrapping past 2^64 would land behind the sweep; such a rest is dropped here
            if at.1 > key.1 {
                rests.entry(at).or_default().push(Open { key: Some(at), dev: c.dev, ts: c.ts(), req: rest });
            }
        }
        _ if req.opened() => out.done.push(Done { ts: c.ts(), dev: c.dev, c_rwbs: c.rwbs, req: req.clone() }),
        _ => {}
    }
    true
}

/// The bounds of the open-request table (read from the Python module at each call, so tests can
/// make them small).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// More recent open requests than this, and they are frozen into a part of their own.
    pub hot_rows: usize,
    /// More open requests than this, and the oldest frozen part is dropped (and counted).
    pub max_open: usize,
}

/// Requests still in flight between chunks, bounded as biosnoop's and bpftrace's maps are.
///
/// When completes are lost (this machine's perf drops most of them under load) open requests pile
/// up by the hundred thousand. No device has that many in flight (blk-mq gives a hardware queue a few
/// thousand tags at most), so past `max_open` the oldest are dropped, a part at a time, and counted:
/// the recent ones ("hot") are frozen into a part once there are more than `hot_rows` of them.
#[derive(Default)]
pub struct OpenTable {
    slots: Vec<Option<Open>>, // in the order they were put; None where taken or dropped
    at: FxHashMap<Key, usize>,
    parts: Vec<std::ops::Range<usize>>, // frozen parts, oldest first; hot is parts' end .. slots.len()
    alive: usize,
    hot_alive: usize,
}

impl OpenTable {
    fn hot_start(&self) -> usize {
        self.parts.last().map_or(0, |p| p.end)
    }

    /// Remove and return the open request under `key`.
    pub fn take(&mut self, key: &Key) -> Option<Open> {
        let slot = self.at.remove(key)?;
        let open = self.slots.get_mut(slot)?.take()?;
        self.alive -= 1;
        if slot >= self.hot_start() {
            self.hot_alive -= 1;
        }
        Some(open)
    }

    /// Keep `opens`; if the hot ones pass the bound, freeze them and drop the oldest parts past `max_open`.
    pub fn put(&mut self, opens: Vec<Open>, b: Bounds, dropped: &mut Vec<Open>) {
        for o in opens {
            if let Some(k) = o.key {
                self.at.insert(k, self.slots.len());
            }
            self.slots.push(Some(o));
            self.alive += 1;
            self.hot_alive += 1;
        }
        if self.hot_alive <= b.hot_rows {
            // few open, many taken (each issue that replaces an open one leaves a dead slot): the
            // table would grow with the capture, ~0.4 MB per 70k events, were it not compacted here too
            self.compact();
            return;
        }
        self.parts.push(self.hot_start()..self.slots.len());
        self.hot_alive = 0;
        while self.alive > b.max_open && !self.parts.is_empty() {
            let oldest = self.parts.remove(0);
            for slot in oldest {
                if let Some(o) = self.slots.get_mut(slot).and_then(Option::take) {
                    if let Some(k) = o.key {
                        self.at.remove(&k);
                    }
                    self.alive -= 1;
                    dropped.push(o);
                }
            }
        }
        self.compact();
    }

    /// Every open request, hot ones first.
    pub fn all(&self) -> Vec<Open> {
        let hot = self.hot_start()..self.slots.len();
        let frozen = self.parts.iter().flat_map(|p| p.clone());
        hot.chain(frozen).filter_map(|s| self.slots.get(s).cloned().flatten()).collect()
    }

    pub fn len(&self) -> usize {
        self.alive
    }

    /// Open requests that were issued, and those only inserted.
    pub fn counts(&self) -> (usize, usize) {
        let open = self.slots.iter().flatten();
        open.fold((0, 0), |(iss, ins), o| match (o.req.iss_ts, o.req.ins_ts) {
            (Some(_), _) => (iss + 1, ins),
            (None, Some(_)) => (iss, ins + 1),
            (None, None) => (iss, ins),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.alive == 0
    }

    /// Slots of taken requests are reused once they are most of the table, so that it stays the size
    /// of what is open, not of all that ever was.
    fn compact(&mut self) {
        if self.slots.len() < 4096 || self.slots.len() < 2 * self.alive {
            return;
        }
        // in place: a second table of the open requests was the run's peak of memory (bench/README.md)
        let hot = self.hot_start();
        let mut spans: Vec<std::ops::Range<usize>> = std::mem::take(&mut self.parts);
        spans.push(hot..self.slots.len());
        let mut parts = Vec::with_capacity(spans.len());
        let mut w = 0;
        for span in spans {
            let start = w;
            for r in span {
                if self.slots.get(r).is_some_and(Option::is_some) {
                    self.slots.swap(w, r); // w <= r: what stands at w was taken or already moved
                    w += 1;
                }
            }
            parts.push(start..w);
        }
        parts.pop(); // the hot part: it runs to the end
        parts.retain(|p: &std::ops::Range<usize>| !p.is_empty());
        self.slots.truncate(w);
        self.slots.shrink_to(w.max(self.slots.capacity() / 2));
        self.parts = parts;
        self.at.clear();
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(k) = s.as_ref().and_then(|o| o.key) {
                self.at.insert(k, i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    // rwbs codes of the tests and their op letters
    const R: u32 = 0;
    const W: u32 = 1;
    const WS: u32 = 2;
    const FF: u32 = 3;
    const OPS: &[u8] = b"RWWF";
    const BIG: Bounds = Bounds { hot_rows: 1 << 20, max_open: 1 << 20 };

    fn values(kind: Kind, ts: i64, sector: u64, nr: u32, rwbs: u32) -> EventValues {
        let comm = if kind == Kind::Complete { NULL } else { kind as u32 * 10 };
        EventValues { kind: kind as u8, key: Some((8 << 20, sector)), dev: 7, ts: Some(ts), comm, pid: Some(1), rwbs, nr: Some(nr), bytes: Some(u64::from(nr) * 512), sector: Some(sector) }
    }

    fn ev(kind: Kind, ts: i64, sector: u64, nr: u32, rwbs: u32) -> Event {
        values(kind, ts, sector, nr, rwbs).into()
    }
    use Kind::{Complete as C, Insert as Ins, Issue as Iss};

    fn run(events: &[Event]) -> (Paired, OpenTable) {
        let mut t = OpenTable::default();
        let p = pair_chunk(&mut t, events, &Ops(OPS), BIG, &mut Scratch::default());
        (p, t)
    }

    fn d2c(d: &Done) -> Option<i64> {
        Some(d.ts? - d.req.iss_ts?)
    }

    #[test]
    fn issue_then_complete_is_one_request() {
        let (p, t) = run(&[ev(Iss, 100, 8, 8, W), ev(C, 150, 8, 8, W)]);
        assert_eq!(p.done.iter().map(d2c).collect::<Vec<_>>(), vec![Some(50)]);
        assert!(t.is_empty() && p.without_issue.is_empty() && p.overwritten.is_empty());
    }

    #[test]
    fn insert_side_owns_the_request() {
        let (p, _) = run(&[ev(Ins, 100, 8, 8, W), ev(Iss, 130, 8, 8, W), ev(C, 150, 8, 8, W)]);
        let d = &p.done[0];
        assert_eq!((d.req.ins_ts, d.req.iss_ts, d.req.requester()), (Some(100), Some(130), Ins as u32 * 10));
    }

    #[test]
    fn a_second_issue_overwrites_the_first_and_is_counted() {
        let (p, _) = run(&[ev(Iss, 100, 8, 8, W), ev(Iss, 120, 8, 8, W), ev(C, 150, 8, 8, W)]);
        assert_eq!(p.overwritten.len(), 1);
        assert_eq!(d2c(&p.done[0]), Some(30));
    }

    #[test]
    fn a_complete_without_issue_is_counted_and_zero_length_ones_apart() {
        let (p, _) = run(&[ev(C, 100, 8, 8, W), ev(C, 110, 0, 0, WS)]);
        assert!(p.done.is_empty());
        // keys are swept in sector order: the zero-length one at sector 0 first
        assert_eq!(p.without_issue.iter().map(|(_, e)| *e).collect::<Vec<_>>(), vec![true, false]);
    }

    #[test]
    fn a_read_complete_does_not_take_a_write_issue() {
        let (p, t) = run(&[ev(Iss, 100, 8, 8, W), ev(C, 110, 8, 8, R), ev(C, 150, 8, 8, WS)]);
        assert_eq!(p.mismatched.len(), 1);
        assert_eq!(d2c(&p.done[0]), Some(50)); // W and WS are both writes: they pair
        assert!(t.is_empty());
    }

    #[test]
    fn a_flush_completes_at_no_sector_and_pairs_with_its_issue_at_zero() {
        let (p, _) = run(&[ev(Iss, 100, 0, 0, FF), ev(C, 140, NO_SECTOR, 0, FF)]);
        assert_eq!(d2c(&p.done[0]), Some(40));
        // only a flush: a write complete at 2^64-1 stays there
        let (p, _) = run(&[ev(Iss, 100, 0, 0, W), ev(C, 140, NO_SECTOR, 0, W)]);
        assert!(p.done.is_empty() && p.without_issue.len() == 1);
    }

    #[test]
    fn a_partial_completion_is_followed_to_its_last_part() {
        let (p, t) = run(&[ev(Iss, 100, 100, 16, W), ev(C, 110, 100, 8, W), ev(C, 130, 108, 8, W)]);
        assert_eq!(p.partials.len(), 1);
        let d = &p.done[0];
        assert_eq!((d2c(d), d.req.orig_sector, d.req.parts, d.req.nr), (Some(30), Some(100), Some(1), Some(8)));
        assert!(t.is_empty() && p.without_issue.is_empty());
    }

    #[test]
    fn a_partial_rest_replaces_an_open_request_of_an_earlier_chunk() {
        let mut t = OpenTable::default();
        pair_chunk(&mut t, &[ev(Iss, 50, 108, 8, R)], &Ops(OPS), BIG, &mut Scratch::default());
        let p = pair_chunk(&mut t, &[ev(Iss, 100, 100, 16, W), ev(C, 110, 100, 8, W)], &Ops(OPS), BIG, &mut Scratch::default());
        assert_eq!((p.partials.len(), p.overwritten.len(), t.len()), (1, 1, 1));
        let rest = &t.all()[0];
        assert_eq!((rest.key, rest.req.iss_ts, rest.req.rwbs), (Some((8 << 20, 108)), Some(100), W));
    }

    #[test]
    fn requests_survive_chunk_borders() {
        let evs = [ev(Ins, 90, 8, 8, W), ev(Iss, 100, 8, 8, W), ev(Iss, 105, 16, 8, W), ev(C, 150, 8, 8, W), ev(C, 160, 16, 8, W)];
        let (whole, _) = run(&evs);
        for cut in 0..=evs.len() {
            let mut t = OpenTable::default();
            let mut done = pair_chunk(&mut t, &evs[..cut], &Ops(OPS), BIG, &mut Scratch::default()).done;
            done.extend(pair_chunk(&mut t, &evs[cut..], &Ops(OPS), BIG, &mut Scratch::default()).done);
            assert_eq!(done, whole.done, "cut at {cut}");
            assert!(t.is_empty());
        }
    }

    #[test]
    fn at_equal_times_issue_comes_before_complete() {
        let (p, _) = run(&[ev(C, 100, 8, 8, W), ev(Iss, 100, 8, 8, W)]);
        assert_eq!(d2c(&p.done[0]), Some(0));
    }

    #[test]
    fn an_event_of_the_lanes_columns_is_the_event_of_its_values() {
        for nulls in 0..32u8 {
            let n = |b: u8| nulls & b != 0;
            let lane = Event::of_lane(2, (8 << 20, 96), 7, -5, 3, -1, 2, 8, 4096, n(1), n(2), n(4), n(8), n(16));
            let some = |b: u8| !n(b);
            let values = EventValues {
                kind: 2,
                key: some(1).then_some((8 << 20, 96)),
                dev: 7,
                ts: some(2).then_some(-5),
                comm: 3,
                pid: some(4).then_some(-1),
                rwbs: 2,
                nr: some(8).then_some(8),
                bytes: some(16).then_some(4096),
                sector: some(1).then_some(96),
            };
            let got = (lane.key(), lane.ts(), lane.pid(), lane.nr(), lane.bytes(), lane.sector());
            assert_eq!(got, (values.key, values.ts, values.pid, values.nr, values.bytes, values.sector), "nulls {nulls:05b}");
            assert_eq!(lane, Event::from(values), "nulls {nulls:05b}");
        }
    }

    #[test]
    fn a_value_an_event_lacks_keeps_the_remembered_one() {
        let mut issue = values(Iss, 100, 8, 8, W);
        issue.bytes = None;
        let (p, _) = run(&[ev(Ins, 90, 8, 8, W), issue.into(), ev(C, 150, 8, 8, W)]);
        assert_eq!(p.done[0].req.bytes, Some(4096));
    }

    #[test]
    fn an_event_without_a_key_pairs_with_nothing() {
        let mut issue = values(Iss, 100, 8, 8, W);
        issue.key = None;
        let mut complete = values(C, 150, 8, 8, W);
        complete.key = None;
        let (p, t) = run(&[issue.into(), complete.into()]);
        assert!(p.done.is_empty() && p.without_issue.len() == 1 && t.len() == 1);
    }

    #[test]
    fn open_counts_split_issued_from_only_inserted() {
        let mut t = OpenTable::default();
        pair_chunk(&mut t, &[ev(Ins, 1, 8, 8, W), ev(Iss, 2, 16, 8, W), ev(Ins, 3, 24, 8, W), ev(Iss, 4, 24, 8, W)], &Ops(OPS), BIG, &mut Scratch::default());
        assert_eq!(t.counts(), (2, 1));
    }

    #[test]
    fn the_bound_drops_the_oldest_part_and_hands_it_back() {
        let mut t = OpenTable::default();
        let b = Bounds { hot_rows: 2, max_open: 4 };
        let mut dropped = Vec::new();
        for i in 0..10 {
            dropped.extend(pair_chunk(&mut t, &[ev(Iss, i, i as u64 * 8, 8, W)], &Ops(OPS), b, &mut Scratch::default()).dropped);
            assert!(t.len() <= b.max_open + b.hot_rows);
        }
        assert_eq!(dropped.len() + t.len(), 10);
        assert_eq!(dropped.first().and_then(|o| o.req.iss_ts), Some(0)); // the oldest went first
        // a complete of a dropped request is one without issue
        let p = pair_chunk(&mut t, &[ev(C, 20, 0, 8, W)], &Ops(OPS), b, &mut Scratch::default());
        assert_eq!(p.without_issue.len(), 1);
    }

    /// (complete ts, insert ts, issue ts) of each request, then overwritten, without issue, op mismatch, open
    type Reference = (Vec<(i64, Option<i64>, Option<i64>)>, usize, usize, usize, usize);

    /// A tiny reference: biosnoop's dict, with the rules above but no partial completions.
    fn reference(events: &[Event]) -> Reference {
        let mut open: HashMap<Key, (Option<i64>, Option<i64>, u32)> = HashMap::new();
        let (mut done, mut over, mut orphan, mut mismatch) = (vec![], 0, 0, 0);
        for e in events {
            let (Some(k), Some(ts)) = (e.key(), e.ts()) else { continue };
            let o = open.entry(k).or_insert((None, None, NULL));
            match Kind::from_code(e.kind) {
                Some(Ins) => {
                    over += usize::from(o.0.is_some());
                    (o.0, o.2) = (Some(ts), e.rwbs);
                }
                Some(Iss) => {
                    over += usize::from(o.1.is_some());
                    (o.1, o.2) = (Some(ts), e.rwbs);
                }
                _ => {
                    if o.2 != NULL && o.2 != e.rwbs && OPS[o.2 as usize] != OPS[e.rwbs as usize] {
                        mismatch += 1;
                        continue;
                    }
                    let (ins, iss, _) = open.remove(&k).unwrap_or((None, None, NULL));
                    orphan += usize::from(iss.is_none());
                    if ins.is_some() || iss.is_some() {
                        done.push((ts, ins, iss));
                    }
                }
            }
        }
        open.retain(|_, o| o.0.is_some() || o.1.is_some());
        done.sort();
        (done, over, orphan, mismatch, open.len())
    }

    #[test]
    fn random_captures_pair_like_the_reference_however_they_are_chunked() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let events: Vec<Event> = (0..rnd(60))
                .map(|i| {
                    let kind = [Ins, Iss, Iss, C, C][rnd(5) as usize];
                    let mut e = ev(kind, i as i64 * 10, rnd(4) * 8, 8, rnd(3) as u32);
                    e.set_key(Some((rnd(2), rnd(4) * 8)));
                    e
                })
                .collect();
            let (want, over, orphan, mismatch, open) = reference(&events);
            let mut t = OpenTable::default();
            let mut got = Paired::default();
            let mut rest = &events[..];
            let mut scratch = Scratch::default(); // kept from chunk to chunk, as the Python class keeps it
            while !rest.is_empty() {
                let (chunk, more) = rest.split_at((rnd(10) as usize + 1).min(rest.len()));
                let p = pair_chunk(&mut t, chunk, &Ops(OPS), BIG, &mut scratch);
                got.done.extend(p.done);
                got.overwritten.extend(p.overwritten);
                got.without_issue.extend(p.without_issue);
                got.mismatched.extend(p.mismatched);
                rest = more;
            }
            let mut done: Vec<_> = got.done.iter().map(|d| (d.ts.unwrap_or(0), d.req.ins_ts, d.req.iss_ts)).collect();
            done.sort();
            assert_eq!(done, want);
            assert_eq!((got.overwritten.len(), got.without_issue.len(), got.mismatched.len(), t.len()), (over, orphan, mismatch, open));
        }
    }
}
