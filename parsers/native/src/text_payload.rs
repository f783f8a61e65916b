//! Tracepoint payload text -> typed fields, for the events reports know (block, net).
//!
//! The block payload has changed shape over the years; one reader takes them all:
//!
//! ```text
//! 3.10 - 6.10 issue/insert   8,0 W 4096 () 1050624 + 8 [dd]
//! 3.10 - 6.10 complete       8,0 W () 1050624 + 8 [0]
//! 6.11+ issue                254,0 WS 4096 () 2048 + 8 be,0,4 [kworker/1:1H]
//! 6.11+ complete             254,0 WS () 2048 + 8 be,0,4 [0]
//! flush                      254,0 FF 0 () 0 + 0 none,0,0 [fio]
//! no sector (some flushes)   8,0 FF () 18446744073709551615 + 0 [0]
//! ```
//!
//! Inside `[...]` insert and issue print the task's comm, complete prints the error code.

use super::line::{is_ws, CLASS, DIGIT, LOWER, UPPER, WS};

/// A block payload's fields, as text (each kind decides which it types); its numbers with their
/// values, read in the same pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    pub major: Digits<'a>,
    pub minor: Digits<'a>,
    pub rwbs: &'a [u8],
    pub bytes: Option<Digits<'a>>,
    pub sector: Digits<'a>,
    pub nr: Digits<'a>,
    pub ioprio: Option<&'a [u8]>,
    pub tail: &'a [u8],
}

/// A run of ASCII digits and its value (`digits_u64`'s: None past u64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits<'a> {
    pub text: &'a [u8],
    pub value: Option<u64>,
}

impl Digits<'_> {
    /// The value where it fits `T` (`unsigned` of the text).
    pub fn fits<T: TryFrom<u64>>(&self) -> Option<T> {
        T::try_from(self.value?).ok()
    }
}

/// A cursor over a payload: each step takes one lexical piece or fails.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    /// The run of bytes of the classes `bits` (line::CLASS) from here: a table load per byte.
    #[inline(always)]
    fn class(&mut self, bits: u8) -> &'a [u8] {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&b| CLASS[usize::from(b)] & bits != 0) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default()
    }
    #[inline(always)]
    fn some_class(&mut self, bits: u8) -> Option<&'a [u8]> {
        let t = self.class(bits);
        (!t.is_empty()).then_some(t)
    }
    #[inline(always)]
    fn byte(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }
    #[inline(always)]
    fn digits(&mut self) -> Option<&'a [u8]> {
        self.some_class(DIGIT)
    }
    /// Digits, summed as they are read: the numbers of a block line were read twice, once to
    /// find them and once for their values.
    #[inline(always)]
    fn number(&mut self) -> Option<Digits<'a>> {
        let start = self.i;
        let mut v = 0u64;
        while let Some(d) = self.s.get(self.i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            self.i += 1;
        }
        let text = self.s.get(start..self.i).unwrap_or_default();
        // up to 19 digits cannot overflow (digits_u64); a longer run is summed again, checked
        let value = if text.len() <= 19 { Some(v) } else { digits_u64(text) };
        (!text.is_empty()).then_some(Digits { text, value })
    }
    #[inline(always)]
    fn ws(&mut self) -> Option<()> {
        self.some_class(WS).map(|_| ())
    }
}

/// "be,0,4", "none,0,0", "0x2,0,4": class, level, hint; taken where the cursor stands, up to the
/// whitespace after it (None, the cursor anywhere, where what stands there up to whitespace is not one).
fn ioprio<'a>(c: &mut Cur<'a>) -> Option<&'a [u8]> {
    let start = c.i;
    c.some_class(DIGIT | LOWER)?;
    c.byte(b',')?;
    c.digits()?;
    c.byte(b',')?;
    c.digits()?;
    // (read in place: taking the token up to whitespace first, then checking it, read it twice)
    c.s.get(c.i).is_none_or(|&b| is_ws(b)).then(|| c.s.get(start..c.i).unwrap_or_default())
}

