#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the dashboard's browser test (tests/report/test_dashboard_browser.py).
# Idempotent: does nothing when both are already there. Needs root (or sudo) and Debian's package archive;
# a test tool's own browser download is never used.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium and chromedriver already installed: $(chromedriver --version 2>/dev/null | head -n1)"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-browser.sh: needs root or sudo" >&2; exit 1; }
    sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium chromium-driver
echo "installed: $(chromedriver --version | head -n1)"
