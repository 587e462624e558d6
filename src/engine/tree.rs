//! The loop's audio: a persistent radix tree of chunks. One [`Tree`] is one version of
//! the loop; versions share every chunk and index node they have in common.
//!
//! Chunks and index nodes are held through `basedrop::Shared`. A version writes only to
//! what it holds alone (`Shared::get_mut`); anything it shares is first copied (path
//! copying): a write to frame `f` copies the chunk holding `f` and the index nodes on its
//! path, and nothing else, so an overdub layer costs the chunks it changed plus their
//! index path. Copies come from the [`ReadyPool`] the worker fills; nothing here
//! allocates or frees, and a version's last reference dropped only queues it for the
//! worker's collector.
//!
//! The index works like a page table. A tree of one chunk has the chunk as its root;
//! past that the root is a [`Node`] of [`FANOUT`] slots, and every time the tree is full
//! a new root is put on top with the old root in its first slot: O(1), no copy, and no
//! cap on the length but memory. Reaching any frame walks `height` nodes.
//!
//! Channels are planar inside a chunk: a chunk of a tree of `c` channels holds
//! `CHUNK_SAMPLES / c` frames, channel `i` at `[i * fpc, (i + 1) * fpc)`. One walk finds
//! every channel of a frame, and one copy-on-write copies them all.
//!
//! ```
//! use basedrop::{Collector, Shared};
//! use looper::engine::chunk::{Chunk, MemStats, CHUNK_SAMPLES};
//! use looper::engine::pool::ReadyPool;
//! use looper::engine::tree::{Node, Tree};
//! use std::sync::Arc;
//!
//! let mut collector = Collector::new(); // the worker's
//! let stats = Arc::new(MemStats::default());
//! let mut pool = ReadyPool::with_capacity(4, 4);
//! for _ in 0..4 {
//!     pool.put_chunk(Shared::new(&collector.handle(), Chunk::new(&stats).unwrap()));
//!     pool.put_node(Shared::new(&collector.handle(), Node::new(&stats).unwrap()));
//! }
//! // Audio thread: a mono take of 20,000 frames crosses a chunk boundary.
//! let mut take = Tree::new(1);
//! let input: Vec<f32> = (0..20_000).map(|i| i as f32).collect();
//! assert_eq!(take.push(&[&input], &mut pool), 20_000);
//! assert_eq!(take.chunk_count(), 2);
//! // A new version shares everything; writing one frame copies one chunk only.
//! let mut layer = take.clone();
//! assert_eq!(layer.write(5, 1, &mut pool, |_, ch| ch[0][0] += 0.5), 1);
//! assert_eq!(layer.get(0, 5), Some(5.5));
//! assert_eq!(take.get(0, 5), Some(5.0)); // the old version is untouched
//! assert_eq!(layer.get(0, 19_999), Some(19_999.0)); // the second chunk is shared
//! assert_eq!(stats.chunks_live(), 4);
//! // Dropping the old version frees only what no other version holds: the old chunk 0.
//! drop(take);
//! collector.collect();
//! assert_eq!(stats.chunks_live(), 3); // layer's 2 chunks + 1 spare left in the pool
//! drop((layer, pool));
//! collector.collect();
//! assert_eq!(stats.chunks_live(), 0);
//! assert_eq!(stats.bytes_held(), 0);
//! ```

use basedrop::Shared;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::chunk::{Chunk, MemStats, Pages, CHUNK_BYTES, CHUNK_SAMPLES};
use crate::engine::pool::ReadyPool;

/// Bits of a chunk number resolved by one index level.
pub const FANOUT_BITS: u32 = 9;
/// Slots in one index node (8 KiB of slots).
pub const FANOUT: usize = 1 << FANOUT_BITS;
/// Channels a tree may have.
pub const MAX_CHANNELS: usize = 2;

/// A slot of the index: nothing, a chunk (at the bottom level) or a node below.
#[derive(Default)]
pub enum Slot {
    #[default]
    Empty,
    Chunk(Shared<Chunk>),
    Node(Shared<Node>),
}

