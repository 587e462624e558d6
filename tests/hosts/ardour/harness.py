"""What the Ardour test and the demo share on the Python side.

A scenario's work folder holds:
    spec.lua      what session.lua / reload.lua build and expect (a Lua table)
    spec.json     the same, for Python
    input.wav     the input region (mono, or stereo for the stereo looper), from sample 0
    session/      the Ardour session (made by session.lua)
    export.wav    what ardour7-export rendered (stereo, 32-bit float)

The saved-state scenarios (state_*) also leave:
    roll.log, strip.log   the logs of roll.lua and strip.lua
    rolled.ardour         the session file as roll.lua saved it (which stateN it names)

Command line (used by lib.sh):
    harness.py install-input WORKDIR            put input.wav into the session's take file
    harness.py check-session WORKDIR            the saved session holds the looper and its lanes
    harness.py check-session WORKDIR rolled     the same after roll.lua; keeps rolled.ardour
    harness.py check-session WORKDIR stripped   after strip.lua: the spec's strip lanes are gone
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
    # Saved-state scenarios (roll.lua, strip.lua): roll_to (the real-time roll stops when
    # the transport passes it), save_at (the session is saved while rolling, once the
    # transport passes it; else after the roll stops), strip (the ports whose lanes the
    # reopened session loses). None for the others.
    roll: dict = None


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
    if setup.roll:
        spec["roll"] = {"roll_to": int(setup.roll["roll_to"]),
                        "save_at": setup.roll.get("save_at"),
                        "strip": [int(p) for p in setup.roll.get("strip", [])]}
    wavio.write(os.path.join(workdir, "input.wav"), RATE, x)
    with open(os.path.join(workdir, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    lanes = "\n".join(
        f"\t\t[{p}] = {{ " + ", ".join(f"{{{t}, {v!r}}}" for t, v in pts) + " },"
        for p, pts in spec["lanes"].items()
    )
    roll = ""
    if setup.roll:
        r = spec["roll"]
        roll = (f"\troll_to = {r['roll_to']},\n"
                + (f"\tsave_at = {int(r['save_at'])},\n" if r["save_at"] is not None else "")
                + f"\tstrip = {{ {', '.join(str(p) for p in r['strip'])} }},\n")
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
            f"{roll}"
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


def looper_processor(path, uri):
    """The session file's one looper <Processor> (its XML element)."""
    import xml.etree.ElementTree as ET

    loopers = [p for p in ET.parse(path).getroot().iter("Processor") if p.get("unique-id") == uri]
    if len(loopers) != 1:
        raise SystemExit(f"{len(loopers)} looper processors in {path}")
    return loopers[0]


def state_dir(path, uri, session_dir):
    """The plugin state folder that the session file `path` names for the looper:
    session_dir/plugins/<processor id>/<state-dir> (a new stateN at every save)."""
    proc = looper_processor(path, uri)
    lv2 = proc.find("lv2")
    if lv2 is None or not lv2.get("state-dir"):
        raise SystemExit(f"the looper in {path} names no state-dir")
    return os.path.join(session_dir, "plugins", proc.get("id"), lv2.get("state-dir"))


def check_session(workdir, stage=None):
    """Reads the saved session file: exactly one looper, active, on the track, with each
    spec'd lane in Play mode, in AudioTime, holding exactly the spec'd events. Stage
    "rolled" (after roll.lua) also keeps a copy of the file as rolled.ardour; "stripped"
    (after strip.lua) wants the lanes of the spec's strip ports removed instead: state
    Off, no events, the control at 0."""
    spec = read_spec(workdir)
    path = os.path.join(spec["dir"], spec["name"] + ".ardour")
    try:
        proc = looper_processor(path, spec["uri"])
    except SystemExit as e:
        raise SystemExit(f"check-session: {e}")
    problems = []
    if proc.get("active") != "1":
        problems.append("the looper is not active")
    # Event times are stored in superclock ticks (282240000 per second) after an "a".
    superclock = 282_240_000
    lists = {al.get("automation-id"): al for al in proc.iter("AutomationList")}
    stripped = set(spec["roll"]["strip"]) if stage == "stripped" else set()
    values = {c.get("parameter"): c.get("value") for c in proc.iter("Controllable")}
    for port in sorted(stripped):
        al = lists.get(f"parameter-{port}")
        events = (al.findtext("events") or "").strip() if al is not None else ""
        if al is not None and (al.get("state") != "Off" or events):
            problems.append(f"port {port}: lane not removed (state {al.get('state')}, "
                            f"events {events.split()})")
        if values.get(str(port)) is None or float(values[str(port)]) != 0:
            problems.append(f"port {port}: control value {values.get(str(port))}, want 0")
    for port, points in spec["lanes"].items():
        if int(port) in stripped:
            continue
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
    kept = sorted(p for p in spec["lanes"] if int(p) not in stripped)
    gone = f"; ports {', '.join(map(str, sorted(stripped)))} without lanes (Off, no events, " \
        "value 0)" if stripped else ""
    where = ""
    if stage:
        lv2 = proc.find("lv2")
        where = f"; plugin state in {lv2.get('state-dir') if lv2 is not None else None}"
    print(f"check-session: the looper, AudioTime lanes for ports "
          f"{', '.join(kept)} in Play mode, events as specified{gone}{where}")
    if stage == "rolled":
        import shutil
        shutil.copyfile(path, os.path.join(workdir, "rolled.ardour"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "install-input":
        install_input(sys.argv[2])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check-session" and \
            (len(sys.argv) == 3 or sys.argv[3] in ("rolled", "stripped")):
        check_session(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
    else:
        raise SystemExit(__doc__)
