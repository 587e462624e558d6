//! RealtimeSanitizer over the real library loaded through dlopen: every `run()` and
//! `work_response()` inside a realtime scope, over every control path, pool exhaustion
//! and recovery, a late worker, a full worker ring and a freewheeling host. Any malloc,
//! free, lock or blocking syscall inside a scope aborts the process with a report.
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
