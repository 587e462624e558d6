"""Checks the tempo-sync scenarios: the saved session's tempo map, Ardour's export of the
looper, sample by sample, and (scenario `positions`) what Ardour sent the probe.

    check.py tempo-map WORKDIR      the saved session holds the scenario's tempo map
    check.py export WORKDIR [EXPORT]   the render is the input plus the synced loop
    check.py positions WORKDIR      probe.log: the time:Position events of the export

What the export must be (mono track into the stereo master: both channels are PAN_LAW x
the mono signal, within TOLERANCE): the input at unity throughout (the looper passes it;
while it records, the output is the input alone), plus, from the first pass on, the loop
`take` = input[start : start + length]: pass k starts at frame P_k (the bar line of its
bar, rounded) and plays take[(t - P_k) mod length] until the next pass starts (so a pass
shorter than the loop cuts it; one longer wraps it at its own end). start, length and
the P_k come from sync_scenarios.plan (exact bar frames from the tempo map).

The check must be able to fail: the same comparison is made with the take started one
frame early and late, the loop a frame short (and long, where some pass is longer than
the loop, so that its end can be seen), every pass start moved by -1 and +1 (the bar
lines shifted by a sample), only the last pass (the 100th bar or so) moved by -1 and +1,
and the passes after each tempo change moved by -1 and +1. Every such variant must fail.
"""
import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/hosts/ardour
sys.path.insert(0, HERE)
import wavio  # noqa: E402
from harness import PAN_LAW, RATE, read_input, read_spec  # noqa: E402
import sync_scenarios as scenarios  # noqa: E402

TOLERANCE = 1e-6  # as ../check.py: the signals are about 0.5, a frame off is ~0.3
SEARCH = 64  # how far from its bar line a pass's start is looked for (frames)


def load_plan(workdir):
    with open(os.path.join(workdir, "sync.json")) as f:
        p = json.load(f)
    p["passes"] = [tuple(q) for q in p["passes"]]
    return p


# --- the tempo map in the saved session --------------------------------------------

def check_tempo_map(workdir):
    """The session file's TempoMap: one Tempo per planned tempo at its quarter, with its
    bpm; one 4/4 meter at the start."""
    spec, plan = read_spec(workdir), load_plan(workdir)
    path = os.path.join(spec["dir"], spec["name"] + ".ardour")
    root = ET.parse(path).getroot()
    tmap = root.find("TempoMap")
    if tmap is None:
        print(f"  BAD  no TempoMap in {path}")
        return False
    per_sample = int(tmap.get("superclocks-per-second")) // RATE
    tempos = tmap.findall("Tempos/Tempo")
    meters = tmap.findall("Meters/Meter")
    problems, seen = [], []
    if len(tempos) != len(plan["tempos"]):
        problems.append(f"{len(tempos)} tempos, want {len(plan['tempos'])}")
    ardour = scenarios.TempoMap(plan["tempos"], ardour=True)
    for t, (q, bpm), start in zip(tempos, plan["tempos"], ardour.starts):
        npm = float(t.get("npm"))
        quarters = t.get("quarters")
        sclock = Fraction(int(t.get("sclock")), per_sample)
        if abs(npm - bpm) > 1e-6 * bpm or t.get("npm") != t.get("enpm"):
            problems.append(f"tempo at {quarters}: npm {t.get('npm')} enpm {t.get('enpm')}, want {bpm}")
        if quarters != f"{int(q)}:0":
            problems.append(f"tempo {bpm}: at quarters {quarters}, want {int(q)}:0")
        if sclock != start:
            problems.append(f"tempo {bpm}: at sample {float(sclock)}, want {float(start)}")
        seen.append(f"{t.get('npm')} bpm from quarter {quarters} (BBT {t.get('bbt')}, "
                    f"sample {float(sclock):.4f})")
    if len(meters) != 1 or meters[0].get("divisions-per-bar") != "4" \
            or meters[0].get("note-value") != "4" or meters[0].get("sclock") != "0":
        problems.append("meters: " + ", ".join(str(m.attrib) for m in meters) + "; want one 4/4 at 0")
    if problems:
        print(f"  BAD  tempo map in {path}: " + "; ".join(problems))
        return False
    print("  ok   saved tempo map: " + "; ".join(seen) + "; meter 4/4 from the start")
    return True


# --- the export -----------------------------------------------------------------------

def segments(x, end, start, length, passes):
    """(lo, hi, want) over [0, end): PAN_LAW x the expected mono signal."""
    take = np.zeros(length, np.float32)
    n = max(0, min(length, len(x) - start))
    take[:n] = x[start:start + n]
    dry = np.zeros(end, np.float32)
    dry[:min(end, len(x))] = x[:end]
    edges = [p for _, p in passes] + [end]
    yield 0, edges[0], PAN_LAW * dry[:edges[0]]
    for a, b in zip(edges, edges[1:]):
        loop = take[np.arange(b - a) % length]
        yield a, b, PAN_LAW * (dry[a:b] + loop)


