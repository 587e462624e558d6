//! The inline display through the exported descriptor: `render` called from another
//! thread while `run()` records, overdubs, undoes and clears (every run() under the
//! allocation guard), and pictures that show the loop's state, envelope and playhead.

mod support;
use looper::engine::display::{Look, COLOURS};
use support::*;

const RATE: f64 = 48_000.0;

fn colour(l: Look) -> u32 {
    COLOURS[l as usize]
}

/// Records `len` frames: 0.5 in the first half, silence in the second (right channel:
/// silence throughout, for a stereo host fed by `run`: it gets the left negated, so
/// the stereo tests use run_stereo).
fn half_loud(h: &mut Host, len: usize, record: f32) {
    let input: Vec<f32> = (0..len)
        .map(|k| if k < len / 2 { 0.5 } else { 0.0 })
        .collect();
    for c in input.chunks(256) {
        if h.channels == 2 {
            h.run_stereo(c, &vec![0.0; c.len()], record, 1.0);
        } else {
            h.run(c, record, 1.0);
        }
    }
}

/// Columns of `px` (w x h) that hold colour `c` somewhere.
fn columns_with(px: &[u32], w: usize, rows: std::ops::Range<usize>, c: u32) -> Vec<usize> {
    (0..w)
        .filter(|&x| rows.clone().any(|y| px[y * w + x] == c))
        .collect()
}

#[test]
fn the_picture_shows_the_envelope_the_playhead_and_the_state() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(512, 256);
    let r = h.renderer();
    // Empty: no waveform, no playhead.
    let (w, hh, px) = r.render(200, 100);
    assert_eq!((w, hh), (200, 66));
    assert!(px
        .iter()
        .all(|&p| p == colour(Look::Background) || p == colour(Look::Axis)));
    // Recording: red, growing from the left.
    let len = 64 * 512 * 3 / 4; // three quarters of the summary's first width
    half_loud(&mut h, len, 1.0);
    let (_, _, px) = r.render(200, 100);
    let red = columns_with(&px, w, 0..hh, colour(Look::Recording));
    assert!(
        !red.is_empty() && *red.last().unwrap() < 80,
        "the take fills the left"
    );
    // Playing from a quarter of the loop: green in the first half only, at half height.
    h.run(&[0.0; 0], 0.0, 1.0);
    let mut left = len / 4;
    while left > 0 {
        let n = left.min(256);
        h.run(&vec![0.0; n], 0.0, 1.0);
        left -= n;
    }
    let (_, _, px) = r.render(200, 100);
    let mid = hh / 2;
    let green = columns_with(&px, w, 0..hh, colour(Look::Playing));
    assert_eq!(green.first(), Some(&0));
    assert!(
        (99..=100).contains(green.last().unwrap()),
        "loud half only: {:?}",
        green.last()
    );
    // 0.5 of full scale reaches half way from the axis to the edge, no further.
    let half = mid - 1;
    assert_eq!(px[(mid - half / 2) * w + 10], colour(Look::Playing));
    assert_eq!(px[(mid - half / 2 - 2) * w + 10], colour(Look::Background));
    let head = columns_with(&px, w, 0..hh, colour(Look::Playhead));
    assert_eq!(head, vec![50], "the playhead a quarter through");
    assert!((0..hh).all(|y| px[y * w + 50] == colour(Look::Playhead)));
    // Overdubbing 0.25 into the silent half: its columns show the overdub's colour.
    h.set(port::OVERDUB, 1.0);
    let mut at = len / 4;
    while at < 3 * len / 4 {
        h.run(&[0.25; 256], 0.0, 1.0);
        at += 256;
    }
    let (_, _, px) = r.render(200, 100);
    let dubbed = columns_with(&px, w, 0..hh, colour(Look::Dubbed));
    assert!(dubbed.contains(&60) && dubbed.contains(&140) && !dubbed.contains(&170));
    assert!(columns_with(&px, w, 0..hh, colour(Look::Overdubbing)).contains(&20));
    // The overdub ends: the silent half now shows the layer in the playing colour.
    h.set(port::OVERDUB, 0.0);
    h.run(&[0.0; 256], 0.0, 1.0);
    let (_, _, px) = r.render(200, 100);
    assert!(columns_with(&px, w, 0..hh, colour(Look::Playing)).contains(&140));
    // Undo: the picture is the take's again, in O(1).
    h.set(port::UNDO, 1.0);
    h.run(&[0.0; 256], 0.0, 1.0);
    h.set(port::UNDO, 0.0);
    let (_, _, px) = r.render(200, 100);
    assert!(!columns_with(&px, w, 0..hh, colour(Look::Playing)).contains(&140));
    // Stopped: grey-blue.
    h.run(&[0.0; 256], 0.0, 0.0);
    let (_, _, px) = r.render(200, 100);
    assert!(columns_with(&px, w, 0..hh, colour(Look::Stopped)).contains(&20));
    // Clear: empty again.
    h.set(port::CLEAR, 1.0);
    h.run(&[0.0; 256], 0.0, 1.0);
    let (_, _, px) = r.render(200, 100);
    assert!(px
        .iter()
        .all(|&p| p == colour(Look::Background) || p == colour(Look::Axis)));
    assert_rt_clean();
}

