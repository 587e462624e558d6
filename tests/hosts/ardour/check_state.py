"""Checks the saved-state scenarios (state_mono, state_stereo, state_recording): the loop
the looper saved with the Ardour session, and what the reopened session exports.

    check_state.py NAME WORKDIR [EXPORT]   EXPORT defaults to WORKDIR/export.wav

The work folder holds what run.sh made: the session recorded its loop by automation
while roll.lua rolled it in real time and saved it (rolled.ardour is that save's session
file), strip.lua reopened it, removed the record and overdub lanes and saved it again,
and ardour7-export rendered it. Checked, in this order:

1. logs: roll.log and strip.log (the reopened session) hold no [ERROR] or [WARNING]
   from the looper (its messages start with "looper:").
2. state: the session file names a plugin state folder (SESSION/plugins/<id>/stateN,
   one per save) other than the roll's; its state.ttl gives the loop's length, 48 kHz,
   the channel count and "playing"; its loop.wav holds the same samples as the roll's:
   reopening did not change the loop (no new take started before the lanes went).
3. loop.wav, sample for sample: state_mono and state_stereo, the take [A, B) with the
   tail [B, B + fade) past its end, and the layer: the input of [C, D + fade) added at
   loop position (t - B) mod (B - A), its gain rising over the first `fade` frames from C
   and falling over `fade` frames from D, as the plugin's ramps do it in float32 (feedback
   1). state_recording (fade 0): the input from A for the length saved, which must end
   between the instant the save began and the instant it returned (roll.log), and no tail.
4. the export, sample for sample: the input (which passes through) plus the loop played
   round and round, the seam crossfaded after each wrap as the plugin does it (smoothstep
   weight w(p) = t^2 (3 - 2t), t = (p + 0.5) / fade, loop * w + tail * (1 - w) for the
   first `fade` frames of each pass), times the mono track's pan law (a stereo track is
   unity), within TOLERANCE on both channels. Where the loop is in its cycle when the
   export starts is found in the export (the input is silent at its end): ardour7-export
   runs the plugin before its first sample (in Ardour 7.3, 102144 frames, 399 cycles of
   256: its export pre-roll of 2 s and 24 cycles more); the check says how far the loop
   had played, and whether that is 102144 frames from the loop's start at the restore.
   The first FADE_IN frames may carry Ardour's occasional fade-in of the render (gain
   from 0 towards 1): they match exactly or under such a gain; the rest must be exact.
5. the seam (fade > 0): at every seam where the input is silent, the largest
   sample-to-sample step of the export from the seam through its crossfade is at most
   SEAM_RATIO times the largest step anywhere else in the loop there.

Every check is also run against wrong expectations, which must all fail: loop.wav with
an edge (A, B, C, D, fade) moved by one sample; the export with the loop's phase or
period one sample off, the take without its layer, the seam without its crossfade, the
channels swapped (stereo), the take one sample early or late (state_recording); the
seam check on the same loop played without a crossfade (fade 0: it must click); the log
check on a line of the plugin's real error format.
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios  # noqa: E402
import wavio  # noqa: E402
from harness import PAN_LAW, RATE, read_input, read_spec, state_dir  # noqa: E402

TOLERANCE = 1e-6  # absolute, as check.py
FADE_IN = 4800  # frames at the export's start that may be faded in by Ardour (100 ms)
SEAM_RATIO = 1.05  # a seam's largest step, against the loop's own largest step
# The plugin's log messages as ardour7-lua prints them (log:Error, log:Warning).
LOOPER_LOG = re.compile(r"^\[(ERROR|WARNING)\]:\s*looper:")
# A line of that format, from a reopened session whose loop.wav was cut short.
LOOPER_LOG_SAMPLE = ("[ERROR]: looper: the saved loop was not restored: the file is cut "
                     "short: 24576 of the 48293 frames its header gives (/tmp/s/session/"
                     "plugins/222/state3/loop.wav). The looper keeps the loop it had (a new "
                     "one is empty)")
# What ardour7-export 7.3 runs before the export's first sample, found by trying: 102144
# frames, 399 cycles of 256, the same for every session: its export pre-roll (rc option
# export-preroll, 2 s; set to 1 s, 54016 frames) and 24 cycles more.
ARDOUR_PRE_EXPORT = 2 * RATE + 24 * 256

SCENARIOS = {"state_mono": scenarios.STATE_MONO, "state_stereo": scenarios.STATE_STEREO,
             "state_recording": scenarios.STATE_RECORDING}


def ok(msg):
    print(f"  ok   {msg}")


def bad(msg):
    print(f"  BAD  {msg}")
    return False


# --- 1. logs -----------------------------------------------------------------------

def looper_messages(lines):
    return [ln.rstrip("\n") for ln in lines if LOOPER_LOG.match(ln)]


def check_logs(workdir):
    if not looper_messages([LOOPER_LOG_SAMPLE]):
        return bad("the log check does not see the plugin's error format")
    good = True
    for log in ("roll.log", "strip.log"):
        with open(os.path.join(workdir, log), errors="replace") as f:
            found = looper_messages(f)
        for m in found:
            good = bad(f"{log}: {m}")
        if not found:
            ok(f"{log}: no [ERROR] or [WARNING] from the looper")
    return good


# --- 2. the saved state ------------------------------------------------------------

def read_state(folder):
    """The looper's properties in folder/state.ttl, and folder/loop.wav as float32."""
    with open(os.path.join(folder, "state.ttl")) as f:
        ttl = f.read()

    def prop(name, pattern):
        m = re.search(r"<urn:looper-lv2:state#" + name + r">\s*" + pattern, ttl)
        return m.group(1) if m else None
    props = {"audio": prop("audio", r"<([^>]*)>"), "length": prop("length", r'"(-?\d+)"'),
             "rate": prop("rate", r'"([0-9.e+]+)"'), "channels": prop("channels", r'"(\d+)"'),
             "playing": prop("playing", r"(true|false)")}
    wav = os.path.join(folder, "loop.wav")
    loop = None
    if os.path.exists(wav):
        rate, data = wavio.read(wav)
        loop = (rate, np.array(data))
    return props, loop


