//! Decoding ahead: the whole scanner (the crate's reading, the time order, the block lane) in a
//! thread of its own, batches ahead of the caller, up to a bound in bytes (a run's:
//! `ahead::AHEAD_BYTES`, what reading ahead holds at most).
//!
//! `traceparse block` starts it before Python imports the reports, once the lane is set (the
//! format files are parsed by polars-free code, parsers/tracing_sections.py): the records read
//! while the imports run are decoded at once into the block lane's columns. The other way of
//! reading ahead (perf_ahead.rs) copies each record into a piece for a scanner that only starts
//! after the imports; here nothing is copied twice, and the batches the report takes are made.
//!
//! The scanner stays behind its lock, taken once per batch: what the caller asks of it between
//! batches (the comms, the call chains, the damage at the end) is as new as the last batch made,
//! never older than the last batch taken. Its tables only grow, so that is all a caller needs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, LockResult, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::{Batch, Scanner};

/// The scanner, shared by its caller and the thread making its batches. A caller waiting for it
/// goes first: the thread, which would take the lock again at once after each batch, holds back
/// while anyone waits (with a plain lock, a caller asking for the scanner's header waited out
/// 150 ms of batches, until the bound stopped the thread).
pub struct Shared {
    scanner: Mutex<Scanner>,
    waiting: AtomicUsize,
}

impl Shared {
    pub fn new(scanner: Scanner) -> Arc<Shared> {
        Arc::new(Shared { scanner: Mutex::new(scanner), waiting: AtomicUsize::new(0) })
    }

    /// The scanner, for its caller.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, Scanner>> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let got = self.scanner.lock();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        got
    }

    /// The scanner, for the thread: after any caller waiting for it.
    fn lock_behind(&self) -> LockResult<MutexGuard<'_, Scanner>> {
        while self.waiting.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
        self.scanner.lock()
    }
}

/// Batches made and not taken: their bytes, waited on by the thread once past the bound.
#[derive(Default)]
struct Budget {
    held: Mutex<usize>,
    freed: Condvar,
}

/// A batch sent, with the bytes it holds.
type Made = (Batch, usize);

/// The thread making batches, and where they arrive.
pub struct Decoding {
    rx: Option<Receiver<Made>>,
    thread: Option<JoinHandle<()>>,
    budget: Arc<Budget>,
    stop: Arc<AtomicBool>,
}

/// What a batch's columns hold, roughly: the bound counts these.
fn bytes_of(b: &Batch) -> usize {
    const SAMPLE: usize = 8 + 4 + 4 + 4 + 8 + 4 + 4 + 4 + 8 + 4; // ts cpu pid tid period attr comm stack raw_off raw_len
    const LANE: usize = 1 + 8 + 8 + 8 + 4 + 4 + 8 + 1 + 4 + 4 + 4; // lane.rs Lane's columns
    b.len() * SAMPLE + b.raw.len() + b.lane.len() * LANE + b.lane_new.0.len()
}

/// Starts the thread over `scanner`, each batch of at most `max_samples` samples or `max_raw`
/// payload bytes (`Scanner::next_batch`), holding at most `bound` bytes of batches not taken
/// (and always one); None where no thread could be made.
pub fn start(scanner: Arc<Shared>, max_samples: usize, max_raw: usize, bound: usize) -> Option<Decoding> {
    // (a channel of batches; the bound is in bytes, kept by the budget)
    let (tx, rx) = sync_channel::<Made>(1 << 14);
    let budget = Arc::new(Budget::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s) = (budget.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("traceparse-decode".into())
        .spawn(move || run(&scanner, &tx, &b, &s, (max_samples, max_raw), bound));
    thread.ok().map(|t| Decoding { rx: Some(rx), thread: Some(t), budget, stop })
}

fn run(scanner: &Shared, tx: &SyncSender<Made>, budget: &Budget, stop: &AtomicBool, (max_samples, max_raw): (usize, usize), bound: usize) {
    loop {
        // a poisoned lock ends the thread: the caller's next lock says so
        let Ok((batch, done)) = scanner.lock_behind().map(|mut s| (s.next_batch(max_samples, max_raw), s.done())) else { return };
        let n = bytes_of(&batch);
        // (a count is a count whoever panicked holding it: nothing does, and the batch is not lost for it)
        let mut held = budget.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held > 0 && *held + n > bound && !stop.load(Ordering::Relaxed) {
            held = budget.freed.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        *held += n;
        drop(held);
        // a closed channel: the caller is gone, and nobody wants the rest
        if stop.load(Ordering::Relaxed) || tx.send((batch, n)).is_err() || done {
            return;
        }
    }
}

impl Decoding {
    /// The next batch made; None once the thread has ended (after the last one, or on a poisoned lock).
    pub fn take(&mut self) -> Option<Batch> {
        let (batch, n) = self.rx.as_ref()?.recv().ok()?;
        let mut held = self.budget.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(n);
        self.budget.freed.notify_one();
        Some(batch)
    }
}

impl Drop for Decoding {
    /// The thread is told and waited for (it ends within one batch): no thread outlives its scanner.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.take();
        // (with the lock: a thread between its look at `stop` and its wait cannot miss this)
        let held = self.budget.held.lock().unwrap_or_else(PoisonError::into_inner);
        self.budget.freed.notify_all();
        drop(held);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
