//! The play and overdub paths, undo and redo, and what an overdub layer holds, with loops
//! of 1 minute and 1 hour, mono and stereo, at 48 kHz:
//!
//! - **Play and overdub, per block**, at 64 and 256 frames, against the floor: a plain
//!   copy out of a preallocated loop (play) and a swap of the block with it (overdub: the
//!   old samples out, the input in). Each run restarts the loop at its start, so the runs
//!   are identical block for block; an overdub run is committed, then undone (the next
//!   run's layer discards it, as a user's would). `Instant` is read around each block's
//!   `accept()` + `process()`; the worker runs between blocks, untimed, as in
//!   `record_path`. Statistics: per-run median, p99.9, the code's own worst (each
//!   block's least time over the runs, then the window's largest), the raw worst, and a
//!   timer-free mean (batches of 128 blocks).
//! - **Copy-on-write**: the overdub blocks that first write into a chunk (every
//!   `frames_per_chunk / block` blocks; the layer's first block also copies the index
//!   path), against the other overdub blocks; warm (back to back) and cold (the caches
//!   cooled by writing `LOOPER_BENCH_COLD_MIB` MiB just before the block).
//! - **Undo and redo** with a 1-hour loop and 100 layers: the block in which the trigger
//!   rises, against the playing blocks between them; fades off, then the default 5 ms.
//! - **Memory after 1 s of overdub** into a 1-hour loop: the growth of the bytes held
//!   (pool refilled before and after), against the chunks the second touched plus their
//!   index path.
//!
//! Environment: LOOPER_BENCH_LAYER_REPEATS (5), LOOPER_BENCH_LAYER_WINDOW_S (20),
//! LOOPER_BENCH_LAYER_MINUTES (60), LOOPER_BENCH_COLD_MIB (64), LOOPER_BENCH_FIFO,
//! LOOPER_BENCH_OUT.

mod common;

use common::*;
use looper::chunk::{CHUNK_BYTES, CHUNK_SAMPLES};
use looper::engine::looper::{Controls, State};
use looper::engine::tree::{FANOUT, NODE_BYTES};
use std::hint::black_box;
use std::time::Instant;

const RATE: usize = 48_000;
const BLOCKS: [usize; 2] = [64, 256];
const BATCH: usize = 128;

/// What a block does: play the loop or overdub into it.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Play,
    Overdub,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Play => "play",
            Path::Overdub => "overdub",
        }
    }
}

/// Per-block statistics of one configuration over its runs.
struct Stats {
    median: f64,
    p999: f64,
    worst: f64,
    worst_raw: f64,
    batched: f64,
    bmin: Vec<u32>,
}

/// Input for `blocks` blocks of `bs` frames and `ch` channels: noise, one slice per
/// channel per block, filled outside the timed region.
struct Input {
    src: Vec<f32>,
    io: Vec<Vec<f32>>,
    batch: Vec<Vec<Vec<f32>>>,
}

impl Input {
    fn new(bs: usize, ch: usize) -> Input {
        Input {
            src: noise(3 * CHUNK_SAMPLES),
            io: (0..ch).map(|_| vec![0.0f32; bs]).collect(),
            batch: (0..BATCH)
                .map(|_| (0..ch).map(|_| vec![0.0f32; bs]).collect())
                .collect(),
        }
    }
    fn fill(src: &[f32], io: &mut [Vec<f32>], i: usize) {
        let bs = io[0].len();
        let nsrc = src.len() / bs;
        for (c, b) in io.iter_mut().enumerate() {
            let s = ((i + c * 17) % nsrc) * bs;
            b.copy_from_slice(&src[s..s + bs]);
        }
    }
}

/// One way to play/overdub a loop block by block: the looper or the flat floor.
trait Player {
    /// Puts the loop back at its start, the path's controls about to take effect.
    fn restart(&mut self, path: Path);
    fn block(&mut self, path: Path, io: &mut [Vec<f32>]);
    /// Off the audio thread, between blocks.
    fn service(&mut self) {}
    /// After a run: commit and undo an overdub layer.
    fn finish(&mut self, _path: Path) {}
}

