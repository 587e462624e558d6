//! Overdub, feedback, undo, redo and clear through the exported descriptors, mono and
//! stereo, with `fade` 0 (the exact behaviour), every run() and work_response() under
//! the allocation guard.

mod support;
use support::*;

const RATE: f64 = 48_000.0;

/// One block of `frames` in which `p` (a trigger) is on, then an empty one in which
/// it is off again.
fn trigger(h: &mut Host, p: u32, frames: usize) {
    h.set(p, 1.0);
    h.run(&vec![0.0; frames], 0.0, 1.0);
    h.set(p, 0.0);
    h.run(&[], 0.0, 1.0);
}

/// Plays `frames` with silence in and returns what came out: the loop from where it is,
/// the right channel (if any) appended after the left.
fn listen(h: &mut Host, frames: usize) -> Vec<f32> {
    let mut left = Vec::with_capacity(frames);
    let mut right = Vec::new();
    while left.len() < frames {
        let n = 4096.min(frames - left.len());
        left.extend_from_slice(h.run(&vec![0.0; n], 0.0, 1.0));
        right.extend_from_slice(h.out_right());
    }
    left.extend(right);
    left
}

/// Records a take of `len` frames of `f(k)` (the right channel gets -f(k)).
fn take(h: &mut Host, len: usize, f: impl Fn(usize) -> f32) {
    let input: Vec<f32> = (0..len).map(f).collect();
    for c in input.chunks(1000) {
        h.run(c, 1.0, 1.0);
    }
}

/// Overdubs one whole pass of a loop of `len` frames (from its start) with `f(k)`,
/// checking that the output is the input plus the old loop meanwhile.
fn overdub_pass(h: &mut Host, len: usize, old: &[f32], f: impl Fn(usize) -> f32) {
    h.set(port::OVERDUB, 1.0);
    let mut at = 0;
    while at < len {
        let n = 777.min(len - at);
        let input: Vec<f32> = (at..at + n).map(&f).collect();
        let out = h.run(&input, 0.0, 1.0).to_vec();
        assert_eq!(h.state(), 4, "overdubbing");
        for j in 0..n {
            assert_eq!(
                out[j],
                input[j] + old[at + j],
                "overdub output, frame {}",
                at + j
            );
        }
        if h.channels == 2 {
            for j in 0..n {
                assert_eq!(
                    h.out_right()[j],
                    -input[j] + old[len + at + j],
                    "right, frame {}",
                    at + j
                );
            }
        }
        at += n;
    }
    h.set(port::OVERDUB, 0.0);
}

fn host(channels: usize) -> Host {
    let mut h = Host::make(RATE, WorkerMode::Prompt, true, channels);
    h.idle(512, 256);
    h
}

#[test]
fn overdub_sums_exactly_and_feedback_zero_replaces_exactly() {
    for channels in [1, 2] {
        let mut h = host(channels);
        // Two chunk boundaries (stereo chunks hold half the frames).
        let len = 2 * CHUNK + 1001;
        take(&mut h, len, |k| sig(k as u64));
        let base = listen(&mut h, len);
        for k in (0..len).step_by(101) {
            assert_eq!(base[k], sig(k as u64));
        }
        let dub = |k: usize| sig(k as u64 + 1_000_000);
        overdub_pass(&mut h, len, &base, dub);
        let summed = listen(&mut h, len);
        assert_eq!(h.state(), 2);
        for k in 0..len {
            assert_eq!(summed[k], base[k] + dub(k), "{channels} ch: frame {k}");
            if channels == 2 {
                assert_eq!(summed[len + k], base[len + k] - dub(k), "right {k}");
            }
        }
        assert_eq!(h.control(port::LAYERS), 2.0, "the take and the layer");
        // Feedback 0: the pass replaces the loop with the input exactly.
        h.set(port::FEEDBACK, 0.0);
        let rep = |k: usize| sig(k as u64 + 7_000_000);
        overdub_pass(&mut h, len, &summed, rep);
        let replaced = listen(&mut h, len);
        for k in 0..len {
            assert_eq!(replaced[k], rep(k), "{channels} ch: replaced frame {k}");
            if channels == 2 {
                assert_eq!(replaced[len + k], -rep(k));
            }
        }
        // Feedback 0.5 halves the old loop (exact: a power of two).
        h.set(port::FEEDBACK, 0.5);
        overdub_pass(&mut h, len, &replaced, |_| 0.0);
        let halved = listen(&mut h, len);
        assert!((0..len).all(|k| halved[k] == 0.5 * rep(k)));
        assert_eq!(h.dropouts(), 0);
    }
    assert_rt_clean();
}

