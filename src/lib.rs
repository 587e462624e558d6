//! An LV2 looper that records for as long as there is memory, with nothing on the audio
//! thread that can block.
//!
//! The audio thread writes into a [`ChunkBuffer`](buffer::ChunkBuffer) of page-aligned,
//! `mlock`ed chunks; the host's LV2 worker makes fresh chunks ahead of need and frees
//! retired ones, off the audio thread.
//!
//! - [`engine`]: everything the looper does, without a plugin-API type: chunks, the
//!   persistent tree of a loop version, the pool, the undo history, fades, the state
//!   machine, the worker's side, the saved loop's file, the host's grid.
//! - [`lv2`]: the thin LV2 glue, on `lv2-sys`'s C types (both plugins).
//! - [`rt`]: the wrapper every audio-thread entry point passes through.
//!
//! # Entry points
//!
//! | entry point | LV2 threading class | may allocate, free, lock, log? |
//! |---|---|---|
//! | `lv2_descriptor` (0 mono, 1 stereo) | discovery | no (static data) |
//! | `instantiate` | instantiation | yes: fills the pool of ready chunks, makes the history ring and the scratch |
//! | `connect_port` | audio (any) | no |
//! | `activate` / `deactivate` | instantiation | yes (does nothing) |
//! | `run` | audio | **no**: no allocation, free, lock, wait, log, print, syscall |
//! | `work` (worker interface) | worker (own thread, or inside `schedule_work` when freewheeling) | yes: makes, locks, frees chunks and nodes (released layers, takes, copies); logs |
//! | `work_response` | audio, after `run()` or from inside `schedule_work` | **no** |
//! | `end_run` | audio | (not provided) |
//! | `extension_data` | discovery | no |
//! | state `save` | its own (the host's GUI or session thread), may run concurrently with `run` | yes: writes the WAV file; takes the loop from `run()` through the save gate (one atomic word), whose chunks nothing writes or frees while it holds them |
//! | state `restore` | instantiation | yes: reads the file into new locked chunks; installs the loop while no audio callback is in the engine |
//! | inline display `render` | the host's GUI thread, concurrently with `run` | yes (its own pixels); reads only atomics |
//! | `cleanup` | instantiation | yes: frees every chunk |
//!
//! `run()` and `work_response()` go through [`rt::audio_scope`], which stops panics at
//! the C boundary and, in test builds, counts any allocation or free. No callback holds
//! a reference to the instance across `schedule_work` (see [`plugin`]).
//!
//! Each function's doc comment starts with its thread: `[audio]`, `[worker]`,
//! `[instantiation]`, `[discovery]`, or `[any]`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod engine;
pub mod lv2;
pub mod rt;

pub use engine::chunk;
pub use lv2::plugin;

#[cfg(feature = "rt-guard")]
#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// [any] Test builds: allocations or frees seen inside an audio scope, process-wide.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_rt_violations() -> u64 {
    rt::rt_violations()
}

/// [any] Test builds: audio scopes entered, process-wide.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_rt_scopes() -> u64 {
    rt::rt_scopes()
}

/// [any] Test builds: chunks made so far, process-wide.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_chunks_made() -> u64 {
    engine::chunk::TOTAL_CHUNKS_MADE.load(std::sync::atomic::Ordering::Relaxed)
}

/// [any] Test builds: chunks freed so far, process-wide.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_chunks_freed() -> u64 {
    engine::chunk::TOTAL_CHUNKS_FREED.load(std::sync::atomic::Ordering::Relaxed)
}

/// [any] Test builds: the next `n` chunk allocations fail as if the system refused them.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_inject_alloc_failures(n: u64) {
    engine::chunk::INJECT_ALLOC_FAILURES.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// [any] Test builds: the next block's processing panics.
#[cfg(feature = "rt-guard")]
#[no_mangle]
pub extern "C" fn looper_test_inject_panic() {
    rt::INJECT_PANIC.store(true, std::sync::atomic::Ordering::Relaxed);
}
