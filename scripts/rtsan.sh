#!/usr/bin/env bash
# The RealtimeSanitizer suite (tests/rtsan.rs). Needs Debian's libclang-rt-22-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=/usr/lib/llvm-22/lib/clang/22/lib/linux/libclang_rt.rtsan-x86_64.a
[ -f "$lib" ] || { echo "rtsan: $lib missing: apt-get install libclang-rt-22-dev"; exit 1; }
# Its own target dir: this build of liblooper.so has other features than the main tests'.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/rtsan" RTSAN_ENABLE=1 RTSAN_LIB_PATH="$lib"
cargo test --locked --features rtsan --test rtsan "$@"
