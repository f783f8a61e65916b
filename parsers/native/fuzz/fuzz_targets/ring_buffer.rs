//! Ring-buffer pages of any bytes: the walk never panics, every record it returns lies inside
//! its page's committed data, and the CPU merge returns a permutation grouped by kind.
#![no_main]

use _native::fields::gather_int;
use _native::ring_buffer::{decode_pages, merge_grouped, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&how, pages)) = data.split_first() else { return };
    let commit_size = if how & 1 == 0 { 8 } else { 4 };
    let page_size = 64usize << (how >> 1 & 3);
    let layout = Layout {
        page_size,
        ts_offset: 0,
        commit_offset: 8,
        commit_size,
        data_offset: 8 + commit_size,
        big_endian: how & 8 != 0,
    };
    let Ok(rec) = decode_pages(pages, &layout) else { return };
    assert_eq!(rec.lost.len(), pages.len() / page_size);
    assert!(rec.bad_pages as usize <= rec.lost.len());
    for ((&s, &n), &p) in rec.start.iter().zip(&rec.length).zip(&rec.page) {
        let (s, n, p) = (s as usize, n as usize, p as usize);
        assert!(s >= p * page_size + layout.data_offset && s + n <= (p + 1) * page_size);
    }
    let kinds: Vec<i64> = gather_int(pages, &rec.start, 0, 2, layout.big_endian)
        .chunks_exact(2)
        .map(|c| i64::from(u16::from_ne_bytes([c[0], c[1]]) & 3))
        .collect();
    let ts: Vec<i64> = rec.ts.iter().map(|&t| t as i64).collect();
    let half = kinds.len() / 2;
    let (order, listed, first) = merge_grouped(&kinds, &ts, &[half, kinds.len() - half]).expect("runs add up");
    let mut seen = vec![false; order.len()];
    for &i in &order {
        assert!(!std::mem::replace(&mut seen[i as usize], true));
    }
    assert_eq!(listed.len(), first.len());
    for (g, &k) in listed.iter().enumerate() {
        let end = first.get(g + 1).map_or(order.len(), |&e| e as usize);
        assert!(order[first[g] as usize..end].iter().all(|&i| kinds[i as usize] == k));
    }
});
