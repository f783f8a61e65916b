//! The grammar of one line of perf script or ftrace text: event lines, call-chain frames, stack
//! markers, lost-event records and the lines that carry nothing.
//!
//! An event line is COMM + PREFIX + ".frac: " + event + ": " + payload (parsers/perf_script.py and
//! parsers/ftrace_text.py show real ones). The prefix (pid, tgid, cpu, whole seconds) is read from
//! its end backwards: the comm before it may hold spaces, dashes, brackets and colons, and what
//! stands at the end is fixed, so each line is read once, whatever it holds.

use memchr::memmem;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Perf,
    Ftrace,
}

/// Bits of `CLASS`: what a byte is to the line grammar.
pub const WS: u8 = 1; // a regex's ASCII `\s`
pub const DIGIT: u8 = 2;
pub const UPPER: u8 = 4;
pub const LOWER: u8 = 8;

/// Each byte's classes: one load and a test, where the byte-by-byte loops of every line (padding,
/// digits, flags) spent more on the comparisons than on the bytes.
pub static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') { WS } else { 0 }
            | if c.is_ascii_digit() { DIGIT } else { 0 }
            | if c.is_ascii_uppercase() { UPPER } else { 0 }
            | if c.is_ascii_lowercase() { LOWER } else { 0 };
        b += 1;
    }
    t
};

/// The whitespace of the line grammar (a regex's ASCII `\s`).
#[inline(always)]
pub fn is_ws(b: u8) -> bool {
    CLASS[usize::from(b)] & WS != 0
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `s` without its leading and trailing whitespace.
pub fn trim(s: &[u8]) -> &[u8] {
    // perf pads the comm to 16 columns: skip its spaces a word at a time
    let mut a = 0;
    while s.get(a..a + 8).is_some_and(|w| w == b"        ") {
        a += 8;
    }
    let a = a + s.get(a..).unwrap_or_default().iter().position(|&b| !is_ws(b)).unwrap_or(s.len() - a);
    let z = s.iter().rposition(|&b| !is_ws(b)).map_or(a, |i| i + 1);
    s.get(a..z).unwrap_or_default()
}

/// Start of the run of bytes satisfying `f` that ends at `end`.
#[inline(always)]
fn run_back(p: &[u8], end: usize, f: impl Fn(u8) -> bool) -> usize {
    let head = p.get(..end).unwrap_or(p);
    head.iter().rposition(|&b| !f(b)).map_or(0, |k| k + 1)
}

fn all(s: &[u8], f: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.iter().all(|&b| f(b))
}

/// `-?\d+`
fn signed_digits(s: &[u8]) -> bool {
    all(s.strip_prefix(b"-").unwrap_or(s), |b| b.is_ascii_digit())
}

/// The fields of an event line's prefix; `start` is where the comm ends.
#[derive(Debug, Clone, Copy)]
pub struct Prefix<'a> {
    pub start: usize,
    pub pid: &'a [u8],
    pub tgid: Option<&'a [u8]>,
    pub cpu: &'a [u8],
    pub sec: &'a [u8],
}

/// Whole seconds and the whitespace before them, from the end: (sec, where the whitespace starts).
fn seconds(p: &[u8]) -> Option<(&[u8], usize)> {
    let s = run_back(p, p.len(), |b| b.is_ascii_digit());
    let w = run_back(p, s, is_ws);
    (s < p.len() && w < s).then(|| (&p[s..], w))
}

/// `"[123]"` exactly: its digits.
fn bracketed(t: &[u8]) -> Option<&[u8]> {
    let d = t.strip_prefix(b"[")?.strip_suffix(b"]")?;
    all(d, |b| b.is_ascii_digit()).then_some(d)
}

