//! ELF symbol tables -> names of user-space frames, as `perf script` names them.
//!
//! A user frame arrives as a file offset in a mapped binary (maps.rs: `addr - map.start + pgoff`).
//! The binary's PT_LOAD program headers turn that offset into the address its symbols are given at
//! (`p_vaddr + (off - p_offset)`: the same for a PIE or .so whose segments start at their file
//! offset, 0x400000 apart for a non-PIE executable). The symbols are `.symtab` where there is one
//! (the binary's own, or a detached debug file's: `/usr/lib/debug/.build-id/xx/rest.debug`),
//! else `.dynsym` (a stripped binary keeps only its exported functions).
//!
//! Which symbols, and which of several at one address, follow what perf reports, checked against
//! `perf script` on this machine's glibc (six aliases at `write`'s address: perf prints
//! `__GI___libc_write`):
//! - functions (STT_FUNC, STT_GNU_IFUNC) and, in executable sections, named labels (STT_NOTYPE,
//!   e.g. ld.so's `_dl_start_user`), defined in a section;
//! - at one address one symbol: one with a size over one without, non-weak over weak, global over
//!   local, fewer leading underscores, the longer name, else the first in the table;
//! - a symbol of size 0 reaches to the next symbol (the last one to the end of its page and one
//!   more), before the choice between aliases: of aliases without sizes the last one wins.

use object::elf;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags, SectionIndex, SymbolFlags};

/// One named range of addresses.
#[derive(Debug, Clone, PartialEq)]
struct Sym {
    start: u64,
    end: u64,
    name: String,
}

/// A binary's symbols, sorted by address, and its segments (file offset -> address).
#[derive(Debug, Default)]
pub struct ElfSymbols {
    syms: Vec<Sym>,
    /// (p_offset, p_filesz, p_vaddr) of each PT_LOAD
    loads: Vec<(u64, u64, u64)>,
    pub build_id: Option<Vec<u8>>,
    /// which table the names came from: "symtab", "dynsym" or "" (none)
    pub table: &'static str,
}

/// A candidate before the one-per-address choice: its place in the table breaks the last tie.
struct Candidate {
    sym: Sym,
    size: u64,
    weak: bool,
    global: bool,
}

/// The build id of an ELF file (its .note.gnu.build-id), or None when it has none or is no ELF.
pub fn build_id(data: &[u8]) -> Option<Vec<u8>> {
    let file = object::File::parse(data).ok()?;
    file.build_id().ok().flatten().map(<[u8]>::to_vec)
}

impl ElfSymbols {
    /// `runtime`: the mapped binary (its program headers and build id); `debug`: a detached debug
    /// file of the same build, whose `.symtab` is preferred. Bytes that are no ELF are an error.
    pub fn parse(runtime: &[u8], debug: Option<&[u8]>) -> Result<Self, String> {
        let file = object::File::parse(runtime).map_err(|e| format!("not an ELF file ({e})"))?;
        let mut out = ElfSymbols { build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec), ..Default::default() };
        for seg in file.segments() {
            // object's ELF segments are the PT_LOAD program headers
            let (off, size) = seg.file_range();
            out.loads.push((off, size, seg.address()));
        }
        let dbg = match debug {
            Some(d) => Some(object::File::parse(d).map_err(|e| format!("the debug file is not an ELF file ({e})"))?),
            None => None,
        };
        // the first table that has functions: the debug file's .symtab, the binary's, its .dynsym
        let tables: [(&object::File, bool, &'static str); 3] = match &dbg {
            Some(d) => [(d, false, "symtab"), (&file, false, "symtab"), (&file, true, "dynsym")],
            None => [(&file, false, "symtab"), (&file, false, "symtab"), (&file, true, "dynsym")],
        };
        for (f, dynamic, name) in tables {
            let mut found = candidates(f, dynamic);
            if !found.is_empty() {
                found.extend(plt_candidates(&file));
                out.syms = choose(found);
                out.table = name;
                break;
            }
        }
        Ok(out)
    }

    /// The address a file offset is loaded at (the offset itself outside every PT_LOAD).
    pub fn address_of(&self, file_off: u64) -> u64 {
        for &(off, size, vaddr) in &self.loads {
            if file_off >= off && file_off - off < size {
                return vaddr.wrapping_add(file_off - off);
            }
        }
        file_off
    }

