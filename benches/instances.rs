//! Eighty instances of two channels recording at once (160 mono `Looper`s, each with its
//! own worker core, as 80 plugin instances would have): 48 kHz, 64-frame blocks. Every
//! block period, each looper takes what its worker delivered (`work_response`) and runs
//! `process()` with record on; the time of all 160 together is the audio thread's load
//! for the period, reported as a share of the period (64 / 48000 s = 1.333 ms). The
//! workers run after the period on the same thread, outside the timed region; their
//! total time is reported as a share of one core.
//!
//! All 160 start recording on the same block, so they cross chunk boundaries on the same
//! blocks: the worst case for the audio thread.
//!
//! Environment: LOOPER_BENCH_INST_SECONDS (default 60), LOOPER_BENCH_INST_REPEATS
//! (default 3), LOOPER_BENCH_FIFO, LOOPER_BENCH_OUT.

mod common;

use common::*;
use std::hint::black_box;
use std::time::Instant;

const RATE: usize = 48_000;
const BS: usize = 64;
const N: usize = 160;

fn main() {
    if !benchmarking() {
        return;
    }
    let seconds = env_f64("LOOPER_BENCH_INST_SECONDS", 60.0).max(1.0) as usize;
    let repeats = env_f64("LOOPER_BENCH_INST_REPEATS", 3.0).max(1.0) as usize;
    let place = place_thread();
    eprintln!(
        "instances: {N} mono loopers x {seconds} s, {BS}-frame blocks, {repeats} run(s); pinned to cpu {}, SCHED_FIFO {}",
        place.cpu, place.fifo
    );
    let period_ns = BS as f64 / RATE as f64 * 1e9;
    let periods = seconds * RATE / BS;
    let src = noise(N * 4096);
    let rec = ctl(true, true, false);
    let mut fig = Figures::default();
    let (mut med, mut p999, mut worst, mut wshare, mut mem, mut drops) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0.0f64, 0u64);
    // Each period's minimum over the runs: what the code costs in that period, without
    // the machine's interruptions (which do not fall on the same period twice).
    let mut pmin = vec![u32::MAX; periods];
    for rep in 0..repeats {
        let mut insts: Vec<Rig> = (0..N).map(|_| Rig::new(RATE as f64)).collect();
        let mut ios: Vec<Vec<f32>> = (0..N).map(|_| vec![0.0f32; BS]).collect();
        let mut times = Vec::with_capacity(periods);
        let mut worker_ns = 0u128;
        let mut duty = Duty::default();
        let wall = Instant::now();
        for p in 0..periods {
            for (i, io) in ios.iter_mut().enumerate() {
                let s = ((p * 7 + i * 131) * BS) % (src.len() - BS);
                io.copy_from_slice(&src[s..s + BS]);
            }
            let t0 = Instant::now();
            for (inst, io) in insts.iter_mut().zip(ios.iter_mut()) {
                inst.deliver();
                inst.lp.process(&rec, &mut [black_box(&mut io[..])]);
            }
            times.push(ns_since(t0));
            let t1 = Instant::now();
            for inst in insts.iter_mut() {
                inst.service();
            }
            worker_ns += t1.elapsed().as_nanos();
            duty.tick();
        }
        let wall_s = wall.elapsed().as_secs_f64();
        let d = dist(&times, &mut Vec::new());
        for (m, t) in pmin.iter_mut().zip(&times) {
            *m = (*m).min(*t);
        }
        let held: usize = insts.iter().map(|x| x.stats.bytes_held()).sum();
        let dr: u64 = insts.iter().map(|x| x.lp.dropouts()).sum();
        let share = worker_ns as f64 / (seconds as f64 * 1e9);
        eprintln!(
            "run {}: per period median {:.1} us ({:.2} %), p99.9 {:.1} us ({:.2} %), worst {:.1} us ({:.2} %); workers {:.1} % of a core; {:.0} MiB held; {:.1} s wall",
            rep + 1,
            d.median / 1e3,
            d.median / period_ns * 100.0,
            d.p999 / 1e3,
            d.p999 / period_ns * 100.0,
            d.max / 1e3,
            d.max / period_ns * 100.0,
            share * 100.0,
            held as f64 / 1048576.0,
            wall_s
        );
        med.push(d.median);
        p999.push(d.p999);
        worst.push(d.max);
        wshare.push(share);
        mem = mem.max(held as f64);
        drops += dr;
        // Free the loops before the next run (Rig drops the looper before its worker).
        drop(insts);
    }
    let det = pmin.iter().copied().max().unwrap_or(0) as f64;
    // Periods in which every looper crossed into a new chunk (all started together).
    let crossing = looper::chunk::CHUNK_SAMPLES / BS;
    let cross: Vec<u32> = pmin
        .iter()
        .copied()
        .skip(crossing)
        .step_by(crossing)
        .collect();
    let pct = |ns: f64| ns / period_ns * 100.0;
    fig.put("instances160_worst_det_ns", det);
    fig.put("instances160_share_worst_det_pct", pct(det));
    // ... and the periods after those, which take the 160 new chunks from the workers.
    let after: Vec<u32> = pmin
        .iter()
        .copied()
        .skip(crossing + 1)
        .step_by(crossing)
        .collect();
    let (cm, am) = (
        dist(&cross, &mut Vec::new()).median,
        dist(&after, &mut Vec::new()).median,
    );
    fig.put("instances160_chunk_crossing_period_median_ns", cm);
    fig.put("instances160_after_crossing_period_median_ns", am);
    eprintln!(
        "block-wise minimum over runs: worst period {:.1} us ({:.2} %); periods where all 160 enter a new chunk: median {:.1} us, the periods after them: {:.1} us",
        det / 1e3,
        pct(det),
        cm / 1e3,
        am / 1e3
    );
    fig.put("instances160_period_ns", period_ns);
    fig.put("instances160_median_ns", median_f(&med));
    fig.put("instances160_p999_ns", median_f(&p999));
    fig.put("instances160_worst_ns", min_f(&worst));
    fig.put("instances160_worst_raw_ns", max_f(&worst));
    fig.put("instances160_share_median_pct", pct(median_f(&med)));
    fig.put("instances160_share_p999_pct", pct(median_f(&p999)));
    fig.put("instances160_share_worst_pct", pct(min_f(&worst)));
    fig.put("instances160_share_worst_raw_pct", pct(max_f(&worst)));
    fig.put(
        "instances160_per_looper_median_ns",
        median_f(&med) / N as f64,
    );
    fig.put(
        "instances160_worker_share_of_core_pct",
        median_f(&wshare) * 100.0,
    );
    fig.put("instances160_seconds_recorded", seconds as f64);
    fig.put("instances160_bytes_held", mem);
    fig.put("instances160_dropouts", drops as f64);
    let path = fig.write("instances.json");
    eprintln!("wrote {}", path.display());
}
