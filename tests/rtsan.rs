//! RealtimeSanitizer over the real library loaded through dlopen: every `run()` and
//! `work_response()` inside a realtime scope, over every control path (record, play,
//! overdub on and off with and without fades, feedback, undo, redo, clear, undo_memory
//! releasing the oldest steps, the ring of steps overflowing, the seam's crossfade,
//! dry and wet ramps), mono and stereo, pool exhaustion and recovery, a late worker, a
//! full worker ring, a freewheeling host, and the inline display rendering on another
//! thread meanwhile, saves of the loop on another thread while it records and
//! overdubs, and the host's positions (tempo and meter changes, relocations, stop and
//! start) with takes and overdubs quantized to beats and bars. Any malloc, free, lock or blocking syscall
//! inside a scope aborts the process with a report.
//!
//! Built and run by `scripts/rtsan.sh` (part of `make test`) with RTSAN_ENABLE=1; a
//! build without it fails the `sanitizer_is_linked` test instead of passing silently.

mod support;
use std::process::Command;
use support::*;

const RATE: f64 = 48_000.0;

fn block(h: &mut Host, start: usize, n: usize, record: f32, play: f32, in_place: bool) {
    let mut io: Vec<f32> = (start..start + n).map(|k| sig(k as u64)).collect();
    if in_place {
        h.run_in_place(&mut io, record, play);
    } else {
        h.run(&io, record, play);
    }
}

#[test]
fn sanitizer_is_linked() {
    assert!(
        option_env!("RTSAN_ENABLE").is_some(),
        "build this suite with RTSAN_ENABLE=1 (scripts/rtsan.sh); without it nothing is checked"
    );
}

#[test]
fn every_control_path_is_realtime_safe() {
    for (mode, in_place, bs) in [
        (WorkerMode::Prompt, false, 1usize),
        (WorkerMode::Prompt, true, 64),
        (WorkerMode::Prompt, false, 4096),
        (WorkerMode::Synchronous, true, 256),
        (WorkerMode::Freewheel, false, 1024),
        (WorkerMode::Late((1.2 * RATE) as u64), true, 128),
    ] {
        let mut h = Host::new(RATE, mode);
        let mut t = 0;
        let mut go = |h: &mut Host, frames: usize, r: f32, p: f32| {
            let mut left = frames;
            while left > 0 {
                let n = bs.min(left);
                block(h, t, n, r, p, in_place);
                t += n;
                left -= n;
            }
        };
        go(&mut h, 2048, 0.0, 1.0); // empty
        go(&mut h, 3 * CHUNK + 17, 1.0, 1.0); // record across chunk boundaries
        go(&mut h, 5000, 0.0, 1.0); // close, play
        go(&mut h, 3000, 0.0, 0.0); // stop
        go(&mut h, 3000, 0.0, 1.0); // restart from the start
        go(&mut h, 1000, 1.0, 0.0); // new take, play off
        go(&mut h, 1000, 0.0, 0.0); // close stopped
        go(&mut h, 1000, f32::NAN, f32::INFINITY); // odd values
        go(&mut h, 1000, f32::INFINITY, -1.0);
        go(&mut h, 2000, 0.0, 1.0);
        h.run(&[], 1.0, 1.0); // zero-length block
        go(&mut h, (RATE * 0.6) as usize, 0.0, 1.0); // reports and collection
        assert_eq!(h.dropouts(), 0, "{mode:?}");
    }
}

#[test]
fn pool_exhaustion_and_recovery_are_realtime_safe() {
    let mut h = Host::new(RATE, WorkerMode::Stalled);
    let mut t = 0;
    while t < (4.0 * RATE) as usize {
        block(&mut h, t, 256, 1.0, 1.0, true);
        t += 256;
    }
    assert!(h.dropouts() > 0, "the pool ran dry");
    h.resume();
    for _ in 0..2000 {
        block(&mut h, t, 256, 1.0, 1.0, true);
        t += 256;
    }
    for _ in 0..2000 {
        block(&mut h, t, 256, 0.0, 1.0, true);
        t += 256;
    }
    assert_eq!(h.state(), 2);
}

#[test]
fn a_full_worker_ring_is_realtime_safe() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.set_ring_limit(0); // every schedule_work refused
    let mut t = 0;
    while t < RATE as usize {
        block(&mut h, t, 128, 1.0, 1.0, false);
        t += 128;
    }
    h.set_ring_limit(4096);
    while t < (3.0 * RATE) as usize {
        block(&mut h, t, 128, 1.0, 1.0, false);
        t += 128;
    }
    assert_eq!(
        h.dropouts(),
        0,
        "the pool covered the second without a worker"
    );
}

