#!/usr/bin/env bash
# The looper's tempo sync in real Ardour 7, headless: sessions with a tempo map, the mono
# looper in bar sync (fade 0), record automated off the grid (AudioTime, sample-exact),
# rendered by ardour7-export and compared with the input sample by sample (check.py).
#
#   make install LV2DIR=/tmp/ardour-lv2
#   LV2_PATH=/tmp/ardour-lv2 tests/hosts/ardour/sync/run.sh [SCENARIO...]
#
# Scenarios (sync_scenarios.py has the frames):
#   bar_120       120 bpm: record on at 1.3 bars, off at 2.4: a loop of bar 2, exactly one
#                 bar, each of 101 passes on its bar line to the sample (to bar 104)
#   bar_93_7      the same at 93.7 bpm: the loop is ceil(122,945.57) frames from
#                 round(F(2)); passes start at round(F(3 + k)), k = 0..101
#   bars2_93_7    bars = 2, record on at 0.6 bars and left on: the take closes itself
#                 after bars 1 and 2; passes every two bars
#   tempo_change  120 bpm, 90 from bar 7, 150 from the middle of bar 11: the one-bar loop
#                 keeps its frames; passes start on the new bar lines (wrapping at the
#                 loop's end where bars got longer, cut where they got shorter)
#   positions     the probe plugin (probe/) after the looper: what Ardour sends as
#                 time:Position while it exports (93.7 bpm, 80 from the middle of bar 5,
#                 inside a cycle); and the looper's export, as above
#
# Prints one PASS/FAIL line per scenario and last "ardour-sync: N passed, N failed"; exits
# non-zero on any failure. Work files go to a fresh temporary folder, removed on success,
# kept (and named) on failure. Needs ardour7-lua and ardour7-export (Debian `ardour`),
# python3-numpy, and a C compiler with the LV2 headers (lv2-dev) for the probe; never
# skips. Reuses ../lib.sh, ../session.lua, ../common.lua and ../harness.py as they are.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ARDOUR_DIR="$(dirname "$HERE")"
# shellcheck source=tests/hosts/ardour/lib.sh
source "$ARDOUR_DIR/lib.sh"

ALL=(bar_120 bar_93_7 bars2_93_7 tempo_change positions)
SCENARIOS=("${@:-${ALL[@]}}")
for s in "${SCENARIOS[@]}"; do
  case " ${ALL[*]} " in
    *" $s "*) ;;
    *) echo "unknown scenario $s (known: ${ALL[*]})" >&2; exit 2 ;;
  esac
done
passed=0
failed=0

fail_all() { # fail_all REASON: every scenario fails (nothing can run)
  local s
  for s in "${SCENARIOS[@]}"; do
    echo "FAIL $s: $1"
    failed=$((failed + 1))
  done
  exit 1
}

TMP=""
on_exit() {
  ardour_kill_started
  if [ -n "$TMP" ]; then
    if [ "$failed" -eq 0 ] && [ "$passed" -eq "${#SCENARIOS[@]}" ]; then
      rm -rf "$TMP"
    else
      echo "artifacts kept in $TMP (per scenario: spec.lua, sync.lua, input.wav, session/, *.log, export.wav)"
    fi
  fi
  echo "ardour-sync: $passed passed, $failed failed"
}
trap on_exit EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# --- what the run needs -------------------------------------------------------------
if ! why=$(ardour_missing); then
  echo "$why" >&2
  fail_all "Ardour is not installed: apt-get install ardour (this test never skips)"
fi
if [ -z "${LV2_PATH:-}" ]; then
  fail_all "LV2_PATH is not set: make install LV2DIR=DIR, then LV2_PATH=DIR $0"
