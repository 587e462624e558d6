//! The looper's state machine: record, close, play and stop, over a [`ChunkBuffer`],
//! with the bookkeeping that asks the worker for memory ahead of need.
//!
//! Free of plugin-API types: the LV2 glue, the tests and the benchmarks all drive this.

use basedrop::Owned;
use std::sync::Arc;

use crate::buffer::{ChunkBuffer, Node, ReadyPool, NODE_TARGET};
use crate::chunk::{pool_target, sane_rate, Chunk, MemStats};

/// What the looper is doing; the value is the `state` output port's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// No loop.
    Empty = 0,
    /// A take is being recorded.
    Recording = 1,
    /// The loop is playing.
    Playing = 2,
    /// A loop exists and is silent (`play` off).
    Stopped = 3,
}

/// The control inputs, as read once at the start of a block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Controls {
    /// `lv2:toggled`: on above 0.5. NaN counts as off.
    pub record: f32,
    /// `lv2:toggled`: on above 0.5. NaN counts as off.
    pub play: f32,
}

impl Controls {
    /// [audio]
    fn record_on(&self) -> bool {
        self.record > 0.5
    }
    /// [audio]
    fn play_on(&self) -> bool {
        self.play > 0.5
    }
}

/// What the audio thread asks of the worker. Small and `Copy`: it is bit-copied through
/// the host's ring buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Chunks to make.
    pub chunks: u32,
    /// Index nodes to make.
    pub nodes: u32,
    /// Samples dropped so far (the worker tells the user when this grows).
    pub dropouts: u64,
    /// Audio-thread panics caught so far (the worker tells the user).
    pub panics: u32,
}

/// What the worker hands back, one item per response message.
pub enum Delivery {
    Chunk(Owned<Chunk>),
    Node(Owned<Node>),
    /// Items the worker could not make (the system refused memory).
    Shortfall {
        chunks: u32,
        nodes: u32,
    },
}

/// Seconds without a delivery after which a request counts as lost (a host may drop a
/// message when its ring is full) and is made again. Extra deliveries are harmless:
/// what the pool cannot keep goes back to the worker.
const STALE_SECONDS: f64 = 2.0;
/// Seconds between requests that carry only a report or a collection.
const REPORT_SECONDS: f64 = 0.25;

/// One mono looper.
pub struct Looper {
    buf: ChunkBuffer,
    pool: ReadyPool,
    state: State,
    pos: usize,
    record_was_on: bool,
    play_was_on: bool,
    dropouts: u64,
    panics: u32,
    sample_rate: f64,
    target_chunks: usize,
    chunks_in_flight: usize,
    nodes_in_flight: usize,
    frames_waiting: u64,
    frames_since_request: u64,
    collect_pending: bool,
    reported: (u64, u32),
    stats: Arc<MemStats>,
}

impl Looper {
    /// [instantiation] A looper for `sample_rate`, empty, with an empty pool: the first
    /// `poll_request` asks the worker to fill it.
    pub fn new(sample_rate: f64, stats: Arc<MemStats>) -> Looper {
        let target_chunks = pool_target(sample_rate, 1);
        Looper {
            buf: ChunkBuffer::new(),
            pool: ReadyPool::with_capacity(target_chunks),
            state: State::Empty,
            pos: 0,
            record_was_on: false,
            play_was_on: false,
            dropouts: 0,
            panics: 0,
            sample_rate: sane_rate(sample_rate),
            target_chunks,
            chunks_in_flight: 0,
            nodes_in_flight: 0,
            frames_waiting: 0,
            frames_since_request: u64::MAX / 2,
            collect_pending: false,
            reported: (0, 0),
            stats,
        }
    }

    /// [audio] Processes one block in place: `io` holds the input on entry and the output
    /// (input plus the loop's playback) on return. Control changes take effect at the
    /// block's first sample.
    pub fn process(&mut self, controls: Controls, io: &mut [f32]) {
        #[cfg(feature = "rt-guard")]
        if crate::rt::INJECT_PANIC.swap(false, std::sync::atomic::Ordering::Relaxed) {
            panic!("injected for a test");
        }
        self.apply_controls(controls);
        match self.state {
            State::Recording => {
                let stored = self.buf.push(io, &mut self.pool);
                self.dropouts += (io.len() - stored) as u64;
            }
            State::Playing => self.mix_loop(io),
            State::Empty | State::Stopped => {}
        }
        let n = io.len() as u64;
        if self.chunks_in_flight + self.nodes_in_flight > 0 {
            self.frames_waiting += n;
        }
        self.frames_since_request = self.frames_since_request.saturating_add(n);
    }

    /// [audio] Edges of `record` and `play`.
    fn apply_controls(&mut self, c: Controls) {
        let (rec, play) = (c.record_on(), c.play_on());
        if rec && !self.record_was_on {
            // A new take: the old loop goes to the worker whole (O(1)).
            self.buf.retire();
            self.collect_pending = true;
            self.state = State::Recording;
            self.pos = 0;
        } else if !rec && self.record_was_on && self.state == State::Recording {
            self.pos = 0;
            self.state = match (self.buf.is_empty(), play) {
                (true, _) => State::Empty,
                (false, true) => State::Playing,
                (false, false) => State::Stopped,
            };
        } else if !rec && !self.buf.is_empty() {
            if play && !self.play_was_on {
                self.pos = 0;
                self.state = State::Playing;
            } else if !play {
                self.state = State::Stopped;
            }
        }
        self.record_was_on = rec;
        self.play_was_on = play;
    }

