"""The demo rendered by scripts/demo.sh: a plucked phrase recorded by automation, looped,
stopped for a beat and started again from its start.

    demo.py prepare WORKDIR             write input.wav and spec.lua/spec.json
    demo.py plot WORKDIR EXPORT PNG     picture of input, lanes and output

check.py checks the demo's render like any scenario (`check.py demo WORKDIR`).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FADE, PAN_LAW, PLAY, RATE, RECORD, Setup, read_input, read_spec, write_setup  # noqa: E402

BEAT = RATE // 2  # 120 bpm
PHRASE = 4 * BEAT  # one bar: 2 s
# Record the bar [A, B), let it loop three times, play off for a beat at C, on at D,
# two more times round.
DEMO = dict(A=BEAT, B=BEAT + PHRASE)
DEMO.update(C=DEMO["B"] + 3 * PHRASE)
DEMO.update(D=DEMO["C"] + BEAT)
DEMO.update(end=DEMO["D"] + 2 * PHRASE)

# An A minor pentatonic line in eighth notes (Hz).
MELODY = [440.00, 392.00, 329.63, 392.00, 523.25, 440.00, 392.00, 293.66]


def pluck(freq, frames, rng, decay=0.996):
    """A Karplus-Strong plucked string: a noise burst in a delay line, averaged as it
    goes round."""
    period = int(round(RATE / freq))
    line = rng.uniform(-1, 1, period)
    out = np.empty(frames)
    for i in range(frames):
        j = i % period
        out[i] = line[j]
        line[j] = decay * 0.5 * (line[j] + line[(j + 1) % period])
    return out


def phrase():
    """One bar of plucked eighth notes, faded out in its last 20 ms so it loops cleanly."""
    rng = np.random.default_rng(2024)
    eighth = BEAT // 2
    bar = np.concatenate([pluck(f, eighth, rng) for f in MELODY])
    bar *= 0.35 / np.abs(bar).max()
    fade = int(0.02 * RATE)
    bar[-fade:] *= np.linspace(1, 0, fade, endpoint=False)
    return bar.astype(np.float32)


def setup():
    p = DEMO
    x = np.zeros(p["B"], np.float32)
    x[p["A"]:p["B"]] = phrase()
    return Setup("looper-demo", x, p["end"], {
        RECORD: [(0, 0.0), (p["A"], 1.0), (p["B"], 0.0)],
        PLAY: [(0, 1.0), (p["C"], 0.0), (p["D"], 1.0)],
        FADE: [(0, 0.0)],  # no declicks: check.py checks the render exactly
    })


def step(points, end):
    """Times (s) and values of a discrete automation lane, for plt.step(where='post')."""
    t = [pt[0] / RATE for pt in points] + [end / RATE]
    v = [pt[1] for pt in points] + [points[-1][1]]
    return t, v


def plot(workdir, export, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import wavio

    p, spec = DEMO, read_spec(workdir)
    x = read_input(workdir)[:, 0]
    _, y = wavio.read(export)
    y = np.asarray(y)
    end = len(y)
    t = np.arange(end) / RATE
    xin = np.zeros(end, np.float32)
    xin[: len(x)] = x
    lanes = {int(k): v for k, v in spec["lanes"].items()}

    fig, axes = plt.subplots(4, 1, figsize=(12, 7.5), sharex=True,
                             gridspec_kw=dict(height_ratios=[3, 1, 1, 3]))
    ax_in, ax_rec, ax_play, ax_out = axes
    ax_in.plot(t, xin, lw=0.5, color="tab:blue")
    ax_in.set_ylabel("input\n(track)")
    ax_in.set_title("Looper (urn:looper-lv2:mono) in Ardour 7.3, rendered with ardour7-export: "
                    f"one bar recorded [{p['A'] / RATE:.1f} s, {p['B'] / RATE:.1f} s) by "
                    "automation, then looped", fontsize=10)
    for ax, port, name, color in ((ax_rec, RECORD, "record", "tab:red"),
                                  (ax_play, PLAY, "play", "tab:green")):
        tt, vv = step(lanes[port], end)
        ax.step(tt, vv, where="post", color=color, lw=1.5)
        ax.fill_between(tt, vv, step="post", color=color, alpha=0.2)
        ax.set_ylim(-0.2, 1.2)
        ax.set_yticks([0, 1], ["off", "on"])
        ax.set_ylabel(f"{name}\n(port {port})")
    ax_out.plot(t, y[:, 0], lw=0.5, color="tab:purple", label="left")
    ax_out.set_ylabel("output\n(master, left)")
    ax_out.set_xlabel("time (s)")
    ax_out.set_xlim(0, end / RATE)
    # Where the loop starts again: every B-A samples from B, and from D.
    starts = [s for s in range(p["B"], p["C"], p["B"] - p["A"])]
    starts += [s for s in range(p["D"], end, p["B"] - p["A"])]
    for s in starts:
        ax_out.axvline(s / RATE, color="0.4", lw=0.8, ls="--")
    ax_out.text(p["B"] / RATE, 0.9, " loop starts (period B-A = "
                f"{p['B'] - p['A']} samples)", transform=ax_out.get_xaxis_transform(),
                fontsize=8, color="0.3")
    ax_out.text((p["C"] + p["D"]) / 2 / RATE, 0.08, "play off", ha="center",
                transform=ax_out.get_xaxis_transform(), fontsize=8, color="tab:green")
    ax_rec.axvspan(p["A"] / RATE, p["B"] / RATE, color="tab:red", alpha=0.08)
    ax_in.axvspan(p["A"] / RATE, p["B"] / RATE, color="tab:red", alpha=0.08)
    lim = 1.1 * max(np.abs(xin).max(), np.abs(y).max())
    for ax in (ax_in, ax_out):
        ax.set_ylim(-lim, lim)
        ax.grid(True, alpha=0.3)
    fig.text(0.99, 0.005, f"output = (input + loop) x {float(PAN_LAW):.5f} (-3 dB pan law of a "
             "mono track into the stereo master)", ha="right", fontsize=7, color="0.4")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"demo.py: wrote {png}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        write_setup(setup(), sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "plot":
        plot(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