/// perf: `COMM [TGID/]PID [CPU] SEC`, e.g. "Web Content 1234/1240 [003] 2406".
pub fn perf_prefix(p: &[u8]) -> Option<Prefix<'_>> {
    let (sec, i) = seconds(p)?;
    let c = run_back(p, i, |b| !is_ws(b));
    let cpu = bracketed(p.get(c..i)?)?;
    let i = c;
    let w = run_back(p, i, is_ws);
    let t = run_back(p, w, |b| !is_ws(b));
    if w == i || t == w || t == 0 {
        return None; // the pid stands after a whitespace, never at the start of the line
    }
    let token = &p[t..w];
    // (a memchr call costs more than the walk over a token this short)
    let (tgid, pid) = match token.iter().position(|&b| b == b'/') {
        Some(k) => (Some(&token[..k]), &token[k + 1..]),
        None => (None, token),
    };
    if !signed_digits(pid) || tgid.is_some_and(|g| !signed_digits(g)) {
        return None;
    }
    Some(Prefix { start: t - 1, pid, tgid, cpu, sec })
}

/// ftrace's latency flags after "[CPU]": 4 to 7 bytes, none of them whitespace, '[', ']' or ':'.
fn flags(t: &[u8]) -> bool {
    (4..=7).contains(&t.len()) && t.iter().all(|&b| !is_ws(b) && !matches!(b, b'[' | b']' | b':'))
}

/// `trace-cmd report -l`: the CPU glued to the flags, "0...1." (the first flag is never a digit).
fn cpu_glued(t: &[u8]) -> Option<&[u8]> {
    let d = t.iter().position(|b| !b.is_ascii_digit())?;
    let rest = t.get(d + 1..)?;
    let ok = d > 0 && matches!(t[d], b'd' | b'X' | b'.') && (3..=5).contains(&rest.len()) && !rest.contains(&b':');
    ok.then(|| &t[..d])
}

/// ftrace: `COMM-PID [(TGID)] [CPU] [FLAGS] SEC` or `COMM-PID [(TGID)] CPUFLAGS SEC`.
pub fn ftrace_prefix(p: &[u8]) -> Option<Prefix<'_>> {
    let (sec, i) = seconds(p)?;
    let t1 = run_back(p, i, |b| !is_ws(b));
    let last = &p[t1..i];
    if let Some(cpu) = bracketed(last) {
        if let Some(pre) = ftrace_pid(p, t1, cpu, sec) {
            return Some(pre);
        }
    }
    if flags(last) {
        let w = run_back(p, t1, is_ws);
        let t0 = run_back(p, w, |b| !is_ws(b));
        if let Some(cpu) = (w < t1).then(|| bracketed(&p[t0..w])).flatten() {
            if let Some(pre) = ftrace_pid(p, t0, cpu, sec) {
                return Some(pre);
            }
        }
    }
    ftrace_pid(p, t1, cpu_glued(last)?, sec)
}

/// `-PID\s+` and an optional `(\s*TGID)\s+` ending where the CPU column starts (`end`).
fn ftrace_pid<'a>(p: &'a [u8], end: usize, cpu: &'a [u8], sec: &'a [u8]) -> Option<Prefix<'a>> {
    let mut j = run_back(p, end, is_ws);
    if j == end {
        return None;
    }
    let mut tgid = None;
    if j > 0 && p[j - 1] == b')' {
        let close = j - 1;
        let d = run_back(p, close, |b| b.is_ascii_digit());
        let r = if d < close { d } else { run_back(p, close, |b| b == b'-') };
        let open = run_back(p, r, is_ws);
        if r == close || open == 0 || p[open - 1] != b'(' {
            return None;
        }
        tgid = Some(&p[r..close]);
        let w = run_back(p, open - 1, is_ws);
        if w == open - 1 {
            return None;
        }
        j = w;
    }
    let d = run_back(p, j, |b| b.is_ascii_digit());
    if d == j || d == 0 || p[d - 1] != b'-' {
        return None;
    }
    Some(Prefix { start: d - 1, pid: &p[d..j], tgid, cpu, sec })
}

