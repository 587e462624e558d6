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
//! Every block's time is taken with `Instant` around the audio-thread call (and, for the
//! looper, the `accept()` of what the worker delivered since the last block: the host's
//! `work_response`). The worker side runs on the same thread between blocks, outside the
//! timed region. Statistics are taken over windows: the 60 s of recording that end when
//! the loop reaches 1, 5, 10, 20, 30, 45 and 60 minutes. See docs/PERFORMANCE.md.
//!
//! Environment: LOOPER_BENCH_REPEATS (default 3), LOOPER_BENCH_MINUTES (default 60),
//! LOOPER_BENCH_WINDOW_S (default 60), LOOPER_BENCH_FIFO (default 1), LOOPER_BENCH_OUT.

mod common;

use common::*;
use looper::buffer::NODE_BYTES;
use looper::chunk::{pool_target, MemStats, CHUNK_BYTES, CHUNK_SAMPLES};
use looper::looper::{Controls, Delivery, Looper};
use looper::worker::{Silent, WorkerCore};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const RATE: usize = 48_000;
const CHECKPOINTS_MIN: [usize; 7] = [1, 5, 10, 20, 30, 45, 60];
const BLOCKS: [usize; 2] = [64, 256];
const WAYS: [&str; 5] = ["memcpy", "fixed", "replace", "vec", "looper"];
const REC: Controls = Controls {
    record: 1.0,
    play: 1.0,
};

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
}