impl Player for Rig {
    fn restart(&mut self, _path: Path) {
        self.control(&ctl(false, false, false));
        self.settle();
    }
    #[inline(never)]
    fn block(&mut self, path: Path, io: &mut [Vec<f32>]) {
        self.deliver();
        let c = ctl(false, true, path == Path::Overdub);
        self.process(&c, io);
    }
    fn service(&mut self) {
        Rig::service(self);
    }
    fn finish(&mut self, path: Path) {
        if path == Path::Overdub {
            self.control(&ctl(false, true, false));
            undo_step(self, 0.0);
        }
        self.settle();
    }
}

impl Player for FlatLoop {
    fn restart(&mut self, _path: Path) {
        self.pos = 0;
    }
    fn block(&mut self, path: Path, io: &mut [Vec<f32>]) {
        FlatLoop::block(self, path == Path::Overdub, io);
    }
}

/// [audio] One undo (a rise and fall of the trigger, in blocks of no frames).
fn undo_step(r: &mut Rig, fade: f32) {
    let mut c = Controls {
        fade,
        ..ctl(false, true, false)
    };
    c.undo = 1.0;
    r.control(&c);
    c.undo = 0.0;
    r.control(&c);
}

/// `runs` runs of `blocks` blocks, each timed, then one run timed in batches.
fn measure<P: Player>(p: &mut P, path: Path, inp: &mut Input, blocks: usize, runs: usize) -> Stats {
    let mut bmin = vec![u32::MAX; blocks];
    let mut times = vec![0u32; blocks];
    let mut scratch = Vec::with_capacity(blocks);
    let (mut med, mut p999, mut raw) = (Vec::new(), Vec::new(), 0.0f64);
    let mut duty = Duty::default();
    for _ in 0..runs {
        p.restart(path);
        for (i, t) in times.iter_mut().enumerate() {
            Input::fill(&inp.src, &mut inp.io, i);
            let t0 = Instant::now();
            p.block(path, black_box(&mut inp.io));
            *t = ns_since(t0);
            p.service();
            duty.tick();
        }
        p.finish(path);
        let d = dist(&times, &mut scratch);
        med.push(d.median);
        p999.push(d.p999);
        raw = raw.max(d.max);
        min_into(&mut bmin, &times);
    }
    // Timer-free: the same run, in batches of BATCH blocks; the median over batches.
    p.restart(path);
    let mut per = Vec::new();
    let mut i = 0;
    while i + BATCH <= blocks {
        for (j, io) in inp.batch.iter_mut().enumerate() {
            Input::fill(&inp.src, io, i + j);
        }
        let t0 = Instant::now();
        for io in inp.batch.iter_mut() {
            p.block(path, black_box(io));
        }
        per.push(t0.elapsed().as_nanos() as f64 / BATCH as f64);
        p.service();
        duty.tick();
        i += BATCH;
    }
    p.finish(path);
    Stats {
        median: median_f(&med),
        p999: median_f(&p999),
        worst: bmin.iter().copied().max().unwrap_or(0) as f64,
        worst_raw: raw,
        batched: median_f(&per),
        bmin,
    }
}

/// Cold blocks: before each measured block the caches are cooled. For the looper's
/// overdub: the layer's first block (it copies the index path and the first chunk), the
/// block that first writes the second chunk, and a block that copies nothing. Returns
/// the least and the median over `tries` (ns) for each, in that order.
fn cold_blocks<P: Player>(
    p: &mut P,
    path: Path,
    inp: &mut Input,
    fpc: usize,
    cooler: &mut Cooler,
    tries: usize,
) -> [(f64, f64); 3] {
    let bs = inp.io[0].len();
    let cross = fpc / bs; // the block that enters chunk 1
    let plain = cross / 2; // a block inside chunk 0
    let mut t = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..tries {
        p.restart(path);
        for i in 0..=cross {
            Input::fill(&inp.src, &mut inp.io, i);
            let which = if i == 0 {
                Some(0)
            } else if i == cross {
                Some(1)
            } else if i == plain {
                Some(2)
            } else {
                None
            };
            if which.is_some() {
                cooler.cool();
            }
            let t0 = Instant::now();
            p.block(path, black_box(&mut inp.io));
            let ns = ns_since(t0);
            if let Some(w) = which {
                t[w].push(ns as f64);
            }
            p.service();
        }
        p.finish(path);
    }
    t.map(|v| (min_f(&v), median_f(&v)))
}

