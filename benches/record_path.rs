//! The recording path, per block, at 64 and 256 frames (mono, 48 kHz), for five ways of
//! keeping the recorded samples, as the loop grows from nothing to one hour:
//!
//! - `memcpy`: a plain copy into preallocated memory: the floor.
//! - `fixed`: SooperLooper's way: one big preallocated buffer, written at an index, with
//!   the bounds check and the drop-when-full that a fixed buffer needs.
//! - `replace`: Luppp's way, as the seed describes it: a buffer one second bigger than the
//!   current one is made off the audio thread ahead of time; when the current one is full
//!   the audio thread copies the whole loop into it, and the old one goes back to be
//!   freed off the audio thread.
//! - `vec`: a `Vec` that grows on the audio thread (`extend_from_slice`).
//! - `looper`: this crate's `Looper::process` with record on.
//!
//! Every block's time is taken with `Instant` around the audio thread's call (for the
//! looper, the `accept()` of what the worker delivered since the last block, i.e. the
//! host's `work_response`, and `process()`). The off-thread side (the looper's worker, the
//! replacement's allocator) runs on the same thread between blocks, outside the timed
//! region. Statistics are taken over windows: the 60 s of recording that end when the
//! loop reaches 1, 5, 10, 20, 30, 45 and 60 minutes. What "worst" means (three figures)
//! is in docs/PERFORMANCE.md.
//!
//! Environment: LOOPER_BENCH_REPEATS (default 5), LOOPER_BENCH_MINUTES (default 60),
//! LOOPER_BENCH_WINDOW_S (default 60), LOOPER_BENCH_FIFO (default 1), LOOPER_BENCH_OUT.

mod common;

use common::*;
use looper::chunk::{pool_target, CHUNK_BYTES, CHUNK_SAMPLES};
use looper::engine::looper::Controls;
use looper::engine::tree::NODE_BYTES;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Instant;

const RATE: usize = 48_000;
const CHECKPOINTS_MIN: [usize; 7] = [1, 5, 10, 20, 30, 45, 60];
const BLOCKS: [usize; 2] = [64, 256];
const WAYS: [&str; 5] = ["memcpy", "fixed", "replace", "vec", "looper"];
/// Seconds recorded in timer-free batches after each run, at the full length.
const AFTER_S: usize = 10;
/// Record on, fades off (the record path as before: nothing else changes).
fn rec() -> Controls {
    ctl(true, true, false)
}

/// One way of recording. `record` is the audio thread's work for one block; `service` is
/// what runs off the audio thread between blocks.
trait Way {
    fn record(&mut self, io: &mut [f32]);
    fn service(&mut self) {}
    /// Samples recorded.
    fn len(&self) -> usize;
    /// Bytes of sample memory (and index) the way holds or has asked for.
    fn held_bytes(&self) -> usize;
    /// Of which index (not sample) memory.
    fn index_bytes(&self) -> usize {
        0
    }
    /// Whether the block about to be recorded is measured (only `replace` cares).
    fn set_measuring(&mut self, _on: bool) {}
    /// Samples that could not be recorded.
    fn dropped(&self) -> u64 {
        0
    }
}

/// Preallocated, locked, pre-faulted memory, shared by the ways that need it in turn.
#[derive(Clone, Copy)]
struct Region {
    ptr: *mut f32,
    cap: usize,
    /// Samples that count as held: the loop length the buffer is sized for (the margin
    /// past it only gives room to the timer-free blocks after a run).
    held: usize,
}

impl Region {
    fn new(samples: usize, held: usize) -> Region {
        let s = prealloc_f32(samples);
        Region {
            ptr: s.as_mut_ptr(),
            cap: s.len(),
            held,
        }
    }
}

// ---- memcpy: the floor --------------------------------------------------------------

struct Memcpy {
    r: Region,
    len: usize,
}
impl Way for Memcpy {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        debug_assert!(self.len + io.len() <= self.r.cap);
        // SAFETY: the region was sized for the whole run and more (see main).
        unsafe { std::ptr::copy_nonoverlapping(io.as_ptr(), self.r.ptr.add(self.len), io.len()) };
        self.len += io.len();
    }
    fn len(&self) -> usize {
        self.len
    }
    fn held_bytes(&self) -> usize {
        self.r.held * 4
    }
}

