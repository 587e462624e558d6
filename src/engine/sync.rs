//! Following the host's musical time: a grid of beats and bars over the host's
//! timeline, kept by counting frames and re-anchored only when the host jumps or the
//! tempo or meter changes.
//!
//! The host sends positions (`time:Position`: frame, bar, barBeat, beatsPerBar,
//! beatsPerMinute, speed). Between two anchors the tempo is constant, so the beat at a
//! host frame `f` is `f / frames_per_beat + c`, `c` a constant. Each position tells `c`
//! only as well as its `barBeat` is rounded: Ardour rounds it to the nearest 1/1920 beat
//! (±8 samples at 93.7 bpm). So a position is not taken as the truth: it gives an
//! interval that must hold `c` (its `barBeat` ± half a tick), and the grid keeps the
//! intersection of all the intervals since the anchor. The intersection only narrows,
//! so the rounding neither jitters nor accumulates into the grid; as the positions fall
//! on different phases of the tick, it closes in on the true `c` (within a fraction of
//! a sample after a few hundred cycles). A position whose interval misses the
//! intersection starts it afresh from that position.
//!
//! Tempos arrive as 32-bit floats (93.7 as 93.6999969: 0.4 samples a hundred bars at
//! 48 kHz). A tempo within a float's rounding of a multiple of 1/10,000 bpm is taken to
//! be that multiple.
//!
//! Free of plugin-API types: the LV2 glue reads the atoms into [`Position`]s.
//!
//! ```
//! use looper::engine::sync::{Grid, Position, Unit};
//!
//! let mut g = Grid::new(48_000.0);
//! // The host rolls from bar 0 at frame 0, 120 bpm in 4/4: a beat is 24,000 frames.
//! g.apply(&Position { frame: Some(0), bar: Some(0), bar_beat: Some(0.0),
//!     beats_per_bar: Some(4.0), bpm: Some(120.0), speed: Some(1.0) });
//! assert!(g.synced());
//! assert_eq!(g.next_boundary(Unit::Bar, 1), (96_000, 1));
//! g.advance(100_000); // counting, no position needed
//! assert_eq!(g.index_at(Unit::Beat, g.clock()), 4);
//! ```

/// One `time:Position`, every field optional (hosts send what changed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Position {
    /// The host's frame (sample position on its timeline).
    pub frame: Option<i64>,
    pub bar: Option<i64>,
    /// Beats since the bar's start.
    pub bar_beat: Option<f64>,
    pub beats_per_bar: Option<f64>,
    pub bpm: Option<f64>,
    /// 1 rolling, 0 stopped.
    pub speed: Option<f64>,
}

/// A position event inside a block.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeEvent {
    /// Frames from the block's start.
    pub offset: usize,
    pub pos: Position,
}

/// What a take is quantized to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Beat,
    Bar,
}

/// How far a position's `barBeat` may be from the truth, in beats: half of Ardour's
/// 1/1920-beat tick, plus a 32-bit float's rounding of a value below 64.
pub const BAR_BEAT_SLACK: f64 = 0.5 / 1920.0 + 8e-6;

/// What a position did to the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing the looper needs to act on (the grid may have narrowed).
    Same,
    /// A new anchor: the tempo or meter changed. Musical time goes on.
    Tempo,
    /// The host jumped (relocated, or started rolling): playback follows the new place.
    Jump,
    /// The transport stopped (or runs at another speed): not synced.
    Stopped,
}

/// The host's grid as this looper follows it.
#[derive(Clone, Debug)]
pub struct Grid {
    rate: f64,
    bpm: f64,
    bpb: f64,
    fpb: f64,
    rolling: bool,
    /// A tempo and a meter are known.
    known: bool,
    /// The host frame of the next frame to process (counted while rolling).
    clock: i64,
    /// The interval that holds `c`.
    lo: f64,
    hi: f64,
}

/// [audio] A tempo from a 32-bit float, snapped to a multiple of 1/10,000 bpm when it
/// is within the float's rounding of one.
pub fn snap_bpm(v: f64) -> f64 {
    let s = (v * 10_000.0).round() / 10_000.0;
    if (s - v).abs() <= v.abs() * 1.2e-7 {
        s
    } else {
        v
    }
}

impl Grid {
    /// [instantiation] No position yet: not synced.
    pub fn new(rate: f64) -> Grid {
        Grid {
            rate,
            bpm: 120.0,
            bpb: 4.0,
            fpb: rate / 2.0,
            rolling: false,
            known: false,
            clock: 0,
            lo: 0.0,
            hi: 0.0,
        }
    }

    /// [audio] Whether the looper follows the host now: a tempo and meter are known and
    /// the transport rolls at speed 1.
    #[inline]
    pub fn synced(&self) -> bool {
        self.known && self.rolling
    }

    /// [audio] The host frame of the next frame to process.
    #[inline]
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// [audio] Frames per beat now.
    pub fn frames_per_beat(&self) -> f64 {
        self.fpb
    }