/// The median of `bmin` over the blocks `i` for which `pick(i)` holds.
fn median_where(bmin: &[u32], pick: impl Fn(usize) -> bool) -> f64 {
    let v: Vec<u32> = bmin
        .iter()
        .enumerate()
        .filter(|&(i, _)| pick(i))
        .map(|(_, &t)| t)
        .collect();
    dist(&v, &mut Vec::new()).median
}

fn put_stats(fig: &mut Figures, key: &str, s: &Stats) {
    fig.put(format!("{key}_median_ns"), s.median);
    fig.put(format!("{key}_p999_ns"), s.p999);
    fig.put(format!("{key}_worst_ns"), s.worst);
    fig.put(format!("{key}_worst_raw_ns"), s.worst_raw);
    fig.put(format!("{key}_batched_ns"), s.batched);
}

/// Undo and redo with `layers` layers over the loop: fade 0, then 5 ms.
fn undo_redo(fig: &mut Figures, r: &mut Rig, ch: usize, layers: usize, runs: usize) {
    let tag = format!("{ch}ch");
    // Make the layers: half a second of overdub each, in blocks of 4,800 frames.
    let big = 4_800;
    let mut inp = Input::new(big, ch);
    r.restart(Path::Overdub);
    for k in 0..layers {
        for j in 0..5 {
            Input::fill(&inp.src, &mut inp.io, k * 5 + j);
            r.block(Path::Overdub, &mut inp.io);
            r.service();
        }
        r.deliver();
        r.control(&ctl(false, true, false)); // commits the layer
        r.settle();
    }
    assert!(r.lp.layers() > layers, "layers: {}", r.lp.layers());
    fig.put(format!("undo_{tag}_layers"), r.lp.layers() as f64);
    fig.put(
        format!("undo_{tag}_history_bytes"),
        r.lp.history_bytes() as f64,
    );
    fig.put(
        format!("undo_{tag}_bytes_held"),
        r.stats.bytes_held() as f64,
    );
    let bs = 64;
    let mut inp = Input::new(bs, ch);
    let between = 8; // playing blocks after each step
    for fade in [0.0f32, 5.0] {
        let ftag = if fade == 0.0 { "" } else { "_fade5" };
        let steps = 2 * layers;
        let mut step_min = vec![u32::MAX; steps];
        let mut play_min = vec![u32::MAX; steps * between];
        let mut step_t = vec![0u32; steps];
        let mut play_t = vec![0u32; steps * between];
        let mut raw = [0.0f64; 2];
        let mut duty = Duty::default();
        for _ in 0..runs {
            r.control(&Controls {
                fade,
                ..ctl(false, false, false)
            });
            r.settle();
            let mut k = 0;
            for (s, st) in step_t.iter_mut().enumerate() {
                let undo = s < layers;
                let mut c = Controls {
                    fade,
                    ..ctl(false, true, false)
                };
                if undo {
                    c.undo = 1.0;
                } else {
                    c.redo = 1.0;
                }
                Input::fill(&inp.src, &mut inp.io, s);
                r.deliver();
                let t0 = Instant::now();
                r.process(&c, black_box(&mut inp.io));
                *st = ns_since(t0);
                raw[undo as usize] = raw[undo as usize].max(*st as f64);
                r.service();
                c.undo = 0.0;
                c.redo = 0.0;
                for _ in 0..between {
                    Input::fill(&inp.src, &mut inp.io, k);
                    r.deliver();
                    let t0 = Instant::now();
                    r.process(&c, black_box(&mut inp.io));
                    play_t[k] = ns_since(t0);
                    r.service();
                    k += 1;
                }
                duty.tick();
            }
            assert_eq!(r.lp.redos(), 0);
            min_into(&mut step_min, &step_t);
            min_into(&mut play_min, &play_t);
        }
        let med = |v: &[u32]| dist(v, &mut Vec::new()).median;
        let worst = |v: &[u32]| v.iter().copied().max().unwrap_or(0) as f64;
        let (u, rd) = step_min.split_at(layers);
        let key = format!("undo_{tag}_1h{ftag}");
        fig.put(format!("{key}_undo_median_ns"), med(u));
        fig.put(format!("{key}_undo_worst_ns"), worst(u));
        fig.put(format!("{key}_undo_worst_raw_ns"), raw[1]);
        fig.put(format!("{key}_redo_median_ns"), med(rd));
        fig.put(format!("{key}_redo_worst_ns"), worst(rd));
        fig.put(format!("{key}_redo_worst_raw_ns"), raw[0]);
        fig.put(format!("{key}_play_median_ns"), med(&play_min));
        // The first playing block after a step (with a fade: the crossfade's first).
        let first: Vec<u32> = play_min.iter().copied().step_by(between).collect();
        fig.put(format!("{key}_after_step_median_ns"), med(&first));
        fig.put(format!("{key}_play_worst_ns"), worst(&play_min));
        eprintln!(
            "undo/redo {ch} ch, 1 h, {layers} layers, fade {fade} ms: undo block median {:.0} ns (worst {:.0}), redo {:.0} ns (worst {:.0}); playing block {:.0} ns; first block after a step {:.0} ns",
            med(u), worst(u), med(rd), worst(rd), med(&play_min), med(&first)
        );
    }
}

