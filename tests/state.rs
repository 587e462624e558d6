//! The loop saved with the session and restored: through the exported descriptors and
//! the plugin's `state:interface`, mono and stereo, with the path features a lilv host
//! (Ardour, jalv) or Carla offers, or none; every run() under the allocation guard.

mod support;
use support::state::{self, Offer};
use support::*;

const RATE: f64 = 48_000.0;

/// Records a take of `len` frames of `f(k)` (the stereo host's right input is -f(k)),
/// then keeps playing silence for `after` frames (the take's tail is recorded then).
fn take(h: &mut Host, len: usize, after: usize, f: impl Fn(usize) -> f32) {
    let input: Vec<f32> = (0..len).map(f).collect();
    for c in input.chunks(1000) {
        h.run(c, 1.0, 1.0);
    }
    h.run(&vec![0.0; after], 0.0, 1.0);
}

/// Plays `frames` of silence and returns the output, right channel after left.
fn listen(h: &mut Host, frames: usize, block: usize) -> Vec<f32> {
    let (mut l, mut r) = (Vec::new(), Vec::new());
    while l.len() < frames {
        let n = block.min(frames - l.len());
        l.extend_from_slice(h.run(&vec![0.0; n], 0.0, 1.0));
        r.extend_from_slice(h.out_right());
    }
    l.extend(r);
    l
}

/// A loop with a tail and an overdub layer, in a host with `fade` ms of declicks.
fn a_loop(channels: usize, len: usize, fade: f32) -> Host {
    let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
    h.set(port::FADE, fade);
    take(&mut h, len, 2000, |k| sig(k as u64));
    // One overdub pass over part of the loop.
    h.set(port::OVERDUB, 1.0);
    let dub: Vec<f32> = (0..len / 2).map(|k| 0.25 * sig(k as u64 + 999)).collect();
    for c in dub.chunks(512) {
        h.run(c, 0.0, 1.0);
    }
    h.set(port::OVERDUB, 0.0);
    listen(&mut h, 4000, 256);
    assert_eq!(h.control(port::LAYERS), 2.0);
    h
}

/// Stops and restarts playback in both hosts, then checks they play the same, sample for
/// sample, for `passes` passes of the loop (the seam's crossfade included).
fn same_playback(a: &mut Host, b: &mut Host, len: usize, passes: usize) {
    for h in [&mut *a, &mut *b] {
        h.run(&vec![0.0; 300], 0.0, 0.0); // play off: fades out
        h.run(&vec![0.0; 6000], 0.0, 0.0);
    }
    let frames = len * passes + 123;
    let (x, y) = (listen(a, frames, 300), listen(b, frames, 300));
    assert!(x.iter().any(|v| *v != 0.0), "the loop plays");
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        assert_eq!(
            p.to_bits(),
            q.to_bits(),
            "restored loop differs at output frame {i}"
        );
    }
}

fn round_trip(channels: usize, offer: impl Fn(&std::path::Path) -> Offer) {
    let dir = tempfile::tempdir().unwrap();
    let len = 50_000;
    let mut a = a_loop(channels, len, 5.0);
    let (status, saved) = a.save_state(&offer(dir.path()));
    assert_eq!(status, 0);
    assert_eq!(saved.int("length"), Some(len as i64));
    assert_eq!(saved.int("channels"), Some(channels as i64));
    assert_eq!(saved.int("playing"), Some(1));
    let mut b = Host::make(RATE, WorkerMode::Prompt, true, channels);
    b.set(port::FADE, 5.0);
    assert_eq!(b.restore_state(&saved, &offer(dir.path())), 0);
    b.run(&[0.0; 64], 0.0, 1.0);
    assert_eq!(b.control(port::LENGTH), (len as f64 / RATE) as f32);
    assert_eq!(b.state(), 2, "the restored loop plays");
    // A restored loop is one step: one undo empties the looper.
    assert_eq!(
        (b.control(port::LAYERS), b.control(port::REDOS)),
        (1.0, 0.0)
    );
    same_playback(&mut a, &mut b, len, 3);
    b.set(port::UNDO, 1.0);
    b.run(&[0.0; 64], 0.0, 1.0);
    assert_eq!(b.state(), 0, "undo after a restore returns to empty");
    assert!(a.log().is_empty() && b.log().is_empty(), "{:?}", b.log());
    assert_rt_clean();
}

#[test]
fn a_mono_loop_with_a_layer_comes_back_sample_for_sample() {
    round_trip(1, Offer::lilv);
}

#[test]
fn a_stereo_loop_with_a_layer_comes_back_sample_for_sample() {
    round_trip(2, Offer::lilv);
}

#[test]
fn carla_sizes_without_the_nul_are_taken() {
    round_trip(2, Offer::carla);
}

#[test]
fn without_map_path_the_absolute_path_is_kept() {
    round_trip(1, |d| Offer {
        map_path: false,
        ..Offer::lilv(d)
    });
}

