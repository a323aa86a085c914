#!/usr/bin/env bash
# Refresh the README's screenshots: the browser tests save them into docs/.
set -euo pipefail
cd "$(dirname "$0")/.."
LSTM_EXPLORER_SCREENSHOTS=docs .venv/bin/python -m pytest tests/e2e -q "$@"