/// An event line, split; `None` for every other line.
#[derive(Debug)]
pub struct Head<'a> {
    pub comm: &'a [u8], // before the prefix, untrimmed (ftrace: with any instance name)
    pub pre: Prefix<'a>,
    pub frac: &'a [u8],
    pub event: Cow<'a, [u8]>, // as printed (ftrace: without its system)
    pub payload: &'a [u8],    // untrimmed; empty where the line has none
    /// What stands between ".frac: " and the payload, its ": " included, where a payload follows
    /// the name (else empty): every line that starts so names the same event (`Named`).
    pub named: &'a [u8],
}

/// The first ": " in `s` (a searcher built per call costs more than this on short lines).
fn colon_space(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b": ")
}

/// Where ``.frac: `` starts: the first '.' followed by digits and ": ".
fn find_dot(l: &[u8]) -> Option<(usize, usize)> {
    for d in memchr::memchr_iter(b'.', l) {
        let n = l.get(d + 1..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 && l.get(d + 1 + n..d + 3 + n) == Some(b": ") {
            return Some((d, n));
        }
    }
    None
}

/// An event line's prefix read, before its name: the comm, the prefix, the fraction and what
/// follows ".frac: ".
pub struct Lead<'a> {
    pub comm: &'a [u8],
    pub pre: Prefix<'a>,
    pub frac: &'a [u8],
    pub after: &'a [u8],
}

#[inline] // once per line, and its result is large: built in place, not copied out
pub fn lead(l: &[u8], dialect: Dialect) -> Option<Lead<'_>> {
    let (dot, n) = find_dot(l)?;
    let prefix = &l[..dot];
    let pre = match dialect {
        Dialect::Perf => perf_prefix(prefix)?,
        Dialect::Ftrace => ftrace_prefix(prefix)?,
    };
    Some(Lead { comm: &prefix[..pre.start], pre, frac: &l[dot + 1..dot + 1 + n], after: &l[dot + 3 + n..] })
}

pub fn head(l: &[u8], dialect: Dialect) -> Option<Head<'_>> {
    lead(l, dialect)?.head(dialect)
}

/// The event names met before, each as its line spelled what stands before the payload
/// (`Head::named`): a capture has a handful, and comparing those bytes replaces reading the
/// name again. A name is one line's and the next's whenever that line starts with the same bytes:
/// they hold the first ": " of the line's rest at their end, so the name and the payload split
/// where they split before (ftrace's syscall lines, read before the name, are not so known).
#[derive(Default, Debug)]
pub struct Named {
    seen: Vec<(Vec<u8>, (usize, usize), usize)>, // what stood before the payload, where the event is in it, its kind
}

impl Named {
    const MAX: usize = 16;

    /// The head of `lead`'s line and its kind, where it starts as a known name does.
    #[inline] // once per line, and its result is large: built in place, not copied out
    pub fn known<'a>(&self, lead: &Lead<'a>, dialect: Dialect) -> Option<(Head<'a>, usize)> {
        let after = lead.after;
        if dialect == Dialect::Ftrace && after.starts_with(b"sys_") {
            return None;
        }
        let (named, (a, z), kind) = self.seen.iter().find(|(named, _, _)| after.starts_with(named))?;
        let (named, payload) = after.split_at(named.len());
        let event = Cow::Borrowed(&named[*a..*z]);
        Some((Head { comm: lead.comm, pre: lead.pre, frac: lead.frac, event, payload, named }, *kind))
    }

    /// Know `h`'s name as `kind` from now on (a bounded few: a capture of many kinds reads the rest).
    pub fn learn(&mut self, h: &Head, kind: usize) {
        let Cow::Borrowed(event) = &h.event else { return };
        if h.named.is_empty() || self.seen.len() >= Self::MAX || self.seen.iter().any(|(n, _, _)| n == h.named) {
            return;
        }
        // the event is a slice of `named`; any place that holds its bytes gives the same name
        if let Some(at) = memchr::memmem::find(h.named, event) {
            self.seen.push((h.named.to_vec(), (at, at + event.len()), kind));
        }
    }
}