/// The bytes an overdub of `frames` from frame 0 must hold: the chunks it touches and
/// their index path (the root and the leaves under it, for a tree of height 2; the root
/// alone for height 1).
fn expected_layer_bytes(frames: usize, fpc: usize, loop_chunks: usize) -> (usize, usize) {
    let chunks = frames.div_ceil(fpc);
    let nodes = if loop_chunks <= 1 {
        0
    } else if loop_chunks <= FANOUT {
        1
    } else {
        1 + chunks.div_ceil(FANOUT)
    };
    (chunks, nodes)
}

/// Memory after one second of overdub from the loop's start, 64-frame blocks.
fn layer_memory(fig: &mut Figures, r: &mut Rig, ch: usize, tag: &str) {
    // Leave no redo step to be freed during the measurement: an empty layer discards it.
    r.control(&ctl(false, true, true));
    r.control(&ctl(false, true, false));
    for _ in 0..4 {
        r.control(&ctl(false, true, false)); // sweeps a discarded version per block
    }
    r.restart(Path::Overdub);
    let held0 = r.stats.bytes_held();
    let hist0 = r.lp.history_bytes();
    let bs = 64;
    let mut inp = Input::new(bs, ch);
    for i in 0..RATE / bs {
        Input::fill(&inp.src, &mut inp.io, i);
        r.block(Path::Overdub, &mut inp.io);
        r.service();
    }
    assert_eq!(r.lp.state(), State::Overdubbing);
    r.deliver();
    r.control(&ctl(false, true, false));
    r.settle();
    let held1 = r.stats.bytes_held();
    let hist1 = r.lp.history_bytes();
    let fpc = CHUNK_SAMPLES / ch;
    let loop_chunks = r.lp.len().div_ceil(fpc);
    let (chunks, nodes) = expected_layer_bytes(RATE, fpc, loop_chunks);
    let expected = chunks * CHUNK_BYTES + nodes * NODE_BYTES;
    let key = format!("layer_mem_{tag}");
    fig.put(
        format!("{key}_held_growth_bytes"),
        held1 as f64 - held0 as f64,
    );
    fig.put(
        format!("{key}_history_growth_bytes"),
        hist1 as f64 - hist0 as f64,
    );
    fig.put(format!("{key}_expected_bytes"), expected as f64);
    fig.put(format!("{key}_expected_chunks"), chunks as f64);
    fig.put(format!("{key}_expected_nodes"), nodes as f64);
    fig.put(
        format!("{key}_ratio"),
        (held1 as f64 - held0 as f64) / expected as f64,
    );
    eprintln!(
        "memory after 1 s of overdub, {tag}: held +{} B, history +{} B; expected {} B ({chunks} chunks + {nodes} nodes)",
        held1 as i64 - held0 as i64,
        hist1 as i64 - hist0 as i64,
        expected
    );
    undo_step(r, 0.0);
    r.settle();
}