impl Clone for Slot {
    /// [any] Another reference to the same chunk or node: an atomic increment, no copy.
    fn clone(&self) -> Slot {
        match self {
            Slot::Empty => Slot::Empty,
            Slot::Chunk(c) => Slot::Chunk(Shared::clone(c)),
            Slot::Node(n) => Slot::Node(Shared::clone(n)),
        }
    }
}

/// One node of the index tree: [`FANOUT`] slots in locked pages of their own (the audio
/// thread walks them on every block), made on the worker.
pub struct Node {
    slots: NonNull<[Slot; FANOUT]>,
    pages: Pages,
    stats: Arc<MemStats>,
}

// SAFETY: a Node owns its pages and the slots in them, which are Send.
unsafe impl Send for Node {}
// SAFETY: shared access only reads the slots; writes need `&mut Node`.
unsafe impl Sync for Node {}

/// Bytes one index node takes: two pages of 4 KiB.
pub const NODE_BYTES: usize = std::mem::size_of::<[Slot; FANOUT]>();

impl Node {
    /// [worker] A node with every slot empty, counted in `stats`; `None` when the
    /// system refuses the memory.
    pub fn new(stats: &Arc<MemStats>) -> Option<Node> {
        let pages = Pages::map(NODE_BYTES, stats)?;
        let slots = NonNull::new(pages.as_ptr().cast::<[Slot; FANOUT]>())?;
        for i in 0..FANOUT {
            // SAFETY: the pages hold NODE_BYTES, page-aligned (enough for Slot); each
            // slot is written once, before any is read.
            unsafe { slots.cast::<Slot>().as_ptr().add(i).write(Slot::Empty) };
        }
        stats.nodes_made.fetch_add(1, Ordering::Relaxed);
        stats.bytes_held.fetch_add(pages.len(), Ordering::Relaxed);
        Some(Node {
            slots,
            pages,
            stats: Arc::clone(stats),
        })
    }

    /// [audio] The slots.
    #[inline]
    fn slots(&self) -> &[Slot; FANOUT] {
        // SAFETY: initialised in `new`, living as long as `self`; `&self` forbids writes.
        unsafe { self.slots.as_ref() }
    }

    /// [audio] The slots, writable.
    #[inline]
    fn slots_mut(&mut self) -> &mut [Slot; FANOUT] {
        // SAFETY: as in `slots`, and `&mut self` makes this the only reference.
        unsafe { self.slots.as_mut() }
    }
}

impl Drop for Node {
    /// [worker] Runs where `basedrop` collects. The children it holds are released
    /// (queued for the same collector when this was their last reference); then its
    /// pages are unmapped.
    fn drop(&mut self) {
        // SAFETY: the slots were initialised in `new` and are dropped once, here, before
        // the pages under them are unmapped (fields drop after this body).
        unsafe { std::ptr::drop_in_place(self.slots.as_ptr()) };
        self.stats.nodes_freed.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_held
            .fetch_sub(self.pages.len(), Ordering::Relaxed);
    }
}

/// What a version took from the pool: the memory it holds that its parent did not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Chunks attached at the end (a take growing).
    pub appended: usize,
    /// Chunks copied because they were shared (copy-on-write).
    pub copied: usize,
    /// Index nodes taken, for either.
    pub nodes: usize,
}

impl Taken {
    /// [any] Bytes of chunk and index memory these stand for.
    pub fn bytes(&self) -> usize {
        (self.appended + self.copied) * CHUNK_BYTES + self.nodes * NODE_BYTES
    }
}

/// One version of the loop's audio: frames in chunks, every channel of a frame in the
/// same chunk. Cloning is O(1) (one reference to the root) and shares everything.
#[derive(Clone)]
pub struct Tree {
    root: Slot,
    /// Index levels above the chunks: 0 when the root is a chunk (or empty).
    height: u32,
    /// Chunks attached.
    chunks: usize,
    /// Frames written.
    len: usize,
    /// log2 of the channel count.
    shift: u32,
    /// Memory this version took from the pool since it was made or last `settle`d.
    taken: Taken,
}

