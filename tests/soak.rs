//! A model-based soak: random automation of every control that changes what is heard
//! (record, play, overdub, feedback, undo, redo, clear; several at one sample at times,
//! values either side of the 0.5 threshold, NaN, zero-length blocks), random block
//! sizes from 1 to 4,096, in place or not, mono and stereo (the stereo plugin also
//! through a mono-style `run`, its right input the left negated), and a worker that is
//! prompt, synchronous, late, stalled or refused by a full ring in turn (never longer
//! than the spare pool covers).
//!
//! Every output sample of every channel is compared with a plain model of the looper: a
//! `Vec` of versions for the history, each version the loop's samples, computed in f32
//! with the same operations in the same order (`in + old` out, `fb * old + in` into the
//! layer), so the comparison is exact. The `state`, `length`, `position`, `layers` and
//! `redos` outputs are compared after every block, and nothing may be dropped,
//! allocated or freed on the audio thread. Fades are 0 and dry and wet 0 dB (exact).
//!
//! The model also keeps the history's byte count (what each step replaced and added, in
//! the plugin's chunks and index nodes) so that it knows when `undo_memory` releases the
//! oldest step, as well as the ring's limit of `MAX_STEPS` steps: the long runs keep the
//! default 1 GiB, two short ones hit each limit on purpose.
//!
//! `make test` runs 10 minutes of audio mono and 10 stereo (in parallel) plus the short
//! ones; `make soak` runs 8 hours with each of 4 seeds (LOOPER_SOAK_SECONDS is the audio
//! of each long run, LOOPER_SOAK_SEED the seed; the seed is printed to repeat a run).

mod support;
use looper::engine::chunk::CHUNK_BYTES;
use looper::engine::history::MAX_STEPS;
use looper::engine::tree::{FANOUT_BITS, NODE_BYTES};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use support::*;

const RATE: f64 = 48_000.0;
/// Frames per block of the model's versions (its own copy-on-write unit).
const B: usize = 4096;

/// One version of the loop in the model: `len` frames of `ch` channels, in blocks of
/// `B` frames (planar) shared between versions until written.
#[derive(Clone)]
struct Version {
    ch: usize,
    len: usize,
    blocks: Vec<Rc<Vec<f32>>>,
}

impl Version {
    fn empty(ch: usize) -> Version {
        Version {
            ch,
            len: 0,
            blocks: Vec::new(),
        }
    }
    #[inline]
    fn get(&self, c: usize, i: usize) -> f32 {
        self.blocks[i / B][c * B + i % B]
    }
    #[inline]
    fn set(&mut self, c: usize, i: usize, v: f32) {
        Rc::make_mut(&mut self.blocks[i / B])[c * B + i % B] = v;
    }
    fn push(&mut self, frame: [f32; 2]) {
        if self.len.is_multiple_of(B) {
            self.blocks.push(Rc::new(vec![0.0; self.ch * B]));
        }
        let i = self.len;
        self.len += 1;
        for (c, v) in frame.into_iter().enumerate().take(self.ch) {
            self.set(c, i, v);
        }
    }
}

/// The plugin's memory units, for the history's byte count: frames per chunk.
fn fpc(ch: usize) -> usize {
    CHUNK >> (ch - 1)
}
/// Index levels above `chunks` chunks.
fn height(chunks: usize) -> u32 {
    let mut h = 0;
    while chunks > 1usize << (FANOUT_BITS * h) {
        h += 1;
    }
    h
}
/// Bytes of the chunks and index nodes a version of `len` frames reaches.
fn tree_bytes(len: usize, ch: usize) -> usize {
    let chunks = len.div_ceil(fpc(ch));
    let mut nodes = 0;
    let mut below = chunks;
    for _ in 0..height(chunks) {
        below = below.div_ceil(1 << FANOUT_BITS);
        nodes += below;
    }
    chunks * CHUNK_BYTES + nodes * NODE_BYTES
}

struct Entry {
    v: Version,
    replaced: usize,
    added: usize,
}

/// An overdub layer being written.
struct Layer {
    frames: u64,
    /// Chunks (level 0) and index nodes (level, index) copied so far.
    copied: HashSet<(u32, usize)>,
    bytes: usize,
    last_chunk: usize,
}

/// The control inputs as the plugin reads them.
#[derive(Clone, Copy, Debug)]
struct Ctl {
    rec: f32,
    play: f32,
    od: f32,
    fb: f32,
    undo: f32,
    redo: f32,
    clear: f32,
}

