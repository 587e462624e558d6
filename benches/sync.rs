//! Tempo sync's cost on the audio thread: a synced loop playing with a host position
//! every block (as Ardour sends them), against the same loop playing free with no
//! positions, and the memcpy floor (copying the block's frames out of a preallocated
//! buffer at the play position), in the same run, at 1 minute and 1 hour of stereo loop,
//! 64-frame blocks.
//!
//! The synced path parses nothing here (the LV2 glue's atom reading is a walk over a
//! few dozen bytes): it is the grid's update from the position, the split of the block
//! at boundaries, and the pass re-phase at each bar line. Each way runs the same number
//! of blocks back to back; figures are the mean per block (a timer around the whole
//! run, divided), and the worst single block timed in a second run (per-block timer).
//!
//! `cargo bench --bench sync` (part of `make bench`): writes `sync.json` into
//! `target/bench` (or `$LOOPER_BENCH_OUT`). `LOOPER_BENCH_SYNC_BLOCKS` blocks per way
//! (default 200,000: 4.4 minutes of audio).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use common::{env_f64, Figures};
use looper::engine::chunk::MemStats;
use looper::engine::looper::{Controls, Looper};
use looper::engine::sync::{Position, TimeEvent};
use looper::engine::worker::{Silent, WorkerCore};

const RATE: f64 = 48_000.0;
const BPM: f64 = 120.0;
const N: usize = 64;

fn position(f: i64) -> Position {
    let beats = f as f64 * BPM / (60.0 * RATE);
    let bar = (beats / 4.0).floor();
    Position {
        frame: Some(f),
        bar: Some(bar as i64),
        bar_beat: Some((((beats - bar * 4.0) * 1920.0).round() / 1920.0) as f32 as f64),
        beats_per_bar: Some(4.0),
        bpm: Some(BPM),
        speed: Some(1.0),
    }
}

struct Rig {
    lp: Looper,
    core: WorkerCore,
    frame: i64,
    bufs: [Vec<f32>; 2],
}

impl Rig {
    /// A stereo looper with a synced take of `minutes` (bar mode, 120 bpm).
    fn new(minutes: f64) -> Rig {
        let stats = Arc::new(MemStats::default());
        let mut lp = Looper::new(RATE, 2, Arc::clone(&stats));
        let core = WorkerCore::new(stats, Box::new(Silent));
        core.prefill(&mut lp);
        let mut r = Rig {
            lp,
            core,
            frame: 0,
            bufs: [vec![0.0; N], vec![0.0; N]],
        };
        let bars = (minutes * 60.0 / 2.0).round() as i64;
        let (on, off) = (20_000, 96_000 * bars + 20_000);
        let c = Controls {
            sync: 2.0,
            fade: 0.0,
            ..Controls::default()
        };
        while r.frame < off + 96_000 {
            let rec = (on..off).contains(&r.frame);
            let noise = (r.frame as u32).wrapping_mul(2_654_435_761) as f32 / u32::MAX as f32;
            r.bufs[0].fill(noise - 0.5);
            r.bufs[1].fill(0.5 - noise);
            r.block(
                &Controls {
                    record: if rec { 1.0 } else { 0.0 },
                    ..c
                },
                true,
            );
        }
        assert_eq!(r.lp.length_seconds().round(), bars as f64 * 2.0);
        r
    }

    #[inline]
    fn block(&mut self, c: &Controls, with_position: bool) {
        let ev = [TimeEvent {
            offset: 0,
            pos: position(self.frame),
        }];
        let events: &[TimeEvent] = if with_position { &ev } else { &[] };
        let [l, r] = &mut self.bufs;
        self.lp
            .process_timed(c, events, &mut [l.as_mut_slice(), r.as_mut_slice()]);
        if let Some(req) = self.lp.poll_request() {
            let lp = &mut self.lp;
            self.core.work(req, &mut |d| {
                lp.accept(d);
                Ok(())
            });
        }
        self.frame += N as i64;
    }
}

fn main() {
    let blocks = env_f64("LOOPER_BENCH_SYNC_BLOCKS", 200_000.0) as usize;
    let mut fig = Figures::default();
    for minutes in [1.0, 60.0] {
        let mut rig = Rig::new(minutes);
        let len = (rig.lp.length_seconds() * RATE).round() as usize;
        // The floor: the loop's frames copied out of a preallocated buffer.
        let floor_src: Vec<f32> = (0..2 * len).map(|i| (i % 97) as f32).collect();
        let mut out = [0f32; 2 * N];
        let synced = Controls {
            sync: 2.0,
            fade: 0.0,
            ..Controls::default()
        };
        let free = Controls {
            sync: 0.0,
            ..synced
        };
        let mut mean = [0f64; 3];
        let mut worst = [0u64; 3];
        for round in 0..2 {
            for (way, c) in [(0, synced), (1, free), (2, free)] {
                let mut pos = rig.frame as usize % len;
                let t0 = Instant::now();
                let mut w = 0u64;
                for _ in 0..blocks {
                    let tb = (round == 1).then(Instant::now);
                    if way == 2 {
                        let at = pos * 2;
                        let n = (2 * N).min(floor_src.len() - at);
                        out[..n].copy_from_slice(&floor_src[at..at + n]);
                        black_box(&out);
                        pos = (pos + N) % len;
                    } else {
                        rig.bufs[0].fill(0.0);
                        rig.bufs[1].fill(0.0);
                        rig.block(&c, way == 0);
                        black_box(&rig.bufs);
                    }
                    if let Some(tb) = tb {
                        w = w.max(tb.elapsed().as_nanos() as u64);
                    }
                }
                if round == 0 {
                    mean[way] = t0.elapsed().as_nanos() as f64 / blocks as f64;
                } else {
                    worst[way] = w;
                }
            }
        }
        assert!(rig.lp.synced() || rig.lp.grid().synced());
        let m = minutes as u32;
        println!(
            "sync {m} min stereo loop, {N}-frame blocks: mean per block synced {:.1} ns (a position every block), free {:.1} ns, memcpy floor {:.1} ns; synced/free {:.2}x, synced/floor {:.2}x; worst block synced {} ns, free {} ns, floor {} ns",
            mean[0],
            mean[1],
            mean[2],
            mean[0] / mean[1],
            mean[0] / mean[2],
            worst[0],
            worst[1],
            worst[2]
        );
        for (k, v) in [
            ("synced_mean_ns", mean[0]),
            ("free_mean_ns", mean[1]),
            ("floor_mean_ns", mean[2]),
            ("synced_worst_ns", worst[0] as f64),
            ("free_worst_ns", worst[1] as f64),
            ("floor_worst_ns", worst[2] as f64),
        ] {
            fig.put(format!("sync_{m}min_{k}"), v);
        }
    }
    let p = fig.write("sync.json");
    println!("sync: wrote {}", p.display());
}
