//! The worker's side: what one second of ready memory costs it, and what a chunk costs
//! as a function of its size (to check `CHUNK_SAMPLES` and the figures in its comment).
//!
//! - `WorkerCore::work` with `Request { chunks: 3 }` (3 x 16,384 samples: the chunks that
//!   hold one second at 48 kHz), timed around the call; the chunks are then dropped and
//!   collected (timed apart: the cost of freeing them). Two ways: `growing`, where every
//!   chunk made stays alive as in a recording (fresh memory every time, 375 MiB in all),
//!   and `recycled`, where each round's chunks are freed before the next round (the
//!   kernel hands the same pages back: a best case).
//! - Chunk creation by size, 4K to 1M samples, with libc directly: `mmap`, `mlock`, a
//!   write to every page, `munlock` + `munmap`, each phase timed. Again `growing` (keep
//!   128 MiB mapped, then free it all) and `recycled` (map, touch, unmap, repeat).
//!   A least-squares fit of cost against size gives the fixed and the per-MiB parts.

mod common;

use common::*;
use looper::chunk::{MemStats, CHUNK_SAMPLES};
use looper::engine::looper::{Delivery, Request};
use looper::engine::worker::{Silent, WorkerCore};
use std::sync::Arc;
use std::time::Instant;

const RATE: usize = 48_000;

fn us(t0: Instant) -> f64 {
    t0.elapsed().as_nanos() as f64 / 1000.0
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}
fn q(v: &[f64], q: f64) -> f64 {
    let r = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[r - 1]
}

