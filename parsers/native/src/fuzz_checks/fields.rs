//! Field gathers at any offsets and lengths: no panic, and each output has the promised shape.

use crate::block_fields::{gather_block, BlockSpec, IntField, StrField};
use crate::fields::{gather_bytes, gather_cstrings, gather_int, intern_ints};

pub fn check(data: &[u8]) {
    if data.len() < 16 {
        return;
    }
    let (head, buf) = data.split_at(16);
    let word = |i: usize| i64::from_le_bytes(head[i..i + 8].try_into().unwrap_or([0; 8]));
    let starts: Vec<i64> = buf.chunks(3).map(|c| i64::from(c[0]) * 7 - 100 + word(0) % 1000).collect();
    let lens: Vec<i64> = buf.chunks(3).map(|c| i64::from(*c.last().unwrap_or(&0)) - 20 + word(8) % 64).collect();
    for size in [1, 2, 4, 8] {
        assert_eq!(gather_int(buf, &starts, word(8), size, size == 4).len(), starts.len() * size);
    }
    assert_eq!(gather_bytes(buf, &starts, word(0), 5).len(), starts.len() * 5);
    let s = gather_cstrings(buf, &starts, &lens);
    let rows = if s.codes.is_empty() { starts.len() } else { s.codes.iter().map(|&c| c as usize + 1).max().unwrap_or(0) };
    assert_eq!(s.table.len(), rows * s.width);
    let vals: Vec<u64> = starts.iter().map(|&v| v as u64 % 5).collect();
    let (codes, uniq) = intern_ints(&vals);
    assert!(codes.iter().zip(&vals).all(|(&c, &v)| uniq[c as usize] == v));
    // the block gather at fields placed by the input: every column one value per record
    let at = |i: usize| i64::from(head[i % 16]);
    let int = |i: usize| IntField { offset: at(i), size: [1, 2, 4, 8][usize::from(head[(i + 1) % 16]) % 4], signed: head[i] & 1 == 1 };
    let spec = BlockSpec {
        big_endian: head[0] & 2 != 0,
        pid: int(1),
        dev: int(2),
        sector: int(3),
        nr_sector: Some(int(4)),
        bytes: (head[5] & 1 == 0).then(|| int(5)),
        ioprio: Some(int(6)),
        error: Some(int(7)),
        rwbs: Some(StrField { offset: at(8), size: usize::from(head[9] % 24) }),
        comm: (head[10] & 1 == 0).then(|| StrField { offset: at(10), size: 16 }),
    };
    let known: Vec<i64> = (0..i64::from(head[11])).map(|p| p * 3).collect();
    let b = gather_block(buf, &starts, &spec, &known);
    let n = starts.len();
    assert!(b.pid.len() == n && b.comm_at.len() == n && b.dev_codes.len() == n && b.sector.len() == n && b.error.len() == n);
    assert!(b.comm_at.iter().all(|&c| c as usize <= known.len()));
    let r = b.rwbs.expect("asked for");
    let rows = if r.codes.is_empty() { n } else { r.codes.iter().map(|&c| c as usize + 1).max().unwrap_or(0) };
    assert_eq!(r.table.len(), rows * r.width);
}