    /// [audio] Beats per bar now.
    pub fn beats_per_bar(&self) -> f64 {
        self.bpb
    }

    /// [audio] `frames` were processed: the host's timeline moved on if it rolls.
    #[inline]
    pub fn advance(&mut self, frames: usize) {
        if self.rolling {
            self.clock += frames as i64;
        }
    }

    /// [audio] The best estimate of `c`.
    #[inline]
    fn c(&self) -> f64 {
        0.5 * (self.lo + self.hi)
    }

    /// [audio] A position at the current clock (the looper has advanced the grid to the
    /// event's frame first).
    pub fn apply(&mut self, p: &Position) -> Change {
        let speed = p.speed.unwrap_or(if self.rolling { 1.0 } else { 0.0 });
        let rolling = (speed - 1.0).abs() < 1e-6;
        let bpm = p.bpm.filter(|b| b.is_finite() && *b >= 1.0 && *b <= 1000.0);
        let bpb = p
            .beats_per_bar
            .filter(|b| b.is_finite() && *b >= 1.0 && *b <= 64.0);
        let (new_bpm, new_bpb) = (
            bpm.map(snap_bpm).unwrap_or(self.bpm),
            bpb.unwrap_or(self.bpb),
        );
        let tempo_changed = self.known && (new_bpm != self.bpm || new_bpb != self.bpb);
        let known_now = self.known || (bpm.is_some() && bpb.is_some());
        let was_rolling = self.rolling && self.known;
        let frame_jump = p.frame.is_some_and(|f| f != self.clock);
        // Where counting says the beat is now, on the old grid.
        let counted = self.clock as f64 / self.fpb + self.c();
        if let Some(f) = p.frame {
            self.clock = f;
        }
        self.bpm = new_bpm;
        self.bpb = new_bpb;
        self.fpb = self.rate * 60.0 / self.bpm;
        self.known = known_now;
        self.rolling = rolling;
        if !self.known {
            return Change::Stopped;
        }
        // The observation's interval for c, if it tells where the beat is.
        let obs = match (p.bar, p.bar_beat) {
            (Some(bar), Some(bb)) if bb.is_finite() && bar.abs() < 1 << 40 => {
                let b = bar as f64 * self.bpb + bb;
                let c = b - self.clock as f64 / self.fpb;
                Some((c - BAR_BEAT_SLACK, c + BAR_BEAT_SLACK))
            }
            _ => None,
        };
        let slack = 2.0 * BAR_BEAT_SLACK;
        let beat_jump = was_rolling
            && !tempo_changed
            && obs.is_some_and(|(lo, hi)| hi < self.lo - slack || lo > self.hi + slack);
        // A new anchor: from the observation, or (without one) where counting says.
        let (lo, hi) = obs.unwrap_or_else(|| {
            let c = counted - self.clock as f64 / self.fpb;
            (c, c)
        });
        if !rolling {
            (self.lo, self.hi) = (lo, hi);
            return Change::Stopped;
        }
        if !was_rolling || frame_jump || beat_jump {
            (self.lo, self.hi) = (lo, hi);
            return Change::Jump;
        }
        if tempo_changed {
            (self.lo, self.hi) = (lo, hi);
            return Change::Tempo;
        }
        if obs.is_some() {
            let (nlo, nhi) = (self.lo.max(lo), self.hi.min(hi));
            if nlo <= nhi {
                (self.lo, self.hi) = (nlo, nhi);
            } else {
                (self.lo, self.hi) = (lo, hi);
            }
        }
        Change::Same
    }

    /// [audio] Beats in one `unit`.
    #[inline]
    pub fn unit_beats(&self, unit: Unit) -> f64 {
        match unit {
            Unit::Beat => 1.0,
            Unit::Bar => self.bpb,
        }
    }

    /// [audio] The host frame (exact, fractional) where unit `i` starts.
    #[inline]
    pub fn exact_frame(&self, unit: Unit, i: i64) -> f64 {
        (i as f64 * self.unit_beats(unit) - self.c()) * self.fpb
    }

    /// [audio] The host frame where unit `i` starts, rounded to the nearest frame.
    #[inline]
    pub fn boundary(&self, unit: Unit, i: i64) -> i64 {
        self.exact_frame(unit, i).round() as i64
    }

    /// [audio] The unit holding host frame `f` (the last boundary at or before it).
    pub fn index_at(&self, unit: Unit, f: i64) -> i64 {
        let beats = f as f64 / self.fpb + self.c();
        let mut i = (beats / self.unit_beats(unit)).floor() as i64;
        while self.boundary(unit, i + 1) <= f {
            i += 1;
        }
        while self.boundary(unit, i) > f {
            i -= 1;
        }
        i
    }

