"""Checks Ardour's exports of the looper scenarios against their inputs, sample by sample.

    check.py NAME WORKDIR [EXPORT]   NAME is loop, play, retake, ten_minutes, demo,
                                     overdub or undo_clear; EXPORT defaults to
                                     WORKDIR/export.wav
    check.py identical A.wav B.wav   the two exports are bit-identical

What each mono scenario must render is written below as a list of segments [lo, hi) of
the export, each with the mono signal expected there before the master's pan law: "dry"
is the input (which passes at unity), "loop(a, b, start)" is the input's [a, b) repeated
with period exactly b - a from sample `start`. Both output channels must equal
PAN_LAW * expected within float rounding (TOLERANCE). A loop segment also names its
take (a, b): when it fails, the report shows which parts of the take were played.

The stereo scenarios (overdub, undo, redo, clear) are rendered by model.py from the
input and the same automation lanes; a stereo track passes each channel to the master
at unity, so each export channel must equal the model's within TOLERANCE.

Every check is also run against itself with each edge moved by one sample (a loop
one sample long or short, starting or restarting one sample off, a layer or an undo one
sample early or late): all those variants must fail, or the check counts as failed for
being unable to see such an error.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo  # noqa: E402
import model  # noqa: E402
import scenarios  # noqa: E402
import wavio  # noqa: E402
from harness import PAN_LAW, RATE, read_input, read_spec  # noqa: E402

TOLERANCE = 1e-6  # absolute; the signals are about 0.5, an error of one sample is ~0.3
CHUNK = 1 << 21  # frames compared at once
EDGE = 4096  # frames around each segment edge compared first (fails fast)


# --- the expected signal, as functions (lo, hi) -> float32 samples -------------------

def dry(x):
    """The input (zero past its end)."""
    def f(lo, hi):
        out = np.zeros(hi - lo, dtype=np.float32)
        a, b = min(lo, len(x)), min(hi, len(x))
        out[: b - a] = x[a:b]
        return out
    return f


def loop(x, a, b, start):
    """The input's [a, b) repeated from sample `start`, period b - a."""
    take = np.ascontiguousarray(x[a:b])

    def f(lo, hi):
        return take[(np.arange(lo, hi, dtype=np.int64) - start) % (b - a)]
    return f


def plus(f, g):
    return lambda lo, hi: f(lo, hi) + g(lo, hi)  # float32 + float32, as the plugin adds


# --- what each scenario must render ------------------------------------------------

def expect_loop(x, p):
    A, B, E = p["A"], p["B"], p["end"]
    return [
        (0, B, dry(x), "pass-through before B (recording [A,B) included)"),
        (B, E, plus(dry(x), loop(x, A, B, B)), "input + [A,B) repeated, period B-A, from B", (A, B)),
    ]


def expect_play(x, p):
    A, B, C, D, E = p["A"], p["B"], p["C"], p["D"], p["end"]
    return [
        (0, B, dry(x), "pass-through before B"),
        (B, C, plus(dry(x), loop(x, A, B, B)), "input + loop, period B-A, from B", (A, B)),
        (C, D, lambda lo, hi: np.zeros(hi - lo, np.float32), "silence while play is off"),
        (D, E, plus(dry(x), loop(x, A, B, D)), "loop from its start when play is on at D", (A, B)),
    ]


def expect_retake(x, p):
    A1, B1, A2, B2, E = p["A1"], p["B1"], p["A2"], p["B2"], p["end"]
    return [
        (0, B1, dry(x), "pass-through before B1"),
        (B1, A2, plus(dry(x), loop(x, A1, B1, B1)), "input + take 1, period B1-A1", (A1, B1)),
        (A2, B2, dry(x), "take 2 recording: take 1 gone, pass-through"),
        (B2, E, plus(dry(x), loop(x, A2, B2, B2)), "input + take 2 only, period B2-A2", (A2, B2)),
    ]


SCENARIOS = {
    # name: (parameters, expected segments, edges to move by one sample)
    "loop": (scenarios.LOOP, expect_loop, ["A", "B"]),
    "play": (scenarios.PLAY_OFF_ON, expect_play, ["A", "B", "C", "D"]),
    "retake": (scenarios.RETAKE, expect_retake, ["A1", "B1", "A2", "B2"]),
    "ten_minutes": (scenarios.TEN_MINUTES, expect_loop, ["A", "B"]),
    "demo": (demo.DEMO, expect_play, ["A", "B", "C", "D"]),  # scripts/demo.sh
}

