//! The ChunkBuffer: one long run of samples stored in non-contiguous chunks, indexed by
//! a radix tree that grows on the audio thread from nodes the worker made in advance.
//!
//! Nothing here allocates or frees: chunks and index nodes arrive through a
//! [`ReadyPool`] filled by the worker, and everything retired leaves as a
//! `basedrop::Owned`, whose drop only queues it for the worker's collector.
//!
//! The index works like a page table. A buffer of one chunk has the chunk as its root;
//! past that the root is a [`Node`] of [`FANOUT`] slots, and every time the tree is full
//! a new root is put on top with the old root in its first slot: O(1), no copy, and no
//! cap on the length but memory (height 4 indexes 2^36 chunks, 4 EiB of samples).
//! Reaching any sample walks `height` nodes.
//!
//! ```
//! use basedrop::{Collector, Owned};
//! use looper::buffer::{ChunkBuffer, Node, ReadyPool};
//! use looper::chunk::{Chunk, MemStats, CHUNK_SAMPLES};
//! use std::sync::Arc;
//!
//! let mut collector = Collector::new(); // the worker's
//! let stats = Arc::new(MemStats::default());
//! // Worker: two chunks and an index node, made ahead of need.
//! let mut pool = ReadyPool::with_capacity(2);
//! for _ in 0..2 {
//!     pool.put_chunk(Owned::new(&collector.handle(), Chunk::new(&stats).unwrap()));
//! }
//! pool.put_node(Owned::new(&collector.handle(), Node::new(&stats).unwrap()));
//!
//! // Audio thread: 20,000 samples cross a chunk boundary; nothing is allocated.
//! let mut buf = ChunkBuffer::new();
//! let input: Vec<f32> = (0..20_000).map(|i| i as f32).collect();
//! assert_eq!(buf.push(&input, &mut pool), 20_000);
//! assert_eq!(buf.chunk_count(), 2);
//! assert_eq!(buf.get(CHUNK_SAMPLES), Some(CHUNK_SAMPLES as f32));
//! assert_eq!(stats.chunks_live(), 2);
//!
//! // Audio thread: a new take retires the old one in O(1) ...
//! buf.retire();
//! assert_eq!(stats.chunks_live(), 2); // ... queued, not yet freed
//! // Worker: frees it.
//! collector.collect();
//! assert_eq!(stats.chunks_live(), 0);
//! assert_eq!(stats.bytes_held(), 0);
//! ```

use basedrop::Owned;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::chunk::{Chunk, MemStats, Pages, CHUNK_SAMPLES};
use std::ptr::NonNull;

/// Bits of a chunk number resolved by one index level.
pub const FANOUT_BITS: u32 = 9;
/// Slots in one index node (8 KiB of slots).
pub const FANOUT: usize = 1 << FANOUT_BITS;

/// A slot of the index: nothing, a chunk (at the bottom level) or a node below.
pub enum Slot {
    Empty,
    Chunk(Owned<Chunk>),
    Node(Owned<Node>),
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
    /// [worker] Runs where `basedrop` collects. The children it holds are queued for the
    /// same collector in turn; then its pages are unmapped.
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

/// Chunks and index nodes made ahead of need. Its capacity is fixed when the plugin is
/// instantiated; pushing past it hands the item back to the collector, so the audio
/// thread never grows it.
pub struct ReadyPool {
    chunks: Vec<Owned<Chunk>>,
    nodes: Vec<Owned<Node>>,
    chunk_cap: usize,
}

/// Spare index nodes to keep: one attach needs at most a new root plus a new node per
/// level below it, i.e. 3 up to height 3 (2^27 chunks, 8 TiB of samples).
pub const NODE_TARGET: usize = 3;

impl ReadyPool {
    /// [instantiation] An empty pool able to hold `chunk_capacity` chunks.
    pub fn with_capacity(chunk_capacity: usize) -> ReadyPool {
        ReadyPool {
            chunks: Vec::with_capacity(chunk_capacity),
            nodes: Vec::with_capacity(NODE_TARGET),
            chunk_cap: chunk_capacity,
        }
    }
    /// [audio] Chunks ready now.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }
    /// [audio] Nodes ready now.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }
    /// [audio] Chunks the pool can hold.
    pub fn chunk_capacity(&self) -> usize {
        self.chunk_cap
    }
    /// [audio] Keeps `c` if there is room; otherwise queues it for the worker to free.
    pub fn put_chunk(&mut self, c: Owned<Chunk>) {
        if self.chunks.len() < self.chunk_cap {
            self.chunks.push(c);
        } // else: dropped here, which only queues it for the collector.
    }
    /// [audio] Keeps `n` if there is room; otherwise queues it for the worker to free.
    pub fn put_node(&mut self, n: Owned<Node>) {
        if self.nodes.len() < NODE_TARGET {
            self.nodes.push(n);
        }
    }
}

/// A run of samples in chunks. The frame-index accessors cross chunk boundaries; nothing
/// assumes contiguous memory.
pub struct ChunkBuffer {
    root: Slot,
    /// Index levels above the chunks: 0 when the root is a chunk (or empty).
    height: u32,
    /// Chunks attached.
    chunks: usize,
    /// Samples written.
    len: usize,
}

impl Default for ChunkBuffer {
    /// [any] An empty buffer.
    fn default() -> Self {
        ChunkBuffer::new()
    }
}

impl ChunkBuffer {
    /// [any] An empty buffer. Allocates nothing.
    pub const fn new() -> ChunkBuffer {
        ChunkBuffer {
            root: Slot::Empty,
            height: 0,
            chunks: 0,
            len: 0,
        }
    }

