#!/usr/bin/env bash
# Everything `make test` runs, after scripts/install-deps.sh: format, lints, the Turtle
# check, the unit and integration tests (every run() and work_response() under the
# allocation guard), then the real hosts against a bundle installed by `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

step() { printf '\n== %s\n' "$*"; }

# Everything is also written to a log, to total the tests at the end.
log=$(mktemp /tmp/looper-make-test-log.XXXXXX)
exec > >(tee "$log") 2>&1
summary() {
  local rc=$1
  sleep 0.2
  awk '
    /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^(jalv|ardour|ardour-sync): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
    END { if (rc != 0 && f == 0) f = 1; printf "\nmake test: %d passed, %d failed\n", p, f }
  ' rc="$rc" "$log"
  rm -f "$log"
  exit "$rc"
}
trap 'summary $?' EXIT

step "format (cargo fmt --check)"
cargo fmt --check

step "lints (cargo clippy --all-targets -- -D warnings)"
cargo clippy --locked --all-targets --features rt-guard -- -D warnings
cargo clippy --locked --all-targets -- -D warnings

step "Turtle (sord_validate against the LV2 schemas)"
sord_validate $(find /usr/lib/lv2 -name '*.ttl') looper.lv2/manifest.ttl looper.lv2/looper.ttl

step "unit and integration tests, under the allocation guard"
cargo test --locked --features rt-guard

# Again against the release build, the one `make install` ships: undefined behaviour
# can hide in one optimisation level and bite in another (it did: see plugin.rs).
step "integration tests against the release build"
cargo test --locked --release --features rt-guard --tests

step "RealtimeSanitizer: every run() and work_response() in a realtime scope"
bash scripts/rtsan.sh

tmp=$(mktemp -d /tmp/looper-make-test.XXXXXX)
trap 'r=$?; rm -rf "$tmp"; summary $r' EXIT
step "make install into $tmp/lv2"
make --no-print-directory install LV2DIR="$tmp/lv2"

hosts_failed=0
step "jalv on a JACK dummy server"
LV2_PATH="$tmp/lv2" bash tests/hosts/jalv/run.sh || hosts_failed=1

step "Ardour, headless"
LV2_PATH="$tmp/lv2" bash tests/hosts/ardour/run.sh || hosts_failed=1

step "Ardour, headless: tempo sync"
LV2_PATH="$tmp/lv2" bash tests/hosts/ardour/sync/run.sh || hosts_failed=1
exit $hosts_failed