/// Runs `frames` in blocks of `bs` from sample `t`, in place or not; stereo hosts run
/// both channels (`run_stereo*`), or mono-style (`run`: the right input the left negated).
struct Drive {
    t: usize,
    bs: usize,
    in_place: bool,
    stereo_way: usize,
}

impl Drive {
    fn go(&mut self, h: &mut Host, frames: usize, r: f32, p: f32) {
        let mut left = frames;
        while left > 0 {
            let n = self.bs.min(left);
            if h.channels == 2 && self.stereo_way % 3 != 2 {
                let mut l: Vec<f32> = (self.t..self.t + n).map(|k| sig(k as u64)).collect();
                let mut rr: Vec<f32> = (self.t..self.t + n)
                    .map(|k| sig(k as u64 + (1 << 40)))
                    .collect();
                if self.stereo_way.is_multiple_of(3) {
                    h.run_stereo_in_place(&mut l, &mut rr, r, p);
                } else {
                    h.run_stereo(&l, &rr, r, p);
                }
                self.stereo_way += 1;
            } else {
                block(h, self.t, n, r, p, self.in_place);
                self.stereo_way += 1;
            }
            self.t += n;
            left -= n;
        }
    }

    /// One 0->1 edge of a trigger, then back to 0, a block each.
    fn pulse(&mut self, h: &mut Host, port_: u32, r: f32, p: f32) {
        h.set(port_, 1.0);
        self.go(h, self.bs.min(64), r, p);
        h.set(port_, 0.0);
        self.go(h, self.bs.min(64), r, p);
    }
}