/// Not one of the five: memcpy into a 64 KiB ring that stays in cache, to show what the
/// copy itself costs when no memory traffic is involved (batched figures only).
struct MemcpyHot {
    r: Region,
    pos: usize,
    len: usize,
}
impl Way for MemcpyHot {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        if self.pos + io.len() > self.r.cap {
            self.pos = 0;
        }
        // SAFETY: pos + len <= cap, checked just above.
        unsafe { std::ptr::copy_nonoverlapping(io.as_ptr(), self.r.ptr.add(self.pos), io.len()) };
        self.pos += io.len();
        self.len += io.len();
    }
    fn len(&self) -> usize {
        self.len
    }
    fn held_bytes(&self) -> usize {
        self.r.cap * 4
    }
}

// ---- fixed preallocation (SooperLooper) ---------------------------------------------

struct Fixed {
    buf: &'static mut [f32],
    held: usize,
    len: usize,
    dropped: u64,
}
impl Fixed {
    fn new(r: Region) -> Fixed {
        // SAFETY: the region is live for the process; only one way uses it at a time.
        let buf = unsafe { std::slice::from_raw_parts_mut(r.ptr, r.cap) };
        Fixed {
            buf,
            held: r.held,
            len: 0,
            dropped: 0,
        }
    }
}
impl Way for Fixed {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        let n = io.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&io[..n]);
        self.len += n;
        self.dropped += (io.len() - n) as u64;
    }
    fn len(&self) -> usize {
        self.len
    }
    fn held_bytes(&self) -> usize {
        self.held * 4
    }
    fn dropped(&self) -> u64 {
        self.dropped
    }
}

// ---- periodic replacement (Luppp, as the seed describes it) -------------------------

/// The two physical buffers alternate as "current" and "next": the next buffer's logical
/// size is the current one's plus one second, as if freshly made (and written, so
/// pre-faulted) off the audio thread. Outside the measured windows the audio thread's
/// copy is skipped (those blocks are not reported, and copying the growing loop every
/// second for an hour would move 1.2 TB per run); inside them every copy is done in full.
struct Replace {
    bufs: [Region; 2],
    cur: usize,
    cap: usize,
    next_cap: usize,
    len: usize,
    step: usize,
    copying: bool,
    dropped: u64,
}
impl Replace {
    fn new(bufs: [Region; 2]) -> Replace {
        let step = RATE;
        Replace {
            bufs,
            cur: 0,
            cap: step,
            next_cap: 2 * step,
            len: 0,
            step,
            copying: true,
            dropped: 0,
        }
    }
}
impl Way for Replace {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        let n = io.len();
        if self.len + n > self.cap {
            if self.next_cap < self.len + n {
                self.dropped += n as u64; // the new buffer is late: samples are lost
                return;
            }
            let (old, new) = (self.bufs[self.cur], self.bufs[self.cur ^ 1]);
            if self.copying {
                // SAFETY: both regions hold at least next_cap >= len samples; distinct.
                unsafe { std::ptr::copy_nonoverlapping(old.ptr, new.ptr, self.len) };
            }
            self.cur ^= 1;
            self.cap = self.next_cap;
            self.next_cap = 0; // the old buffer goes back to be freed off-thread
        }
        let b = self.bufs[self.cur];
        debug_assert!(self.len + n <= self.cap && self.cap <= b.cap);
        // SAFETY: len + n <= cap <= the region's size.
        unsafe { std::ptr::copy_nonoverlapping(io.as_ptr(), b.ptr.add(self.len), n) };
        self.len += n;
    }
    fn service(&mut self) {
        if self.next_cap == 0 {
            // Off the audio thread: free the old buffer, make the next (current + 1 s).
            self.next_cap = self.cap + self.step;
            assert!(self.next_cap <= self.bufs[0].cap.min(self.bufs[1].cap));
        }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn held_bytes(&self) -> usize {
        (self.cap + self.next_cap) * 4
    }
    fn set_measuring(&mut self, on: bool) {
        self.copying = on;
    }
    fn dropped(&self) -> u64 {
        self.dropped
    }
}

// ---- a Vec that grows on the audio thread -------------------------------------------

struct Grow {
    v: Vec<f32>,
}
impl Way for Grow {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        self.v.extend_from_slice(io);
    }
    fn len(&self) -> usize {
        self.v.len()
    }
    fn held_bytes(&self) -> usize {
        self.v.capacity() * 4
    }
}

