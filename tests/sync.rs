//! Tempo sync through the exported descriptors: the `control` port gets the host's
//! `time:Position`s (as Ardour writes them: Long frame and bar, Float barBeat rounded
//! to 1/1920 beat, Float tempo), `sync` and `bars` quantize takes, and every run() is
//! under the allocation guard. The input is `sig(host frame)`, so a loop sample names
//! the host frame it was recorded at.

mod support;
use support::*;

const RATE: f64 = 48_000.0;

/// A host transport: where it is, its tempo and meter, and how it reports them.
struct Transport {
    frame: i64,
    bpm: f64,
    bpb: f64,
    rolling: bool,
    /// Frame where the tempo map's bar 0 is (a relocation keeps it).
    origin: i64,
    /// Beats at `origin` (after a tempo change: the beat where the new tempo begins).
    origin_beats: f64,
    /// barBeat rounded to 1/1920 beat, as Ardour sends it (else exact).
    rounded: bool,
}

impl Transport {
    fn new(bpm: f64, bpb: f64) -> Transport {
        Transport {
            frame: 0,
            bpm,
            bpb,
            rolling: true,
            origin: 0,
            origin_beats: 0.0,
            rounded: true,
        }
    }
    fn fpb(&self) -> f64 {
        RATE * 60.0 / self.bpm
    }
    fn beats_at(&self, f: i64) -> f64 {
        self.origin_beats + (f - self.origin) as f64 / self.fpb()
    }
    /// The exact frame where bar `i` begins (within the current tempo).
    fn bar_frame(&self, i: i64) -> f64 {
        self.origin as f64 + (i as f64 * self.bpb - self.origin_beats) * self.fpb()
    }
    /// The position at frame `f`, rounded as Ardour rounds it.
    fn position(&self, f: i64) -> Position {
        let beats = self.beats_at(f);
        let bar = (beats / self.bpb).floor();
        let bb = beats - bar * self.bpb;
        let bb = if self.rounded {
            (bb * 1920.0).round() / 1920.0
        } else {
            bb
        };
        Position {
            frame: Some(f),
            bar: Some(bar as i64),
            bar_beat: Some(bb),
            beats_per_bar: Some(self.bpb),
            bpm: Some(self.bpm as f32 as f64),
            speed: Some(if self.rolling { 1.0 } else { 0.0 }),
        }
    }
    /// One block of `n` frames: a position at its start (Ardour: nearly every cycle
    /// while rolling), input `sig(host frame)` (or silence), controls as set. Returns
    /// the output.
    fn block(&mut self, h: &mut Host, n: usize, record: f32, silent: bool) -> Vec<f32> {
        h.send(0, self.position(self.frame));
        let input: Vec<f32> = (0..n as i64)
            .map(|k| {
                if silent {
                    0.0
                } else {
                    sig((self.frame + k) as u64)
                }
            })
            .collect();
        let out = h.run(&input, record, 1.0).to_vec();
        if self.rolling {
            self.frame += n as i64;
        }
        out
    }
    /// Runs until `to` in blocks of `n` (the last one cut at `to`).
    fn until(&mut self, h: &mut Host, to: i64, n: usize, record: f32, silent: bool) -> Vec<f32> {
        let mut out = Vec::new();
        while self.frame < to {
            let m = n.min((to - self.frame) as usize);
            out.extend(self.block(h, m, record, silent));
        }
        out
    }
}

/// A synced host at `bpm` in 4/4 with `sync` = bar, `bars` as given.
fn host(bpm: f64, sync: f32, bars: f32) -> (Host, Transport) {
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.set(port::SYNC, sync);
    h.set(port::BARS, bars);
    (h, Transport::new(bpm, 4.0))
}

