//! Ten minutes of audio recorded (faster than realtime) and read back exactly; the memory
//! held is the audio plus at most the spare pool and one chunk; after a new take and the
//! plugin's end every chunk ever made has been freed. Alone in its test binary so that
//! the process-wide counters it reads are its own.

mod support;
use looper::chunk::{pool_target, CHUNK_BYTES};
use looper::engine::tree::NODE_BYTES;
use support::*;

#[test]
fn ten_minutes_record_and_read_back_exactly() {
    const RATE: f64 = 48_000.0;
    let lib = Lib::get();
    let (made0, freed0) = lib.chunk_totals();
    assert_eq!((made0, freed0), (0, 0));
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.idle(512, 512);
    let len = (600.0 * RATE) as usize + 123;
    let block = 512;
    let mut io = vec![0.0f32; block];
    let mut i = 0;
    while i < len {
        let n = block.min(len - i);
        for (j, s) in io[..n].iter_mut().enumerate() {
            *s = sig((i + j) as u64);
        }
        h.run_in_place(&mut io[..n], 1.0, 1.0);
        i += n;
    }
    assert_eq!(h.dropouts(), 0);
    // Close, then read all ten minutes back through the output.
    let mut t = 0;
    while t < len {
        let n = block.min(len - t);
        io[..n].fill(0.0);
        h.run_in_place(&mut io[..n], 0.0, 1.0);
        for (j, &o) in io[..n].iter().enumerate() {
            if o != sig((t + j) as u64) {
                panic!(
                    "sample {} played {o}, recorded {}",
                    t + j,
                    sig((t + j) as u64)
                );
            }
        }
        t += n;
    }
    assert_eq!(h.state(), 2);
    assert!((h.control(port::LENGTH) as f64 - len as f64 / RATE).abs() < 1e-3);
    // Memory: the recorded audio, plus at most the spare pool and one chunk (plus the
    // radix index: a few 8 KiB nodes for 1,760 chunks).
    let audio = (len * 4) as f64;
    let held = h.memory_bytes();
    let spare = ((pool_target(RATE, 1) + 1) * CHUNK_BYTES + 8 * NODE_BYTES) as f64;
    assert!(
        held >= audio,
        "{held} bytes held for {audio} bytes of audio"
    );
    assert!(
        held - audio <= spare,
        "{} bytes held beyond the audio, at most {spare}",
        held - audio
    );
    eprintln!(
        "10 min at 48 kHz: {audio} bytes of audio, {held} held ({:.2} MiB beyond)",
        (held - audio) / 1048576.0
    );
    // A new take over it, one second long, with room for 64 MiB of history: the
    // old loop (110 MiB) does not fit, so it is released, not kept for undo.
    h.set(port::UNDO_MEMORY, 64.0);
    let short = RATE as usize;
    let take: Vec<f32> = (0..short).map(|k| sig(k as u64 + 999)).collect();
    for c in take.chunks(block) {
        h.run(c, 1.0, 1.0);
    }
    let out = h.run(&vec![0.0; short], 0.0, 1.0).to_vec();
    assert_eq!(out, take);
    h.idle(RATE as usize, 512); // the worker frees the old loop
    let held = h.memory_bytes();
    assert_eq!(h.control(port::LAYERS), 0.0, "no step left to undo");
    assert!(
        held <= (short * 4) as f64 + spare,
        "after the new take {held} bytes are held"
    );
    assert_rt_clean();
    drop(h);
    let (made, freed) = lib.chunk_totals();
    assert!(made as usize >= len / support::CHUNK, "{made} chunks made");
    assert_eq!(
        made, freed,
        "every chunk made has been freed at the plugin's end"
    );
    assert_eq!(vm_locked_kib(), 0, "no memory left locked");
}