/// The fields of a block payload (trimmed), or None where it is of no known shape.
pub fn block(p: &[u8]) -> Option<Block<'_>> {
    let mut c = Cur { s: p, i: 0 };
    let major = c.number()?;
    c.byte(b',')?;
    let minor = c.number()?;
    c.ws()?;
    let rwbs = c.some_class(UPPER)?;
    c.ws()?;
    let mut bytes = None;
    if p.get(c.i) != Some(&b'(') {
        bytes = Some(c.number()?);
        c.ws()?;
    }
    c.byte(b'(')?;
    if p.get(c.i) != Some(&b')') {
        // (a SCSI command in hex; most lines have none, and a search costs more than this look)
        c.i += memchr::memchr(b')', p.get(c.i..).unwrap_or_default())?;
    }
    c.byte(b')')?;
    c.ws()?;
    let sector = c.number()?;
    c.ws()?;
    c.byte(b'+')?;
    c.ws()?;
    let nr = c.number()?;
    c.ws()?;
    let mut io = None;
    if p.get(c.i) != Some(&b'[') {
        io = Some(ioprio(&mut c)?);
        c.ws()?;
    }
    c.byte(b'[')?;
    let tail = p.get(c.i..)?.strip_suffix(b"]")?;
    Some(Block { major, minor, rwbs, bytes, sector, nr, ioprio: io, tail })
}

/// The value of the first `key=` that starts the payload or follows whitespace and is followed by
/// at least one byte that `f` takes.
fn keyed<'a>(p: &'a [u8], key: &[u8], f: impl Fn(&'a [u8]) -> Option<&'a [u8]>) -> Option<&'a [u8]> {
    memchr::memmem::find_iter(p, key)
        .filter(|&k| k == 0 || is_ws(p[k - 1]))
        .find_map(|k| f(&p[k + key.len()..]))
}

fn run(s: &[u8], f: impl Fn(u8) -> bool) -> Option<&[u8]> {
    let n = s.iter().take_while(|&&b| f(b)).count();
    (n > 0).then(|| &s[..n])
}

/// A net payload's fields: dev=, skbaddr= (hex, without its 0x), len=.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net<'a> {
    pub dev_name: Option<&'a [u8]>,
    pub skbaddr: Option<&'a [u8]>,
    pub len: Option<&'a [u8]>,
}

pub fn net(p: &[u8]) -> Net<'_> {
    let hex = |s: &[u8]| -> Option<usize> { Some(s.iter().take_while(|b| b.is_ascii_hexdigit()).count()).filter(|&n| n > 0) };
    Net {
        dev_name: keyed(p, b"dev=", |s| run(s, |b| !is_ws(b))),
        skbaddr: keyed(p, b"skbaddr=", |s| match s.strip_prefix(b"0x").and_then(|h| hex(h).map(|n| &h[..n])) {
            Some(h) => Some(h),
            None => hex(s).map(|n| &s[..n]),
        }),
        len: keyed(p, b"len=", |s| run(s, |b| b.is_ascii_digit())),
    }
}

/// An unsigned number that fits `T` (u32/u64), from ASCII digits.
pub fn unsigned<T: TryFrom<u64>>(d: &[u8]) -> Option<T> {
    T::try_from(digits_u64(d)?).ok()
}

/// ASCII digits as a u64. Up to 19 digits cannot overflow one, so they are summed without the
/// overflow checks, whose 128-bit multiply per digit was the costliest step of a block line (each
/// line has some 35 digits); a longer run (the 20 of a flush's sector 2^64-1) is checked.
pub fn digits_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() {
        return None;
    }
    if d.len() <= 19 {
        let mut v = 0u64;
        for &b in d {
            let x = b.wrapping_sub(b'0');
            if x > 9 {
                return None;
            }
            v = v * 10 + u64::from(x);
        }
        return Some(v);
    }
    d.iter().try_fold(0u64, |a, &b| a.checked_mul(10)?.checked_add(u64::from(b.checked_sub(b'0').filter(|&v| v < 10)?)))
}

/// A signed number as a string cast reads it: an optional sign, then ASCII digits.
pub fn signed<T: TryFrom<i64>>(t: &[u8]) -> Option<T> {
    let (neg, d) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v: u64 = unsigned(d)?;
    let v = if neg { 0i64.checked_sub_unsigned(v)? } else { i64::try_from(v).ok()? };
    T::try_from(v).ok()
}