def check_state(workdir, spec):
    """The final state folder: its properties and its loop, the same as the roll saved.
    Returns (ok, length, loop.wav samples)."""
    session = os.path.join(spec["dir"], spec["name"] + ".ardour")
    now = state_dir(session, spec["uri"], spec["dir"])
    rolled = state_dir(os.path.join(workdir, "rolled.ardour"), spec["uri"], spec["dir"])
    rel = os.path.relpath(now, spec["dir"])
    if now == rolled:
        return bad(f"the reopened session was saved with the roll's state folder {rel}"), 0, None
    props, loop = read_state(now)
    want = {"audio": "loop.wav", "rate": float(RATE), "channels": spec["channels"],
            "playing": "true"}
    got = {"audio": props["audio"], "channels": props["channels"] and int(props["channels"]),
           "rate": props["rate"] and float(props["rate"]), "playing": props["playing"]}
    if got != want or props["length"] is None or loop is None:
        return bad(f"{rel}/state.ttl: {props}, loop.wav {'there' if loop else 'missing'}; "
                   f"want {want} and a length"), 0, None
    length = int(props["length"])
    ok(f"{rel}/state.ttl: loop.wav, {length} frames, {RATE} Hz, {spec['channels']} "
       f"channel(s), playing")
    rprops, rloop = read_state(rolled)
    rrel = os.path.relpath(rolled, spec["dir"])
    if rloop is None or rprops["length"] != props["length"] or \
            rloop[1].shape != loop[1].shape or not np.array_equal(rloop[1], loop[1]):
        return bad(f"{rel}/loop.wav is not the loop the roll saved in {rrel} (length "
                   f"{props['length']} vs {rprops['length']})"), 0, None
    ok(f"{rel}/loop.wav = {rrel}/loop.wav (the roll's save): the reopened session kept "
       f"the loop")
    if loop[0] != RATE:
        return bad(f"{rel}/loop.wav is at {loop[0]} Hz"), 0, None
    return True, length, loop[1]