fn on(v: f32) -> bool {
    v > 0.5
}

/// The looper as plainly as it can be written (fade 0, unity levels).
struct Model {
    ch: usize,
    hist: Vec<Entry>,
    cur: usize,
    /// Bytes the history holds beyond the current version.
    bytes: i64,
    limit: usize,
    live: Version,
    recording: bool,
    take_replaces: usize,
    playing: bool,
    pos: usize,
    layer: Option<Layer>,
    held: bool,
    fb: f32,
    was: [bool; 6],
    /// Steps released by memory and by the ring's size.
    released_memory: u64,
    released_ring: u64,
    /// Steps made: takes (empty ones included), layers, clears; and undo, redo steps.
    made: [u64; 5],
}

impl Model {
    fn new(ch: usize, undo_mib: f32) -> Model {
        Model {
            ch,
            hist: vec![Entry {
                v: Version::empty(ch),
                replaced: 0,
                added: 0,
            }],
            cur: 0,
            bytes: 0,
            limit: (undo_mib.max(0.0) as f64 * 1024.0 * 1024.0).min(usize::MAX as f64 / 2.0)
                as usize,
            live: Version::empty(ch),
            recording: false,
            take_replaces: 0,
            playing: false,
            pos: 0,
            layer: None,
            held: false,
            fb: 1.0,
            was: [false; 6],
            released_memory: 0,
            released_ring: 0,
            made: [0; 5],
        }
    }

    // The history: a Vec of versions, `cur` the one that plays.
    fn discard_redos(&mut self) {
        for e in self.hist.drain(self.cur + 1..) {
            self.bytes -= e.added as i64;
        }
    }
    fn push(&mut self, v: Version, replaced: usize, added: usize) {
        self.discard_redos();
        if self.hist.len() == MAX_STEPS {
            assert!(self.release_oldest());
            self.released_ring += 1;
        }
        self.hist.push(Entry { v, replaced, added });
        self.cur = self.hist.len() - 1;
        self.bytes += replaced as i64;
    }
    fn release_oldest(&mut self) -> bool {
        if self.cur == 0 {
            return false;
        }
        self.hist.remove(0);
        self.cur -= 1;
        self.bytes -= self.hist[0].replaced as i64;
        self.hist[0].replaced = 0;
        true
    }

    fn switch_to(&mut self, v: Version, play: bool) {
        let (was_playing, was_empty, pos) = (self.playing, self.live.len == 0, self.pos);
        self.playing = false;
        self.live = v;
        let len = self.live.len;
        if len == 0 {
            self.pos = 0;
        } else if was_playing {
            self.playing = true;
            self.pos = pos % len;
        } else if play && was_empty {
            self.playing = true;
            self.pos = 0;
        } else {
            self.pos = pos % len;
        }
    }

    fn close_take(&mut self, play: bool) {
        self.recording = false;
        let added = tree_bytes(self.live.len, self.ch);
        // An empty take over nothing changes nothing; over a loop it is a clear.
        if self.live.len > 0 || self.hist[self.cur].v.len > 0 {
            self.push(self.live.clone(), self.take_replaces, added);
        }
        self.made[0] += 1;
        if self.live.len > 0 && play {
            self.playing = true;
            self.pos = 0;
        }
    }

    fn commit_layer(&mut self) {
        if let Some(l) = self.layer.take() {
            if l.frames > 0 {
                self.push(self.live.clone(), l.bytes, l.bytes);
                self.made[1] += 1;
            }
        }
    }

    /// The take and the layer end; a layer that was open holds overdub off.
    fn finish_all(&mut self, play: bool) {
        if self.recording {
            self.close_take(play);
        }
        if self.layer.is_some() {
            self.held = true;
        }
        self.commit_layer();
    }

