//! The inline display's costs: `render` of a 1-hour stereo loop (from the GUI thread,
//! while nothing else runs) at Ardour's strip size and larger, against a 1-second loop;
//! and what keeping the peak summary costs the audio thread per block, recording and
//! overdubbing, at 64 and 256 frames, against a memcpy of the block in the same run.
//!
//! Writes `display.json` into the bench output folder (`LOOPER_BENCH_OUT`).
//! `LOOPER_BENCH_DISPLAY_MINUTES` (default 60) sets the long loop's length.

mod common;
use common::*;
use looper::engine::peaks::Peaks;
use looper::lv2::inline_display::View;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const RATE: f64 = 48_000.0;

/// Mean ns of one call of `f`, timed over batches of `n` calls: the least of 7 batches
/// (no timer inside the batch).
fn time_ns(n: usize, mut f: impl FnMut()) -> f64 {
    let mut batches = Vec::new();
    for _ in 0..7 {
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        batches.push(t0.elapsed().as_nanos() as f64 / n as f64);
    }
    min_f(&batches)
}

/// The render times (µs) of a loop of `frames` stereo frames at the two sizes.
fn render_us(frames: usize, src: &[f32]) -> (f64, f64) {
    let mut rig = Rig::with_channels(RATE, 2);
    rig.record_loop(frames, src);
    let view = View::new(Arc::clone(rig.lp.display()));
    let small = time_ns(2000, || {
        black_box(view.render(black_box(200), 100));
    }) / 1000.0;
    let large = time_ns(500, || {
        black_box(view.render(black_box(800), 300));
    }) / 1000.0;
    (small, large)
}

fn main() {
    if !benchmarking() {
        return;
    }
    let _placement = place_thread();
    let mut fig = Figures::default();
    let src = noise(1 << 20);
    let minutes = env_f64("LOOPER_BENCH_DISPLAY_MINUTES", 60.0);
    let long = (minutes * 60.0 * RATE) as usize;
    let (s1, l1) = render_us(RATE as usize, &src);
    let (sh, lh) = render_us(long, &src);
    println!("render, stereo: 1 s loop {s1:.1} us (200 x 66), {l1:.1} us (800 x 266)");
    println!("render, stereo: {minutes} min loop {sh:.1} us (200 x 66), {lh:.1} us (800 x 266)");
    fig.put("display_long_minutes", minutes);
    fig.put("render_us_1s_small", s1);
    fig.put("render_us_1s_large", l1);
    fig.put("render_us_1h_small", sh);
    fig.put("render_us_1h_large", lh);

    // The summary's share of a block: what Peaks does for a block, against a memcpy
    // of the same block, one channel. A loop of an hour: the widest bins.
    for frames in [64usize, 256] {
        let mut p = Peaks::new();
        p.grow_to(long);
        let block = &src[..frames];
        let mut dst = vec![0.0f32; frames];
        let mut at = 0usize;
        let rec = time_ns(20_000, || {
            black_box(p.record(0, at % long, black_box(block)));
            at += frames;
        });
        let dub = time_ns(20_000, || {
            black_box(p.rewrite(0, at % long, black_box(block)));
            at += frames;
        });
        let copy = time_ns(20_000, || {
            dst.copy_from_slice(black_box(block));
            black_box(&dst);
        });
        println!(
            "peak summary per {frames}-frame block and channel: record {rec:.0} ns, \
             overdub {dub:.0} ns, memcpy of the block {copy:.0} ns"
        );
        fig.put(format!("peaks_record_ns_{frames}"), rec);
        fig.put(format!("peaks_overdub_ns_{frames}"), dub);
        fig.put(format!("peaks_memcpy_ns_{frames}"), copy);
    }
    let path = fig.write("display.json");
    println!("wrote {}", path.display());
}
