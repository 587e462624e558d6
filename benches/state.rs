//! Saving and restoring the loop (LV2 state), with loops of 1 minute and 1 hour of stereo
//! at 48 kHz (recorded through `process()` in 64-frame blocks, with a 5 ms tail), on the
//! engine directly (the LV2 glue around it is a few calls):
//!
//! - **Save**: the snapshot taken through the save gate from another thread while the
//!   audio thread keeps running blocks (`SaveGate::take`, answered at a block's end),
//!   then `loopfile::write_wav` into a file; against a plain write of the same number
//!   of bytes from a `Vec` (one `write_all`) into the same folder, and a memcpy of them
//!   (the floor), in the same run, alternating. Into the page cache: before each timed
//!   write the system has no dirty pages (`sync`, untimed) and the last file is deleted,
//!   so that no write is throttled for another's writeback; and once each with `fsync`.
//! - **Restore**: `loopfile::read_wav` of that file into new locked chunks (what the
//!   plugin's restore does before it installs the loop; the install is O(1), timed
//!   once), against `std::fs::read` of the plain file; warm (both files in the page
//!   cache, as just written) and cold (both fsynced, then dropped from the cache with
//!   `POSIX_FADV_DONTNEED`; `mincore` checks how many of their pages stayed). Also the
//!   time to make the chunks alone (the part of a restore that is not reading).
//! - **The worst block while a save is in progress**: every 64-frame block timed
//!   (`Instant` around the save gate's `enter()` + `accept()` + `process()`: what the
//!   plugin's `run()` does, without its port handling), at realtime pace
//!   (the audio thread sleeps until each period's deadline, as in a host), over a window
//!   that starts as the save begins and outlasts it by 0.25 s; with and without the
//!   save, the runs alternating, each run from the loop's start so that the runs are
//!   identical block for block. Two paths: **overdub** into the loop being saved (every
//!   chunk it enters is shared, with the history and the snapshot, and copied), and
//!   **record** a new take while the old loop is being written. Statistics as in
//!   `layers`: the code's own worst (each block's least time over the runs, then the
//!   window's largest), the raw worst, the p99.9 and the median (medians over the
//!   runs); over the whole window and over the blocks the save overlapped (but the
//!   first).
//!
//! Throughputs are GB/s (1e9 bytes) of the WAV file's size; the headline figures and
//! ratios take each way's best run (least time: this shared VM slows single writes
//! by up to 10x at random, for either way), the medians are kept too (`*_median_*`).
//!
//! Threads: the audio thread is this one, pinned to CPU 0 (`LOOPER_BENCH_STATE_AUDIO_CPU`)
//! with SCHED_FIFO (best effort, as `common::place_thread`); the worker runs inline
//! between its blocks, untimed. The saver (and reader) is a thread of its own pinned to
//! the last CPU (or CPU 0 if the audio thread is there): on the 2-core VM this was
//! measured on, every disk interrupt (virtio-blk) is delivered to the last CPU, where
//! the other benches put their audio thread; here it hits the thread doing the I/O.
//! Files go to
//! `$LOOPER_BENCH_OUT/state-files` (default `target/bench`), deleted at the end.
//!
//! Environment: LOOPER_BENCH_STATE_MINUTES (60), LOOPER_BENCH_STATE_REPEATS (4, three
//! times as many for the 1-minute loop; cold reads: at most 3),
//! LOOPER_BENCH_STATE_BLOCK_REPEATS (3), LOOPER_BENCH_STATE_AUDIO_CPU (0),
//! LOOPER_BENCH_STATE_NEIGHBOUR (`save`; `spin` or `stream` replace the save in the
//! windows by a control that only spins or only copies memory as long),
//! LOOPER_BENCH_FIFO, LOOPER_BENCH_OUT.

mod common;

use common::*;
use looper::chunk::CHUNK_SAMPLES;
use looper::engine::history::Version;
use looper::engine::looper::{Controls, Delivery, Looper};
use looper::engine::loopfile::{read_wav, write_wav, Expect, Loaded};
use looper::engine::snapshot::{SaveGate, Snapshot};
use looper::engine::worker::{Silent, WorkerCore};
use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: usize = 48_000;
const CH: usize = 2;
const BS: usize = 64;
const FADE_MS: f32 = 5.0;

/// The looper and its worker, run inline (as `common::Rig`, with its fields split so
/// that the saver thread can share the worker core). Field order is drop order.
struct Engine {
    lp: Looper,
    pending: Vec<Delivery>,
    core: WorkerCore,
}

/// [audio] Takes what the worker made since the last block.
fn deliver(lp: &mut Looper, pending: &mut Vec<Delivery>) {
    for d in pending.drain(..) {
        lp.accept(d);
    }
}

/// [worker] Serves the looper's request, if it made one.
fn service(lp: &mut Looper, pending: &mut Vec<Delivery>, core: &WorkerCore) {
    if let Some(req) = lp.poll_request() {
        core.work(req, &mut |d| {
            pending.push(d);
            Ok(())
        });
    }
}