def compare(y, x, end, start, length, passes, quick=False):
    """The largest error if the export matches, else a list of the frames where it does
    not ((frame, channel, got, want), all of them). Quick: the string "differs" at the
    first mismatch (for the variants that must fail)."""
    worst, bad = 0.0, []
    for lo, hi, want in segments(x, end, start, length, passes):
        for ch in range(2):
            err = np.abs(np.asarray(y[lo:hi, ch]) - want)
            wrong = np.flatnonzero(err > TOLERANCE)
            if wrong.size:
                if quick:
                    return "differs"
                bad += [(lo + int(i), ch, float(y[lo + i, ch]), float(want[i])) for i in wrong]
            worst = max(worst, float(err.max(initial=0.0)))
    return bad or worst


def explain(y, x, start, length, passes, bad):
    """What the export holds at each wrong frame (mono channel 0): the input alone, or the
    input plus which frame of the loop (looked for within SEARCH of the expected one)."""
    take = np.asarray(x[start:start + length])
    edges = [p for _, p in passes]
    lines = []
    for t, ch, got, want in [b for b in bad if b[1] == 0][:6]:
        dry = x[t] if t < len(x) else np.float32(0)
        k = max((i for i, e in enumerate(edges) if e <= t), default=None)
        j = None if k is None else (t - edges[k]) % length
        what = "?"
        if abs(got - PAN_LAW * dry) <= TOLERANCE:
            what = "the input alone (no loop)"
        elif j is not None:
            for d in sorted(range(-SEARCH, SEARCH + 1), key=abs):
                if abs(got - PAN_LAW * (dry + take[(j + d) % length])) <= TOLERANCE:
                    what = f"input + loop[{(j + d) % length}]"
                    break
        where = "" if k is None else f", frame {j} of the pass at bar {passes[k][0]} ({edges[k]})"
        lines.append(f"frame {t}{where}: got {got:.7f}, want {want:.7f}: {what}")
    return lines


def measure(y, x, start, length, passes):
    """Where each pass really starts: the frame near its planned start from which the
    export minus the input is the loop's first 64 frames (None where not found), and
    where the loop wraps at its own end inside a pass (if it does)."""
    n = len(y)
    dry = np.zeros(n, np.float32)
    dry[:min(n, len(x))] = x[:n]
    r = np.asarray(y[:, 0]) - PAN_LAW * dry
    head = PAN_LAW * np.asarray(x[start:start + 64])
    found = []
    for j, p in passes:
        lo, hi = max(0, p - SEARCH), min(n - 64, p + SEARCH)
        at = None
        for f in range(lo, hi + 1):
            if np.all(np.abs(r[f:f + 64] - head) <= TOLERANCE):
                at = f
                break
        found.append((j, p, at))
    return found


def variants(plan):
    """(name, start, length, passes) expectations one frame off, each of which the export
    must fail."""
    start, length, passes = plan["start"], plan["length"], plan["passes"]
    out = [("take started 1 early", start - 1, length, passes),
           ("take started 1 late", start + 1, length, passes),
           ("loop 1 frame short", start, length - 1, passes)]
    lens = [b[1] - a[1] for a, b in zip(passes, passes[1:])]
    if max(lens) > length:  # the loop's own end shows
        out.append(("loop 1 frame long", start, length + 1, passes))
    for d in (-1, 1):
        out.append((f"every pass {d:+d}", start, length, [(j, p + d) for j, p in passes]))
    # The last whole pass (the last pass may be cut by the export's end).
    last = len(passes) - 2 if len(passes) > 2 else len(passes) - 1
    for d in (-1, 1):
        moved = [(j, p + d if k == last else p) for k, (j, p) in enumerate(passes)]
        out.append((f"pass at bar {passes[last][0]} {d:+d}", start, length, moved))
    for (q, _), f in zip(plan["tempos"][1:], plan["tempo_frames"][1:]):
        for d in (-1, 1):
            moved = [(j, p + d if p > f else p) for j, p in passes]
            out.append((f"passes after the change at quarter {q:g} {d:+d}", start, length, moved))
    return out