    /// [audio] The first boundary at or after host frame `f`: (frame, unit index).
    pub fn next_boundary(&self, unit: Unit, f: i64) -> (i64, i64) {
        let i = self.index_at(unit, f);
        if self.boundary(unit, i) == f {
            (f, i)
        } else {
            (self.boundary(unit, i + 1), i + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(frame: i64, bpm: f64, bpb: f64, beats: f64) -> Position {
        Position {
            frame: Some(frame),
            bar: Some((beats / bpb).floor() as i64),
            bar_beat: Some(beats - (beats / bpb).floor() * bpb),
            beats_per_bar: Some(bpb),
            bpm: Some(bpm),
            speed: Some(1.0),
        }
    }

    /// Ardour's rounding: barBeat to the nearest 1/1920, as a 32-bit float.
    fn ardour(frame: i64, bpm: f64, bpb: f64, rate: f64) -> Position {
        let beats = frame as f64 * bpm / (60.0 * rate);
        let bar = (beats / bpb).floor();
        let bb = ((beats - bar * bpb) * 1920.0).round() / 1920.0;
        Position {
            frame: Some(frame),
            bar: Some(bar as i64),
            bar_beat: Some(bb as f32 as f64),
            beats_per_bar: Some(bpb),
            bpm: Some(bpm as f32 as f64),
            speed: Some(1.0),
        }
    }

    #[test]
    fn ardours_rounded_positions_converge_on_the_exact_bar_at_93_7_bpm() {
        let rate = 48_000.0;
        let mut g = Grid::new(rate);
        let mut worst_late = 0.0f64;
        // The transport starts off the tick grid: the first barBeat is 5 frames off.
        let f0 = 12_347;
        g.advance(0);
        for cycle in 0..4000i64 {
            let f = f0 + cycle * 256;
            if cycle == 0 {
                g.apply(&Position {
                    frame: Some(f0),
                    speed: Some(0.0),
                    ..ardour(f0, 93.7, 4.0, rate)
                });
            }
            g.advance((f - g.clock()) as usize);
            let c = g.apply(&ardour(f, 93.7, 4.0, rate));
            assert_eq!(
                c,
                if cycle == 0 {
                    Change::Jump
                } else {
                    Change::Same
                }
            );
            if cycle >= 300 {
                // Bar 100's start, exact: 100 * 4 beats * 30,736.39... frames.
                let exact = 400.0 * rate * 60.0 / 93.7;
                worst_late = worst_late.max((g.exact_frame(Unit::Bar, 100) - exact).abs());
            }
        }
        assert!(worst_late < 0.5, "bar 100 within {worst_late} frames");
        assert_eq!(
            g.boundary(Unit::Bar, 100),
            (400.0 * rate * 60.0 / 93.7f64).round() as i64
        );
    }

    #[test]
    fn a_relocation_is_a_jump_and_a_tempo_change_a_new_anchor() {
        let mut g = Grid::new(48_000.0);
        assert_eq!(g.apply(&pos(0, 120.0, 4.0, 0.0)), Change::Jump);
        g.advance(1000);
        assert_eq!(
            g.apply(&pos(1000, 120.0, 4.0, 1000.0 / 24_000.0)),
            Change::Same
        );
        assert_eq!(g.apply(&pos(480_000, 120.0, 4.0, 20.0)), Change::Jump);
        assert_eq!(g.index_at(Unit::Bar, 480_000), 5);
        g.advance(24_000);
        assert_eq!(g.apply(&pos(504_000, 90.0, 4.0, 21.0)), Change::Tempo);
        assert_eq!(
            g.next_boundary(Unit::Bar, 504_001),
            (504_000 + 3 * 32_000, 6)
        );
        let stop = Position {
            speed: Some(0.0),
            ..Default::default()
        };
        assert_eq!(g.apply(&stop), Change::Stopped);
        assert!(!g.synced());
        g.advance(5000);
        assert_eq!(g.clock(), 504_000, "a stopped transport does not move");
    }

    #[test]
    fn boundaries_round_to_the_nearest_frame_and_index_at_agrees() {
        let mut g = Grid::new(44_100.0);
        g.apply(&pos(0, 93.7, 3.0, 0.0));
        for i in 0..500 {
            let b = g.boundary(Unit::Beat, i);
            assert_eq!(g.index_at(Unit::Beat, b), i);
            assert_eq!(g.index_at(Unit::Beat, b - 1), i - 1);
            assert_eq!(g.next_boundary(Unit::Beat, b), (b, i));
            assert_eq!(g.next_boundary(Unit::Beat, b - 1), (b, i));
            assert!((g.exact_frame(Unit::Beat, i) - b as f64).abs() <= 0.5);
        }
    }

    #[test]
    fn tempos_sent_as_floats_snap_to_what_the_user_set() {
        assert_eq!(snap_bpm(93.7f32 as f64), 93.7);
        assert_eq!(snap_bpm(120.0), 120.0);
        assert_eq!(snap_bpm(133.333_333_3), 133.333_333_3);
    }
}
