//! The columns a text chunk becomes: one set per event kind, strings interned per chunk.

use std::collections::HashMap;

/// A string column as codes into a table of distinct values (`u32::MAX`: null until `finish`,
/// then the table's length, so a table with a null appended maps every code).
#[derive(Default, Debug)]
pub struct Codes {
    map: HashMap<Vec<u8>, u32>,
    last: Option<(usize, usize, u32)>, // the previous value's span in `table`: a column mostly repeats itself
    spans: Vec<(usize, usize)>,   // where each code's value stands in `table`
    pub table: Vec<u8>,           // the distinct values, each followed by '\n' (no value holds one)
    pub n: u32,
    pub codes: Vec<u32>,
}

impl Codes {
    pub fn push(&mut self, v: Option<&[u8]>) {
        let Some(v) = v else {
            self.codes.push(u32::MAX);
            return;
        };
        if let Some((a, z, lc)) = self.last {
            if self.table.get(a..z) == Some(v) {
                self.codes.push(lc);
                return;
            }
        }
        // most columns hold a few values (devices, flags, comms): comparing beats hashing
        let few = self.spans.iter().take(8).position(|&(a, z)| self.table.get(a..z) == Some(v));
        let code = match few.map(|c| c as u32).or_else(|| self.map.get(v).copied()) {
            Some(c) => c,
            None => {
                let c = self.n;
                self.map.insert(v.to_vec(), c);
                self.spans.push((self.table.len(), self.table.len() + v.len()));
                self.table.extend_from_slice(v);
                self.table.push(b'\n');
                self.n += 1;
                c
            }
        };
        self.codes.push(code);
        self.last = self.spans.get(code as usize).map(|&(a, z)| (a, z, code));
    }

    /// `a` + `sep` + `b` ("254,0"), without building it where it repeats the previous value.
    pub fn push_joined(&mut self, a: &[u8], sep: u8, b: &[u8]) {
        if let Some((s, z, lc)) = self.last {
            let prev = self.table.get(s..z).unwrap_or_default();
            if prev.len() == a.len() + 1 + b.len() && prev.starts_with(a) && prev.ends_with(b) && prev.get(a.len()) == Some(&sep) {
                self.codes.push(lc);
                return;
            }
        }
        self.push(Some(&[a, &[sep], b].concat()));
    }

    pub fn finish(&mut self) {
        let n = self.n;
        self.codes.iter_mut().filter(|c| **c == u32::MAX).for_each(|c| *c = n);
    }
}

/// Strings that stay strings (payload text): one blob, each value followed by '\n'.
#[derive(Default, Debug)]
pub struct Strings {
    pub blob: Vec<u8>,
    pub n: usize,
}

impl Strings {
    pub fn push(&mut self, v: &[u8]) {
        self.blob.extend_from_slice(v);
        self.blob.push(b'\n');
        self.n += 1;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Block,
    Net,
    Other,
}

#[derive(Default, Debug)]
pub struct BlockCols {
    pub dev: Codes,
    pub dev_major: Vec<u32>,
    pub dev_minor: Vec<u32>,
    pub rwbs: Codes,
    pub sector: Vec<u64>,
    pub nr_sector: Vec<u32>,
    pub bytes: Vec<u64>,
    pub bytes_ok: Vec<u8>,
    pub ioprio: Codes,
    pub rq_comm: Codes,
    pub error: Vec<i32>,
    pub error_ok: Vec<u8>,
}

#[derive(Default, Debug)]
pub struct NetCols {
    pub dev_name: Codes,
    pub skbaddr: Codes,
    pub len: Vec<u32>,
    pub len_ok: Vec<u8>,
}

/// One event kind's events of a chunk, column by column.
#[derive(Debug)]
pub struct KindCols {
    pub name: String,
    pub class: Class,
    pub ts_ns: Vec<i64>,
    pub cpu: Vec<i16>,
    pub pid: Vec<i32>,
    pub tgid: Vec<i32>,
    pub tgid_ok: Vec<u8>,
    pub comm: Codes,
    pub seq: Vec<u32>,      // the event line's ordinal in its chunk: its call chain's key
    pub stack_id: Vec<i32>, // -1: none
    pub payload: Option<Strings>,
    pub block: BlockCols,
    pub net: NetCols,
}

impl KindCols {
    pub fn new(name: String, class: Class, payload: bool) -> Self {
        KindCols {
            name,
            class,
            ts_ns: Vec::new(),
            cpu: Vec::new(),
            pid: Vec::new(),
            tgid: Vec::new(),
            tgid_ok: Vec::new(),
            comm: Codes::default(),
            seq: Vec::new(),
            stack_id: Vec::new(),
            payload: payload.then(Strings::default),
            block: BlockCols::default(),
            net: NetCols::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.ts_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts_ns.is_empty()
    }

    pub fn finish(&mut self) {
        for c in [
            &mut self.comm,
            &mut self.block.dev,
            &mut self.block.rwbs,
            &mut self.block.ioprio,
            &mut self.block.rq_comm,
            &mut self.net.dev_name,
            &mut self.net.skbaddr,
        ] {
            c.finish();
        }
    }
}
