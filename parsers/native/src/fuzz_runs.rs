//! A brief fuzz run of every scanner's check in `cargo test`: the cargo-fuzz targets' own checks
//! (src/fuzz_checks/), fed the fixtures and mutations of them from a fixed seed. CI runs this;
//! the hour-long coverage-guided runs are cargo fuzz's (fuzz/README.md). No coverage guides these
//! inputs, so the text and perf.data seeds are real captures' bytes (and the ELF seed a real
//! binary), each mutation a few edits of one: enough to reach the damaged-input branches that a
//! random byte string never gets past the magic for. The field gathers and the ring-buffer walk
//! read any bytes as their input's layout, so their seeds are random (pages with in-page commits).

use std::path::PathBuf;

use crate::fuzz_checks;

/// xorshift64*: the same inputs on every run, so a failure here is a failure the next run repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes the scanners look for: line ends, field separators, digits' edges, sizes' edges.
const INTERESTING: &[u8] = b"\n\0 :[]()+,=-0189\xff\x7f\x80\t";

/// One to eight edits of `seed`: a byte changed, inserted or removed, a range copied elsewhere or
/// dropped, a cut.
fn mutate(rng: &mut Rng, seed: &[u8], max_len: usize) -> Vec<u8> {
    let mut v = seed[..seed.len().min(max_len)].to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => v[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => v.insert(at, rng.next() as u8),
            3 if at < v.len() => {
                let n = rng.below(64).min(v.len() - at);
                v.drain(at..at + n);
            }
            4 if at < v.len() => {
                let n = rng.below(256).min(v.len() - at);
                let piece = v[at..at + n].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, piece);
            }
            5 => v.truncate(at),
            _ if at + 8 <= v.len() => v[at..at + 8].copy_from_slice(&rng.next().to_le_bytes()), // a size or offset word
            _ => {}
        }
    }
    v.truncate(max_len);
    v
}

/// `check` on each seed, then on `runs` mutations of them.
fn run(check: fn(&[u8]), seeds: &[Vec<u8>], runs: usize, max_len: usize) {
    assert!(!seeds.is_empty(), "no seeds");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for s in seeds {
        check(s);
    }
    for _ in 0..runs {
        let seed = &seeds[rng.below(seeds.len())];
        check(&mutate(&mut rng, seed, max_len));
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "fixtures", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first `n` lines of a fixture.
fn head(name: &str, n: usize) -> Vec<u8> {
    fixture(name).split_inclusive(|&b| b == b'\n').take(n).flatten().copied().collect()
}

#[test]
fn text_scanner_on_mutated_captures() {
    // the flags byte first (dialect, stacks, lane, a cut line, lines per chunk: text.rs)
    let perf = [head("perf-block.txt", 150), head("perf-block-ns.txt", 60), head("handmade/comm-spaces.perf.txt", 40)];
    let ftrace = head("handmade/old-kernel-3.10.txt", 60);
    let mut seeds = Vec::new();
    for flags in [0x00u8, 0x03, 0x13, 0x21, 0x09] {
        seeds.extend(perf.iter().map(|t| [&[flags][..], t].concat()));
        seeds.push([&[flags | 4][..], &ftrace].concat());
    }
    run(fuzz_checks::text::check, &seeds, 15000, 4096);
}

#[test]
fn perf_data_scanner_on_mutated_files() {
    let data = fixture("perf-block.perf.data");
    // the header, the attrs and tracing data, then the first records (native_seeds.py's cuts)
    let seeds: Vec<Vec<u8>> = [3000, 20000, 60000].iter().map(|&n| data[..n.min(data.len())].to_vec()).collect();
    run(fuzz_checks::perf_data::check, &seeds, 1500, 80_000);
}

#[test]
fn field_gathers_at_any_offsets() {
    let mut rng = Rng(7);
    let seeds: Vec<Vec<u8>> = (0..8).map(|i| (0..16 + i * 40).map(|_| rng.next() as u8).collect()).collect();
    run(fuzz_checks::fields::check, &seeds, 15000, 2048);
}

#[test]
fn ring_buffer_walk_on_mutated_pages() {
    // pages whose commit words lie inside the page, so the walk reads records (random ones would
    // mostly be refused at the commit): the layout byte first (ring_buffer.rs)
    let mut rng = Rng(11);
    let mut seeds = Vec::new();
    for how in [0u8, 1, 6, 7, 8, 14] {
        let (page, commit_size) = (64usize << (how >> 1 & 3), if how & 1 == 0 { 8 } else { 4 });
        let mut pages = vec![how];
        for _ in 0..4 {
            let mut p: Vec<u8> = (0..page).map(|_| rng.next() as u8 & 0x3f).collect();
            let commit = (rng.below(page - 8 - commit_size) as u64).to_le_bytes();
            let commit = if how & 8 != 0 { (commit[..commit_size]).iter().rev().copied().collect() } else { commit[..commit_size].to_vec() };
            p[8..8 + commit_size].copy_from_slice(&commit);
            pages.extend(p);
        }
        seeds.push(pages);
    }
    run(fuzz_checks::ring_buffer::check, &seeds, 15000, 4096);
}

#[test]
fn elf_symbols_of_mutated_binaries() {
    // a small binary of the machine's (a corpus of binaries is never committed), else this test's own
    let small = ["/usr/bin/true", "/bin/true"].iter().find_map(|p| std::fs::read(p).ok());
    let exe = small.unwrap_or_else(|| std::fs::read(std::env::current_exe().expect("the test binary")).expect("readable"));
    let seeds = vec![exe.clone(), exe[..exe.len().min(4096)].to_vec()];
    run(fuzz_checks::elf_syms::check, &seeds, 1000, exe.len().max(4096));
}
