//! The looper's state machine: record, play, overdub, undo, redo and clear over a
//! history of loop versions, with the declicks and levels, and the bookkeeping that asks
//! the worker for memory ahead of need.
//!
//! Free of plugin-API types: the LV2 glue, the tests and the benchmarks all drive this.
//! One engine serves every channel count: a version's chunks hold every channel.

mod quantize;

use std::sync::Arc;

use crate::engine::chunk::{pool_target, sane_rate, Chunk, MemStats, CHUNK_SAMPLES};
use crate::engine::display::Display;
use crate::engine::history::{History, Version};
use crate::engine::peaks::{Peaks, BINS};
use crate::engine::pool::ReadyPool;
use crate::engine::ramp::{db_to_gain, seam_weight, Ramp};
use crate::engine::snapshot::{SaveGate, Snapshot};
use crate::engine::sync::{Grid, TimeEvent};
use crate::engine::tree::{Node, Tree, MAX_CHANNELS};
use basedrop::Shared;
use quantize::{Pending, TakeSync};

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
    /// The loop plays and the input is added into it.
    Overdubbing = 4,
}

/// The control inputs, as read once at the start of a block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Controls {
    /// `lv2:toggled`: on above 0.5; NaN counts as off (so for every toggle and trigger).
    pub record: f32,
    pub play: f32,
    pub overdub: f32,
    /// 0..1: what an overdub keeps of the old loop.
    pub feedback: f32,
    /// Triggers: each 0->1 edge is one step.
    pub undo: f32,
    pub redo: f32,
    pub clear: f32,
    /// MiB the history may hold beyond the current loop.
    pub undo_memory: f32,
    /// Milliseconds of every declick, 0..100; 0 turns them off.
    pub fade: f32,
    /// Levels in dB, -90 (silence) .. +12.
    pub dry: f32,
    pub wet: f32,
    /// 0 free, 1 beat, 2 bar: what record and overdub edges wait for while the looper
    /// follows the host.
    pub sync: f32,
    /// 0..64: a synced take closes by itself after this many bars (0: off).
    pub bars: f32,
}

impl Default for Controls {
    /// [any] Every control at its port's default.
    fn default() -> Controls {
        Controls {
            record: 0.0,
            play: 1.0,
            overdub: 0.0,
            feedback: 1.0,
            undo: 0.0,
            redo: 0.0,
            clear: 0.0,
            undo_memory: 1024.0,
            fade: 5.0,
            dry: 0.0,
            wet: 0.0,
            sync: 0.0,
            bars: 0.0,
        }
    }
}

/// [audio] A toggle or trigger value as on or off.
#[inline]
fn on(v: f32) -> bool {
    v > 0.5
}

/// What the audio thread asks of the worker. Small and `Copy`: it is bit-copied through
/// the host's ring buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Chunks to make.
    pub chunks: u32,
    /// Index nodes to make.
    pub nodes: u32,
    /// Frames dropped so far (the worker tells the user when this grows).
    pub dropouts: u64,
    /// Audio-thread panics caught so far (the worker tells the user).
    pub panics: u32,
}