#[test]
fn layers_history_fades_and_levels_are_realtime_safe() {
    for channels in [1, 2] {
        for (mode, in_place, bs) in [
            (WorkerMode::Prompt, false, 1usize),
            (WorkerMode::Prompt, true, 64),
            (WorkerMode::Synchronous, false, 4096),
            (WorkerMode::Freewheel, true, 256),
            (WorkerMode::Late((0.5 * RATE) as u64), false, 128),
        ] {
            let mut h = if channels == 2 {
                Host::stereo(RATE, mode)
            } else {
                Host::new(RATE, mode)
            };
            let mut d = Drive {
                t: 0,
                bs,
                in_place,
                stereo_way: 0,
            };
            let len = CHUNK + CHUNK / 2 + 17; // a loop across chunk boundaries
            for fade in [5.0, 0.0, 100.0] {
                h.set(port::FADE, fade);
                d.go(&mut h, len, 1.0, 1.0); // a take (the old loop fades out)
                d.go(&mut h, len + 3000, 0.0, 1.0); // its tail, the seam's crossfade
                                                    // Overdub on, across the seam, feedback moving, overdub off.
                h.set(port::OVERDUB, 1.0);
                d.go(&mut h, len / 2, 0.0, 1.0);
                assert_eq!(h.state(), 4, "overdubbing");
                for fb in [0.5, 0.0, 0.25, f32::NAN, 1.5, 1.0] {
                    h.set(port::FEEDBACK, fb);
                    d.go(&mut h, len / 8, 0.0, 1.0);
                }
                h.set(port::OVERDUB, 0.0);
                d.go(&mut h, 3000, 0.0, 1.0); // the layer's fade-out, then its commit
                h.set(port::OVERDUB, 1.0);
                d.go(&mut h, 2000, 0.0, 1.0);
                d.pulse(&mut h, port::UNDO, 0.0, 1.0); // undo inside a layer
                d.go(&mut h, 2000, 0.0, 1.0);
                h.set(port::OVERDUB, 0.0);
                d.pulse(&mut h, port::REDO, 0.0, 1.0);
                d.pulse(&mut h, port::UNDO, 0.0, 1.0);
                d.pulse(&mut h, port::UNDO, 0.0, 1.0);
                d.pulse(&mut h, port::UNDO, 0.0, 1.0);
                d.pulse(&mut h, port::REDO, 0.0, 1.0);
                d.pulse(&mut h, port::REDO, 0.0, 1.0);
                d.pulse(&mut h, port::CLEAR, 0.0, 1.0);
                d.pulse(&mut h, port::CLEAR, 0.0, 1.0); // already empty
                assert_eq!(h.state(), 0, "cleared");
                d.pulse(&mut h, port::UNDO, 0.0, 1.0);
                assert_eq!(h.state(), 2, "the clear undone");
                // Play off and on, and a take, during a layer.
                h.set(port::OVERDUB, 1.0);
                d.go(&mut h, 1000, 0.0, 1.0);
                d.go(&mut h, 1000, 0.0, 0.0);
                d.go(&mut h, 1000, 0.0, 1.0);
                d.go(&mut h, 1000, 1.0, 1.0);
                d.go(&mut h, 1000, 0.0, 1.0);
                h.set(port::OVERDUB, 0.0);
                // Levels ramping both ways, while playing and while stopped.
                for (dry, wet) in [(-6.0, -90.0), (0.0, 12.0), (f32::NAN, -3.0), (0.0, 0.0)] {
                    h.set(port::DRY, dry);
                    h.set(port::WET, wet);
                    d.go(&mut h, 1500, 0.0, 1.0);
                    d.go(&mut h, 1500, 0.0, 0.0);
                }
                // Odd values on every new control.
                for v in [f32::NAN, f32::INFINITY, -1.0] {
                    for p in [port::OVERDUB, port::UNDO, port::REDO, port::CLEAR] {
                        h.set(p, v);
                    }
                    h.set(port::FADE, v);
                    h.set(port::UNDO_MEMORY, v);
                    d.go(&mut h, 500, 0.0, 1.0);
                }
                for p in [port::OVERDUB, port::UNDO, port::REDO, port::CLEAR] {
                    h.set(p, 0.0);
                }
                h.set(port::UNDO_MEMORY, 1024.0);
                h.set(port::FADE, fade);
            }
            // A new take, then layers on it with a small undo_memory: each releases the
            // oldest steps.
            d.go(&mut h, len, 1.0, 1.0);
            d.go(&mut h, 1000, 0.0, 1.0);
            assert_eq!(h.state(), 2, "a loop plays");
            h.set(port::UNDO_MEMORY, 0.3);
            for _ in 0..12 {
                h.set(port::OVERDUB, 1.0);
                d.go(&mut h, len / 3, 0.0, 1.0);
                h.set(port::OVERDUB, 0.0);
                d.go(&mut h, 300, 0.0, 1.0);
            }
            let layers = h.control(port::LAYERS);
            assert!(
                (1.0..6.0).contains(&layers),
                "undo_memory released steps: {layers}"
            );
            assert_eq!(h.dropouts(), 0, "{channels} channels, {mode:?}");
            // The ring of steps overflowing: its oldest released, and redo steps
            // discarded and swept. (Each layer copies a chunk and an index node, so
            // 1,400 layers in 2 s outrun a late worker: dropouts are expected there.)
            h.set(port::UNDO_MEMORY, 1024.0);
            h.set(port::FADE, 0.0);
            let bs = d.bs;
            d.bs = 32;
            for i in 0..1400 {
                h.set(port::OVERDUB, 1.0);
                d.go(&mut h, 32, 0.0, 1.0);
                h.set(port::OVERDUB, 0.0);
                d.go(&mut h, 32, 0.0, 1.0);
                if i % 100 == 50 {
                    for _ in 0..20 {
                        d.pulse(&mut h, port::UNDO, 0.0, 1.0);
                    }
                }
            }
            assert_eq!(h.control(port::LAYERS), 1023.0, "the ring is full");
            d.bs = bs;
            d.go(&mut h, (RATE * 0.6) as usize, 0.0, 1.0); // reports and collection
            if !matches!(mode, WorkerMode::Late(_)) {
                assert_eq!(h.dropouts(), 0, "{channels} channels, {mode:?}");
            }
        }
    }
}

#[test]
fn run_is_realtime_safe_while_the_inline_display_renders_on_another_thread() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        let r = h.renderer();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let painter = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) || n < 500 {
                let (w, hh, px) = r.render(160 + (n % 3) as u32 * 100, 60);
                assert_eq!(px.len(), w * hh);
                n += 1;
            }
            n
        });
        let before = h.queue_draws();
        h.set(port::FADE, 5.0);
        let mut t = 0;
        for round in 0..4 {
            for _ in 0..40 {
                block(&mut h, t, 256, 1.0, 1.0, round % 2 == 0);
                t += 256;
            }
            h.set(port::OVERDUB, 1.0);
            for _ in 0..60 {
                block(&mut h, t, 256, 0.0, 1.0, false);
                t += 256;
            }
            h.set(port::OVERDUB, 0.0);
            for p in [port::UNDO, port::REDO, port::CLEAR, port::UNDO] {
                h.set(p, 1.0);
                block(&mut h, t, 128, 0.0, 1.0, false);
                h.set(p, 0.0);
                block(&mut h, t, 128, 0.0, 1.0, false);
                t += 256;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(painter.join().unwrap() >= 500);
        assert!(h.queue_draws() > before + 20, "run() asked for pictures");
    }
}