# --- 3. loop.wav against the model ----------------------------------------------------

def ramp(a, b, n):
    """The plugin's Ramp from a to b over n frames, as float32: the value of each frame."""
    step = np.float32((np.float32(b) - np.float32(a)) / np.float32(n))
    v, out = np.float32(a), np.empty(n, np.float32)
    for k in range(n):
        v = np.float32(b) if k == n - 1 else np.float32(v + step)
        out[k] = v
    return out


def layered_loop(x, p):
    """What the looper holds after the take [A, B) (tail [B, B + fade)) and the layer
    [C, D) with its fades: (frames, channels) float32, loop then tail."""
    F = p["fade"]
    A, B, C, D = p["A"], p["B"], p["C"], p["D"]
    L = B - A
    m = np.array(x[A:B + F], np.float32)
    if D > C:
        g = np.ones(D + F - C, np.float32)
        if F:
            g[:F] = ramp(0.0, 1.0, F)
            g[D - C:] = ramp(1.0, 0.0, F)
        pos = (np.arange(C, D + F) - B) % L
        # (the model: a layer inside the loop's body, off the seam's crossfade)
        assert pos.min() >= F and len(np.unique(pos)) == len(pos), "layer not modelled"
        m[pos] = m[pos] + g[:, None] * x[C:D + F]
    return m


def model_loop(name, x, p):
    """The loop (and tail) the scenario must have saved, with parameters p (which
    the variants move)."""
    if name == "state_recording":
        return np.array(x[p["A"]:p["A"] + p["len"]], np.float32)
    return layered_loop(x, p)


def params(name, saved_len):
    p = dict(SCENARIOS[name])
    if name == "state_recording":
        p.update(fade=0, len=saved_len)
    else:
        p.update(fade=scenarios.STATE_FADE)
    return p


def loop_len(name, p):
    return p["len"] if name == "state_recording" else p["B"] - p["A"]


def check_saved_window(workdir, p, saved_len):
    """state_recording: the saved take ends between the instant the save began and the
    instant it returned, as roll.lua printed them."""
    with open(os.path.join(workdir, "roll.log")) as f:
        m = re.search(r"saved while rolling, from sample (\d+) to (\d+)", f.read())
    if not m:
        return bad("roll.log does not say when the save ran")
    lo, hi = int(m.group(1)), int(m.group(2))
    end = p["A"] + saved_len
    # One cycle (256) of slack each side: the transport position is read between cycles.
    if not (p["SAVE"] <= end <= p["ROLL"] and lo - 256 <= end <= hi + 256):
        return bad(f"the saved take ends at {end}; the save ran from {lo} to {hi}")
    ok(f"the take was saved as it was at sample {end} (the save ran from {lo} to {hi}; "
       f"{end - lo} frames after it began): {saved_len} frames from A = {p['A']}")
    return True


def check_loop_file(name, x, p, saved_len, got):
    want = model_loop(name, x, p)
    L = loop_len(name, p)
    what = (f"input [A, A + {L}), no tail" if name == "state_recording" else
            f"take [A, B) + {p['fade']}-frame tail, layer [C, D + fade) with its ramps")
    if got.shape != want.shape:
        return bad(f"loop.wav has {got.shape} frames x channels; want {want.shape} ({what})")
    if saved_len != L:
        return bad(f"the state's length is {saved_len}; want {L}")
    diff = np.abs(got - want)
    if diff.max() > 0:
        t = int(np.flatnonzero(diff.max(axis=1) > 0)[0])
        return bad(f"loop.wav differs from the model ({what}) at frame {t}: "
                   f"{got[t]} vs {want[t]} ({int((diff > 0).sum())} samples)")
    ok(f"loop.wav = the model exactly ({what}; {len(want)} frames)")

    def matches(q):
        w = model_loop(name, x, q)
        return w.shape == got.shape and loop_len(name, q) == saved_len and \
            np.array_equal(w, got)
    # Each edge moved by one sample, and the whole take (same length) one sample early
    # or late.
    edges = ["A", "len"] if name == "state_recording" else ["A", "B", "C", "D", "fade"]
    variants = {f"{k}{d:+d}": dict(p, **{k: p[k] + d}) for k in edges for d in (-1, 1)}
    if name != "state_recording":  # (there A moves the take as a whole)
        for d in (-1, 1):
            variants[f"take {d:+d}"] = dict(p, A=p["A"] + d, B=p["B"] + d)
    blind = [k for k, q in variants.items() if matches(q)]
    if blind:
        return bad(f"the loop.wav check also passes with {', '.join(blind)}")
    ok(f"loop.wav: every model with an edge moved by one sample fails "
       f"({', '.join(variants)})")
    return True


