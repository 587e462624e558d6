//! Takes and overdubs in time with the host: edges of `record` and `overdub` wait for
//! the next beat or bar, a take closed on the grid is a whole number of units, `bars`
//! closes a take by itself, and a synced loop's passes start on the host's grid.
//!
//! While the looper follows the host (`sync` 1 or 2, a tempo known, the transport
//! rolling), an edge becomes a [`Pending`] change that fires at its boundary's frame;
//! the block is split there (`Looper::process_timed`), so it is sample-exact inside a
//! block, and an edge that arrives late but before its boundary gives the same take.
//! Not following (no position, transport stopped), every edge acts at once.
//!
//! Lengths: a take from unit `a` to unit `b` starts at frame `round(F(a))` (`F` the
//! exact frame of a boundary, fractional), closes at `round(F(b))`, where its first
//! pass starts, and holds `ceil(F(b) - F(a))` frames: where that is one more than it
//! recorded by then, its last frame is the one at `round(F(b))`, recorded with the
//! tail. Each pass starts at `round(F(a + k (b - a)))`, within half a frame of the
//! host's grid however many passes; a pass is `floor` or `ceil` of the exact length,
//! so where it is the shorter one the loop's last frame is not played.

use super::Looper;
use crate::engine::history::LoopGrid;
use crate::engine::sync::{Change, Grid, Position, Unit};

/// [audio] The `sync` control: 0 free, 1 beat, 2 bar (NaN: free).
pub(super) fn mode(v: f32) -> Option<Unit> {
    if v.is_nan() {
        return None;
    }
    match v.round() {
        x if x >= 2.0 => Some(Unit::Bar),
        x if x >= 1.0 => Some(Unit::Beat),
        _ => None,
    }
}

/// A record or overdub change waiting for its boundary.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    pub on: bool,
    pub unit: Unit,
    /// The boundary (unit number) it waits for.
    pub idx: i64,
    /// A record-on whose record-off came before it took effect: the take is one unit.
    pub then_off: bool,
    /// A take closing itself after `bars`: dropped, not fired, if the host stops.
    pub auto: bool,
}

impl Pending {
    fn new(on: bool, unit: Unit, idx: i64) -> Pending {
        Pending {
            on,
            unit,
            idx,
            then_off: false,
            auto: false,
        }
    }
}

/// Where the synced take being recorded started.
#[derive(Clone, Copy, Debug)]
pub(super) struct TakeSync {
    pub unit: Unit,
    pub idx: i64,
    /// The boundary's exact host frame, and the frame the take started on.
    pub exact: f64,
    pub frame: i64,
}

impl Looper {
    /// [audio] Whether the looper follows the host now: a sync mode, a tempo known, the
    /// transport rolling (the `synced` output).
    pub fn synced(&self) -> bool {
        self.mode.is_some() && self.grid.synced()
    }

    /// [any] The host's grid as the looper follows it (tests, diagnostics).
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// [audio] Units of `unit` in one bar.
    fn units_per_bar(&self, unit: Unit) -> i64 {
        match unit {
            Unit::Bar => 1,
            Unit::Beat => self.grid.beats_per_bar().round().max(1.0) as i64,
        }
    }

    /// [audio] An edge of `record`.
    pub(super) fn request_record(&mut self, on: bool) {
        let Some(unit) = self.mode.filter(|_| self.grid.synced()) else {
            self.pending_rec = None;
            self.set_record(on);
            return;
        };
        let now = self.grid.clock();
        if on {
            if self.recording {
                // On again before a close took effect: the take goes on.
                self.pending_rec = self.pending_rec.filter(|p| p.auto);
                return;
            }
            let (_, idx) = self.grid.next_boundary(unit, now);
            self.pending_rec = Some(Pending::new(true, unit, idx));
            return;
        }
        if let Some(p) = self.pending_rec.as_mut().filter(|p| p.on) {
            p.then_off = true; // off before the take began: it closes a unit after
            return;
        }
        if !self.recording {
            return;
        }
        let Some(t) = self.take_sync else {
            self.set_record(false); // a take begun free closes at once
            return;
        };
        let idx = self.grid.next_boundary(t.unit, now).1.max(t.idx + 1);
        if self.pending_rec.is_some_and(|p| !p.on && p.idx <= idx) {
            return; // `bars` closes it sooner
        }
        self.pending_rec = Some(Pending::new(false, t.unit, idx));
    }

    /// [audio] An edge of `overdub`.
    pub(super) fn request_overdub(&mut self, on: bool) {
        match self.mode.filter(|_| self.grid.synced()) {
            Some(unit) => {
                let (_, idx) = self.grid.next_boundary(unit, self.grid.clock());
                self.pending_od = Some(Pending::new(on, unit, idx));
            }
            None => {
                self.pending_od = None;
                self.od_gate = on;
            }
        }
    }

