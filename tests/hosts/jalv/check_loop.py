#!/usr/bin/python3
"""Drives jalv instances (running the installed looper, mono and stereo) through JACK:
feeds each input channel its own seeded noise burst, turns `record` on and off through
each jalv's console, captures the outputs, and checks that each output channel then
repeats what was recorded on its channel, sample for sample.

Each jalv was started with `-c fade=0` (no declicks, so the loop is the input exactly);
the check asks jalv's `controls` to confirm it.

jalv applies console commands on a later cycle, not at an exact sample: the check finds
the loop's period in each output and then requires exact repetition over several
periods and exact equality with a contiguous stretch of that channel's input. The
channels of one instance must hold the same stretch of time (one record on, one off).

Usage: check_loop.py ARTIFACT_DIR KIND=JALV_CLIENT_NAME...
  KIND is mono or stereo; ARTIFACT_DIR/KIND.console is that jalv's console FIFO and
  ARTIFACT_DIR/KIND.log its output.
"""
import sys
import threading
import time

import jack
import numpy as np

# The plugin's audio ports (JACK port names are the LV2 symbols), per channel.
CHANNELS = {"mono": [("in", "out")], "stereo": [("in_l", "out_l"), ("in_r", "out_r")]}

art = sys.argv[1]
instances = [arg.split("=", 1) for arg in sys.argv[2:]]
RATE_EXPECTED = 48000
NOISE_S = 2.5          # input is noise for this long, silence after
TOTAL_S = 7.0
REC_ON_S, REC_OFF_S = 0.5, 1.6

client = jack.Client("looper-check", no_start_server=True)
rate = client.samplerate
block = client.blocksize
assert rate == RATE_EXPECTED, f"JACK runs at {rate}"
total = int(TOTAL_S * rate)
noise_len = int(NOISE_S * rate)


def burst(seed):
    """16-bit-valued noise in (-0.5, 0.5): exact in float32, never zero; then silence."""
    rng = np.random.default_rng(seed)
    x = np.zeros(total + 8192, dtype=np.float32)
    x[:noise_len] = (rng.integers(1, 65535, noise_len) - 32767.5).astype(np.float32) / 65536.0
    return x


# One entry per plugin channel: its JACK ports, its signal (a seed of its own) and what
# came back.
channels = []
for kind, name in instances:
    for c, (inp, outp) in enumerate(CHANNELS[kind]):
        channels.append(dict(
            kind=kind, label=f"{kind} {outp}", jalv=name, inp=inp, outp=outp,
            signal=burst(20261127 + len(channels)),
            captured=np.zeros(total + 8192, dtype=np.float32),
            to=client.outports.register(f"to_{kind}_{c}"),
            back=client.inports.register(f"from_{kind}_{c}")))
pos = 0
done = threading.Event()


@client.set_process_callback
def process(frames):
    global pos
    if pos + frames > total:
        for ch in channels:
            ch["to"].get_array()[:] = 0
        done.set()
        return
    for ch in channels:
        ch["to"].get_array()[:] = ch["signal"][pos:pos + frames]
        ch["captured"][pos:pos + frames] = ch["back"].get_array()
    pos += frames


with client:
    for ch in channels:
        client.connect(ch["to"], f"{ch['jalv']}:{ch['inp']}")
        client.connect(f"{ch['jalv']}:{ch['outp']}", ch["back"])
    consoles = [open(f"{art}/{kind}.console", "w") for kind, _ in instances]

    def say(cmd):
        for console in consoles:
            console.write(cmd + "\n")
            console.flush()

    def at(seconds, cmd):
        while pos < seconds * rate:
            time.sleep(0.005)
        say(cmd)
    at(REC_ON_S, "record = 1")
    at(REC_OFF_S, "record = 0")
    done.wait(TOTAL_S * 3)
    say("monitors")
    say("controls")
    time.sleep(0.5)
    for console in consoles:
        console.close()

end = pos  # captured up to here
failures = []