/// The audio thread's side: blocks of noise through the looper, timed or not, at
/// realtime pace or not.
struct Audio<'a> {
    /// Entered around every block, as the plugin's `run()` and `work_response()` do: the
    /// looper answers a waiting saver only from inside an entry.
    gate: Arc<SaveGate>,
    lp: &'a mut Looper,
    pending: &'a mut Vec<Delivery>,
    core: &'a WorkerCore,
    src: Vec<f32>,
    io: Vec<Vec<f32>>,
    block: usize,
    /// The next period's deadline, when paced.
    next: Instant,
    period: Duration,
    duty: Duty,
}

impl Audio<'_> {
    /// [audio] One block of `c`; returns its time (ns): accept() + process().
    fn block(&mut self, c: &Controls, paced: bool) -> u32 {
        if paced {
            let now = Instant::now();
            if self.next > now {
                std::thread::sleep(self.next - now);
            }
            self.next = (self.next + self.period).max(Instant::now());
        } else {
            self.duty.tick();
        }
        let nsrc = self.src.len() / BS;
        for (ch, b) in self.io.iter_mut().enumerate() {
            let s = ((self.block + ch * 17) % nsrc) * BS;
            b.copy_from_slice(&self.src[s..s + BS]);
        }
        self.block += 1;
        let t0 = Instant::now();
        let entry = self.gate.enter();
        assert!(entry.is_some(), "a saver claimed the engine while it ran");
        deliver(self.lp, self.pending);
        process_in(self.lp, c, black_box(&mut self.io));
        drop(entry);
        let t = ns_since(t0);
        service(self.lp, self.pending, self.core);
        t
    }

    /// [audio] A block of no frames: only the controls' edges take effect.
    fn control(&mut self, c: &Controls) {
        let mut e: [&mut [f32]; 2] = [&mut [], &mut []];
        let entry = self.gate.enter();
        assert!(entry.is_some(), "a saver claimed the engine while it ran");
        self.lp.process(c, &mut e[..CH]);
        drop(entry);
        service(self.lp, self.pending, self.core);
        let entry = self.gate.enter();
        deliver(self.lp, self.pending);
        drop(entry);
    }

    /// [audio] Paced blocks of `c` until the saver answers.
    fn wait<T>(&mut self, c: &Controls, rx: &Receiver<T>) -> T {
        loop {
            match rx.try_recv() {
                Ok(v) => return v,
                Err(TryRecvError::Disconnected) => panic!("the saver thread ended"),
                Err(TryRecvError::Empty) => {}
            }
            self.block(c, true);
        }
    }
}

fn stopped() -> Controls {
    ctl(false, false, false)
}
fn playing() -> Controls {
    ctl(false, true, false)
}

/// The windows' controls: `undo_memory` past the 1-hour stereo loop (1.3 GiB, over the
/// 1 GiB default), so that a take recorded over it does not release it from the history
/// and undo brings it back for the next run.
fn keep(c: Controls) -> Controls {
    Controls {
        undo_memory: 65_536.0,
        ..c
    }
}

/// [audio] Records a take of `frames` of noise in 64-frame blocks, flat out, and
/// closes it with a tail of `FADE_MS`; the loop then plays.
fn record(a: &mut Audio, frames: usize) {
    let rec = Controls {
        fade: FADE_MS,
        ..ctl(true, true, false)
    };
    let mut done = 0;
    while done < frames {
        a.block(&rec, false);
        done += BS;
    }
    let play = Controls {
        fade: FADE_MS,
        ..playing()
    };
    for _ in 0..(FADE_MS as usize * RATE / 1000).div_ceil(BS) + 2 {
        a.block(&play, false);
    }
    a.control(&playing());
    assert_eq!(
        a.lp.len(),
        frames.div_ceil(BS) * BS,
        "dropouts while recording"
    );
    assert_eq!(a.lp.dropouts(), 0);
}

/// What the saver thread is asked to do.
enum Op {
    /// Take a snapshot, write it to the file; fsync if asked. Keeps the file.
    Save {
        path: PathBuf,
        fsync: bool,
    },
    /// Write the plain buffer's bytes to the file; fsync if asked.
    Plain {
        path: PathBuf,
        fsync: bool,
    },
    /// Copy the plain buffer into the floor's buffer.
    Memcpy,
    /// Read a saved loop back (`cold`: drop it from the page cache first). Sends the
    /// loaded loop back if `keep`.
    Restore {
        path: PathBuf,
        cold: bool,
        keep: bool,
    },
    /// Read the plain file (`cold` as above).
    Read {
        path: PathBuf,
        cold: bool,
    },
    /// Make (then free) as many chunks as a loop of `bytes` needs, through the worker
    /// core's supply: the part of a restore that is not reading.
    Chunks {
        bytes: usize,
    },
    /// Take a snapshot and save it, for a window of blocks: says when it has the
    /// snapshot, then when the file is written. With `LOOPER_BENCH_STATE_NEIGHBOUR`
    /// `spin` or `stream`, a control: after the snapshot, instead of writing, spin on
    /// the CPU or copy memory (128 MiB at a time) for `secs`.
    SaveInWindow {
        path: PathBuf,
        secs: f64,
    },
    Quit,
}

/// What the saver thread answers.
enum Done {
    Save {
        take_ns: f64,
        write_s: f64,
        fsync_s: f64,
        bytes: u64,
    },
    Plain {
        write_s: f64,
        fsync_s: f64,
    },
    Memcpy {
        s: f64,
    },
    Restore {
        read_s: f64,
        resident: f64,
        loaded: Option<Box<Loaded>>,
    },
    Read {
        read_s: f64,
        resident: f64,
    },
    Chunks {
        s: f64,
        n: usize,
    },
    Snapshot,
    Written {
        write_s: f64,
    },
}