impl Region {
    fn new(samples: usize) -> Region {
        let s = prealloc_f32(samples);
        Region {
            ptr: s.as_mut_ptr(),
            cap: s.len(),
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
        // SAFETY: the region was sized for the whole run plus a block (checked at start).
        unsafe { std::ptr::copy_nonoverlapping(io.as_ptr(), self.r.ptr.add(self.len), io.len()) };
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
    len: usize,
    dropped: u64,
}
impl Fixed {
    fn new(r: Region) -> Fixed {
        // SAFETY: the region is live for the process; only one way uses it at a time.
        let buf = unsafe { std::slice::from_raw_parts_mut(r.ptr, r.cap) };
        Fixed {
            buf,
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
        self.buf.len() * 4
    }
    fn dropped(&self) -> u64 {
        self.dropped
    }
}

// ---- periodic replacement (Luppp, as the seed describes it) -------------------------

/// The two physical buffers alternate as "current" and "next": the next buffer's logical
/// size is the current one's plus one second, as if freshly made off the audio thread,
/// already written (pre-faulted) there. Outside the measured windows the audio thread's
/// copy is skipped (its cost is not reported, and copying the growing loop every second
/// for an hour would move 1.2 TB per run); inside them every copy is done in full.
struct Replace {
    bufs: [Region; 2],
    cur: usize,
    cap: usize,
    next_cap: usize,
    len: usize,
    step: usize,
    copying: bool,
    dropped: u64,
    copies: u64,
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
            copies: 0,
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
                self.copies += 1;
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

/// Field order is drop order: the looper and undelivered items go before the worker
/// whose collector frees them.
struct LooperWay {
    lp: Looper,
    pending: Vec<Delivery>,
    core: WorkerCore,
    stats: Arc<MemStats>,
}
impl LooperWay {
    fn new() -> LooperWay {
        let stats = Arc::new(MemStats::default());
        let mut lp = Looper::new(RATE as f64, stats.clone());
        let core = WorkerCore::new(stats.clone(), Box::new(Silent));
        core.prefill(&mut lp);
        LooperWay {
            lp,
            pending: Vec::with_capacity(64),
            core,
            stats,
        }
    }
}
impl Way for LooperWay {
    #[inline(never)]
    fn record(&mut self, io: &mut [f32]) {
        // work_response for what the worker made since the last block, then run().
        for d in self.pending.drain(..) {
            self.lp.accept(d);
        }
        self.lp.process(REC, io);
    }
    fn service(&mut self) {
        if let Some(req) = self.lp.poll_request() {
            self.lp.request_sent(&req);
            let pending = &mut self.pending;
            self.core.work(req, &mut |d| {
                pending.push(d);
                Ok(())
            });
        }
    }
    fn len(&self) -> usize {
        self.lp.len()
    }
    fn held_bytes(&self) -> usize {
        self.stats.bytes_held()
    }
    fn index_bytes(&self) -> usize {
        self.stats.nodes_live() as usize * NODE_BYTES
    }
    fn dropped(&self) -> u64 {
        self.lp.dropouts()
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
                let start = end.saturating_sub(window_s * RATE / bs);
                (start, end)
            })
            .collect();
        Plan {
            bs,
            blocks: minutes * 60 * RATE / bs,
            windows,
            checkpoints,
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
    dropped: u64,
    wall_s: f64,
}

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
    let wall = Instant::now();
    for i in 0..plan.blocks {
        while wi < nw && i >= plan.windows[wi].1 {
            wi += 1;
        }
        let measuring = wi < nw && i >= plan.windows[wi].0;
        w.set_measuring(measuring);
        let s = (i % nsrc) * bs;
        io.copy_from_slice(&src[s..s + bs]);
        let t0 = Instant::now();
        w.record(black_box(&mut io));
        times[i] = ns_since(t0);
        w.service();
        if measuring {
            let held = w.held_bytes() as f64;
            let ib = w.index_bytes() as f64;
            let samples = (w.len() * 4) as f64;
            mem[wi] = mem[wi].max(held - samples);
            mem_ni[wi] = mem_ni[wi].max(held - ib - samples);
            idx[wi] = ib;
        }
    }
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
        dropped: w.dropped(),
        wall_s,
    }
}

/// Mean ns per block over batches of `batch` blocks (no per-block timer), median over
/// batches, recording `seconds` of audio from empty.
fn batched<W: Way>(w: &mut W, bs: usize, seconds: usize, src: &[f32]) -> f64 {
    let batch = 128;
    let nsrc = src.len() / bs;
    let blocks = seconds * RATE / bs;
    let mut ios: Vec<Vec<f32>> = (0..batch).map(|_| vec![0.0f32; bs]).collect();
    let mut per = Vec::new();
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
        let dt = t0.elapsed().as_nanos() as f64 / batch as f64;
        per.push(dt);
        w.service();
        i += batch;
    }
    median_f(&per)
}

fn main() {
    let repeats = env_f64("LOOPER_BENCH_REPEATS", 3.0).max(1.0) as usize;
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
    eprintln!(
        "timer overhead: median {} ns, p99.9 {} ns, worst {} ns",
        timer.median, timer.p999, timer.max
    );

    // Memory for the preallocating ways, made once: the floor and SooperLooper's buffer
    // (the same region, in turn), and Luppp's two alternating buffers.
    let total = minutes * 60 * RATE;
    let t = Instant::now();
    let flat = Region::new(total + 1024);
    let pair = [
        Region::new(total + 3 * RATE + 1024),
        Region::new(total + 3 * RATE + 1024),
    ];
    eprintln!(
        "preallocated {:.0} MiB in {:.1} s",
        (flat.cap + 2 * pair[0].cap) as f64 * 4.0 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let src = noise(3 * CHUNK_SAMPLES);

    // Warm-up: a few seconds of each way, discarded.
    {
        let short = Plan {
            bs: 64,
            blocks: 10 * RATE / 64,
            windows: Vec::new(),
            checkpoints: Vec::new(),
        };
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

    // results[way][bs index][run]
    let mut results: Vec<Vec<Vec<RunResult>>> = vec![vec![Vec::new(); BLOCKS.len()]; WAYS.len()];
    let mut looper_dropped = 0u64;
    let mut other_dropped = 0u64;
    let mut times = vec![0u32; total / 64 + 1];
    let mut scratch = Vec::with_capacity(total / 64 + 1);
    for rep in 0..repeats {
        for (bi, &bs) in BLOCKS.iter().enumerate() {
            let plan = Plan::new(bs, minutes, window_s);
            for k in 0..WAYS.len() {
                let wi = (k + rep) % WAYS.len(); // rotate the order from run to run
                let r = match wi {
                    0 => run(
                        &mut Memcpy { r: flat, len: 0 },
                        &plan,
                        &src,
                        &mut times,
                        &mut scratch,
                    ),
                    1 => run(&mut Fixed::new(flat), &plan, &src, &mut times, &mut scratch),
                    2 => run(
                        &mut Replace::new(pair),
                        &plan,
                        &src,
                        &mut times,
                        &mut scratch,
                    ),
                    3 => run(
                        &mut Grow { v: Vec::new() },
                        &plan,
                        &src,
                        &mut times,
                        &mut scratch,
                    ),
                    _ => {
                        let mut w = LooperWay::new();
                        let r = run(&mut w, &plan, &src, &mut times, &mut scratch);
                        let mlock_fail = w
                            .stats
                            .mlock_failures
                            .load(std::sync::atomic::Ordering::Relaxed);
                        fig.put("looper_mlock_failures", mlock_fail as f64);
                        r
                    }
                };
                if wi == 4 {
                    looper_dropped += r.dropped;
                } else {
                    other_dropped += r.dropped;
                }
                eprintln!(
                    "run {} bs {bs:>3} {:<7} {:6.1} s wall, worst at {} min {:>9.0} ns, at {} min {:>9.0} ns",
                    rep + 1,
                    WAYS[wi],
                    r.wall_s,
                    plan.checkpoints[0],
                    r.win[0].max,
                    plan.checkpoints.last().unwrap(),
                    r.win.last().unwrap().max
                );
                results[wi][bi].push(r);
            }
        }
    }
    fig.put("looper_dropouts_total", looper_dropped as f64);
    fig.put("other_ways_dropped_samples_total", other_dropped as f64);

    // Aggregate over runs.
    for (wi, way) in WAYS.iter().enumerate() {
        for (bi, &bs) in BLOCKS.iter().enumerate() {
            let plan = Plan::new(bs, minutes, window_s);
            let runs = &results[wi][bi];
            for (ci, &m) in plan.checkpoints.iter().enumerate() {
                let col = |f: &dyn Fn(&RunResult) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
                fig.put(
                    format!("{way}_median_ns_{bs}_at_{m}min"),
                    median_f(&col(&|r| r.win[ci].median)),
                );
                fig.put(
                    format!("{way}_p999_ns_{bs}_at_{m}min"),
                    median_f(&col(&|r| r.win[ci].p999)),
                );
                fig.put(
                    format!("{way}_worst_ns_{bs}_at_{m}min"),
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
            if *way != "replace" {
                let w: Vec<f64> = runs.iter().map(|r| r.whole.max).collect();
                fig.put(format!("{way}_worst_ns_{bs}_whole_run"), min_f(&w));
                fig.put(format!("{way}_worst_raw_ns_{bs}_whole_run"), max_f(&w));
                let p: Vec<f64> = runs.iter().map(|r| r.whole.p999).collect();
                fig.put(format!("{way}_p999_ns_{bs}_whole_run"), median_f(&p));
                let md: Vec<f64> = runs.iter().map(|r| r.whole.median).collect();
                fig.put(format!("{way}_median_ns_{bs}_whole_run"), median_f(&md));
            }
        }
    }

    // Mean cost per block without a timer around each block: 60 s from empty, batches
    // of 128 blocks.
    for &bs in &BLOCKS {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push([
                batched(&mut Memcpy { r: flat, len: 0 }, bs, 60, &src),
                batched(&mut Fixed::new(flat), bs, 60, &src),
                batched(&mut Replace::new(pair), bs, 60, &src),
                batched(&mut Grow { v: Vec::new() }, bs, 60, &src),
                batched(&mut LooperWay::new(), bs, 60, &src),
            ]);
        }
        for (wi, way) in WAYS.iter().enumerate() {
            let xs: Vec<f64> = v.iter().map(|a| a[wi]).collect();
            fig.put(format!("{way}_batched_ns_{bs}"), min_f(&xs));
        }
    }

    // The targets.
    let last = *Plan::new(64, minutes, window_s).checkpoints.last().unwrap();
    let first = CHECKPOINTS_MIN[0];
    let g = |k: String| fig.get(&k).unwrap_or(f64::NAN);
    let mut worst_net = 0.0f64;
    let mut worst_raw = 0.0f64;
    let mut worst_batched = 0.0f64;
    let mut time_ok = true;
    let mut mem_worst = f64::NEG_INFINITY;
    let mut mem_worst_ni = f64::NEG_INFINITY;
    for &bs in &BLOCKS {
        for &m in Plan::new(bs, minutes, window_s).checkpoints.iter() {
            let lm = g(format!("looper_median_ns_{bs}_at_{m}min"));
            let mm = g(format!("memcpy_median_ns_{bs}_at_{m}min"));
            worst_raw = worst_raw.max(lm / mm);
            worst_net = worst_net.max((lm - timer.median) / (mm - timer.median));
            mem_worst = mem_worst.max(g(format!("looper_mem_beyond_bytes_{bs}_at_{m}min")));
            mem_worst_ni =
                mem_worst_ni.max(g(format!("looper_mem_beyond_noindex_bytes_{bs}_at_{m}min")));
        }
        let lm = g(format!("looper_median_ns_{bs}_at_{last}min"));
        let mm = g(format!("memcpy_median_ns_{bs}_at_{last}min"));
        fig.put(
            format!("target_median_ratio_raw_{bs}_at_{last}min"),
            lm / mm,
        );
        fig.put(
            format!("target_median_ratio_net_{bs}_at_{last}min"),
            (lm - timer.median) / (mm - timer.median),
        );
        let b = g(format!("looper_batched_ns_{bs}")) / g(format!("memcpy_batched_ns_{bs}"));
        fig.put(format!("target_median_ratio_batched_{bs}"), b);
        worst_batched = worst_batched.max(b);
        let r = g(format!("looper_worst_ns_{bs}_at_{last}min"))
            / g(format!("looper_worst_ns_{bs}_at_{first}min"));
        fig.put(format!("target_looper_worst_growth_{bs}"), r);
        time_ok &= r <= 1.5;
        let rr = g(format!("looper_worst_raw_ns_{bs}_at_{last}min"))
            / g(format!("looper_worst_raw_ns_{bs}_at_{first}min"));
        fig.put(format!("target_looper_worst_raw_growth_{bs}"), rr);
        fig.put(
            format!("target_replace_worst_growth_{bs}"),
            g(format!("replace_worst_ns_{bs}_at_{last}min"))
                / g(format!("replace_worst_ns_{bs}_at_{first}min")),
        );
    }
    fig.put("target_median_ratio_raw_max", worst_raw);
    fig.put("target_median_ratio_net_max", worst_net);
    fig.put("target_median_ratio_batched_max", worst_batched);
    fig.put(
        "target_median_met",
        (worst_net <= 1.2 && worst_batched <= 1.2) as u8 as f64,
    );
    fig.put("target_worst_growth_met", time_ok as u8 as f64);
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
    // A readable table on stdout.
    println!("\nworst block (ns; min over {repeats} runs of each window's worst), 64 frames:");
    print!("{:>8}", "min");
    for w in WAYS {
        print!("{w:>12}");
    }
    println!();
    for &bs in &BLOCKS {
        for &m in Plan::new(bs, minutes, window_s).checkpoints.iter() {
            print!("{:>5}@{bs:<3}", m);
            for w in WAYS {
                print!("{:>12.0}", g(format!("{w}_worst_ns_{bs}_at_{m}min")));
            }
            println!();
        }
    }
    eprintln!("wrote {}", path.display());
}
