#!/usr/bin/env bash
# Installs Theory Atlas with its test tools into .venv and runs the test suite twice:
# against SQLite, then against PostgreSQL (a throwaway database on 127.0.0.1:5432).
# Extra arguments go to pytest (e.g. -m slow, -k seed). ATLAS_TEST_BACKENDS picks backends.
# Browser tests need /usr/bin/chromium (installed here with apt when run as root); without
# it they are skipped, unless ATLAS_REQUIRE_BROWSER=1 (as in .ci/run) makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The embeddings extra brings torch 2.13.0 (CPU build) for the suggestion tests.
.venv/bin/python -m pip install -q -e ".[dev,embeddings]"
# The browser tests (tests/browser) drive Debian's Chromium; install it when we may.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
status=0
for backend in ${ATLAS_TEST_BACKENDS:-sqlite postgresql}; do
  echo "== tests on $backend =="
  ATLAS_TEST_BACKEND=$backend .venv/bin/python -m pytest -n 2 "$@" || status=$?
done
exit $status