#[test]
fn run_is_realtime_safe_while_the_loop_is_saved_on_another_thread() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        let saver = h.saver();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let saving = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let dir = tempfile::tempdir().unwrap();
                let (status, _) = saver.save(&support::state::Offer::lilv(dir.path()));
                assert_eq!(status, 0);
                n += 1;
            }
            n
        });
        h.set(port::FADE, 5.0);
        let mut t = 0;
        let mut round = 0;
        while !saving.is_finished() {
            for _ in 0..40 {
                block(&mut h, t, 256, 1.0, 1.0, round % 2 == 0);
                t += 256;
            }
            h.set(port::OVERDUB, 1.0);
            for _ in 0..60 {
                block(&mut h, t, 256, 0.0, 1.0, false);
                t += 256;
            }
            h.set(port::OVERDUB, 0.0);
            block(&mut h, t, 256, 0.0, 1.0, false);
            round += 1;
            if round >= 8 {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        assert!(saving.join().unwrap() >= 20);
    }
}

#[test]
fn tempo_sync_is_realtime_safe() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        let mut frame = 0i64;
        let mut bpm = 120.0;
        let mut bpb = 4.0;
        let mut beats = 0.0f64;
        for step in 0..400 {
            let n = [64usize, 256, 1000, 333][step % 4];
            h.set(port::SYNC, [2.0, 1.0, 2.0, 0.0][(step / 50) % 4]);
            h.set(port::BARS, if step % 100 < 50 { 0.0 } else { 2.0 });
            h.set(port::OVERDUB, if step % 37 < 12 { 1.0 } else { 0.0 });
            if step % 90 == 45 {
                bpm = if bpm == 120.0 { 93.7 } else { 120.0 };
            }
            if step % 130 == 65 {
                bpb = if bpb == 4.0 { 3.0 } else { 4.0 };
            }
            if step % 70 == 35 {
                frame += 500_000; // a relocation
                beats += 500_000.0 * bpm / (60.0 * RATE);
            }
            let rolling = step % 150 < 140;
            let pos = |off: i64, beats: f64| Position {
                frame: Some(frame + off),
                bar: Some((beats / bpb).floor() as i64),
                bar_beat: Some(beats - (beats / bpb).floor() * bpb),
                beats_per_bar: Some(bpb),
                bpm: Some(bpm),
                speed: Some(if rolling { 1.0 } else { 0.0 }),
            };
            h.send(0, pos(0, beats));
            if step % 3 == 0 {
                let off = (n / 2) as i64;
                h.send(off, pos(off, beats + off as f64 * bpm / (60.0 * RATE)));
            }
            let rec = if step % 60 < 25 { 1.0 } else { 0.0 };
            block(&mut h, frame as usize, n, rec, 1.0, step % 2 == 0);
            if rolling {
                frame += n as i64;
                beats += n as f64 * bpm / (60.0 * RATE);
            }
        }
        assert!(h.scheduled() > 0);
    }
}

const CHILD: &str = "LOOPER_RTSAN_NEGATIVE_CHILD";

#[test]
fn negative_control_the_sanitizer_catches_the_plugins_allocation() {
    if std::env::var_os(CHILD).is_some() {
        // The worker's code (which allocates, in the plugin library) run inside a
        // realtime scope, as if run() did it: the sanitizer must stop the process.
        let mut h = Host::new(RATE, WorkerMode::Stalled);
        block(&mut h, 0, 4096, 1.0, 1.0, false);
        h.work_inside_realtime_scope();
        println!("NOT-CAUGHT");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "negative_control_the_sanitizer_catches_the_plugins_allocation",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "the child survived an allocation in a realtime scope:\n{text}"
    );
    assert!(
        text.contains("RealtimeSanitizer"),
        "no sanitizer report:\n{text}"
    );
    assert!(
        text.contains("liblooper.so"),
        "the report does not point into the plugin:\n{text}"
    );
    assert!(!text.contains("NOT-CAUGHT"));
}
