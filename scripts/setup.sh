#!/usr/bin/env bash
# Set up a fresh machine for stratforge: system packages (Debian/Ubuntu, by name), a virtual
# environment in .venv, and stratforge itself built and installed into it (this compiles the
# C++ engine). Safe to run again: it installs only what is missing.
#
#   bash scripts/setup.sh          # runtime needs
#   bash scripts/setup.sh dev      # plus test needs
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-}"
APT_PACKAGES=(build-essential cmake git bubblewrap libseccomp2 python3-venv python3-dev)
# Test-only: headless Chromium renders the scorecard HTML and drives the dashboard.
if [ "$EXTRAS" = "dev" ]; then APT_PACKAGES+=(chromium); fi

if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: not a Debian-like system; install these yourself: ${APT_PACKAGES[*]}" >&2
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins the versions CI and the checked-in generated files (JSON Schema, docs)
# were made with; regenerate it from a fresh venv with `pip freeze` when upgrading.
if [ "$EXTRAS" = "dev" ]; then
  .venv/bin/python -m pip install -q -c constraints.txt ".[dev]"
else
  .venv/bin/python -m pip install -q -c constraints.txt .
fi
echo "setup: stratforge $(.venv/bin/stratforge --version | awk '{print $3}') installed in .venv"