    /// [audio] Samples written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// [audio] Whether no sample has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// [audio] Chunks attached.
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// [audio] Samples that fit without another chunk.
    pub fn capacity(&self) -> usize {
        self.chunks * CHUNK_SAMPLES
    }

    /// [audio] Index levels above the chunks.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// [audio] Hands every chunk and node to the collector (O(1): only the root is queued;
    /// its children are queued when the worker drops it) and leaves the buffer empty.
    pub fn retire(&mut self) {
        self.root = Slot::Empty; // the old root's drop queues it for the worker
        self.height = 0;
        self.chunks = 0;
        self.len = 0;
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
    pub fn attach_from(&mut self, pool: &mut ReadyPool) -> bool {
        let k = self.chunks;
        let (needed, grow) = Self::nodes_needed(k, self.height);
        if pool.chunks.is_empty() || pool.nodes.len() < needed {
            return false;
        }
        let Some(chunk) = pool.chunks.pop() else {
            return false;
        };
        if k == 0 {
            self.root = Slot::Chunk(chunk);
            self.chunks = 1;
            return true;
        }
        if grow {
            let Some(mut top) = pool.nodes.pop() else {
                return false; // unreachable: counted above
            };
            top.slots_mut()[0] = std::mem::replace(&mut self.root, Slot::Empty);
            self.root = Slot::Node(top);
            self.height += 1;
        }
        // Walk down from the root, adding the nodes this chunk's path lacks.
        let mut slot = &mut self.root;
        let mut level = self.height;
        while level > 0 {
            let Slot::Node(node) = slot else {
                return false; // unreachable: the root of a tree of height > 0 is a node
            };
            let idx = (k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1);
            let child = &mut node.slots_mut()[idx];
            if level > 1 && matches!(child, Slot::Empty) {
                match pool.nodes.pop() {
                    Some(n) => *child = Slot::Node(n),
                    None => return false, // unreachable: counted above
                }
            }
            slot = child;
            level -= 1;
        }
        *slot = Slot::Chunk(chunk);
        self.chunks += 1;
        true
    }

    /// [audio] Chunk number `k`, which must be attached.
    #[inline]
    fn chunk(&self, k: usize) -> Option<&Chunk> {
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

    /// [audio] Chunk number `k`, writable.
    #[inline]
    fn chunk_mut(&mut self, k: usize) -> Option<&mut Chunk> {
        let mut slot = &mut self.root;
        let mut level = self.height;
        while level > 0 {
            let Slot::Node(node) = slot else { return None };
            slot = &mut node.slots_mut()[(k >> (FANOUT_BITS * (level - 1))) & (FANOUT - 1)];
            level -= 1;
        }
        match slot {
            Slot::Chunk(c) => Some(c),
            _ => None,
        }
    }

    /// [audio] Appends `src`, attaching chunks from `pool` as needed. Returns how many
    /// samples were stored: fewer than `src.len()` only when the pool ran dry, in which
    /// case the rest is not stored and the buffer stays consistent.
    pub fn push(&mut self, src: &[f32], pool: &mut ReadyPool) -> usize {
        let mut done = 0;
        while done < src.len() {
            if self.len == self.capacity() && !self.attach_from(pool) {
                break;
            }
            let k = self.len / CHUNK_SAMPLES;
            let off = self.len % CHUNK_SAMPLES;
            let n = (CHUNK_SAMPLES - off).min(src.len() - done);
            let Some(chunk) = self.chunk_mut(k) else {
                break;
            };
            chunk.samples_mut()[off..off + n].copy_from_slice(&src[done..done + n]);
            self.len += n;
            done += n;
        }
        done
    }

    /// [audio] Calls `f` with the stored spans covering samples `[start, start + n)`, in
    /// order, each with its offset from `start`. The range must lie within `len()`.
    #[inline]
    pub fn spans(&self, start: usize, n: usize, mut f: impl FnMut(usize, &[f32])) {
        let end = (start + n).min(self.len);
        let mut pos = start;
        while pos < end {
            let k = pos / CHUNK_SAMPLES;
            let off = pos % CHUNK_SAMPLES;
            let m = (CHUNK_SAMPLES - off).min(end - pos);
            let Some(chunk) = self.chunk(k) else { return };
            f(pos - start, &chunk.samples()[off..off + m]);
            pos += m;
        }
    }

    /// [audio] Copies samples `[start, start + dst.len())` into `dst`.
    pub fn read(&self, start: usize, dst: &mut [f32]) {
        let n = dst.len();
        self.spans(start, n, |at, s| dst[at..at + s.len()].copy_from_slice(s));
    }

    /// [audio] Sample `i`, if written.
    pub fn get(&self, i: usize) -> Option<f32> {
        if i >= self.len {
            return None;
        }
        self.chunk(i / CHUNK_SAMPLES)
            .map(|c| c.samples()[i % CHUNK_SAMPLES])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basedrop::Collector;

    fn fill(pool: &mut ReadyPool, h: &basedrop::Handle, stats: &Arc<MemStats>) {
        while pool.chunks() < pool.chunk_capacity() {
            pool.put_chunk(Owned::new(h, Chunk::new(stats).unwrap()));
        }
        while pool.nodes() < NODE_TARGET {
            pool.put_node(Owned::new(h, Node::new(stats).unwrap()));
        }
    }

    #[test]
    fn nodes_needed_matches_radix_layout() {
        assert_eq!(ChunkBuffer::nodes_needed(0, 0), (0, false));
        assert_eq!(ChunkBuffer::nodes_needed(1, 0), (1, true));
        assert_eq!(ChunkBuffer::nodes_needed(2, 1), (0, false));
        assert_eq!(ChunkBuffer::nodes_needed(FANOUT, 1), (2, true));
        assert_eq!(ChunkBuffer::nodes_needed(FANOUT + 1, 2), (0, false));
        assert_eq!(ChunkBuffer::nodes_needed(2 * FANOUT, 2), (1, false));
        assert_eq!(ChunkBuffer::nodes_needed(FANOUT * FANOUT, 2), (3, true));
    }

    #[test]
    fn grows_past_several_index_levels_and_reads_back() {
        let mut collector = Collector::new();
        let stats = Arc::new(MemStats::default());
        let mut pool = ReadyPool::with_capacity(8);
        let mut buf = ChunkBuffer::new();
        // FANOUT + 3 chunks: height 2. Every sample is its own index.
        let total = (FANOUT + 3) * CHUNK_SAMPLES + 17;
        let block: Vec<f32> = (0..CHUNK_SAMPLES + 5).map(|i| i as f32).collect();
        let mut written = 0;
        while written < total {
            fill(&mut pool, &collector.handle(), &stats);
            let n = block.len().min(total - written);
            let src: Vec<f32> = block[..n].iter().map(|v| v + written as f32).collect();
            assert_eq!(buf.push(&src, &mut pool), n);
            written += n;
        }
        assert_eq!(buf.len(), total);
        assert_eq!(buf.height(), 2);
        assert_eq!(buf.chunk_count(), FANOUT + 4);
        for i in (0..total).step_by(4099).chain([total - 1]) {
            assert_eq!(buf.get(i), Some(i as f32), "sample {i}");
        }
        let mut out = vec![0.0; 3 * CHUNK_SAMPLES];
        let start = FANOUT * CHUNK_SAMPLES - CHUNK_SAMPLES - 1;
        buf.read(start, &mut out);
        assert!(out
            .iter()
            .enumerate()
            .all(|(j, &v)| v == (start + j) as f32));
        drop(pool);
        buf.retire();
        collector.collect();
        assert_eq!(stats.chunks_live(), 0);
        assert_eq!(stats.nodes_live(), 0);
        assert_eq!(stats.bytes_held(), 0);
    }

    #[test]
    fn dry_pool_stores_what_fits_and_stays_consistent() {
        let mut collector = Collector::new();
        let stats = Arc::new(MemStats::default());
        let mut pool = ReadyPool::with_capacity(1);
        let mut buf = ChunkBuffer::new();
        fill(&mut pool, &collector.handle(), &stats);
        let src = vec![0.25; CHUNK_SAMPLES + 100];
        assert_eq!(buf.push(&src, &mut pool), CHUNK_SAMPLES);
        assert_eq!(buf.len(), CHUNK_SAMPLES);
        fill(&mut pool, &collector.handle(), &stats);
        assert_eq!(buf.push(&src[..100], &mut pool), 100);
        assert_eq!(buf.get(CHUNK_SAMPLES + 99), Some(0.25));
        assert_eq!(buf.get(CHUNK_SAMPLES + 100), None);
        drop((buf, pool));
        collector.collect();
        assert_eq!(stats.chunks_live(), 0);
    }
}
