#!/usr/bin/env bash
# Installs Theory Atlas into .venv, migrates the SQLite database under ./var, loads the seed
# debate and serves the API at http://127.0.0.1:8000 (HOST/PORT override).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/atlas db upgrade
.venv/bin/atlas seed
echo "Reads are public. To write, create a token: .venv/bin/atlas token create --scopes write"
exec .venv/bin/atlas serve --no-upgrade --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
