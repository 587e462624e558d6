#!/usr/bin/env bash
# The looper in real Ardour 7, headless: builds sessions with sample-exact (AudioTime)
# automation of the looper's ports (fade at 0 throughout), renders them with
# ardour7-export and compares the renders with the inputs sample by sample (check.py).
# The state_* scenarios (fade 5 ms in two of them) record their loop in a real-time roll,
# save it with the session, reopen it without the record and overdub lanes, export it,
# and check the saved loop.wav and the render sample by sample (check_state.py).
#
#   make install LV2DIR=/tmp/ardour-lv2
#   LV2_PATH=/tmp/ardour-lv2 tests/hosts/ardour/run.sh [SCENARIO...]
#
# Scenarios:
#   loop         record on at A, off at B: pass-through, then [A,B) repeated, period B-A
#   play         play off then on: silence, then the loop from its start
#   retake       a second take replaces the first
#   ten_minutes  a ten-minute take loops exactly (a 20-minute freewheel export)
#   reload       the "play" session reloaded and saved: looper and lanes back, the
#                export bit-identical to the first (needs "play" in the same run)
#   overdub      stereo: layers across the wrap, undo and redo of a layer, a layer armed
#                while stopped that starts with play
#   undo_clear   stereo, feedback 0.5: two takes, undo during a layer, undo and redo
#                across takes, clear and its undo, a new layer that drops the redo step
#   state_mono   the loop saved with the session: a take and a layer (fade 5 ms) recorded
#                by automation while rolling in real time, saved, reopened without the
#                record and overdub lanes, saved, exported: loop.wav and the export
#                sample for sample, the seam crossfaded without a click
#   state_stereo the same with the stereo looper on a stereo track
#   state_recording  saved while a take records: the loop is the take up to the save,
#                and the reopened session exports it repeated
#
# Prints one PASS/FAIL line per scenario and last "ardour: N passed, N failed"; exits
# non-zero on any failure. Work files go to a fresh temporary folder, removed on success
# and kept (and named) on failure. Needs ardour7-lua and ardour7-export (Debian package
# `ardour`) and python3-numpy; never skips.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/hosts/ardour/lib.sh
source "$HERE/lib.sh"

ALL=(loop play retake ten_minutes reload overdub undo_clear state_mono state_stereo
     state_recording)
SCENARIOS=("${@:-${ALL[@]}}")  # or just those named on the command line
for s in "${SCENARIOS[@]}"; do
  case " ${ALL[*]} " in
    *" $s "*) ;;
    *) echo "unknown scenario $s (known: ${ALL[*]})" >&2; exit 2 ;;
  esac
done
passed=0
failed=0

summary() {
  echo "ardour: $passed passed, $failed failed"
}

fail_all() { # fail_all REASON: every scenario fails (nothing can run)
  local s
  for s in "${SCENARIOS[@]}"; do
    echo "FAIL $s: $1"
    failed=$((failed + 1))
  done
  exit 1
}

TMP=""
on_exit() { # always: stop what we started, clean up or keep, then the summary line
  ardour_kill_started
  if [ -n "$TMP" ]; then
    if [ "$failed" -eq 0 ] && [ "$passed" -eq "${#SCENARIOS[@]}" ]; then
      rm -rf "$TMP"
    else
      echo "artifacts kept in $TMP (per scenario: spec.lua, input.wav, session/, *.log, export*.wav)"
    fi
  fi
  summary
}
trap on_exit EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# --- what the run needs -------------------------------------------------------------
if ! why=$(ardour_missing); then
  echo "$why" >&2
  if [ "${CI:-}" = "true" ]; then
    fail_all "Ardour is required in CI (apt-get install ardour)"
  fi
  fail_all "Ardour is not installed: apt-get install ardour (this test never skips)"
fi
if [ -z "${LV2_PATH:-}" ]; then
  fail_all "LV2_PATH is not set: make install LV2DIR=DIR, then LV2_PATH=DIR $0"