    fn apply(&mut self, c: &Ctl) {
        self.fb = if c.fb.is_nan() {
            1.0
        } else {
            c.fb.clamp(0.0, 1.0)
        };
        let now = [c.rec, c.play, c.od, c.undo, c.redo, c.clear].map(on);
        let [rec, play, od, undo, redo, clear] = now;
        let [rec_was, play_was, _, undo_was, redo_was, clear_was] = self.was;
        self.was = now;
        if undo && !undo_was {
            self.finish_all(play);
            if self.cur > 0 {
                let e = &self.hist[self.cur];
                self.bytes += e.added as i64 - e.replaced as i64;
                self.cur -= 1;
                self.made[3] += 1;
                self.switch_to(self.hist[self.cur].v.clone(), play);
            }
        }
        if redo && !redo_was {
            self.finish_all(play);
            if self.cur + 1 < self.hist.len() {
                self.cur += 1;
                self.made[4] += 1;
                let e = &self.hist[self.cur];
                self.bytes += e.replaced as i64 - e.added as i64;
                self.switch_to(self.hist[self.cur].v.clone(), play);
            }
        }
        if clear && !clear_was {
            self.finish_all(play);
            if self.live.len > 0 {
                self.push(
                    Version::empty(self.ch),
                    tree_bytes(self.live.len, self.ch),
                    0,
                );
                self.made[2] += 1;
                self.switch_to(Version::empty(self.ch), play);
            }
        }
        if rec && !rec_was {
            self.finish_all(play);
            // Overdub held on through a take waits for its next 0->1.
            self.held |= od;
            self.playing = false;
            self.discard_redos();
            self.take_replaces = tree_bytes(self.live.len, self.ch);
            self.live = Version::empty(self.ch);
            self.recording = true;
            self.pos = 0;
        } else if !rec && rec_was && self.recording {
            self.close_take(play);
        }
        if !self.recording && self.live.len > 0 {
            if play && !play_was {
                assert!(self.layer.is_none(), "model: play 0->1 with a layer open");
                self.playing = true;
                self.pos = 0;
            } else if !play && self.playing {
                self.commit_layer();
                self.playing = false;
            }
        }
        if !od {
            self.held = false;
        }
        let want = od && !self.held && self.playing && !self.recording;
        if want && self.layer.is_none() {
            self.discard_redos();
            self.layer = Some(Layer {
                frames: 0,
                copied: HashSet::new(),
                bytes: 0,
                last_chunk: usize::MAX,
            });
        } else if !want && self.layer.is_some() {
            self.commit_layer();
        }
    }

    /// One block: `io[c]` holds channel `c`'s input, and its output on return.
    fn process(&mut self, c: &Ctl, io: &mut [Vec<f32>]) {
        self.apply(c);
        let n = io[0].len();
        let ch = self.ch;
        if self.recording {
            for (&l, &r) in io[0].iter().zip(&io[ch - 1]) {
                self.live.push([l, r]);
            }
        } else if self.playing && self.live.len > 0 {
            let len = self.live.len;
            let fb = self.fb;
            let h = height(len.div_ceil(fpc(ch)));
            for i in 0..n {
                let p = self.pos;
                for (c, b) in io.iter_mut().enumerate() {
                    let (x, old) = (b[i], self.live.get(c, p));
                    b[i] = x + old;
                    if self.layer.is_some() {
                        self.live.set(c, p, fb * old + x);
                    }
                }
                if let Some(l) = self.layer.as_mut() {
                    let k = p / fpc(ch);
                    if k != l.last_chunk {
                        l.last_chunk = k;
                        if l.copied.insert((0, k)) {
                            l.bytes += CHUNK_BYTES;
                        }
                        for lv in 1..=h {
                            if l.copied.insert((lv, k >> (FANOUT_BITS * lv))) {
                                l.bytes += NODE_BYTES;
                            }
                        }
                    }
                }
                self.pos = (p + 1) % len;
            }
            if let Some(l) = self.layer.as_mut() {
                l.frames += n as u64;
            }
        }
        // After the block: at most one step released when the history (the open layer's
        // copies included) holds more than undo_memory.
        let pending = self.layer.as_ref().map_or(0, |l| l.bytes) as i64;
        assert!(self.bytes >= 0, "model: negative history bytes");
        if self.bytes + pending > self.limit as i64 && self.release_oldest() {
            self.released_memory += 1;
        }
    }

    fn state(&self) -> u32 {
        if self.recording {
            1
        } else if self.live.len == 0 {
            0
        } else if self.layer.is_some() {
            4
        } else if self.playing {
            2
        } else {
            3
        }
    }
    fn layers(&self) -> usize {
        self.cur + usize::from(self.layer.as_ref().is_some_and(|l| l.frames > 0))
    }
    fn redos(&self) -> usize {
        self.hist.len() - 1 - self.cur
    }
    fn length(&self) -> f32 {
        (self.live.len as f64 / RATE) as f32
    }
    fn position(&self) -> f32 {
        if self.recording || self.live.len == 0 {
            0.0
        } else {
            (self.pos as f64 / self.live.len as f64) as f32
        }
    }
}

