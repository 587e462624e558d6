//! The ready pool: chunks and index nodes the worker made ahead of need, taken by the
//! audio thread for takes, overdub copies and index paths.

use basedrop::Shared;

use crate::engine::chunk::Chunk;
use crate::engine::tree::Node;

/// Chunks and index nodes made ahead of need. Its capacity is fixed when the plugin is
/// instantiated; putting past it drops the item, which only queues it for the worker's
/// collector, so the audio thread never grows it.
pub struct ReadyPool {
    chunks: Vec<Shared<Chunk>>,
    nodes: Vec<Shared<Node>>,
    chunk_cap: usize,
    node_cap: usize,
}

impl ReadyPool {
    /// [instantiation] An empty pool able to hold `chunks` chunks and `nodes` nodes.
    pub fn with_capacity(chunks: usize, nodes: usize) -> ReadyPool {
        ReadyPool {
            chunks: Vec::with_capacity(chunks),
            nodes: Vec::with_capacity(nodes),
            chunk_cap: chunks,
            node_cap: nodes,
        }
    }
    /// [audio] Chunks ready now.
    #[inline]
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }
    /// [audio] Nodes ready now.
    #[inline]
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }
    /// [audio] Chunks the pool can hold.
    pub fn chunk_capacity(&self) -> usize {
        self.chunk_cap
    }
    /// [audio] Nodes the pool can hold.
    pub fn node_capacity(&self) -> usize {
        self.node_cap
    }
    /// [audio] Keeps `c` if there is room; otherwise queues it for the worker to free.
    pub fn put_chunk(&mut self, c: Shared<Chunk>) {
        if self.chunks.len() < self.chunk_cap {
            self.chunks.push(c);
        } // else: dropped here, which only queues it for the collector.
    }
    /// [audio] Keeps `n` if there is room; otherwise queues it for the worker to free.
    pub fn put_node(&mut self, n: Shared<Node>) {
        if self.nodes.len() < self.node_cap {
            self.nodes.push(n);
        }
    }
    /// [audio] A fresh chunk (held by nobody else), if one is ready.
    #[inline]
    pub fn take_chunk(&mut self) -> Option<Shared<Chunk>> {
        self.chunks.pop()
    }
    /// [audio] A fresh index node, if one is ready.
    #[inline]
    pub fn take_node(&mut self) -> Option<Shared<Node>> {
        self.nodes.pop()
    }
}