def check_export(workdir, export):
    plan, spec = load_plan(workdir), read_spec(workdir)
    x = np.asarray(read_input(workdir)[:, 0])
    rate, y = wavio.read(export)
    end = spec["session_end"]
    if rate != RATE or y.shape != (end, 2):
        print(f"  BAD  export is {rate} Hz, shape {y.shape}; want {RATE} Hz, ({end}, 2)")
        return False
    start, length, passes = plan["start"], plan["length"], plan["passes"]
    a, b = plan["take_bars"]
    exact = plan["exact_bar_frames"]
    print(f"  plan take bars {a}..{b}: F({a}) = {exact[a]:.4f}, F({b}) = {exact[b]:.4f}; "
          f"start {start}, {length} frames; record edges at {plan['on']}, {plan['off']}")
    found = measure(y, x, start, length, passes)
    missing = [(j, p) for j, p, at in found if at is None]
    offs = [at - p for j, p, at in found if at is not None]
    worst = max((abs(o) for o in offs), default=None)
    lens = sorted({q[1] - p[1] for p, q in zip(passes, passes[1:])})
    first, last = found[0], found[-1]
    print(f"  measured: {len(found)} passes (bars {first[0]}..{last[0]}; the last cut by the "
          f"export's end), starts found {len(offs)}, worst |found - round(F(bar))| = {worst}; "
          f"pass lengths {lens}")
    print(f"            first pass bar {first[0]}: want {first[1]} (F = {exact[first[0]]:.4f}), "
          f"found {first[2]}; last: bar {last[0]}: want {last[1]} "
          f"(F = {exact[last[0]] if last[0] < len(exact) else float('nan'):.4f}), found {last[2]}")
    ok = True
    if missing or any(offs):
        ok = False
        wrong = [(j, p, at) for j, p, at in found if at != p]
        print(f"  BAD  passes not on their bar line (bar, want, found): {wrong[:12]}"
              + (f" ... {len(wrong) - 12} more" if len(wrong) > 12 else ""))
    r = compare(y, x, end, start, length, passes)
    if isinstance(r, list):
        frames = sorted({t for t, *_ in r})
        print(f"  BAD  export vs input + loop: {len(frames)} frames differ (both channels: "
              f"{len(r)} samples), first at {frames[0]}: " + ", ".join(map(str, frames[:12]))
              + (" ..." if len(frames) > 12 else ""))
        for line in explain(y, x, start, length, passes, r):
            print(f"       {line}")
        close = start + length
        if close > passes[0][1]:
            print(f"  note the take records [{start}, {close}) (round(F({a})) + ceil(F({b}) - F({a}))): "
                  f"its last {close - passes[0][1]} frame(s) lie at or after the first pass's start "
                  f"{passes[0][1]} = round(F({b})) = round({exact[b]:.4f})")
        return False
    print(f"  ok   [0, {end}) both channels = {float(PAN_LAW):.5f} x (input + loop of "
          f"input[{start}:{start + length}], passes on the bar lines); max error {r:.1e}")
    if not ok:
        return False
    blind = [name for name, s, n, ps in variants(plan) if compare(y, x, end, s, n, ps, quick=True) is None]
    if blind:
        print(f"  BAD  the check also passes with: {', '.join(blind)}")
        return False
    print(f"  ok   every variant one frame off fails ({len(variants(plan))}: "
          + ", ".join(name for name, *_ in variants(plan)) + ")")
    return True


# --- what Ardour sent the probe -------------------------------------------------------

def parse_probe(path):
    """[(run, n, freewheel, [(offset, {key: value})])] from probe.log: the last instance's
    (an export that died and was run again left its own before it)."""
    runs = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "I":
                runs = []
            elif w[0] == "R":
                runs.append((int(w[1]), int(w[2][2:]), float(w[3][3:]), []))
            elif w[0] == "P" and runs:
                props = {}
                for kv in w[2:]:
                    k, v = kv.split("=", 1)
                    t, v = v[0], v[1:]
                    props[k] = int(v) if t in "LI" else float(v)
                runs[-1][3].append((int(w[1]), props))
    return runs