fn main() {
    if !benchmarking() {
        return;
    }
    let runs = env_f64("LOOPER_BENCH_LAYER_REPEATS", 5.0).max(1.0) as usize;
    let window_s = env_f64("LOOPER_BENCH_LAYER_WINDOW_S", 20.0).max(1.0) as usize;
    let long_min = (env_f64("LOOPER_BENCH_LAYER_MINUTES", 60.0) as usize).clamp(2, 60);
    let cold_mib = env_f64("LOOPER_BENCH_COLD_MIB", 64.0).max(1.0) as usize;
    let place = place_thread();
    eprintln!(
        "layers: {runs} run(s) of {window_s} s per path, loops of 1 and {long_min} min; pinned to cpu {}, SCHED_FIFO {}",
        place.cpu, place.fifo
    );
    let mut fig = Figures::default();
    fig.put("layers_runs", runs as f64);
    fig.put("layers_window_seconds", window_s as f64);
    fig.put("layers_long_minutes", long_min as f64);
    fig.put("layers_cold_mib", cold_mib as f64);
    let lengths = [1usize, long_min];
    let t_all = Instant::now();
    // The floor's loop: the longest, stereo; shorter ones use its start.
    let flat_mem = prealloc_f32(long_min * 60 * RATE * 2);
    let mut cooler = Cooler::new(cold_mib << 20);
    let src = noise(3 * CHUNK_SAMPLES);
    for ch in [1usize, 2] {
        let fpc = CHUNK_SAMPLES / ch;
        for &len_min in &lengths {
            let frames = len_min * 60 * RATE;
            let t = Instant::now();
            let mut rig = Rig::with_channels(RATE as f64, ch);
            rig.record_loop(frames, &src);
            eprintln!(
                "{ch} ch, {len_min} min loop recorded in {:.1} s ({:.0} MiB held)",
                t.elapsed().as_secs_f64(),
                rig.stats.bytes_held() as f64 / 1048576.0
            );
            let lt = if len_min == 1 {
                "1min".to_string()
            } else {
                format!("{len_min}min")
            };
            for &bs in &BLOCKS {
                let blocks = window_s * RATE / bs;
                let mut inp = Input::new(bs, ch);
                for path in [Path::Play, Path::Overdub] {
                    let mut flat = FlatLoop::new(flat_mem, frames, ch);
                    let key = format!("{}_{ch}ch_{bs}_{lt}", path.name());
                    let copies0 = rig.lp.chunk_copies();
                    let lo = measure(&mut rig, path, &mut inp, blocks, runs);
                    let copies1 = rig.lp.chunk_copies();
                    let fl = measure(&mut flat, path, &mut inp, blocks, runs);
                    put_stats(&mut fig, &format!("looper_{key}"), &lo);
                    put_stats(&mut fig, &format!("memcpy_{key}"), &fl);
                    fig.put(format!("ratio_batched_{key}"), lo.batched / fl.batched);
                    eprintln!(
                        "{key:<22} looper: median {:>6.0} p99.9 {:>6.0} worst {:>7.0} (raw {:>7.0}) batched {:>6.1} | memcpy: median {:>6.0} worst {:>7.0} batched {:>6.1} ns",
                        lo.median, lo.p999, lo.worst, lo.worst_raw, lo.batched, fl.median, fl.worst, fl.batched
                    );
                    if path == Path::Overdub {
                        // Copy-on-write: blocks that start a chunk (block 0 also copies
                        // the index path), against the others.
                        let per = fpc / bs;
                        let b = &lo.bmin;
                        fig.put(format!("cow_{key}_first_block_ns"), b[0] as f64);
                        fig.put(
                            format!("cow_{key}_chunk_block_median_ns"),
                            median_where(b, |i| i > 0 && i % per == 0),
                        );
                        fig.put(
                            format!("cow_{key}_other_block_median_ns"),
                            median_where(b, |i| i % per != 0),
                        );
                        fig.put(
                            format!("cow_{key}_chunk_block_worst_ns"),
                            b.iter()
                                .enumerate()
                                .filter(|&(i, _)| i > 0 && i % per == 0)
                                .map(|(_, &t)| t)
                                .max()
                                .unwrap_or(0) as f64,
                        );
                        // Chunks copied ahead (a slice a block) and whole (in one
                        // block) over the runs and the batched run.
                        let ahead = copies1.0.saturating_sub(copies0.0);
                        let whole = copies1.1.saturating_sub(copies0.1);
                        fig.put(format!("cow_{key}_chunks_copied_ahead"), ahead as f64);
                        fig.put(format!("cow_{key}_chunks_copied_whole"), whole as f64);
                        fig.put(format!("cow_{key}_layers"), (runs + 1) as f64);
                        let fb = &fl.bmin;
                        fig.put(
                            format!("cow_{key}_memcpy_block_median_ns"),
                            median_where(fb, |_| true),
                        );
                        // Cold: caches cooled before the block.
                        let tries = 15;
                        let c = cold_blocks(&mut rig, path, &mut inp, fpc, &mut cooler, tries);
                        let f = cold_blocks(&mut flat, path, &mut inp, fpc, &mut cooler, tries);
                        for (i, what) in ["first_block", "chunk_block", "plain_block"]
                            .iter()
                            .enumerate()
                        {
                            fig.put(format!("cold_{key}_{what}_min_ns"), c[i].0);
                            fig.put(format!("cold_{key}_{what}_median_ns"), c[i].1);
                        }
                        fig.put(format!("cold_{key}_memcpy_block_median_ns"), f[2].1);
                        fig.put(format!("cold_{key}_memcpy_block_min_ns"), f[2].0);
                        eprintln!(
                            "{key:<22} copy-on-write: first block {} ns, chunk block {:.0} ns, others {:.0} ns; chunks copied ahead {ahead}, whole {whole} in {} layers; cold (median of {tries}): first {:.0}, chunk {:.0}, plain {:.0}, memcpy {:.0} ns",
                            b[0],
                            fig.get(&format!("cow_{key}_chunk_block_median_ns")).unwrap(),
                            fig.get(&format!("cow_{key}_other_block_median_ns")).unwrap(),
                            runs + 1,
                            c[0].1, c[1].1, c[2].1, f[2].1
                        );
                    } else {
                        let tries = 15;
                        let c = cold_blocks(&mut rig, path, &mut inp, fpc, &mut cooler, tries);
                        let f = cold_blocks(&mut flat, path, &mut inp, fpc, &mut cooler, tries);
                        fig.put(format!("cold_{key}_plain_block_median_ns"), c[2].1);
                        fig.put(format!("cold_{key}_plain_block_min_ns"), c[2].0);
                        fig.put(format!("cold_{key}_memcpy_block_median_ns"), f[2].1);
                        fig.put(format!("cold_{key}_memcpy_block_min_ns"), f[2].0);
                    }
                }
            }
            if len_min == long_min {
                layer_memory(&mut fig, &mut rig, ch, &format!("{ch}ch_{lt}"));
                undo_redo(&mut fig, &mut rig, ch, 100, runs);
            }
            fig.put(
                format!("loop_{ch}ch_{lt}_dropouts"),
                rig.lp.dropouts() as f64,
            );
            drop(rig);
        }
    }
    // The target: worst block at the long loop within 1.5x of the worst at 1 min.
    let mut growth_max = 0.0f64;
    for path in ["play", "overdub"] {
        for ch in [1, 2] {
            for bs in BLOCKS {
                let g = |m: &str| {
                    fig.get(&format!("looper_{path}_{ch}ch_{bs}_{m}_worst_ns"))
                        .unwrap_or(f64::NAN)
                };
                let r = g(&format!("{long_min}min")) / g("1min");
                fig.put(format!("target_{path}_{ch}ch_{bs}_worst_growth"), r);
                growth_max = growth_max.max(r);
            }
        }
    }
    fig.put("target_layers_worst_growth_max", growth_max);
    fig.put(
        "target_layers_worst_growth_met",
        (growth_max <= 1.5) as u8 as f64,
    );
    fig.put("layers_wall_s", t_all.elapsed().as_secs_f64());
    let path = fig.write("layers.json");
    eprintln!(
        "layers: worst-block growth 1 min -> {long_min} min: max {growth_max:.2}x; {:.0} s; wrote {}",
        t_all.elapsed().as_secs_f64(),
        path.display()
    );
}
