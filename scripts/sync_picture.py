#!/usr/bin/env python3
"""Draws the README's picture of a synced loop against the bar grid from what
`cargo run --release --example sync_grid -- DIR` wrote: DIR/sync-grid.csv and
DIR/sync-bars.csv. Usage: sync_picture.py DIR OUT.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RATE = 48000.0


def main():
    d, out = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(f"{d}/sync-grid.csv")))
    bars = list(csv.DictReader(open(f"{d}/sync-bars.csv")))
    t = [float(r["t"]) for r in rows]
    col = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    fig, (a, b) = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True)
    a.fill_between(t, col("in_lo"), col("in_hi"), color="#777", lw=0)
    rec = col("record")
    on = [x for x, r in zip(t, rec) if r > 0.5]
    if on:
        a.axvspan(on[0], on[-1], color="#d33", alpha=0.18, lw=0)
        a.text(on[0], 0.92, " record automated on (1.3 bars) and off (2.4 bars)",
               color="#b22", fontsize=8, va="top")
    state = col("state")
    taking = [x for x, s in zip(t, state) if s == 1]
    if taking:
        a.axvspan(taking[0], taking[-1], color="#d33", alpha=0.35, lw=0)
        b.text(taking[0], 0.92, " the take: bar 2, exactly", color="#b22",
               fontsize=8, va="top")
    b.fill_between(t, col("out_lo"), col("out_hi"), color="#2a7", lw=0)
    for ax in (a, b):
        for r in bars:
            x = float(r["exact_frame"]) / RATE
            ax.axvline(x, color="#222", lw=0.8)
            for k in range(1, 4):
                ax.axvline(x + k * (60 / 93.7), color="#bbb", lw=0.4)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
    for r in bars:
        if r["pass_start"]:
            b.plot(int(r["pass_start"]) / RATE, -0.9, marker="^", color="#2a7", ms=4)
    a.set_ylabel("input")
    b.set_ylabel("output")
    b.set_xlabel("seconds (93.7 bpm, 4/4, bar lines dark, beats light); "
                 "every pass starts on the host's bar, rounded to the nearest frame")
    b.set_xlim(0, t[-1])
    fig.suptitle("sync = bar: record edges wait for the bar; the loop is one bar; "
                 "each pass starts on the bar line", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
