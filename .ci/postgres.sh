#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the tests of the
# PostgreSQL state backend (crates/state/tests/backends.rs, tests/state.rs).
# The tests start their own throwaway servers (initdb in a temporary
# directory, a free loopback port), so no service is enabled here.
# Idempotent: does nothing when initdb and postgres are present.
set -euo pipefail

have_pg() {
    command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1 && return 0
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "postgres.sh: need root or sudo to install postgresql" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# As root the tests run the server as the package's `postgres` user.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "postgres.sh: running as root but there is no postgres user" >&2
    exit 1
fi
ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1