impl<'a> Lead<'a> {
    #[inline] // once per line, and its result is large: built in place, not copied out
    pub fn head(&self, dialect: Dialect) -> Option<Head<'a>> {
        let (comm, pre, frac, after) = (self.comm, self.pre, self.frac, self.after);
        if dialect == Dialect::Ftrace {
            if let Some((event, payload)) = syscall(after) {
                return Some(Head { comm, pre, frac, event: Cow::Owned(event), payload, named: b"" });
            }
        }
        let (name, payload, named) = match colon_space(after) {
            Some(k) => (&after[..k], Some(&after[k + 2..]), &after[..k + 2]),
            None => (after, None, &b""[..]),
        };
        let name = trim(name);
        let bare = name.strip_suffix(b":");
        // "name: payload", or "name:" ending the line; perf's "system:name" holds a ':' of its own, so a
        // line cut inside the name ("2856.934950:   block:") is no event line
        let named_ok = payload.is_some() || bare.is_some_and(|b| dialect == Dialect::Ftrace || b.contains(&b':'));
        let mut event = bare.unwrap_or(name);
        if event.iter().any(|&b| is_ws(b)) {
            // "1 block:block_rq_complete": perf printed a period column before the name
            event = &event[run_back(event, event.len(), |b| !is_ws(b))..];
        }
        if !named_ok || event.is_empty() || event.contains(&b'>') {
            return None;
        }
        Some(Head { comm, pre, frac, event: Cow::Borrowed(event), payload: payload.unwrap_or_default(), named })
    }
}

/// The syscall events the kernel prints itself (trace_syscalls.c), with no "name: ":
/// "sys_write(fd: 1, buf: 0x5649, count: 0x200)" and "sys_write -> 0x200".
fn syscall(after: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let rest = after.strip_prefix(b"sys_")?;
    let w = rest.iter().take_while(|&&b| is_word(b)).count();
    let (name, tail) = rest.split_at(w);
    if name.is_empty() {
        return None;
    }
    let end = run_back(tail, tail.len(), is_ws);
    let body = &tail[..end];
    if let Some(args) = body.strip_prefix(b"(").and_then(|b| b.strip_suffix(b")")) {
        return Some(([b"syscalls:sys_enter_", name].concat(), args));
    }
    let ret = body.strip_prefix(b" -> ")?;
    all(ret, |b| !is_ws(b)).then(|| ([b"syscalls:sys_exit_", name].concat(), ret))
}

/// ftrace's instance name before the comm ("tpfix:          python3"): where the comm starts.
pub fn instance_len(comm: &[u8]) -> usize {
    let n = comm.iter().take_while(|&&b| is_word(b) || b == b'.' || b == b'-').count();
    if n == 0 || comm.get(n) != Some(&b':') {
        return 0;
    }
    let w = comm[n + 1..].iter().take_while(|&&b| is_ws(b)).count();
    if w == 0 {
        0
    } else {
        n + 1 + w
    }
}

/// A call-chain frame line: perf's "\tffffffffa8a4d4a2 blk_mq_start_request+0xc2 ([kernel.kallsyms])"
/// (the "(dso)" at the end tells it from a cut event line whose comm looks like hex), ftrace's
/// " => blk_mq_start_request". Returns the frame's symbol text, untrimmed.
pub fn frame(l: &[u8], dialect: Dialect) -> Option<&[u8]> {
    let lead = l.iter().take_while(|&&b| is_ws(b)).count();
    let rest = &l[lead..];
    match dialect {
        Dialect::Perf => {
            let h = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if lead == 0 || h == 0 || !rest.get(h).is_some_and(|&b| is_ws(b)) {
                return None;
            }
            let body = &rest[h..];
            let end = run_back(body, body.len(), is_ws);
            let open = memchr::memchr(b'(', body)?;
            (end > open + 1 && body[end - 1] == b')').then_some(body)
        }
        Dialect::Ftrace => {
            let sym = rest.strip_prefix(b"=>")?;
            let w = sym.iter().take_while(|&&b| is_ws(b)).count();
            (w > 0 && w < sym.len()).then_some(sym)
        }
    }
}

