#!/usr/bin/env bash
# Prove deploy/nginx.conf here: two app processes on loopback ports, Debian's nginx in
# front on a third (run as the current user, with a temporary prefix, pid file and logs),
# several browser sessions through nginx, and each session must stay on its process.
#
#   bash deploy/check_nginx.sh [--sessions 8]
#
# Needs nginx (as root: apt-get install nginx) and Debian's chromium (tests/run.sh
# installs it). Exit status 0 when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [ ! -x "$NGINX" ]; then
  echo "nginx is missing: install Debian's nginx (apt-get install nginx)" >&2
  exit 2
fi
exec .venv/bin/python deploy/check_sticky.py --nginx "$NGINX" "$@"
