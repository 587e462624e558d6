//! How a save reads the loop while the audio thread records into it: the audio thread
//! hands over a [`Snapshot`], an O(1) copy of the version that plays, at the end of a
//! block; nothing is ever locked on the audio thread, and nothing is freed under the
//! reader.
//!
//! A snapshot is a clone of the live [`Tree`]: one reference more to its root. From then
//! on the tree is persistent: the audio thread writes only to chunks and index nodes it
//! holds alone, and copies anything it shares before writing it (`tree.rs`). So the
//! chunks the snapshot reaches never change while it lives, and they stay allocated
//! until its last reference is dropped (then they go to the worker's collector like any
//! other retired memory). What a save writes is exactly the loop at the end of one block.
//!
//! The handshake is one atomic word ([`SaveGate`]):
//! - the saver sets `WANT` and waits;
//! - the audio thread, at the end of a block, clones the live tree into the gate's slot
//!   and swaps `WANT` for `READY`; the saver takes it;
//! - a host that is not running the plugin (engine stopped, plugin deactivated) never
//!   answers. After [`STALL`] without a block the saver claims the engine (`OWNED`) and
//!   clones the tree itself. Every `run()` sets `RUN` before it touches the engine and
//!   clears it after; the claim succeeds only when `RUN` is clear, and a `run()` that
//!   finds `OWNED` set leaves the engine alone for that block. Both are read-modify-write
//!   operations on one word, so they are totally ordered: the two never overlap.
//!
//! ```
//! use looper::engine::snapshot::{SaveGate, Snapshot};
//! use looper::engine::tree::Tree;
//! use std::sync::Arc;
//!
//! let gate = Arc::new(SaveGate::new());
//! let saver = {
//!     let gate = Arc::clone(&gate);
//!     std::thread::spawn(move || gate.take(|| unreachable!("the audio thread answers")))
//! };
//! // The audio thread, once per block:
//! loop {
//!     let entry = gate.enter().expect("no saver owns the engine");
//!     if gate.wanted() {
//!         gate.answer(Snapshot { tree: Tree::new(2), loop_len: 0, playing: true, grid: None });
//!         break;
//!     }
//!     drop(entry);
//!     std::thread::yield_now();
//! }
//! let snap = saver.join().unwrap();
//! assert_eq!((snap.tree.channels(), snap.playing), (2, true));
//! ```

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::history::LoopGrid;
use crate::engine::tree::Tree;

/// The loop at one instant, for a save: its audio (the loop, then the tail recorded past
/// its end for the seam's crossfade) and whether it was playing.
#[derive(Clone)]
pub struct Snapshot {
    pub tree: Tree,
    /// Frames in the loop; `tree.len() - loop_len` frames of tail follow. A take being
    /// recorded counts as closed at the snapshot.
    pub loop_len: usize,
    /// The loop was playing (or being recorded or overdubbed), not stopped.
    pub playing: bool,
    /// Where a synced loop sits on the host's grid (a take being recorded: none).
    pub grid: Option<LoopGrid>,
}

/// How long without a block before a waiting saver takes the loop itself.
pub const STALL: Duration = Duration::from_millis(50);

const RUN: u32 = 1;
const WANT: u32 = 2;
const READY: u32 = 4;
const OWNED: u32 = 8;

/// The meeting point of one instance's saver and its audio thread.
pub struct SaveGate {
    word: AtomicU32,
    /// Blocks entered so far: a saver sees from it whether the audio thread runs.
    blocks: AtomicU64,
    /// Written by the audio thread only while `WANT` is set and `READY` is not; read by
    /// the saver only after it saw `READY`.
    slot: UnsafeCell<Option<Snapshot>>,
    /// One save at a time. Taken only by savers, never by the audio thread.
    savers: Mutex<()>,
}

// SAFETY: `slot` is written and read under the protocol above (the audio thread between
// seeing WANT and setting READY, the saver after seeing READY, with acquire/release on
// `word`), never by both at once; a Snapshot is Send (chunks and nodes are Send + Sync).
unsafe impl Sync for SaveGate {}

impl Default for SaveGate {
    /// [instantiation]
    fn default() -> SaveGate {
        SaveGate::new()
    }
}

/// Proof that the audio thread may touch the engine until it is dropped.
pub struct Entry<'a> {
    gate: &'a SaveGate,
    outer: bool,
}

impl Drop for Entry<'_> {
    /// [audio]
    fn drop(&mut self) {
        if self.outer {
            self.gate.word.fetch_and(!RUN, Ordering::Release);
        }
    }
}

impl SaveGate {
    /// [instantiation] A gate with no save in progress.
    pub const fn new() -> SaveGate {
        SaveGate {
            word: AtomicU32::new(0),
            blocks: AtomicU64::new(0),
            slot: UnsafeCell::new(None),
            savers: Mutex::new(()),
        }
    }

