# Shell pieces shared by tests/hosts/ardour/run.sh and scripts/demo.sh (source it).
#
# A work folder is laid out as described in harness.py. The caller sets LV2_PATH (where
# looper.lv2 is installed) and XDG_CONFIG_HOME (a fresh folder) before calling these.

ARDOUR_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3          # Debian's, with numpy (the first python3 on PATH may differ)
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
ARDOUR_PGIDS=()              # process groups of the Ardour programs started here

# ardour_missing: prints what is missing to run Ardour headless; fails if anything is.
ardour_missing() {
  local missing=0 tool
  for tool in ardour7-lua ardour7-export; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$tool not found: install Ardour 7 with: apt-get install ardour"
      missing=1
    fi
  done
  if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "$PY cannot import numpy: apt-get install python3-numpy"
    missing=1
  fi
  return $missing
}

# ardour_run LOG TIMEOUT CMD...: runs CMD in a process group of its own (so that it and
# anything it starts can be killed by ardour_kill_started), output to LOG, at most
# TIMEOUT seconds. Returns CMD's status.
ardour_run() {
  local log=$1 limit=$2 pid rc
  shift 2
  setsid timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 &
  pid=$!
  ARDOUR_PGIDS+=("$pid")
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 124 ] && echo "timed out after ${limit}s: $*" >>"$log"
  return "$rc"
}

# ardour_kill_started: ends whatever is left of the process groups started here.
ardour_kill_started() {
  local g
  for g in "${ARDOUR_PGIDS[@]}"; do
    if kill -0 -- "-$g" 2>/dev/null; then
      kill -TERM -- "-$g" 2>/dev/null || true
      sleep 1
      kill -KILL -- "-$g" 2>/dev/null || true
    fi
  done
}

# ardour_build WORKDIR: builds the session from WORKDIR/spec.lua and puts the input into
# its take. Logs to WORKDIR/build.log.
ardour_build() {
  local w=$1
  rm -rf "$w/session"
  LOOPER_SPEC="$w/spec.lua" ardour_run "$w/build.log" 600 \
    ardour7-lua "$ARDOUR_HERE/session.lua" &&
    "$PY" "$ARDOUR_HERE/harness.py" install-input "$w" >>"$w/build.log" 2>&1 &&
    "$PY" "$ARDOUR_HERE/harness.py" check-session "$w" >>"$w/build.log" 2>&1
}

# ardour_export WORKDIR OUT: renders the session's range (freewheel, 32-bit float, stereo
# master) to OUT. Logs to OUT's name with .log. ardour7-export 7.3 now and then aborts as
# it starts (glibc: "munmap_chunk(): invalid pointer", "corrupted size vs. prev_size",
# "double free or corruption"; in ~PortExportChannel), with the looper or without it (in
# 2 and in 4 of 25 runs of one session; 1 and 4 of 15 of another), or hangs before it
# starts (1 in 25): such a run is tried again, five runs at most (three aborts in a row
# were seen), its log kept as OUT's name with .tryN.log. The time limit allows a 5x
# realtime render.
ardour_export() {
  local w=$1 out=$2 name limit log=${2%.wav}.log try rc
  read -r name limit < <("$PY" -c 'import json,sys; s = json.load(open(sys.argv[1]))
print(s["name"], 30 + s["session_end"] // (5 * s["rate"]))' "$w/spec.json")
  for try in 1 2 3 4 5; do
    rm -f "$out"
    rc=0
    ardour_run "$log" "$limit" ardour7-export -b float -o "$out" "$w/session" "$name" || rc=$?
    [ "$rc" -eq 124 ] || [ "$rc" -gt 128 ] || break
    mv "$log" "${log%.log}.try$try.log"
    echo "    note: ardour7-export died or hung (status $rc, log ${log%.log}.try$try.log)"
  done
  [ "$rc" -eq 0 ] && [ -s "$out" ]
}

# ardour_reload WORKDIR: reloads the session, checks the looper and its lanes are back as
# specified, saves it again. Logs to WORKDIR/reload.log.
ardour_reload() {
  local w=$1
  LOOPER_SPEC="$w/spec.lua" ardour_run "$w/reload.log" 300 \
    ardour7-lua "$ARDOUR_HERE/reload.lua" &&
    "$PY" "$ARDOUR_HERE/harness.py" check-session "$w" >>"$w/reload.log" 2>&1
}

# ardour_roll WORKDIR: rolls the session in real time (roll.lua), so that the looper
# records what its lanes say into its own state, and saves it (after the stop, or while
# rolling: the spec's roll); checks the saved file and keeps it as WORKDIR/rolled.ardour.
# Logs to WORKDIR/roll.log.
ardour_roll() {
  local w=$1
  LOOPER_SPEC="$w/spec.lua" ardour_run "$w/roll.log" 120 \
    ardour7-lua "$ARDOUR_HERE/roll.lua" &&
    "$PY" "$ARDOUR_HERE/harness.py" check-session "$w" rolled >>"$w/roll.log" 2>&1
}

# ardour_strip WORKDIR: reopens the rolled session, removes the lanes of the spec's
# strip ports (record, overdub), saves it (strip.lua) and checks the saved file. Logs to
# WORKDIR/strip.log.
ardour_strip() {
  local w=$1
  LOOPER_SPEC="$w/spec.lua" ardour_run "$w/strip.log" 120 \
    ardour7-lua "$ARDOUR_HERE/strip.lua" &&
    "$PY" "$ARDOUR_HERE/harness.py" check-session "$w" stripped >>"$w/strip.log" 2>&1
}
