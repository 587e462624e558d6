"""The Ardour tempo-sync scenarios: each one's tempo map, input and automation, in samples
at 48 kHz, and what the looper must make of them (check.py compares).

The mono looper on a mono track, `fade` held at 0 (a one-point lane) so that the loop is
the input exactly, `sync` (LV2 port 21 of the mono looper) held at 2 (bar), `bars` (port
22) held at 0 or 2. The input is LEAD_IN samples of silence (Ardour 7.3 now and then
fades the first ~4100 samples of a render in), seeded white noise up to a little past
the end of the take, then silence: from there on the output is the loop alone.

Musical time: Ardour's bar 1 is the LV2 time:Position's bar 0, at sample 0 (the probe
scenario `positions` checks it). The bars here are numbered as LV2 numbers them: bar i
begins at F(i), the exact (fractional) frame of the tempo map, 4/4 throughout. A take
from bar a to bar b starts at round(F(a)), holds ceil(F(b) - F(a)) frames, and each pass
starts at round(F(j)) of the bar j it starts on (src/engine/looper/quantize.rs).

Command line (used by run.sh):
    sync_scenarios.py prepare NAME WORKDIR   input.wav, spec.lua/spec.json (harness.py) and
                                        sync.lua/sync.json (the tempo map, the probe, and
                                        what check.py expects)
"""
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/hosts/ardour: harness.py
from harness import FADE, PLAY, RATE, RECORD, Setup, noise, write_setup  # noqa: E402

# LV2 port indices of the mono looper's sync controls (the stereo looper's are 23, 24).
SYNC = 21
BARS = 22
BAR_SYNC = 2.0
BEATS_PER_BAR = 4
LEAD_IN = RATE // 4
PROBE_URI = "urn:looper-lv2:sync-probe"


# Ardour 7 keeps time in superclocks (282,240,000 a second) and a tempo as a whole number
# of superclocks a quarter: 93.7 bpm is 180,729,989 of them, i.e. 93.70000017 bpm (the
# session file says npm="93.700000169866669"). The looper takes the tempo Ardour sends
# (a float, 93.6999969) as 93.7 (src/engine/sync.rs: snap_bpm).
SUPERCLOCK = 282_240_000