MODELLED = {
    # name: (parameters, their automation lanes, edges to move by one sample); the
    # edges left out change nothing by design (overdub on while stopped, overdub off
    # after undo closed the layer, redo with nothing to redo).
    "overdub": (scenarios.OVERDUB_LAYERS, scenarios.overdub_lanes,
                ["A", "B", "C1", "D1", "U1", "R1", "P0", "P1", "D2"]),
    "undo_clear": (scenarios.UNDO_CLEAR, scenarios.undo_clear_lanes,
                   ["A1", "B1", "A2", "B2", "C", "U1", "U2", "R1", "R2", "X", "U3", "C2", "D2"]),
}


# --- comparing ---------------------------------------------------------------------

def compare(y, lo, hi, f):
    """Both channels of y[lo:hi] against PAN_LAW * f: the largest error if they match
    within TOLERANCE, else a description (str) of the first mismatch."""
    worst = 0.0
    for c0 in range(lo, hi, CHUNK):
        c1 = min(hi, c0 + CHUNK)
        want = PAN_LAW * f(c0, c1)
        for ch in range(y.shape[1]):
            err = np.abs(y[c0:c1, ch] - want)
            bad = np.flatnonzero(err > TOLERANCE)
            if bad.size:
                t = c0 + bad[0]
                return (f"channel {ch}: {bad.size} samples differ in [{c0}, {c1}), first at "
                        f"{t} ({t / RATE:.6f} s): got {y[t, ch]:.7f}, want {want[bad[0]]:.7f}")
            worst = max(worst, float(err.max(initial=0.0)))
    return worst


def verify(y, segments, report=True):
    """True if every segment matches. Quiet (report=False), it compares the segments'
    edges first and stops at the first mismatch, so that a wrong variant fails fast."""
    if not report:
        for lo, hi, f, *_ in segments:
            for a, b in ((lo, min(hi, lo + EDGE)), (max(lo, hi - EDGE), hi)):
                if isinstance(compare(y, a, b, f), str):
                    return False
    ok = True
    for lo, hi, f, what, *_ in segments:
        r = compare(y, lo, hi, f)
        if isinstance(r, str):
            ok = False
            if not report:
                return False
            print(f"  BAD  [{lo}, {hi}) {what}: {r}")
        elif report:
            print(f"  ok   [{lo}, {hi}) {what} (max error {r:.1e})")
    return ok


def describe_playback(y, x, start, hi, a, b):
    """For a failed loop segment that begins at `start`: which parts of the take [a, b)
    the export plays in [start, hi) where the input is silent. There the export is
    exactly PAN_LAW * loop, so a run of played samples can be found in the take."""
    take = (PAN_LAW * np.asarray(x[a:b])).astype(np.float32).view(np.uint32)
    out = y[:, 0]
    p = max(start, len(x))
    print(f"  what the export plays from {p} on (input silent there), as parts of the take "
          f"[{a}, {b}) (offsets from A):")
    runs, misses = [], 0
    while p < hi - 8 and len(runs) < 1000 and misses < 50:
        head = np.asarray(out[p:p + 8]).view(np.uint32)
        if not head.any():  # silence: skip to the next sound
            nz = np.flatnonzero(np.asarray(out[p:min(hi, p + (1 << 20))]))
            p = p + (nz[0] if nz.size else 1 << 20)
            continue
        cands = [c for c in np.flatnonzero(take[: len(take) - 7] == head[0])
                 if np.array_equal(take[c:c + 8], head)]
        if len(cands) != 1:
            p, misses = p + 1, misses + 1
            continue
        o, n = cands[0], 0
        while p + n < hi and o + n < len(take):  # how far it plays on in order
            m = min(1 << 20, hi - p - n, len(take) - o - n)
            d = np.flatnonzero(np.asarray(out[p + n:p + n + m]).view(np.uint32) != take[o + n:o + n + m])
            if d.size:
                n += int(d[0])
                break
            n += m
        runs.append((p, o, n))
        p += n
    for p, o, n in runs[:12]:
        print(f"    export [{p}, {p + n}) = take [{o}, {o + n})  {n} samples")
    if len(runs) > 12:
        print(f"    ... {len(runs) - 12} more parts")
    restarts = [p for p, o, n in runs if o == 0 and p > start]
    if restarts:
        print(f"  the take starts again at export sample {restarts[0]}, "
              f"{restarts[0] - start} samples after {start}; want {b - a}")


def read_export(workdir, export):
    """The export, or None (said why) if it is not the session's range in stereo."""
    spec = read_spec(workdir)
    rate, y = wavio.read(export)
    if rate != RATE or y.shape != (spec["session_end"], 2):
        print(f"  BAD  export is {rate} Hz, shape {y.shape}; want {RATE} Hz, "
              f"({spec['session_end']}, 2)")
        return None
    return y