fi
found=""
IFS=: read -r -a lv2dirs <<<"$LV2_PATH"
for d in "${lv2dirs[@]}"; do
  if grep -qs 'urn:looper-lv2:stereo' "$d"/*/manifest.ttl; then found="$d"; fi
done
if [ -z "$found" ]; then
  fail_all "no bundle with urn:looper-lv2:stereo in LV2_PATH=$LV2_PATH (make install LV2DIR=...)"
fi

# --- a fresh folder for everything, and cleanup ---------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/looper-ardour.XXXXXX")
export XDG_CONFIG_HOME="$TMP/config"
mkdir -p "$XDG_CONFIG_HOME"
export LV2_PATH

echo "$(ardour7-lua --version 2>/dev/null | head -1); plugin from $found; work in $TMP"

# --- scenarios -----------------------------------------------------------------------
result() { # result NAME STATUS SECONDS DETAIL...
  local name=$1 status=$2 secs=$3
  shift 3
  if [ "$status" -eq 0 ]; then
    echo "PASS $name (${secs}s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name (${secs}s): $*"
    failed=$((failed + 1))
  fi
}

show_log() { # the end of a log, indented
  [ -f "$1" ] && grep -v -e 'midnam' -e '^\s*^\?\s*$' -e 'queue call-slot' "$1" | tail -n 15 | sed 's/^/    | /'
}

build_export_check() { # build_export_check NAME: one scenario from spec to check
  local name=$1 w="$TMP/$1"
  mkdir -p "$w"
  "$PY" "$HERE/scenarios.py" prepare "$name" "$w" || { echo "    cannot prepare $name"; return 1; }
  if ! ardour_build "$w"; then
    show_log "$w/build.log"
    echo "    session build failed (log: $w/build.log)"
    return 1
  fi
  sed -n 's/^check-session: /  ok   session saved with /p' "$w/build.log"
  if ! ardour_export "$w" "$w/export.wav"; then
    show_log "$w/export.log"
    echo "    export failed (log: $w/export.log)"
    return 1
  fi
  "$PY" "$HERE/check.py" "$name" "$w"
}

state_export_check() { # state_export_check NAME: record by automation, save, reopen, export
  local name=$1 w="$TMP/$1"
  mkdir -p "$w"
  "$PY" "$HERE/scenarios.py" prepare "$name" "$w" || { echo "    cannot prepare $name"; return 1; }
  if ! ardour_build "$w"; then
    show_log "$w/build.log"
    echo "    session build failed (log: $w/build.log)"
    return 1
  fi
  if ! ardour_roll "$w"; then
    show_log "$w/roll.log"
    echo "    the real-time roll failed (log: $w/roll.log)"
    return 1
  fi
  sed -n -e 's/^roll: /  ok   rolled in real time: /p' -e 's/^check-session: /  ok   saved with /p' "$w/roll.log"
  if ! ardour_strip "$w"; then
    show_log "$w/strip.log"
    echo "    reopening without the record and overdub lanes failed (log: $w/strip.log)"
    return 1
  fi
  sed -n 's/^check-session: /  ok   reopened and saved with /p' "$w/strip.log"
  if ! ardour_export "$w" "$w/export.wav"; then
    show_log "$w/export.log"
    echo "    export failed (log: $w/export.log)"
    return 1
  fi
  "$PY" "$HERE/check_state.py" "$name" "$w"
}

reload_export_check() { # the "play" session: reload, save, export again, compare
  local w="$TMP/play"
  if [ ! -s "$w/export.wav" ]; then
    echo "    needs the play scenario's session and first export"
    return 1
  fi
  if ! ardour_reload "$w"; then
    show_log "$w/reload.log"
    echo "    reload check failed (log: $w/reload.log)"
    return 1
  fi
  grep -E '^(plugin|lane|check-session)' "$w/reload.log" | sed -e 's/^check-session: //' -e 's/^/  ok   reloaded: /'
  if ! ardour_export "$w" "$w/export-reloaded.wav"; then
    show_log "$w/export-reloaded.log"
    echo "    export after reload failed"
    return 1
  fi
  "$PY" "$HERE/check.py" identical "$w/export.wav" "$w/export-reloaded.wav" &&
    "$PY" "$HERE/check.py" play "$w" "$w/export-reloaded.wav"
}

start_all=$SECONDS
for name in "${SCENARIOS[@]}"; do
  echo "--- $name"
  t0=$SECONDS
  if [ "$name" = reload ]; then
    reload_export_check
  elif [ "${name#state_}" != "$name" ]; then
    state_export_check "$name"
  else
    build_export_check "$name"
  fi
  rc=$?
  result "$name" "$rc" $((SECONDS - t0)) "see above; files in $TMP/${name/reload/play}"
  # A passing scenario's big files go at once (the ten-minute export is 470 MB).
  if [ "$rc" -eq 0 ] && [ "$name" = ten_minutes ]; then rm -rf "$TMP/$name"; fi
done
echo "total time: $((SECONDS - start_all))s"
[ "$failed" -eq 0 ]
