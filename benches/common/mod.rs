//! Shared by the benchmark binaries (`harness = false`): output, timing statistics, and
//! how the measuring thread is placed on the machine.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Instant;

/// Where the figures go: `$LOOPER_BENCH_OUT`, else `<repo>/target/bench`.
pub fn out_dir() -> PathBuf {
    let dir = match std::env::var_os("LOOPER_BENCH_OUT") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("bench"),
    };
    std::fs::create_dir_all(&dir).expect("create the bench output directory");
    dir
}

/// An environment variable as a number, or `default`.
pub fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Flat `{"name": number}` output, in insertion order.
#[derive(Default)]
pub struct Figures {
    items: Vec<(String, f64)>,
}

impl Figures {
    pub fn put(&mut self, key: impl Into<String>, v: f64) {
        let key = key.into();
        if let Some(e) = self.items.iter_mut().find(|(k, _)| *k == key) {
            e.1 = v;
        } else {
            self.items.push((key, v));
        }
    }
    pub fn get(&self, key: &str) -> Option<f64> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
    pub fn write(&self, name: &str) -> PathBuf {
        let mut s = String::from("{\n");
        for (i, (k, v)) in self.items.iter().enumerate() {
            let val = if v.is_finite() {
                if v.fract() == 0.0 && v.abs() < 9e15 {
                    format!("{}", *v as i64)
                } else {
                    format!("{v:.4}")
                }
            } else {
                "null".to_string()
            };
            s += &format!(
                "  \"{k}\": {val}{}\n",
                if i + 1 < self.items.len() { "," } else { "" }
            );
        }
        s += "}\n";
        let path = out_dir().join(name);
        std::fs::write(&path, s).expect("write figures");
        path
    }
}

/// Median, 99.9th percentile and maximum of a set of per-block times (ns).
#[derive(Clone, Copy, Debug, Default)]
pub struct Dist {
    pub median: f64,
    pub p999: f64,
    pub max: f64,
    pub n: usize,
}

/// Nearest-rank percentile of sorted data, `q` in 0..=1.
pub fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Statistics of `times` (sorted in place; `scratch` avoids an allocation per call).
pub fn dist(times: &[u32], scratch: &mut Vec<u32>) -> Dist {
    scratch.clear();
    scratch.extend_from_slice(times);
    scratch.sort_unstable();
    Dist {
        median: pct(scratch, 0.5),
        p999: pct(scratch, 0.999),
        max: scratch.last().copied().map_or(f64::NAN, f64::from),
        n: scratch.len(),
    }
}

/// Median of a few numbers (runs).
pub fn median_f(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn min_f(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}
pub fn max_f(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Nanoseconds since `t0`, saturating at u32::MAX (4.3 s).
#[inline(always)]
pub fn ns_since(t0: Instant) -> u32 {
    t0.elapsed().as_nanos().min(u32::MAX as u128) as u32
}

/// The cost of the timing itself: an empty region between two `Instant::now()` calls.
pub fn timer_overhead() -> Dist {
    let n = 1_000_000;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        v.push(ns_since(t0));
    }
    dist(&v, &mut Vec::with_capacity(n))
}

/// How the measuring thread was placed.
pub struct Placement {
    pub cpu: i32,
    pub fifo: bool,
}

/// Pins the calling thread to the last CPU and, unless `LOOPER_BENCH_FIFO=0`, asks for
/// SCHED_FIFO priority 70, as an audio thread would have. Both are best effort.
pub fn place_thread() -> Placement {
    // SAFETY: plain syscalls on the calling thread with properly initialised arguments.
    unsafe {
        let ncpu = libc::sysconf(libc::_SC_NPROCESSORS_ONLN).max(1) as i32;
        let cpu = ncpu - 1;
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        let pinned = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0;
        let want_fifo = std::env::var("LOOPER_BENCH_FIFO").map_or(true, |v| v != "0");
        let fifo = want_fifo && {
            let p = libc::sched_param { sched_priority: 70 };
            libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) == 0
        };
        Placement {
            cpu: if pinned { cpu } else { -1 },
            fifo,
        }
    }
}

/// Maps `bytes` of anonymous memory, locks it (best effort) and writes every page, as an
/// audio program does with memory it preallocates. Never freed before the process ends
/// unless passed to [`unmap`].
pub fn prealloc_f32(samples: usize) -> &'static mut [f32] {
    let bytes = samples * 4;
    // SAFETY: a fresh anonymous mapping; checked for failure; pages written in bounds.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert!(p != libc::MAP_FAILED, "mmap of {bytes} bytes failed");
        libc::mlock(p, bytes);
        let b = p.cast::<u8>();
        let mut off = 0;
        while off < bytes {
            std::ptr::write_volatile(b.add(off), 0);
            off += 4096;
        }
        std::slice::from_raw_parts_mut(p.cast::<f32>(), samples)
    }
}