def check_channel(ch):
    """Checks one output channel; returns (period, loop start in the delayed input) or
    None, appending what is wrong to `failures`."""
    label, signal = ch["label"], ch["signal"]
    np.save(f"{art}/{label.replace(' ', '_')}.input.npy", signal[:total])
    np.save(f"{art}/{label.replace(' ', '_')}.output.npy", ch["captured"][:total])
    out = ch["captured"][:end].astype(np.float64)
    # The JACK graph (this client -> jalv -> this client) delays the output by whole
    # periods. Before recording the output is the input at unity: find that delay.
    h0, h1 = int(0.1 * rate), int(REC_ON_S * rate)
    delay = next((d for d in range(0, 4097) if np.array_equal(out[h0 + d:h1], signal[h0:h1 - d])), None)
    if delay is None:
        failures.append(f"{label}: pass-through before recording is not exact at any delay")
        return None
    inp = np.concatenate([np.zeros(delay), signal[:end - delay]]).astype(np.float64)

    # After the noise stops, the output is the loop alone. Find its period: the lag P
    # near the recorded duration for which out[t] == out[t + P] exactly.
    start = noise_len + int(0.3 * rate)
    nominal = (REC_OFF_S - REC_ON_S) * rate
    window = out[start:start + 4096]
    period = next((p for p in range(int(nominal * 0.7), int(nominal * 1.3))
                   if np.array_equal(window, out[start + p:start + p + 4096])), None)
    if period is None:
        failures.append(f"{label}: no exact period found in the output after recording")
        return None
    # Exact repetition over everything after the noise (several periods).
    tail = out[start:]
    reps = len(tail) - period
    if reps < 2 * period or not np.array_equal(tail[:reps], tail[period:period + reps]):
        failures.append(f"{label}: output after recording does not repeat exactly "
                        f"with period {period}")
        return None
    # One period of output is the loop rotated: it must be the input's [A, A + P) for
    # some A, split at the loop's seam into [q, A + P) followed by [A, q).
    one = out[start:start + period]
    lo, hi = int(0.2 * rate), int(2.0 * rate)
    q = next((k for k in range(lo, hi) if np.array_equal(inp[k:k + 64], one[:64])), None)
    if q is None:
        failures.append(f"{label}: the loop's samples are not found in its input")
        return None
    m = next((j for j in range(period) if one[j] != inp[q + j]), period)
    a0 = q + m - period
    if a0 < 0 or not np.array_equal(one[m:], inp[a0:q]):
        failures.append(f"{label}: the loop is not the contiguous stretch of input it recorded")
        return None
    print(f"jalv {label}: graph delay {delay} samples; loop = input [{a0}, {a0 + period}) "
          f"(with the delay), period {period} samples ({period / rate:.4f} s)")
    return period, a0


def jalv_values(kind, symbol):
    """The values jalv printed for `symbol` (monitors and controls print `sym = value`)."""
    return [float(line.split("=")[1]) for line in open(f"{art}/{kind}.log")
            if line.strip().lstrip("> ").startswith(f"{symbol} =")]


for kind, _ in instances:
    fades = jalv_values(kind, "fade")
    if not fades or fades[-1] != 0:
        failures.append(f"{kind}: jalv's controls do not show fade = 0 (got {fades})")
    loops = [check_channel(ch) for ch in channels if ch["kind"] == kind]
    if None in loops:
        continue
    if len(set(loops)) != 1:
        failures.append(f"{kind}: the channels hold different stretches of time: {loops}")
        continue
    period = loops[0][0]
    # The plugin's own `length` output (printed by jalv's `monitors`, 1e-6 s resolution)
    # says how many samples it holds: the played period must be exactly that. And since
    # jalv applies both record commands at a cycle's start, the loop is whole cycles.
    lengths = jalv_values(kind, "length")
    if not lengths:
        failures.append(f"{kind}: jalv printed no `length` monitor")
        continue
    held = lengths[-1] * rate
    print(f"jalv {kind}: plugin reports {held:.2f} samples; JACK period {block}")
    if abs(held - period) >= 0.5:
        failures.append(f"{kind}: played period {period} != the plugin's length {held:.2f} samples")
    if period % block != 0:
        failures.append(f"{kind}: loop of {period} samples is not whole {block}-sample cycles")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