// ---- the looper ----------------------------------------------------------------------

/// The looper itself, through the same calls as the plugin's `run()`.
struct LooperWay(Rig, Controls);
impl LooperWay {
    fn new() -> LooperWay {
        LooperWay(Rig::new(RATE as f64), rec())
    }
}
impl Way for LooperWay {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        // work_response for what the worker made since the last block, then run().
        self.0.deliver();
        self.0.lp.process(&self.1, &mut [io]);
    }
    fn service(&mut self) {
        self.0.service();
    }
    fn len(&self) -> usize {
        self.0.lp.len()
    }
    fn held_bytes(&self) -> usize {
        self.0.stats.bytes_held()
    }
    fn index_bytes(&self) -> usize {
        self.0.stats.nodes_live() as usize * NODE_BYTES
    }
    fn dropped(&self) -> u64 {
        self.0.lp.dropouts()
    }
}

// ---- running ------------------------------------------------------------------------

struct Plan {
    bs: usize,
    blocks: usize,
    /// Block ranges [start, end) of the measured windows, one per checkpoint.
    windows: Vec<(usize, usize)>,
    checkpoints: Vec<usize>,
}

impl Plan {
    fn new(bs: usize, minutes: usize, window_s: usize) -> Plan {
        let checkpoints: Vec<usize> = CHECKPOINTS_MIN
            .iter()
            .copied()
            .filter(|&m| m <= minutes)
            .collect();
        let windows = checkpoints
            .iter()
            .map(|&m| {
                let end = m * 60 * RATE / bs;
                (end.saturating_sub(window_s * RATE / bs), end)
            })
            .collect();
        Plan {
            bs,
            blocks: minutes * 60 * RATE / bs,
            windows,
            checkpoints,
        }
    }
    fn short(bs: usize, seconds: usize) -> Plan {
        Plan {
            bs,
            blocks: seconds * RATE / bs,
            windows: Vec::new(),
            checkpoints: Vec::new(),
        }
    }
}

/// What one run of one way gave, per window.
#[derive(Clone, Default)]
struct RunResult {
    win: Vec<Dist>,
    /// Peak bytes held beyond the samples recorded, within each window.
    mem_beyond: Vec<f64>,
    /// The same without index memory.
    mem_beyond_noindex: Vec<f64>,
    /// Index bytes at the window's end.
    index_bytes: Vec<f64>,
    whole: Dist,
    /// Mean ns per block, timer-free, over AFTER_S s recorded after the run.
    batched_after: f64,
    dropped: u64,
    wall_s: f64,
}

/// Records `plan.blocks` blocks through `w`, timing each into `times`.
fn run<W: Way>(
    w: &mut W,
    plan: &Plan,
    src: &[f32],
    times: &mut [u32],
    scratch: &mut Vec<u32>,
) -> RunResult {
    let bs = plan.bs;
    let nsrc = src.len() / bs;
    let mut io = vec![0.0f32; bs];
    let nw = plan.windows.len();
    let mut mem = vec![f64::NEG_INFINITY; nw];
    let mut mem_ni = vec![f64::NEG_INFINITY; nw];
    let mut idx = vec![0.0; nw];
    let mut wi = 0;
    let mut duty = Duty::default();
    let wall = Instant::now();
    for (i, slot) in times.iter_mut().enumerate().take(plan.blocks) {
        while wi < nw && i >= plan.windows[wi].1 {
            wi += 1;
        }
        let measuring = wi < nw && i >= plan.windows[wi].0;
        w.set_measuring(measuring);
        let s = (i % nsrc) * bs;
        io.copy_from_slice(&src[s..s + bs]);
        let t0 = Instant::now();
        w.record(black_box(&mut io));
        *slot = ns_since(t0);
        w.service();
        duty.tick();
        if measuring {
            let held = w.held_bytes() as f64;
            let ib = w.index_bytes() as f64;
            let samples = (w.len() * 4) as f64;
            mem[wi] = mem[wi].max(held - samples);
            mem_ni[wi] = mem_ni[wi].max(held - ib - samples);
            idx[wi] = ib;
        }
    }
    w.set_measuring(true);
    let wall_s = wall.elapsed().as_secs_f64();
    let win = plan
        .windows
        .iter()
        .map(|&(a, b)| dist(&times[a..b], scratch))
        .collect();
    let whole = dist(&times[..plan.blocks], scratch);
    RunResult {
        win,
        mem_beyond: mem,
        mem_beyond_noindex: mem_ni,
        index_bytes: idx,
        whole,
        batched_after: f64::NAN,
        dropped: w.dropped(),
        wall_s,
    }
}

