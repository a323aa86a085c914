#!/usr/bin/env bash
# Install everything the tests need, then run them all (the README's test command).
# Idempotent: a second run reuses the virtual environment and the installed browser.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests drive Debian's chromium through Playwright (no browser downloads here);
# the scaling-out test puts Debian's nginx in front of two app processes; the class
# room's store is tested on PostgreSQL too (tests/rooms start a server of their own).
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v initdb >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
  || missing="$missing postgresql"
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 - one word per package
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt

.venv/bin/ruff check .
.venv/bin/python -m pytest --doctest-modules lstm_explorer tests "$@"