#[test]
fn an_overdub_held_across_the_wrap_keeps_adding() {
    for channels in [1, 2] {
        let mut h = host(channels);
        let len = 3000;
        take(&mut h, len, |k| sig(k as u64));
        let base = listen(&mut h, len);
        // 2.5 passes of a constant 2^-8: each pass adds it once more.
        h.set(port::OVERDUB, 1.0);
        let d = 1.0 / 256.0;
        for _ in 0..5 {
            h.run(&vec![d; len / 2], 0.0, 1.0);
        }
        h.set(port::OVERDUB, 0.0);
        // 7,500 frames later the loop plays from its middle.
        let out = listen(&mut h, len);
        for (j, &o) in out[..len].iter().enumerate() {
            let k = (j + len / 2) % len;
            let passes = if k < len / 2 { 3 } else { 2 };
            let mut want = base[k];
            for _ in 0..passes {
                want += d;
            }
            assert_eq!(o, want, "{channels} ch: frame {k}");
        }
    }
    assert_rt_clean();
}

/// The loop as it plays from its start, or None for silence with state empty.
fn snapshot(h: &mut Host, len: usize) -> Option<Vec<f32>> {
    if h.state() == 0 {
        let out = listen(h, 1000);
        assert!(out.iter().all(|&x| x == 0.0), "empty plays nothing");
        return None;
    }
    Some(listen(h, len))
}

#[test]
fn undo_and_redo_return_every_layer_bit_for_bit_through_retakes_and_clears() {
    for channels in [1, 2] {
        let mut h = host(channels);
        // Every action falls on a pass boundary, so every snapshot starts at frame 0.
        let mut states: Vec<(usize, Option<Vec<f32>>)> = vec![(0, None)];
        let mut record = |h: &mut Host, len: usize, seed: u64| {
            take(h, len, |k| sig(k as u64 + seed));
            let s = snapshot(h, len);
            states.push((len, s));
        };
        let len_a = CHUNK + 333;
        record(&mut h, len_a, 0);
        let layer = |h: &mut Host, states: &mut Vec<(usize, Option<Vec<f32>>)>, i: u64| {
            let (len, old) = states.last().cloned().unwrap();
            let old = old.unwrap();
            overdub_pass(h, len, &old, |k| sig(k as u64 * 3 + i * 1_000_003) / 64.0);
            let s = snapshot(h, len);
            assert_ne!(s.as_ref(), Some(&old), "layer {i} changed the loop");
            states.push((len, s));
        };
        for i in 0..50 {
            layer(&mut h, &mut states, i);
        }
        let len_b = 2 * CHUNK + 5;
        let record_b = |h: &mut Host, states: &mut Vec<(usize, Option<Vec<f32>>)>| {
            take(h, len_b, |k| sig(k as u64 + 555));
            let s = snapshot(h, len_b);
            states.push((len_b, s));
        };
        record_b(&mut h, &mut states);
        layer(&mut h, &mut states, 100);
        trigger(&mut h, port::CLEAR, 64);
        assert_eq!(h.state(), 0, "cleared");
        states.push((0, None));
        record_b(&mut h, &mut states);
        layer(&mut h, &mut states, 200);
        let steps = states.len() - 1;
        assert_eq!(h.control(port::LAYERS) as usize, steps);
        assert_eq!(h.control(port::REDOS), 0.0);
        // Undo all the way back to empty, then redo all the way forward.
        for i in (0..steps).rev() {
            trigger(&mut h, port::UNDO, 0);
            let (len, want) = &states[i];
            assert_eq!(
                snapshot(&mut h, *len),
                *want,
                "{channels} ch: undo to step {i}"
            );
            assert_eq!(h.control(port::LAYERS) as usize, i);
            assert_eq!(h.control(port::REDOS) as usize, steps - i);
        }
        trigger(&mut h, port::UNDO, 0);
        assert_eq!(
            h.control(port::LAYERS),
            0.0,
            "nothing before the first take"
        );
        for (i, (len, want)) in states.iter().enumerate().skip(1) {
            trigger(&mut h, port::REDO, 0);
            assert_eq!(
                snapshot(&mut h, *len),
                *want,
                "{channels} ch: redo to step {i}"
            );
        }
        // A new action after undo discards the redo steps.
        for _ in 0..3 {
            trigger(&mut h, port::UNDO, 0);
        }
        assert_eq!(h.control(port::REDOS), 3.0);
        states.truncate(steps - 3 + 1);
        layer(&mut h, &mut states, 300);
        assert_eq!(h.control(port::REDOS), 0.0);
        assert_eq!(h.control(port::LAYERS) as usize, steps - 3 + 1);
        assert_eq!(h.dropouts(), 0);
    }
    assert_rt_clean();
}

