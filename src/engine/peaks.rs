//! The peak summary: a fixed number of bins over the loop, each the largest magnitude of
//! its frames per channel, kept up to date as audio is recorded and overdubbed. It is
//! what the inline display draws, so that a picture of a 1-hour loop costs no more than
//! one of a second.
//!
//! A summary belongs to a loop version (it is copied with it, 1 KiB), so undo, redo and
//! clear switch the picture in O(1) with the audio.
//!
//! ```
//! use looper::engine::peaks::{Peaks, BINS};
//! let mut p = Peaks::new();
//! // 100,000 frames: bins grow from 64 frames to 256 as the take grows.
//! let loud: Vec<f32> = (0..100_000).map(|i| if i < 50_000 { 0.5 } else { 0.0 }).collect();
//! p.grow_to(100_000);
//! p.record(0, 0, &loud);
//! assert_eq!(p.frames_per_bin(), 256);
//! assert_eq!(p.bins_used(100_000), 391);
//! assert_eq!(p.get(0, 0), 128); // 0.5 of full scale
//! assert_eq!(p.get(0, 49_999 / 256), 128);
//! assert_eq!(p.get(0, 50_000 / 256 + 1), 0);
//! assert_eq!(p.get(0, BINS - 1), 0);
//! ```

use crate::engine::tree::MAX_CHANNELS;

/// Bins of the summary.
pub const BINS: usize = 512;
/// log2 of the frames per bin of a new summary (64).
const FIRST_SHIFT: u32 = 6;

/// The summary: one byte a bin and channel, 0 (silence) to 255 (full scale and above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peaks {
    bins: [[u8; BINS]; MAX_CHANNELS],
    shift: u32,
    /// Per channel, the bin an overdub is rewriting and its value before.
    open: [Option<(u16, u8)>; MAX_CHANNELS],
}

impl Default for Peaks {
    /// [any] An empty summary.
    fn default() -> Peaks {
        Peaks::new()
    }
}

/// [any] The largest magnitude in `x` (a NaN counts as full scale): an integer max
/// over the bits without the sign, which orders magnitudes as floats do and which the
/// compiler vectorises.
#[inline]
fn peak(x: &[f32]) -> f32 {
    let bits = x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
    f32::from_bits(bits.min(f32::INFINITY.to_bits()))
}

/// [any] A magnitude as a summary byte (rounded up: any sound shows).
#[inline]
fn level(x: f32) -> u8 {
    let a = x.abs();
    if a.is_nan() {
        return 0;
    }
    (a.min(1.0) * 255.0).ceil() as u8
}

impl Peaks {
    /// [any] An empty summary.
    pub const fn new() -> Peaks {
        Peaks {
            bins: [[0; BINS]; MAX_CHANNELS],
            shift: FIRST_SHIFT,
            open: [None; MAX_CHANNELS],
        }
    }

    /// [any] Frames one bin covers.
    #[inline]
    pub fn frames_per_bin(&self) -> usize {
        1 << self.shift
    }

    /// [any] Bins that cover `len` frames.
    pub fn bins_used(&self, len: usize) -> usize {
        len.div_ceil(self.frames_per_bin()).min(BINS)
    }

    /// [any] Bin `b` of channel `c`.
    #[inline]
    pub fn get(&self, c: usize, b: usize) -> u8 {
        self.bins[c][b]
    }

    /// [audio] Makes the bins wide enough for `len` frames, merging pairs of bins as
    /// often as needed (at most once per doubling of a take: O(BINS)). Returns whether
    /// it merged.
    pub fn grow_to(&mut self, len: usize) -> bool {
        let mut merged = false;
        while len > BINS << self.shift {
            for ch in self.bins.iter_mut() {
                for b in 0..BINS / 2 {
                    ch[b] = ch[2 * b].max(ch[2 * b + 1]);
                }
                ch[BINS / 2..].fill(0);
            }
            self.shift += 1;
            merged = true;
        }
        merged
    }