/// SplitMix64's finaliser: distinct inputs, unrelated outputs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick(&mut self, from: &[f32]) -> f32 {
        from[self.below(from.len() as u64) as usize]
    }
}

/// What a toggle or trigger is set to when it goes on, and off (0.5 is off).
const ON: [f32; 5] = [1.0, 1.0, 1.0, 0.75, 3.0];
const OFF: [f32; 6] = [0.0, 0.0, 0.0, 0.5, -1.0, f32::NAN];
/// Feedback values: exact ones, inexact ones, out of range, NaN (counts as 1).
const FEEDBACK: [f32; 11] = [
    1.0,
    1.0,
    0.0,
    0.5,
    0.25,
    0.75,
    0.3,
    0.9,
    1.5,
    -0.2,
    f32::NAN,
];

fn flip(rng: &mut Rng, v: &mut f32) {
    *v = if on(*v) {
        rng.pick(&OFF)
    } else {
        rng.pick(&ON)
    };
}

/// One soak: `seconds` of audio on a looper of `channels`.
struct Soak {
    channels: usize,
    seconds: f64,
    seed: u64,
    /// `undo_memory` in MiB (the host's default is 1024).
    undo_mib: f32,
    /// Longest take, and longest gap between other control changes, in seconds.
    max_take: f64,
    max_gap: f64,
    /// Late, stalled and refused workers in turn with good ones (else always prompt:
    /// steps every few milliseconds take chunks faster than a stalled worker allows).
    worker_faults: bool,
}

struct Outcome {
    /// Takes, layers, clears made; undo and redo steps taken.
    made: [u64; 5],
    max_layers: usize,
    released_memory: u64,
    released_ring: u64,
}

