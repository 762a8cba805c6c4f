#!/usr/bin/env bash
# Everything the tests need, from scratch: a venv with the project and its test tools, and
# Debian's chromium for the real-browser tests (Playwright drives it; no browser is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install-test-deps: /usr/bin/chromium is missing and we are not root: install Debian's chromium package" >&2
    echo "  (the browser tests fail under CI=true without it and are skipped otherwise)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt -r requirements-dev.txt -e .
