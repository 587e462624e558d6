//! The undo history: a ring of loop versions (takes, overdub layers, clears), with the
//! memory each one holds beyond its neighbour.
//!
//! Every operation is O(1) on the audio thread: undo and redo move an index and two
//! byte counts; a new step overwrites one slot; releasing the oldest step drops one
//! reference. Discarding the
//! redo steps (a new action after undo) only marks them: they are dropped one per call
//! of [`History::sweep`], once per block, so no block drops more than two versions.
//! Dropping a version only queues what nobody else holds for the worker's collector.

use crate::engine::peaks::Peaks;
use crate::engine::sync::Unit;
use crate::engine::tree::Tree;

/// The most steps the history keeps (beyond it the oldest is released), whatever the
/// memory: the ring is allocated once, at instantiation.
pub const MAX_STEPS: usize = 1024;

/// One version of the loop: its audio (the loop, then the tail recorded past its end
/// for the seam's crossfade), the loop's length and its peak summary.
#[derive(Clone)]
pub struct Version {
    pub tree: Tree,
    /// Frames in the loop; `tree.len() - loop_len` frames of tail follow.
    pub loop_len: usize,
    pub peaks: Peaks,
    /// The host's grid the loop was recorded on, if it was a synced take: its passes
    /// start on that grid while the looper follows the host.
    pub grid: Option<LoopGrid>,
}

/// Where a synced loop sits on the host's grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopGrid {
    pub unit: Unit,
    /// The unit (beat or bar number) its take started on.
    pub origin: i64,
    /// Its length in units.
    pub units: i64,
}

impl Version {
    /// [any] No loop.
    pub const fn empty(channels: usize) -> Version {
        Version {
            tree: Tree::new(channels),
            loop_len: 0,
            peaks: Peaks::new(),
            grid: None,
        }
    }
    /// [audio] Frames of tail past the loop's end.
    #[inline]
    pub fn tail(&self) -> usize {
        self.tree.len().saturating_sub(self.loop_len)
    }
    /// [audio] Whether there is no loop.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.loop_len == 0
    }
}

struct Entry {
    version: Version,
    /// Bytes of the previous version that this one does not hold (what it replaced):
    /// held only by the history while the previous version is kept.
    replaced: usize,
    /// Bytes this version holds that the previous one does not (what it added).
    added: usize,
}

/// The ring of versions. Slot `oldest` is the oldest kept; `cur` steps after it is the
/// one that plays; `len` are valid; the rest up to `dirty` still hold discarded ones.
pub struct History {
    ring: Vec<Option<Entry>>,
    oldest: usize,
    cur: usize,
    len: usize,
    dirty: usize,
    /// Bytes older versions hold that the current one does not (what the steps up to
    /// the current one replaced).
    undo_bytes: usize,
    /// Bytes the redo steps added.
    redo_bytes: usize,
}

impl History {
    /// [instantiation] A history holding one empty version.
    pub fn new(channels: usize) -> History {
        let mut ring = Vec::with_capacity(MAX_STEPS);
        ring.resize_with(MAX_STEPS, || None);
        ring[0] = Some(Entry {
            version: Version::empty(channels),
            replaced: 0,
            added: 0,
        });
        History {
            ring,
            oldest: 0,
            cur: 0,
            len: 1,
            dirty: 1,
            undo_bytes: 0,
            redo_bytes: 0,
        }
    }

    /// [audio] Slot of the version `i` steps after the oldest.
    #[inline]
    fn slot(&self, i: usize) -> usize {
        (self.oldest + i) % MAX_STEPS
    }

    /// [audio] The version that plays.
    pub fn current(&self) -> Option<&Version> {
        self.ring[self.slot(self.cur)].as_ref().map(|e| &e.version)
    }

    /// [audio] Steps undo can take.
    pub fn undos(&self) -> usize {
        self.cur
    }

    /// [audio] Steps redo can take.
    pub fn redos(&self) -> usize {
        self.len - 1 - self.cur
    }

    /// [audio] Bytes held beyond the current version: what older versions hold that the
    /// current one does not, and what the redo steps added.
    pub fn bytes(&self) -> usize {
        self.undo_bytes + self.redo_bytes
    }

    /// [audio] Steps back; the version that plays now, or `None` if there is none.
    pub fn undo(&mut self) -> Option<&Version> {
        if self.cur == 0 {
            return None;
        }
        let (r, a) = self.entry_bytes(self.cur);
        self.undo_bytes -= r;
        self.redo_bytes += a;
        self.cur -= 1;
        self.current()
    }

    /// [audio] Steps forward; the version that plays now, or `None` if there is none.
    pub fn redo(&mut self) -> Option<&Version> {
        if self.cur + 1 >= self.len {
            return None;
        }
        self.cur += 1;
        let (r, a) = self.entry_bytes(self.cur);
        self.undo_bytes += r;
        self.redo_bytes -= a;
        self.current()
    }