/// Before a timed write: no dirty pages anywhere in the system (`sync`, untimed), so
/// that no write is throttled for another's (this VM's buffered writes drop from ~3 GB/s
/// to the disk's ~0.3 GB/s while writeback is under way).
fn clean_slate() {
    // SAFETY: a plain syscall.
    unsafe { libc::sync() };
}

/// What runs beside the audio thread in the windows "with a save": `save` (the default),
/// or a control (`spin`, `stream`; see `Op::SaveInWindow`).
fn neighbour() -> String {
    std::env::var("LOOPER_BENCH_STATE_NEIGHBOUR").unwrap_or_else(|_| "save".into())
}

/// Fraction of `path`'s pages in the page cache (`mincore`).
fn resident(path: &Path) -> f64 {
    let f = File::open(path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    if len == 0 {
        return 0.0;
    }
    let page = 4096;
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: a read-only shared mapping of the whole file, unmapped below; mincore fills
    // one byte per page of it.
    unsafe {
        use std::os::fd::AsRawFd;
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert!(p != libc::MAP_FAILED);
        assert_eq!(libc::mincore(p, len, vec.as_mut_ptr()), 0);
        libc::munmap(p, len);
    }
    vec.iter().filter(|&&b| b & 1 != 0).count() as f64 / pages as f64
}

/// Drops `path` from the page cache: fsync (its pages are then clean), then
/// `POSIX_FADV_DONTNEED`. Returns the fraction of its pages still cached.
fn drop_cache(path: &Path) -> f64 {
    let f = File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: advice on an open descriptor of ours, for the whole file.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    resident(path)
}

/// Pins the calling thread to `cpu` and, unless `LOOPER_BENCH_FIFO=0`, asks for
/// SCHED_FIFO priority 70 (as `common::place_thread`, on a CPU of our choosing).
fn place_on(cpu: usize) -> Placement {
    pin_to(cpu);
    let want_fifo = std::env::var("LOOPER_BENCH_FIFO").map_or(true, |v| v != "0");
    // SAFETY: a plain syscall on the calling thread with an initialised argument.
    let fifo = want_fifo
        && unsafe {
            let p = libc::sched_param { sched_priority: 70 };
            libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) == 0
        };
    // SAFETY: as above.
    let on = unsafe { libc::sched_getcpu() };
    Placement { cpu: on, fifo }
}

