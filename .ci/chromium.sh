#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver for the end-to-end browser
# tests (tests/e2e.rs). Idempotent: does nothing when both are present.
# Needs root (or sudo) and the Debian archive; nothing from a CDN.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if ! have chromium || ! have chromedriver; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo; then SUDO="sudo"; else
            echo "chromium.sh: need root or sudo to install chromium chromium-driver" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# The wrapper script /usr/bin/chromium prints shell noise on some hosts;
# only the version line matters.
chromium --version 2>/dev/null | grep -i chromium || true
chromedriver --version