fi
found=""
IFS=: read -r -a lv2dirs <<<"$LV2_PATH"
for d in "${lv2dirs[@]}"; do
  if grep -qs 'urn:looper-lv2:mono' "$d"/*/manifest.ttl; then found="$d"; fi
done
if [ -z "$found" ]; then
  fail_all "no bundle with urn:looper-lv2:mono in LV2_PATH=$LV2_PATH (make install LV2DIR=...)"
fi
if ! grep -qs 'lv2:symbol "sync"' "$found"/*/looper.ttl; then
  fail_all "the looper in $found has no sync port: install a build with tempo sync"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/looper-ardour-sync.XXXXXX")
export XDG_CONFIG_HOME="$TMP/config"
mkdir -p "$XDG_CONFIG_HOME"

# The probe plugin, built here (it is a measuring tool, not part of the bundle).
PROBE_LV2="$TMP/lv2"
probe_error=""
mkdir -p "$PROBE_LV2/sync_probe.lv2"
if ! cc -shared -fPIC -O2 -Wall -o "$PROBE_LV2/sync_probe.lv2/sync_probe.so" "$HERE/probe/probe.c" \
  >"$TMP/probe-build.log" 2>&1; then
  probe_error="cannot build the probe (cc and lv2-dev needed; log $TMP/probe-build.log)"
fi
cp "$HERE/probe/manifest.ttl" "$HERE/probe/probe.ttl" "$PROBE_LV2/sync_probe.lv2/"
export LV2_PATH="$LV2_PATH:$PROBE_LV2"

echo "$(ardour7-lua --version 2>/dev/null | head -1); plugin from $found; work in $TMP"

# --- scenarios -----------------------------------------------------------------------
show_log() { # the end of a log, indented
  [ -f "$1" ] && grep -v -e 'midnam' -e '^\s*^\?\s*$' -e 'queue call-slot' "$1" | tail -n 15 | sed 's/^/    | /'
}

run_scenario() { # run_scenario NAME: prepare, build, tempo map, export, check
  local name=$1 w="$TMP/$1"
  mkdir -p "$w"
  if [ "$name" = positions ] && [ -n "$probe_error" ]; then
    echo "    $probe_error"
    return 1
  fi
  "$PY" "$HERE/sync_scenarios.py" prepare "$name" "$w" || { echo "    cannot prepare $name"; return 1; }
  if ! ardour_build "$w"; then
    show_log "$w/build.log"
    echo "    session build failed (log: $w/build.log)"
    return 1
  fi
  if ! LOOPER_SPEC="$w/spec.lua" LOOPER_SYNC_SPEC="$w/sync.lua" ardour_run "$w/tempo.log" 120 \
    ardour7-lua "$HERE/tempo.lua" ||
    ! "$PY" "$ARDOUR_DIR/harness.py" check-session "$w" >>"$w/tempo.log" 2>&1; then
    show_log "$w/tempo.log"
    echo "    setting the tempo map failed (log: $w/tempo.log)"
    return 1
  fi
  sed -n -e 's/^check-session: /  ok   session saved with /p' -e 's/^tempo: /  ok   Ardour: /p' "$w/tempo.log"
  "$PY" "$HERE/check.py" tempo-map "$w" || return 1
  rm -f "$w/probe.log"
  if ! SYNC_PROBE_LOG="$w/probe.log" ardour_export "$w" "$w/export.wav"; then
    show_log "$w/export.log"
    echo "    export failed (log: $w/export.log)"
    return 1
  fi
  local rc=0
  "$PY" "$HERE/check.py" export "$w" || rc=1
  if [ "$name" = positions ]; then
    "$PY" "$HERE/check.py" positions "$w" || rc=1
  fi
  return "$rc"
}

start_all=$SECONDS
for name in "${SCENARIOS[@]}"; do
  echo "--- $name"
  t0=$SECONDS
  run_scenario "$name"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name ($((SECONDS - t0))s)"
    passed=$((passed + 1))
    rm -rf "${TMP:?}/$name"  # the exports are up to 100 MB
  else
    echo "FAIL $name ($((SECONDS - t0))s): see above; files in $TMP/$name"
    failed=$((failed + 1))
  fi
done
echo "total time: $((SECONDS - start_all))s"
[ "$failed" -eq 0 ]
