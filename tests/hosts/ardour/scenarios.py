"""The Ardour scenarios: each one's input and automation, in samples at 48 kHz.

Every input is a short silence, seeded white noise, then silence, so a loop cut from
it has exactly one period that fits; sample positions are chosen odd and unrelated so
that no two ways of being wrong look alike. check.py holds what each must render.

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
from harness import PLAY, RATE, RECORD, Setup, noise, write_setup  # noqa: E402

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


def burst(seed, frames):
    """LEAD_IN samples of silence, then seeded noise up to sample `frames`."""
    return np.concatenate([np.zeros(LEAD_IN, np.float32), noise(seed, frames - LEAD_IN)])


def record_lane(*edges):
    """Record automation: off at 0, then alternately on and off at the given samples."""
    return [(0, 0.0)] + [(t, 1.0 if i % 2 == 0 else 0.0) for i, t in enumerate(edges)]


def setup(name):
    if name == "loop":
        p = LOOP
        return Setup(name, burst(1, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)]})
    if name == "play":
        p = PLAY_OFF_ON
        return Setup(name, burst(2, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]),
                      PLAY: [(0, 1.0), (p["C"], 0.0), (p["D"], 1.0)]})
    if name == "retake":
        p = RETAKE
        return Setup(name, burst(3, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A1"], p["B1"], p["A2"], p["B2"]), PLAY: [(0, 1.0)]})
    if name == "ten_minutes":
        p = TEN_MINUTES
        return Setup(name, burst(4, p["noise_end"]), p["end"],
                     {RECORD: record_lane(p["A"], p["B"]), PLAY: [(0, 1.0)]})
    raise SystemExit(f"unknown scenario {name}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        write_setup(setup(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(__doc__)