#[test]
fn undo_during_an_overdub_takes_the_layer_back_and_overdub_waits_for_its_next_edge() {
    let mut h = host(1);
    let len = 5000;
    take(&mut h, len, |k| sig(k as u64));
    let base = listen(&mut h, len);
    h.set(port::OVERDUB, 1.0);
    h.run(&vec![0.125; 2000], 0.0, 1.0);
    // Undo with overdub still held on: the layer is committed, then undone.
    h.set(port::UNDO, 1.0);
    let out = h.run(&vec![0.125; 3000], 0.0, 1.0).to_vec();
    assert_eq!(h.state(), 2, "playing, not overdubbing");
    assert_eq!(h.control(port::REDOS), 1.0);
    for j in 0..3000 {
        assert_eq!(out[j], 0.125 + base[2000 + j], "frame {j} after undo");
    }
    h.set(port::UNDO, 0.0);
    assert_eq!(listen(&mut h, len), base, "the loop as before the layer");
    h.set(port::OVERDUB, 0.0);
    h.run(&[0.0; 64], 0.0, 1.0);
    h.set(port::OVERDUB, 1.0);
    h.run(&[0.0; 64], 0.0, 1.0);
    assert_eq!(h.state(), 4, "overdubbing again after 0->1");
    assert_rt_clean();
}

#[test]
fn undo_memory_releases_the_oldest_steps_and_the_memory_comes_back() {
    for channels in [1, 2] {
        let mut h = host(channels);
        let len = RATE as usize; // 3 mono chunks, 6 stereo ones
        take(&mut h, len, |k| sig(k as u64));
        let mut snaps = vec![listen(&mut h, len)];
        for i in 0..20u64 {
            let old = snaps.last().unwrap().clone();
            overdub_pass(&mut h, len, &old, |k| sig(k as u64 + i * 77_777) / 32.0);
            snaps.push(listen(&mut h, len));
        }
        assert_eq!(h.control(port::LAYERS), 21.0);
        h.idle(RATE as usize / 2, 512);
        let before = h.memory_bytes();
        // Each layer copied every chunk of the loop and its root node.
        let chunks = len.div_ceil(CHUNK / channels);
        let per_layer = chunks * looper::chunk::CHUNK_BYTES + looper::engine::tree::NODE_BYTES;
        h.set(port::UNDO_MEMORY, 1.0);
        h.idle(RATE as usize / 2, 512);
        let kept = (1024 * 1024) / per_layer;
        assert_eq!(h.control(port::LAYERS) as usize, kept, "{channels} ch");
        // Released: the first take and the oldest layers, one layer's worth each (the
        // memory port is in MiB as an f32: a few bytes of rounding).
        let freed = before - h.memory_bytes();
        let want = ((20 - kept) * per_layer) as f64;
        assert!(
            (freed - want).abs() < 256.0,
            "{channels} ch: {freed} bytes came back, {want} expected"
        );
        // What is kept still undoes bit for bit; past it there is nothing.
        for i in (20 - kept..20).rev() {
            trigger(&mut h, port::UNDO, 0);
            assert_eq!(listen(&mut h, len), snaps[i], "{channels} ch: layer {i}");
        }
        trigger(&mut h, port::UNDO, 0);
        assert_eq!(listen(&mut h, len), snaps[20 - kept]);
    }
    assert_rt_clean();
}
