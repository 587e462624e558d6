#!/usr/bin/env bash
# jalv on its own JACK dummy server, the installed bundle (LV2_PATH), controls set
# through jalv's console, audio in and out through JACK: the output loops what was
# recorded. Prints `jalv: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${LV2_PATH:?set LV2_PATH to the directory holding the installed looper.lv2}"
for tool in jackd jalv /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "jalv: $tool missing (apt-get install jalv jackd2 python3-jack-client python3-numpy)"; echo "jalv: 0 passed, 1 failed"; exit 1; }
done
/usr/bin/python3 -c 'import jack, numpy' 2>/dev/null || { echo "jalv: python3-jack-client and python3-numpy needed"; echo "jalv: 0 passed, 1 failed"; exit 1; }

art=$(mktemp -d /tmp/looper-jalv.XXXXXX)
server="looper-test-$$"
name="looper-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -f "$art/console"
}
trap cleanup EXIT

export JACK_DEFAULT_SERVER="$server" JACK_NO_AUDIO_RESERVATION=1
jackd -n "$server" --no-realtime -d dummy -r 48000 -p 256 >"$art/jackd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done

mkfifo "$art/console"
# jalv quits at the end of its input: a holder keeps the FIFO open for it.
sleep 1000 >"$art/console" &
pids+=($!)
stdbuf -oL -eL jalv -x -p -n "$name" -t urn:looper-lv2:mono <"$art/console" >"$art/jalv.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do jack_lsp 2>/dev/null | grep -q "^$name:out" && break; sleep 0.1; done
if ! jack_lsp 2>/dev/null | grep -q "^$name:out"; then
  echo "FAIL: jalv did not load the plugin; artifacts in $art"; cat "$art/jalv.log"
  echo "jalv: 0 passed, 1 failed"; exit 1
fi

if timeout 60 /usr/bin/python3 "$here/check_loop.py" "$name" "$art/console" "$art" "$art/jalv.log"; then
  echo "PASS: jalv loops what was recorded"
  echo "jalv: 1 passed, 0 failed"
  trap - EXIT; cleanup; [ -n "${KEEP_ARTIFACTS:-}" ] || rm -rf "$art"
  exit 0
fi
echo "FAIL: see artifacts in $art (jalv.log, jackd.log, input.npy, output.npy)"
tail -20 "$art/jalv.log"
echo "jalv: 0 passed, 1 failed"
exit 1
