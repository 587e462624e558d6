//! The real library, loaded through `dlopen` and driven through its exported LV2
//! descriptor, by a host that runs the worker promptly, late, stalled or synchronously.
//! Every `run()` and `work_response()` runs under the library's allocation guard.

mod support;
use support::*;

const RATE: f64 = 48_000.0;

#[test]
fn loop_is_exact_for_every_block_size() {
    // Five chunk boundaries and then some, with a length that no block size divides.
    let len = 5 * CHUNK + 3 * 257 + 11;
    for &block in &[1usize, 7, 64, 257, 4096] {
        for in_place in [false, true] {
            let mut h = Host::new(RATE, WorkerMode::Prompt);
            h.idle(1024, 256);
            record_take(&mut h, len, block, in_place);
            // The first block without `record` closes the loop at exactly `len`.
            assert_loops(&mut h, len, 2 * len + 1000, block, in_place);
            assert_eq!(h.state(), 2, "playing");
            let secs = h.control(port::LENGTH) as f64;
            assert!(
                (secs - len as f64 / RATE).abs() < 1e-6 * secs,
                "length {secs} s"
            );
            assert_eq!(h.dropouts(), 0);
        }
    }
    assert_rt_clean();
}

#[test]
fn synchronous_worker_as_when_freewheeling() {
    // Both ways hosts do it: responses after run() (Synchronous), or delivered from
    // inside schedule_work, re-entrantly (Freewheel: Ardour's export). A 30 s take:
    // long enough to need many refills of the pool.
    for mode in [WorkerMode::Synchronous, WorkerMode::Freewheel] {
        let len = (30.0 * RATE) as usize + 5;
        let mut h = Host::new(RATE, mode);
        record_take(&mut h, len, 1024, true);
        assert_eq!(h.dropouts(), 0, "{mode:?}");
        assert_loops(&mut h, len, len + 5000, 1024, true);
        assert!(h.scheduled() > 80, "{mode:?}: {} requests", h.scheduled());
    }
    assert_rt_clean();
}

#[test]
fn play_off_silences_and_on_restarts_from_the_start() {
    let len = CHUNK + 100;
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(256, 256);
    record_take(&mut h, len, 256, false);
    // Play 1000 samples of the loop, then stop: output is the input alone.
    assert_loops(&mut h, len, 1000, 100, false);
    let input: Vec<f32> = (0..300).map(|k| 0.001 * k as f32).collect();
    let out = h.run(&input, 0.0, 0.0).to_vec();
    assert_eq!(out, input, "play off: output is the input alone");
    assert_eq!(h.state(), 3, "stopped");
    let pos = h.control(port::POSITION);
    assert!(
        (pos - 1000.0 / len as f32).abs() < 1e-6,
        "position {pos} holds while stopped"
    );
    // Play on again: from the loop's start, not where it stopped.
    assert_loops(&mut h, len, len + 10, 64, false);
    assert_eq!(h.state(), 2);
    assert_rt_clean();
}

#[test]
fn closing_with_play_off_waits_for_play() {
    let len = 2000;
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(256, 256);
    record_take(&mut h, len, 100, false);
    let out = h.run(&[0.0; 500], 0.0, 0.0).to_vec();
    assert!(out.iter().all(|&x| x == 0.0));
    assert_eq!(h.state(), 3, "stopped");
    assert_loops(&mut h, len, 3 * len, 128, false);
    assert_rt_clean();
}

#[test]
fn a_new_take_replaces_the_old_loop_and_its_memory() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(256, 256);
    let long = 20 * CHUNK;
    record_take(&mut h, long, 4096, false);
    h.run(&[0.0; 64], 0.0, 1.0);
    let held_long = h.memory_bytes();
    assert!(held_long >= (long * 4) as f64);
    // Second take: a different signal, shorter.
    let short = CHUNK / 2 + 3;
    let input: Vec<f32> = (0..short).map(|k| -sig(k as u64 + 7)).collect();
    h.run(&input, 1.0, 1.0);
    // Close and let the worker collect the old loop.
    let mut played = Vec::new();
    for _ in 0..(3 * short / 128 + 1) {
        played.extend_from_slice(h.run(&[0.0; 128], 0.0, 1.0));
    }
    for (t, &o) in played.iter().enumerate() {
        assert_eq!(o, input[t % short], "sample {t} of the second take");
    }
    h.idle((RATE * 0.5) as usize, 256); // the worker collects within a report interval
    let target = looper::chunk::pool_target(RATE, 1);
    let bound =
        ((1 + target) * looper::chunk::CHUNK_BYTES + 16 * looper::engine::tree::NODE_BYTES) as f64;
    // The old take is an undo step: its memory is held ...
    assert_eq!(h.control(port::LAYERS), 2.0, "two takes to undo");
    let long_take = (20 * CHUNK) as f64 * 4.0;
    assert!(
        h.memory_bytes() > bound + long_take * 0.9,
        "{} held",
        h.memory_bytes()
    );
    // ... until the history may hold nothing: then the oldest steps are released.
    h.set(port::UNDO_MEMORY, 0.0);
    h.idle((RATE * 0.5) as usize, 256);
    assert_eq!(h.control(port::LAYERS), 0.0);
    let held = h.memory_bytes();
    assert!(
        held <= bound,
        "after a short take over a long one: {held} bytes held, at most {bound}"
    );
    assert_rt_clean();
}