/// Mean ns per block over batches of 128 blocks (no per-block timer), median over
/// batches, recording `seconds` of audio on from where `w` is.
fn batched<W: Way>(w: &mut W, bs: usize, seconds: usize, src: &[f32]) -> f64 {
    let batch = 128;
    let nsrc = src.len() / bs;
    let blocks = seconds * RATE / bs;
    let mut ios: Vec<Vec<f32>> = (0..batch).map(|_| vec![0.0f32; bs]).collect();
    let mut per = Vec::new();
    let mut duty = Duty::default();
    let mut i = 0;
    while i + batch <= blocks {
        for (j, io) in ios.iter_mut().enumerate() {
            let s = ((i + j) % nsrc) * bs;
            io.copy_from_slice(&src[s..s + bs]);
        }
        let t0 = Instant::now();
        for io in ios.iter_mut() {
            w.record(black_box(io));
        }
        per.push(t0.elapsed().as_nanos() as f64 / batch as f64);
        w.service();
        duty.tick();
        i += batch;
    }
    median_f(&per)
}

/// A run, the block-wise minimum over runs updated, then AFTER_S s of batched blocks.
fn measure<W: Way>(
    w: &mut W,
    plan: &Plan,
    src: &[f32],
    times: &mut [u32],
    bmin: &mut [u32],
    scratch: &mut Vec<u32>,
) -> RunResult {
    let mut r = run(w, plan, src, times, scratch);
    for (b, t) in bmin.iter_mut().zip(&times[..plan.blocks]) {
        *b = (*b).min(*t);
    }
    r.batched_after = batched(w, plan.bs, AFTER_S, src);
    r
}