class TempoMap:
    """A tempo map of constant tempos in 4/4: [(quarter, bpm), ...] from quarter 0, each
    tempo from its quarter (beat) on. Frames are exact fractions (Fraction). With
    ardour=True, the tempos are Ardour's: whole superclocks a quarter."""

    def __init__(self, tempos, ardour=False):
        assert tempos[0][0] == 0 and all(a[0] < b[0] for a, b in zip(tempos, tempos[1:]))
        self.tempos = [(Fraction(q), Fraction(str(bpm))) for q, bpm in tempos]
        # Frames a quarter, each tempo.
        self.fpq = [60 * Fraction(RATE) / bpm for _, bpm in self.tempos]
        if ardour:
            self.fpq = [Fraction(rnd(SUPERCLOCK * 60 / bpm), SUPERCLOCK // RATE)
                        for _, bpm in self.tempos]
        # The frame where each tempo begins.
        self.starts = [Fraction(0)]
        for (q0, _), (q1, _), fpq in zip(self.tempos, self.tempos[1:], self.fpq):
            self.starts.append(self.starts[-1] + (q1 - q0) * fpq)

    def beat_frame(self, beat):
        """The exact frame of beat (quarter) `beat`."""
        beat = Fraction(beat)
        i = max(k for k, (q, _) in enumerate(self.tempos) if q <= beat)
        return self.starts[i] + (beat - self.tempos[i][0]) * self.fpq[i]

    def bar_frame(self, bar):
        """F(bar): the exact frame where LV2 bar `bar` begins."""
        return self.beat_frame(bar * BEATS_PER_BAR)

    def bar_at(self, frame):
        """The bar that holds `frame` (the last bar line at or before it, exactly)."""
        i = 0
        while self.bar_frame(i + 1) <= frame:
            i += 1
        return i


def rnd(f):
    """round() of a Fraction, halves up (no bar line here lies on a half)."""
    return math.floor(f + Fraction(1, 2))


def toggle_lane(*edges):
    """A toggle's automation: off at 0, then alternately on and off at the given samples."""
    return [(0, 0.0)] + [(t, 1.0 if i % 2 == 0 else 0.0) for i, t in enumerate(edges)]


# --- the scenarios ----------------------------------------------------------------
#
# Each: tempos [(quarter, bpm)], bars (the `bars` control), record's edges in bars (on,
# off; off the grid), the take (from bar a to bar b) they must give, the export's end (a
# bar; the export runs 4800 frames past it) and the input's noise seed.
#
# bar_120, bar_93_7: record on at 1.3 bars and off at 2.4 bars: the take is bar 2, one
#   bar; it plays from bar 3 for 101 passes, then 4800 frames into the next (the export
#   ends 4800 frames past bar 104). (At 93.7 bpm Ardour's own bar lines are not quite
#   F(i): its tempo is 93.70000017 bpm, a whole number of superclocks a beat; from bar
#   106 on one of them rounds to another frame than F(i). The scenario stops at 104.)
# bars2_93_7: bars = 2, record on at 0.6 bars and left on past bar 5: the take is bars 1
#   and 2 and closes itself at bar 3 (record going off at 5.3 bars does nothing).
# tempo_change: 120 bpm, 90 bpm from LV2 bar 7 (Ardour's bar 8, on its bar line), 150 bpm
#   from the third beat of bar 11 (mid-bar). A one-bar loop recorded at 120 bpm keeps its
#   96,000 frames: each pass starts on a bar line of the tempo of the moment; where a bar
#   is longer than the loop (90 bpm: 128,000 frames) the loop wraps at its own end and
#   plays on from its start until the bar line; where it is shorter (150 bpm: 76,800) the
#   loop is cut at the bar line. Bar 11 is 64,000 frames of 90 bpm then 38,400 of 150.
SCENARIOS = {
    "bar_120": dict(tempos=[(0, 120)], bars=0, on=1.3, off=2.4, take=(2, 3), end_bar=104,
                    seed=21),
    "bar_93_7": dict(tempos=[(0, 93.7)], bars=0, on=1.3, off=2.4, take=(2, 3), end_bar=104,
                     seed=22),
    "bars2_93_7": dict(tempos=[(0, 93.7)], bars=2, on=0.6, off=5.3, take=(1, 3), end_bar=15,
                       seed=23),
    "tempo_change": dict(tempos=[(0, 120), (28, 90), (46, 150)], bars=0, on=1.3, off=2.4,
                         take=(2, 3), end_bar=20, seed=24),
    # The probe (probe/probe.c) after the looper: what Ardour sends as time:Position while
    # it exports (probe.log), on a map whose change falls inside a cycle: 93.7 bpm, 80 bpm
    # from the third beat of bar 5 (Ardour's 6|3|0). The one-bar loop of 93.7 bpm keeps
    # its ceil(122,945.57) = 122,946 frames: 80 bpm bars are 144,000 frames, so it wraps
    # at its own end inside every bar, which shows its length to the frame.
    "positions": dict(tempos=[(0, 93.7), (22, 80)], bars=0, on=1.3, off=2.4, take=(2, 3),
                      end_bar=12, seed=25, probe=True),
}
# The record edges fall this many frames after their bar fraction (1.3 bars, ...): odd
# frames, nowhere near a boundary.
EDGE_NUDGE = 7


def plan(name):
    """The scenario's frames: everything check.py needs, as plain numbers."""
    s = SCENARIOS[name]
    tm = TempoMap(s["tempos"])
    a, b = s["take"]
    on = rnd(tm.beat_frame(Fraction(str(s["on"])) * BEATS_PER_BAR)) + EDGE_NUDGE
    off = rnd(tm.beat_frame(Fraction(str(s["off"])) * BEATS_PER_BAR)) + EDGE_NUDGE
    start = rnd(tm.bar_frame(a))
    length = math.ceil(tm.bar_frame(b) - tm.bar_frame(a))
    end = rnd(tm.bar_frame(s["end_bar"])) + 4800
    units = b - a
    # Every pass: its bar and its first frame, from bar b on while one starts in the export.
    passes = []
    j = b
    while rnd(tm.bar_frame(j)) < end:
        passes.append((j, rnd(tm.bar_frame(j))))
        j += units
    # Ardour's own bar lines must round to the same frames (else the scenario would not
    # say which is right): see SUPERCLOCK.
    ardour = TempoMap(s["tempos"], ardour=True)
    for i in range(s["end_bar"] + 2):
        if rnd(ardour.bar_frame(i)) != rnd(tm.bar_frame(i)):
            raise SystemExit(f"{name}: bar {i} is at {float(tm.bar_frame(i)):.4f}, in "
                             f"Ardour's superclocks {float(ardour.bar_frame(i)):.4f}: they "
                             f"round apart")
    noise_end = rnd(tm.bar_frame(b)) + 2401  # the input runs on a little past the take
    # The input region reaches past record's last edge: session.lua leaves the playhead
    # at its end, where the looper (stopped) would otherwise record.
    frames = max(noise_end, off) + RATE // 10
    return dict(name=name, tempos=[[float(q), float(bpm)] for q, bpm in tm.tempos],
                tempo_frames=[float(f) for f in tm.starts], bars=s["bars"], on=on, off=off,
                take_bars=[a, b], start=start, length=length, passes=passes,
                exact_bar_frames=[float(tm.bar_frame(i)) for i in range(s["end_bar"] + 2)],
                noise_end=noise_end, input_frames=frames, end=end, seed=s["seed"],
                probe=bool(s.get("probe")))


def setup(p):
    x = np.zeros(p["input_frames"], np.float32)
    x[LEAD_IN:p["noise_end"]] = noise(p["seed"], p["noise_end"] - LEAD_IN)
    lanes = {RECORD: toggle_lane(p["on"], p["off"]), PLAY: [(0, 1.0)], FADE: [(0, 0.0)],
             SYNC: [(0, BAR_SYNC)], BARS: [(0, float(p["bars"]))]}
    return Setup(p["name"], x, p["end"], lanes)


def write_sync_spec(p, workdir):
    """sync.json (for check.py) and sync.lua (for tempo.lua): the tempo map in quarters
    and bpm, and whether to add the probe."""
    with open(os.path.join(workdir, "sync.json"), "w") as f:
        json.dump(p, f, indent=1)
    tempos = ", ".join(f"{{ {q!r}, {bpm!r} }}" for q, bpm in p["tempos"])
    probe = json.dumps(PROBE_URI) if p["probe"] else "nil"
    with open(os.path.join(workdir, "sync.lua"), "w") as f:
        f.write("-- written by sync/sync_scenarios.py\n"
                f"return {{\n\ttempos = {{ {tempos} }},\n\tbeats_per_bar = {BEATS_PER_BAR},\n"
                f"\tprobe = {probe},\n}}\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        plan_ = plan(sys.argv[2])
        write_setup(setup(plan_), sys.argv[3])
        write_sync_spec(plan_, sys.argv[3])
    else:
        raise SystemExit(__doc__)
