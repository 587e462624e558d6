//! The engine: everything the looper does, free of plugin-API types. The LV2 glue
//! ([`crate::lv2`]), the tests and the benchmarks all drive it.
//!
//! - [`chunk`]: one chunk of memory; made and freed on the worker.
//! - [`tree`]: one version of the loop: a persistent radix tree of shared chunks.
//! - [`pool`]: the chunks and nodes the worker made ahead of need.
//! - [`history`]: the undo history of versions and the memory it holds.
//! - [`ramp`]: fades, levels and the seam's crossfade curve.
//! - [`peaks`]: the peak summary of a loop version.
//! - [`display`]: what the audio thread publishes for a picture, and the picture.
//! - [`looper`]: the state machine (record, play, overdub, undo, redo, clear).
//! - [`snapshot`]: how a save gets the loop at one instant from the audio thread.
//! - [`loopfile`]: the saved loop as a 32-bit float WAV file, written and read back.
//! - [`sync`]: the host's beat and bar grid, followed by counting frames.
//! - [`worker`]: the worker's side: making, freeing, reporting.

pub mod chunk;
pub mod display;
pub mod history;
pub mod looper;
pub mod loopfile;
pub mod peaks;
pub mod pool;
pub mod ramp;
pub mod snapshot;
pub mod sync;
pub mod tree;
pub mod worker;