    /// [audio] The host frame a pending record change fires at: its boundary.
    fn rec_due(&self, p: &Pending) -> i64 {
        self.grid.boundary(p.unit, p.idx)
    }

    /// [audio] Fires every pending change due at the current frame (all of them when the
    /// host is not followed: the edges then act at once, but a `bars` close is dropped),
    /// and starts a synced loop's pass on its boundary.
    pub(super) fn fire_due(&mut self) {
        let synced = self.grid.synced();
        let now = self.grid.clock();
        if let Some(p) = self.pending_rec {
            if !synced && p.auto {
                self.pending_rec = None;
            } else if !synced || self.rec_due(&p) <= now {
                self.pending_rec = None;
                if p.on {
                    self.set_record(true);
                    if synced {
                        self.take_sync = Some(TakeSync {
                            unit: p.unit,
                            idx: p.idx,
                            exact: self.grid.exact_frame(p.unit, p.idx),
                            frame: now,
                        });
                        let close = if p.then_off {
                            Some((p.idx + 1, false))
                        } else if self.bars > 0 {
                            Some((p.idx + self.bars * self.units_per_bar(p.unit), true))
                        } else {
                            None
                        };
                        if let Some((idx, auto)) = close {
                            self.pending_rec = Some(Pending {
                                auto,
                                ..Pending::new(false, p.unit, idx)
                            });
                        }
                    }
                } else {
                    if let Some(t) = self.take_sync.filter(|_| synced) {
                        self.live.grid = Some(LoopGrid {
                            unit: t.unit,
                            origin: t.idx,
                            units: p.idx - t.idx,
                        });
                        // `ceil` of the exact length: a frame more than recorded, or none.
                        let exact = self.grid.exact_frame(p.unit, p.idx) - t.exact;
                        let len = (exact - 1e-6).ceil().max(1.0) as i64;
                        self.close_extra = (len - (now - t.frame)).clamp(0, 1) as usize;
                    }
                    self.set_record(false);
                }
            }
        }
        if let Some(p) = self.pending_od {
            if !synced || self.grid.boundary(p.unit, p.idx) <= now {
                self.pending_od = None;
                self.od_gate = p.on;
                self.update_overdub();
            }
        }
        if self.next_pass(now) == Some(now) && self.pos != 0 {
            self.pos = 0;
            self.wrapped = true;
        }
    }

    /// [audio] Frames until the next pending change or pass boundary, if any.
    pub(super) fn next_due(&self) -> Option<usize> {
        if !self.grid.synced() {
            return None;
        }
        let now = self.grid.clock();
        let rec = self.pending_rec.map(|p| self.rec_due(&p));
        let od = self.pending_od.map(|p| self.grid.boundary(p.unit, p.idx));
        let pass = self.next_pass(now + 1);
        [rec, od, pass]
            .into_iter()
            .flatten()
            .filter(|&d| d > now)
            .min()
            .map(|d| (d - now) as usize)
    }

    /// [audio] The host frame at or after `from` where the playing synced loop's next
    /// pass starts.
    fn next_pass(&self, from: i64) -> Option<i64> {
        let g = self.live.grid?;
        if !self.synced() || !self.playing || self.recording || g.units <= 0 {
            return None;
        }
        let (f, i) = self.grid.next_boundary(g.unit, from);
        let k = (g.origin - i).rem_euclid(g.units);
        Some(if k == 0 {
            f
        } else {
            self.grid.boundary(g.unit, i + k)
        })
    }

    /// [audio] Where in the live loop the host's grid is now, if the loop is synced and
    /// the looper follows the host.
    pub(super) fn grid_pos(&self) -> Option<usize> {
        let g = self.live.grid?;
        if !self.synced() || g.units <= 0 || self.live.loop_len == 0 {
            return None;
        }
        let now = self.grid.clock();
        let i = self.grid.index_at(g.unit, now);
        let k = (i - g.origin).rem_euclid(g.units);
        let start = self.grid.boundary(g.unit, i - k);
        Some((now - start).max(0) as usize % self.live.loop_len)
    }

    /// [audio] A position from the host, at the current frame.
    pub(super) fn on_position(&mut self, p: &Position) {
        if self.grid.apply(p) != Change::Jump {
            return;
        }
        // The host jumped (or started rolling). A take on the grid closes here, free.
        if self.recording && self.take_sync.is_some() {
            self.set_record(false);
        }
        // Waiting changes wait for the next boundary from here.
        let now = self.grid.clock();
        for p in [&mut self.pending_rec, &mut self.pending_od]
            .into_iter()
            .flatten()
        {
            p.idx = self.grid.next_boundary(p.unit, now).1;
        }
        // Playback follows the new position.
        if let Some(at) = self.grid_pos() {
            if self.playing {
                if self.layer_open {
                    self.commit_layer();
                    self.overdub_held = true;
                }
                self.fade_out_voice();
                self.start_voice(at);
            } else {
                self.pos = at;
            }
        }
    }
}
