#!/usr/bin/env bash
# Installs Theory Atlas with its test tools into .venv and runs the test suite twice:
# against SQLite, then against PostgreSQL (a throwaway database on 127.0.0.1:5432).
# Extra arguments go to pytest (e.g. -m slow, -k seed). ATLAS_TEST_BACKENDS picks backends.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
status=0
for backend in ${ATLAS_TEST_BACKENDS:-sqlite postgresql}; do
  echo "== tests on $backend =="
  ATLAS_TEST_BACKEND=$backend .venv/bin/python -m pytest -n 2 "$@" || status=$?
done
exit $status
