//! The installed-style bundle loaded by a lilv-based host (`livi`), whose worker runs on
//! its own thread as well as when the test asks: record a known signal across many chunk
//! boundaries with every block size, close, play: the loop is exact.

mod support;
use livi::{EmptyPortConnections, PortIndex};
use support::*;

fn run_block(
    inst: &mut livi::Instance,
    features: &livi::Features,
    input: &[f32],
    record: f32,
    play: f32,
) -> Vec<f32> {
    run_channels(inst, features, &[input], record, play).remove(0)
}

/// One block of every channel in `inputs` (the stereo plugin's right input is `in_r`,
/// after `in_l` in port order); fade 0, for exact output. Returns each channel's output.
fn run_channels(
    inst: &mut livi::Instance,
    features: &livi::Features,
    inputs: &[&[f32]],
    record: f32,
    play: f32,
) -> Vec<Vec<f32>> {
    for (p, v) in [
        (port::RECORD, record),
        (port::PLAY, play),
        (port::FADE, 0.0),
    ] {
        inst.set_control_input(PortIndex(p as usize), v).unwrap();
    }
    let n = inputs[0].len();
    let mut outs = vec![vec![f32::NAN; n]; inputs.len()];
    // The `control` port (the host's positions): an empty sequence, as from a host
    // without a transport.
    let control = livi::event::LV2AtomSequence::new(features, 1024);
    let ports = EmptyPortConnections::new()
        .with_audio_inputs(inputs.iter().copied())
        .with_audio_outputs(outs.iter_mut().map(|o| o.as_mut_slice()))
        .with_atom_sequence_inputs(std::iter::once(&control));
    // SAFETY: the ports hold n samples, within the host's block bounds.
    unsafe { inst.run(n, ports) }.expect("run");
    // Deterministic: the work scheduled in this block is done now, its responses are
    // delivered at the start of the next run.
    features.worker_manager().run_workers();
    outs
}

#[test]
fn lilv_host_loads_the_stereo_plugin_and_loops_both_channels_exactly() {
    let _lib = Lib::get();
    let world = livi::World::with_load_bundle(&format!("file://{}/", bundle_dir().display()));
    let plugin = world.plugin_by_uri(STEREO_URI).expect("the stereo plugin");
    assert_eq!(plugin.name(), "Looper (stereo)");
    let features = world
        .try_build_features(livi::FeaturesBuilder {
            min_block_length: 1,
            max_block_length: 4096,
        })
        .unwrap();
    // SAFETY: the features outlive the instance.
    let mut inst = unsafe { plugin.instantiate(features.clone(), 48_000.0) }.expect("instantiate");
    let len = 3 * CHUNK + 555;
    let (l, r): (Vec<f32>, Vec<f32>) = (0..len as u64)
        .map(|k| (sig(k), sig(k + 1_000_003)))
        .unzip();
    for i in (0..len).step_by(300) {
        let e = (i + 300).min(len);
        let out = run_channels(&mut inst, &features, &[&l[i..e], &r[i..e]], 1.0, 1.0);
        assert_eq!((&out[0][..], &out[1][..]), (&l[i..e], &r[i..e]));
    }
    let mut t = 0;
    while t < 2 * len {
        let z = vec![0.0; 512];
        let out = run_channels(&mut inst, &features, &[&z, &z], 0.0, 1.0);
        for j in 0..512 {
            assert_eq!(out[0][j], l[(t + j) % len], "left {}", t + j);
            assert_eq!(out[1][j], r[(t + j) % len], "right {}", t + j);
        }
        t += 512;
    }
    assert_rt_clean();
}

#[test]
fn lilv_host_loops_exactly_for_every_block_size() {
    // Hold the library open, so that its guard counters outlive lilv's dlclose.
    let lib = Lib::get();
    let scopes_before = lib.rt_scopes();
    let world = livi::World::with_load_bundle(&format!("file://{}/", bundle_dir().display()));
    let plugin = world
        .plugin_by_uri(URI)
        .expect("lilv finds the plugin in the bundle");
    assert_eq!(plugin.name(), "Looper (mono)");
    let features = world
        .try_build_features(livi::FeaturesBuilder {
            min_block_length: 1,
            max_block_length: 4096,
        })
        .unwrap();
    let len = 6 * CHUNK + 1234;
    for &block in &[1usize, 7, 64, 257, 4096] {
        // SAFETY: the features outlive the instance.
        let mut inst =
            unsafe { plugin.instantiate(features.clone(), 48_000.0) }.expect("instantiate");
        let mut i = 0;
        while i < len {
            let n = block.min(len - i);
            let input: Vec<f32> = (i..i + n).map(|k| sig(k as u64)).collect();
            assert_eq!(run_block(&mut inst, &features, &input, 1.0, 1.0), input);
            i += n;
        }
        assert_eq!(
            inst.control_output(PortIndex(port::STATE as usize)),
            Some(1.0)
        );
        let mut t = 0;
        while t < 2 * len + 99 {
            let n = block.min(2 * len + 99 - t);
            let out = run_block(&mut inst, &features, &vec![0.0; n], 0.0, 1.0);
            for (j, &o) in out.iter().enumerate() {
                assert_eq!(
                    o,
                    sig(((t + j) % len) as u64),
                    "block {block}: output sample {}",
                    t + j
                );
            }
            t += n;
        }
        assert_eq!(
            inst.control_output(PortIndex(port::STATE as usize)),
            Some(2.0)
        );
        assert_eq!(
            inst.control_output(PortIndex(port::DROPOUTS as usize)),
            Some(0.0)
        );
        let secs = inst
            .control_output(PortIndex(port::LENGTH as usize))
            .unwrap() as f64;
        assert!((secs - len as f64 / 48_000.0).abs() < 1e-5, "length {secs}");
    }
    assert!(
        lib.rt_scopes() > scopes_before + 100_000,
        "lilv's calls ran under the guard"
    );
    assert_rt_clean();
}
