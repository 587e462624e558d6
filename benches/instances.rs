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
//! Then 80 stereo loopers overdubbing at once, each over a loop of its own (all started
//! together, so they start their layers and enter their chunks on the same periods: the
//! worst case; `Looper::chunk_copies` tells copied-ahead from whole), against a plain
//! copy of the same blocks (the floor: each block swapped with a preallocated loop). Two
//! pacings: back to back (warm caches, as above), and as a host runs them: one period of
//! work, then the caches cooled as a host's other plugins would cool them, by writing
//! `LOOPER_BENCH_COOL_MIB` MiB (default 4) between periods, untimed.
//!
//! Environment: LOOPER_BENCH_INST_SECONDS (default 60), LOOPER_BENCH_INST_REPEATS
//! (default 3), LOOPER_BENCH_INST_OD_SECONDS (default 10: the loops' length and the
//! overdub's), LOOPER_BENCH_COOL_MIB (default 4), LOOPER_BENCH_FIFO, LOOPER_BENCH_OUT.

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
    overdub80(&mut fig, repeats);
    let path = fig.write("instances.json");
    eprintln!("wrote {}", path.display());
}

/// 80 stereo instances overdubbing, 64-frame periods, warm and paced-cold, against the
/// floor under the same pacing.
fn overdub80(fig: &mut Figures, repeats: usize) {
    const M: usize = 80;
    let seconds = env_f64("LOOPER_BENCH_INST_OD_SECONDS", 10.0).max(1.0) as usize;
    let cool_mib = env_f64("LOOPER_BENCH_COOL_MIB", 4.0).max(0.0);
    let frames = seconds * RATE; // a whole number of 64-frame blocks
    let periods = frames / BS;
    let period_ns = BS as f64 / RATE as f64 * 1e9;
    let src = noise(M * 4096);
    let t = Instant::now();
    let mut insts: Vec<Rig> = (0..M)
        .map(|i| {
            let mut r = Rig::with_channels(RATE as f64, 2);
            r.record_loop(frames, &src[i * 1024..]);
            r
        })
        .collect();
    let flat_mem = prealloc_f32(M * frames * 2);
    let mut flats: Vec<FlatLoop> = flat_mem
        .chunks_mut(frames * 2)
        .map(|m| FlatLoop::new(m, frames, 2))
        .collect();
    let mut cooler = Cooler::new(((cool_mib * 1048576.0) as usize).max(64));
    eprintln!(
        "overdub80: {M} stereo loops of {seconds} s made in {:.1} s ({:.0} MiB held); cooling with {} KiB between periods",
        t.elapsed().as_secs_f64(),
        insts.iter().map(|r| r.stats.bytes_held()).sum::<usize>() as f64 / 1048576.0,
        cooler.bytes() / 1024
    );
    fig.put("overdub80_instances", M as f64);
    fig.put("overdub80_seconds", seconds as f64);
    fig.put("overdub80_cool_bytes", cooler.bytes() as f64);
    let mut ios: Vec<Vec<Vec<f32>>> = (0..M).map(|_| vec![vec![0.0f32; BS]; 2]).collect();
    let od = ctl(false, true, true);
    let pct = |ns: f64| ns / period_ns * 100.0;
    let per = looper::chunk::CHUNK_SAMPLES / 2 / BS; // periods per stereo chunk
    for cold in [false, true] {
        let pace = if cold { "cold" } else { "warm" };
        for way in ["looper", "memcpy"] {
            let mut pmin = vec![u32::MAX; periods];
            let mut times = vec![0u32; periods];
            let (mut med, mut p999, mut raw) = (Vec::new(), Vec::new(), 0.0f64);
            let mut duty = Duty::default();
            let copies = |insts: &[Rig]| {
                insts.iter().fold((0u64, 0u64), |(a, w), r| {
                    let (ra, rw) = r.lp.chunk_copies();
                    (a + ra, w + rw)
                })
            };
            let copies0 = copies(&insts);
            for _ in 0..repeats {
                for r in insts.iter_mut() {
                    r.control(&ctl(false, false, false)); // back to the loop's start
                    r.settle();
                }
                for f in flats.iter_mut() {
                    f.pos = 0;
                }
                for (p, slot) in times.iter_mut().enumerate() {
                    for (i, io) in ios.iter_mut().enumerate() {
                        for (c, b) in io.iter_mut().enumerate() {
                            let s = ((p * 7 + i * 131 + c * 61) * BS) % (src.len() - BS);
                            b.copy_from_slice(&src[s..s + BS]);
                        }
                    }
                    let t0 = Instant::now();
                    if way == "looper" {
                        for (r, io) in insts.iter_mut().zip(ios.iter_mut()) {
                            r.deliver();
                            r.process(&od, black_box(io));
                        }
                    } else {
                        for (f, io) in flats.iter_mut().zip(ios.iter_mut()) {
                            f.block(true, black_box(io));
                        }
                    }
                    *slot = ns_since(t0);
                    if way == "looper" {
                        for r in insts.iter_mut() {
                            r.service();
                        }
                    }
                    if cold {
                        cooler.cool();
                    }
                    duty.tick();
                }
                if way == "looper" {
                    for r in insts.iter_mut() {
                        r.control(&ctl(false, true, false)); // commits the layer
                        let mut u = ctl(false, true, false);
                        u.undo = 1.0;
                        r.control(&u); // and undoes it (the next run discards it)
                        r.control(&ctl(false, true, false));
                        r.settle();
                    }
                }
                let d = dist(&times, &mut Vec::new());
                med.push(d.median);
                p999.push(d.p999);
                raw = raw.max(d.max);
                min_into(&mut pmin, &times);
            }
            let det = pmin.iter().copied().max().unwrap_or(0) as f64;
            // The code's own worst after the layer's first period (which copies each
            // loop's first chunk and index path whole).
            let det_later = pmin.iter().copied().skip(1).max().unwrap_or(0) as f64;
            let copies1 = copies(&insts);
            let cross: Vec<u32> = pmin.iter().copied().skip(per).step_by(per).collect();
            let cm = dist(&cross, &mut Vec::new()).median;
            let k = format!("overdub80_{pace}_{way}");
            fig.put(format!("{k}_median_ns"), median_f(&med));
            fig.put(format!("{k}_p999_ns"), median_f(&p999));
            fig.put(format!("{k}_worst_ns"), det);
            fig.put(format!("{k}_worst_raw_ns"), raw);
            fig.put(format!("{k}_first_period_ns"), pmin[0] as f64);
            fig.put(format!("{k}_worst_after_first_ns"), det_later);
            fig.put(format!("{k}_share_worst_after_first_pct"), pct(det_later));
            if way == "looper" {
                // Chunks copied per instance and layer: ahead (a slice a period) and
                // whole (in one period).
                let layers = (repeats * M) as f64;
                fig.put(
                    format!("{k}_chunks_ahead_per_layer"),
                    copies1.0.saturating_sub(copies0.0) as f64 / layers,
                );
                fig.put(
                    format!("{k}_chunks_whole_per_layer"),
                    copies1.1.saturating_sub(copies0.1) as f64 / layers,
                );
            }
            fig.put(format!("{k}_chunk_period_median_ns"), cm);
            fig.put(format!("{k}_share_median_pct"), pct(median_f(&med)));
            fig.put(format!("{k}_share_p999_pct"), pct(median_f(&p999)));
            fig.put(format!("{k}_share_worst_pct"), pct(det));
            fig.put(format!("{k}_share_worst_raw_pct"), pct(raw));
            fig.put(format!("{k}_share_chunk_period_pct"), pct(cm));
            fig.put(format!("{k}_share_first_period_pct"), pct(pmin[0] as f64));
            eprintln!(
                "overdub80 {pace} {way:<6}: median {:.1} us ({:.1} %), p99.9 {:.1} us, worst {:.1} us ({:.1} %; raw {:.1} us); first period {:.1} us; worst after it {:.1} us ({:.1} %); chunk periods {:.1} us ({:.1} %)",
                median_f(&med) / 1e3,
                pct(median_f(&med)),
                median_f(&p999) / 1e3,
                det / 1e3,
                pct(det),
                raw / 1e3,
                pmin[0] as f64 / 1e3,
                det_later / 1e3,
                pct(det_later),
                cm / 1e3,
                pct(cm)
            );
        }
        let g = |w: &str, s: &str| {
            fig.get(&format!("overdub80_{pace}_{w}_{s}"))
                .unwrap_or(f64::NAN)
        };
        fig.put(
            format!("overdub80_{pace}_median_vs_memcpy"),
            g("looper", "median_ns") / g("memcpy", "median_ns"),
        );
    }
    let dr: u64 = insts.iter().map(|r| r.lp.dropouts()).sum();
    fig.put("overdub80_dropouts", dr as f64);
    fig.put(
        "overdub80_bytes_held",
        insts.iter().map(|r| r.stats.bytes_held()).sum::<usize>() as f64,
    );
    drop(insts);
}
