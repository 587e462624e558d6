#!/usr/bin/env bash
# Renders a short looper demo through headless Ardour 7 and the installed plugin:
#   demo/looper-demo.wav   a plucked one-bar phrase, recorded by automation of the
#                          looper's record port, looped three times, stopped for a beat
#                          by its play port and started again from its start
#   demo/looper-demo.png   input and output waveforms with the record and play lanes
#
#   make install                       # or: make install LV2DIR=DIR; export LV2_PATH=DIR
#   scripts/demo.sh
#
# Uses the session builder of the Ardour test (tests/hosts/ardour/) and checks the
# render sample by sample like a test scenario before writing it out. Needs ardour
# (ardour7-lua, ardour7-export), sox, python3-numpy and python3-matplotlib. LV2_PATH is
# honoured; unset, Ardour searches its default LV2 folders (~/.lv2 first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/tests/hosts/ardour"
# shellcheck source=tests/hosts/ardour/lib.sh
source "$HERE/lib.sh"

if ! why=$(ardour_missing); then
  echo "demo: $why" >&2
  exit 1
fi
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
  echo "demo: $PY cannot import matplotlib: apt-get install -y python3-matplotlib" >&2
  exit 1
fi
if ! command -v sox >/dev/null 2>&1; then
  echo "demo: sox not found: apt-get install -y sox" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/looper-demo.XXXXXX")
export XDG_CONFIG_HOME="$TMP/config"
ok=0
cleanup() {
  ardour_kill_started
  if [ "$ok" -eq 1 ]; then rm -rf "$TMP"; else echo "demo: failed; files kept in $TMP" >&2; fi
}
trap cleanup EXIT

W="$TMP/demo"
echo "demo: building the session (LV2_PATH=${LV2_PATH:-unset, Ardour default folders})"
"$PY" "$HERE/demo.py" prepare "$W"
ardour_build "$W" || { tail -n 5 "$W/build.log" >&2; exit 1; }
echo "demo: rendering with ardour7-export"
ardour_export "$W" "$W/export.wav" || { tail -n 5 "$W/export.log" >&2; exit 1; }
echo "demo: checking the render"
"$PY" "$HERE/check.py" demo "$W"

mkdir -p "$ROOT/demo"
sox -q "$W/export.wav" -b 16 "$ROOT/demo/looper-demo.wav"
"$PY" "$HERE/demo.py" plot "$W" "$W/export.wav" "$ROOT/demo/looper-demo.png"
echo "demo: the inline display, as a mixer strip shows it"
(cd "$ROOT" && cargo run --quiet --locked --release --example inline_display -- demo)
echo "demo: a synced loop against the bar grid"
(cd "$ROOT" && cargo run --quiet --locked --release --example sync_grid -- "$W/sync")
"$PY" "$ROOT/scripts/sync_picture.py" "$W/sync" "$ROOT/demo/sync-grid.png"
ok=1
echo "demo: wrote demo/looper-demo.wav ($(soxi -D "$ROOT/demo/looper-demo.wav") s) and demo/looper-demo.png"
