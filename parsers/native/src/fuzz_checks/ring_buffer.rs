//! Ring-buffer pages of any bytes: the walk never panics, every record it returns lies inside
//! its page's committed data, the CPU merge returns a permutation grouped by kind, and the block
//! lane reads each group's records (fields at any offsets, records cut anywhere) into one row each.

use crate::block_fields::{IntField, StrField};
use crate::dat_lane::{DatLane, LaneSpec};
use crate::fields::gather_int;
use crate::ring_buffer::{decode_pages, merge_grouped, Layout};

pub fn check(data: &[u8]) {
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
    let int = |offset: i64, size: usize| IntField { offset, size, signed: how & 16 != 0 };
    let mut lane = DatLane::new(layout.big_endian, vec![0, 1, 7], vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"<...>".to_vec()]);
    let cpu: Vec<i16> = (0..order.len()).map(|i| (i % 3) as i16 * 100).collect();
    let mut rows = 0;
    for (g, &k) in listed.iter().enumerate().filter(|(_, &k)| (1..=3).contains(&k)) {
        let end = first.get(g + 1).map_or(order.len(), |&e| e as usize);
        let spec = LaneSpec {
            kind: k as u8,
            pid: int(4, 4),
            dev: int(i64::from(how >> 4) * 4, 4),
            sector: int(16, 8),
            nr_sector: Some(int(24, 4)),
            bytes: (k != 3).then_some(int(28, 4)),
            rwbs: Some(StrField { offset: 34, size: 10 }),
        };
        lane.push_kind(pages, &rec.start, &ts, &cpu, &order[first[g] as usize..end], &spec);
        rows += end - first[g] as usize;
    }
    let (got, new) = lane.take();
    assert_eq!((got.kind.len(), got.dev.len(), got.rwbs.len(), got.nulls.len()), (rows, rows, rows, rows));
    assert!(got.dev.iter().chain(&got.comm).chain(&got.rwbs).all(|&c| (c as usize) < new.len()));
}