# --- 4. the export -----------------------------------------------------------------

def seam_weight(p, x):
    """The plugin's smoothstep weight of the loop at frame p of an x-frame crossfade."""
    t = (p.astype(np.float32) + np.float32(0.5)) / np.float32(x)
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


def one_pass(m, L, x):
    """One pass of the loop after a wrap, as the plugin plays it: frames [0, L) of m, the
    first x crossfaded with the tail m[L:L + x]."""
    out = np.array(m[:L], np.float32)
    if x:
        p = np.arange(x)
        w = seam_weight(p, x)[:, None]
        out[:x] = w * m[p] + (np.float32(1.0) - w) * m[L + p]
    return out


def expected(xin, period, phase, gain):
    """The export: gain * (input + the loop pass repeated), the pass at position `phase`
    at sample 0."""
    t = np.arange(len(xin), dtype=np.int64)
    return ((xin + period[(t + phase) % len(period)]) * gain).astype(np.float32)


def find_phase(y, period, gain, t0):
    """Where in the pass the export is at sample 0: the circular cross-correlation of
    one pass with the export's [t0, t0 + pass), where the input is silent, peaks there
    (a window shorter than the pass would not do: the take's 440 Hz sine alone repeats
    every 1200 samples). None if the export there is not the pass at that position."""
    L = len(period)
    if t0 + L > len(y):
        return None
    ch = period.shape[1]
    got = np.asarray(y[t0:t0 + L, :ch], np.float64) / gain
    ref = period.astype(np.float64)
    corr = sum(np.fft.irfft(np.fft.rfft(ref[:, c]) * np.conj(np.fft.rfft(got[:, c])), L)
               for c in range(ch))
    k = int(np.argmax(corr))  # got[i] = ref[(i + k) % L]
    if np.abs(ref[(np.arange(L) + k) % L] - got).max() > 1e-4:
        return None
    return (k - t0) % L


def mismatch(y, want, lo, hi):
    """None if both channels of y[lo:hi] match want (mono: one channel for both) within
    TOLERANCE, else the first mismatch described."""
    for ch in range(y.shape[1]):
        err = np.abs(np.asarray(y[lo:hi, ch]) - want[lo:hi, ch % want.shape[1]])
        wrong = np.flatnonzero(err > TOLERANCE)
        if wrong.size:
            t = lo + int(wrong[0])
            return (f"channel {ch}: {wrong.size} samples differ in [{lo}, {hi}), first at {t}: "
                    f"got {y[t, ch]:.7f}, want {want[t, ch % want.shape[1]]:.7f}")
    return None


def check_fade_in(y, want):
    """[0, FADE_IN): exact, or under a gain that rises from 0 towards 1, past 0.5 by
    sample 1024 (Ardour's fade-in of a render: 256 zeros, then 0.567 at sample 512)."""
    r = mismatch(y, want, 0, FADE_IN)
    if r is None:
        ok(f"[0, {FADE_IN}) exact too (no fade-in of the render this time)")
        return True
    faded, first = True, 0
    for c in range(y.shape[1]):
        w = want[:FADE_IN, c % want.shape[1]]
        big = np.flatnonzero(np.abs(w) > 0.02)
        g = np.asarray(y[big, c], np.float64) / w[big]
        faded &= bool(g.min() > -1e-6 and g.max() < 1 + 1e-5 and np.all(np.diff(g) > -1e-3)
                      and np.all(g[big > 1024] > 0.5))
        off = np.flatnonzero(np.abs(np.asarray(y[:FADE_IN, c]) - w) > TOLERANCE)
        first = max(first, int(off[-1]) + 1 if off.size else 0)
    if faded:
        ok(f"[0, {FADE_IN}): Ardour faded the render in (a gain rising from 0 to 1), "
           f"exact from sample {first}")
        return True
    return bad(f"[0, {FADE_IN}) is neither the loop nor the loop faded in: {r}")


