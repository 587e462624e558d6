//! Chunks: fixed-size blocks of sample memory, each whole pages of its own, locked into RAM
//! and pre-faulted. They are made and freed on the worker, never on the audio thread.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Samples in one chunk.
///
/// Chosen by measurement (`make bench`, `benches/worker_cost.rs`; figures in
/// `docs/PERFORMANCE.md`). Making and freeing a chunk costs the worker 10-15 µs of
/// fixed syscall cost (`mmap`, `mlock`, `munlock`, `munmap`) plus 0.6-0.7 ms per MiB
/// (mostly `mlock` faulting the pages in), over several runs on a 2-core VM. At 16,384
/// samples (64 KiB: 16 pages of 4 KiB; 341 ms at 48 kHz) the fixed part is a fifth to a
/// quarter of the cost: 4,096-sample chunks cost the worker 45-90 % more per second of
/// audio, while 65,536 and larger save only 2-25 %, and would make the unused tail of
/// the last chunk and the spare pool of every instance four times larger (now 64 KiB
/// and 448 KiB). A mono loop needs three worker calls a second. The audio thread's cost
/// does not depend on the chunk size: a block crosses at most one chunk boundary.
pub const CHUNK_SAMPLES: usize = 16_384;
/// Bytes in one chunk: a whole number of pages on every page size Linux uses up to 64 KiB.
pub const CHUNK_BYTES: usize = CHUNK_SAMPLES * std::mem::size_of::<f32>();

/// Seconds of audio the spare pool holds: the worker may be this late, and more than one
/// second late as the design requires, before a recording drops a sample.
pub const POOL_SECONDS: f64 = 2.0;

/// [instantiation] Spare chunks to keep ready at `sample_rate` for `channels` channels:
/// [`POOL_SECONDS`] of audio, plus the chunk being filled when the worker is asked.
pub fn pool_target(sample_rate: f64, channels: usize) -> usize {
    let samples = POOL_SECONDS * sane_rate(sample_rate) * channels.max(1) as f64;
    (samples / CHUNK_SAMPLES as f64).ceil() as usize + 1
}

/// [any] The host's sample rate, or 48 kHz if it is not a usable one (zero, negative,
/// NaN, infinite, or above 1.536 MHz, the highest rate any interface offers).
pub fn sane_rate(sample_rate: f64) -> f64 {
    if sample_rate.is_finite() && sample_rate > 0.0 && sample_rate <= 1_536_000.0 {
        sample_rate
    } else {
        48_000.0
    }
}

/// Counters shared by one plugin instance's chunks, its worker and its audio thread.
/// Written on the worker, read anywhere with relaxed loads (no syscall, no lock).
#[derive(Debug, Default)]
pub struct MemStats {
    /// Chunks ever made for this instance.
    pub chunks_made: AtomicU64,
    /// Chunks freed (their memory returned to the system).
    pub chunks_freed: AtomicU64,
    /// Index nodes ever made / freed.
    pub nodes_made: AtomicU64,
    pub nodes_freed: AtomicU64,
    /// Bytes of chunk and index memory this instance holds now.
    pub bytes_held: AtomicUsize,
    /// Chunks that could not be locked (`mlock` refused): used unlocked, pre-faulted.
    pub mlock_failures: AtomicU64,
    /// Times the system refused memory for a chunk or a node.
    pub alloc_failures: AtomicU64,
}

/// Fault injection for tests, process-wide: this many next chunk allocations fail as if
/// the system had refused the memory.
pub static INJECT_ALLOC_FAILURES: AtomicU64 = AtomicU64::new(0);
/// Fault injection for tests, process-wide: refuse `mlock` as the system would.
pub static INJECT_MLOCK_REFUSAL: AtomicBool = AtomicBool::new(false);