def check_scenario(name, workdir, export):
    params, expect, edges = SCENARIOS[name]
    x = read_input(workdir)[:, 0]
    y = read_export(workdir, export)
    if y is None:
        return False
    ok = verify(y, expect(x, params))
    if not ok:
        for lo, hi, f, what, *take in expect(x, params):
            if take and isinstance(compare(y, lo, hi, f), str):
                describe_playback(y, x, lo, hi, *take[0])
                break
        # Say which edge the output would match if it were off by a few samples.
        for key in edges:
            for d in [s * k for k in range(1, 65) for s in (-1, 1)]:
                if verify(y, expect(x, dict(params, **{key: params[key] + d})), report=False):
                    print(f"  note: the export matches {key} = {params[key] + d} "
                          f"(spec {params[key]}, off by {d:+d})")
                    break
        return False
    # The check must see an error of one sample at every edge.
    blind = [f"{k}{d:+d}" for k in edges for d in (-1, 1)
             if verify(y, expect(x, dict(params, **{k: params[k] + d})), report=False)]
    if blind:
        print(f"  BAD  the check also passes with edges moved: {', '.join(blind)}")
        return False
    print(f"  ok   every variant with an edge moved by one sample fails "
          f"({', '.join(edges)} each -1 and +1)")
    return True


def model_mismatch(y, want):
    """None if the export y matches the model's want within TOLERANCE, else the first
    mismatch per channel: (channel, sample, count)."""
    bad = []
    for ch in range(y.shape[1]):
        wrong = np.flatnonzero(np.abs(np.asarray(y[:, ch]) - want[:, ch]) > TOLERANCE)
        if wrong.size:
            bad.append((ch, int(wrong[0]), wrong.size))
    return bad or None


def check_modelled(name, workdir, export):
    params, lanes, edges = MODELLED[name]
    x = read_input(workdir)
    y = read_export(workdir, export)
    if y is None:
        return False
    end = len(y)
    events = sorted((t, k) for k, t in params.items() if k not in ("noise_end", "end"))
    want = model.render(x, lanes(params), end)

    def passes(key, d):
        """Whether the export matches the model with edge `key` moved by d samples."""
        moved = dict(params, **{key: params[key] + d})
        return model_mismatch(y, model.render(x, lanes(moved), end)) is None

    bad = model_mismatch(y, want)
    if bad:
        for ch, t, count in bad:
            after = [f"{k} = {tk}" for tk, k in events if tk <= t]
            given = x[t, ch] if t < len(x) else 0.0
            print(f"  BAD  channel {ch}: {count} samples differ from the model, first at {t} "
                  f"({t / RATE:.6f} s, after {after[-1] if after else 'no event'}): "
                  f"got {y[t, ch]:.7f}, want {want[t, ch]:.7f} (input {given:.7f})")
        # Say which edge the output would match if it were off by a few samples.
        for key in edges:
            for d in [s * k for k in range(1, 65) for s in (-1, 1)]:
                if passes(key, d):
                    print(f"  note: the export matches {key} = {params[key] + d} "
                          f"(spec {params[key]}, off by {d:+d})")
                    break
        return False
    worst = float(np.abs(np.asarray(y) - want).max())
    print(f"  ok   [0, {end}) both channels = the model (events "
          f"{', '.join(k for _, k in events)}; max error {worst:.1e})")
    blind = [f"{k}{d:+d}" for k in edges for d in (-1, 1) if passes(k, d)]
    if blind:
        print(f"  BAD  the check also passes with edges moved: {', '.join(blind)}")
        return False
    print(f"  ok   every variant with an edge moved by one sample fails "
          f"({', '.join(edges)} each -1 and +1)")
    return True


def check_identical(a, b):
    ra, ya = wavio.read(a)
    rb, yb = wavio.read(b)
    if (ra, ya.shape) != (rb, yb.shape):
        print(f"  BAD  {a}: {ra} Hz {ya.shape}; {b}: {rb} Hz {yb.shape}")
        return False
    for c0 in range(0, len(ya), CHUNK):
        diff = np.flatnonzero(np.any(ya[c0:c0 + CHUNK] != yb[c0:c0 + CHUNK], axis=1))
        if diff.size:
            t = c0 + diff[0]
            print(f"  BAD  exports differ first at sample {t}: {ya[t]} vs {yb[t]}")
            return False
    print(f"  ok   the two exports are bit-identical ({len(ya)} frames x {ya.shape[1]})")
    return True


def main(argv):
    if len(argv) == 4 and argv[1] == "identical":
        return check_identical(argv[2], argv[3])
    if len(argv) in (3, 4) and (argv[1] in SCENARIOS or argv[1] in MODELLED):
        name, workdir = argv[1], argv[2]
        export = argv[3] if len(argv) == 4 else os.path.join(workdir, "export.wav")
        check = check_scenario if name in SCENARIOS else check_modelled
        return check(name, workdir, export)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
