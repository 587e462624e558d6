#!/usr/bin/python3
"""Drives jalv (running the installed looper) through JACK: feeds a seeded noise burst
into its input, turns `record` on and off through jalv's console, captures its output,
and checks that the output then repeats what was recorded, sample for sample.

jalv applies console commands on a later cycle, not at an exact sample: the check finds
the loop's period in the output and then requires exact repetition over several periods
and exact equality with a contiguous stretch of the input.

Usage: check_loop.py JALV_CLIENT_NAME CONSOLE_FIFO ARTIFACT_DIR JALV_LOG
"""
import sys
import threading
import time

import jack
import numpy as np

jalv_name, fifo_path, art, jalv_log = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
RATE_EXPECTED = 48000
rng = np.random.default_rng(20261127)
NOISE_S = 2.5          # input is noise for this long, silence after
TOTAL_S = 7.0
REC_ON_S, REC_OFF_S = 0.5, 1.6

client = jack.Client("looper-check", no_start_server=True)
rate = client.samplerate
block = client.blocksize
assert rate == RATE_EXPECTED, f"JACK runs at {rate}"
total = int(TOTAL_S * rate)
noise_len = int(NOISE_S * rate)
# 16-bit-valued noise in (-0.5, 0.5): exact in float32, never zero.
signal = np.zeros(total + 8192, dtype=np.float32)
signal[:noise_len] = (rng.integers(1, 65535, noise_len) - 32767.5).astype(np.float32) / 65536.0
captured = np.zeros(total + 8192, dtype=np.float32)
pos = 0
done = threading.Event()
out_port = client.outports.register("to_looper")
in_port = client.inports.register("from_looper")


@client.set_process_callback
def process(frames):
    global pos
    if pos + frames > total:
        out_port.get_array()[:] = 0
        done.set()
        return
    out_port.get_array()[:] = signal[pos:pos + frames]
    captured[pos:pos + frames] = in_port.get_array()
    pos += frames


with client:
    client.connect(out_port, f"{jalv_name}:in")
    client.connect(f"{jalv_name}:out", in_port)
    with open(fifo_path, "w") as console:
        def at(seconds, cmd):
            while pos < seconds * rate:
                time.sleep(0.005)
            console.write(cmd + "\n")
            console.flush()
        at(REC_ON_S, "record = 1")
        at(REC_OFF_S, "record = 0")
        done.wait(TOTAL_S * 3)
        console.write("monitors\n")
        console.flush()
        time.sleep(0.5)

np.save(f"{art}/input.npy", signal[:total])
np.save(f"{art}/output.npy", captured[:total])
end = pos  # captured up to here
out = captured[:end].astype(np.float64)
failures = []

# The JACK graph (this client -> jalv -> this client) delays the output by whole
# periods. Before recording the output is the input at unity: find that delay.
h0, h1 = int(0.1 * rate), int(REC_ON_S * rate)
delay = next((d for d in range(0, 4097) if np.array_equal(out[h0 + d:h1], signal[h0:h1 - d])), None)
if delay is None:
    failures.append("pass-through before recording is not exact at any delay")
    delay = 0
print(f"jalv: graph delay {delay} samples")
inp = np.concatenate([np.zeros(delay), signal[:end - delay]]).astype(np.float64)

# After the noise stops, the output is the loop alone. Find its period: the lag P near
# the recorded duration for which out[t] == out[t + P] exactly.
start = noise_len + int(0.3 * rate)
nominal = (REC_OFF_S - REC_ON_S) * rate
window = out[start:start + 4096]
period = None
for p in range(int(nominal * 0.7), int(nominal * 1.3)):
    if np.array_equal(window, out[start + p:start + p + 4096]):
        period = p
        break
if period is None:
    failures.append("no exact period found in the output after recording")
else:
    # Exact repetition over everything after the noise (several periods).
    tail = out[start:]
    reps = (len(tail) - period)
    if reps < 2 * period or not np.array_equal(tail[:reps], tail[period:period + reps]):
        failures.append(f"output after recording does not repeat exactly with period {period}")
    # One period of output is the loop rotated: it must be the input's [A, A + P) for
    # some A, split at the loop's seam into [q, A + P) followed by [A, q).
    one = out[start:start + period]
    lo, hi = int(0.2 * rate), int(2.0 * rate)
    q = next((k for k in range(lo, hi) if np.array_equal(inp[k:k + 64], one[:64])), None)
    if q is None:
        failures.append("the loop's samples are not found in the input")
    else:
        m = next((j for j in range(period) if one[j] != inp[q + j]), period)
        a0 = q + m - period
        if a0 < 0 or not np.array_equal(one[m:], inp[a0:q]):
            failures.append("the loop is not the contiguous stretch of input it recorded")
        else:
            print(f"jalv: loop = input [{a0}, {a0 + period}) (with the graph delay)")
# The plugin's own `length` output (printed by jalv's `monitors`, 1e-6 s resolution)
# says how many samples it holds: the played period must be exactly that. And since
# jalv applies both record commands at a cycle's start, the loop is whole cycles.
lengths = [float(l.split("=")[1]) for l in open(jalv_log) if l.strip().lstrip("> ").startswith("length =")]
if not lengths:
    failures.append("jalv printed no `length` monitor")
elif period is not None:
    held = lengths[-1] * rate
    print(f"jalv: plugin reports {held:.2f} samples; JACK period {block}")
    if abs(held - period) >= 0.5:
        failures.append(f"played period {period} != the plugin's length {held:.2f} samples")
    if period % block != 0:
        failures.append(f"loop of {period} samples is not whole {block}-sample cycles")

print(f"jalv: period {period} samples ({(period or 0) / rate:.4f} s)")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