/// Input signal: deterministic noise in (-0.5, 0.5).
pub fn noise(n: usize) -> Vec<f32> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// The machine's own interruptions, seen from a thread that only reads the clock for
/// `seconds`: the longest gap between two reads, how many gaps exceed 10 µs per second,
/// and the median length of the gaps over 5 µs (a timer tick's cost, on a VM).
pub struct Noise {
    pub worst_ns: f64,
    pub over_10us_per_s: f64,
    pub median_gap_over_5us_ns: f64,
}

pub fn machine_noise(seconds: f64) -> Noise {
    let mut measured = 0.0;
    let mut worst = 0u64;
    let mut over10 = 0u64;
    let mut gaps: Vec<u32> = Vec::with_capacity(100_000);
    while measured < seconds {
        // Slices of 8 ms with a 1 ms sleep between them, to stay under the realtime
        // throttle; the sleeps are not counted.
        let slice = Instant::now();
        let mut last = slice;
        loop {
            let now = Instant::now();
            let d = (now - last).as_nanos() as u64;
            if d > 5_000 {
                if gaps.len() < gaps.capacity() {
                    gaps.push(d.min(u32::MAX as u64) as u32);
                }
                if d > 10_000 {
                    over10 += 1;
                }
            }
            worst = worst.max(d);
            last = now;
            if (now - slice).as_micros() >= 8_000 {
                break;
            }
        }
        measured += slice.elapsed().as_secs_f64();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    gaps.sort_unstable();
    Noise {
        worst_ns: worst as f64,
        over_10us_per_s: over10 as f64 / measured,
        median_gap_over_5us_ns: if gaps.is_empty() {
            0.0
        } else {
            pct(&gaps, 0.5)
        },
    }
}

/// Keeps a SCHED_FIFO thread under the kernel's realtime throttle (by default RT tasks
/// may run 95 % of each second; past that they are stopped for the rest of it, which
/// would show up as a 50 ms "block"): call `tick()` between blocks, outside the timed
/// region; after every 10 ms of work it sleeps an eighth of the time worked. An audio
/// thread sleeps between periods too.
pub struct Duty {
    since: Instant,
}

impl Default for Duty {
    fn default() -> Self {
        Duty {
            since: Instant::now(),
        }
    }
}

impl Duty {
    #[inline]
    pub fn tick(&mut self) {
        let worked = self.since.elapsed();
        if worked >= std::time::Duration::from_millis(10) {
            std::thread::sleep(worked / 8);
            self.since = Instant::now();
        }
    }
}

/// Whether cargo ran this as a benchmark (`cargo bench` passes `--bench`). Under
/// `cargo test --all-targets` a `harness = false` bench is run without it: the binaries
/// then only say so and exit, instead of measuring for minutes.
pub fn benchmarking() -> bool {
    let yes = std::env::args().any(|a| a == "--bench");
    if !yes {
        eprintln!("not run as a benchmark (use cargo bench or scripts/bench.sh): skipped");
    }
    yes
}

/// Controls for the benchmarks: the port defaults, with fades off (exact figures) and
/// `record`, `play`, `overdub` as given.
pub fn ctl(record: bool, play: bool, overdub: bool) -> looper::engine::looper::Controls {
    looper::engine::looper::Controls {
        record: record as u8 as f32,
        play: play as u8 as f32,
        overdub: overdub as u8 as f32,
        fade: 0.0,
        ..looper::engine::looper::Controls::default()
    }
}

/// One looper with its worker run inline, as the benchmarks drive it: `deliver` then
/// `process` is the audio thread's block (`work_response`, then `run()`), `service` the
/// worker's turn between blocks, outside any timed region.
///
/// Field order is drop order: the looper and undelivered items go before the worker
/// whose collector frees them.
pub struct Rig {
    pub lp: looper::engine::looper::Looper,
    pending: Vec<looper::engine::looper::Delivery>,
    pub core: looper::engine::worker::WorkerCore,
    pub stats: std::sync::Arc<looper::chunk::MemStats>,
}

impl Rig {
    /// A mono looper at `rate` with its pool filled, as after `instantiate`.
    pub fn new(rate: f64) -> Rig {
        Rig::with_channels(rate, 1)
    }

    /// A looper of `channels` at `rate` with its pool filled, as after `instantiate`.
    pub fn with_channels(rate: f64, channels: usize) -> Rig {
        let stats = std::sync::Arc::new(looper::chunk::MemStats::default());
        let mut lp = looper::engine::looper::Looper::new(rate, channels, stats.clone());
        let core = looper::engine::worker::WorkerCore::new(
            stats.clone(),
            Box::new(looper::engine::worker::Silent),
        );
        core.prefill(&mut lp);
        Rig {
            lp,
            pending: Vec::with_capacity(64),
            core,
            stats,
        }
    }

    /// [audio] Takes what the worker made since the last block.
    #[inline]
    pub fn deliver(&mut self) {
        for d in self.pending.drain(..) {
            self.lp.accept(d);
        }
    }

    /// [audio] One block: `io[c]` is channel `c` (one or two), processed in place.
    #[inline]
    pub fn process(&mut self, c: &looper::engine::looper::Controls, io: &mut [Vec<f32>]) {
        process_in(&mut self.lp, c, io);
    }

    /// [audio] A block of no frames: only the controls' edges take effect.
    pub fn control(&mut self, c: &looper::engine::looper::Controls) {
        let mut e: [&mut [f32]; 2] = [&mut [], &mut []];
        let n = self.lp.channels();
        self.lp.process(c, &mut e[..n]);
    }

    /// [worker] Serves the looper's request, if it made one.
    pub fn service(&mut self) {
        if let Some(req) = self.lp.poll_request() {
            let pending = &mut self.pending;
            self.core.work(req, &mut |d| {
                pending.push(d);
                Ok(())
            });
        }
    }

    /// [worker] Serves requests and delivers until the pool is full and nothing retired
    /// is left to free (between measurements).
    pub fn settle(&mut self) {
        for _ in 0..4 {
            self.service();
            self.deliver();
            self.core.collect();
        }
    }

    /// Records a take of `frames` frames of `src` (noise) in big blocks, serving the
    /// worker between them, and closes it: the loop then plays from its start. Fades off.
    pub fn record_loop(&mut self, frames: usize, src: &[f32]) {
        let ch = self.lp.channels();
        let big = 16_384.min(src.len());
        let mut io: Vec<Vec<f32>> = (0..ch).map(|_| vec![0.0f32; big]).collect();
        let rec = ctl(true, true, false);
        let mut done = 0;
        let mut k = 0;
        while done < frames {
            let n = big.min(frames - done);
            for (c, b) in io.iter_mut().enumerate() {
                b.resize(n, 0.0);
                let s = ((k * 7 + c * 3) * 977) % (src.len() - n + 1);
                b.copy_from_slice(&src[s..s + n]);
            }
            self.deliver();
            self.process(&rec, &mut io);
            self.service();
            done += n;
            k += 1;
        }
        self.deliver();
        self.control(&ctl(false, true, false));
        self.settle();
        assert_eq!(self.lp.len(), frames, "the take lost frames (dropouts)");
    }
}

/// [audio] One block through `lp`: `io[c]` is channel `c` (one or two), in place.
#[inline]
pub fn process_in(
    lp: &mut looper::engine::looper::Looper,
    c: &looper::engine::looper::Controls,
    io: &mut [Vec<f32>],
) {
    match io {
        [a] => lp.process(c, &mut [&mut a[..]]),
        [a, b] => lp.process(c, &mut [&mut a[..], &mut b[..]]),
        _ => panic!("one or two channels"),
    }
}

/// Each block's least time over runs: `bmin[i] = min(bmin[i], times[i])`.
pub fn min_into(bmin: &mut [u32], times: &[u32]) {
    for (b, t) in bmin.iter_mut().zip(times) {
        *b = (*b).min(*t);
    }
}

/// Cools the caches as a host's other plugins would between two periods: writes
/// `bytes` of a buffer of its own (kept for the process), a line at a time.
pub struct Cooler {
    buf: &'static mut [f32],
    round: f32,
}

impl Cooler {
    pub fn new(bytes: usize) -> Cooler {
        Cooler {
            buf: prealloc_f32(bytes.div_ceil(4).max(16)),
            round: 0.0,
        }
    }
    /// Writes every 64-byte line of the buffer once.
    #[inline(never)]
    pub fn cool(&mut self) {
        self.round += 1.0;
        let r = self.round;
        for x in self.buf.iter_mut().step_by(16) {
            *x = r;
        }
        std::hint::black_box(&mut *self.buf);
    }
    pub fn bytes(&self) -> usize {
        self.buf.len() * 4
    }
}

/// A preallocated, locked, pre-faulted loop of `frames` x `channels` (planar) that a
/// plain copy plays and overdubs: the floor the looper's play and overdub paths are
/// measured against. Play copies the loop into the block; overdub swaps the block with
/// the loop (the old samples out, the input in: one copy each way).
pub struct FlatLoop {
    ptr: *mut f32,
    pub frames: usize,
    pub channels: usize,
    pub pos: usize,
}

impl FlatLoop {
    /// A loop in `mem` (which must hold `frames * channels` samples), playing from 0.
    pub fn new(mem: &mut [f32], frames: usize, channels: usize) -> FlatLoop {
        assert!(mem.len() >= frames * channels);
        FlatLoop {
            ptr: mem.as_mut_ptr(),
            frames,
            channels,
            pos: 0,
        }
    }
    /// [audio] One block: play (`overdub` false) or overdub. Blocks never straddle the
    /// loop's end: the lengths used are whole numbers of blocks.
    #[inline(never)]
    pub fn block(&mut self, overdub: bool, io: &mut [Vec<f32>]) {
        let n = io[0].len();
        if self.pos + n > self.frames {
            self.pos = 0;
        }
        for (c, b) in io.iter_mut().enumerate().take(self.channels) {
            // SAFETY: pos + n <= frames, and the channel's span lies within `mem`.
            let l = unsafe {
                std::slice::from_raw_parts_mut(self.ptr.add(c * self.frames + self.pos), n)
            };
            if overdub {
                l.swap_with_slice(b);
            } else {
                b.copy_from_slice(l);
            }
        }
        self.pos += n;
    }
}