fn main() {
    if !benchmarking() {
        return;
    }
    let repeats = env_f64("LOOPER_BENCH_REPEATS", 5.0).max(1.0) as usize;
    let minutes = (env_f64("LOOPER_BENCH_MINUTES", 60.0) as usize).clamp(1, 60);
    let window_s = (env_f64("LOOPER_BENCH_WINDOW_S", 60.0) as usize).clamp(1, 60);
    let place = place_thread();
    eprintln!(
        "record_path: {repeats} run(s) of {minutes} min at 48 kHz, windows of {window_s} s; pinned to cpu {}, SCHED_FIFO {}",
        place.cpu, place.fifo
    );
    let mut fig = Figures::default();
    fig.put("runs", repeats as f64);
    fig.put("loop_minutes", minutes as f64);
    fig.put("window_seconds", window_s as f64);
    fig.put("sched_fifo", place.fifo as u8 as f64);
    let timer = timer_overhead();
    fig.put("timer_overhead_ns_median", timer.median);
    fig.put("timer_overhead_ns_p999", timer.p999);
    fig.put("timer_overhead_ns_worst", timer.max);
    let noise = machine_noise(2.0);
    fig.put("machine_gap_worst_ns", noise.worst_ns);
    fig.put("machine_gaps_over_10us_per_s", noise.over_10us_per_s);
    fig.put(
        "machine_gap_median_over_5us_ns",
        noise.median_gap_over_5us_ns,
    );
    eprintln!(
        "timer: median {} ns, p99.9 {} ns; machine: {:.0} gaps > 10 us per second, median gap {:.0} ns, worst {:.0} ns",
        timer.median, timer.p999, noise.over_10us_per_s, noise.median_gap_over_5us_ns, noise.worst_ns
    );

    // Memory for the preallocating ways, made once: the floor's and SooperLooper's buffer
    // (the same region, in turn), Luppp's two alternating buffers, and a small hot ring.
    let total = minutes * 60 * RATE;
    let t = Instant::now();
    let flat = Region::new(total + (AFTER_S + 5) * RATE, total);
    let pair = [
        Region::new(total + (AFTER_S + 8) * RATE, 0),
        Region::new(total + (AFTER_S + 8) * RATE, 0),
    ];
    let hot = Region::new(CHUNK_SAMPLES, CHUNK_SAMPLES);
    eprintln!(
        "preallocated {:.0} MiB in {:.1} s",
        (flat.cap + 2 * pair[0].cap) as f64 * 4.0 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let src = noise_signal();

    // Warm-up: ten seconds of each way, discarded.
    {
        let short = Plan::short(64, 10);
        let mut times = vec![0u32; short.blocks];
        let mut sc = Vec::new();
        run(
            &mut Memcpy { r: flat, len: 0 },
            &short,
            &src,
            &mut times,
            &mut sc,
        );
        run(&mut Fixed::new(flat), &short, &src, &mut times, &mut sc);
        run(&mut Replace::new(pair), &short, &src, &mut times, &mut sc);
        run(
            &mut Grow { v: Vec::new() },
            &short,
            &src,
            &mut times,
            &mut sc,
        );
        run(&mut LooperWay::new(), &short, &src, &mut times, &mut sc);
    }

    // results[way][block size][run]; bmin[way][block size][block]: the block's minimum
    // over runs.
    let mut results: Vec<Vec<Vec<RunResult>>> = vec![vec![Vec::new(); BLOCKS.len()]; WAYS.len()];
    let mut bmin: Vec<Vec<Vec<u32>>> = (0..WAYS.len())
        .map(|_| {
            BLOCKS
                .iter()
                .map(|&bs| vec![u32::MAX; total / bs])
                .collect()
        })
        .collect();
    let (mut looper_dropped, mut other_dropped, mut mlock_failures) = (0u64, 0u64, 0u64);
    let mut times = vec![0u32; total / 64];
    let mut scratch = Vec::with_capacity(total / 64);
    let wall = Instant::now();
    for rep in 0..repeats {
        for (bi, &bs) in BLOCKS.iter().enumerate() {
            let plan = Plan::new(bs, minutes, window_s);
            for k in 0..WAYS.len() {
                let wi = (k + rep) % WAYS.len(); // rotate the order from run to run
                let (t, b, sc) = (&mut times, &mut bmin[wi][bi], &mut scratch);
                let r = match wi {
                    0 => measure(&mut Memcpy { r: flat, len: 0 }, &plan, &src, t, b, sc),
                    1 => measure(&mut Fixed::new(flat), &plan, &src, t, b, sc),
                    2 => measure(&mut Replace::new(pair), &plan, &src, t, b, sc),
                    3 => measure(&mut Grow { v: Vec::new() }, &plan, &src, t, b, sc),
                    _ => {
                        let mut w = LooperWay::new();
                        let r = measure(&mut w, &plan, &src, t, b, sc);
                        mlock_failures += w.0.stats.mlock_failures.load(Ordering::Relaxed);
                        r
                    }
                };
                if wi == 4 {
                    looper_dropped += r.dropped;
                } else {
                    other_dropped += r.dropped;
                }
                eprintln!(
                    "run {} bs {bs:>3} {:<7} {:6.1} s, worst at {} min {:>10.0} ns, at {} min {:>10.0} ns, batched after {:>8.1} ns",
                    rep + 1,
                    WAYS[wi],
                    r.wall_s,
                    plan.checkpoints[0],
                    r.win[0].max,
                    plan.checkpoints.last().unwrap(),
                    r.win.last().unwrap().max,
                    r.batched_after
                );
                results[wi][bi].push(r);
            }
        }
    }
    eprintln!("runs took {:.0} s", wall.elapsed().as_secs_f64());
    fig.put("looper_dropouts_total", looper_dropped as f64);
    fig.put("looper_mlock_failures", mlock_failures as f64);
    fig.put("other_ways_dropped_samples_total", other_dropped as f64);

    // Aggregate over runs.
    for (wi, way) in WAYS.iter().enumerate() {
        for (bi, &bs) in BLOCKS.iter().enumerate() {
            let plan = Plan::new(bs, minutes, window_s);
            let runs = &results[wi][bi];
            let bm = &bmin[wi][bi];
            let col = |f: &dyn Fn(&RunResult) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
            for (ci, &m) in plan.checkpoints.iter().enumerate() {
                let (a, b) = plan.windows[ci];
                let (at, det) = bm[a..b]
                    .iter()
                    .copied()
                    .enumerate()
                    .max_by_key(|&(_, t)| t)
                    .unwrap_or((0, 0));
                let det = det as f64;
                // Where that block is: seconds of recording at its start.
                fig.put(
                    format!("{way}_worst_at_s_{bs}_at_{m}min"),
                    ((a + at) * bs) as f64 / RATE as f64,
                );
                fig.put(
                    format!("{way}_median_ns_{bs}_at_{m}min"),
                    median_f(&col(&|r| r.win[ci].median)),
                );
                fig.put(
                    format!("{way}_p999_ns_{bs}_at_{m}min"),
                    median_f(&col(&|r| r.win[ci].p999)),
                );
                fig.put(format!("{way}_worst_ns_{bs}_at_{m}min"), det);
                fig.put(
                    format!("{way}_worst_minrun_ns_{bs}_at_{m}min"),
                    min_f(&col(&|r| r.win[ci].max)),
                );
                fig.put(
                    format!("{way}_worst_raw_ns_{bs}_at_{m}min"),
                    max_f(&col(&|r| r.win[ci].max)),
                );
                fig.put(
                    format!("{way}_mem_beyond_bytes_{bs}_at_{m}min"),
                    max_f(&col(&|r| r.mem_beyond[ci])),
                );
                if *way == "looper" {
                    fig.put(
                        format!("looper_mem_beyond_noindex_bytes_{bs}_at_{m}min"),
                        max_f(&col(&|r| r.mem_beyond_noindex[ci])),
                    );
                    fig.put(
                        format!("looper_index_bytes_{bs}_at_{m}min"),
                        max_f(&col(&|r| r.index_bytes[ci])),
                    );
                }
            }
            let last = plan.checkpoints.last().unwrap();
            fig.put(
                format!("{way}_batched_ns_{bs}_after_{last}min"),
                median_f(&col(&|r| r.batched_after)),
            );
            if *way != "replace" {
                // Every block of the run (the replacement's copies outside the windows
                // are skipped, so it has no whole-run figure).
                fig.put(
                    format!("{way}_worst_ns_{bs}_whole_run"),
                    bm.iter().copied().max().unwrap_or(0) as f64,
                );
                fig.put(
                    format!("{way}_worst_raw_ns_{bs}_whole_run"),
                    max_f(&col(&|r| r.whole.max)),
                );
                fig.put(
                    format!("{way}_p999_ns_{bs}_whole_run"),
                    median_f(&col(&|r| r.whole.p999)),
                );
                fig.put(
                    format!("{way}_median_ns_{bs}_whole_run"),
                    median_f(&col(&|r| r.whole.median)),
                );
            }
        }
    }
    drop(bmin);

    // Mean cost per block without a timer around each block: the first minute, from
    // empty, in batches of 128 blocks, the median over batches; 7 tries, the ways in a
    // different order each time; the median over tries (and the least).
    let tries = 7;
    for &bs in &BLOCKS {
        let mut v = vec![[0.0f64; 6]; tries];
        for (t, row) in v.iter_mut().enumerate() {
            for k in 0..6 {
                let wi = (k + t) % 6;
                row[wi] = match wi {
                    0 => batched(&mut Memcpy { r: flat, len: 0 }, bs, 60, &src),
                    1 => batched(&mut Fixed::new(flat), bs, 60, &src),
                    2 => batched(&mut Replace::new(pair), bs, 60, &src),
                    3 => batched(&mut Grow { v: Vec::new() }, bs, 60, &src),
                    4 => batched(&mut LooperWay::new(), bs, 60, &src),
                    _ => {
                        let mut w = MemcpyHot {
                            r: hot,
                            pos: 0,
                            len: 0,
                        };
                        batched(&mut w, bs, 60, &src)
                    }
                };
            }
        }
        for (wi, way) in WAYS.iter().chain(["memcpy_hot"].iter()).enumerate() {
            let xs: Vec<f64> = v.iter().map(|a| a[wi]).collect();
            fig.put(format!("{way}_batched_ns_{bs}_first_min"), median_f(&xs));
            fig.put(format!("{way}_batched_min_ns_{bs}_first_min"), min_f(&xs));
        }
    }

    // The targets.
    let last = *Plan::new(64, minutes, window_s).checkpoints.last().unwrap();
    let first = CHECKPOINTS_MIN[0];
    let g = |f: &Figures, k: String| f.get(&k).unwrap_or(f64::NAN);
    let (mut ratio_batched, mut ratio_block) = (0.0f64, 0.0f64);
    let mut growth_ok = true;
    let (mut mem_worst, mut mem_worst_ni) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &bs in &BLOCKS {
        for &m in Plan::new(bs, minutes, window_s).checkpoints.iter() {
            let lm = g(&fig, format!("looper_median_ns_{bs}_at_{m}min"));
            let mm = g(&fig, format!("memcpy_median_ns_{bs}_at_{m}min"));
            ratio_block = ratio_block.max(lm / mm);
            mem_worst = mem_worst.max(g(&fig, format!("looper_mem_beyond_bytes_{bs}_at_{m}min")));
            mem_worst_ni = mem_worst_ni.max(g(
                &fig,
                format!("looper_mem_beyond_noindex_bytes_{bs}_at_{m}min"),
            ));
        }
        let b1 = g(&fig, format!("looper_batched_ns_{bs}_first_min"))
            / g(&fig, format!("memcpy_batched_ns_{bs}_first_min"));
        let b2 = g(&fig, format!("looper_batched_ns_{bs}_after_{last}min"))
            / g(&fig, format!("memcpy_batched_ns_{bs}_after_{last}min"));
        fig.put(format!("target_median_ratio_batched_{bs}_first_min"), b1);
        fig.put(
            format!("target_median_ratio_batched_{bs}_after_{last}min"),
            b2,
        );
        fig.put(
            format!("target_median_ratio_per_block_{bs}_at_{last}min"),
            g(&fig, format!("looper_median_ns_{bs}_at_{last}min"))
                / g(&fig, format!("memcpy_median_ns_{bs}_at_{last}min")),
        );
        ratio_batched = ratio_batched.max(b1).max(b2);
        for kind in ["", "minrun_", "raw_"] {
            let r = g(&fig, format!("looper_worst_{kind}ns_{bs}_at_{last}min"))
                / g(&fig, format!("looper_worst_{kind}ns_{bs}_at_{first}min"));
            fig.put(format!("target_looper_worst_{kind}growth_{bs}"), r);
            if kind.is_empty() {
                growth_ok &= r <= 1.5;
            }
            let r = g(&fig, format!("replace_worst_{kind}ns_{bs}_at_{last}min"))
                / g(&fig, format!("replace_worst_{kind}ns_{bs}_at_{first}min"));
            fig.put(format!("target_replace_worst_{kind}growth_{bs}"), r);
        }
    }
    fig.put("target_median_ratio_batched_max", ratio_batched);
    fig.put("target_median_ratio_per_block_max", ratio_block);
    fig.put("target_median_met", (ratio_batched <= 1.2) as u8 as f64);
    fig.put("target_worst_growth_met", growth_ok as u8 as f64);
    let bound = ((pool_target(RATE as f64, 1) + 1) * CHUNK_BYTES) as f64;
    fig.put("target_mem_bound_bytes", bound);
    fig.put("target_looper_mem_beyond_max_bytes", mem_worst);
    fig.put("target_looper_mem_beyond_noindex_max_bytes", mem_worst_ni);
    fig.put("target_mem_met", (mem_worst <= bound) as u8 as f64);
    fig.put(
        "target_mem_met_without_index",
        (mem_worst_ni <= bound) as u8 as f64,
    );
    fig.put("node_bytes", NODE_BYTES as f64);
    fig.put("chunk_bytes", CHUNK_BYTES as f64);
    fig.put(
        "pool_target_chunks_48k_mono",
        pool_target(RATE as f64, 1) as f64,
    );

    let path = fig.write("record_path.json");
    println!(
        "\nworst block, ns (block-wise minimum over {repeats} runs, then the window's maximum):"
    );
    print!("{:>10}", "min@frames");
    for w in WAYS {
        print!("{w:>12}");
    }
    println!();
    for &bs in &BLOCKS {
        for &m in Plan::new(bs, minutes, window_s).checkpoints.iter() {
            print!("{:>10}", format!("{m}@{bs}"));
            for w in WAYS {
                print!("{:>12.0}", g(&fig, format!("{w}_worst_ns_{bs}_at_{m}min")));
            }
            println!();
        }
    }
    eprintln!("wrote {}", path.display());
}

/// The input: deterministic noise, a whole number of blocks of every size used.
fn noise_signal() -> Vec<f32> {
    noise(3 * CHUNK_SAMPLES)
}
