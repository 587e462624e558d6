"""What the Ardour test and the demo share on the Python side.

A scenario's work folder holds:
    spec.lua      what session.lua / reload.lua build and expect (a Lua table)
    spec.json     the same, for Python
    input.wav     the input region (mono, or stereo for the stereo looper), from sample 0
    session/      the Ardour session (made by session.lua)
    export.wav    what ardour7-export rendered (stereo, 32-bit float)

Command line (used by lib.sh):
    harness.py install-input WORKDIR   put input.wav into the session's take file
    harness.py check-session WORKDIR   the saved session holds the looper and its lanes
"""
import glob
import json
import os
import sys
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wavio  # noqa: E402

RATE = 48000
# The looper plugin for a track of 1 or 2 channels.
URIS = {1: "urn:looper-lv2:mono", 2: "urn:looper-lv2:stereo"}
# LV2 port indices of the looper's control inputs (the same in both plugins).
RECORD = 2
PLAY = 3
OVERDUB = 9
FEEDBACK = 10
UNDO = 11
REDO = 12
CLEAR = 13
FADE = 15
# A mono track into Ardour's stereo master passes the -3 dB pan law on both channels
# (a stereo track's channels pass at unity, left to left and right to right).
PAN_LAW = np.float32(10 ** (-3 / 20))


@dataclass
class Setup:
    """What to build in Ardour: the input region and the automation lanes."""

    name: str
    input: np.ndarray  # float32, placed at sample 0: (frames,) mono or (frames, 2) stereo
    session_end: int  # export range [0, session_end)
    lanes: dict = field(default_factory=dict)  # port -> [(sample, value), ...]


def noise(seed, frames, amplitude=0.5):
    """Seeded white noise: a loop taken from it has exactly one period that fits."""
    rng = np.random.default_rng(seed)
    return (amplitude * (2 * rng.random(frames, dtype=np.float32) - 1)).astype(np.float32)