/// What the worker hands back, one item per response message.
pub enum Delivery {
    Chunk(Shared<Chunk>),
    Node(Shared<Node>),
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
/// Spare index nodes: a write may copy a path of up to 4 levels while a take attaches.
pub const NODE_TARGET: usize = 8;
/// Frames processed at a time inside a block (scratch buffers live on the stack).
const SUB: usize = 256;
/// Milliseconds over which `dry` and `wet` follow their controls.
const LEVEL_MS: f64 = 20.0;
/// Most pictures asked for a second while the loop moves.
const DRAWS_PER_SECOND: f64 = 30.0;
/// Longest declick, in milliseconds.
const MAX_FADE_MS: f32 = 100.0;

type Scratch = [[f32; SUB]; MAX_CHANNELS];

/// Scratch space for one sub-block, made once at instantiation: the audio thread writes
/// only the frames it uses, so a small block touches few cache lines.
struct Work {
    /// The loop's contribution (every version sounding, at its gain).
    out: Scratch,
    /// One version's frames before its gain.
    buf: Scratch,
    /// The tail's frames in the seam's crossfade.
    tail: Scratch,
    /// The overdub's input and feedback gains, frame by frame.
    gi: [f32; SUB],
    gf: [f32; SUB],
}

/// A version still sounding while it fades out (after play off, a new take, undo,
/// redo or clear).
struct Fader {
    version: Version,
    pos: usize,
    wrapped: bool,
    gain: Ramp,
}

/// A copy of the next chunk an overdub layer will write, made a slice each block
/// ahead of need (at twice the pace the layer moves), so that no block copies a whole
/// chunk: without it every chunk's first write copies 64 KiB in one block, and loopers
/// of one length overdubbing together all do it in the same period.
struct Prep {
    k: usize,
    src: Shared<Chunk>,
    copy: Shared<Chunk>,
    done: usize,
}

/// Chunks a loop must span before its overdubs copy ahead (shorter loops have their
/// chunks written again within a pass, and copying ahead would not pay).
const PREP_MIN_CHUNKS: usize = 4;

/// One looper of one or two channels.
pub struct Looper {
    channels: usize,
    pool: ReadyPool,
    history: History,
    /// The version that plays, or the take or layer being written.
    live: Version,
    /// A take is being recorded into `live`.
    recording: bool,
    /// Frames of tail still to record past a closed take's end (for the seam).
    tail_left: usize,
    /// The bytes the history held of the version a take replaces.
    take_replaces: usize,
    /// The live version sounds.
    playing: bool,
    pos: usize,
    /// `pos` was reached by wrapping from the loop's end (the seam's crossfade applies).
    wrapped: bool,
    voice: Ramp,
    fader: Option<Fader>,
    work: Box<Work>,
    /// What the picture shows; read by other threads at any time.
    display: Arc<Display>,
    /// Where a save gets its snapshot of the loop; shared with the saving thread.
    save: Arc<SaveGate>,
    /// Frames a save has waited for the take to reach a chunk boundary.
    save_wait: usize,
    /// The host's grid, followed from its positions.
    grid: Grid,
    /// What `sync` asks for (None: free), and `bars`.
    mode: Option<crate::engine::sync::Unit>,
    bars: i64,
    /// The overdub control as it takes effect (at a boundary while synced).
    od_gate: bool,
    /// A record or overdub change waiting for its boundary.
    pending_rec: Option<Pending>,
    pending_od: Option<Pending>,
    /// The synced take being recorded: where it started on the grid.
    take_sync: Option<TakeSync>,
    /// Frames a synced take being closed holds beyond what it recorded (0 or 1).
    close_extra: usize,
    /// Frames since the picture was last asked for, and what it showed then.
    since_draw: u64,
    drawn: (State, usize),
    /// An overdub layer is being written into `live`.
    layer_open: bool,
    prep: Option<Prep>,
    /// Chunks an overdub copied ahead and installed, and copied whole in one block.
    copies: (u64, u64),
    /// The input is going into the layer (false while its fade-out runs).
    engaged: bool,
    /// Overdub does not resume until it goes 0->1 again (after undo, redo or clear).
    overdub_held: bool,
    layer_frames: u64,
    /// Where the open layer began writing.
    layer_start: usize,
    /// Bytes the open layer copied so far, counted in the history's bytes.
    layer_bytes: usize,
    od_in: Ramp,
    od_fb: Ramp,
    dry: Ramp,
    wet: Ramp,
    fade: usize,
    /// The bits of `fade`, `dry` and `wet` last converted.
    seen: [u32; 3],
    undo_limit: usize,
    /// The feedback control, as last read.
    fb: f32,
    was: [bool; 6],
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
    /// [instantiation] A looper of `channels` (1 or 2) for `sample_rate`, empty, with an
    /// empty pool: the first `poll_request` asks the worker to fill it.
    pub fn new(sample_rate: f64, channels: usize, stats: Arc<MemStats>) -> Looper {
        let channels = channels.clamp(1, MAX_CHANNELS);
        let target_chunks = pool_target(sample_rate, channels);
        Looper {
            channels,
            pool: ReadyPool::with_capacity(target_chunks, NODE_TARGET),
            history: History::new(channels),
            live: Version::empty(channels),
            recording: false,
            tail_left: 0,
            take_replaces: usize::MAX,
            playing: false,
            pos: 0,
            wrapped: false,
            voice: Ramp::at(1.0),
            fader: None,
            work: Box::new(Work {
                out: [[0.0; SUB]; MAX_CHANNELS],
                buf: [[0.0; SUB]; MAX_CHANNELS],
                tail: [[0.0; SUB]; MAX_CHANNELS],
                gi: [0.0; SUB],
                gf: [0.0; SUB],
            }),
            display: Arc::new(Display::new(channels)),
            save: Arc::new(SaveGate::new()),
            save_wait: 0,
            grid: Grid::new(sane_rate(sample_rate)),
            mode: None,
            bars: 0,
            od_gate: false,
            pending_rec: None,
            pending_od: None,
            take_sync: None,
            close_extra: 0,
            since_draw: 0,
            drawn: (State::Empty, 0),
            layer_open: false,
            prep: None,
            copies: (0, 0),
            engaged: false,
            overdub_held: false,
            layer_frames: 0,
            layer_start: 0,
            layer_bytes: 0,
            od_in: Ramp::at(0.0),
            od_fb: Ramp::at(1.0),
            dry: Ramp::at(1.0),
            wet: Ramp::at(1.0),
            fade: 0,
            seen: [u32::MAX; 3],
            undo_limit: usize::MAX,
            fb: 1.0,
            was: [false; 6],
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

    /// [audio] Processes one block in place: `io[c]` holds channel `c`'s input on entry
    /// and its output on return (every channel of one length; channels past the
    /// looper's are left alone). Control changes take effect at the block's first frame.
    pub fn process(&mut self, c: &Controls, io: &mut [&mut [f32]]) {
        self.process_timed(c, &[], io);
    }

    /// [audio] As [`process`](Self::process), with the host's positions in this block
    /// (in order of `offset`): each is applied at its frame, and a record or overdub
    /// change waiting for a beat or bar takes effect at that boundary's frame.
    pub fn process_timed(&mut self, c: &Controls, events: &[TimeEvent], io: &mut [&mut [f32]]) {
        #[cfg(feature = "rt-guard")]
        if crate::rt::INJECT_PANIC.swap(false, std::sync::atomic::Ordering::Relaxed) {
            panic!("injected for a test");
        }
        let chans = io.len().min(self.channels);
        let n = io.iter().take(chans).map(|b| b.len()).min().unwrap_or(0);
        self.mode = quantize::mode(c.sync);
        self.bars = if c.bars.is_nan() {
            0
        } else {
            c.bars.round().clamp(0.0, 64.0) as i64
        };
        let mut ev = events.iter().peekable();
        // Positions at the block's first frame count before its edges.
        while let Some(e) = ev.next_if(|e| e.offset == 0) {
            self.on_position(&e.pos);
        }
        self.apply_controls(c);
        let mut done = 0;
        loop {
            while let Some(e) = ev.next_if(|e| e.offset <= done) {
                self.on_position(&e.pos);
            }
            self.fire_due();
            if done >= n {
                break;
            }
            let mut m = (n - done).min(SUB);
            if let Some(e) = ev.peek() {
                m = m.min(e.offset - done);
            }
            if let Some(d) = self.next_due() {
                m = m.min(d);
            }
            self.process_sub(io, chans, done, m);
            self.grid.advance(m);
            done += m;
        }
        self.after_block(n as u64);
        self.serve_save(n);
    }

    /// [audio] Hands a waiting save its snapshot of the loop: O(1), a reference to the
    /// live tree. While a take grows, it waits (at most one chunk's frames) until the
    /// take has just crossed into a new chunk: the take then copies only the few frames
    /// it put in that chunk when it writes on past the snapshot, not a whole chunk.
    fn serve_save(&mut self, n: usize) {
        if !self.save.wanted() {
            self.save_wait = 0;
            return;
        }
        if self.recording || self.tail_left > 0 {
            let fpc = self.live.tree.frames_per_chunk();
            self.save_wait += n;
            if self.live.tree.len() % fpc >= n.max(1) && self.save_wait < fpc {
                return;
            }
        }
        self.save_wait = 0;
        let snap = self.snapshot();
        self.save.answer(snap);
    }

    /// [audio] (or a saver that owns the engine, see [`SaveGate`]) The loop as it is
    /// now: a take being recorded counts as closed here. O(1), no allocation.
    pub fn snapshot(&self) -> Snapshot {
        let loop_len = if self.recording {
            self.live.tree.len()
        } else {
            self.live.loop_len
        };
        Snapshot {
            tree: self.live.tree.clone(),
            loop_len,
            playing: self.playing || (self.recording && self.was[1]),
            grid: if self.recording { None } else { self.live.grid },
        }
    }

    /// [any] Where a save asks for its snapshot.
    pub fn save_gate(&self) -> &Arc<SaveGate> {
        &self.save
    }

    /// [instantiation] (no other call overlaps it) Makes `v` the loop, as one step in
    /// the history (undo returns to what was there before), playing from its start if
    /// `playing`. Whatever was being written is committed first; an overdub held on
    /// waits for its next 0->1. An empty `v` clears the loop (nothing over nothing).
    pub fn restore(&mut self, v: Version, playing: bool) {
        let play = self.was[1];
        self.finish_all(play);
        self.overdub_held = true;
        if v.is_empty() && self.live.is_empty() {
            return;
        }
        self.history.discard_redos();
        self.history
            .push(v.clone(), self.live.tree.bytes(), v.tree.bytes());
        self.fade_out_voice();
        self.live = v;
        self.live.tree.settle();
        self.display.publish_peaks(&self.live.peaks, 0, BINS);
        self.pos = 0;
        self.wrapped = false;
        if playing && !self.live.is_empty() {
            self.start_voice(0);
        }
        // The play control's edge is judged against the restored state: on at the next
        // block keeps it playing, off stops it, and a stopped loop starts on a 0->1.
        self.was[1] = playing;
        self.collect_pending = true;
    }

    /// [any] Frames of the longest tail a take records past its loop (what a restored
    /// loop may carry).
    pub fn max_tail(&self) -> usize {
        self.frames(MAX_FADE_MS as f64)
    }

    /// [any] The sample rate the looper runs at.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// [audio] Frames of `ms` milliseconds.
    fn frames(&self, ms: f64) -> usize {
        (ms * self.sample_rate / 1000.0).round() as usize
    }

    /// [audio] Control edges, in this order: undo, redo, clear, record, play, overdub.
    fn apply_controls(&mut self, c: &Controls) {
        // Conversions only when a control moves (they cost a round and two powf).
        let seen = [c.fade, c.dry, c.wet].map(f32::to_bits);
        let moved = seen != self.seen;
        if moved {
            self.seen = seen;
            let fade_ms = if c.fade.is_nan() {
                0.0
            } else {
                c.fade.clamp(0.0, MAX_FADE_MS)
            };
            self.fade = self.frames(fade_ms as f64);
        }
        let fb = if c.feedback.is_nan() {
            1.0
        } else {
            c.feedback.clamp(0.0, 1.0)
        };
        let mib = if c.undo_memory.is_nan() {
            0.0
        } else {
            c.undo_memory.max(0.0)
        };
        self.undo_limit = (mib as f64 * 1024.0 * 1024.0).min(usize::MAX as f64 / 2.0) as usize;
        if moved {
            let level = self.frames(LEVEL_MS);
            for (r, db) in [(&mut self.dry, c.dry), (&mut self.wet, c.wet)] {
                let g = db_to_gain(db);
                if r.target() != g {
                    r.go(g, level);
                }
            }
        }
        let now = [c.record, c.play, c.overdub, c.undo, c.redo, c.clear].map(on);
        let [rec, play, overdub, undo, redo, clear] = now;
        let [rec_was, play_was, od_was, undo_was, redo_was, clear_was] = self.was;
        if now != self.was {
            // Whatever a change released waits for the worker's collector.
            self.collect_pending = true;
        }
        self.was = now;

        if undo && !undo_was {
            self.finish_all(play);
            if let Some(v) = self.history.undo().cloned() {
                self.switch_to(v, play);
            }
        }
        if redo && !redo_was {
            self.finish_all(play);
            if let Some(v) = self.history.redo().cloned() {
                self.switch_to(v, play);
            }
        }
        if clear && !clear_was {
            self.finish_all(play);
            if !self.live.is_empty() {
                self.history
                    .push(Version::empty(self.channels), self.live.tree.bytes(), 0);
                self.switch_to(Version::empty(self.channels), play);
            }
        }
        if rec != rec_was {
            self.request_record(rec);
        }
        if !self.recording && !self.live.is_empty() {
            if play && !play_was {
                self.fade_out_voice();
                let at = self.grid_pos().unwrap_or(0);
                self.start_voice(at);
            } else if !play && self.playing {
                self.commit_layer();
                self.fade_out_voice();
            }
        }
        if overdub != od_was {
            self.request_overdub(overdub);
        }
        self.fb = fb;
        self.update_overdub();
    }

    /// [audio] Record takes effect: a take starts (or, off, the take closes).
    fn set_record(&mut self, on: bool) {
        let play = self.was[1];
        if on && !self.recording {
            // A new take: the old loop fades out and stays in the history. Overdub held
            // on through it waits for its next 0->1.
            self.finish_all(play);
            self.overdub_held |= self.od_gate || self.was[2];
            self.fade_out_voice();
            self.history.discard_redos();
            self.take_replaces = self.live.tree.bytes();
            self.live = Version::empty(self.channels);
            self.display.publish_peaks(&self.live.peaks, 0, BINS);
            self.recording = true;
            self.pos = 0;
        } else if !on && self.recording {
            self.close_take(play);
        }
    }

    /// [audio] Overdub begins or ends as the (quantized) overdub control, the play state
    /// and the hold after undo, redo or clear say.
    fn update_overdub(&mut self) {
        let fb = self.fb;
        if !self.od_gate {
            self.overdub_held = false;
        }
        let want = self.od_gate && !self.overdub_held && self.playing && !self.recording;
        if want && !self.engaged {
            self.begin_layer(fb);
        } else if !want && self.engaged {
            self.end_layer();
        } else if self.engaged && self.od_fb.target() != fb {
            self.od_fb.go(fb, self.fade);
        }
    }

    /// [audio] Ends whatever is being written, at once: the take (without tail), the
    /// tail, the layer. Overdub then waits for its next 0->1.
    fn finish_all(&mut self, play: bool) {
        if self.recording {
            self.close_take(play);
        }
        self.commit_take();
        if self.layer_open {
            self.overdub_held = true;
        }
        self.commit_layer();
    }

    /// [audio] The take ends here: its loop is what was recorded; a tail follows.
    fn close_take(&mut self, play: bool) {
        self.recording = false;
        self.take_sync = None;
        self.pending_rec = None;
        // A synced take may hold a frame more than it has recorded at its boundary: that
        // frame is the first of what follows, recorded as the tail begins.
        let extra = std::mem::take(&mut self.close_extra);
        self.live.loop_len = self.live.tree.len() + extra;
        if self.live.is_empty() {
            // An empty take (on and off in one block) is a clear; over nothing, nothing.
            if self.history.current().is_some_and(Version::is_empty) {
                self.take_replaces = usize::MAX;
            }
            self.tail_left = 0;
            self.commit_take();
            return;
        }
        self.tail_left = self.fade + extra;
        self.commit_take_if_done();
        if play {
            let at = self.grid_pos().unwrap_or(0);
            self.start_voice(at);
        }
    }

    /// [audio] Commits the take once its tail is complete.
    fn commit_take_if_done(&mut self) {
        if self.tail_left == 0 {
            self.commit_take();
        }
    }

    /// [audio] Puts the closed take into the history (a no-op if none is pending).
    fn commit_take(&mut self) {
        if self.recording || self.take_replaces == usize::MAX {
            return;
        }
        self.tail_left = 0;
        // (A synced take's last frame comes with its tail: without it, it is shorter.)
        self.live.loop_len = self.live.loop_len.min(self.live.tree.len());
        let added = self.live.tree.bytes();
        self.history
            .push(self.live.clone(), self.take_replaces, added);
        self.take_replaces = usize::MAX;
        self.live.tree.settle();
    }

    /// [audio] The live version starts sounding at `pos`, fading in.
    fn start_voice(&mut self, pos: usize) {
        self.playing = true;
        self.pos = pos;
        self.wrapped = false;
        self.voice = Ramp::at(if self.fade > 0 { 0.0 } else { 1.0 });
        self.voice.go(1.0, self.fade);
    }

    /// [audio] The live version stops sounding: it fades out from where it is.
    fn fade_out_voice(&mut self) {
        if !self.playing {
            return;
        }
        self.playing = false;
        self.engaged = false;
        if self.fade > 0 && !self.live.is_empty() {
            let mut gain = self.voice;
            gain.go(0.0, self.fade);
            // Replaces a fader still running: two switches within one fade.
            self.fader = Some(Fader {
                version: self.live.clone(),
                pos: self.pos,
                wrapped: self.wrapped,
                gain,
            });
        }
    }

    /// [audio] Undo, redo or clear chose `v`: it plays on from the same position (from
    /// its start if nothing played), crossfading from what played.
    fn switch_to(&mut self, v: Version, play: bool) {
        let (was_playing, was_empty) = (self.playing, self.live.is_empty());
        let (pos, wrapped) = (self.pos, self.wrapped);
        self.fade_out_voice();
        self.live = v;
        self.live.tree.settle();
        self.display.publish_peaks(&self.live.peaks, 0, BINS);
        if self.live.is_empty() {
            self.pos = 0;
        } else if was_playing {
            let at = self.grid_pos().unwrap_or(pos % self.live.loop_len);
            self.start_voice(at);
            self.wrapped = wrapped;
        } else if play && was_empty {
            self.start_voice(0);
        } else {
            self.pos = pos % self.live.loop_len;
        }
    }

    /// [audio] Overdub begins: a new layer over the live version.
    fn begin_layer(&mut self, fb: f32) {
        self.commit_take();
        self.history.discard_redos();
        self.live.tree.settle();
        self.layer_open = true;
        self.engaged = true;
        self.layer_frames = 0;
        self.layer_start = self.pos;
        self.layer_bytes = 0;
        self.od_in = Ramp::at(0.0);
        self.od_in.go(1.0, self.fade);
        self.od_fb = Ramp::at(1.0);
        self.od_fb.go(fb, self.fade);
    }

    /// [audio] Overdub ends: the input fades out of the layer, which is then committed.
    fn end_layer(&mut self) {
        self.engaged = false;
        self.od_in.go(0.0, self.fade);
        self.od_fb.go(1.0, self.fade);
        if self.fade == 0 {
            self.commit_layer();
        }
    }

    /// [audio] Puts the open layer into the history (a no-op if none is open).
    fn commit_layer(&mut self) {
        if !self.layer_open {
            return;
        }
        self.layer_open = false;
        self.engaged = false;
        if let Some(p) = self.prep.take() {
            self.pool.put_chunk(p.copy);
        }
        let copied = self.live.tree.taken().bytes();
        self.copies.1 += self.live.tree.taken().copied as u64;
        self.history.add_pending(-(self.layer_bytes as isize));
        self.layer_bytes = 0;
        self.live.peaks.settle();
        if self.layer_frames > 0 {
            self.history.push(self.live.clone(), copied, copied);
        }
        self.live.tree.settle();
        self.display.publish_peaks(&self.live.peaks, 0, BINS);
        self.display.clear_dub();
    }

    /// [audio] Up to `SUB` frames at `off` of the block. The input is read from `io`
    /// where it is (capture and overdub need it raw), and only the output's mix
    /// overwrites it: no copy of the input, and no scratch touched beyond `m` frames.
    fn process_sub(&mut self, io: &mut [&mut [f32]], chans: usize, off: usize, m: usize) {
        // Capture: the take, or the tail past its end.
        if self.recording || self.tail_left > 0 {
            let k = if self.recording {
                m
            } else {
                m.min(self.tail_left)
            };
            let src: [&[f32]; MAX_CHANNELS] = [
                &io[0][off..off + k],
                io.get(1).map_or(&[][..], |r| &r[off..off + k]),
            ];
            let start = self.live.tree.len();
            let stored = self.live.tree.push(&src[..chans], &mut self.pool);
            if self.recording {
                self.dropouts += (k - stored) as u64;
                let peaks = &mut self.live.peaks;
                let all = peaks.grow_to(start + stored);
                let mut touched = (0, 0);
                for (c, s) in src.iter().enumerate().take(chans) {
                    touched = peaks.record(c, start, &s[..stored]);
                }
                let (lo, hi) = if all { (0, BINS) } else { touched };
                self.display.publish_peaks(peaks, lo, hi);
            } else {
                self.tail_left = if stored < k { 0 } else { self.tail_left - k };
                self.commit_take_if_done();
            }
        }
        let sounding = self.playing && !self.live.is_empty();
        if !sounding && self.fader.is_none() {
            // Nothing plays: the output is the input at the dry level.
            self.mix_dry_only(io, chans, off, m);
            return;
        }
        for o in self.work.out.iter_mut().take(chans) {
            o[..m].fill(0.0);
        }
        if sounding {
            self.render_live(io, off, m);
        }
        if let Some(f) = self.fader.as_mut() {
            let x = self.fade.min(f.version.tail()).min(f.version.loop_len);
            let w = &mut *self.work;
            let (out, buf) = (&mut w.out, &mut w.buf);
            render(
                &f.version,
                &mut f.pos,
                &mut f.wrapped,
                x,
                out,
                buf,
                m,
                &mut f.gain,
            );
            if f.gain.is_steady() && f.gain.value() == 0.0 {
                self.fader = None; // only queues what nobody else holds
                self.collect_pending = true;
            }
        }
        // Mix: dry input plus wet loop.
        let out = &self.work.out;
        if self.dry.is_steady() && self.wet.is_steady() {
            let (d, w) = (self.dry.value(), self.wet.value());
            for (c, l) in out.iter().enumerate().take(chans) {
                let io = &mut io[c][off..off + m];
                if d == 1.0 && w == 1.0 {
                    io.iter_mut().zip(l).for_each(|(o, l)| *o += l);
                } else {
                    io.iter_mut().zip(l).for_each(|(o, l)| *o = d * *o + w * l);
                }
            }
        } else {
            for i in 0..m {
                let (d, w) = (self.dry.tick(), self.wet.tick());
                for (c, l) in out.iter().enumerate().take(chans) {
                    io[c][off + i] = d * io[c][off + i] + w * l[i];
                }
            }
        }
    }

    /// [audio] The output is the input at the dry level (nothing plays).
    fn mix_dry_only(&mut self, io: &mut [&mut [f32]], chans: usize, off: usize, m: usize) {
        if self.dry.is_steady() {
            let d = self.dry.value();
            if d != 1.0 {
                for b in io.iter_mut().take(chans) {
                    b[off..off + m].iter_mut().for_each(|s| *s *= d);
                }
            }
        } else {
            for i in 0..m {
                let d = self.dry.tick();
                for b in io.iter_mut().take(chans) {
                    b[off + i] *= d;
                }
            }
        }
        for _ in 0..m.min(self.wet.left()) {
            self.wet.tick();
        }
    }

    /// [audio] Adds the live version's `m` frames from `pos` into the scratch output;
    /// an open layer also writes the input (`io` at `off`) into it, old * feedback +
    /// input, where it reads.
    fn render_live(&mut self, io: &[&mut [f32]], off: usize, m: usize) {
        if self.layer_open {
            self.copy_ahead(m);
        }
        let w = &mut *self.work;
        if !self.layer_open {
            let x = self.fade.min(self.live.tail()).min(self.live.loop_len);
            let (out, buf) = (&mut w.out, &mut w.buf);
            let v = &self.live;
            render(
                v,
                &mut self.pos,
                &mut self.wrapped,
                x,
                out,
                buf,
                m,
                &mut self.voice,
            );
            return;
        }
        for i in 0..m {
            w.gi[i] = self.od_in.tick();
            w.gf[i] = self.od_fb.tick();
        }
        let len = self.live.loop_len;
        let x = self.fade.min(self.live.tail()).min(len);
        let ch = self.channels.min(io.len());
        let fpc = self.live.tree.frames_per_chunk();
        let (gi, gf) = (&w.gi, &w.gf);
        let mut done = 0;
        while done < m {
            let p = self.pos;
            let xf = self.wrapped && p < x;
            let seg =
                (m - done)
                    .min(len - p)
                    .min(fpc - p % fpc)
                    .min(if xf { x - p } else { usize::MAX });
            // Entering the chunk copied ahead: it takes the shared one's place.
            if let Some(pr) = self.prep.take_if(|pr| pr.k == p / fpc) {
                let tree = &mut self.live.tree;
                let given_back = match pr.done == CHUNK_SAMPLES {
                    true => tree
                        .install_copy(pr.k, pr.copy, &pr.src, &mut self.pool)
                        .err(),
                    false => Some(pr.copy), // not done: the write below copies it whole
                };
                self.copies.0 += u64::from(given_back.is_none());
                if let Some(c) = given_back {
                    self.pool.put_chunk(c);
                }
            }
            // The layer: old * feedback + input, in the loop and (in the crossfade) in
            // the tail that continues its end; the old values are what plays.
            let mix = |dst: &mut Scratch,
                       at0: usize,
                       tree: &mut Tree,
                       pool: &mut ReadyPool,
                       mut peaks: Option<&mut Peaks>| {
                let mut bins = (usize::MAX, 0);
                let reached = tree.write(at0, seg, pool, |at, s| {
                    for (c, s) in s.into_iter().enumerate().take(ch) {
                        let (i, n) = (done + at, s.len());
                        let input = &io[c][off + i..off + i + n];
                        let old = &mut dst[c][i..i + n];
                        let gains = gf[i..i + n].iter().zip(&gi[i..i + n]);
                        // Zipped slices: no bounds check inside, so it vectorises.
                        for ((v, o), ((f, g), x)) in s.iter_mut().zip(old).zip(gains.zip(input)) {
                            *o = *v;
                            *v = f * *v + g * x;
                        }
                        if let Some(p) = peaks.as_deref_mut() {
                            let (lo, hi) = p.rewrite(c, at0 + at, s);
                            bins = (bins.0.min(lo), bins.1.max(hi));
                        }
                    }
                });
                if reached < seg {
                    tree.read(at0 + reached, seg - reached, |at, s| {
                        for (c, s) in s.into_iter().enumerate().take(ch) {
                            let i = done + reached + at;
                            dst[c][i..i + s.len()].copy_from_slice(s);
                        }
                    });
                }
                ((seg - reached) as u64, bins)
            };
            let mut lost = 0;
            let live = &mut self.live;
            if xf {
                lost += mix(&mut w.tail, len + p, &mut live.tree, &mut self.pool, None).0;
            }
            let (l, (lo, hi)) = mix(
                &mut w.buf,
                p,
                &mut live.tree,
                &mut self.pool,
                Some(&mut live.peaks),
            );
            lost += l;
            if lo < hi {
                self.display.publish_peaks(&live.peaks, lo, hi);
                self.display.mark_dub(lo, hi);
            }
            self.dropouts += lost.min(seg as u64);
            if xf {
                for c in 0..ch {
                    for i in done..done + seg {
                        let wt = seam_weight(p + i - done, x);
                        w.buf[c][i] = wt * w.buf[c][i] + (1.0 - wt) * w.tail[c][i];
                    }
                }
            }
            self.pos += seg;
            if self.pos == len {
                self.pos = 0;
                self.wrapped = true;
            }
            done += seg;
        }
        self.layer_frames += m as u64;
        add_with_gain(&mut w.out, &w.buf, ch, m, &mut self.voice);
    }

    /// [audio] Copies a slice of the chunk after the one the layer writes now (in play
    /// order) into a chunk from the pool: `2 * m` frames' worth for `m` frames played.
    fn copy_ahead(&mut self, m: usize) {
        let tree = &self.live.tree;
        let fpc = tree.frames_per_chunk();
        let len = self.live.loop_len;
        let kc = self.pos / fpc;
        let next = if (kc + 1) * fpc >= len { 0 } else { kc + 1 };
        // Only chunks the layer has not written yet: it holds the others alone, and
        // writes them in place.
        let (a, b) = (next * fpc, ((next + 1) * fpc).min(len));
        let (s, n) = (self.layer_start, self.layer_frames as usize);
        let written =
            n >= len || (a < (s + n).min(len) && s < b) || (s + n > len && a < s + n - len);
        if len.div_ceil(fpc) < PREP_MIN_CHUNKS || written {
            return;
        }
        // (A copy for the chunk being entered now is installed by the write.)
        if self.prep.as_ref().is_some_and(|p| p.k != next && p.k != kc) {
            if let Some(p) = self.prep.take() {
                self.pool.put_chunk(p.copy);
            }
        }
        if self.prep.as_ref().is_some_and(|p| p.k == kc) {
            return;
        }
        if self.prep.is_none() {
            if self.pool.chunks() < 2 {
                return; // the write's own copy needs a chunk more
            }
            let Some(src) = tree.share_chunk(next) else {
                return;
            };
            let Some(copy) = self.pool.take_chunk() else {
                return;
            };
            self.prep = Some(Prep {
                k: next,
                src,
                copy,
                done: 0,
            });
        }
        if let Some(p) = self.prep.as_mut() {
            let n = (2 * m * CHUNK_SAMPLES)
                .div_ceil(fpc)
                .min(CHUNK_SAMPLES - p.done);
            if let Some(dst) = Shared::get_mut(&mut p.copy) {
                let r = p.done..p.done + n;
                dst.samples_mut()[r.clone()].copy_from_slice(&p.src.samples()[r]);
                p.done += n;
            }
        }
    }

    /// [audio] Bookkeeping after a block: the layer's end, the history's memory, the
    /// worker's timing.
    fn after_block(&mut self, n: u64) {
        if self.layer_open && !self.engaged && self.od_in.is_steady() {
            self.commit_layer();
        }
        if self.layer_open {
            let now = self.live.tree.taken().bytes();
            self.history
                .add_pending(now as isize - self.layer_bytes as isize);
            self.layer_bytes = now;
        }
        let state = self.state();
        let len = self.len();
        let used = self.live.peaks.bins_used(len);
        let pos = if state == State::Recording {
            len
        } else {
            self.pos
        };
        self.display.publish(state, pos, len, used);
        self.since_draw = self.since_draw.saturating_add(n);
        if self.history.bytes() > self.undo_limit && self.history.release_oldest() {
            self.collect_pending = true;
        }
        if self.history.sweep() {
            self.collect_pending = true;
        }
        if self.chunks_in_flight + self.nodes_in_flight > 0 {
            self.frames_waiting += n;
        }
        self.frames_since_request = self.frames_since_request.saturating_add(n);
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

    /// [audio] Whether the picture should be drawn again now: at once when the state or
    /// the loop changed, and while it moves (playing, recording) at most 30 times a
    /// second. Call once per block.
    pub fn redraw_due(&mut self) -> bool {
        let now = (self.state(), self.len());
        let moving = matches!(
            now.0,
            State::Recording | State::Playing | State::Overdubbing
        );
        let due = now != self.drawn
            || (moving && self.since_draw as f64 >= self.sample_rate / DRAWS_PER_SECOND);
        if due {
            self.drawn = now;
            self.since_draw = 0;
        }
        due
    }

    /// [any] What the picture shows, for other threads to read.
    pub fn display(&self) -> &Arc<Display> {
        &self.display
    }

    /// [audio] The current state.
    pub fn state(&self) -> State {
        if self.recording {
            State::Recording
        } else if self.live.is_empty() {
            State::Empty
        } else if self.engaged {
            State::Overdubbing
        } else if self.playing {
            State::Playing
        } else {
            State::Stopped
        }
    }
    /// [audio] Channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// [audio] Frames in the loop (or recorded so far in this take).
    pub fn len(&self) -> usize {
        if self.recording {
            self.live.tree.len()
        } else {
            self.live.loop_len
        }
    }
    /// [audio] Whether there is no loop and no take.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// [audio] The loop's length in seconds.
    pub fn length_seconds(&self) -> f64 {
        self.len() as f64 / self.sample_rate
    }
    /// [audio] Playback position, 0..1 within the loop; 0 when there is none.
    pub fn position(&self) -> f64 {
        if self.recording || self.live.is_empty() {
            0.0
        } else {
            self.pos as f64 / self.live.loop_len as f64
        }
    }
    /// [audio] Steps undo can take.
    pub fn layers(&self) -> usize {
        self.history.undos() + usize::from(self.layer_open && self.layer_frames > 0)
    }
    /// [audio] Chunks overdubs copied ahead (a slice a block), and the rest of the
    /// chunks they copied, each whole in one block (a layer's first, short loops).
    pub fn chunk_copies(&self) -> (u64, u64) {
        let whole = self.history_copies();
        (self.copies.0, whole.saturating_sub(self.copies.0))
    }

    /// [audio] Chunks copied by overdubs so far, every way (counted by the trees).
    fn history_copies(&self) -> u64 {
        self.copies.1 + self.live.tree.taken().copied as u64
    }

    /// [audio] Steps redo can take.
    pub fn redos(&self) -> usize {
        self.history.redos()
    }
    /// [audio] Bytes the history holds beyond the current loop.
    pub fn history_bytes(&self) -> usize {
        self.history.bytes()
    }
    /// [audio] Frames that could not be stored because no chunk was ready.
    pub fn dropouts(&self) -> u64 {
        self.dropouts
    }
    /// [audio] Bytes of audio memory this instance holds (loop, history, spares,
    /// retired but not yet freed).
    pub fn memory_bytes(&self) -> usize {
        self.stats.bytes_held()
    }
    /// [any] The instance's memory counters.
    pub fn stats(&self) -> &Arc<MemStats> {
        &self.stats
    }
    /// [audio] Sample `i` of channel `c` of the loop that plays (tests, diagnostics).
    pub fn sample(&self, c: usize, i: usize) -> Option<f32> {
        self.live.tree.get(c, i)
    }
}

/// [audio] Adds `m` frames of `v` from `*pos` into `out` at `gain` (through `buf`),
/// wrapping at the loop's end and crossfading the loop's start with the tail for `x`
/// frames after a wrap. Read only.
#[allow(clippy::too_many_arguments)]
fn render(
    v: &Version,
    pos: &mut usize,
    wrapped: &mut bool,
    x: usize,
    out: &mut Scratch,
    buf: &mut Scratch,
    m: usize,
    gain: &mut Ramp,
) {
    let len = v.loop_len;
    if len == 0 {
        return;
    }
    let ch = v.tree.channels();
    let mut done = 0;
    while done < m {
        let p = *pos;
        let xf = *wrapped && p < x;
        let seg = (m - done)
            .min(len - p)
            .min(if xf { x - p } else { usize::MAX });
        v.tree.read(p, seg, |at, s| {
            for (c, s) in s.into_iter().enumerate().take(ch) {
                buf[c][done + at..done + at + s.len()].copy_from_slice(s);
            }
        });
        if xf {
            v.tree.read(len + p, seg, |at, s| {
                for (c, s) in s.into_iter().enumerate().take(ch) {
                    for (j, t) in s.iter().enumerate() {
                        let i = done + at + j;
                        let w = seam_weight(p + at + j, x);
                        buf[c][i] = w * buf[c][i] + (1.0 - w) * t;
                    }
                }
            });
        }
        *pos += seg;
        if *pos == len {
            *pos = 0;
            *wrapped = true;
        }
        done += seg;
    }
    add_with_gain(out, buf, ch, m, gain);
}

/// [audio] Adds `m` frames of `buf` times `gain` (frame by frame) into `out`.
#[inline]
fn add_with_gain(out: &mut Scratch, buf: &Scratch, ch: usize, m: usize, gain: &mut Ramp) {
    if gain.is_steady() {
        let g = gain.value();
        for (o, b) in out.iter_mut().zip(buf).take(ch) {
            if g == 1.0 {
                o[..m].iter_mut().zip(&b[..m]).for_each(|(o, b)| *o += b);
            } else {
                o[..m]
                    .iter_mut()
                    .zip(&b[..m])
                    .for_each(|(o, b)| *o += g * b);
            }
        }
        return;
    }
    for i in 0..m {
        let g = gain.tick();
        for (o, b) in out.iter_mut().zip(buf).take(ch) {
            o[i] += g * b[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::worker::{Silent, WorkerCore};

    /// One block through `lp`, the worker served at once.
    fn block(lp: &mut Looper, core: &WorkerCore, c: &Controls, io: &mut [Vec<f32>]) {
        let mut bufs: Vec<&mut [f32]> = io.iter_mut().map(|b| b.as_mut_slice()).collect();
        lp.process(c, &mut bufs);
        if let Some(req) = lp.poll_request() {
            core.work(req, &mut |d| {
                lp.accept(d);
                Ok(())
            });
        }
    }

    #[test]
    fn an_overdub_copies_its_chunks_ahead_a_slice_a_block_and_stays_exact() {
        for ch in [1, 2] {
            let stats = Arc::new(MemStats::default());
            let mut lp = Looper::new(48_000.0, ch, Arc::clone(&stats));
            let core = WorkerCore::new(stats, Box::new(Silent));
            core.prefill(&mut lp);
            let fpc = CHUNK_SAMPLES / ch;
            let len = 6 * fpc + 123;
            let base = |k: usize, c: usize| ((k * 7 + c * 3) % 4096) as f32 / 4096.0;
            let mut c = Controls {
                record: 1.0,
                fade: 0.0,
                ..Controls::default()
            };
            let mut k = 0;
            while k < len {
                let n = 64.min(len - k);
                let mut io: Vec<Vec<f32>> = (0..ch)
                    .map(|c| (k..k + n).map(|i| base(i, c)).collect())
                    .collect();
                block(&mut lp, &core, &c, &mut io);
                k += n;
            }
            c.record = 0.0;
            c.overdub = 1.0;
            // 2.5 passes of 2^-8: the first half of the loop gets it three times.
            let d = 1.0 / 256.0;
            for _ in 0..(5 * len / 2) / 64 {
                block(&mut lp, &core, &c, &mut vec![vec![d; 64]; ch]);
            }
            let played = (5 * len / 2) / 64 * 64;
            c.overdub = 0.0;
            block(&mut lp, &core, &c, &mut vec![vec![]; ch]);
            for ch_i in 0..ch {
                for i in (0..len).step_by(97).chain([len - 1, fpc, 4 * fpc - 1]) {
                    let passes = played / len + usize::from(i < played % len);
                    let mut want = base(i, ch_i);
                    for _ in 0..passes {
                        want += d;
                    }
                    assert_eq!(
                        lp.sample(ch_i, i),
                        Some(want),
                        "{ch} ch: channel {ch_i} frame {i}"
                    );
                }
            }
            let (ahead, whole) = lp.chunk_copies();
            // The layer's first chunk is copied whole; the other six, ahead.
            assert_eq!((ahead, whole), (6, 1), "{ch} ch");
        }
    }
}
