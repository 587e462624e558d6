//! A panic inside the plugin's processing stays on this side of the C boundary: the
//! block is muted, the loop and the plugin go on, and the worker reports it through the
//! host's log. Alone in its binary: the panic's own allocations would show in the
//! allocation guard's process-wide count that the other suites assert is zero.

mod support;
use support::*;

#[test]
fn a_panic_in_run_is_caught_muted_counted_and_reported() {
    let rate = 48_000.0;
    let mut h = Host::new(rate, WorkerMode::Prompt);
    let len = 3000;
    record_take(&mut h, len, 500, false);
    assert_loops(&mut h, len, 1000, 500, false);
    Lib::get().inject_panic();
    let out = h.run(&[0.5; 256], 0.0, 1.0).to_vec();
    assert_eq!(out, vec![0.0; 256], "the block that panicked is muted");
    // The plugin goes on: the loop plays on from where it was.
    let out = h.run(&vec![0.0; 2000], 0.0, 0.0).to_vec();
    assert_eq!(out, vec![0.0; 2000], "play off still silences");
    assert_loops(&mut h, len, 2 * len, 500, false);
    h.idle((0.5 * rate) as usize, 512); // the report goes out with the next request
    let log: String = h.log().into_iter().map(|(_, m)| m).collect();
    assert!(
        log.contains("internal error on the audio thread (1 so far)"),
        "reported: {log:?}"
    );
}
