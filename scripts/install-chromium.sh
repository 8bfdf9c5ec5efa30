#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (test/browser/), which
# drive it with playwright-core (`npx playwright install` cannot download
# browsers here; DESIGN §5). Does nothing when a chromium is already there
# (MEDSYNTH_CHROMIUM, default /usr/bin/chromium). Needs root (or sudo) and apt.
set -euo pipefail
CHROMIUM="${MEDSYNTH_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $CHROMIUM is installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: no apt-get here; install chromium and set MEDSYNTH_CHROMIUM to its path" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium: not root and no sudo: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
echo "chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
