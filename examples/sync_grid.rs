//! A synced loop against the host's bar grid, for the README's picture: the engine
//! driven as Ardour drives it at 93.7 bpm in 4/4 (a position every 256-frame cycle, its
//! barBeat rounded to 1/1920 beat), `sync` on bar, `record` on at 1.3 bars and off at
//! 2.4 bars, then 12 bars of playback.
//!
//! `cargo run --release --example sync_grid -- DIR` writes `DIR/sync-grid.csv` (per
//! column of the picture: time, input and output peaks, record and state) and
//! `DIR/sync-bars.csv` (each bar line's exact frame, and the frame where the loop's
//! first sample came out in that bar); `scripts/sync_picture.py` draws them. It also
//! prints the worst distance between a bar line and its pass start. `make demo` runs it.

use std::io::Write;
use std::sync::Arc;

use looper::engine::chunk::MemStats;
use looper::engine::looper::{Controls, Looper};
use looper::engine::sync::{Position, TimeEvent};
use looper::engine::worker::{Silent, WorkerCore};

const RATE: f64 = 48_000.0;
const BPM: f64 = 93.7;
const BPB: f64 = 4.0;

/// A phrase: a plucked note on each beat, the first of the bar louder.
fn phrase(f: i64) -> f32 {
    let fpb = RATE * 60.0 / BPM;
    let beats = f as f64 / fpb;
    let t = (beats - beats.floor()) * fpb / RATE;
    let accent = if (beats.floor() as i64).rem_euclid(4) == 0 {
        0.8
    } else {
        0.45
    };
    let hz = [220.0, 277.2, 329.6, 246.9][(beats.floor() as i64).rem_euclid(4) as usize];
    ((-6.0 * t).exp() * (2.0 * std::f64::consts::PI * hz * t).sin() * accent) as f32
}

/// The position Ardour sends at frame `f`.
fn position(f: i64) -> Position {
    let beats = f as f64 * BPM / (60.0 * RATE);
    let bar = (beats / BPB).floor();
    Position {
        frame: Some(f),
        bar: Some(bar as i64),
        bar_beat: Some((((beats - bar * BPB) * 1920.0).round() / 1920.0) as f32 as f64),
        beats_per_bar: Some(BPB),
        bpm: Some(BPM as f32 as f64),
        speed: Some(1.0),
    }
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "demo".into());
    std::fs::create_dir_all(&dir)?;
    let stats = Arc::new(MemStats::default());
    let mut lp = Looper::new(RATE, 1, Arc::clone(&stats));
    let core = WorkerCore::new(stats, Box::new(Silent));
    core.prefill(&mut lp);
    let bar = BPB * RATE * 60.0 / BPM;
    let (on, off) = ((1.3 * bar) as i64, (2.4 * bar) as i64);
    let end = (15.0 * bar) as i64;
    let mut c = Controls {
        sync: 2.0,
        fade: 0.0,
        ..Controls::default()
    };
    let (mut input, mut output, mut rec, mut state) = (vec![], vec![], vec![], vec![]);
    let mut f = 0i64;
    while f < end {
        let n = 256.min((end - f) as usize);
        c.record = if (on..off).contains(&f) { 1.0 } else { 0.0 };
        // The phrase plays until the take's bar is over, then the loop plays alone.
        let inp: Vec<f32> = (0..n as i64)
            .map(|k| {
                if f + k < (3.0 * bar) as i64 {
                    phrase(f + k)
                } else {
                    0.0
                }
            })
            .collect();
        let mut buf = inp.clone();
        lp.process_timed(
            &c,
            &[TimeEvent {
                offset: 0,
                pos: position(f),
            }],
            &mut [buf.as_mut_slice()],
        );
        if let Some(req) = lp.poll_request() {
            core.work(req, &mut |d| {
                lp.accept(d);
                Ok(())
            });
        }
        input.extend(inp);
        output.extend(buf);
        rec.extend(std::iter::repeat_n(c.record, n));
        state.extend(std::iter::repeat_n(lp.state() as u8, n));
        f += n as i64;
    }
    // The loop is bar 2: its first sample is the phrase at round(F(2)).
    let first = phrase((2.0 * bar).round() as i64);
    let mut bars = std::fs::File::create(format!("{dir}/sync-bars.csv"))?;
    writeln!(bars, "bar,exact_frame,pass_start")?;
    let mut worst = 0.0f64;
    for i in 0..15 {
        let exact = i as f64 * bar;
        // Where the loop's first sample comes out near this bar line (from bar 3 on).
        let start = if i >= 3 {
            let lo = exact as usize - 20;
            (lo..lo + 40).find(|&k| output[k] == first && input[k] == 0.0)
        } else {
            None
        };
        if let Some(s) = start {
            worst = worst.max((s as f64 - exact).abs());
        }
        writeln!(
            bars,
            "{i},{exact:.3},{}",
            start.map_or(String::new(), |s| s.to_string())
        )?;
    }
    let cols = 1500;
    let per = output.len().div_ceil(cols);
    let mut env = std::fs::File::create(format!("{dir}/sync-grid.csv"))?;
    writeln!(env, "t,in_lo,in_hi,out_lo,out_hi,record,state")?;
    for k in 0..output.len().div_ceil(per) {
        let r = k * per..((k + 1) * per).min(output.len());
        let mm = |v: &[f32]| {
            v.iter()
                .fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)))
        };
        let (a, b) = mm(&input[r.clone()]);
        let (c2, d) = mm(&output[r.clone()]);
        writeln!(
            env,
            "{:.5},{a:.4},{b:.4},{c2:.4},{d:.4},{},{}",
            r.start as f64 / RATE,
            rec[r.start],
            state[r.start]
        )?;
    }
    println!(
        "sync_grid: loop of {} frames (a bar is {bar:.2}); worst pass start {worst:.2} frames from its bar line; wrote {dir}/sync-grid.csv and {dir}/sync-bars.csv",
        (lp.length_seconds() * RATE).round()
    );
    Ok(())
}
