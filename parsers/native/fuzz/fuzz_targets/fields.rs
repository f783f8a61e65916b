//! Field gathers at any offsets and lengths: no panic, and each output has the promised shape.
#![no_main]

use _native::fields::{gather_bytes, gather_cstrings, gather_int, intern_ints};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
