//! A model-based soak: random automation (record and play toggled at random samples),
//! random block sizes from 1 to 4,096, in place or not, and a worker that is prompt,
//! synchronous, late, stalled or refused by a full ring in turn (never longer than the
//! spare pool covers).
//! Every output sample is compared with a plain `Vec` model of the looper, and nothing
//! may be dropped, allocated or freed on the audio thread.
//!
//! `make test` runs 10 minutes of audio; `make soak` runs 8 hours with each of 4 seeds
//! (LOOPER_SOAK_SECONDS, LOOPER_SOAK_SEED; the seed is printed to repeat a run).

mod support;
use support::*;

/// The looper as plainly as it can be written.
#[derive(Default)]
struct Model {
    take: Vec<f32>,
    loop_: Vec<f32>,
    recording: bool,
    playing: bool,
    pos: usize,
    rec_was: bool,
    play_was: bool,
}

impl Model {
    fn process(&mut self, rec: bool, play: bool, io: &mut [f32]) {
        if rec && !self.rec_was {
            self.take.clear();
            self.loop_.clear();
            self.recording = true;
        } else if !rec && self.rec_was && self.recording {
            self.recording = false;
            self.loop_ = std::mem::take(&mut self.take);
            self.pos = 0;
            self.playing = play;
        } else if !rec && !self.loop_.is_empty() {
            if play && !self.play_was {
                self.pos = 0;
                self.playing = true;
            } else if !play {
                self.playing = false;
            }
        }
        self.rec_was = rec;
        self.play_was = play;
        if self.recording {
            self.take.extend_from_slice(io);
        } else if self.playing && !self.loop_.is_empty() {
            for s in io.iter_mut() {
                *s += self.loop_[self.pos];
                self.pos = (self.pos + 1) % self.loop_.len();
            }
        }
    }
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
}

#[test]
fn random_automation_against_a_model() {
    let seconds: f64 = std::env::var("LOOPER_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600.0);
    let seed: u64 = std::env::var("LOOPER_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026);
    eprintln!("soak: {seconds} s of audio, seed {seed}");
    let rate = 48_000.0;
    let total = (seconds * rate) as u64;
    let mut rng = Rng(seed | 1);
    let mut h = Host::new(rate, WorkerMode::Prompt);
    let mut model = Model::default();
    let (mut rec, mut play) = (false, true);
    let mut t: u64 = 0;
    let mut next_control = 0u64;
    let mut next_worker = 0u64;
    let mut buf = Vec::new();
    let mut want = Vec::new();
    let mut takes = 0;
    let mut bad = false;
    while t < total {
        if t >= next_worker {
            // A new worker behaviour for the next 0.1 to 0.9 s. Whatever was pending is
            // done first, and a bad spell (late, stalled, or a full ring) only follows a
            // good one (prompt or synchronous), which refills the pool: the worst is one
            // bad spell of 0.9 s after a pool drawn down by a 0.9 s late worker, within
            // the 2 s the pool covers.
            h.resume();
            h.set_ring_limit(4096);
            let bad_before = bad;
            bad = !bad_before && rng.below(2) == 0;
            let mode = match (bad, rng.below(3)) {
                (false, 0) => WorkerMode::Synchronous,
                (false, _) => WorkerMode::Prompt,
                (true, 0) => WorkerMode::Late(rng.below((0.9 * rate) as u64)),
                (true, 1) => WorkerMode::Stalled,
                (true, _) => {
                    h.set_ring_limit(0); // the host's ring is full: schedule_work refused
                    WorkerMode::Prompt
                }
            };
            h.set_mode(mode);
            next_worker = t + (0.1 * rate) as u64 + rng.below((0.8 * rate) as u64);
        }
        if t >= next_control {
            match rng.below(3) {
                0 => {
                    rec = !rec;
                    takes += rec as u32;
                }
                1 => play = !play,
                _ => {}
            }
            // Takes of up to 20 s; everything else changes within 2 s.
            next_control = t
                + 1
                + rng.below(if rec {
                    (20.0 * rate) as u64
                } else {
                    (2.0 * rate) as u64
                });
        }
        let n = (1 + rng.below(4096))
            .min(total - t)
            .min(next_control.max(t + 1) - t) as usize;
        buf.clear();
        buf.extend((0..n as u64).map(|k| sig(t + k)));
        want.clear();
        want.extend_from_slice(&buf);
        model.process(rec, play, &mut want);
        let (r, p) = (rec as u8 as f32, play as u8 as f32);
        if rng.below(2) == 0 {
            h.run_in_place(&mut buf, r, p);
        } else {
            let out = h.run(&buf.clone(), r, p).to_vec();
            buf.copy_from_slice(&out);
        }
        if buf != want {
            let j = buf.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!(
                "seed {seed}: sample {} differs from the model ({} != {}); take {takes}",
                t + j as u64,
                buf[j],
                want[j]
            );
        }
        assert_eq!(h.dropouts(), 0, "seed {seed}: dropped samples at {t}");
        t += n as u64;
    }
    eprintln!("soak: {takes} takes, {} worker requests", h.scheduled());
    assert!(takes > 0);
    assert_rt_clean();
}