fn pin_to(cpu: usize) {
    // SAFETY: plain syscall on the calling thread with an initialised set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The saver thread: serves `Op`s until `Quit`.
fn saver(
    cpu: usize,
    gate: Arc<SaveGate>,
    core: &WorkerCore,
    want: Expect,
    plain_bytes: usize,
    ops: Receiver<Op>,
    done: Sender<Done>,
) {
    pin_to(cpu);
    let take = || {
        gate.take(|| panic!("the audio thread did not answer the save gate within its stall time"))
    };
    // The plain write's bytes (pre-faulted) and the floor's buffer.
    let mut plain: Vec<u8> = Vec::new();
    let mut floor: Vec<u8> = Vec::new();
    let bytes_of = |p: &Path| std::fs::metadata(p).unwrap().len();
    for op in ops {
        match op {
            Op::Save { path, fsync } => {
                clean_slate();
                let t0 = Instant::now();
                let snap: Snapshot = take();
                let take_ns = t0.elapsed().as_nanos() as f64;
                let t1 = Instant::now();
                let mut f = File::create(&path).unwrap();
                write_wav(&mut f, &snap, RATE as u32).unwrap();
                let write_s = t1.elapsed().as_secs_f64();
                let fsync_s = if fsync {
                    f.sync_all().unwrap();
                    t1.elapsed().as_secs_f64()
                } else {
                    f64::NAN
                };
                drop(f);
                drop(snap);
                let bytes = bytes_of(&path);
                done.send(Done::Save {
                    take_ns,
                    write_s,
                    fsync_s,
                    bytes,
                })
                .unwrap();
            }
            Op::Plain { path, fsync } => {
                if plain.len() != plain_bytes {
                    // Noise, every page written (untimed).
                    plain = vec![0u8; plain_bytes];
                    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                    for c in plain.chunks_mut(8) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
                    }
                }
                clean_slate();
                let t0 = Instant::now();
                let mut f = File::create(&path).unwrap();
                f.write_all(&plain).unwrap();
                let write_s = t0.elapsed().as_secs_f64();
                let fsync_s = if fsync {
                    f.sync_all().unwrap();
                    t0.elapsed().as_secs_f64()
                } else {
                    f64::NAN
                };
                done.send(Done::Plain { write_s, fsync_s }).unwrap();
            }
            Op::Memcpy => {
                if floor.len() != plain.len() {
                    floor = vec![1u8; plain.len()];
                }
                let t0 = Instant::now();
                floor.copy_from_slice(black_box(&plain));
                black_box(&mut floor);
                let s = t0.elapsed().as_secs_f64();
                done.send(Done::Memcpy { s }).unwrap();
            }
            Op::Restore { path, cold, keep } => {
                // The plain buffers are not needed any more: give their memory back.
                plain = Vec::new();
                floor = Vec::new();
                let resident = if cold {
                    drop_cache(&path)
                } else {
                    resident(&path)
                };
                let t0 = Instant::now();
                let f = File::open(&path).unwrap();
                let want = Expect {
                    bytes: Some(f.metadata().unwrap().len()),
                    ..want
                };
                // As the plugin's restore reads it (a small buffer for the header).
                let loaded =
                    read_wav(BufReader::with_capacity(8192, f), &want, &core.supply()).unwrap();
                let read_s = t0.elapsed().as_secs_f64();
                let loaded = if keep {
                    Some(Box::new(loaded))
                } else {
                    drop(loaded);
                    core.collect(); // (untimed) its chunks back to the system, here
                    None
                };
                done.send(Done::Restore {
                    read_s,
                    resident,
                    loaded,
                })
                .unwrap();
            }
            Op::Read { path, cold } => {
                let resident = if cold {
                    drop_cache(&path)
                } else {
                    resident(&path)
                };
                let t0 = Instant::now();
                let v = std::fs::read(&path).unwrap();
                let read_s = t0.elapsed().as_secs_f64();
                black_box(&v);
                drop(v);
                done.send(Done::Read { read_s, resident }).unwrap();
            }
            Op::Chunks { bytes } => {
                use looper::engine::loopfile::Supply;
                let n = bytes.div_ceil(looper::chunk::CHUNK_BYTES);
                let mut v = Vec::with_capacity(n);
                let supply = core.supply();
                let t0 = Instant::now();
                for _ in 0..n {
                    v.push(supply.chunk().expect("memory for a chunk"));
                }
                let s = t0.elapsed().as_secs_f64();
                drop(v);
                core.collect();
                done.send(Done::Chunks { s, n }).unwrap();
            }
            Op::SaveInWindow { path, secs } => {
                let snap = take();
                done.send(Done::Snapshot).unwrap();
                let t0 = Instant::now();
                match neighbour().as_str() {
                    "spin" => {
                        let mut x = 1u64;
                        while t0.elapsed().as_secs_f64() < secs {
                            for _ in 0..10_000 {
                                x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                            }
                        }
                        File::create(&path).unwrap();
                    }
                    "stream" => {
                        let mut buf = vec![1u8; 256 << 20];
                        while t0.elapsed().as_secs_f64() < secs {
                            let (a, b) = buf.split_at_mut(128 << 20);
                            a.copy_from_slice(black_box(b));
                        }
                        File::create(&path).unwrap();
                    }
                    _ => {
                        let mut f = File::create(&path).unwrap();
                        write_wav(&mut f, &snap, RATE as u32).unwrap();
                    }
                }
                let write_s = t0.elapsed().as_secs_f64();
                drop(snap);
                done.send(Done::Written { write_s }).unwrap();
            }
            Op::Quit => return,
        }
    }
}

/// Per-block statistics of one configuration over its runs, as in `layers`.
struct Stats {
    median: f64,
    p999: f64,
    worst: f64,
    worst_raw: f64,
}