#[test]
fn a_stereo_picture_has_a_lane_per_channel() {
    let mut h = Host::stereo(RATE, WorkerMode::Prompt);
    h.idle(512, 256);
    half_loud(&mut h, 20_000, 1.0);
    h.run_stereo(&[0.0; 64], &[0.0; 64], 0.0, 1.0);
    let (w, hh, px) = h.renderer().render(160, 60);
    assert_eq!((w, hh), (160, 53));
    let top = columns_with(&px, w, 0..hh / 2, colour(Look::Playing));
    let bottom = columns_with(&px, w, hh / 2..hh, colour(Look::Playing));
    assert!(top.len() >= 79, "the left channel's loud half");
    assert!(bottom.is_empty(), "the right channel is silent");
    assert_rt_clean();
}

#[test]
fn queue_draw_is_asked_at_most_thirty_times_a_second_and_at_once_on_a_change() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(512, 256);
    half_loud(&mut h, 30_000, 1.0);
    h.run(&[0.0; 256], 0.0, 1.0);
    let before = h.queue_draws();
    h.idle(RATE as usize, 256); // one second of playing
    let per_second = h.queue_draws() - before;
    assert!(
        (20..=30).contains(&per_second),
        "{per_second} draws in a second"
    );
    let before = h.queue_draws();
    h.run(&[0.0; 64], 0.0, 0.0); // stop: a change
    assert_eq!(h.queue_draws(), before + 1);
    h.idle(RATE as usize, 256); // stopped: nothing moves
    assert_eq!(h.queue_draws(), before + 1);
    assert_rt_clean();
}

#[test]
fn render_from_another_thread_while_run_records_overdubs_undoes_and_clears() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        h.idle(512, 256);
        let r = h.renderer();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let painter = std::thread::spawn(move || {
            let mut renders = 0u64;
            let sizes = [(160, 60), (200, 100), (64, 20), (800, 300)];
            while !s.load(std::sync::atomic::Ordering::Relaxed) || renders < 2000 {
                let (mw, mh) = sizes[renders as usize % sizes.len()];
                let (w, hh, px) = r.render(mw, mh);
                assert!(w <= mw as usize && hh <= mh as usize && px.len() == w * hh);
                assert!(
                    px.iter().all(|p| COLOURS.contains(p)),
                    "only the display's colours"
                );
                renders += 1;
            }
            renders
        });
        for round in 0..6u64 {
            h.set(port::FADE, if round % 2 == 0 { 0.0 } else { 5.0 });
            let take: Vec<f32> = (0..9000).map(|k| sig(k + round)).collect();
            for c in take.chunks(300) {
                h.run(c, 1.0, 1.0);
            }
            h.run(&[0.0; 100], 0.0, 1.0);
            h.set(port::OVERDUB, 1.0);
            for c in take.chunks(500) {
                h.run(c, 0.0, 1.0);
            }
            h.set(port::OVERDUB, 0.0);
            h.run(&[0.0; 300], 0.0, 1.0);
            for p in [port::UNDO, port::REDO, port::UNDO, port::CLEAR, port::UNDO] {
                h.set(p, 1.0);
                h.run(&[0.0; 200], 0.0, 1.0);
                h.set(p, 0.0);
                h.run(&[0.0; 200], 0.0, 1.0);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let renders = painter.join().expect("render never panics");
        assert!(renders >= 2000, "{renders} renders");
    }
    assert_rt_clean();
}