def check_positions(workdir):
    """The facts the README states: Ardour 7.3's export sends a position at the start of
    every cycle while it rolls (offset 0, none inside a cycle, not even at a tempo
    change), with the cycle's first frame; the transport rolls at speed 1 from frame 0 =
    bar 0, barBeat 0 (Ardour's 1|1|0); barBeat is the exact beat rounded to the nearest
    1/1920 (as a float); bpm is the tempo at the cycle's first frame; freewheel is on."""
    plan = load_plan(workdir)
    path = os.path.join(workdir, "probe.log")
    if not os.path.exists(path):
        print(f"  BAD  no {path}: the probe did not run (is it in LV2_PATH?)")
        return False
    runs = parse_probe(path)
    tm = scenarios.TempoMap(plan["tempos"], ardour=True)
    end = read_spec(workdir)["session_end"]
    problems = []
    rolling = [r for r in runs if r[3] and r[3][0][1].get("speed") == 1.0]
    if not rolling:
        print("  BAD  no position with speed 1")
        return False
    i0 = runs.index(rolling[0])
    before = runs[:i0]
    stopped = [p for r in before for _, p in r[3]]
    print(f"  ok   {len(runs)} runs; before rolling {len(before)} runs (blocks "
          f"{sorted({r[1] for r in before})}), {len(stopped)} positions, all speed "
          f"{sorted({p.get('speed') for p in stopped})}, frames {[p.get('frame') for p in stopped]}")
    if any(p.get("speed") != 0.0 for p in stopped):
        problems.append("a position before the roll has speed != 0")
    first = rolling[0][3][0][1]
    if (first.get("frame"), first.get("bar"), first.get("barBeat")) != (0, 0, 0.0):
        problems.append(f"the roll starts at frame {first.get('frame')}, bar {first.get('bar')}, "
                        f"barBeat {first.get('barBeat')}; want 0, 0, 0")
    # The rolling part: up to the export's end.
    frame, worst_bb, inside, missing, floor_like, cycles = 0, 0.0, 0, 0, 0, 0
    blocks = set()
    for run, n, fw, events in runs[i0:]:
        if frame >= end:
            break
        cycles += 1
        blocks.add(n)
        if fw != 1.0:
            problems.append(f"run {run}: freewheel {fw}")
        inside += sum(1 for off, _ in events if off != 0)
        at0 = [p for off, p in events if off == 0]
        if not at0:
            missing += 1
        for p in at0:
            if p.get("frame") != frame or p.get("speed") != 1.0:
                problems.append(f"run {run}: frame {p.get('frame')} speed {p.get('speed')}, want {frame}, 1")
                break
            beats = beat_at(tm, Fraction(frame))
            ticks = math.floor(beats * 1920 + Fraction(1, 2))  # to the nearest tick
            bar, tick = divmod(ticks, 4 * 1920)  # (a beat that rounds up to a bar is bar + 1)
            exact_bb = beats - 4 * bar
            got = p.get("barBeat")
            # (Ardour's float is within an ulp or two of tick / 1920: allow 1e-6 beat.)
            if p.get("bar") != bar or round(got * 1920) != tick or abs(got - tick / 1920) > 1e-6:
                problems.append(f"run {run} frame {frame}: bar {p.get('bar')} barBeat "
                                f"{got!r}; want {bar}, {tick}/1920 (exact {float(exact_bb):.7f})")
                break
            if math.floor(beats * 1920) != ticks:
                floor_like += 1
            exact_bb = float(exact_bb)
            worst_bb = max(worst_bb, abs(p["barBeat"] - exact_bb))
            bpm = float(tm.tempos[max(k for k, s in enumerate(tm.starts) if s <= frame)][1])
            if abs(p.get("beatsPerMinute") - bpm) > 1e-4 or p.get("beatsPerBar") != 4.0 \
                    or p.get("beatUnit") != 4:
                problems.append(f"run {run} frame {frame}: bpm {p.get('beatsPerMinute')}, "
                                f"{p.get('beatsPerBar')}/{p.get('beatUnit')}; want {bpm}, 4/4")
                break
        frame += n
        if len(problems) > 5:
            break
    if missing:
        problems.append(f"{missing} rolling cycles without a position at their start")
    if inside:
        problems.append(f"{inside} positions inside a cycle")
    if problems:
        print("  BAD  " + "\n  BAD  ".join(problems[:8]))
        return False
    changes = ", ".join(f"{bpm:g} bpm from frame {float(f):.2f}" for (q, bpm), f in
                        zip(plan["tempos"], tm.starts))
    print(f"  ok   rolling from frame 0 (bar 0, barBeat 0): {cycles} cycles (blocks {sorted(blocks)}), "
          f"each with one position at offset 0 and its first frame, none inside a cycle; "
          f"speed 1, freewheel on")
    print(f"  ok   barBeat = the exact beat rounded to the nearest 1/1920 (float) every time "
          f"({floor_like} of them where rounding down would differ), at most {worst_bb * 1920:.3f} tick "
          f"off; bpm the tempo at the cycle's first frame ({changes})")
    return True


def beat_at(tm, frame):
    """The exact beat (quarter) at `frame` of TempoMap tm."""
    i = max(k for k, s in enumerate(tm.starts) if s <= frame)
    return tm.tempos[i][0] + (frame - tm.starts[i]) / tm.fpq[i]


def main(argv):
    if len(argv) == 3 and argv[1] == "tempo-map":
        return check_tempo_map(argv[2])
    if len(argv) in (3, 4) and argv[1] == "export":
        return check_export(argv[2], argv[3] if len(argv) == 4 else os.path.join(argv[2], "export.wav"))
    if len(argv) == 3 and argv[1] == "positions":
        return check_positions(argv[2])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
