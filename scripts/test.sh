#!/usr/bin/env bash
# Everything `make test` runs, after scripts/install-deps.sh: format, lints, the Turtle
# check, the unit and integration tests (every run() and work_response() under the
# allocation guard), then the real hosts against a bundle installed by `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

step() { printf '\n== %s\n' "$*"; }

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
trap 'rm -rf "$tmp"' EXIT
step "make install into $tmp/lv2"
make --no-print-directory install LV2DIR="$tmp/lv2"

hosts_failed=0
step "jalv on a JACK dummy server"
LV2_PATH="$tmp/lv2" bash tests/hosts/jalv/run.sh || hosts_failed=1

if [ -f tests/hosts/ardour/run.sh ]; then
  step "Ardour, headless"
  LV2_PATH="$tmp/lv2" bash tests/hosts/ardour/run.sh || hosts_failed=1
fi
exit $hosts_failed