    /// [audio] Enters the engine for one callback (`run`, `work_response`); `None` while
    /// a saver owns it (the callback must then leave the engine alone). Nested entries
    /// (a `work_response` from inside `run`'s `schedule_work`) are allowed. One atomic
    /// read-modify-write, never a wait.
    #[inline]
    pub fn enter(&self) -> Option<Entry<'_>> {
        let was = self.word.fetch_or(RUN, Ordering::AcqRel);
        if was & OWNED != 0 {
            if was & RUN == 0 {
                self.word.fetch_and(!RUN, Ordering::Release);
            }
            return None;
        }
        // Only the audio thread writes it: a plain store, no locked instruction.
        let b = self.blocks.load(Ordering::Relaxed);
        self.blocks.store(b.wrapping_add(1), Ordering::Relaxed);
        Some(Entry {
            gate: self,
            outer: was & RUN == 0,
        })
    }

    /// [audio] Whether a saver waits for a snapshot.
    #[inline]
    pub fn wanted(&self) -> bool {
        self.word.load(Ordering::Acquire) & WANT != 0
    }

    /// [audio] Hands `snap` to the waiting saver. Call inside an [`Entry`], only when
    /// [`wanted`](Self::wanted) said so; anywhere else it does nothing (a saver then
    /// takes the loop itself once the audio thread stalls). No allocation: the slot is
    /// preallocated and empty (the saver emptied it).
    pub fn answer(&self, snap: Snapshot) {
        let w = self.word.load(Ordering::Acquire);
        if w & (WANT | RUN) != WANT | RUN || w & (READY | OWNED) != 0 {
            return; // (drops `snap`: references only, queued for the collector if last)
        }
        // SAFETY: WANT is set and READY is not (only this thread sets READY, and only
        // here), so the saver is not reading the slot; see the type's protocol.
        unsafe { *self.slot.get() = Some(snap) };
        // WANT -> READY in one step; RUN stays set (the saver cannot claim meanwhile, so
        // nothing else changes the word and the exchange succeeds).
        if self
            .word
            .compare_exchange(w, (w & !WANT) | READY, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: as above: READY was not set, so the saver does not read the slot.
            drop(unsafe { (*self.slot.get()).take() });
        }
    }

    /// [instantiation] Runs `f` while no audio callback is inside the engine (any that
    /// starts meanwhile leaves it alone for its block). Waits, on the calling thread
    /// only, for the gap between two blocks.
    pub fn exclusive<T>(&self, f: impl FnOnce() -> T) -> T {
        let _one = self.savers.lock().unwrap_or_else(|e| e.into_inner());
        while self
            .word
            .compare_exchange(0, OWNED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            std::thread::sleep(Duration::from_micros(100));
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        self.word.fetch_and(!OWNED, Ordering::Release);
        r.unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// [any but audio] Waits for a snapshot of the loop from the audio thread. If the
    /// audio thread does not run for [`STALL`], claims the engine and calls `own` to make
    /// the snapshot (the engine is then not in use by any other thread). Blocks the
    /// calling thread only; the audio thread never waits for it.
    pub fn take(&self, own: impl FnOnce() -> Snapshot) -> Snapshot {
        let _one = self.savers.lock().unwrap_or_else(|e| e.into_inner());
        self.word.fetch_or(WANT, Ordering::AcqRel);
        let (mut seen, mut since) = (self.blocks.load(Ordering::Relaxed), Instant::now());
        loop {
            let w = self.word.load(Ordering::Acquire);
            if w & READY != 0 {
                // SAFETY: READY was published (release) after the slot was written, and
                // the audio thread writes it again only after a new WANT.
                let snap = unsafe { (*self.slot.get()).take() };
                self.word.fetch_and(!READY, Ordering::AcqRel);
                if let Some(s) = snap {
                    return s;
                }
                self.word.fetch_or(WANT, Ordering::AcqRel); // (unreachable) ask again
                continue;
            }
            let blocks = self.blocks.load(Ordering::Relaxed);
            if blocks != seen {
                (seen, since) = (blocks, Instant::now());
            } else if since.elapsed() >= STALL
                && self
                    .word
                    .compare_exchange(WANT, OWNED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                // The engine is ours until OWNED is cleared: no run() is inside it, and
                // any that starts now leaves it alone.
                let snap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(own));
                self.word.fetch_and(!OWNED, Ordering::Release);
                match snap {
                    Ok(s) => return s,
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn snap(len: usize) -> Snapshot {
        Snapshot {
            tree: Tree::new(1),
            loop_len: len,
            playing: false,
            grid: None,
        }
    }

    #[test]
    fn a_stalled_audio_thread_lets_the_saver_take_the_loop_itself() {
        let gate = SaveGate::new();
        let t = Instant::now();
        let s = gate.take(|| snap(7));
        assert_eq!(s.loop_len, 7);
        assert!(t.elapsed() >= STALL);
        // The engine is free again.
        assert!(gate.enter().is_some());
    }

    #[test]
    fn while_the_saver_owns_the_engine_run_leaves_it_alone() {
        let gate = Arc::new(SaveGate::new());
        let g = Arc::clone(&gate);
        let (tx, rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let saver = std::thread::spawn(move || {
            g.take(|| {
                tx.send(()).unwrap();
                go_rx.recv().unwrap();
                snap(3)
            })
        });
        rx.recv().unwrap(); // the saver is inside `own`
        assert!(gate.enter().is_none());
        assert!(gate.enter().is_none());
        go_tx.send(()).unwrap();
        assert_eq!(saver.join().unwrap().loop_len, 3);
        let e = gate.enter();
        assert!(e.is_some());
        // Nested entry (work_response inside run) is allowed and keeps RUN set.
        assert!(gate.enter().is_some());
        drop(e);
        assert_eq!(gate.word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_running_audio_thread_answers_and_the_saver_never_claims() {
        let gate = Arc::new(SaveGate::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let audio = {
            let (gate, stop) = (Arc::clone(&gate), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    let e = gate.enter().expect("the saver never owns a running engine");
                    if gate.wanted() {
                        gate.answer(snap(answered));
                        answered += 1;
                    }
                    drop(e);
                    std::thread::sleep(Duration::from_micros(500));
                }
                answered
            })
        };
        for i in 0..50 {
            let s = gate.take(|| panic!("claimed while the audio thread runs"));
            assert_eq!(s.loop_len, i);
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(audio.join().unwrap(), 50);
    }
}