impl MemStats {
    /// [any] Chunks alive now.
    pub fn chunks_live(&self) -> u64 {
        self.chunks_made.load(Ordering::Relaxed) - self.chunks_freed.load(Ordering::Relaxed)
    }
    /// [any] Index nodes alive now.
    pub fn nodes_live(&self) -> u64 {
        self.nodes_made.load(Ordering::Relaxed) - self.nodes_freed.load(Ordering::Relaxed)
    }
    /// [any] Bytes of audio memory held now.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held.load(Ordering::Relaxed)
    }
}

/// Process-wide totals over every instance, for tests and diagnostics.
pub static TOTAL_CHUNKS_MADE: AtomicU64 = AtomicU64::new(0);
/// Process-wide count of chunks freed.
pub static TOTAL_CHUNKS_FREED: AtomicU64 = AtomicU64::new(0);

/// Whole pages of memory in an anonymous mapping of their own, locked into RAM (when the
/// memlock limit allows) and pre-faulted. Chunks and index nodes both live in pages:
/// the audio thread touches both, so neither may be swapped out or fault on first touch.
pub struct Pages {
    ptr: NonNull<u8>,
    len: usize,
    locked: bool,
}

// SAFETY: Pages exclusively owns its mapping; moving it moves that ownership.
unsafe impl Send for Pages {}
// SAFETY: `&Pages` hands out only a read pointer; owners mediate writes through `&mut`.
unsafe impl Sync for Pages {}

impl Pages {
    /// [worker] Maps `len` bytes (rounded up to whole pages), locks and pre-faults them.
    /// `None` when the system refuses the mapping (counted in `stats.alloc_failures`). A
    /// refused `mlock` is not fatal: `stats.mlock_failures` counts it.
    pub fn map(len: usize, stats: &MemStats) -> Option<Pages> {
        let page = page_size();
        let len = len.div_ceil(page) * page;
        // SAFETY: an anonymous private mapping with no address hint touches no existing
        // memory; the result is checked against MAP_FAILED before use.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let Some(ptr) = NonNull::new(raw.cast::<u8>()).filter(|_| raw != libc::MAP_FAILED) else {
            stats.alloc_failures.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let locked = !INJECT_MLOCK_REFUSAL.load(Ordering::Relaxed)
            // SAFETY: `raw` is a live mapping of exactly `len` bytes owned by us.
            && unsafe { libc::mlock(raw, len) } == 0;
        if !locked {
            stats.mlock_failures.fetch_add(1, Ordering::Relaxed);
        }
        // Pre-fault: write every page so the audio thread never takes a page fault on
        // first touch (mlock faults pages in already; unlocked pages need this).
        for off in (0..len).step_by(page) {
            // SAFETY: `off < len`, inside the mapping; a volatile write keeps the compiler
            // from dropping the store to fresh (zero) memory.
            unsafe { std::ptr::write_volatile(ptr.as_ptr().add(off), 0) };
        }
        Some(Pages { ptr, len, locked })
    }

    /// [any] The first byte; page-aligned, `len()` bytes long, zeroed when mapped.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// [any] Bytes mapped: whole pages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// [any] Never: a mapping holds at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// [any] Whether `mlock` succeeded.
    pub fn is_locked(&self) -> bool {
        self.locked
    }
}

impl Drop for Pages {
    /// [worker] Unlocks and unmaps. Runs only where `basedrop` collects, or at the
    /// plugin's end: never on the audio thread.
    fn drop(&mut self) {
        let raw = self.ptr.as_ptr().cast::<libc::c_void>();
        // SAFETY: `raw` is the mapping made in `map`, of `len` bytes, not yet unmapped;
        // its owner is being dropped, so nothing refers to it any more.
        unsafe {
            if self.locked {
                libc::munlock(raw, self.len);
            }
            libc::munmap(raw, self.len);
        }
    }
}

/// One chunk of [`CHUNK_SAMPLES`] samples in pages of its own.
///
/// Only the worker creates and drops chunks; the audio thread reads and writes their
/// samples and hands retired ones back through `basedrop`.
pub struct Chunk {
    pages: Pages,
    stats: Arc<MemStats>,
}