def check_export(name, y, x, p, m, spec):
    ch = spec["channels"]
    gain = PAN_LAW if ch == 1 else np.float32(1.0)
    L = loop_len(name, p)
    X = min(p["fade"], len(m) - L, L)
    # Every seam of the export comes after a wrap: the loop plays longer than one pass
    # before the export starts (ARDOUR_PRE_EXPORT).
    assert L < ARDOUR_PRE_EXPORT
    xin = np.zeros((len(y), ch), np.float32)
    xin[:min(len(y), len(x))] = x[:len(y)]
    period = one_pass(m, L, X)
    t0 = len(x) + 256

    def wrong(phase):
        """Wrong expectations, which must fail: {what: (pass, phase)}."""
        v = {"phase -1": (period, phase - 1), "phase +1": (period, phase + 1)}
        for d in (-1, 1):
            if name == "state_recording":
                q = dict(p, len=p["len"] + d)
                v[f"period {d:+d}"] = (one_pass(model_loop(name, x, q), L + d, 0), phase)
                q = dict(p, A=p["A"] + d)
                v[f"take from A{d:+d}"] = (one_pass(model_loop(name, x, q), L, 0), phase)
            else:
                q = dict(p, A=p["A"] - d)  # the loop one frame longer or shorter, same end
                v[f"period {d:+d}"] = (one_pass(layered_loop(x, q), L + d, X), phase)
        if name != "state_recording":
            bare = layered_loop(x, dict(p, D=p["C"]))
            v["take without its layer"] = (one_pass(bare, L, X), phase)
            v["seam without crossfade"] = (one_pass(m, L, 0), phase)
        if ch == 2:
            v["channels swapped"] = (period[:, ::-1], phase)
        return v

    def fits(per, ph):
        return mismatch(y, expected(xin, per, ph % len(per), gain), FADE_IN, end) is None

    end = len(y)
    phase = find_phase(y, period, gain, t0)
    if phase is None:
        bad(f"the export does not play the saved loop where the input is silent (no "
            f"position of one pass of it fits the export's [{t0}, {t0 + L}))")
        for what, (per, _) in wrong(0).items():
            if not what.startswith("phase") and find_phase(y, per, gain, t0) is not None:
                print(f"  note: it plays the {what} variant there")
        return False
    played = (ARDOUR_PRE_EXPORT % L) == phase
    ok(f"the export starts {phase} frames into the loop (frames played before the "
       f"export, modulo {L}): "
       + (f"as {ARDOUR_PRE_EXPORT} frames from the loop's start at the restore "
          f"(ardour7-export's 2 s pre-roll and 24 cycles)" if played else
          f"note: not {ARDOUR_PRE_EXPORT} % {L} = {ARDOUR_PRE_EXPORT % L}"))
    want = expected(xin, period, phase, gain)
    r = mismatch(y, want, FADE_IN, end)
    what = ("input + the loop repeated, period " + str(L)
            + (f", each seam crossfaded over {X} frames" if X else "")
            + (" x pan law" if ch == 1 else ""))
    variants = wrong(phase)
    if r:
        bad(f"[{FADE_IN}, {end}) {what}: {r}")
        for k, (per, ph) in variants.items():
            if fits(per, ph):
                print(f"  note: the export matches the {k} variant")
        return False
    worst = max(float(np.abs(np.asarray(y[FADE_IN:, c]) - want[FADE_IN:, c % ch]).max())
                for c in range(y.shape[1]))
    ok(f"[{FADE_IN}, {end}) = {what} (max error {worst:.1e}; "
       f"{(end - FADE_IN) / L:.1f} passes)")
    if not check_fade_in(y, want):
        return False
    blind = [k for k, (per, ph) in variants.items() if fits(per, ph)]
    if blind:
        return bad(f"the export check also passes with: {', '.join(blind)}")
    ok(f"the export check fails with each wrong expectation ({', '.join(variants)})")
    return True, phase, gain