impl Tree {
    /// [any] An empty tree of `channels` (1 or 2) channels. Allocates nothing.
    pub const fn new(channels: usize) -> Tree {
        Tree {
            root: Slot::Empty,
            height: 0,
            chunks: 0,
            len: 0,
            shift: if channels >= 2 { 1 } else { 0 },
            taken: Taken {
                appended: 0,
                copied: 0,
                nodes: 0,
            },
        }
    }

    /// [any] Channels.
    #[inline]
    pub fn channels(&self) -> usize {
        1 << self.shift
    }

    /// [any] Frames one chunk holds.
    #[inline]
    pub fn frames_per_chunk(&self) -> usize {
        CHUNK_SAMPLES >> self.shift
    }

    /// [audio] Frames written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// [audio] Whether no frame has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// [audio] Chunks attached.
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// [audio] Index levels above the chunks.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// [audio] What this version took from the pool since it was made or last settled.
    pub fn taken(&self) -> Taken {
        self.taken
    }

    /// [audio] Starts counting what is taken afresh (a new layer over this version).
    pub fn settle(&mut self) {
        self.taken = Taken::default();
    }

    /// [audio] Bytes of chunks and index nodes this version reaches, shared or not.
    pub fn bytes(&self) -> usize {
        self.chunks * CHUNK_BYTES + self.node_count() * NODE_BYTES
    }

    /// [audio] Index nodes this version reaches: O(height).
    fn node_count(&self) -> usize {
        if self.chunks == 0 {
            return 0;
        }
        let mut n = 0;
        let mut below = self.chunks;
        for _ in 0..self.height {
            below = below.div_ceil(FANOUT);
            n += below;
        }
        n
    }

    /// [audio] Keeps the first `frames` frames (a loop's end moved back); the chunks
    /// past them stay attached, unused.
    pub fn truncate(&mut self, frames: usize) {
        self.len = self.len.min(frames);
    }

    /// [audio] Index nodes needed to attach chunk number `k` to a tree of `height`.
    fn nodes_needed(k: usize, height: u32) -> (usize, bool) {
        if k == 0 {
            return (0, false);
        }
        let grow = k >> (FANOUT_BITS * height) != 0; // tree full at this height
        let h = height + grow as u32;
        let mut needed = grow as usize;
        for level in 1..h {
            if k & ((1usize << (FANOUT_BITS * level)) - 1) == 0 {
                needed += 1;
            }
        }
        (needed, grow)
    }

    /// [audio] Attaches one chunk from `pool`, with the index nodes it needs. Returns
    /// false, changing nothing, if the pool lacks either.
    fn attach_from(&mut self, pool: &mut ReadyPool) -> bool {
        let k = self.chunks;
        let (needed, grow) = Self::nodes_needed(k, self.height);
        if pool.chunks() == 0 || pool.nodes() < needed + self.height as usize {
            return false; // (+ height: a shared path may need copying first)
        }
        let Some(chunk) = pool.take_chunk() else {
            return false;
        };
        if k == 0 {
            self.root = Slot::Chunk(chunk);
            self.chunks = 1;
            self.taken.appended += 1;
            return true;
        }
        if grow {
            let Some(mut top) = pool.take_node() else {
                return false; // unreachable: counted above
            };
            let Some(t) = Shared::get_mut(&mut top) else {
                return false; // unreachable: fresh from the pool
            };
            t.slots_mut()[0] = std::mem::take(&mut self.root);
            self.root = Slot::Node(top);
            self.height += 1;
            self.taken.nodes += 1;
        }
        // Walk down from the root, copying shared nodes and adding missing ones.
        let mut slot = &mut self.root;
        let mut level = self.height;
        let taken = &mut self.taken;
        while level > 0 {
            let Some(node) = own_node(slot, pool, taken) else {
                return false; // unreachable: counted above
            };
            let idx = (k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1);
            let child = &mut node.slots_mut()[idx];
            if level > 1 && matches!(child, Slot::Empty) {
                match pool.take_node() {
                    Some(n) => {
                        *child = Slot::Node(n);
                        taken.nodes += 1;
                    }
                    None => return false, // unreachable: counted above
                }
            }
            slot = child;
            level -= 1;
        }
        *slot = Slot::Chunk(chunk);
        self.chunks += 1;
        self.taken.appended += 1;
        true
    }

