//! Any bytes as a perf.data, in file mode and in pipe mode: the scanner ends (an `OpenError`, an
//! end, or a `Damage` with its offset) and never panics, loops or allocates without bound.
#![no_main]

use std::io::Cursor;

use _native::perf_data::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for pipe in [false, true] {
        let Ok(mut s) = Scanner::open(Box::new(Cursor::new(data.to_vec())), pipe) else { continue };
        let _ = s.tracing_data();
        loop {
            let b = s.next_batch(1 << 10, 1 << 16);
            if b.is_empty() && b.lost.is_empty() {
                break;
            }
        }
    }
});