# --- 5. the seam ---------------------------------------------------------------------

def seam_steps(y, seams, lo, X):
    """Per channel: the largest step of y from each seam through its crossfade, and the
    largest step elsewhere in [lo, len(y))."""
    d = np.abs(np.diff(np.asarray(y, np.float64), axis=0))  # d[i] = |y[i + 1] - y[i]|
    body = np.ones(len(d), bool)
    body[:lo] = False
    at = []
    for s in seams:
        at.append(d[s - 1:s + X + 1].max(axis=0))  # y[s-1] -> y[s], ..., y[s+X] -> y[s+X+1]
        body[s - 1:s + X + 1] = False
    return np.array(at), d[body].max(axis=0)


def check_seams(y, x, L, X, phase, gain, m):
    lo = len(x)  # the input is silent from here: the export is the loop alone
    end = len(y)
    seams = [s for s in range(lo + 1, end - X - 2) if (s + phase) % L == 0]
    if not seams:
        return bad("no seam in the export where the input is silent")
    at, body = seam_steps(y, seams, lo, X)
    worst = at.max(axis=0)
    chans = range(y.shape[1])
    good = all(worst[c] <= SEAM_RATIO * body[c] for c in chans)
    desc = "; ".join(f"channel {c}: {worst[c]:.4f} vs {body[c]:.4f} ({worst[c] / body[c]:.2f}x)"
                     for c in chans)
    if not good:
        return bad(f"the seam clicks: its largest step against the loop's own, {desc} "
                   f"(at most {SEAM_RATIO}x); seams at {seams}")
    ok(f"the seam does not click: at {len(seams)} seams ({', '.join(map(str, seams))}) "
       f"the largest step, against the largest elsewhere in the loop, {desc}")
    # The same loop played without the crossfade (fade 0) must fail this check.
    ch = x.shape[1]
    xin = np.zeros((end, ch), np.float32)
    raw = expected(xin, one_pass(m, L, 0), phase, gain)
    at0, body0 = seam_steps(raw[:, [c % ch for c in chans]], seams, lo, X)
    w0 = at0.max(axis=0)
    if all(w0[c] <= SEAM_RATIO * body0[c] for c in chans):
        return bad("the seam check also passes the loop played without a crossfade")
    ok("the same loop without the crossfade fails it: "
       + "; ".join(f"channel {c}: {w0[c]:.4f} vs {body0[c]:.4f} ({w0[c] / body0[c]:.1f}x)"
                   for c in chans))
    return True


# --- the whole check -------------------------------------------------------------------

def check(name, workdir, export):
    spec = read_spec(workdir)
    x = read_input(workdir)
    good = check_logs(workdir)
    fine, saved_len, got = check_state(workdir, spec)
    if not fine:
        return False
    p = params(name, saved_len)
    if name == "state_recording" and not check_saved_window(workdir, p, saved_len):
        return False
    if not check_loop_file(name, x, p, saved_len, got):
        return False
    rate, y = wavio.read(export)
    if rate != RATE or y.shape != (spec["session_end"], 2):
        return bad(f"export is {rate} Hz, shape {y.shape}; want {RATE} Hz, "
                   f"({spec['session_end']}, 2)")
    y = np.array(y)
    m = model_loop(name, x, p)
    r = check_export(name, y, x, p, m, spec)
    if not r:
        return False
    _, phase, gain = r
    L = loop_len(name, p)
    X = min(p["fade"], len(m) - L, L)
    if X and not check_seams(y, x, L, X, phase, gain, m):
        return False
    return good


def main(argv):
    if len(argv) in (3, 4) and argv[1] in SCENARIOS:
        export = argv[3] if len(argv) == 4 else os.path.join(argv[2], "export.wav")
        return check(argv[1], argv[2], export)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
