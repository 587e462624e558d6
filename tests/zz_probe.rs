mod support;
use support::*;
#[test]
fn probe() {
    for ch in [1, 2] {
        let mut h = if ch == 2 {
            Host::stereo(48000.0, WorkerMode::Prompt)
        } else {
            Host::new(48000.0, WorkerMode::Prompt)
        };
        let x: Vec<f32> = (0..100).map(sig).collect();
        h.run(&x, 0.0, 1.0);
        h.run(&[], 1.0, 1.0);
        println!(
            "ch {ch} after zero-len rec-on block: state {} len {}",
            h.state(),
            h.control(port::LENGTH)
        );
        h.run(&x, 1.0, 1.0);
        println!(
            "ch {ch} after 100 frames: state {} len {} drop {}",
            h.state(),
            h.control(port::LENGTH) * 48000.0,
            h.dropouts()
        );
        h.run(&x, 0.0, 1.0);
        println!(
            "ch {ch} closed: state {} len {} layers {}",
            h.state(),
            h.control(port::LENGTH) * 48000.0,
            h.control(port::LAYERS)
        );
    }
}
