"""The Ardour scenarios: each one's input and automation, in samples at 48 kHz.

Every input is a short silence, seeded white noise, then silence, so a loop cut from
it has exactly one period that fits; sample positions are chosen odd and unrelated so
that no two ways of being wrong look alike. check.py holds what each must render.
Every scenario sets `fade` to 0 (a constant lane): no declicks, so the loop is the
input exactly. The mono looper runs on a mono track; `overdub` and `undo_clear` run the
stereo looper on a stereo track, with other noise in each channel.

The saved-state scenarios (state_*, checked by check_state.py) differ: state_mono and
state_stereo record sines with `fade` at 5 ms, so that the seam has a tail and a
crossfade to hear; state_recording records noise at fade 0.

The silence at the start: once in about 40 exports, Ardour 7.3 faded the first
~4100 samples of the render in (256 zeros, then its gain smoothing from 0 towards 1).
The looper was only passing audio through there, so the inputs start with LEAD_IN
samples of silence, where such a fade changes nothing.

Command line (used by run.sh):
    scenarios.py prepare NAME WORKDIR   write input.wav and spec.lua/spec.json
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CLEAR, FADE, FEEDBACK, OVERDUB, PLAY, RATE, RECORD, REDO, UNDO,  # noqa: E402
                     Setup, noise, write_setup)

SECOND = RATE
LEAD_IN = SECOND // 4

# 1. record on at A, off at B: pass-through before B, then input + [A, B) repeated.
LOOP = dict(noise_end=3 * SECOND, A=24_007, B=96_001, end=6 * SECOND)

# 2. play off at C and on again at D (input silent there): silence, then the loop from
#    its start (D - B is not a multiple of B - A, so "from its start" is visible).
PLAY_OFF_ON = dict(noise_end=2 * SECOND, A=17_011, B=60_013, C=150_001, D=200_003, end=300_000)

# 3. a second, shorter take [A2, B2) replaces the first [A1, B1).
RETAKE = dict(noise_end=3 * SECOND, A1=14_801, B1=76_809, A2=100_003, B2=131_009, end=6 * SECOND)

# 4. a ten-minute take (plus 13 samples) loops exactly; the export runs through one
#    whole repetition and past the loop's wrap.
TEN_MINUTES_LEN = 10 * 60 * SECOND + 13
TEN_MINUTES = dict(A=48_017, B=48_017 + TEN_MINUTES_LEN)
TEN_MINUTES.update(noise_end=TEN_MINUTES["B"] + SECOND, end=TEN_MINUTES["B"] + TEN_MINUTES_LEN + SECOND)

# 5. stereo: a take [A, B); a layer [C1, D1) held for 1.6 loops (across the wrap: part
#    of the loop gets the input added twice); undo at U1 (the layer goes, the loop plays
#    on from where it was), redo at R1 (it comes back); play off at P0, overdub on at
#    C2 while stopped (no layer yet), play on at P1 (the loop from its start, and the
#    layer from there), overdub off at D2.
OVERDUB_LAYERS = dict(noise_end=260_000, A=16_001, B=59_009, C1=75_013, D1=143_833,
                      U1=160_019, R1=178_031, P0=195_043, C2=205_051, P1=215_063,
                      D2=240_071, end=320_000)

# 6. stereo, feedback 0.5: take 1 [A1, B1), take 2 [A2, B2); a layer from C undone at U1
#    while overdub is still on (the layer is closed, then undone; overdub off at D does
#    nothing); undo at U2 (take 1, at the position modulo its length), redo at R1 (take
#    2), redo at R2 (the layer, closed by U1); clear at X (pass-through), undo at U3 (the
#    layered take 2 from its start); a new layer [C2, D2) drops the redo step, so redo
#    at R3 does nothing.
UNDO_CLEAR = dict(noise_end=330_000, A1=15_013, B1=63_017, A2=80_021, B2=113_039,
                  C=130_007, U1=150_011, D=160_003, U2=175_019, R1=196_027, R2=214_043,
                  X=236_051, U3=251_063, C2=266_071, D2=296_083, R3=310_091, end=380_000)
UNDO_CLEAR_FEEDBACK = 0.5
PULSE = 2_400  # how long a trigger (undo, redo, clear) stays on

# 7-9. The loop saved with the session (LV2 state). An export does not save the session,
#    so these sessions are rolled in real time from ardour7-lua (roll.lua: the looper
#    records what its lanes say), saved, reopened with the record and overdub lanes
#    removed (strip.lua), saved again, then exported; check_state.py holds what each must
#    save and render. ardour7-export runs the plugin for a while before its first sample
#    (its pre-roll), so the check finds where the restored loop has got to in the export.
#    Each loop is shorter than that pre-roll: every seam of the export follows a wrap.
#
# 7. mono, fade 5 ms (so the take has a tail and the seam a crossfade): a take [A, B)
#    of a sine, then a layer of another sine [C, D) in the loop's body, away from the
#    seam. The take's sine makes a loop of 440.49 periods: without the crossfade the seam
#    would jump by 0.19 (0.14 after the pan law), eight times the largest step of the
#    loop's body. The input is silent after S, but for the layer's sine, which starts
#    10 ms before C and ends 10 ms after the layer's fade-out; the roll stops at ROLL.
STATE_FADE_MS = 5.0
STATE_FADE = int(STATE_FADE_MS * RATE / 1000)
STATE_MONO = dict(A=24_007, B=72_060, S=74_460, C=84_071, D=108_073, ROLL=115_000,
                  end=250_000)
STATE_MONO.update(noise_end=STATE_MONO["D"] + STATE_FADE + 480)
# 8. the same on the stereo looper and a stereo track, each channel its own sines (the
#    seam would jump by 0.39 and 0.12).
STATE_STEREO = dict(A=21_011, B=64_078, S=66_478, C=77_029, D=96_031, ROLL=103_000,
                    end=230_000)
STATE_STEREO.update(noise_end=STATE_STEREO["D"] + STATE_FADE + 480)
# The sines (Hz, amplitude) of the take and of the layer, per channel.
STATE_TAKE_SINES = [(440.0, 0.3), (330.0, 0.25)]
STATE_LAYER_SINES = [(277.0, 0.2), (370.0, 0.2)]
# 9. mono, fade 0, noise: record goes on at A and is still on when the session is
#    saved (the transport past SAVE, rolling); the roll stops at ROLL and the session
#    closes unsaved. The saved loop is the take up to the instant of the save. (Record
#    goes off at B, after the roll, only so that the playhead session.lua leaves at the
#    input's end is not in a record-on stretch: the looper would record while stopped.)
STATE_RECORDING = dict(A=24_007, SAVE=84_011, ROLL=130_000, B=180_000, noise_end=200_000,
                       end=300_000)
# The lanes that the reopened sessions lose (record and overdub).
STRIPPED = [RECORD, OVERDUB]


def burst(seed, frames):
    """LEAD_IN samples of silence, then seeded noise up to sample `frames`."""
    return np.concatenate([np.zeros(LEAD_IN, np.float32), noise(seed, frames - LEAD_IN)])


def stereo_burst(seed, frames):
    """burst() in each of two channels, each its own noise."""
    return np.stack([burst(seed, frames), burst(seed + 100, frames)], axis=1)


def record_lane(*edges):
    """A toggle's automation: off at 0, then alternately on and off at the given samples."""
    return [(0, 0.0)] + [(t, 1.0 if i % 2 == 0 else 0.0) for i, t in enumerate(edges)]


