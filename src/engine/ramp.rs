//! Gains that move without clicks: linear ramps for fades and level changes, and the
//! smoothstep curve of the seam's crossfade.

/// A gain moving linearly to a target over a number of frames, then holding it exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    left: u32,
}

impl Ramp {
    /// [any] A gain holding `v`.
    pub const fn at(v: f32) -> Ramp {
        Ramp {
            value: v,
            target: v,
            step: 0.0,
            left: 0,
        }
    }

    /// [audio] Moves to `target` over `frames` frames (at once if 0).
    pub fn go(&mut self, target: f32, frames: usize) {
        if frames == 0 || self.value == target {
            *self = Ramp::at(target);
            return;
        }
        let frames = frames.min(u32::MAX as usize) as u32;
        self.target = target;
        self.step = (target - self.value) / frames as f32;
        self.left = frames;
    }

    /// [audio] The gain for the next frame.
    #[inline]
    pub fn tick(&mut self) -> f32 {
        if self.left > 0 {
            self.left -= 1;
            self.value = if self.left == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }

    /// [audio] The gain now (of the last frame).
    #[inline]
    pub fn value(&self) -> f32 {
        self.value
    }

    /// [audio] Where it is going.
    #[inline]
    pub fn target(&self) -> f32 {
        self.target
    }

    /// [audio] Frames of ramp left.
    #[inline]
    pub fn left(&self) -> usize {
        self.left as usize
    }

    /// [audio] Whether it holds its value (no ramp under way).
    #[inline]
    pub fn is_steady(&self) -> bool {
        self.left == 0
    }
}

/// [any] The seam's crossfade weight of the loop at frame `p` of `x` (the tail's is one
/// minus it): smoothstep, rising from 0 to 1 with zero slope at both ends, so that
/// neither edge of the crossfade has a kink of its own.
#[inline]
pub fn seam_weight(p: usize, x: usize) -> f32 {
    let t = (p as f32 + 0.5) / x as f32;
    t * t * (3.0 - 2.0 * t)
}

/// [any] A level in dB as a gain; -90 dB and below (and NaN) is silence.
pub fn db_to_gain(db: f32) -> f32 {
    if db.is_nan() || db <= -90.0 {
        0.0
    } else {
        10f32.powf(db.min(12.0) / 20.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_land_exactly_on_their_target() {
        let mut r = Ramp::at(0.0);
        r.go(1.0, 3);
        let v: Vec<f32> = (0..5).map(|_| r.tick()).collect();
        assert_eq!(v[2], 1.0);
        assert_eq!(v[4], 1.0);
        assert!(v[0] > 0.0 && v[0] < v[1] && v[1] < 1.0);
        assert!(r.is_steady());
        r.go(0.25, 0);
        assert_eq!(r.tick(), 0.25);
    }

    #[test]
    fn unity_is_exact_and_minus_90_is_silence() {
        assert_eq!(db_to_gain(0.0), 1.0);
        assert_eq!(db_to_gain(-90.0), 0.0);
        assert_eq!(db_to_gain(f32::NAN), 0.0);
        assert!((db_to_gain(-6.0) - 0.501_187).abs() < 1e-5);
        assert!((db_to_gain(40.0) - db_to_gain(12.0)).abs() < 1e-6);
    }

    #[test]
    fn seam_weight_rises_from_zero_to_one() {
        let x = 240;
        assert!(seam_weight(0, x) < 1e-4);
        assert!(seam_weight(x - 1, x) > 1.0 - 1e-4);
        assert!((0..x - 1).all(|p| seam_weight(p, x) < seam_weight(p + 1, x)));
    }
}