def write_setup(setup, workdir):
    """Writes input.wav, spec.lua and spec.json for session.lua into workdir."""
    os.makedirs(workdir, exist_ok=True)
    x = np.asarray(setup.input, dtype=np.float32)
    channels = 1 if x.ndim == 1 else x.shape[1]
    for port, points in setup.lanes.items():
        times = [t for t, _ in points]
        assert times == sorted(times) and len(set(times)) == len(times), f"port {port}: unsorted"
        assert all(0 <= t < setup.session_end for t in times), f"port {port}: event out of range"
    spec = {
        "dir": os.path.join(os.path.abspath(workdir), "session"),
        "name": setup.name,
        "uri": URIS[channels],
        "channels": channels,
        "rate": RATE,
        "input_frames": int(len(x)),
        "session_end": int(setup.session_end),
        "lanes": {int(p): [[int(t), float(v)] for t, v in pts] for p, pts in setup.lanes.items()},
    }
    wavio.write(os.path.join(workdir, "input.wav"), RATE, x)
    with open(os.path.join(workdir, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    lanes = "\n".join(
        f"\t\t[{p}] = {{ " + ", ".join(f"{{{t}, {v!r}}}" for t, v in pts) + " },"
        for p, pts in spec["lanes"].items()
    )
    with open(os.path.join(workdir, "spec.lua"), "w") as f:
        f.write(
            "-- written by harness.py\n"
            "return {\n"
            f"\tdir = {json.dumps(spec['dir'])},\n"
            f"\tname = {json.dumps(spec['name'])},\n"
            f"\turi = {json.dumps(spec['uri'])},\n"
            f"\tchannels = {spec['channels']},\n"
            f"\trate = {spec['rate']},\n"
            f"\tinput_frames = {spec['input_frames']},\n"
            f"\tsession_end = {spec['session_end']},\n"
            f"\tlanes = {{\n{lanes}\n\t}},\n"
            "}\n"
        )


def read_spec(workdir):
    with open(os.path.join(workdir, "spec.json")) as f:
        return json.load(f)


def read_input(workdir):
    """The input region as (frames, channels) float32."""
    rate, x = wavio.read(os.path.join(workdir, "input.wav"))
    assert rate == RATE and x.shape[1] == read_spec(workdir)["channels"]
    return np.asarray(x)


def install_input(workdir):
    """Overwrites the placeholder take recorded by session.lua with input.wav.

    A mono track's take is one file; a stereo track's is two, `...%L.wav` and
    `...%R.wav`, one per channel. Each take file keeps its length (the region uses its
    first input_frames samples; the rest becomes silence); Ardour's cached peaks of the
    old take are removed."""
    spec = read_spec(workdir)
    # interchange/<session folder's name>/audiofiles/<take>.wav
    takes = sorted(glob.glob(os.path.join(spec["dir"], "interchange", "*", "audiofiles", "*.wav")))
    if spec["channels"] == 2:
        want = [t for side in "LR" for t in takes if t.endswith(f"%{side}.wav")]
    else:
        want = takes
    if len(takes) != spec["channels"] or len(want) != spec["channels"]:
        raise SystemExit(f"install-input: expected {spec['channels']} take file(s) "
                         f"(stereo: %L and %R) in {spec['dir']}, found {takes}")
    x = read_input(workdir)
    for ch, take in enumerate(want):
        frames = wavio.frames(take)
        if frames < len(x):
            raise SystemExit(f"install-input: take has {frames} frames, input {len(x)}")
        padded = np.zeros(frames, dtype=np.float32)
        padded[: len(x)] = x[:, ch]
        wavio.write(take, RATE, padded)
        print(f"install-input: {len(x)} input frames (channel {ch}) into {take} ({frames} frames)")
    peaks = os.path.join(spec["dir"], "peaks")
    for f in os.listdir(peaks) if os.path.isdir(peaks) else []:
        os.remove(os.path.join(peaks, f))


def check_session(workdir):
    """Reads the saved session file: exactly one looper, active, on the track, with each
    spec'd lane in Play mode, in AudioTime, holding exactly the spec'd events."""
    import xml.etree.ElementTree as ET

    spec = read_spec(workdir)
    path = os.path.join(spec["dir"], spec["name"] + ".ardour")
    root = ET.parse(path).getroot()
    problems = []
    loopers = [p for p in root.iter("Processor") if p.get("unique-id") == spec["uri"]]
    if len(loopers) != 1:
        raise SystemExit(f"check-session: {len(loopers)} looper processors in {path}")
    proc = loopers[0]
    if proc.get("active") != "1":
        problems.append("the looper is not active")
    # Event times are stored in superclock ticks (282240000 per second) after an "a".
    superclock = 282_240_000
    lists = {al.get("automation-id"): al for al in proc.iter("AutomationList")}
    for port, points in spec["lanes"].items():
        al = lists.get(f"parameter-{port}")
        if al is None:
            problems.append(f"port {port}: no automation list")
            continue
        if al.get("time-domain") != "AudioTime" or al.get("state") != "Play":
            problems.append(f"port {port}: time-domain {al.get('time-domain')}, "
                            f"state {al.get('state')}; want AudioTime, Play")
        events = []
        for line in (al.findtext("events") or "").split("\n"):
            if line.strip():
                when, value = line.split()
                ticks = int(when.lstrip("a"))
                events.append([ticks * RATE / superclock, float(value)])
        if events != [[float(t), float(v)] for t, v in points]:
            problems.append(f"port {port}: events {events}, want {points}")
    if problems:
        raise SystemExit("check-session: " + "; ".join(problems) + f" ({path})")
    print(f"check-session: the looper, AudioTime lanes for ports "
          f"{', '.join(sorted(spec['lanes']))} in Play mode, events as specified")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "install-input":
        install_input(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "check-session":
        check_session(sys.argv[2])
    else:
        raise SystemExit(__doc__)
