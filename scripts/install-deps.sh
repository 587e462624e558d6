#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian 12 machine (as root, or with sudo).
# Prints exactly what to install when it cannot do it itself.
set -euo pipefail

# Debian packages: lilv for the test host (livi), the LV2 schemas and sord_validate for the
# Turtle check, jalv + jackd2 for the JACK host test, sox/python for audio checks,
# Ardour for the DAW tests, clang's RealtimeSanitizer runtime.
PKGS=(pkg-config liblilv-dev lv2-dev sordi lilv-utils jalv jackd2 python3-jack-client python3-numpy sox ardour util-linux libclang-rt-22-dev python3-matplotlib)
if [ -n "${LOOPER_EXTRA_PKGS:-}" ]; then
  # shellcheck disable=SC2206
  PKGS+=(${LOOPER_EXTRA_PKGS})
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: not a Debian system; install the equivalents of: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable realtime scheduling; answer for it.
echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