#[test]
fn without_make_path_the_audio_is_kept_in_the_state() {
    round_trip(2, |_| Offer::none());
}

#[test]
fn the_file_is_a_float_wav_of_the_loop_and_its_tail_in_the_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    let len = 30_000;
    let mut h = Host::make(RATE, WorkerMode::Prompt, true, 2);
    h.set(port::FADE, 10.0);
    take(&mut h, len, 2000, |k| sig(k as u64));
    let (status, saved) = h.save_state(&Offer::lilv(dir.path()));
    assert_eq!(status, 0);
    let p = saved.get("audio").expect("a path");
    assert_eq!(
        p.value, b"loop.wav\0",
        "the abstract path, relative to the state folder"
    );
    let mut r = hound::WavReader::open(dir.path().join("loop.wav")).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 48_000, 32)
    );
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    let tail = (10.0 * RATE / 1000.0) as usize;
    assert_eq!(
        r.duration() as usize,
        len + tail,
        "the loop and the seam's tail"
    );
    let s: Vec<f32> = r.samples::<f32>().map(Result::unwrap).collect();
    for k in 0..len {
        assert_eq!(
            (s[2 * k], s[2 * k + 1]),
            (sig(k as u64), -sig(k as u64)),
            "frame {k}"
        );
    }
    for k in len..len + tail {
        assert_eq!(s[2 * k], 0.0, "the tail: the silence after the take");
    }
    drop(h);
    // Every string the host made for the plugin was freed with freePath.
    use std::sync::atomic::Ordering::Relaxed;
    let (m, f) = (
        state::PATHS_MADE.load(Relaxed),
        state::PATHS_FREED.load(Relaxed),
    );
    assert!(m >= 2 && f >= 2, "made {m}, freed {f}");
}

#[test]
fn an_empty_looper_saves_no_audio_and_restores_as_a_clear() {
    let dir = tempfile::tempdir().unwrap();
    let e = Host::new(RATE, WorkerMode::Prompt);
    let (status, saved) = e.save_state(&Offer::lilv(dir.path()));
    assert_eq!(status, 0);
    assert_eq!(saved.int("length"), Some(0));
    assert!(saved.get("audio").is_none() && saved.get("inline").is_none());
    assert!(!dir.path().join("loop.wav").exists());
    // Restored over a loop, it clears it, as one step.
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    take(&mut h, 10_000, 64, |k| sig(k as u64));
    assert_eq!(h.restore_state(&saved, &Offer::lilv(dir.path())), 0);
    h.run(&[0.0; 64], 0.0, 1.0);
    assert_eq!(h.state(), 0);
    h.set(port::UNDO, 1.0);
    h.run(&[0.0; 64], 0.0, 1.0);
    assert_eq!(h.state(), 2, "undo brings the loop back");
    assert_rt_clean();
}

#[test]
fn a_stopped_loop_comes_back_stopped_and_a_mono_loop_fills_both_channels() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    take(&mut h, 20_000, 64, |k| sig(k as u64));
    h.run(&[0.0; 64], 0.0, 0.0);
    assert_eq!(h.state(), 3);
    let (_, mut saved) = h.save_state(&Offer::lilv(dir.path()));
    assert_eq!(saved.int("playing"), Some(0));
    // The mono state into the stereo looper: both channels get it.
    saved.set("channels", "Int", 1i32.to_ne_bytes().to_vec());
    let mut s = Host::stereo(RATE, WorkerMode::Prompt);
    assert_eq!(s.restore_state(&saved, &Offer::lilv(dir.path())), 0);
    s.run(&[0.0; 64], 0.0, 0.0);
    assert_eq!(s.state(), 3, "stopped, as saved");
    let out = {
        s.run(&[0.0; 64], 0.0, 1.0); // play 0->1 starts it
        let mut l = s.run(&[0.0; 64], 0.0, 1.0).to_vec();
        l.extend_from_slice(s.out_right());
        l
    };
    for k in 0..64 {
        assert_eq!(out[k], sig(64 + k as u64));
        assert_eq!(
            out[64 + k],
            sig(64 + k as u64),
            "the right channel gets the mono loop"
        );
    }
    assert_rt_clean();
}

#[test]
fn a_loop_too_long_to_keep_inline_is_not_saved_and_the_log_says_so_once() {
    let mut h = Host::stereo(RATE, WorkerMode::Prompt);
    // 16 MiB of stereo float is 2,097,152 frames: record a little more.
    let len = 2_100_000;
    let block = vec![0.1f32; 8192];
    let mut done = 0;
    while done < len {
        let n = 8192.min(len - done);
        h.run(&block[..n], 1.0, 1.0);
        done += n;
    }
    h.run(&[0.0; 64], 0.0, 1.0);
    for _ in 0..2 {
        let (status, saved) = h.save_state(&Offer::none());
        assert_eq!(status, 0);
        assert_eq!(saved.int("length"), Some(0));
        assert!(saved.get("inline").is_none());
    }
    let log = h.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].1.contains("state:makePath"), "{}", log[0].1);
    assert_rt_clean();
}

