//! Writes the inline display as PNG pictures, as a host's mixer strip would show it:
//! a phrase recorded, looped, and overdubbed, caught mid-overdub.
//!
//! `cargo run --release --example inline_display -- DIR` writes `DIR/display-mono.png`
//! and `DIR/display-stereo.png` at Ardour's strip size (200 x 66), and
//! `DIR/display-stereo-large.png` (600 x 200). `make demo` runs it.

use std::sync::Arc;

use looper::engine::chunk::MemStats;
use looper::engine::looper::{Controls, Looper};
use looper::engine::worker::{Silent, WorkerCore};
use looper::lv2::inline_display::View;

const RATE: f64 = 48_000.0;

/// A plucked note: a decaying sine.
fn pluck(t: f64, hz: f64) -> f32 {
    ((-3.0 * t).exp() * (2.0 * std::f64::consts::PI * hz * t).sin() * 0.6) as f32
}

/// Frame `k` of a phrase of four plucks a second (channel `c` one note apart).
fn phrase(k: usize, c: usize) -> f32 {
    let t = k as f64 / RATE;
    let beat = (t * 2.0).floor();
    let notes = [220.0, 277.2, 329.6, 246.9];
    let hz = notes[(beat as usize + c) % 4];
    pluck(t - beat / 2.0, hz)
        * if (beat as usize).is_multiple_of(4) {
            1.0
        } else {
            0.6
        }
}

/// Runs `frames` of `input(k, c)` through `lp` with `c`, serving the worker at once.
fn run(
    lp: &mut Looper,
    core: &WorkerCore,
    c: &Controls,
    from: usize,
    frames: usize,
    input: impl Fn(usize, usize) -> f32,
) {
    let ch = lp.channels();
    let mut done = 0;
    while done < frames {
        let n = 256.min(frames - done);
        let mut bufs: Vec<Vec<f32>> = (0..ch)
            .map(|c| (0..n).map(|j| input(from + done + j, c)).collect())
            .collect();
        let mut io: Vec<&mut [f32]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        lp.process(c, &mut io);
        if let Some(req) = lp.poll_request() {
            core.work(req, &mut |d| {
                lp.accept(d);
                Ok(())
            });
        }
        done += n;
    }
}

/// Writes what `view` draws at most `w` x `h` to `path` as an RGBA PNG.
fn write_png(view: &View, w: u32, h: u32, path: &std::path::Path) {
    let s = view.render(w, h);
    // SAFETY: render returns the view's own surface, valid until the next render.
    let s = unsafe { &*s };
    let (w, h) = (s.width as usize, s.height as usize);
    // SAFETY: the surface holds h rows of stride bytes.
    let px = unsafe { std::slice::from_raw_parts(s.data as *const u32, s.stride as usize / 4 * h) };
    let mut rgba = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for &p in &px[y * s.stride as usize / 4..][..w] {
            rgba.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8, (p >> 24) as u8]);
        }
    }
    let file = std::fs::File::create(path).expect("create the picture");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&rgba))
        .expect("write the picture");
    println!("wrote {} ({w} x {h})", path.display());
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "demo".into()));
    std::fs::create_dir_all(&dir).expect("the output folder");
    for channels in [1, 2] {
        let stats = Arc::new(MemStats::default());
        let mut lp = Looper::new(RATE, channels, Arc::clone(&stats));
        let core = WorkerCore::new(stats, Box::new(Silent));
        core.prefill(&mut lp);
        let view = View::new(Arc::clone(lp.display()));
        let len = 4 * RATE as usize; // two bars of 4/4 at 120 bpm
        let mut c = Controls {
            record: 1.0,
            ..Controls::default()
        };
        run(&mut lp, &core, &c, 0, len, phrase);
        c.record = 0.0;
        run(&mut lp, &core, &c, len, len, |_, _| 0.0);
        // An overdub from a third of the loop, caught at 60 %: a higher line.
        run(&mut lp, &core, &c, 0, len / 3, |_, _| 0.0);
        c.overdub = 1.0;
        run(
            &mut lp,
            &core,
            &c,
            len / 3,
            len * 6 / 10 - len / 3,
            |k, ch| 0.5 * phrase(k * 2, ch + 1),
        );
        let name = if channels == 1 {
            "display-mono"
        } else {
            "display-stereo"
        };
        write_png(&view, 200, 100, &dir.join(format!("{name}.png")));
        if channels == 2 {
            write_png(&view, 600, 200, &dir.join("display-stereo-large.png"));
        }
    }
}