    /// [audio] Takes in `src`, channel `c`'s frames from `start` (appended to a take:
    /// each bin keeps its largest). Call `grow_to` first. Returns the bins touched.
    pub fn record(&mut self, c: usize, start: usize, src: &[f32]) -> (usize, usize) {
        self.fold(c, start, src, |_, old, new, _| old.max(new))
    }

    /// [audio] Takes in rewritten frames (an overdub writing `src` from `start`): a bin
    /// entered at its first frame is rewritten from scratch, others keep their largest.
    /// Call `settle` when the overdub stops writing: a bin it left half rewritten keeps
    /// the largest of before and after. Returns the bins touched.
    pub fn rewrite(&mut self, c: usize, start: usize, src: &[f32]) -> (usize, usize) {
        self.fold(c, start, src, |open, old, new, (b, first)| {
            if first {
                *open = Some((b as u16, old));
                new
            } else {
                old.max(new)
            }
        })
    }

    /// [audio] The overdub stopped writing: the bins it was rewriting keep the largest of
    /// before and after (they hold old frames past where it stopped).
    pub fn settle(&mut self) {
        for (c, open) in self.open.iter_mut().enumerate() {
            if let Some((b, old)) = open.take() {
                let b = b as usize;
                self.bins[c][b] = self.bins[c][b].max(old);
            }
        }
    }

    /// [audio] Bins covering `n` frames from `start`, as a range.
    fn touched(&self, start: usize, n: usize) -> (usize, usize) {
        let lo = (start >> self.shift).min(BINS);
        let hi = ((start + n).div_ceil(1 << self.shift)).min(BINS);
        (lo, hi)
    }

    /// [audio] Folds `src` into the bins: each bin it reaches becomes
    /// `f(open, old, new, (bin, whether src reaches the bin's first frame))`, `open`
    /// being the channel's bin under rewrite.
    fn fold(
        &mut self,
        c: usize,
        start: usize,
        src: &[f32],
        mut f: impl FnMut(&mut Option<(u16, u8)>, u8, u8, (usize, bool)) -> u8,
    ) -> (usize, usize) {
        let shift = self.shift;
        let mut at = 0;
        while at < src.len() {
            let pos = start + at;
            let b = pos >> shift;
            let n = ((b + 1) << shift).min(start + src.len()) - pos;
            if b < BINS {
                let first = pos & ((1 << shift) - 1) == 0;
                let m = level(peak(&src[at..at + n]));
                self.bins[c][b] = f(&mut self.open[c], self.bins[c][b], m, (b, first));
            }
            at += n;
        }
        self.touched(start, src.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overdub_rewrites_whole_bins_and_keeps_the_largest_in_a_partial_one() {
        let mut p = Peaks::new();
        p.grow_to(1000);
        p.record(0, 0, &[0.8; 1000]);
        assert_eq!(p.get(0, 3), 204);
        // A quieter overdub from frame 100: bin 1 (64..128) is entered mid-way and keeps
        // its 0.8; bins 2.. are rewritten.
        p.rewrite(0, 100, &[0.1; 500]);
        assert_eq!(p.get(0, 1), 204);
        assert_eq!(p.get(0, 2), 26);
        assert_eq!(p.get(0, 9), 26); // 576..640: rewritten up to 599 so far
        assert_eq!(p.get(0, 10), 204);
        // The overdub stops at 600: bin 9 still holds old frames 600..640.
        p.settle();
        assert_eq!(p.get(0, 9), 204);
        assert_eq!(p.get(0, 8), 26);
    }

    #[test]
    fn merging_keeps_the_largest_of_each_pair() {
        let mut p = Peaks::new();
        p.grow_to(BINS * 64);
        p.record(1, 64 * 7, &[0.5]);
        assert!(p.grow_to(BINS * 64 + 1));
        assert_eq!(p.frames_per_bin(), 128);
        assert_eq!(p.get(1, 3), 128);
        assert_eq!(p.get(1, 2), 0);
        assert_eq!(p.get(1, 4), 0);
    }
}