fn seconds_from_env(default: f64) -> f64 {
    std::env::var("LOOPER_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn seed_from_env() -> u64 {
    std::env::var("LOOPER_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026)
}

/// The right channel's test signal: another run of `sig`.
fn sig_r(i: u64) -> f32 {
    sig(i.wrapping_add(1 << 40))
}

impl Soak {
    fn run(&self) -> Outcome {
        let Soak {
            channels,
            seconds,
            seed,
            ..
        } = *self;
        let name = if channels == 2 { "stereo" } else { "mono" };
        eprintln!(
            "soak {name}: {seconds} s of audio, seed {seed}, undo_memory {} MiB",
            self.undo_mib
        );
        let total = (seconds * RATE) as u64;
        // Every seed its own sequence (`seed | 1` alone would make 2 and 3 one run).
        let mut rng =
            Rng(mix(seed ^ mix((channels as u64) << 32 ^ self.undo_mib.to_bits() as u64)) | 1);
        let mut h = if channels == 2 {
            Host::stereo(RATE, WorkerMode::Prompt)
        } else {
            Host::new(RATE, WorkerMode::Prompt)
        };
        h.set(port::UNDO_MEMORY, self.undo_mib);
        let mut model = Model::new(channels, self.undo_mib);
        let mut ctl = Ctl {
            rec: 0.0,
            play: 1.0,
            od: 0.0,
            fb: 1.0,
            undo: 0.0,
            redo: 0.0,
            clear: 0.0,
        };
        let mut takes = 0u32;
        let mut max_layers = 0;
        let mut in_state = [0u64; 5];
        let mut recent: VecDeque<String> = VecDeque::new();
        let mut t: u64 = 0;
        let mut next_control = 0u64;
        let mut next_worker = 0u64;
        let mut bad = false;
        let mut io: Vec<Vec<f32>> = vec![Vec::with_capacity(4096); channels];
        let mut want: Vec<Vec<f32>> = vec![Vec::new(); channels];
        let mut zero_next = false;
        while t < total {
            if t >= next_worker {
                // A new worker behaviour for the next 0.1 to 0.9 s. Whatever was pending is
                // done first, and a bad spell (late, stalled, or a full ring) only follows
                // a good one (prompt or synchronous), which refills the pool: the worst is
                // one bad spell of 0.9 s after a pool drawn down by a 0.9 s late worker,
                // within the 2 s the pool covers.
                h.resume();
                h.set_ring_limit(4096);
                let bad_before = bad;
                bad = self.worker_faults && !bad_before && rng.below(2) == 0;
                let mode = match (bad, rng.below(3)) {
                    (false, 0) => WorkerMode::Synchronous,
                    (false, _) => WorkerMode::Prompt,
                    (true, 0) => WorkerMode::Late(rng.below((0.9 * RATE) as u64)),
                    (true, 1) => WorkerMode::Stalled,
                    (true, _) => {
                        h.set_ring_limit(0); // the host's ring is full: schedule_work refused
                        WorkerMode::Prompt
                    }
                };
                h.set_mode(mode);
                next_worker = t + (0.1 * RATE) as u64 + rng.below((0.8 * RATE) as u64);
            }
            if t >= next_control {
                // One control changes, sometimes two or three at the same sample.
                let k = 1 + (rng.below(4) == 0) as u32 + (rng.below(8) == 0) as u32;
                if on(ctl.rec) && rng.below(3) == 0 {
                    flip(&mut rng, &mut ctl.rec); // takes mostly of a few seconds
                }
                for _ in 0..k {
                    match rng.below(16) {
                        0 => {
                            flip(&mut rng, &mut ctl.rec);
                            takes += on(ctl.rec) as u32;
                        }
                        1 | 2 => flip(&mut rng, &mut ctl.play),
                        3..=6 => flip(&mut rng, &mut ctl.od),
                        7 | 8 => flip(&mut rng, &mut ctl.undo),
                        9 | 10 => flip(&mut rng, &mut ctl.redo),
                        11 => flip(&mut rng, &mut ctl.clear),
                        12 | 13 => ctl.fb = rng.pick(&FEEDBACK),
                        _ => {}
                    }
                }
                if recent.len() == 24 {
                    recent.pop_front();
                }
                recent.push_back(format!("t={t}: {ctl:?}"));
                // Sometimes another change follows at the same sample, after a block of
                // no frames (edges in a zero-length block: empty takes, empty layers,
                // two steps at one instant), or within 512 samples. Only while the worker
                // is good: bursts of steps take chunks and index nodes quickly.
                zero_next = !bad && rng.below(16) == 0;
                next_control = if zero_next {
                    t
                } else if !bad && rng.below(8) == 0 {
                    t + 1 + rng.below(512)
                } else {
                    // Takes of up to `max_take` (mostly a few seconds); everything else
                    // changes within `max_gap`.
                    let long = on(ctl.rec) && rng.below(8) == 0;
                    let gap = if long { self.max_take } else { self.max_gap };
                    t + 1 + rng.below((gap * RATE) as u64)
                };
            }
            let n = if zero_next {
                zero_next = false;
                0
            } else {
                (1 + rng.below(4096)).min(total - t).min(next_control - t) as usize
            };
            // Inputs: the test signal; the right channel its own, or (a mono-style run
            // of the stereo plugin) the left negated.
            let mut way = rng.below(if channels == 2 { 3 } else { 2 });
            if n == 0 && channels == 2 {
                // In place, in buffers of their own: the host's run_stereo would hand
                // the plugin the same (dangling) pointer for both outputs of an empty
                // block, which the plugin passes through unprocessed.
                way = 0;
            }
            for (c, b) in io.iter_mut().enumerate() {
                b.clear();
                b.extend((0..n as u64).map(|k| match (c, way) {
                    (0, _) => sig(t + k),
                    (_, 2) => -sig(t + k),
                    _ => sig_r(t + k),
                }));
            }
            for (w, b) in want.iter_mut().zip(&io) {
                w.clone_from(b);
            }
            model.process(&ctl, &mut want);
            let (r, p) = (ctl.rec, ctl.play);
            for (port_, v) in [
                (port::OVERDUB, ctl.od),
                (port::FEEDBACK, ctl.fb),
                (port::UNDO, ctl.undo),
                (port::REDO, ctl.redo),
                (port::CLEAR, ctl.clear),
            ] {
                h.set(port_, v);
            }
            match (channels, way) {
                (1, 0) => {
                    let b = &mut io[0];
                    h.run_in_place(b, r, p);
                }
                (1, _) => {
                    let o = h.run(&io[0], r, p).to_vec();
                    io[0].copy_from_slice(&o);
                }
                (_, 0) => {
                    let (l, rr) = io.split_at_mut(1);
                    h.run_stereo_in_place(&mut l[0], &mut rr[0], r, p);
                }
                (_, 1) => {
                    let (ol, or) = h.run_stereo(&io[0], &io[1], r, p);
                    io[0].copy_from_slice(&ol);
                    io[1].copy_from_slice(&or);
                }
                _ => {
                    let o = h.run(&io[0], r, p).to_vec();
                    io[0].copy_from_slice(&o);
                    io[1].copy_from_slice(h.out_right());
                }
            }
            let fail = |what: String| -> ! {
                panic!(
                    "{name} seed {seed}: {what}; block of {n} at {t}, way {way}, take {takes}; \
                     model: state {} layers {} redos {} len {} pos {} layer {:?}; recent \
                     changes:\n{}",
                    model.state(),
                    model.layers(),
                    model.redos(),
                    model.live.len,
                    model.pos,
                    model.layer.as_ref().map(|l| l.frames),
                    recent.iter().cloned().collect::<Vec<_>>().join("\n")
                )
            };
            for c in 0..channels {
                if io[c] != want[c] {
                    let j = io[c]
                        .iter()
                        .zip(&want[c])
                        .position(|(a, b)| a != b)
                        .unwrap();
                    fail(format!(
                        "channel {c}, sample {} differs from the model ({} != {})",
                        t + j as u64,
                        io[c][j],
                        want[c][j]
                    ));
                }
            }
            if h.dropouts() != 0 {
                fail("dropped samples".into());
            }
            let ports = [
                ("state", h.control(port::STATE), model.state() as f32),
                ("layers", h.control(port::LAYERS), model.layers() as f32),
                ("redos", h.control(port::REDOS), model.redos() as f32),
                ("length", h.control(port::LENGTH), model.length()),
                ("position", h.control(port::POSITION), model.position()),
            ];
            for (what, got, exp) in ports {
                if got != exp {
                    fail(format!("output {what} is {got}, the model's {exp}"));
                }
            }
            max_layers = max_layers.max(model.layers());
            in_state[model.state() as usize] += n as u64;
            t += n as u64;
        }
        let out = Outcome {
            made: model.made,
            max_layers,
            released_memory: model.released_memory,
            released_ring: model.released_ring,
        };
        eprintln!(
            "soak {name}: {takes} takes begun; {:?} takes, layers, clears made, undo and \
             redo steps taken; at most {max_layers} layers; {} steps released by memory and \
             {} by the ring; {} worker requests; seconds empty, recording, playing, \
             stopped, overdubbing: {:?}",
            out.made,
            out.released_memory,
            out.released_ring,
            h.scheduled(),
            in_state.map(|f| f / RATE as u64)
        );
        assert!(takes > 0);
        assert_rt_clean();
        out
    }
}

fn long(channels: usize) {
    let o = Soak {
        channels,
        seconds: seconds_from_env(600.0),
        seed: seed_from_env(),
        undo_mib: 1024.0,
        max_take: 20.0,
        max_gap: 2.0,
        worker_faults: true,
    }
    .run();
    let m = o.made;
    assert!(
        seconds_from_env(600.0) < 300.0
            || (m[0] > 5 && m[1] > 10 && m[2] > 0 && m[3] > 5 && m[4] > 0 && o.max_layers > 3),
        "too little history exercised: {m:?}"
    );
}

#[test]
fn random_automation_against_a_model_mono() {
    long(1);
}

#[test]
fn random_automation_against_a_model_stereo() {
    long(2);
}

/// A small `undo_memory`: the oldest steps are released as the history outgrows it.
#[test]
fn undo_memory_releases_the_oldest_steps() {
    let mut released = 0;
    for (channels, undo_mib) in [(1, 1.0), (2, 1.0), (1, 0.6), (2, 2.3), (1, 1.7), (2, 0.45)] {
        released += Soak {
            channels,
            seconds: 60.0,
            seed: seed_from_env(),
            undo_mib,
            max_take: 3.0,
            max_gap: 1.0,
            worker_faults: true,
        }
        .run()
        .released_memory;
    }
    assert!(released > 10, "undo_memory released only {released} steps");
}

/// Many short steps: the ring of `MAX_STEPS` releases its oldest.
#[test]
fn the_history_ring_releases_its_oldest_steps() {
    let o = Soak {
        channels: 1,
        seconds: 60.0,
        seed: seed_from_env(),
        undo_mib: 1024.0,
        max_take: 0.02,
        max_gap: 0.01,
        worker_faults: false,
    }
    .run();
    assert!(o.released_ring > 0, "the ring never filled");
}