/// Reads a saved loop.wav: (channels, frames as interleaved samples).
fn read_wav(path: &std::path::Path) -> (usize, Vec<f32>) {
    let r = hound::WavReader::open(path).unwrap();
    let ch = r.spec().channels as usize;
    (ch, r.into_samples::<f32>().map(Result::unwrap).collect())
}

/// Runs `audio` on this thread (blocks through the descriptor) until a saver thread
/// has saved `saves` times into folders of its own; returns every save's folder and
/// what it stored.
fn save_while(
    h: &mut Host,
    saves: usize,
    mut audio: impl FnMut(&mut Host, usize),
) -> Vec<(tempfile::TempDir, state::Saved)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let saver = h.saver();
    let flag = std::sync::Arc::clone(&done);
    let t = std::thread::spawn(move || {
        let mut out = Vec::new();
        for _ in 0..saves {
            let dir = tempfile::tempdir().unwrap();
            let (status, saved) = saver.save(&Offer::lilv(dir.path()));
            assert_eq!(status, 0);
            out.push((dir, saved));
        }
        flag.store(true, Ordering::Release);
        out
    });
    // Paced (about 60 times realtime for 300-frame blocks), so that the loop does not
    // grow by gigabytes while a save writes it.
    let mut block = 0;
    while !done.load(Ordering::Acquire) {
        audio(h, block);
        block += 1;
        std::thread::sleep(std::time::Duration::from_micros(100));
        assert!(block < 200_000, "the saver never finished");
    }
    t.join().unwrap()
}

#[test]
fn saves_while_a_take_is_recorded_each_hold_the_take_as_it_was_at_one_block() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        let mut at = 0u64;
        let saves = save_while(&mut h, 40, |h, _| {
            let input: Vec<f32> = (at..at + 300).map(sig).collect();
            h.run(&input, 1.0, 1.0);
            at += 300;
        });
        assert_eq!(h.state(), 1, "still recording");
        let mut last = 0;
        for (dir, saved) in &saves {
            let len = saved.int("length").unwrap() as usize;
            assert!(len >= last && len > 0, "lengths grow: {last} then {len}");
            assert_eq!(len % 300, 0, "a block boundary");
            last = len;
            let (ch, s) = read_wav(&dir.path().join("loop.wav"));
            assert_eq!(
                (ch, s.len()),
                (channels, len * channels),
                "no tail while recording"
            );
            for k in 0..len {
                assert_eq!(s[k * ch], sig(k as u64), "frame {k} of a take of {len}");
                if ch == 2 {
                    assert_eq!(s[k * ch + 1], -sig(k as u64));
                }
            }
        }
        assert!(last < at as usize, "saved during the take, not after it");
    }
    assert_rt_clean();
}

#[test]
fn saves_while_overdubbing_each_hold_the_layer_up_to_one_block() {
    for channels in [1, 2] {
        let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
        let len = 200_000;
        take(&mut h, len, 0, |k| sig(k as u64));
        // The layer starts at the loop's position now and runs for most of a pass.
        let start = (h.control(port::POSITION) as f64 * len as f64).round() as usize;
        h.set(port::OVERDUB, 1.0);
        let dub = |k: usize| 0.5 * sig(k as u64 + 7_777);
        let mut written = 0usize;
        let saves = save_while(&mut h, 25, |h, _| {
            let n = 256;
            let on = written + n < len * 9 / 10;
            h.set(port::OVERDUB, if on { 1.0 } else { 0.0 });
            let input: Vec<f32> = (written..written + n).map(dub).collect();
            h.run(&input, 0.0, 1.0);
            if on {
                written += n;
            }
        });
        assert!(written < len * 9 / 10, "saved while the layer was open");
        let mut last = 0;
        for (dir, saved) in &saves {
            assert_eq!(saved.int("length"), Some(len as i64));
            let (ch, s) = read_wav(&dir.path().join("loop.wav"));
            assert_eq!(s.len(), len * ch);
            // The layer's frames so far, from its start: base + dub; the rest: base.
            let mut dubbed = 0;
            while dubbed < len {
                let k = (start + dubbed) % len;
                let base = sig(k as u64);
                if s[k * ch] == base {
                    break;
                }
                assert_eq!(s[k * ch], base + dub(dubbed), "layer frame {dubbed}");
                if ch == 2 {
                    assert_eq!(s[k * ch + 1], -base - dub(dubbed));
                }
                dubbed += 1;
            }
            for d in dubbed..len {
                let k = (start + d) % len;
                assert_eq!(s[k * ch], sig(k as u64), "not yet overdubbed at {d}");
            }
            assert_eq!(dubbed % 256, 0, "a block boundary");
            assert!(dubbed >= last, "layers grow: {last} then {dubbed}");
            last = dubbed;
        }
        assert!(last > 0, "some save saw the layer");
    }
    assert_rt_clean();
}
