#!/usr/bin/env bash
# Refresh the README's screenshots: the browser tests that take them save them into docs/.
# Only those tests: the others' screenshots (journeys, every chart at every size) stay
# in /tmp/lstm-explorer-screens.
set -euo pipefail
cd "$(dirname "$0")/.."
LSTM_EXPLORER_SCREENSHOTS=docs .venv/bin/python -m pytest -q \
  tests/e2e/test_browser.py tests/e2e/test_lab_browser.py "$@"