/// The worker making one second of memory.
fn worker(fig: &mut Figures) {
    let per_second = RATE.div_ceil(CHUNK_SAMPLES) as u32;
    let req = Request {
        chunks: per_second,
        nodes: 0,
        dropouts: 0,
        panics: 0,
    };
    for mode in ["recycled", "growing"] {
        let stats = Arc::new(MemStats::default());
        let core = WorkerCore::new(stats.clone(), Box::new(Silent));
        let mut keep: Vec<Delivery> = Vec::with_capacity(8192);
        let mut out: Vec<Delivery> = Vec::with_capacity(16);
        let (warm, rounds) = if mode == "growing" {
            (0, 2000)
        } else {
            (50, 1000)
        };
        let mut make = Vec::new();
        let mut free = Vec::new();
        let mut duty = Duty::default();
        for i in 0..warm + rounds {
            let t0 = Instant::now();
            core.work(req, &mut |d| {
                out.push(d);
                Ok(())
            });
            let mk = us(t0);
            if mode == "growing" {
                keep.append(&mut out);
                if i >= warm {
                    make.push(mk);
                }
            } else {
                out.clear(); // queued for the collector
                let t1 = Instant::now();
                core.collect();
                let fr = us(t1);
                if i >= warm {
                    make.push(mk);
                    free.push(fr);
                }
            }
            duty.tick();
        }
        if mode == "growing" {
            // Free the 375 MiB, a second's worth at a time, as the worker would after a new take.
            let mut it = keep.drain(..);
            loop {
                let mut batch: Vec<Delivery> = it.by_ref().take(per_second as usize).collect();
                if batch.is_empty() {
                    break;
                }
                let t1 = Instant::now();
                batch.clear();
                core.collect();
                free.push(us(t1));
                duty.tick();
            }
        }
        fig.put(
            format!("worker_mlock_failures_{mode}"),
            stats
                .mlock_failures
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
        let make = sorted(make);
        let free = sorted(free);
        let n = per_second as f64;
        fig.put(format!("worker_make_1s_us_median_{mode}"), q(&make, 0.5));
        fig.put(format!("worker_make_1s_us_p99_{mode}"), q(&make, 0.99));
        fig.put(
            format!("worker_make_1s_us_worst_{mode}"),
            *make.last().unwrap(),
        );
        fig.put(
            format!("worker_make_chunk_us_median_{mode}"),
            q(&make, 0.5) / n,
        );
        fig.put(format!("worker_free_1s_us_median_{mode}"), q(&free, 0.5));
        fig.put(
            format!("worker_free_1s_us_worst_{mode}"),
            *free.last().unwrap(),
        );
        eprintln!(
            "worker {mode:>8}: make 1 s ({per_second} chunks): median {:.0} us, p99 {:.0} us, worst {:.0} us; free: median {:.0} us",
            q(&make, 0.5),
            q(&make, 0.99),
            make.last().unwrap(),
            q(&free, 0.5)
        );
    }
    fig.put("worker_chunks_per_second_48k_mono", per_second as f64);
}

/// Per-phase times (µs) of one chunk's life.
#[derive(Default, Clone, Copy)]
struct Phases {
    mmap: f64,
    mlock: f64,
    touch: f64,
    unmap: f64,
}

static MLOCK_REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [worker] mmap + mlock + write to each page, timed by phase.
fn create(bytes: usize, page: usize) -> (*mut libc::c_void, Phases) {
    let mut p = Phases::default();
    // SAFETY: a fresh anonymous mapping, checked; pages written in bounds.
    unsafe {
        let t = Instant::now();
        let raw = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        p.mmap = us(t);
        assert!(raw != libc::MAP_FAILED, "mmap failed");
        let t = Instant::now();
        if libc::mlock(raw, bytes) != 0 {
            // Refused (RLIMIT_MEMLOCK): the chunk is used unlocked, as the plugin does;
            // the writes below then take the page faults.
            MLOCK_REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        p.mlock = us(t);
        let t = Instant::now();
        let b = raw.cast::<u8>();
        let mut off = 0;
        while off < bytes {
            std::ptr::write_volatile(b.add(off), 0);
            off += page;
        }
        p.touch = us(t);
        (raw, p)
    }
}

/// [worker] munlock + munmap, timed.
fn destroy(raw: *mut libc::c_void, bytes: usize) -> f64 {
    let t = Instant::now();
    // SAFETY: `raw` is a live mapping of `bytes` made by `create`.
    unsafe {
        libc::munlock(raw, bytes);
        libc::munmap(raw, bytes);
    }
    us(t)
}

/// Least squares y = a + b x, weighted by 1/y^2 (relative error), so that the small
/// sizes, where the fixed part shows, count as much as the large ones.
fn fit(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let w: Vec<f64> = ys.iter().map(|y| 1.0 / (y * y)).collect();
    let sw: f64 = w.iter().sum();
    let mx = xs.iter().zip(&w).map(|(x, w)| w * x).sum::<f64>() / sw;
    let my = ys.iter().zip(&w).map(|(y, w)| w * y).sum::<f64>() / sw;
    let sxy: f64 = xs
        .iter()
        .zip(ys)
        .zip(&w)
        .map(|((x, y), w)| w * (x - mx) * (y - my))
        .sum();
    let sxx: f64 = xs
        .iter()
        .zip(&w)
        .map(|(x, w)| w * (x - mx) * (x - mx))
        .sum();
    let b = sxy / sxx;
    (my - b * mx, b)
}

fn chunk_sizes(fig: &mut Figures) {
    let page = looper::chunk::page_size();
    let sizes: Vec<usize> = (0..=8).map(|k| 4096usize << k).collect();
    for mode in ["growing", "recycled"] {
        let mut mib = Vec::new();
        let mut totals = Vec::new();
        let mut creates = Vec::new();
        eprintln!("chunk cost ({mode}), median us per chunk:");
        eprintln!("  samples      KiB     mmap    mlock    touch    unmap    total  ms/s-audio");
        for &samples in &sizes {
            let bytes = samples * 4;
            let mut ph: Vec<Phases> = Vec::new();
            let mut duty = Duty::default();
            if mode == "growing" {
                let count = ((128usize << 20) / bytes).max(24);
                let mut live = Vec::with_capacity(count);
                for _ in 0..count {
                    let (raw, p) = create(bytes, page);
                    live.push(raw);
                    ph.push(p);
                    duty.tick();
                }
                for (i, raw) in live.into_iter().enumerate() {
                    ph[i].unmap = destroy(raw, bytes);
                    duty.tick();
                }
            } else {
                let count = ((64usize << 20) / bytes).clamp(24, 400);
                for i in 0..count + 8 {
                    let (raw, mut p) = create(bytes, page);
                    p.unmap = destroy(raw, bytes);
                    if i >= 8 {
                        ph.push(p);
                    }
                    duty.tick();
                }
            }
            let med = |f: &dyn Fn(&Phases) -> f64| q(&sorted(ph.iter().map(f).collect()), 0.5);
            let (m, l, t, u) = (
                med(&|p| p.mmap),
                med(&|p| p.mlock),
                med(&|p| p.touch),
                med(&|p| p.unmap),
            );
            let total = med(&|p| p.mmap + p.mlock + p.touch + p.unmap);
            let create_only = med(&|p| p.mmap + p.mlock + p.touch);
            let per_audio_s = total * RATE as f64 / samples as f64 / 1000.0;
            eprintln!(
                "  {samples:>7} {:>8} {m:>8.1} {l:>8.1} {t:>8.1} {u:>8.1} {total:>8.1} {per_audio_s:>10.2}",
                bytes / 1024
            );
            let k = format!("{}k", samples / 1024);
            fig.put(format!("chunk_{mode}_total_us_{k}"), total);
            fig.put(format!("chunk_{mode}_mmap_us_{k}"), m);
            fig.put(format!("chunk_{mode}_mlock_us_{k}"), l);
            fig.put(format!("chunk_{mode}_touch_us_{k}"), t);
            fig.put(format!("chunk_{mode}_unmap_us_{k}"), u);
            fig.put(format!("chunk_{mode}_ms_per_audio_second_{k}"), per_audio_s);
            mib.push(bytes as f64 / 1048576.0);
            totals.push(total);
            creates.push(create_only);
        }
        let (a, b) = fit(&mib, &totals);
        let (ca, cb) = fit(&mib, &creates);
        fig.put(format!("chunk_{mode}_fit_fixed_us"), a);
        fig.put(format!("chunk_{mode}_fit_ms_per_mib"), b / 1000.0);
        fig.put(format!("chunk_{mode}_create_fit_fixed_us"), ca);
        fig.put(format!("chunk_{mode}_create_fit_ms_per_mib"), cb / 1000.0);
        eprintln!("  fit ({mode}): total = {a:.1} us + {:.3} ms/MiB; create only = {ca:.1} us + {:.3} ms/MiB", b / 1000.0, cb / 1000.0);
    }
}

fn main() {
    if !benchmarking() {
        return;
    }
    let place = place_thread();
    eprintln!(
        "worker_cost: pinned to cpu {}, SCHED_FIFO {}",
        place.cpu, place.fifo
    );
    let mut fig = Figures::default();
    worker(&mut fig);
    chunk_sizes(&mut fig);
    fig.put(
        "chunk_mlock_refused",
        MLOCK_REFUSED.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    let path = fig.write("worker_cost.json");
    eprintln!("wrote {}", path.display());
}