/// Records with record on over [on, off) (host frames, blocks of `n`); the input goes
/// on to `quiet` (where the take closes), then silence to `end`. Returns the output
/// from frame `off` on.
#[allow(clippy::too_many_arguments)]
fn take_until(
    h: &mut Host,
    t: &mut Transport,
    on: i64,
    off: i64,
    quiet: i64,
    end: i64,
    n: usize,
) -> Vec<f32> {
    t.until(h, on, n, 0.0, false);
    t.until(h, off, n, 1.0, false);
    let mut out = t.until(h, quiet, n, 0.0, false);
    out.extend(t.until(h, end, n, 0.0, true));
    out
}

/// As [`take_until`], the input going on to the bar line after `off`.
fn take(h: &mut Host, t: &mut Transport, on: i64, off: i64, end: i64, n: usize) -> Vec<f32> {
    let quiet = t.bar_frame((t.beats_at(off) / t.bpb).ceil() as i64).round() as i64;
    take_until(h, t, on, off, quiet, end, n)
}

/// Checks that from host frame `from` (where `out` starts) to `to`, the output is the
/// loop recorded from host frame `start` with `len` frames, each pass starting at the
/// next bar line (rounded) of transport `t`: returns the passes checked.
fn passes_on_bars(out: &[f32], from: i64, to: i64, t: &Transport, start: i64, len: usize) -> usize {
    let mut bar = (t.beats_at(from) / t.bpb).ceil() as i64;
    let first = t.bar_frame(bar).round() as i64;
    assert!(first >= from);
    let mut passes = 0;
    loop {
        let (a, b) = (
            t.bar_frame(bar).round() as i64,
            t.bar_frame(bar + (len as f64 / (t.bpb * t.fpb())).round() as i64)
                .round() as i64,
        );
        if b > to {
            return passes;
        }
        for f in a..b {
            let j = (f - a) as usize;
            assert!(
                j < len,
                "a pass of {} frames, longer than the loop of {len}",
                b - a
            );
            assert_eq!(
                out[(f - from) as usize],
                sig((start + j as i64) as u64),
                "pass {passes} (bar {bar} at {a}): frame {j} of the loop at host frame {f}"
            );
        }
        passes += 1;
        bar += (len as f64 / (t.bpb * t.fpb())).round() as i64;
    }
}

#[test]
fn bar_sync_at_120_bpm_takes_one_whole_bar_from_off_grid_edges_and_stays_on_the_bar() {
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    let bar = 96_000; // 4 beats of 24,000 frames
                      // Record on at 1.3 bars, off at 2.4 bars: the take is bar 2, exactly one bar.
    let out = take(&mut h, &mut t, 124_800, 230_400, 30 * bar, 256);
    assert_eq!(h.control(port::SYNCED), 1.0);
    assert_eq!(h.control(port::LENGTH), 2.0, "one bar: 2 s");
    let n = passes_on_bars(&out, 230_400, 30 * bar, &t, 2 * bar, bar as usize);
    assert!(n >= 26, "{n} passes");
    assert_rt_clean();
}

#[test]
fn bar_sync_at_93_7_bpm_keeps_every_pass_on_the_bar_for_a_hundred_bars() {
    let (mut h, mut t) = host(93.7, 2.0, 0.0);
    let exact_bar = 4.0 * RATE * 60.0 / 93.7; // 122,945.57... frames
                                              // On inside bar 1, off inside bar 2: the take is bar 2, ceil(bar) frames.
    let (on, off) = (150_000, 300_000);
    let end = t.bar_frame(104).round() as i64;
    let out = take(&mut h, &mut t, on, off, end, 256);
    let len = exact_bar.ceil() as usize;
    let samples = (h.control(port::LENGTH) as f64 * RATE).round() as usize;
    assert_eq!(samples, len, "one bar, rounded up");
    let start = t.bar_frame(2).round() as i64;
    let n = passes_on_bars(&out, off, end, &t, start, len);
    assert!(n >= 100, "{n} passes");
    assert_rt_clean();
}