    /// [audio] Chunk number `k`, if attached.
    #[inline]
    pub fn chunk(&self, k: usize) -> Option<&Chunk> {
        let mut slot = &self.root;
        let mut level = self.height;
        while level > 0 {
            let Slot::Node(node) = slot else { return None };
            slot = &node.slots()[(k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
            level -= 1;
        }
        match slot {
            Slot::Chunk(c) => Some(c),
            _ => None,
        }
    }

    /// [audio] Chunk number `k`, writable: copied first (with its index path) if this
    /// version shares it, only its first `keep` frames of each channel (what any version
    /// can read: a take appending past a snapshot copies what it filled, not 64 KiB).
    /// `None` if it is not attached or the pool lacks a copy.
    fn chunk_mut(&mut self, k: usize, keep: usize, pool: &mut ReadyPool) -> Option<&mut Chunk> {
        let fpc = self.frames_per_chunk();
        let keep = keep.min(fpc);
        if k >= self.chunks {
            return None;
        }
        let taken = &mut self.taken;
        let mut slot = &mut self.root;
        let mut level = self.height;
        while level > 0 {
            let node = own_node(slot, pool, taken)?;
            slot = &mut node.slots_mut()[(k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
            level -= 1;
        }
        let Slot::Chunk(sh) = slot else { return None };
        if Shared::get_mut(sh).is_none() {
            // Copy-on-write: every channel, once per chunk per layer.
            let mut fresh = pool.take_chunk()?;
            if let Some(f) = Shared::get_mut(&mut fresh) {
                let (to, from) = (f.samples_mut(), sh.samples());
                for c in 0..CHUNK_SAMPLES / fpc {
                    to[c * fpc..c * fpc + keep].copy_from_slice(&from[c * fpc..c * fpc + keep]);
                }
            }
            *sh = fresh; // the old one stays with the versions that share it
            taken.copied += 1;
        }
        Shared::get_mut(sh)
    }

    /// [audio] Another reference to chunk number `k` (to copy it ahead of need).
    pub fn share_chunk(&self, k: usize) -> Option<Shared<Chunk>> {
        let mut slot = &self.root;
        let mut level = self.height;
        while level > 0 {
            let Slot::Node(node) = slot else { return None };
            slot = &node.slots()[(k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
            level -= 1;
        }
        match slot {
            Slot::Chunk(c) => Some(Shared::clone(c)),
            _ => None,
        }
    }

    /// [audio] Puts `copy`, a copy of `src` made ahead of need, in place of chunk `k`
    /// if the tree still holds `src` there (and shares it); otherwise, or if the pool
    /// lacks a node for the index path, gives `copy` back.
    pub fn install_copy(
        &mut self,
        k: usize,
        copy: Shared<Chunk>,
        src: &Shared<Chunk>,
        pool: &mut ReadyPool,
    ) -> Result<(), Shared<Chunk>> {
        if k >= self.chunks {
            return Err(copy);
        }
        let taken = &mut self.taken;
        let mut slot = &mut self.root;
        let mut level = self.height;
        while level > 0 {
            let Some(node) = own_node(slot, pool, taken) else {
                return Err(copy);
            };
            slot = &mut node.slots_mut()[(k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
            level -= 1;
        }
        match slot {
            Slot::Chunk(sh) if std::ptr::eq::<Chunk>(&**sh, &**src) => {
                *sh = copy;
                taken.copied += 1;
                Ok(())
            }
            _ => Err(copy),
        }
    }

    /// [audio] Appends one span of frames per channel (`src[c]`, all of one length),
    /// attaching chunks from `pool` as needed. Returns how many frames were stored:
    /// fewer only when the pool ran dry, and the tree stays consistent.
    pub fn push(&mut self, src: &[&[f32]], pool: &mut ReadyPool) -> usize {
        let n = src.first().map_or(0, |s| s.len());
        let fpc = self.frames_per_chunk();
        let mut done = 0;
        while done < n {
            if self.len == self.chunks * fpc && !self.attach_from(pool) {
                break;
            }
            let (k, off) = (self.len / fpc, self.len % fpc);
            let m = (fpc - off).min(n - done);
            // Frames past `len` are no version's: a shared chunk is copied up to `off`.
            let Some(chunk) = self.chunk_mut(k, off, pool) else {
                break;
            };
            let s = chunk.samples_mut();
            for (c, src) in src.iter().enumerate().take(MAX_CHANNELS) {
                s[c * fpc + off..c * fpc + off + m].copy_from_slice(&src[done..done + m]);
            }
            self.len += m;
            done += m;
        }
        done
    }

    /// [audio] Calls `f(at, channels)` for the stored spans covering frames
    /// `[start, start + n)` in order, `at` being the span's offset from `start` and
    /// `channels[c]` its samples of channel `c`. Stops at `len()`.
    #[inline]
    pub fn read(&self, start: usize, n: usize, mut f: impl FnMut(usize, [&[f32]; MAX_CHANNELS])) {
        let fpc = self.frames_per_chunk();
        let end = (start + n).min(self.len);
        let mut pos = start;
        while pos < end {
            let (k, off) = (pos / fpc, pos % fpc);
            let m = (fpc - off).min(end - pos);
            let Some(chunk) = self.chunk(k) else { return };
            let s = chunk.samples();
            let right = if self.shift == 1 { fpc } else { 0 };
            f(
                pos - start,
                [&s[off..off + m], &s[right + off..right + off + m]],
            );
            pos += m;
        }
    }

    /// [audio] Calls `f(at, channels)` with writable spans covering frames
    /// `[start, start + n)` (within `len()`), copying shared chunks first. Returns the
    /// frames reached: fewer than `n` when the pool lacks a copy (the rest is left as it
    /// was) or the range passes `len()`.
    pub fn write(
        &mut self,
        start: usize,
        n: usize,
        pool: &mut ReadyPool,
        mut f: impl FnMut(usize, [&mut [f32]; MAX_CHANNELS]),
    ) -> usize {
        let fpc = self.frames_per_chunk();
        let stereo = self.shift == 1;
        let end = (start + n).min(self.len);
        let mut pos = start;
        while pos < end {
            let (k, off) = (pos / fpc, pos % fpc);
            let m = (fpc - off).min(end - pos);
            let Some(chunk) = self.chunk_mut(k, fpc, pool) else {
                break;
            };
            let (l, r) = chunk.samples_mut().split_at_mut(fpc);
            let r: &mut [f32] = if stereo {
                &mut r[off..off + m]
            } else {
                &mut []
            };
            f(pos - start, [&mut l[off..off + m], r]);
            pos += m;
        }
        pos - start
    }

    /// [audio] Sample `i` of channel `c`, if written.
    pub fn get(&self, c: usize, i: usize) -> Option<f32> {
        if i >= self.len || c >= self.channels() {
            return None;
        }
        let fpc = self.frames_per_chunk();
        self.chunk(i / fpc)
            .map(|ch| ch.samples()[c * fpc + i % fpc])
    }
}

/// [audio] The node in `slot`, writable: copied first if it is shared (its slots are
/// cloned: one reference more to each child, no sample copied). `None` if the slot
/// holds no node or the pool has no node for the copy.
fn own_node<'a>(
    slot: &'a mut Slot,
    pool: &mut ReadyPool,
    taken: &mut Taken,
) -> Option<&'a mut Node> {
    let Slot::Node(sh) = slot else { return None };
    if Shared::get_mut(sh).is_none() {
        let mut fresh = pool.take_node()?;
        if let Some(f) = Shared::get_mut(&mut fresh) {
            for (dst, src) in f.slots_mut().iter_mut().zip(sh.slots()) {
                *dst = src.clone();
            }
        }
        *sh = fresh;
        taken.nodes += 1;
    }
    Shared::get_mut(sh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use basedrop::Collector;

    fn fill(pool: &mut ReadyPool, h: &basedrop::Handle, stats: &Arc<MemStats>) {
        while pool.chunks() < pool.chunk_capacity() {
            pool.put_chunk(Shared::new(h, Chunk::new(stats).unwrap()));
        }
        while pool.nodes() < pool.node_capacity() {
            pool.put_node(Shared::new(h, Node::new(stats).unwrap()));
        }
    }

    #[test]
    fn nodes_needed_matches_radix_layout() {
        assert_eq!(Tree::nodes_needed(0, 0), (0, false));
        assert_eq!(Tree::nodes_needed(1, 0), (1, true));
        assert_eq!(Tree::nodes_needed(2, 1), (0, false));
        assert_eq!(Tree::nodes_needed(FANOUT, 1), (2, true));
        assert_eq!(Tree::nodes_needed(FANOUT + 1, 2), (0, false));
        assert_eq!(Tree::nodes_needed(2 * FANOUT, 2), (1, false));
        assert_eq!(Tree::nodes_needed(FANOUT * FANOUT, 2), (3, true));
    }

    #[test]
    fn grows_past_several_index_levels_and_reads_back() {
        let mut collector = Collector::new();
        let stats = Arc::new(MemStats::default());
        let mut pool = ReadyPool::with_capacity(8, 6);
        let mut t = Tree::new(1);
        // FANOUT + 3 chunks: height 2. Every sample is its own index.
        let total = (FANOUT + 3) * CHUNK_SAMPLES + 17;
        let block: Vec<f32> = (0..CHUNK_SAMPLES + 5).map(|i| i as f32).collect();
        let mut written = 0;
        while written < total {
            fill(&mut pool, &collector.handle(), &stats);
            let n = block.len().min(total - written);
            let src: Vec<f32> = block[..n].iter().map(|v| v + written as f32).collect();
            assert_eq!(t.push(&[&src], &mut pool), n);
            written += n;
        }
        assert_eq!(t.len(), total);
        assert_eq!(t.height(), 2);
        assert_eq!(t.chunk_count(), FANOUT + 4);
        assert_eq!(t.bytes(), (FANOUT + 4) * CHUNK_BYTES + 3 * NODE_BYTES);
        for i in (0..total).step_by(4099).chain([total - 1]) {
            assert_eq!(t.get(0, i), Some(i as f32), "sample {i}");
        }
        let start = FANOUT * CHUNK_SAMPLES - CHUNK_SAMPLES - 1;
        let mut out = vec![0.0; 3 * CHUNK_SAMPLES];
        t.read(start, out.len(), |at, s| {
            out[at..at + s[0].len()].copy_from_slice(s[0])
        });
        assert!(out
            .iter()
            .enumerate()
            .all(|(j, &v)| v == (start + j) as f32));
        drop((pool, t));
        collector.collect();
        assert_eq!(stats.chunks_live(), 0);
        assert_eq!(stats.nodes_live(), 0);
        assert_eq!(stats.bytes_held(), 0);
    }

    #[test]
    fn a_layer_copies_only_the_chunks_it_writes_and_their_path() {
        let mut collector = Collector::new();
        let stats = Arc::new(MemStats::default());
        let mut pool = ReadyPool::with_capacity(8, 6);
        let mut base = Tree::new(2);
        let fpc = base.frames_per_chunk();
        assert_eq!(fpc, CHUNK_SAMPLES / 2);
        // 2 * FANOUT + 1 stereo chunks: height 2, three leaves.
        let total = (2 * FANOUT + 1) * fpc;
        let mut written = 0;
        while written < total {
            fill(&mut pool, &collector.handle(), &stats);
            let l: Vec<f32> = (written..written + fpc).map(|i| i as f32).collect();
            let r: Vec<f32> = l.iter().map(|v| -v).collect();
            assert_eq!(base.push(&[&l, &r], &mut pool), fpc);
            written += fpc;
        }
        base.settle();
        fill(&mut pool, &collector.handle(), &stats);
        let held = stats.bytes_held();
        let mut layer = base.clone();
        // Two frames in chunk FANOUT + 2 (leaf 1) and one in chunk 3 (leaf 0).
        let at = (FANOUT + 2) * fpc + 7;
        assert_eq!(
            layer.write(at, 2, &mut pool, |_, [l, r]| {
                l[0] = 1.5;
                r[1] = 2.5;
            }),
            2
        );
        assert_eq!(
            layer.write(3 * fpc, 1, &mut pool, |_, [l, _]| l[0] = 9.0),
            1
        );
        // Copied: 2 chunks, the root and two leaves. Nothing else.
        assert_eq!(
            layer.taken(),
            Taken {
                appended: 0,
                copied: 2,
                nodes: 3
            }
        );
        assert_eq!(layer.get(0, at), Some(1.5));
        assert_eq!(layer.get(1, at + 1), Some(2.5));
        assert_eq!(layer.get(1, at), Some(-(at as f32)));
        assert_eq!(base.get(0, at), Some(at as f32));
        assert_eq!(base.get(0, 3 * fpc), Some((3 * fpc) as f32));
        assert_eq!(layer.get(0, 3 * fpc), Some(9.0));
        for i in (0..total).step_by(997) {
            if i != at && i != 3 * fpc {
                assert_eq!(layer.get(0, i), base.get(0, i), "frame {i} shared");
            }
        }
        // Writing again into the same chunk copies nothing more.
        assert_eq!(
            layer.write(at + 100, 1, &mut pool, |_, [l, _]| l[0] = 0.0),
            1
        );
        assert_eq!(layer.taken().copied, 2);
        drop(base);
        collector.collect();
        // The base's two copied chunks and three nodes are freed; the rest is shared.
        assert_eq!(held - stats.bytes_held(), 2 * CHUNK_BYTES + 3 * NODE_BYTES);
        drop((pool, layer));
        collector.collect();
        assert_eq!(stats.bytes_held(), 0);
    }

    #[test]
    fn dry_pool_stores_what_fits_and_stays_consistent() {
        let mut collector = Collector::new();
        let stats = Arc::new(MemStats::default());
        let mut pool = ReadyPool::with_capacity(1, 6);
        let mut t = Tree::new(1);
        fill(&mut pool, &collector.handle(), &stats);
        let src = vec![0.25; CHUNK_SAMPLES + 100];
        assert_eq!(t.push(&[&src], &mut pool), CHUNK_SAMPLES);
        assert_eq!(t.len(), CHUNK_SAMPLES);
        fill(&mut pool, &collector.handle(), &stats);
        assert_eq!(t.push(&[&src[..100]], &mut pool), 100);
        assert_eq!(t.get(0, CHUNK_SAMPLES + 99), Some(0.25));
        assert_eq!(t.get(0, CHUNK_SAMPLES + 100), None);
        // A shared version cannot be written without a spare chunk: nothing changes.
        let base = t.clone();
        while pool.take_chunk().is_some() {}
        assert_eq!(t.write(5, 10, &mut pool, |_, [l, _]| l.fill(1.0)), 0);
        assert_eq!(t.get(0, 5), Some(0.25));
        drop((t, base, pool));
        collector.collect();
        assert_eq!(stats.chunks_live(), 0);
    }
}