fn stats(runs: &[Vec<u32>]) -> Stats {
    let n = runs[0].len();
    let mut bmin = vec![u32::MAX; n];
    let (mut med, mut p999, mut raw) = (Vec::new(), Vec::new(), 0.0f64);
    let mut scratch = Vec::with_capacity(n);
    for t in runs {
        min_into(&mut bmin, t);
        let d = dist(t, &mut scratch);
        med.push(d.median);
        p999.push(d.p999);
        raw = raw.max(d.max);
    }
    Stats {
        median: median_f(&med),
        p999: median_f(&p999),
        worst: bmin.iter().copied().max().unwrap_or(0) as f64,
        worst_raw: raw,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Path2 {
    Overdub,
    Record,
}

/// One run of `blocks` paced blocks of `path` from the loop's start, with a save
/// starting as the window does if `save`. Returns the block times and, with a save,
/// the window's block in which the file was written (or `blocks` if later) and the
/// save's write time.
fn window(
    a: &mut Audio,
    path: Path2,
    blocks: usize,
    save: Option<(&Sender<Op>, &Receiver<Done>, &Path, f64)>,
) -> (Vec<u32>, Option<(usize, f64)>) {
    // Stopped, the worker settled; with a save, the snapshot is taken now (the gate is
    // answered at the end of these blocks), before the window's first block.
    a.control(&keep(stopped()));
    for _ in 0..3 {
        a.block(&keep(stopped()), true);
    }
    if let Some((tx, rx, p, secs)) = save {
        // SAFETY: a plain syscall (as clean_slate: no write meets others' dirty pages).
        unsafe { libc::sync() };
        tx.send(Op::SaveInWindow {
            path: p.to_path_buf(),
            secs,
        })
        .unwrap();
        match a.wait(&keep(stopped()), rx) {
            Done::Snapshot => {}
            _ => unreachable!(),
        }
    }
    // The window: play from the loop's start (play 0 -> 1) and overdub, or record a take.
    let c = match path {
        Path2::Overdub => keep(ctl(false, true, true)),
        Path2::Record => keep(ctl(true, true, false)),
    };
    let mut times = Vec::with_capacity(blocks);
    let mut written = None;
    for i in 0..blocks {
        times.push(a.block(&c, true));
        if let Some((_, rx, _, _)) = save {
            if written.is_none() {
                if let Ok(Done::Written { write_s }) = rx.try_recv() {
                    written = Some((i + 1, write_s));
                }
            }
        }
    }
    // Commit the layer or close the take, then undo it: the loop is the one saved again.
    a.control(&keep(playing()));
    let undo = Controls {
        undo: 1.0,
        ..keep(playing())
    };
    a.control(&undo);
    a.control(&keep(playing()));
    // A save that outlasted the window: wait for it (untimed).
    if let Some((_, rx, p, _)) = save {
        if written.is_none() {
            match a.wait(&keep(playing()), rx) {
                Done::Written { write_s } => written = Some((blocks, write_s)),
                _ => unreachable!(),
            }
        }
        std::fs::remove_file(p).unwrap();
    }
    // The next run's new layer discards this one; let the worker free it.
    for _ in 0..8 {
        a.block(&keep(stopped()), true);
    }
    (times, written)
}

fn gbps(bytes: u64, s: f64) -> f64 {
    bytes as f64 / s / 1e9
}

#[allow(clippy::too_many_arguments)]
fn measure_length(
    fig: &mut Figures,
    a: &mut Audio,
    tx: &Sender<Op>,
    rx: &Receiver<Done>,
    dir: &Path,
    minutes: usize,
    repeats: usize,
    block_repeats: usize,
) {
    let tag = format!("{minutes}min");
    let frames = minutes * 60 * RATE;
    // Short files are cheap: more runs, for a best run outside the machine's slow spells.
    let repeats = if minutes == 1 { 3 * repeats } else { repeats };
    let t = Instant::now();
    record(a, frames);
    let loop_len = a.lp.len();
    eprintln!(
        "state: {minutes} min stereo loop recorded in 64-frame blocks in {:.1} s ({:.0} MiB held)",
        t.elapsed().as_secs_f64(),
        a.lp.memory_bytes() as f64 / 1048576.0
    );
    let wav = dir.join(format!("loop-{tag}.wav"));
    let plain = dir.join(format!("plain-{tag}.bin"));
    let ask = |a: &mut Audio, op: Op| -> Done {
        tx.send(op).unwrap();
        a.wait(&playing(), rx)
    };
    // Saves and plain writes, alternating, into the page cache; each file deleted
    // (untimed, dirty pages dropped) before the next write.
    let (mut save_s, mut plain_s, mut copy_s, mut take_ns) = (vec![], vec![], vec![], vec![]);
    let mut bytes = 0;
    for _ in 0..repeats {
        match ask(
            a,
            Op::Save {
                path: wav.clone(),
                fsync: false,
            },
        ) {
            Done::Save {
                take_ns: tn,
                write_s,
                bytes: b,
                ..
            } => {
                save_s.push(write_s);
                take_ns.push(tn);
                bytes = b;
            }
            _ => unreachable!(),
        }
        std::fs::remove_file(&wav).unwrap();
        // (The plain buffer is made at the first Plain: as many bytes as the WAV.)
        match ask(
            a,
            Op::Plain {
                path: plain.clone(),
                fsync: false,
            },
        ) {
            Done::Plain { write_s, .. } => plain_s.push(write_s),
            _ => unreachable!(),
        }
        std::fs::remove_file(&plain).unwrap();
        match ask(a, Op::Memcpy) {
            Done::Memcpy { s } => copy_s.push(s),
            _ => unreachable!(),
        }
    }
    if std::env::var_os("LOOPER_BENCH_VERBOSE").is_some() {
        eprintln!("state {tag}: save runs {save_s:.3?} s, plain write runs {plain_s:.3?} s, memcpy runs {copy_s:.3?} s");
    }
    assert_eq!(
        bytes as usize,
        (loop_len + a.lp.max_tail().min(FADE_MS as usize * RATE / 1000)) * CH * 4 + 68
    );
    // Once each with fsync: the files stay, for the reads.
    let (save_fs, plain_fs) = match (
        ask(
            a,
            Op::Save {
                path: wav.clone(),
                fsync: true,
            },
        ),
        ask(
            a,
            Op::Plain {
                path: plain.clone(),
                fsync: true,
            },
        ),
    ) {
        (Done::Save { fsync_s: s, .. }, Done::Plain { fsync_s: p, .. }) => (s, p),
        _ => unreachable!(),
    };
    let k = format!("state_{tag}");
    let (sv, pw, mc) = (median_f(&save_s), median_f(&plain_s), median_f(&copy_s));
    fig.put(format!("{k}_bytes"), bytes as f64);
    fig.put(format!("{k}_snapshot_take_us"), median_f(&take_ns) / 1e3);
    fig.put(format!("{k}_save_gbps"), gbps(bytes, min_f(&save_s)));
    fig.put(format!("{k}_save_median_gbps"), gbps(bytes, sv));
    fig.put(
        format!("{k}_plain_write_gbps"),
        gbps(bytes, min_f(&plain_s)),
    );
    fig.put(format!("{k}_plain_write_median_gbps"), gbps(bytes, pw));
    fig.put(format!("{k}_memcpy_gbps"), gbps(bytes, min_f(&copy_s)));
    fig.put(format!("{k}_memcpy_median_gbps"), gbps(bytes, mc));
    fig.put(
        format!("{k}_save_vs_plain_write"),
        min_f(&plain_s) / min_f(&save_s),
    );
    fig.put(format!("{k}_save_vs_plain_write_median"), pw / sv);
    fig.put(format!("{k}_save_fsync_gbps"), gbps(bytes, save_fs));
    fig.put(format!("{k}_plain_write_fsync_gbps"), gbps(bytes, plain_fs));
    fig.put(format!("{k}_save_fsync_vs_plain"), plain_fs / save_fs);
    eprintln!(
        "state {tag}: {:.0} MB; save {:.2} GB/s (median {:.2}), plain write {:.2} GB/s (median {:.2}), memcpy {:.2} GB/s: save/plain {:.2}x (medians {:.2}x); with fsync {:.2} vs {:.2} GB/s; snapshot taken in {:.0} µs",
        bytes as f64 / 1e6,
        gbps(bytes, min_f(&save_s)),
        gbps(bytes, sv),
        gbps(bytes, min_f(&plain_s)),
        gbps(bytes, pw),
        gbps(bytes, min_f(&copy_s)),
        min_f(&plain_s) / min_f(&save_s),
        pw / sv,
        gbps(bytes, save_fs),
        gbps(bytes, plain_fs),
        median_f(&take_ns) / 1e3
    );
    // Reads: warm, then cold, alternating; the last restore is installed.
    for cold in [false, true] {
        let (mut rs, mut ps, mut res) = (vec![], vec![], vec![]);
        let n = if cold { repeats.min(3) } else { repeats };
        for i in 0..n {
            let keep = cold && i + 1 == n;
            match ask(
                a,
                Op::Restore {
                    path: wav.clone(),
                    cold,
                    keep,
                },
            ) {
                Done::Restore {
                    read_s,
                    resident,
                    loaded,
                } => {
                    rs.push(read_s);
                    res.push(resident);
                    if let Some(l) = loaded {
                        install(fig, a, *l, &k);
                    }
                }
                _ => unreachable!(),
            }
            match ask(
                a,
                Op::Read {
                    path: plain.clone(),
                    cold,
                },
            ) {
                Done::Read { read_s, resident } => {
                    ps.push(read_s);
                    res.push(resident);
                }
                _ => unreachable!(),
            }
        }
        let w = if cold { "cold" } else { "warm" };
        let (r, p) = (median_f(&rs), median_f(&ps));
        let (rb, pb) = (min_f(&rs), min_f(&ps));
        fig.put(format!("{k}_restore_{w}_gbps"), gbps(bytes, rb));
        fig.put(format!("{k}_restore_{w}_median_gbps"), gbps(bytes, r));
        fig.put(format!("{k}_plain_read_{w}_gbps"), gbps(bytes, pb));
        fig.put(format!("{k}_plain_read_{w}_median_gbps"), gbps(bytes, p));
        fig.put(format!("{k}_restore_vs_plain_read_{w}"), pb / rb);
        fig.put(format!("{k}_restore_vs_plain_read_{w}_median"), p / r);
        fig.put(format!("{k}_{w}_cached_pct_max"), 100.0 * max_f(&res));
        fig.put(format!("{k}_{w}_cached_pct_min"), 100.0 * min_f(&res));
        eprintln!(
            "state {tag}: restore ({w}) {:.2} GB/s (median {:.2}), plain read {:.2} GB/s (median {:.2}): restore/plain {:.2}x (medians {:.2}x); pages cached before the reads {:.0}-{:.0} %",
            gbps(bytes, rb),
            gbps(bytes, r),
            gbps(bytes, pb),
            gbps(bytes, p),
            pb / rb,
            p / r,
            100.0 * min_f(&res),
            100.0 * max_f(&res)
        );
    }
    // Where a restore's time goes: making the locked chunks alone.
    let mut cs = vec![];
    let mut nchunks = 0;
    for _ in 0..repeats.min(3) {
        match ask(
            a,
            Op::Chunks {
                bytes: bytes as usize,
            },
        ) {
            Done::Chunks { s, n } => {
                cs.push(s);
                nchunks = n;
            }
            _ => unreachable!(),
        }
    }
    fig.put(format!("{k}_restore_chunks"), nchunks as f64);
    fig.put(format!("{k}_restore_chunk_making_s"), min_f(&cs));
    fig.put(
        format!("{k}_restore_chunk_making_gbps"),
        gbps(bytes, min_f(&cs)),
    );
    eprintln!(
        "state {tag}: making the {nchunks} locked chunks alone takes {:.3} s ({:.2} GB/s)",
        min_f(&cs),
        gbps(bytes, min_f(&cs))
    );
    std::fs::remove_file(&wav).unwrap();
    std::fs::remove_file(&plain).unwrap();
    // The worst block while a save of this loop is in progress: the window outlasts the
    // save (its time into the page cache, above) by a quarter of a second.
    let blocks = ((1.5 * min_f(&save_s) + 0.25).max(0.5) * RATE as f64 / BS as f64).ceil() as usize;
    fig.put(format!("{k}_window_blocks"), blocks as f64);
    if neighbour() != "save" {
        eprintln!(
            "state {tag}: CONTROL: the windows \"with a save\" run `{}` instead",
            neighbour()
        );
    }
    for path in [Path2::Overdub, Path2::Record] {
        let name = match path {
            Path2::Overdub => "overdub",
            Path2::Record => "record",
        };
        let (mut with, mut without, mut during, mut wrote) = (vec![], vec![], vec![], vec![]);
        for _ in 0..block_repeats {
            let (t, w) = window(a, path, blocks, Some((tx, rx, &wav, min_f(&save_s))));
            let (at, ws) = w.unwrap();
            during.push(at as f64);
            wrote.push(ws);
            with.push(t);
            without.push(window(a, path, blocks, None).0);
        }
        let (s, n) = (stats(&with), stats(&without));
        // The blocks the save overlapped (the same indices in the runs without), past
        // the window's first block (an overdub layer's first block copies a chunk and
        // the index path whole, and is the worst of every run with or without a save).
        let end = (median_f(&during) as usize).clamp(2, blocks);
        let part =
            |v: &[Vec<u32>]| -> Vec<Vec<u32>> { v.iter().map(|t| t[1..end].to_vec()).collect() };
        let (sd, nd) = (stats(&part(&with)), stats(&part(&without)));
        let key = format!("{k}_{name}");
        for (w, st) in [("save", &sd), ("nosave", &nd)] {
            fig.put(format!("{key}_{w}_during_worst_ns"), st.worst);
            fig.put(format!("{key}_{w}_during_worst_raw_ns"), st.worst_raw);
            fig.put(format!("{key}_{w}_during_p999_ns"), st.p999);
            fig.put(format!("{key}_{w}_during_median_ns"), st.median);
        }
        fig.put(format!("{key}_during_worst_ratio"), sd.worst / nd.worst);
        fig.put(
            format!("{key}_first_block_save_ns"),
            with.iter().map(|t| t[0]).min().unwrap_or(0) as f64,
        );
        fig.put(
            format!("{key}_first_block_nosave_ns"),
            without.iter().map(|t| t[0]).min().unwrap_or(0) as f64,
        );
        for (w, st) in [("save", &s), ("nosave", &n)] {
            fig.put(format!("{key}_{w}_worst_ns"), st.worst);
            fig.put(format!("{key}_{w}_worst_raw_ns"), st.worst_raw);
            fig.put(format!("{key}_{w}_p999_ns"), st.p999);
            fig.put(format!("{key}_{w}_median_ns"), st.median);
        }
        fig.put(format!("{key}_worst_ratio"), s.worst / n.worst);
        fig.put(format!("{key}_p999_ratio"), s.p999 / n.p999);
        fig.put(format!("{key}_save_blocks"), median_f(&during));
        fig.put(format!("{key}_save_write_s"), median_f(&wrote));
        eprintln!(
            "state {tag} {name:<7} ({blocks} blocks of 64, paced; the save lasted {:.0} of them, {:.2} s): with a save: worst {:.0} ns (raw {:.0}), p99.9 {:.0}, median {:.0} | without: worst {:.0} ns (raw {:.0}), p99.9 {:.0}, median {:.0} | worst ratio {:.2}",
            median_f(&during),
            median_f(&wrote),
            s.worst, s.worst_raw, s.p999, s.median,
            n.worst, n.worst_raw, n.p999, n.median,
            s.worst / n.worst
        );
        eprintln!(
            "state {tag} {name:<7} blocks 1..{end} (during the save): with: worst {:.0} ns (raw {:.0}), p99.9 {:.0}, median {:.0} | without: worst {:.0} ns (raw {:.0}), p99.9 {:.0}, median {:.0} | worst ratio {:.2}",
            sd.worst, sd.worst_raw, sd.p999, sd.median, nd.worst, nd.worst_raw, nd.p999, nd.median,
            sd.worst / nd.worst
        );
    }
}

/// [audio] Installs a restored loop (as the plugin's restore does, between blocks) and
/// checks it is the loop that was saved; times the install.
fn install(fig: &mut Figures, a: &mut Audio, l: Loaded, k: &str) {
    let before = a.lp.snapshot();
    for i in (0..before.tree.len()).step_by(997) {
        for c in 0..CH {
            assert_eq!(
                l.tree.get(c, i),
                before.tree.get(c, i),
                "restored frame {i}"
            );
        }
    }
    assert_eq!((l.loop_len, l.repaired), (before.loop_len, 0));
    drop(before);
    let mut v = Version::empty(CH);
    v.tree = l.tree;
    v.loop_len = l.loop_len;
    v.peaks = l.peaks;
    // The plugin installs under the gate's exclusive claim, between two blocks.
    let gate = Arc::clone(&a.gate);
    let t0 = Instant::now();
    gate.exclusive(|| a.lp.restore(v, true));
    let ns = ns_since(t0);
    fig.put(format!("{k}_install_ns"), ns as f64);
    // The old loop is released (past undo_memory) and freed by the worker: settle.
    for _ in 0..200 {
        a.block(&playing(), true);
    }
}

fn main() {
    if !benchmarking() {
        return;
    }
    let long = (env_f64("LOOPER_BENCH_STATE_MINUTES", 60.0) as usize).clamp(2, 60);
    let repeats = env_f64("LOOPER_BENCH_STATE_REPEATS", 4.0).max(1.0) as usize;
    let block_repeats = env_f64("LOOPER_BENCH_STATE_BLOCK_REPEATS", 3.0).max(1.0) as usize;
    let t_all = Instant::now();
    let dir = out_dir().join("state-files");
    std::fs::create_dir_all(&dir).unwrap();
    // The audio thread on CPU 0 and the saver on the last CPU by default: on the VM this
    // was written on, the disk's interrupts (virtio-blk) are all delivered to the last
    // CPU, so there they hit the thread that does the I/O, not the audio thread.
    // SAFETY: a plain query.
    let ncpu = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    let audio_cpu = (env_f64("LOOPER_BENCH_STATE_AUDIO_CPU", 0.0) as usize).min(ncpu - 1);
    let saver_cpu = if audio_cpu == ncpu - 1 { 0 } else { ncpu - 1 };
    let place = place_on(audio_cpu);
    eprintln!(
        "state: stereo loops of 1 and {long} min; {repeats} repeat(s) of each save and read, {block_repeats} run(s) of each window; audio thread on cpu {}, SCHED_FIFO {}; saver on cpu {saver_cpu}; files in {}",
        place.cpu,
        place.fifo,
        dir.display()
    );
    let mut fig = Figures::default();
    fig.put("state_saver_cpu", saver_cpu as f64);
    fig.put("state_repeats", repeats as f64);
    fig.put("state_block_repeats", block_repeats as f64);
    fig.put("state_long_minutes", long as f64);
    fig.put("state_audio_cpu", place.cpu as f64);
    fig.put("state_audio_fifo", place.fifo as u8 as f64);
    for minutes in [1, long] {
        let stats = Arc::new(looper::chunk::MemStats::default());
        let mut eng = Engine {
            lp: Looper::new(RATE as f64, CH, stats.clone()),
            pending: Vec::with_capacity(64),
            core: WorkerCore::new(stats, Box::new(Silent)),
        };
        eng.core.prefill(&mut eng.lp);
        let want = Expect {
            channels: CH,
            rate: RATE as u32,
            loop_len: minutes * 60 * RATE,
            max_tail: eng.lp.max_tail(),
            bytes: None,
        };
        // The WAV's size, for the plain file: header, loop and tail.
        let tail = (FADE_MS as usize * RATE / 1000).min(eng.lp.max_tail());
        let plain_bytes = (want.loop_len + tail) * CH * 4 + 68;
        let gate = Arc::clone(eng.lp.save_gate());
        let audio_gate = Arc::clone(&gate);
        let Engine { lp, pending, core } = &mut eng;
        let core: &WorkerCore = core;
        std::thread::scope(|s| {
            let (op_tx, op_rx) = channel();
            let (done_tx, done_rx) = channel();
            s.spawn(move || saver(saver_cpu, gate, core, want, plain_bytes, op_rx, done_tx));
            let mut a = Audio {
                gate: audio_gate,
                lp,
                pending,
                core,
                src: noise(3 * CHUNK_SAMPLES),
                io: (0..CH).map(|_| vec![0.0f32; BS]).collect(),
                block: 0,
                next: Instant::now(),
                period: Duration::from_nanos((BS as u64 * 1_000_000_000) / RATE as u64),
                duty: Duty::default(),
            };
            measure_length(
                &mut fig,
                &mut a,
                &op_tx,
                &done_rx,
                &dir,
                minutes,
                repeats,
                block_repeats,
            );
            fig.put(
                format!("state_{minutes}min_dropouts"),
                a.lp.dropouts() as f64,
            );
            op_tx.send(Op::Quit).unwrap();
        });
        drop(eng);
    }
    let _ = std::fs::remove_dir(&dir);
    // The targets: save and restore at least 0.7x a plain write and read of
    // the same bytes, and the worst block while a save runs no worse than without.
    let k = format!("state_{long}min");
    let g = |n: &str| fig.get(&format!("{k}_{n}")).unwrap_or(f64::NAN);
    let (sv, rw, rc) = (
        g("save_vs_plain_write"),
        g("restore_vs_plain_read_warm"),
        g("restore_vs_plain_read_cold"),
    );
    let worst = g("overdub_worst_ratio").max(g("record_worst_ratio"));
    let during = g("overdub_during_worst_ratio").max(g("record_during_worst_ratio"));
    fig.put("target_state_save_ratio", sv);
    fig.put("target_state_save_met", (sv >= 0.7) as u8 as f64);
    fig.put("target_state_restore_ratio_warm", rw);
    fig.put("target_state_restore_ratio_cold", rc);
    fig.put(
        "target_state_restore_met",
        (rw >= 0.7 && rc >= 0.7) as u8 as f64,
    );
    fig.put("target_state_worst_block_ratio", worst);
    fig.put("target_state_worst_block_during_ratio", during);
    fig.put("target_state_worst_block_met", (worst <= 1.0) as u8 as f64);
    fig.put(
        "target_state_worst_block_during_met",
        (during <= 1.0) as u8 as f64,
    );
    fig.put("state_wall_s", t_all.elapsed().as_secs_f64());
    let path = fig.write("state.json");
    eprintln!(
        "state: {long} min: save/plain write {sv:.2}x, restore/plain read {rw:.2}x warm, {rc:.2}x cold; worst block with/without a save {worst:.2}x; {:.0} s; wrote {}",
        t_all.elapsed().as_secs_f64(),
        path.display()
    );
}
