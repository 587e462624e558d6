#!/usr/bin/env bash
# jalv on its own JACK dummy server, the installed bundle (LV2_PATH): the mono and the
# stereo looper side by side, each started with fade = 0, record set through jalv's
# console, audio in and out through JACK: every output channel loops what was recorded
# on it. Prints `jalv: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${LV2_PATH:?set LV2_PATH to the directory holding the installed looper.lv2}"
for tool in jackd jalv /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "jalv: $tool missing (apt-get install jalv jackd2 python3-jack-client python3-numpy)"; echo "jalv: 0 passed, 1 failed"; exit 1; }
done
/usr/bin/python3 -c 'import jack, numpy' 2>/dev/null || { echo "jalv: python3-jack-client and python3-numpy needed"; echo "jalv: 0 passed, 1 failed"; exit 1; }

art=$(mktemp -d /tmp/looper-jalv.XXXXXX)
# A fixed server name: JACK reuses a registry entry of the same name left by a server
# that died, while entries of other names fill its registry (8 servers at most).
server="looper-test"
name="looper-$$"   # jalv client names: $name-mono, $name-stereo
pids=()       # the jalvs and their FIFO holders
jack_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "$jack_pid" ]; then
    # SIGTERM lets jackd remove its shared memory; a SIGKILLed server leaves stale
    # entries behind, and JACK refuses new servers once its registry is full.
    kill "$jack_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$jack_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$jack_pid" 2>/dev/null
    wait "$jack_pid" 2>/dev/null
  fi
  rm -f /dev/shm/jack_"$server"_* /dev/shm/jack_sem.*_"$server"_* "$art"/*.console
}
trap cleanup EXIT

export JACK_DEFAULT_SERVER="$server" JACK_NO_AUDIO_RESERVATION=1
if ! pgrep -x jackd >/dev/null && ! pgrep -x jackdbus >/dev/null; then
  # No JACK server runs: what is left in /dev/shm is stale (a server that was killed).
  rm -f /dev/shm/jack-shm-registry /dev/shm/jack_db-* /dev/shm/jack-[0-9]*
fi
# -S: synchronous mode, each cycle waits for the whole graph, so a loaded machine slows
# the test down instead of dropping cycles; -t: a generous client timeout.
jackd -n "$server" -S -t 20000 --no-realtime -d dummy -r 48000 -p 256 >"$art/jackd.log" 2>&1 &
jack_pid=$!
for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done

for kind in mono stereo; do
  mkfifo "$art/$kind.console"
  # jalv quits at the end of its input: a holder keeps the FIFO open for it.
  sleep 1000 >"$art/$kind.console" &
  pids+=($!)
  stdbuf -oL -eL jalv -x -p -n "$name-$kind" -c fade=0 -t "urn:looper-lv2:$kind" \
    <"$art/$kind.console" >"$art/$kind.log" 2>&1 &
  pids+=($!)
done
for kind in mono stereo; do
  for _ in $(seq 100); do jack_lsp 2>/dev/null | grep -q "^$name-$kind:out" && break; sleep 0.1; done
  if ! jack_lsp 2>/dev/null | grep -q "^$name-$kind:out"; then
    echo "FAIL: jalv did not load urn:looper-lv2:$kind; artifacts in $art"; cat "$art/$kind.log"
    echo "jalv: 0 passed, 1 failed"; exit 1
  fi
done

if timeout 60 /usr/bin/python3 "$here/check_loop.py" "$art" mono="$name-mono" stereo="$name-stereo"; then
  echo "PASS: jalv loops what was recorded (mono; stereo, both channels)"
  echo "jalv: 1 passed, 0 failed"
  trap - EXIT; cleanup; [ -n "${KEEP_ARTIFACTS:-}" ] || rm -rf "$art"
  exit 0
fi
echo "FAIL: see artifacts in $art (mono.log, stereo.log, jackd.log, *.input.npy, *.output.npy)"
tail -n 20 "$art/mono.log" "$art/stereo.log"
echo "jalv: 0 passed, 1 failed"
exit 1