#[test]
fn a_late_worker_within_the_pool_loses_nothing() {
    // 1.5 s late on every request: the pool (2 s) covers it.
    let mut h = Host::new(RATE, WorkerMode::Late((1.5 * RATE) as u64));
    h.idle((2.0 * RATE) as usize, 256);
    let len = (20.0 * RATE) as usize + 77;
    record_take(&mut h, len, 256, true);
    assert_eq!(
        h.dropouts(),
        0,
        "a worker 1.5 s late must not cost a sample"
    );
    assert_loops(&mut h, len, len + 5000, 256, true);
    assert_rt_clean();
}

#[test]
fn a_stalled_worker_counts_exactly_what_is_lost_and_recording_resumes() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(1024, 256);
    let target = looper::chunk::pool_target(RATE, 1);
    h.set_mode(WorkerMode::Stalled);
    // Record 4 s with the worker stopped: the pool holds `target` chunks, no more.
    let block = 256;
    let stalled_len = (4.0 * RATE) as usize;
    let mut i = 0;
    while i < stalled_len {
        let n = block.min(stalled_len - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        assert_eq!(h.run(&input, 1.0, 1.0), &input[..]);
        i += n;
    }
    assert_eq!(
        h.dropouts(),
        (stalled_len - target * CHUNK) as u64,
        "exactly the samples past the pool are lost"
    );
    assert_eq!(h.state(), 1, "still recording");
    // The worker comes back: recording resumes within a block or two.
    h.resume();
    let more = 3 * CHUNK + 9;
    while i < stalled_len + more {
        let n = block.min(stalled_len + more - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        h.run(&input, 1.0, 1.0);
        i += n;
    }
    let lost = h.dropouts();
    let total = stalled_len + more;
    let len = total - lost as usize;
    assert_eq!(
        lost,
        (stalled_len - target * CHUNK) as u64,
        "nothing lost once the worker answers"
    );
    // Close and read the loop back through the output.
    let played = play_once(&mut h, len);
    assert_eq!(lost_samples(&played, total), lost);
    assert!((h.control(port::LENGTH) as f64 - len as f64 / RATE).abs() < 1e-4);
    let log = h
        .log()
        .into_iter()
        .map(|(_, m)| m)
        .collect::<Vec<_>>()
        .join("");
    assert!(
        log.contains(&format!("{lost} sample(s) could not be recorded")),
        "the loss is reported from the worker: {log:?}"
    );
    assert_rt_clean();
}

#[test]
fn a_worker_that_never_answers_crashes_nothing() {
    // The pool is filled at instantiation; after that no memory ever comes.
    let mut h = Host::new(RATE, WorkerMode::Stalled);
    let len = (3.0 * RATE) as usize;
    record_take(&mut h, len, 1000, false);
    let kept = looper::chunk::pool_target(RATE, 1) * CHUNK;
    assert_eq!(
        h.dropouts(),
        (len - kept) as u64,
        "every sample past the first pool is counted"
    );
    // What was kept loops, exactly.
    assert_loops(&mut h, kept, 2 * kept, 1000, false);
    // Another take: no memory at all now, so nothing is stored; the input passes.
    let out = h.run(&[0.25; 64], 1.0, 1.0).to_vec();
    assert_eq!(out, vec![0.25; 64]);
    let out = h.run(&[0.25; 64], 0.0, 1.0).to_vec();
    assert_eq!(out, vec![0.25; 64], "no loop: the input passes");
    assert_eq!(h.state(), 0, "empty");
    assert_eq!(h.dropouts(), (len - kept + 64) as u64);
    assert_rt_clean();
}

#[test]
fn nan_infinite_and_out_of_range_controls_are_safe() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(256, 256);
    for (r, p) in [
        (f32::NAN, f32::NAN),
        (f32::INFINITY, 1.0),
        (-1e30, 1.0),
        (f32::NEG_INFINITY, 7.0),
    ] {
        let out = h.run(&[0.5; 32], r, p).to_vec();
        assert!(out.iter().all(|x| x.is_finite()));
    }
    // +inf counted as on, -inf as off: a 32-sample loop was recorded and plays.
    let out = h.run(&[0.0; 64], 0.0, 1.0).to_vec();
    assert_eq!(out, vec![0.5; 64]);
    // Zero-length blocks change nothing.
    h.run(&[], 1.0, 1.0);
    assert_rt_clean();
}

#[test]
fn works_without_the_hosts_log() {
    let mut h = Host::with_log(44_100.0, WorkerMode::Prompt, false);
    h.idle(256, 256);
    record_take(&mut h, 1000, 64, false);
    assert_loops(&mut h, 1000, 2500, 64, false);
    assert_rt_clean();
}

#[test]
fn a_full_worker_ring_is_retried_and_loses_nothing() {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.set_ring_limit(0); // the host refuses every schedule_work for a second
    let first = RATE as usize;
    record_take_from(&mut h, 0, first, 128);
    let refused = h.scheduled();
    assert_eq!(refused, 0, "nothing got through a full ring");
    h.set_ring_limit(4096);
    let len = 3 * RATE as usize + 77;
    record_take_from(&mut h, first, len, 128);
    assert!(h.scheduled() > 0, "requests retried once the ring has room");
    assert_eq!(
        h.dropouts(),
        0,
        "the pool covered the second without a worker"
    );
    assert_loops(&mut h, len, len + 1000, 128, false);
    assert_rt_clean();
}

/// Records samples `[from, to)` of the test signal with `record` on.
fn record_take_from(h: &mut Host, from: usize, to: usize, block: usize) {
    let mut i = from;
    while i < to {
        let n = block.min(to - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        assert_eq!(h.run(&input, 1.0, 1.0), &input[..]);
        i += n;
    }
}