    /// The symbol a file offset lies in, as perf prints it, and how far into it: `("main", 0x3c)`.
    pub fn lookup(&self, file_off: u64) -> Option<(String, u64)> {
        let addr = self.address_of(file_off);
        let i = self.syms.partition_point(|s| s.start <= addr).checked_sub(1)?;
        let s = &self.syms[i];
        (addr < s.end).then(|| (demangled(&s.name), addr - s.start))
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// The functions and text labels of one table, in table order.
fn candidates(file: &object::File, dynamic: bool) -> Vec<Candidate> {
    let exec = |idx: SectionIndex| -> bool {
        file.section_by_index(idx)
            .map(|s| matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(elf::SHF_EXECINSTR) != 0))
            .unwrap_or(false)
    };
    let syms: Vec<object::Symbol> = if dynamic { file.dynamic_symbols().collect() } else { file.symbols().collect() };
    let mut out = Vec::new();
    for s in syms {
        let SymbolFlags::Elf { st_info, .. } = s.flags() else { continue };
        let (kind, bind) = (st_info & 0xf, st_info >> 4);
        let Some(idx) = s.section_index() else { continue }; // undefined, absolute, common
        let Ok(name) = s.name() else { continue };
        if name.is_empty() || s.is_undefined() {
            continue;
        }
        let func = kind == elf::STT_FUNC || kind == elf::STT_GNU_IFUNC;
        let label = kind == elf::STT_NOTYPE && exec(idx) && !name.starts_with('$') && !name.starts_with(".L");
        if !func && !label {
            continue;
        }
        let start = s.address();
        out.push(Candidate {
            // kept mangled: demangling every symbol of a large library (LLVM: ~10^5) costs seconds;
            // the name is demangled where it is printed, and where aliases are compared
            sym: Sym { start, end: start.saturating_add(s.size()), name: name.to_owned() },
            size: s.size(),
            weak: bind == elf::STB_WEAK,
            global: bind == elf::STB_GLOBAL,
        });
    }
    out
}

/// perf's `name@plt` symbols, one per slot of x86-64's lazy-binding `.plt` (16 bytes each, after
/// the resolver's PLT0), named after `.rela.plt`'s JUMP_SLOT relocations in their order: a frame
/// in a PLT stub is `PyObject_GC_UnTrack@plt+0x0`, not the end of `_init` before it.
fn plt_candidates(file: &object::File) -> Vec<Candidate> {
    use object::{ObjectSymbolTable, RelocationFlags, RelocationTarget};

    if file.architecture() != object::Architecture::X86_64 {
        return Vec::new();
    }
    let (Some(plt), Some(relocs), Some(dynsyms)) = (file.section_by_name(".plt"), file.dynamic_relocations(), file.dynamic_symbol_table()) else {
        return Vec::new();
    };
    let end = plt.address().saturating_add(plt.size());
    let mut out = Vec::new();
    for (_, r) in relocs {
        let (RelocationFlags::Elf { r_type }, RelocationTarget::Symbol(idx)) = (r.flags(), r.target()) else { continue };
        if r_type != elf::R_X86_64_JUMP_SLOT {
            continue;
        }
        let Some(name) = dynsyms.symbol_by_index(idx).ok().and_then(|s| s.name().ok().map(str::to_owned)) else { continue };
        let start = plt.address().saturating_add(16 * (out.len() as u64 + 1));
        if start.saturating_add(16) > end {
            break;
        }
        let sym = Sym { start, end: start + 16, name: format!("{}@plt", demangled(&name)) };
        out.push(Candidate { sym, size: 16, weak: false, global: true });
    }
    out
}

/// A name as perf prints it: C++ demangled without parameter lists or return types (perf's
/// libiberty call without DMGL_PARAMS: `llvm::TargetMachine::getSymbol`), Rust's legacy and v0
/// names without their hashes (`<&std::fs::File as std::io::Read>::read`); anything else as it is.
/// perf demangles before it chooses among aliases, so the choice sees these names.
pub fn demangled(name: &str) -> String {
    // a Rust name's compiler suffix (`.2909`, `.llvm.123`, `.cold`) is not printed by perf
    let rust = if name.starts_with("_R") { name.split('.').next().unwrap_or(name) } else { rust_legacy_part(name).unwrap_or("") };
    if !rust.is_empty() {
        if let Ok(d) = rustc_demangle::try_demangle(rust) {
            return format!("{d:#}");
        }
    }
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            let opts = cpp_demangle::DemangleOptions::new().no_params().no_return_type();
            if let Ok(d) = sym.demangle(&opts) {
                return d;
            }
        }
    }
    name.to_owned()
}

