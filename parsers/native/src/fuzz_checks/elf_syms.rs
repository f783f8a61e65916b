//! Any bytes as an ELF binary (and as its debug file), and as an MMAP2 record body: reading the
//! symbols, a build id, names of offsets and a mapping ends in a value or an error, never a panic.

use crate::elf_syms::{build_id, ElfSymbols};
use crate::maps::parse_mmap;

pub fn check(data: &[u8]) {
    let _ = build_id(data);
    for debug in [None, Some(data)] {
        if let Ok(e) = ElfSymbols::parse(data, debug) {
            for off in [0u64, 1, 0x1000, u64::MAX, data.len() as u64] {
                let _ = e.lookup(off);
            }
        }
    }
    for misc in [0u16, 1 << 14] {
        let _ = parse_mmap(data, misc, true, false);
        let _ = parse_mmap(data, misc, false, true);
    }
}
