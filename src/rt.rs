//! The one wrapper every audio-thread entry point passes through.
//!
//! It stops a panic at the C boundary (the block's output is muted and the panic is
//! counted, for the worker to report), and in test builds (feature `rt-guard`) it runs
//! the callback under an allocation guard: any allocation or free inside is counted in
//! [`rt_violations`], which every test asserts is zero.

use std::panic::{catch_unwind, AssertUnwindSafe};
#[cfg(feature = "rt-guard")]
use std::sync::atomic::{AtomicU64, Ordering};

/// Test builds: the next block's processing panics (to test that the panic stays on
/// this side of the C boundary).
#[cfg(feature = "rt-guard")]
pub static INJECT_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(feature = "rt-guard")]
static VIOLATIONS: AtomicU64 = AtomicU64::new(0);
#[cfg(feature = "rt-guard")]
static SCOPES: AtomicU64 = AtomicU64::new(0);

/// [audio] Runs `f` as realtime code. `None` if it panicked.
#[inline]
pub fn audio_scope<R>(f: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(|| guarded(f))).ok()
}

/// [worker] Runs `f` as worker code, which may allocate. Hosts call `work()` inside
/// `schedule_work`, so inside `run()`, while freewheeling (offline export): the
/// allocation guard must not count the worker's own allocations there. `None` if it
/// panicked.
pub fn worker_scope<R>(f: impl FnOnce() -> R) -> Option<R> {
    #[cfg(feature = "rt-guard")]
    let f = || assert_no_alloc::permit_alloc(f);
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// [audio] Release builds: just `f`.
#[cfg(not(feature = "rt-guard"))]
#[inline(always)]
fn guarded<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// [audio] Test builds: `f` under the allocation guard, violations counted.
#[cfg(feature = "rt-guard")]
fn guarded<R>(f: impl FnOnce() -> R) -> R {
    let before = assert_no_alloc::violation_count();
    let r = assert_no_alloc::assert_no_alloc(f);
    let after = assert_no_alloc::violation_count();
    SCOPES.fetch_add(1, Ordering::Relaxed);
    if after != before {
        VIOLATIONS.fetch_add(u64::from(after.wrapping_sub(before)), Ordering::Relaxed);
    }
    r
}

/// [any] Allocations and frees seen inside an audio scope, process-wide (test builds).
#[cfg(feature = "rt-guard")]
pub fn rt_violations() -> u64 {
    VIOLATIONS.load(Ordering::Relaxed)
}

/// [any] Audio scopes entered so far, process-wide (test builds): proof that the guard
/// was actually around the code a test ran.
#[cfg(feature = "rt-guard")]
pub fn rt_scopes() -> u64 {
    SCOPES.load(Ordering::Relaxed)
}