#[test]
fn an_edge_that_comes_late_but_before_its_bar_gives_the_same_take() {
    let bar = 96_000;
    let mut loops = Vec::new();
    for (on, off, block) in [
        (100_000, 200_000, 256),
        (191_000, 287_000, 1024),
        (150_001, 191_999, 64),
    ] {
        let (mut h, mut t) = host(120.0, 2.0, 0.0);
        // (The last record-off comes before the take begins: it is one bar all the same.)
        let out = take_until(&mut h, &mut t, on, off, 3 * bar, 6 * bar, block);
        // The loop from bar 3 on: the take was bar 2.
        let at = (3 * bar - off) as usize;
        loops.push(out[at..at + bar as usize].to_vec());
    }
    assert!(loops[0] == loops[1], "a later edge gave another take");
    assert!(loops[0] == loops[2], "a later edge gave another take");
    assert_eq!(loops[0][0], sig(2 * 96_000));
    assert_rt_clean();
}

#[test]
fn bars_closes_a_take_by_itself_after_that_many_bars() {
    let (mut h, mut t) = host(93.7, 2.0, 2.0);
    t.until(&mut h, 50_000, 512, 0.0, false);
    // Record goes on and stays on: the take is bars 1 and 2.
    let from = t.frame;
    let out = t.until(&mut h, t.bar_frame(3).round() as i64 + 10, 512, 1.0, false);
    assert_eq!(h.state(), 2, "closed and playing");
    // The first pass starts on bar 3 with the loop's first frame, though the take
    // (ceil of two bars: a frame more than round(F(3)) - round(F(1))) takes its last
    // frame there.
    let (s, e) = (t.bar_frame(1).round() as i64, t.bar_frame(3).round() as i64);
    assert_eq!(e - s + 1, (2.0 * 4.0 * RATE * 60.0 / 93.7f64).ceil() as i64);
    assert_eq!(out[(e - from) as usize], sig(e as u64) + sig(s as u64));
    assert_eq!(
        out[(e - 1 - from) as usize],
        sig((e - 1) as u64),
        "still recording"
    );
    let len = (2.0 * 4.0 * RATE * 60.0 / 93.7).ceil() as usize;
    assert_eq!(
        (h.control(port::LENGTH) as f64 * RATE).round() as usize,
        len
    );
    let from = t.frame;
    let end = t.bar_frame(21).round() as i64;
    // Record still on: no new take (an edge is needed).
    let out = t.until(&mut h, end, 512, 1.0, true);
    let _ = out;
    assert_eq!(h.state(), 2);
    let _ = from;
    assert_rt_clean();
}

#[test]
fn beat_sync_takes_whole_beats() {
    let (mut h, mut t) = host(120.0, 1.0, 0.0);
    // On at beat 2.5, off at beat 5.2: beats 3, 4 and 5.
    let out = take_until(&mut h, &mut t, 60_000, 124_800, 144_000, 400_000, 300);
    assert_eq!(h.control(port::LENGTH), 1.5, "three beats of 0.5 s");
    // The loop's passes start on every third beat from beat 6 (144,000).
    let at = (144_000 - 124_800) as usize;
    for k in 0..3 {
        for j in [0usize, 1, 71_999] {
            assert_eq!(
                out[at + k * 72_000 + j],
                sig(72_000 + j as u64),
                "pass {k}, frame {j}"
            );
        }
    }
    assert_rt_clean();
}

#[test]
fn positions_inside_blocks_are_applied_at_their_frame() {
    // The host sends its position only now and then, and in the middle of blocks; the
    // looper counts frames between them and the boundary still falls on the sample.
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    // Sent rarely, so exact: a rounded barBeat seen at only one phase of Ardour's tick
    // would leave the grid as uncertain as the rounding.
    t.rounded = false;
    let mut frame = 0i64;
    let mut record = 0.0;
    let n = 1000;
    while frame < 10 * 96_000 {
        if frame >= 100_000 {
            record = 1.0;
        }
        if frame >= 200_000 {
            record = 0.0;
        }
        if frame % 7000 == 0 || frame == 0 {
            h.send(333, t.position(frame + 333));
        }
        let input: Vec<f32> = (0..n as i64).map(|k| sig((frame + k) as u64)).collect();
        let out = h.run(&input, record, 1.0).to_vec();
        if (3 * 96_000..4 * 96_000).contains(&frame) {
            for (k, v) in out.iter().enumerate() {
                let f = frame + k as i64;
                assert_eq!(
                    *v,
                    sig(f as u64) + sig((2 * 96_000 + f - 3 * 96_000) as u64)
                );
            }
        }
        frame += n as i64;
    }
    assert_eq!(h.control(port::LENGTH), 2.0);
    assert_rt_clean();
}