    /// [audio] Adds the loop, from `pos`, wrapping at its end, to `io`.
    fn mix_loop(&mut self, io: &mut [f32]) {
        let len = self.buf.len();
        if len == 0 {
            return;
        }
        let mut done = 0;
        while done < io.len() {
            let m = (len - self.pos).min(io.len() - done);
            let out = &mut io[done..done + m];
            self.buf.spans(self.pos, m, |at, s| {
                for (o, x) in out[at..at + s.len()].iter_mut().zip(s) {
                    *o += *x;
                }
            });
            self.pos += m;
            if self.pos == len {
                self.pos = 0;
            }
            done += m;
        }
    }

    /// [audio] The work the worker should do now, if any, booked as in flight. Call after
    /// `process`, then hand it to the host; if the host refuses it, call
    /// `request_refused`. It is booked before it is sent because a host may run the
    /// worker and deliver its answers (`accept`) from inside `schedule_work` itself:
    /// Ardour does while exporting.
    pub fn poll_request(&mut self) -> Option<Request> {
        if self.frames_waiting as f64 > STALE_SECONDS * self.sample_rate {
            self.chunks_in_flight = 0;
            self.nodes_in_flight = 0;
            self.frames_waiting = 0;
        }
        let chunks = self
            .target_chunks
            .saturating_sub(self.pool.chunks() + self.chunks_in_flight);
        let nodes = NODE_TARGET.saturating_sub(self.pool.nodes() + self.nodes_in_flight);
        let news = (self.dropouts, self.panics) != self.reported || self.collect_pending;
        let quiet_enough = self.frames_since_request as f64 >= REPORT_SECONDS * self.sample_rate;
        if chunks + nodes == 0 && !(news && quiet_enough) {
            return None;
        }
        let req = Request {
            chunks: chunks as u32,
            nodes: nodes as u32,
            dropouts: self.dropouts,
            panics: self.panics,
        };
        self.chunks_in_flight += chunks;
        self.nodes_in_flight += nodes;
        self.collect_pending = false;
        self.reported = (req.dropouts, req.panics);
        self.frames_since_request = 0;
        Some(req)
    }

    /// [audio] The host refused `req` (its ring was full): nothing of it is in flight,
    /// and its report and collection are asked for again later.
    pub fn request_refused(&mut self, req: &Request) {
        self.chunks_in_flight = self.chunks_in_flight.saturating_sub(req.chunks as usize);
        self.nodes_in_flight = self.nodes_in_flight.saturating_sub(req.nodes as usize);
        self.collect_pending = true;
        self.reported = (u64::MAX, u32::MAX);
    }

    /// [audio] Takes one item from the worker.
    pub fn accept(&mut self, d: Delivery) {
        self.frames_waiting = 0;
        match d {
            Delivery::Chunk(c) => {
                self.chunks_in_flight = self.chunks_in_flight.saturating_sub(1);
                if self.pool.chunks() >= self.target_chunks {
                    self.collect_pending = true;
                }
                self.pool.put_chunk(c);
            }
            Delivery::Node(n) => {
                self.nodes_in_flight = self.nodes_in_flight.saturating_sub(1);
                if self.pool.nodes() >= NODE_TARGET {
                    self.collect_pending = true;
                }
                self.pool.put_node(n);
            }
            Delivery::Shortfall { chunks, nodes } => {
                self.chunks_in_flight = self.chunks_in_flight.saturating_sub(chunks as usize);
                self.nodes_in_flight = self.nodes_in_flight.saturating_sub(nodes as usize);
            }
        }
    }

    /// [audio] Counts a panic caught on the audio thread, for the worker to report.
    pub fn count_panic(&mut self) {
        self.panics = self.panics.saturating_add(1);
    }

    /// [audio] The current state.
    pub fn state(&self) -> State {
        self.state
    }
    /// [audio] Samples in the loop (or recorded so far in this take).
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// [audio] Whether there is no loop and no take.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// [audio] The loop's length in seconds.
    pub fn length_seconds(&self) -> f64 {
        self.buf.len() as f64 / self.sample_rate
    }
    /// [audio] Playback position, 0..1 within the loop; 0 when there is none.
    pub fn position(&self) -> f64 {
        match self.state {
            State::Playing | State::Stopped if !self.buf.is_empty() => {
                self.pos as f64 / self.buf.len() as f64
            }
            _ => 0.0,
        }
    }
    /// [audio] Samples that could not be stored because no chunk was ready.
    pub fn dropouts(&self) -> u64 {
        self.dropouts
    }
    /// [audio] Bytes of audio memory this instance holds (loop, spares, retired but not
    /// yet freed).
    pub fn memory_bytes(&self) -> usize {
        self.stats.bytes_held()
    }
    /// [any] The instance's memory counters.
    pub fn stats(&self) -> &Arc<MemStats> {
        &self.stats
    }
}
