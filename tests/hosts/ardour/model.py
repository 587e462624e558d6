"""A reference model of the looper's audio, for the scenarios that check.py cannot write
as a few segments (overdub, undo, redo, clear): the input and the automation lanes in,
the plugin's output out, sample by sample, in float32 as the plugin computes it.

It models fade = 0 and dry = wet = 0 dB (unity) only. Controls change at their
automation events, each at its exact sample (Ardour splits its cycles there). At an
event the edges are taken in the plugin's order: undo, redo, clear (each 0 -> 1), then
record, play, overdub. Values above 0.5 count as on.

- record on starts a take (what played stops; the output is the input alone); record
  off makes the take the loop, a history step, playing from its start if play is on.
- playing: output = input + loop[p]; p goes round the loop.
- overdub on while the loop plays opens a layer: loop[p] becomes
  feedback * old + input at every sample it plays (round and round while it stays
  open); overdub off (or play off) closes it as a history step. Overdub armed while
  nothing plays opens its layer when the loop starts playing.
- undo / redo move one history step, closing an open layer first (as a step, and
  overdub stays off until it goes on again): between two versions of a loop the
  position goes on (p modulo the new length); from empty the loop starts at 0.
- clear: a history step to empty. A new take, layer or clear drops the redo steps.
"""
import numpy as np

from harness import CLEAR, FADE, FEEDBACK, OVERDUB, PLAY, RECORD, REDO, UNDO

DEFAULTS = {RECORD: 0.0, PLAY: 1.0, OVERDUB: 0.0, FEEDBACK: 1.0, UNDO: 0.0, REDO: 0.0,
            CLEAR: 0.0, FADE: 5.0}
TOGGLES = (RECORD, PLAY, OVERDUB, UNDO, REDO, CLEAR)


class Looper:
    def __init__(self):
        self.versions = [None]  # history: each a loop (float32 (frames, channels)) or None (empty)
        self.at = 0  # index of the current version
        self.loop = None  # what plays: versions[at], or its copy while a layer is open
        self.p = 0  # play position
        self.playing = False
        self.take = None  # the samples recorded so far while recording, else None
        self.armed = False  # overdub is on (a layer opens when the loop plays)
        self.layer = False  # a layer is open

    def commit(self, version):
        """A new history step; the steps that redo could take are dropped."""
        del self.versions[self.at + 1:]
        self.versions.append(version)
        self.at += 1

    def close_layer(self):
        if self.layer:
            self.layer = False
            self.commit(self.loop)
            return True
        return False

    def go(self, at, play):
        """Undo or redo to version `at`."""
        was = self.loop
        self.at = at
        self.loop = self.versions[at]
        if self.loop is None:
            self.playing = False
            return
        self.p = 0 if was is None else self.p % len(self.loop)
        self.playing = play

    def edges(self, now, was):
        """The controls' edges at one event, in the plugin's order."""
        def rise(port):
            return now[port] and not was[port]

        def fall(port):
            return was[port] and not now[port]

        assert self.take is None or not any(rise(p) for p in (UNDO, REDO, CLEAR)), \
            "not modelled: undo, redo or clear while recording"
        for port, step in ((UNDO, -1), (REDO, +1)):
            if rise(port):
                if self.close_layer():
                    self.armed = False
                if 0 <= self.at + step < len(self.versions):
                    self.go(self.at + step, now[PLAY])
        if rise(CLEAR):
            if self.close_layer():
                self.armed = False
            if self.loop is not None:
                self.commit(None)
                self.loop = None
                self.playing = False
        if rise(RECORD):
            self.close_layer()
            self.take = []
            self.playing = False
        elif fall(RECORD):
            take = np.concatenate(self.take)
            self.take = None
            self.commit(take)
            self.loop, self.p, self.playing = take, 0, now[PLAY]
        if rise(PLAY) and self.loop is not None and self.take is None:
            self.p, self.playing = 0, True
        elif fall(PLAY):
            self.close_layer()
            self.playing = False
        if rise(OVERDUB):
            self.armed = True
        elif fall(OVERDUB):
            self.armed = False
            self.close_layer()
        if self.armed and self.playing and not self.layer:
            self.layer = True
            self.loop = self.loop.copy()

    def render(self, x, feedback):
        """Output for the input block x (float32 (n, channels)), controls constant."""
        if self.take is not None:
            self.take.append(x.copy())
            return x.copy()
        if not self.playing:
            return x.copy()
        out = np.empty_like(x)
        n, i = len(x), 0
        fb = np.float32(feedback)
        while i < n:  # in pieces that end at the loop's wrap
            k = min(n - i, len(self.loop) - self.p)
            old = self.loop[self.p:self.p + k]
            out[i:i + k] = x[i:i + k] + old
            if self.layer:
                self.loop[self.p:self.p + k] = fb * old + x[i:i + k]
            i += k
            self.p = (self.p + k) % len(self.loop)
        return out


def render(x, lanes, end):
    """The plugin's output over [0, end) for the input x (float32 (frames, channels),
    silence past its end) and the automation lanes {port: [(sample, value), ...]}."""
    lanes = {int(p): pts for p, pts in lanes.items()}
    assert [tuple(pt) for pt in lanes.get(FADE, [])] == [(0, 0.0)], "the model needs fade = 0"
    xin = np.zeros((end, x.shape[1]), np.float32)
    xin[:min(end, len(x))] = x[:end]
    events = sorted({int(t) for pts in lanes.values() for t, _ in pts} | {0, end})
    value = dict(DEFAULTS)
    was = {p: DEFAULTS[p] > 0.5 for p in TOGGLES}
    looper = Looper()
    out = np.empty_like(xin)
    for t0, t1 in zip(events, events[1:]):
        for port, pts in lanes.items():
            for t, v in pts:
                if t == t0:
                    value[port] = v
        now = {p: value[p] > 0.5 for p in TOGGLES}
        looper.edges(now, was)
        was = now
        out[t0:t1] = looper.render(xin[t0:t1], value[FEEDBACK])
    return out
