use super::*;
use std::collections::HashMap;

fn rng(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

fn req(ts: i64, d2c: i64, dev: u32, comm: u32, sector: u64) -> Finished {
    Finished { ts: Some(ts), dev, comm, rwbs: 0, op: b'W', pid: Some(7), sector: Some(sector), bytes: Some(4096), phases: [Some(d2c), None, None], ..Finished::default() }
}

fn opts(t0: i64) -> Options {
    Options { t0, unit_ns: 1000, keep_slow: 10, slower_than: None }
}

#[test]
fn hdr_index_is_hdrhistograms_counts_index() {
    // values below 2048 are exact; above, each power of two halves the resolution: 2048 and 2049
    // share a bucket (index 2048), 4096..4099 too (index 3072), as HdrHistogram(1, week, 3) counts them
    for (v, idx) in [(0, 0), (1, 1), (2047, 2047), (2048, 2048), (2049, 2048), (2050, 2049), (4095, 3071), (4096, 3072), (4099, 3072), (4100, 3073)] {
        assert_eq!(hdr_index(v), idx, "value {v}");
    }
    assert_eq!(hdr_index(-5), 0);
    assert_eq!(hdr_index(i64::MAX), hdr_index(HIGHEST_NS)); // clamped to the histogram's top
}

#[test]
fn lat_bucket_holds_its_value_in_the_quarter_octave() {
    // bucket_range of reports/heatmap.py: [lo, hi) of each bucket
    let range = |idx: i64| -> (i64, i64) {
        if idx < 4 {
            return (idx, idx + 1);
        }
        let (shift, sub) = (idx / 4 - 1, idx % 4);
        ((4 + sub) << shift, (5 + sub) << shift)
    };
    for v in (0..5000).chain([1 << 20, (1 << 20) + 1, 123_456_789, 1 << 40]) {
        let (lo, hi) = range(lat_bucket(v));
        assert!(lo <= v && v < hi, "{v} not in [{lo}, {hi})");
    }
}

#[test]
fn log2_floor_is_bpftraces_hist_bucket() {
    assert_eq!([0, 1, 2, 3, 4, 1023, 1024].map(log2_floor), [-1, 0, 1, 1, 2, 9, 10]);
}

#[test]
fn the_axis_widens_by_the_ladder_and_only_grows() {
    let a = Axis::new(0);
    assert_eq!(a.widened(480_000), None); // 480 buckets of 1 us: 4x MAX_COLUMNS fit
    assert_eq!(a.widened(480_001), Some(2_000));
    assert_eq!(a.widened(10_000_000_000), Some(100_000_000)); // 10 s: 20 ms would need 500 buckets
    let wide = Axis { t0: 0, width: 1_000_000 };
    assert_eq!(wide.widened(5), None);
}

/// The heat map counted directly at the final width: the cells and each cell's 5 slowest.
fn direct(reqs: &[Finished], width: i64, s: &Strings) -> HashMap<(i64, i64), (u32, Vec<Kept>)> {
    let mut out: HashMap<(i64, i64), (u32, Vec<Kept>)> = HashMap::new();
    for r in reqs {
        let (Some(ts), Some(v)) = (r.ts, r.phases[0]) else { continue };
        if v < 0 {
            continue;
        }
        let e = out.entry((ts.div_euclid(width), lat_bucket(v))).or_default();
        e.0 += 1;
        e.1.push(Kept { ts, value: v, comm: r.comm, pid: r.pid, dev: r.dev, rwbs: r.rwbs, sector: r.sector, bytes: r.bytes });
    }
    for e in out.values_mut() {
        e.1.sort_by(|a, b| slower(a, b, s));
        e.1.truncate(KEEP_PER_CELL);
    }
    out
}

#[test]
fn cells_and_their_slowest_do_not_depend_on_batches_or_order() {
    let mut rnd = rng(0x9E37_79B9_7F4A_7C15);
    let strings = || Strings(vec![Some("b".into()), Some("a".into()), None, Some("c".into())]);
    for _ in 0..50 {
        // few distinct latencies and times: ties everywhere, broken by comm (a string), then sector
        let reqs: Vec<Finished> = (0..rnd(400) + 1)
            .map(|_| {
                let mut r = req(rnd(3_000_000_000) as i64 / 1_000_000 * 1_000_000, rnd(4) as i64 * 1000, 0, [0, 1, 2, NULL][rnd(4) as usize], rnd(3));
                r.phases[1] = (rnd(2) == 0).then_some(-5); // negative: counted, never recorded
                r
            })
            .collect();
        let mut rec = Recording::new(opts(0));
        rec.strings = strings();
        let mut rest = &reqs[..];
        while !rest.is_empty() {
            let (batch, more) = rest.split_at((rnd(60) as usize + 1).min(rest.len()));
            rec.record(batch.len(), |i| batch[i].clone(), |_| true);
            rest = more;
        }
        let w = rec.heat[0].axis.width;
        let want = direct(&reqs, w, &strings());
        let got: HashMap<_, _> = rec.heat[0].cells.iter().map(|(k, c)| (*k, (c.n, c.kept.clone()))).collect();
        assert_eq!(got, want);
        assert_eq!(rec.negative[1] as usize, reqs.iter().filter(|r| r.phases[1].is_some()).count());
        assert!(rec.heat[1].cells.is_empty());
        // one batch widens at once to the same width
        let mut once = Recording::new(opts(0));
        once.strings = strings();
        once.record(reqs.len(), |i| reqs[i].clone(), |_| true);
        assert_eq!(once.heat[0].axis.width, w);
    }
}

#[test]
fn distribution_cells_add_up_to_the_values() {
    let mut rnd = rng(7);
    let reqs: Vec<Finished> = (0..2000).map(|i| req(i, rnd(1 << 30) as i64, (i % 3) as u32, 0, i as u64)).collect();
    let mut rec = Recording::new(opts(0));
    rec.record(reqs.len(), |i| reqs[i].clone(), |i| i % 2 == 0); // the filters keep every other one
    let kept: Vec<i64> = reqs.iter().step_by(2).filter_map(|r| r.phases[0]).collect();
    let d = &rec.dists[0];
    assert_eq!(d.totals.iter().map(|t| t.n).sum::<u64>(), kept.len() as u64);
    assert_eq!(d.totals.iter().map(|t| t.sum).sum::<i64>(), kept.iter().sum::<i64>());
    assert_eq!(d.totals.iter().map(|t| t.lo).min(), kept.iter().copied().min());
    assert_eq!(d.totals.iter().map(|t| t.hi).max(), kept.iter().copied().max());
    // every kept value counted once under its own hdr index and log2 buckets, counted here apart
    let mut want: HashMap<i64, u64> = HashMap::new();
    let (mut log2, mut log2_unit) = (HashMap::<i64, u64>::new(), HashMap::<i64, u64>::new());
    for &v in &kept {
        *want.entry(hdr_index(v)).or_default() += 1;
        *log2.entry(log2_floor(v as u64)).or_default() += 1;
        *log2_unit.entry(log2_floor((v / 1000) as u64)).or_default() += 1;
    }
    let mut got: HashMap<i64, u64> = HashMap::new();
    for (_, idx, n) in d.cells() {
        *got.entry(idx).or_default() += n;
    }
    assert_eq!(got, want);
    let table = |unit: bool| {
        let mut out: HashMap<i64, u64> = HashMap::new();
        for &(k, ku, n) in d.totals.iter().flat_map(|t| &t.log2) {
            *out.entry(i64::from(if unit { ku } else { k })).or_default() += n;
        }
        out
    };
    assert_eq!(table(false), log2);
    assert_eq!(table(true), log2_unit);
    // and the groupings roll the same up: the total holds every kept value
    let groups = rec.groups(0);
    let total = &groups[&("total", String::new())];
    assert_eq!((total.n, total.counts.values().sum::<u64>()), (kept.len() as u64, kept.len() as u64));
    assert_eq!(total.log2, log2.into_iter().collect());
    assert_eq!(rec.matched, 1000);
    assert_eq!(rec.tally.values().sum::<u64>(), 2000); // tallied before the filters
}

#[test]
fn the_slow_listing_keeps_the_slowest_ties_earliest_then_device() {
    let s = Strings(vec![Some("8,16".into()), Some("8,0".into())]);
    let mut reqs: Vec<Finished> = (0..5000).map(|i| req(i, i % 100, 0, 0, i as u64)).collect();
    reqs.push(req(10, 99, 1, 0, 3)); // ties the slowest at an earlier time than most
    reqs.push(req(99, 99, 1, 0, 3)); // ties (99, 99) of dev 0: dev "8,0" sorts first
    let mut rec = Recording::new(Options { keep_slow: 3, ..opts(0) });
    rec.strings = s;
    for batch in reqs.chunks(700) {
        rec.record(batch.len(), |i| batch[i].clone(), |_| true);
    }
    let got: Vec<_> = rec.slowest().iter().map(|r| (r.phases[0], r.ts, r.dev)).collect();
    assert_eq!(got, [(Some(99), Some(10), 1), (Some(99), Some(99), 1), (Some(99), Some(99), 0)]);
    assert_eq!(rec.slow_total, 5002);
    let mut past = Recording::new(Options { keep_slow: 100_000, slower_than: Some(98), ..opts(0) });
    past.record(reqs.len(), |i| reqs[i].clone(), |_| true);
    assert_eq!(past.slowest().len(), 50 * 2 + 2);
}

#[test]
fn series_count_requests_and_bytes_per_bucket_and_device() {
    let reqs: Vec<Finished> = (0..1000).map(|i| req(i * 1_000_000, 10, (i % 2) as u32, 0, i as u64)).collect();
    let mut rec = Recording::new(opts(0));
    rec.record(reqs.len(), |i| reqs[i].clone(), |_| true);
    let w = rec.series.axis.width;
    assert_eq!(w, 10_000_000); // 1 s over 1 ms requests: 100 buckets of 10 ms (the ladder's first past 480)
    let n: u32 = rec.series.cells.values().map(|c| c.0).sum();
    let bytes: i64 = rec.series.cells.values().map(|c| c.1).sum();
    assert_eq!((n, bytes), (1000, 4096 * 1000));
    assert_eq!(rec.series.cells[&(0, 0)], (5, 5 * 4096));
}

#[test]
fn distributions_roll_up_into_every_grouping_with_the_frames_keys() {
    let s = Strings(vec![Some("8,0".into()), Some("dd".into()), Some("W".into())]);
    let mut a = req(1000, 5000, 0, 1, 0);
    a.rwbs = 2;
    let mut b = req(2000, 7000, 0, NULL, 8); // no comm: no process key
    b.rwbs = 2;
    let mut c = req(3000, 9000, NULL, 1, 16); // no device
    c.pid = None;
    c.rwbs = NULL;
    let mut rec = Recording::new(opts(0));
    rec.strings = s;
    rec.record(3, |i| [&a, &b, &c][i].clone(), |_| true);
    let g = rec.groups(0);
    let n = |dim: &'static str, key: &str| g.get(&(dim, key.to_string())).map(|g| g.n);
    assert_eq!(n("total", ""), Some(3));
    assert_eq!((n("dev", "8,0"), n("dev", "?")), (Some(2), Some(1)));
    assert_eq!((n("op", "W"), n("rwbs", "W"), n("rwbs", "?")), (Some(3), Some(2), Some(1)));
    assert_eq!((n("proc", "7\tdd"), n("proc", "?")), (Some(1), Some(2)));
    assert_eq!((n("devop", "8,0\tW"), n("devop", "?")), (Some(2), Some(1)));
    let total = &g[&("total", String::new())];
    assert_eq!((total.sum, total.lo, total.hi, total.bytes), (21000, 5000, 9000, 3 * 4096));
    assert_eq!(total.counts.values().sum::<u64>(), 3);
    assert_eq!(total.log2_unit.get(&2), Some(&2)); // 5 and 7 us in [4, 8) us; 9 us in [8, 16)
}

#[test]
fn the_final_cut_keeps_every_cells_slowest_before_any_cells_second() {
    // 1000 cells (100 columns of 1 us, 10 latency rows an octave apart) of 5 requests each: 5000
    // kept, 4000 stay
    let reqs: Vec<Finished> = (0..5000i64)
        .map(|i| {
            let (cell, j) = (i / 5, i % 5);
            req((cell % 100) * 1000 + j, (1i64 << (12 + cell / 100)) + j, 0, 0, i as u64)
        })
        .collect();
    let mut rec = Recording::new(opts(0));
    rec.record(reqs.len(), |i| reqs[i].clone(), |_| true);
    let w = rec.heat[0].axis.width;
    rec.finish_axes(w);
    let kept: Vec<usize> = rec.heat[0].cells.values().map(|c| c.kept.len()).collect();
    assert_eq!(kept.iter().sum::<usize>(), MAX_KEPT);
    assert!(kept.iter().all(|&k| (3..=4).contains(&k))); // ranks 0-2 everywhere, rank 3 for the slowest
    // each cell's 4th slowest is its second fastest; a rank survives by value then time
    assert!(rec.heat[0].cells.values().filter(|c| c.kept.len() == 4).all(|c| c.kept[3].value & 7 == 1));
    assert_eq!(rec.heat[0].cells.len(), 1000);
    // widening merges cells and their kept requests
    rec.finish_axes(w * 1000);
    assert!(rec.heat[0].cells.values().all(|c| c.kept.len() <= KEEP_PER_CELL));
}