fn ends_with_stack(l: &[u8]) -> Option<usize> {
    let end = run_back(l, l.len(), is_ws);
    let body = &l[..end];
    let body = body.strip_suffix(b"<stack trace>").or_else(|| body.strip_suffix(b"<user stack trace>"))?;
    let w = run_back(body, body.len(), is_ws);
    (w < body.len() && w > 0 && body[w - 1] == b':').then(|| w - 1)
}

/// ftrace's "dd-4116  [001] ..... 2406.385080: <stack trace>": the CPU whose last event owns the
/// frames below it.
pub fn marker(l: &[u8]) -> Option<&[u8]> {
    let colon = ends_with_stack(l)?;
    for dash in memchr::memchr_iter(b'-', &l[..colon]) {
        if let Some((cpu, end)) = marker_at(l, dash + 1) {
            if end <= colon {
                return Some(cpu);
            }
        }
    }
    None
}

/// `\d+\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]` at `i`: the CPU and where the match ends.
fn marker_at(l: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let skip = |i: usize, f: &dyn Fn(u8) -> bool| i + l.get(i..).map_or(0, |s| s.iter().take_while(|&&b| f(b)).count());
    let d = skip(i, &|b| b.is_ascii_digit());
    let w = skip(d, &is_ws);
    if d == i || w == d {
        return None;
    }
    let bracket = |k: usize| -> Option<(&[u8], usize)> {
        let c = skip(k + 1, &|b| b.is_ascii_digit());
        (l.get(k) == Some(&b'[') && c > k + 1 && l.get(c) == Some(&b']')).then(|| (&l[k + 1..c], c + 1))
    };
    if l.get(w) == Some(&b'(') {
        let s = skip(w + 1, &is_ws);
        let g = skip(s, &|b| b.is_ascii_digit());
        let g = if g > s { g } else { skip(s, &|b| b == b'-') };
        let w2 = skip(g + 1, &is_ws);
        if g > s && l.get(g) == Some(&b')') && w2 > g + 1 {
            if let Some(hit) = bracket(w2) {
                return Some(hit);
            }
        }
    }
    bracket(w)
}

/// Parse `\d+` into an i64 where it fits.
pub fn int(d: &[u8]) -> Option<i64> {
    i64::try_from(super::payload::digits_u64(d)?).ok()
}

/// A lost-event record: (cpu, lost count), each None where absent or too wide.
pub type Lost = (Option<i64>, Option<i64>);

pub fn lost(l: &[u8], dialect: Dialect) -> Option<Lost> {
    match dialect {
        Dialect::Perf => perf_lost(l),
        Dialect::Ftrace => ftrace_lost(l),
    }
}