def pulses(*times):
    """A trigger's automation: off at 0, on for PULSE samples from each given sample."""
    return [(0, 0.0)] + [pt for t in times for pt in ((t, 1.0), (t + PULSE, 0.0))]


NO_FADE = {FADE: [(0, 0.0)]}


def overdub_lanes(p):
    return {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0), (p["P0"], 0.0), (p["P1"], 1.0)],
            OVERDUB: record_lane(p["C1"], p["D1"], p["C2"], p["D2"]),
            UNDO: pulses(p["U1"]), REDO: pulses(p["R1"]), **NO_FADE}


def undo_clear_lanes(p):
    return {RECORD: record_lane(p["A1"], p["B1"], p["A2"], p["B2"]), PLAY: [(0, 1.0)],
            OVERDUB: record_lane(p["C"], p["D"], p["C2"], p["D2"]),
            FEEDBACK: [(0, UNDO_CLEAR_FEEDBACK)],
            UNDO: pulses(p["U1"], p["U2"], p["U3"]), REDO: pulses(p["R1"], p["R2"], p["R3"]),
            CLEAR: pulses(p["X"]), **NO_FADE}


def sine(f, amplitude, lo, hi, frames):
    """A sine of f Hz over [lo, hi) of `frames` samples (phase 0 at sample 0), else 0."""
    t = np.arange(frames, dtype=np.float64)
    x = amplitude * np.sin(2 * np.pi * f * t / RATE)
    x[:lo] = 0
    x[hi:] = 0
    return x.astype(np.float32)


def state_input(p, channels):
    """The take's sine up to S, silence, then the layer's sine around [C, D + fade)."""
    n = p["noise_end"]
    x = np.stack([sine(*STATE_TAKE_SINES[c], LEAD_IN, p["S"], n)
                  + sine(*STATE_LAYER_SINES[c], p["C"] - 480, n, n) for c in range(channels)], axis=1)
    return x[:, 0] if channels == 1 else x


def state_lanes(p):
    return {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)],
            OVERDUB: record_lane(p["C"], p["D"]), FADE: [(0, STATE_FADE_MS)]}


def setup(name):
    if name == "loop":
        p = LOOP
        return Setup(name, burst(1, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)], **NO_FADE})
    if name == "play":
        p = PLAY_OFF_ON
        return Setup(name, burst(2, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]),
                      PLAY: [(0, 1.0), (p["C"], 0.0), (p["D"], 1.0)], **NO_FADE})
    if name == "retake":
        p = RETAKE
        return Setup(name, burst(3, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A1"], p["B1"], p["A2"], p["B2"]), PLAY: [(0, 1.0)],
                      **NO_FADE})
    if name == "ten_minutes":
        p = TEN_MINUTES
        return Setup(name, burst(4, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)], **NO_FADE})
    if name == "overdub":
        p = OVERDUB_LAYERS
        return Setup(name, stereo_burst(5, p["noise_end"]), p["end"], overdub_lanes(p))
    if name == "undo_clear":
        p = UNDO_CLEAR
        return Setup(name, stereo_burst(6, p["noise_end"]), p["end"], undo_clear_lanes(p))
    if name in ("state_mono", "state_stereo"):
        p = STATE_MONO if name == "state_mono" else STATE_STEREO
        return Setup(name, state_input(p, 1 if name == "state_mono" else 2), p["end"],
                     state_lanes(p), roll=dict(roll_to=p["ROLL"], strip=STRIPPED))
    if name == "state_recording":
        p = STATE_RECORDING
        return Setup(name, burst(9, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)], **NO_FADE},
                     roll=dict(roll_to=p["ROLL"], save_at=p["SAVE"], strip=STRIPPED))
    raise SystemExit(f"unknown scenario {name}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        write_setup(setup(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(__doc__)