/// Rust's legacy mangling: a C++-like `_ZN...E` whose last element is `17h` and 16 hex digits,
/// maybe followed by a compiler suffix (`.llvm.123`): the mangled part, without the suffix.
fn rust_legacy_part(name: &str) -> Option<&str> {
    if !name.starts_with("_ZN") {
        return None;
    }
    name.match_indices("17h").find_map(|(at, _)| {
        let hash = name.get(at + 3..at + 19)?;
        let end = at + 20;
        let ok = hash.bytes().all(|c| c.is_ascii_hexdigit())
            && name.as_bytes().get(at + 19) == Some(&b'E')
            && (end == name.len() || name.as_bytes()[end] == b'.');
        ok.then(|| &name[..end])
    })
}

/// True when `a` is the better name for their shared address (see the module's rules; the names
/// compared are the demangled ones, as perf compares them).
fn better(a: &Candidate, b: &Candidate) -> bool {
    let under = |s: &str| s.bytes().take_while(|&c| c == b'_').count();
    if (a.size > 0) != (b.size > 0) {
        return a.size > 0;
    }
    if a.weak != b.weak {
        return !a.weak;
    }
    if a.global != b.global {
        return a.global;
    }
    let (na, nb) = (demangled(&a.sym.name), demangled(&b.sym.name));
    if under(&na) != under(&nb) {
        return under(&na) < under(&nb);
    }
    na.len() >= nb.len() // equal: the first in the table (a) stays
}

/// The end perf gives the last symbol of a table that has no size: its page's end and one more page.
fn last_end(start: u64) -> u64 {
    start.saturating_add(0xfff) & !0xfff_u64
}

