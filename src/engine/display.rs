//! The loop at a glance: what the audio thread publishes for a picture (the peak
//! summary, the playhead, the state), and the picture drawn from it.
//!
//! [`Display`] is made once per instance and lives until the instance's end; it holds
//! only atomics. The audio thread stores into it (relaxed, no lock, no wait); any other
//! thread may read it at any time and draw with [`draw`]. A picture drawn while a block
//! is being published may mix two blocks' columns: never a torn value, never freed
//! memory.
//!
//! ```
//! use looper::engine::display::{draw, Display, Look, COLOURS};
//! use looper::engine::looper::State;
//! use looper::engine::peaks::Peaks;
//! let d = Display::new(1);
//! let mut p = Peaks::new();
//! p.grow_to(64 * 100);
//! p.record(0, 0, &vec![1.0; 64 * 50]); // the first half of the loop is loud
//! d.publish_peaks(&p, 0, 100);
//! d.publish(State::Playing, 64 * 25, 64 * 100, 100);
//! let (w, h) = (100, 40);
//! let mut px = vec![0u32; w * h];
//! draw(&d, w, h, w, &mut px);
//! let at = |x: usize, y: usize| px[y * w + x];
//! assert_eq!(at(10, 1), COLOURS[Look::Playing as usize]); // full scale reaches the top
//! assert_eq!(at(75, 1), COLOURS[Look::Background as usize]); // the quiet half is empty
//! assert_eq!(at(25, 30), COLOURS[Look::Playhead as usize]); // a quarter through
//! ```

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

use crate::engine::looper::State;
use crate::engine::peaks::{Peaks, BINS};
use crate::engine::tree::MAX_CHANNELS;

/// What the audio thread publishes: written on the audio thread, read anywhere.
pub struct Display {
    peaks: [[AtomicU8; BINS]; MAX_CHANNELS],
    /// Bins the open overdub layer has written.
    dub: [AtomicBool; BINS],
    channels: usize,
    state: AtomicU8,
    pos: AtomicU64,
    len: AtomicU64,
    /// Bins in use (those the loop or take covers).
    used: AtomicU32,
}

/// The picture's colours, by what they show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Look {
    Background = 0,
    Empty = 1,
    Recording = 2,
    Playing = 3,
    Stopped = 4,
    Overdubbing = 5,
    /// The columns the open overdub layer has written.
    Dubbed = 6,
    Playhead = 7,
    /// The centre line of each channel.
    Axis = 8,
}

/// ARGB32, opaque (so premultiplied as it is), indexed by [`Look`].
pub const COLOURS: [u32; 9] = [
    0xFF18_1A1E, // background
    0xFF50_5458, // empty
    0xFFE8_4038, // recording: red
    0xFF40_C870, // playing: green
    0xFF58_7CA8, // stopped: grey-blue
    0xFFF0_A030, // overdubbing: amber
    0xFFFF_D060, // written by the overdub: light amber
    0xFFFF_FFFF, // playhead
    0xFF34_383C, // axis
];

impl Display {
    /// [instantiation] Nothing to show yet.
    pub fn new(channels: usize) -> Display {
        Display {
            peaks: [const { [const { AtomicU8::new(0) }; BINS] }; MAX_CHANNELS],
            dub: [const { AtomicBool::new(false) }; BINS],
            channels: channels.clamp(1, MAX_CHANNELS),
            state: AtomicU8::new(State::Empty as u8),
            pos: AtomicU64::new(0),
            len: AtomicU64::new(0),
            used: AtomicU32::new(0),
        }
    }

    /// [audio] Publishes bins `[lo, hi)` of `p`.
    pub fn publish_peaks(&self, p: &Peaks, lo: usize, hi: usize) {
        for (c, dst) in self.peaks.iter().enumerate().take(self.channels) {
            for (b, d) in dst.iter().enumerate().take(hi.min(BINS)).skip(lo) {
                d.store(p.get(c, b), Relaxed);
            }
        }
    }

    /// [audio] Marks bins `[lo, hi)` as written by the open overdub layer.
    pub fn mark_dub(&self, lo: usize, hi: usize) {
        for d in self.dub.iter().take(hi.min(BINS)).skip(lo) {
            d.store(true, Relaxed);
        }
    }

    /// [audio] The overdub layer is closed: nothing is marked.
    pub fn clear_dub(&self) {
        for d in &self.dub {
            d.store(false, Relaxed);
        }
    }

    /// [audio] The state, the playhead (`pos` frames into `len`) and the bins in use.
    pub fn publish(&self, state: State, pos: usize, len: usize, used: usize) {
        self.state.store(state as u8, Relaxed);
        self.pos.store(pos as u64, Relaxed);
        self.len.store(len as u64, Relaxed);
        self.used.store(used.min(BINS) as u32, Relaxed);
    }

    /// [any] The state last published.
    pub fn state(&self) -> u8 {
        self.state.load(Relaxed)
    }
}

/// [any] Draws the picture of `d` into `px` (`w` x `h` pixels, `stride` pixels a row):
/// each channel a lane of its own, the peak envelope per column in the state's colour
/// (the overdub's columns lighter), the playhead as a white column. While recording the
/// take fills the width as it grows (the whole width is [`BINS`] bins).
pub fn draw(d: &Display, w: usize, h: usize, stride: usize, px: &mut [u32]) {
    if w == 0 || h == 0 || px.len() < (h - 1) * stride + w {
        return;
    }
    for row in px.chunks_mut(stride).take(h) {
        row[..w].fill(COLOURS[Look::Background as usize]);
    }
    let state = d.state.load(Relaxed);
    let look = match state {
        1 => Look::Recording,
        2 => Look::Playing,
        3 => Look::Stopped,
        4 => Look::Overdubbing,
        _ => Look::Empty,
    };
    let used = d.used.load(Relaxed) as usize;
    let span = if look == Look::Recording { BINS } else { used };
    let lanes = d.channels;
    let lane_h = h / lanes;
    for lane in 0..lanes {
        let top = lane * lane_h;
        let mid = top + lane_h / 2;
        let half = (lane_h / 2).saturating_sub(1).max(1);
        px[mid * stride..mid * stride + w].fill(COLOURS[Look::Axis as usize]);
        if span == 0 {
            continue;
        }
        for x in 0..w {
            // The bins under column x (at least one).
            let lo = x * span / w;
            let hi = ((x + 1) * span / w).max(lo + 1).min(span);
            if lo >= used {
                continue;
            }
            let mut peak = 0u8;
            let mut dubbed = false;
            for b in lo..hi.min(used) {
                peak = peak.max(d.peaks[lane][b].load(Relaxed));
                dubbed |= d.dub[b].load(Relaxed);
            }
            if peak == 0 {
                continue;
            }
            let bar = (peak as usize * half).div_ceil(255);
            let colour = COLOURS[if dubbed { Look::Dubbed } else { look } as usize];
            for y in mid.saturating_sub(bar)..(mid + bar + 1).min(top + lane_h) {
                px[y * stride + x] = colour;
            }
        }
    }
    // The playhead (while recording: the take's growing end).
    let (pos, len) = (d.pos.load(Relaxed) as usize, d.len.load(Relaxed) as usize);
    let x = match look {
        Look::Recording => Some((used * w / BINS).min(w - 1)),
        Look::Empty => None,
        _ if len > 0 => Some((pos * w / len).min(w - 1)),
        _ => None,
    };
    if let Some(x) = x {
        for row in px.chunks_mut(stride).take(h) {
            row[x] = COLOURS[Look::Playhead as usize];
        }
    }
}