#[test]
fn a_relocation_moves_playback_to_the_new_place_on_the_grid() {
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    let bar = 96_000;
    // A two-bar loop: bars 2 and 3.
    take(&mut h, &mut t, 150_000, 350_000, 5 * bar, 256);
    assert_eq!(h.control(port::LENGTH), 4.0);
    // Jump to 1.5 bars past bar 11: an odd bar, so the second bar of the loop, half
    // way in.
    t.frame = 11 * bar + bar / 2;
    let out = t.until(&mut h, t.frame + 1024, 256, 0.0, true);
    for (k, v) in out.iter().enumerate() {
        let j = bar as usize + bar as usize / 2 + k;
        assert_eq!(
            *v,
            sig(2 * bar as u64 + j as u64),
            "frame {k} after the jump"
        );
    }
    assert_rt_clean();
}

#[test]
fn stopped_or_without_positions_the_sync_modes_act_as_free() {
    // No positions at all: record acts at once.
    let mut h = Host::new(RATE, WorkerMode::Prompt);
    h.set(port::SYNC, 2.0);
    h.run(&[0.5; 100], 1.0, 1.0);
    assert_eq!(h.state(), 1, "recording at once");
    assert_eq!(h.control(port::SYNCED), 0.0);
    // Stopped transport: also at once, and not synced.
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    t.rolling = false;
    t.block(&mut h, 100, 0.0, false);
    assert_eq!(h.control(port::SYNCED), 0.0);
    t.block(&mut h, 100, 1.0, false);
    assert_eq!(h.state(), 1);
    t.block(&mut h, 300, 0.0, false);
    assert_eq!((h.control(port::LENGTH) as f64 * RATE).round(), 100.0);
    // Rolling again: synced, and edges wait for the bar.
    t.rolling = true;
    t.block(&mut h, 100, 0.0, false);
    assert_eq!(h.control(port::SYNCED), 1.0);
    t.block(&mut h, 100, 1.0, false);
    assert_eq!(h.state(), 2, "still playing the old loop until the bar");
    assert_rt_clean();
}

#[test]
fn after_a_tempo_change_the_loop_still_starts_on_its_bars() {
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    let bar = 96_000;
    take(&mut h, &mut t, 50_000, 150_000, 4 * bar, 256);
    assert_eq!(h.control(port::LENGTH), 2.0);
    // At bar 4 the tempo goes to 140 bpm: bars are 82,285.7 frames, the loop is cut at
    // each new bar line, where it starts again.
    t.origin = 4 * bar;
    t.origin_beats = 16.0;
    t.bpm = 140.0;
    let end = t.bar_frame(20).round() as i64;
    let out = t.until(&mut h, end, 256, 0.0, true);
    for i in 4..20 {
        let a = t.bar_frame(i).round() as i64;
        let j = (a - 4 * bar) as usize;
        assert_eq!(out[j], sig(bar as u64), "bar {i} starts the loop");
        assert_eq!(out[j + 1000], sig(bar as u64 + 1000));
    }
    assert_rt_clean();
}