/// One symbol per address, sorted. A symbol of size 0 first reaches to the next one in address
/// order, an alias at its own address included (which leaves it at size 0): so among aliases
/// without sizes the last in the table is the one with a size, and it wins the first rule.
fn choose(mut found: Vec<Candidate>) -> Vec<Sym> {
    // stable: candidates at one address keep their table order
    found.sort_by_key(|c| c.sym.start);
    let starts: Vec<u64> = found.iter().map(|c| c.sym.start).collect();
    for (i, c) in found.iter_mut().enumerate() {
        if c.size == 0 {
            c.sym.end = match starts.get(i + 1) {
                Some(&next) => next,
                None => last_end(c.sym.start).saturating_add(0x1000),
            };
            c.size = c.sym.end - c.sym.start;
        }
    }
    let mut kept: Vec<Candidate> = Vec::with_capacity(found.len());
    for c in found {
        match kept.last_mut() {
            Some(last) if last.sym.start == c.sym.start => {
                if !better(last, &c) {
                    *last = c;
                }
            }
            _ => kept.push(c),
        }
    }
    kept.into_iter().map(|c| c.sym).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(start: u64, size: u64, name: &str, weak: bool, global: bool) -> Candidate {
        Candidate { sym: Sym { start, end: start + size, name: name.into() }, size, weak, global }
    }

    #[test]
    fn one_name_per_address_as_perf_chooses() {
        // glibc's write: local aliases beat the weak `write`/`__write`; among them the longest name
        let syms = choose(vec![
            cand(0x100, 157, "__GI___write", false, false),
            cand(0x100, 157, "__GI___libc_write", false, false),
            cand(0x100, 157, "__libc_write", false, false),
            cand(0x100, 157, "write", true, false),
            // equal in every rule: the first in the table stays
            cand(0x300, 8, "clock_nanosleep@GLIBC_2.2.5", false, true),
            cand(0x300, 8, "clock_nanosleep@@GLIBC_2.17", false, true),
            // a size beats none, global beats local
            cand(0x400, 0, "sized_not", false, true),
            cand(0x400, 4, "sized", false, false),
            // aliases without a size: the last one reaches to the next address, the others stay at 0
            cand(0x480, 0, "first_alias", false, true),
            cand(0x480, 0, "last_alias", false, true),
            cand(0x500, 4, "local", false, false),
            cand(0x500, 4, "globl", false, true),
        ]);
        let names: Vec<&str> = syms.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["__GI___libc_write", "clock_nanosleep@GLIBC_2.2.5", "sized", "last_alias", "globl"]);
    }

    #[test]
    fn size_zero_reaches_the_next_symbol_and_the_last_its_page() {
        let e = ElfSymbols { syms: choose(vec![cand(0x1000, 0, "a", false, true), cand(0x1040, 0, "b", false, true)]), ..Default::default() };
        assert_eq!(e.lookup(0x103f), Some(("a".into(), 0x3f)));
        assert_eq!(e.lookup(0x1040), Some(("b".into(), 0)));
        assert_eq!(e.lookup(0x2fff), Some(("b".into(), 0x1fbf)));
        assert_eq!(e.lookup(0x3000), None);
        // a last symbol on a page boundary: to that page's end
        let e = ElfSymbols { syms: choose(vec![cand(0x2000, 0, "c", false, true)]), ..Default::default() };
        assert_eq!(e.lookup(0x2fff), Some(("c".into(), 0xfff)));
        assert_eq!(e.lookup(0x3000), None);
        assert_eq!(e.lookup(0xfff), None);
    }

    #[test]
    fn a_gap_between_sized_symbols_is_no_symbol() {
        let e = ElfSymbols { syms: choose(vec![cand(0x1000, 0x10, "a", false, true), cand(0x1040, 0x10, "b", false, true)]), ..Default::default() };
        assert_eq!(e.lookup(0x100f), Some(("a".into(), 0xf)));
        assert_eq!(e.lookup(0x1010), None);
    }

    #[test]
    fn file_offsets_become_addresses_through_the_load_segments() {
        // non-PIE: text at file offset 0x1000 is loaded at 0x401000; PIE: offset = address
        let mut e = ElfSymbols { syms: choose(vec![cand(0x401100, 0x20, "main", false, true)]), ..Default::default() };
        e.loads = vec![(0, 0x5e8, 0x400000), (0x1000, 0x251, 0x401000)];
        assert_eq!(e.lookup(0x1104), Some(("main".into(), 4)));
        assert_eq!(e.address_of(0x9000), 0x9000); // past every segment: taken as it is
        let pie = ElfSymbols { syms: choose(vec![cand(0x1100, 0x20, "main", false, true)]), loads: vec![(0x1000, 0x300, 0x1000)], ..Default::default() };
        assert_eq!(pie.lookup(0x1104), Some(("main".into(), 4)));
    }

    #[test]
    fn cpp_and_rust_names_are_demangled_as_perf_prints_them() {
        // each pair: a name from this machine's libraries, and perf script's print of that frame
        for (mangled, perf) in [
            ("_ZNK4llvm13TargetMachine9getSymbolEPKNS_11GlobalValueE", "llvm::TargetMachine::getSymbol"),
            ("_ZN51_$LT$$RF$std..fs..File$u20$as$u20$std..io..Read$GT$4read17h877ee550fee23c5cE", "<&std::fs::File as std::io::Read>::read"),
            ("_ZN3std2rt10lang_start17h83d26864c5ec40d2E", "std::rt::lang_start"),
            (
                "_RNvXse_NtNtCsj1I0U2ZNviU_11polars_plan3dsl4exprNtB5_4ExprNtNtCsh61yYgEBR7J_4core5clone5Clone5clone.2909",
                "<polars_plan::dsl::expr::Expr as core::clone::Clone>::clone",
            ),
            ("_ZN3std2rt10lang_start17h83d26864c5ec40d2E.llvm.99", "std::rt::lang_start"),
            ("main", "main"),
            ("__GI___libc_write", "__GI___libc_write"),
            ("_Zfoo_not_valid", "_Zfoo_not_valid"),
        ] {
            assert_eq!(demangled(mangled), perf, "{mangled}");
        }
    }

    #[test]
    fn bytes_that_are_no_elf_are_an_error() {
        assert!(ElfSymbols::parse(b"not an elf at all", None).is_err());
        assert!(ElfSymbols::parse(&[], None).is_err());
        assert_eq!(build_id(b"\x7fELF"), None);
    }

    #[test]
    fn damaged_copies_of_a_real_binary_are_errors_or_symbols_never_a_panic() {
        // cut anywhere, bytes overwritten (cargo fuzz does the same at random: fuzz_targets/elf_syms.rs)
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let head = &exe[..exe.len().min(1 << 16)];
        for cut in (0..head.len()).step_by(997).chain([0, 1, 4, 16, 52, 63, 64]) {
            let _ = ElfSymbols::parse(&head[..cut], None);
            let _ = build_id(&head[..cut]);
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..40 {
            let mut d = head.to_vec();
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % d.len() as u64) as usize;
                d[at] = (seed >> 40) as u8;
            }
            if let Ok(e) = ElfSymbols::parse(&d, Some(&d)) {
                let _ = e.lookup(seed);
            }
        }
    }

    #[test]
    fn this_test_binary_names_its_own_functions() {
        // the test executable itself is an ELF with a .symtab: its main is found at its own offset
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let e = ElfSymbols::parse(&exe, None).unwrap();
        assert_eq!(e.table, "symtab");
        assert!(e.len() > 100);
        assert!(e.syms.windows(2).all(|w| w[0].start < w[1].start));
    }
}
