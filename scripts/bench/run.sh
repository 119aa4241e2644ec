#!/usr/bin/env bash
# The benchmark command (design.md section 6): installs what it needs (wrk, and Theory Atlas
# with the `bench` extra, datasette, into .venv), then runs scripts/bench/run.py, which prints
# one table and writes var/bench/results.json. Arguments go to run.py (--sizes, --duration, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 \
    || { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[bench]"
exec .venv/bin/python scripts/bench/run.py "$@"