#[test]
fn a_synced_loop_saved_and_restored_comes_back_on_its_bars() {
    let (mut h, mut t) = host(93.7, 2.0, 0.0);
    let end = t.bar_frame(5).round() as i64;
    take(&mut h, &mut t, 150_000, 300_000, end, 256);
    let dir = tempfile::tempdir().unwrap();
    let (status, saved) = h.save_state(&support::state::Offer::lilv(dir.path()));
    assert_eq!(status, 0);
    assert_eq!(
        (saved.int("unit"), saved.int("origin"), saved.int("units")),
        (Some(2), Some(2), Some(1))
    );
    // A new instance (the session reopened), the host rolling from bar 7 on.
    let mut b = Host::new(RATE, WorkerMode::Prompt);
    b.set(port::SYNC, 2.0);
    assert_eq!(
        b.restore_state(&saved, &support::state::Offer::lilv(dir.path())),
        0
    );
    let mut t2 = Transport::new(93.7, 4.0);
    t2.frame = t2.bar_frame(7).round() as i64 + 1234;
    let from = t2.frame;
    let to = t2.bar_frame(30).round() as i64;
    let out = t2.until(&mut b, to, 256, 0.0, true);
    let start = t.bar_frame(2).round() as i64;
    let len = (4.0 * RATE * 60.0 / 93.7f64).ceil() as usize;
    // The first part-pass plays from where bar 7 is, as well as the first position
    // tells (its barBeat is rounded: within 8 frames at 93.7 bpm); then, the grid
    // narrowed by the next positions, every pass starts on its bar line.
    let k = (0..len).find(|&k| out[0] == sig((start + k as i64) as u64));
    assert!(
        k.is_some_and(|k| k.abs_diff(1234) <= 8),
        "plays loop frame {k:?}"
    );
    assert!(passes_on_bars(&out, from, to, &t2, start, len) >= 21);
    assert_rt_clean();
}

#[test]
fn after_a_meter_change_the_loop_starts_on_the_new_bar_lines() {
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    let bar = 96_000;
    take(&mut h, &mut t, 50_000, 150_000, 6 * bar, 256);
    assert_eq!(h.control(port::LENGTH), 2.0);
    // From bar 6 on, 3/4: bars of 72,000 frames; the loop is cut at each.
    t.origin = 6 * bar;
    t.origin_beats = 18.0;
    t.bpb = 3.0;
    let end = t.bar_frame(16).round() as i64;
    let out = t.until(&mut h, end, 256, 0.0, true);
    for i in 6..16 {
        let a = (t.bar_frame(i).round() as i64 - 6 * bar) as usize;
        assert_eq!(out[a], sig(bar as u64), "bar {i} starts the loop");
        assert_eq!(
            out[a + 71_999],
            sig(bar as u64 + 71_999),
            "and plays three beats of it"
        );
    }
    assert_rt_clean();
}

#[test]
fn overdub_edges_wait_for_the_bar_too() {
    let (mut h, mut t) = host(120.0, 2.0, 0.0);
    let bar = 96_000i64;
    // A one-bar loop (bar 2), playing from bar 3.
    take(&mut h, &mut t, 100_000, 200_000, 3 * bar + 1000, 256);
    // Overdub on at 3.4 bars, off at 5.7 bars: the layer is bars 4 and 5, whole.
    let dub = |f: i64| 0.25 * sig(f as u64 + 555_555);
    let mut f = t.frame;
    while f < 7 * bar {
        let n = 256.min((7 * bar - f) as usize);
        let od = f >= 3 * bar + 40_000 && f < 5 * bar + 70_000;
        h.set(port::OVERDUB, if od { 1.0 } else { 0.0 });
        h.send(0, t.position(f));
        let input: Vec<f32> = (0..n as i64).map(|k| dub(f + k)).collect();
        let out = h.run(&input, 0.0, 1.0).to_vec();
        for (k, v) in out.iter().enumerate() {
            let g = f + k as i64;
            let j = (g % bar) as u64; // the loop's frame (passes on every bar)
            let base = sig(2 * bar as u64 + j);
            // The layer wrote bars 4 and 5 (feedback 1): each adds onto the loop.
            let mut layered = base;
            for b in [4, 5] {
                if g >= (b + 1) * bar {
                    layered += dub(b * bar + j as i64);
                }
            }
            assert_eq!(*v, dub(g) + layered, "frame {g}: in + loop");
        }
        f += n as i64;
        t.frame = f;
    }
    assert_eq!(h.control(port::LAYERS), 2.0, "the take and one layer");
    assert_rt_clean();
}
