//! Fault injection: a worker late by 0.1, 1 and 5 seconds; the worker's allocations
//! refused; every sample rate from 22,050 to 192,000 Hz. No crash, no panic across the C
//! boundary, and `dropouts` matches exactly what the loop lacks. (A stopped and resumed
//! worker, a full worker ring, refused `mlock`, odd control values and 0- and 1-frame
//! blocks are in descriptor.rs, memlock.rs and rtsan.rs.)

mod support;
use looper::chunk::pool_target;
use support::*;

/// Records `total` samples in 256-frame blocks; closes; checks the loop is the input
/// less `dropouts` samples, left out at chunk boundaries only; returns the dropouts.
fn record_and_account(h: &mut Host, total: usize) -> u64 {
    record_take(h, total, 256, true);
    let lost = h.dropouts();
    let len = total - lost as usize;
    let played = play_once(h, len);
    assert_eq!(
        lost_samples(&played, total),
        lost,
        "dropouts match what the loop lacks"
    );
    assert_eq!(
        *played.last().unwrap(),
        sig(total as u64 - 1),
        "recording resumed: the take's last sample is in the loop"
    );
    lost
}

#[test]
fn a_worker_late_by_a_tenth_or_a_whole_second_loses_nothing() {
    let _s = serial();
    for late in [0.1, 1.0] {
        let rate = 48_000.0;
        let mut h = Host::new(rate, WorkerMode::Late((late * rate) as u64));
        let len = (10.0 * rate) as usize + 5;
        record_take(&mut h, len, 256, true);
        assert_eq!(h.dropouts(), 0, "worker {late} s late");
        assert_loops(&mut h, len, len + 999, 256, true);
    }
    assert_rt_clean();
}

#[test]
fn a_worker_late_by_five_seconds_costs_exactly_what_is_counted() {
    let _s = serial();
    let rate = 48_000.0;
    let mut h = Host::new(rate, WorkerMode::Late((5.0 * rate) as u64));
    let lost = record_and_account(&mut h, (14.0 * rate) as usize);
    assert!(lost > 0, "a 5 s late worker outruns a 2 s pool");
    let log: String = h.log().into_iter().map(|(_, m)| m).collect();
    assert!(log.contains("could not be recorded"), "reported: {log:?}");
    assert_rt_clean();
}

#[test]
fn refused_allocations_are_handled_counted_and_reported() {
    let _s = serial();
    let lib = Lib::get();
    let rate = 48_000.0;
    let mut h = Host::new(rate, WorkerMode::Prompt);
    // A few refusals: the pool absorbs them, nothing is lost.
    lib.inject_alloc_failures(3);
    let lost = record_and_account(&mut h, (5.0 * rate) as usize);
    assert_eq!(lost, 0);
    let log: String = h.log().into_iter().map(|(_, m)| m).collect();
    assert!(
        log.contains("refused memory for 3 chunk(s)"),
        "reported: {log:?}"
    );
    // Memory runs out for a while: the pool drains, then samples are counted, then
    // recording resumes when memory comes back.
    let mut h = Host::new(rate, WorkerMode::Prompt);
    lib.inject_alloc_failures(u64::MAX);
    let total = (6.0 * rate) as usize;
    record_take(&mut h, total / 2, 256, true);
    assert_eq!(
        h.dropouts(),
        (total / 2 - pool_target(rate, 1) * CHUNK) as u64
    );
    lib.inject_alloc_failures(0);
    // The rest of the take, and the whole check, with memory back.
    let mut i = total / 2;
    while i < total {
        let n = 256.min(total - i);
        let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
        h.run(&input, 1.0, 1.0);
        i += n;
    }
    let lost = h.dropouts();
    let played = play_once(&mut h, total - lost as usize);
    assert_eq!(lost_samples(&played, total), lost);
    assert_eq!(*played.last().unwrap(), sig(total as u64 - 1));
    assert_rt_clean();
}

#[test]
fn every_sample_rate_from_22050_to_192000() {
    let _s = serial();
    for rate in [
        22_050.0, 32_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0, 192_000.0,
    ] {
        // A worker one second late: the pool (2 s at this rate) covers it.
        let mut h = Host::new(rate, WorkerMode::Late(rate as u64));
        let len = (3.0 * rate) as usize + 123;
        record_take(&mut h, len, 512, true);
        assert_eq!(h.dropouts(), 0, "{rate} Hz");
        assert_loops(&mut h, len, len + 600, 512, true);
        let secs = h.control(port::LENGTH) as f64;
        assert!(
            (secs - len as f64 / rate).abs() < 1e-5,
            "{rate} Hz: length {secs}"
        );
    }
    assert_rt_clean();
}
