//! Declicks through the exported descriptor: a sine whose loop is not a whole number of
//! periods, played with the default `fade` (5 ms) and with `fade` 0. The measure is the
//! largest sample-to-sample step of the output near each event, against the sine's own
//! largest step.
//!
//! The bound: any crossfade between two sines of one frequency but different phases
//! bends the phase while it runs, and the step can then exceed the sine's own by a
//! little (at 440 Hz and 5 ms, up to 2.4 % for the smoothstep crossfade used here, 3.7 %
//! for a linear one); no crossfade of two such signals can stay at or under it for every
//! phase. So the tests allow 3 %, where a click is 10 to 30 times the sine's step.

mod support;
use support::*;

const RATE: f64 = 48_000.0;
const HZ: f64 = 440.0;
const AMP: f64 = 0.5;
/// What a declicked event may add to the sine's own largest step.
const TOLERANCE: f32 = 1.03;

fn sine(k: usize, phase: f64) -> f32 {
    (AMP * (2.0 * std::f64::consts::PI * HZ * k as f64 / RATE + phase).sin()) as f32
}

/// The sine's own largest step.
fn own_step() -> f32 {
    max_step(&(0..48_000).map(|k| sine(k, 0.0)).collect::<Vec<_>>())
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

/// Records `len` frames of the sine, then `tail` more frames of it as input (the
/// plugin keeps them past the loop's end for the seam), then plays with silence in;
/// returns the output from the close on, `frames` long.
fn sine_loop(h: &mut Host, len: usize, frames: usize, phase: f64) -> Vec<f32> {
    let input: Vec<f32> = (0..len).map(|k| sine(k, phase)).collect();
    for c in input.chunks(512) {
        h.run(c, 1.0, 1.0);
    }
    let tail: Vec<f32> = (len..len + 480).map(|k| sine(k, phase)).collect();
    let mut out = h.run(&tail, 0.0, 1.0).to_vec();
    // The tail's input is heard too (dry): leave that out of what is returned.
    for (o, t) in out.iter_mut().zip(&tail) {
        *o -= t;
    }
    while out.len() < frames {
        out.extend_from_slice(h.run(&[0.0; 256], 0.0, 1.0));
    }
    out
}

fn host(fade_ms: f32) -> Host {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.set(port::FADE, fade_ms);
    h.idle(512, 256);
    h
}

#[test]
fn no_click_at_any_wrap_of_a_loop_that_is_not_whole_periods() {
    let own = own_step();
    let mut worst_default = 0.0f32;
    let mut clicked = 0;
    // Loops of 20.1 to 20.9 periods, and one shorter than the fade's chunk of a chunk.
    let period = RATE / HZ;
    for tenths in 1..10 {
        let len = (period * (20.0 + tenths as f64 / 10.0)).round() as usize;
        for (fade, clicks) in [(5.0, false), (0.0, true)] {
            let mut h = host(fade);
            let out = sine_loop(&mut h, len, 6 * len, 0.0);
            for wrap in (1..5).map(|w| w * len) {
                let step = max_step(&out[wrap - 300..wrap + 300]);
                if clicks {
                    // With fade 0 the wrap jumps from the sine's end to its start.
                    if (sine(len, 0.0) - sine(0, 0.0)).abs() > 6.0 * own {
                        assert!(step > 4.0 * own, "{len}: fade 0 must click ({step})");
                        clicked += 1;
                    }
                } else {
                    worst_default = worst_default.max(step / own);
                    assert!(
                        step <= own * TOLERANCE,
                        "loop of {len}: step {step} at wrap {wrap}, the sine's own {own}"
                    );
                }
            }
        }
    }
    assert!(
        clicked >= 20,
        "most loops click with fade 0 ({clicked} wraps did)"
    );
    eprintln!("worst step at a wrap with the default fade: {worst_default:.4} x the sine's own");
    assert_rt_clean();
}

#[test]
fn no_click_where_playback_starts_and_stops() {
    let own = own_step();
    for (fade, clicks) in [(5.0, false), (0.0, true)] {
        let mut h = host(fade);
        let len = 9_001;
        // Phase 1: the loop starts at 0.42, far from zero.
        let out = sine_loop(&mut h, len, 2 * len, 1.0);
        // The first pass starts at the close (the loop fades in there, from silence).
        let start = max_step(&[&[0.0], &out[..600]].concat());
        // Play off where the loop is far from zero.
        let mut last = 0.0f32;
        while last.abs() < 0.4 {
            last = h.run(&[0.0], 0.0, 1.0)[0];
        }
        let mut played = vec![last];
        played.extend_from_slice(h.run(&vec![0.0; 300], 0.0, 0.0));
        played.extend_from_slice(h.run(&vec![0.0; 2000], 0.0, 0.0));
        let stop = max_step(&played);
        // Play on again: the loop restarts from its start, fading in.
        played.clear();
        played.extend_from_slice(h.run(&vec![0.0; 1000], 0.0, 1.0));
        let restart = max_step(&[&[0.0], &played[..]].concat());
        let worst = start.max(stop).max(restart);
        if clicks {
            assert!(stop > 10.0 * own || start > 10.0 * own, "fade 0 must click");
        } else {
            assert!(
                worst <= own * TOLERANCE,
                "start {start}, stop {stop}, restart {restart}; sine {own}"
            );
        }
    }
    assert_rt_clean();
}

#[test]
fn no_click_where_an_overdub_starts_and_stops() {
    let own = own_step();
    for (fade, clicks) in [(5.0, false), (0.0, true)] {
        let mut h = host(fade);
        // A silent loop, overdubbed with the sine from frame 1,000 to 7,777, while the
        // sine goes on as a musician goes on playing (the fades act on the input).
        let len = 12_000;
        for _ in 0..len / 500 {
            h.run(&[0.0; 500], 1.0, 1.0);
        }
        h.run(&[0.0; 1000], 0.0, 1.0); // (a tail of silence follows the take)
        h.set(port::OVERDUB, 1.0);
        let dub: Vec<f32> = (0..len - 1000).map(|k| sine(k, 1.0)).collect();
        h.run(&dub[..6777], 0.0, 1.0);
        h.set(port::OVERDUB, 0.0);
        h.run(&dub[6777..], 0.0, 1.0);
        // The next pass plays what the layer holds.
        let pass = h.run(&vec![0.0; len], 0.0, 1.0).to_vec();
        assert!(pass[4000].abs() > 0.0, "the overdub landed");
        let step = max_step(&pass);
        if clicks {
            assert!(
                step > 10.0 * own,
                "fade 0 must click at the overdub's edges ({step})"
            );
        } else {
            assert!(step <= own * TOLERANCE, "step {step}, sine {own}");
        }
    }
    assert_rt_clean();
}

#[test]
fn no_click_when_undo_switches_what_plays() {
    let own = own_step();
    for (fade, clicks) in [(5.0, false), (0.0, true)] {
        let mut h = host(fade);
        let len = 8_000;
        let out = sine_loop(&mut h, len, len, 0.0);
        // A layer that replaces the loop with the sine a quarter period on.
        h.set(port::FEEDBACK, 0.0);
        h.set(port::OVERDUB, 1.0);
        let mut at = out.len() % len;
        let mut layer_in = Vec::new();
        // Two passes, and one more after overdub goes off (the input goes on, as a
        // musician's does, while the layer's fade-out runs).
        for b in 0..3 * len / 400 {
            if b == 2 * len / 400 {
                h.set(port::OVERDUB, 0.0);
            }
            layer_in.clear();
            layer_in.extend((0..400).map(|j| sine(at + j, std::f64::consts::FRAC_PI_2)));
            h.run(&layer_in, 0.0, 1.0);
            at = (at + 400) % len;
        }
        // Undo mid-pass, where the layer and the take differ most: the layer
        // crossfades into the take.
        let mut played = Vec::new();
        while played.len() < 2 * len {
            let x = h.run(&[0.0], 0.0, 1.0)[0];
            played.push(x);
            let p = (h.control(port::POSITION) as f64 * len as f64).round() as usize;
            if (sine(p, std::f64::consts::FRAC_PI_2) - sine(p, 0.0)).abs() > 0.6 {
                break;
            }
        }
        h.set(port::UNDO, 1.0);
        played.extend_from_slice(h.run(&vec![0.0; 2000], 0.0, 1.0));
        h.set(port::UNDO, 0.0);
        assert_eq!(h.control(port::REDOS), 1.0, "undone");
        let step = max_step(&played[..]);
        eprintln!("undo, fade {fade}: step {step}, sine {own}");
        if clicks {
            assert!(step > 10.0 * own, "fade 0 must click at the undo ({step})");
        } else {
            assert!(step <= own * TOLERANCE, "step {step}, sine {own}");
        }
    }
    assert_rt_clean();
}