    /// [audio] (replaced, added) of the step `i` after the oldest.
    fn entry_bytes(&self, i: usize) -> (usize, usize) {
        self.ring[self.slot(i)]
            .as_ref()
            .map_or((0, 0), |e| (e.replaced, e.added))
    }

    /// [audio] Forgets the redo steps (a new action after undo). O(1): they are
    /// dropped later, by `sweep`.
    pub fn discard_redos(&mut self) {
        self.redo_bytes = 0;
        self.len = self.cur + 1;
    }

    /// [audio] Adds `version` as the step after the current one (discarding redo steps),
    /// which replaced `replaced` bytes of the current version and added `added`.
    pub fn push(&mut self, version: Version, replaced: usize, added: usize) {
        self.discard_redos();
        if self.len == MAX_STEPS {
            self.release_oldest();
        }
        let s = self.slot(self.len);
        // Overwriting drops at most one discarded version here.
        self.ring[s] = Some(Entry {
            version,
            replaced,
            added,
        });
        self.len += 1;
        self.dirty = self.dirty.max(self.len);
        self.cur = self.len - 1;
        self.undo_bytes += replaced;
    }

    /// [audio] Releases the oldest version if undo can still reach one: what it alone
    /// held goes to the worker. Returns whether it did.
    pub fn release_oldest(&mut self) -> bool {
        if self.cur == 0 {
            return false;
        }
        let s = self.slot(0);
        self.ring[s] = None;
        self.oldest = (self.oldest + 1) % MAX_STEPS;
        self.len -= 1;
        self.dirty -= 1;
        self.cur -= 1;
        // The next one's replaced bytes were held only by the version just released.
        let s = self.slot(0);
        if let Some(e) = self.ring[s].as_mut() {
            self.undo_bytes -= e.replaced;
            e.replaced = 0;
        }
        true
    }

    /// [audio] Accounts `bytes` more replaced by the layer being written over the
    /// current version (not yet a step): they count as history while it is written.
    pub fn add_pending(&mut self, bytes: isize) {
        self.undo_bytes = self.undo_bytes.saturating_add_signed(bytes);
    }

    /// [audio] Drops one discarded version, if any is left; whether it did. Call once
    /// per block.
    pub fn sweep(&mut self) -> bool {
        if self.dirty <= self.len {
            return false;
        }
        self.dirty -= 1;
        let s = self.slot(self.dirty);
        self.ring[s] = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(len: usize) -> Version {
        let mut v = Version::empty(1);
        v.loop_len = len;
        v
    }

    #[test]
    fn undo_redo_and_the_bytes_they_hold() {
        let mut h = History::new(1);
        h.push(v(10), 0, 1000); // a take of 1000 bytes
        h.push(v(10), 200, 200); // a layer that copied 200
        assert_eq!((h.undos(), h.redos(), h.bytes()), (2, 0, 200));
        assert_eq!(h.undo().map(|v| v.loop_len), Some(10));
        assert_eq!((h.undos(), h.redos(), h.bytes()), (1, 1, 200));
        assert_eq!(h.undo().map(|v| v.loop_len), Some(0));
        assert_eq!(h.bytes(), 1200);
        assert!(h.undo().is_none());
        h.redo();
        h.redo();
        assert_eq!((h.undos(), h.redos(), h.bytes()), (2, 0, 200));
        // Releasing the oldest (empty) frees nothing; the next, the layer's 200 bytes.
        assert!(h.release_oldest());
        assert_eq!(h.bytes(), 200);
        assert!(h.release_oldest());
        assert_eq!((h.undos(), h.bytes()), (0, 0));
        assert!(!h.release_oldest());
    }

    #[test]
    fn a_new_step_after_undo_discards_redos_lazily() {
        let mut h = History::new(1);
        for i in 1..=5 {
            h.push(v(i), 0, 100);
        }
        for _ in 0..3 {
            h.undo();
        }
        h.push(v(99), 0, 100);
        assert_eq!((h.undos(), h.redos()), (3, 0));
        assert_eq!(h.current().map(|v| v.loop_len), Some(99));
        for _ in 0..5 {
            h.sweep();
        }
        assert_eq!(h.dirty, h.len);
    }

    #[test]
    fn the_ring_keeps_at_most_max_steps() {
        let mut h = History::new(1);
        for i in 1..=MAX_STEPS + 10 {
            h.push(v(i), 0, 0);
        }
        assert_eq!(h.undos(), MAX_STEPS - 1);
        assert_eq!(h.current().map(|v| v.loop_len), Some(MAX_STEPS + 10));
    }
}