/// perf script --show-lost-events: "... PERF_RECORD_LOST lost 12" (also PERF_RECORD_LOST_SAMPLES);
/// the CPU is the first "[N]" before the record name.
fn perf_lost(l: &[u8]) -> Option<Lost> {
    const NAME: &[u8] = b"PERF_RECORD_LOST";
    // nearly no line is one: a searcher built once says so faster than the full reading below
    static HINT: std::sync::OnceLock<memmem::Finder<'static>> = std::sync::OnceLock::new();
    HINT.get_or_init(|| memmem::Finder::new(NAME)).find(l)?;
    let boundary = |i: usize| !l.get(i).is_some_and(|&b| is_word(b));
    // every "lost:? N": the count is the first one after the last record name that has one after it
    let counts: Vec<(usize, usize)> = memmem::find_iter(l, b"lost")
        .filter_map(|k| {
            let mut i = k + 4;
            if l.get(i) == Some(&b':') {
                i += 1;
            }
            let w = l[i..].iter().take_while(|&&b| is_ws(b)).count();
            let d = l[i + w..].iter().take_while(|b| b.is_ascii_digit()).count();
            (w > 0 && d > 0).then_some((k, i + w))
        })
        .collect();
    let last_count = counts.last()?.0;
    let name = memmem::rfind_iter(l, NAME).find_map(|k| {
        let end = k + NAME.len();
        let ends = [end + 8, end];
        ends.into_iter()
            .find(|&e| (e == end || l.get(end..e) == Some(b"_SAMPLES")) && boundary(e) && e <= last_count)
            .map(|e| (k, e))
    });
    let (start, end) = name?;
    let &(_, at) = counts.iter().find(|&&(k, _)| k >= end)?;
    let n = int(&l[at..at + l[at..].iter().take_while(|b| b.is_ascii_digit()).count()]);
    let cpu = memchr::memchr_iter(b'[', &l[..start]).find_map(|o| {
        let c = l[o + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        (c > 0 && l.get(o + 1 + c) == Some(&b']') && o + 2 + c <= start).then(|| int(&l[o + 1..o + 1 + c]))
    });
    Some((cpu.flatten(), n))
}

/// tracefs "CPU:1 [LOST 1204 EVENTS]", trace-cmd "CPU:1 [1204 EVENTS DROPPED]", maybe after an
/// instance name ("tpfix: CPU:0 [8828 EVENTS DROPPED]").
fn ftrace_lost(l: &[u8]) -> Option<Lost> {
    let n = l.iter().take_while(|&&b| is_word(b) || b == b'.' || b == b'-').count();
    if n > 0 && l.get(n) == Some(&b':') && l.get(n + 1).is_some_and(|&b| is_ws(b)) {
        if let Some(hit) = ftrace_lost_at(&l[n + 2..]) {
            return Some(hit);
        }
    }
    ftrace_lost_at(l)
}

fn ftrace_lost_at(l: &[u8]) -> Option<Lost> {
    let ws = |s: &[u8]| s.iter().take_while(|&&b| is_ws(b)).count();
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let s = &l[ws(l)..];
    let s = s.strip_prefix(b"CPU:")?;
    let s = &s[ws(s)..];
    let c = digits(s);
    let (cpu, s) = s.split_at(c);
    let w = ws(s);
    if c == 0 || w == 0 {
        return None;
    }
    let mut s = s[w..].strip_prefix(b"[")?;
    if let Some(r) = s.strip_prefix(b"LOST") {
        if ws(r) > 0 {
            s = &r[ws(r)..];
        }
    }
    let d = digits(s);
    let (count, s) = s.split_at(d);
    let w = ws(s);
    let s = s[w..].strip_prefix(b"EVENTS")?;
    if d == 0 || w == 0 {
        return None;
    }
    let dropped = ws(s) > 0 && s[ws(s)..].starts_with(b"DROPPED]");
    (s.starts_with(b"]") || dropped).then(|| (int(cpu), int(count)))
}

/// Lines that carry no event and are not errors: blank lines, comments, perf's "# ====" headers,
/// ftrace's "cpus=2", "version = 6", empty CPUs, stack markers.
pub fn quiet(l: &[u8], dialect: Dialect) -> bool {
    let t = trim(l);
    if t.is_empty() || t.starts_with(b"#") {
        return true;
    }
    if dialect == Dialect::Perf {
        return false;
    }
    let digits_then = |s: &[u8], rest: &[u8]| {
        let d = s.iter().take_while(|b| b.is_ascii_digit()).count();
        d > 0 && s[d..].starts_with(rest)
    };
    let ws = |s: &[u8]| s.iter().take_while(|&&b| is_ws(b)).count();
    if t.strip_prefix(b"cpus=").is_some_and(|n| all(n, |b| b.is_ascii_digit())) {
        return true;
    }
    if let Some(v) = t.strip_prefix(b"version") {
        if let Some(v) = v[ws(v)..].strip_prefix(b"=") {
            if v[ws(v)..].first().is_some_and(|b| b.is_ascii_digit()) {
                return true;
            }
        }
    }
    if let Some(c) = t.strip_prefix(b"CPU ").and_then(|c| c.strip_suffix(b" is empty")) {
        if all(c, |b| b.is_ascii_digit()) {
            return true;
        }
    }
    if t.strip_prefix(b"CPU").is_some_and(|c| digits_then(c, b" data recorded at offset=")) {
        return true;
    }
    t.ends_with(b": <stack trace>") || t.ends_with(b": <user stack trace>")
}