impl Chunk {
    /// [worker] Maps, locks and pre-faults a chunk. `None` when the system refuses the
    /// memory (counted in `stats.alloc_failures`). A refused `mlock` is not fatal: the
    /// chunk is used unlocked but pre-faulted, and `stats.mlock_failures` counts it.
    pub fn new(stats: &Arc<MemStats>) -> Option<Chunk> {
        if take_one(&INJECT_ALLOC_FAILURES) {
            stats.alloc_failures.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let pages = Pages::map(CHUNK_BYTES, stats)?;
        stats.chunks_made.fetch_add(1, Ordering::Relaxed);
        stats.bytes_held.fetch_add(CHUNK_BYTES, Ordering::Relaxed);
        TOTAL_CHUNKS_MADE.fetch_add(1, Ordering::Relaxed);
        Some(Chunk {
            pages,
            stats: Arc::clone(stats),
        })
    }

    /// [audio] The chunk's samples.
    #[inline]
    pub fn samples(&self) -> &[f32] {
        // SAFETY: the pages hold CHUNK_BYTES of zero-initialised memory, page-aligned
        // (so aligned for f32), living as long as `self`; `&self` forbids writes.
        unsafe { std::slice::from_raw_parts(self.pages.as_ptr().cast::<f32>(), CHUNK_SAMPLES) }
    }

    /// [audio] The chunk's samples, writable.
    #[inline]
    pub fn samples_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `samples`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.pages.as_ptr().cast::<f32>(), CHUNK_SAMPLES) }
    }

    /// [any] Whether `mlock` succeeded for this chunk.
    pub fn is_locked(&self) -> bool {
        self.pages.is_locked()
    }
}

impl Drop for Chunk {
    /// [worker] Its pages are unmapped after this; runs only where `basedrop` collects,
    /// or at the plugin's end.
    fn drop(&mut self) {
        self.stats.chunks_freed.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_held
            .fetch_sub(CHUNK_BYTES, Ordering::Relaxed);
        TOTAL_CHUNKS_FREED.fetch_add(1, Ordering::Relaxed);
    }
}

/// [any] Decrements a fault-injection counter; true if it was positive.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// [any] The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_is_page_aligned_zeroed_and_counted() {
        let stats = Arc::new(MemStats::default());
        let mut c = Chunk::new(&stats).expect("memory");
        assert_eq!(c.samples().as_ptr() as usize % page_size(), 0);
        assert!(c.samples().iter().all(|&s| s == 0.0));
        c.samples_mut()[CHUNK_SAMPLES - 1] = 1.5;
        assert_eq!(c.samples()[CHUNK_SAMPLES - 1], 1.5);
        assert_eq!(stats.chunks_live(), 1);
        assert_eq!(stats.bytes_held(), CHUNK_BYTES);
        drop(c);
        assert_eq!(stats.chunks_live(), 0);
        assert_eq!(stats.bytes_held(), 0);
    }

    #[test]
    fn refused_mlock_is_counted_and_the_chunk_still_works() {
        // (Allocation failures are injected in tests/faults.rs, a binary of their own:
        // a pending failure would hit concurrent unit tests here.)
        let stats = Arc::new(MemStats::default());
        INJECT_MLOCK_REFUSAL.store(true, Ordering::Relaxed);
        let c = Chunk::new(&stats);
        INJECT_MLOCK_REFUSAL.store(false, Ordering::Relaxed);
        let mut c = c.unwrap();
        assert!(!c.is_locked());
        assert_eq!(stats.mlock_failures.load(Ordering::Relaxed), 1);
        c.samples_mut()[7] = 0.5;
        assert_eq!(c.samples()[7], 0.5);
    }

    #[test]
    fn pool_covers_two_seconds() {
        // 48 kHz mono: 96,000 samples = 5.86 chunks -> 6, plus the one being filled.
        assert_eq!(pool_target(48_000.0, 1), 7);
        assert_eq!(pool_target(192_000.0, 1), 25);
        assert_eq!(pool_target(f64::NAN, 1), 7);
        assert!((pool_target(48_000.0, 1) - 1) * CHUNK_SAMPLES >= 96_000);
    }
}
