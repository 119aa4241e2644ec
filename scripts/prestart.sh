#!/bin/sh
# The API container's start step (Dockerfile CMD, docker-compose.yml): migrate the database
# to the latest revision, then load the seed debate if the database holds no debate yet.
# Only an empty database is seeded because `atlas seed` restores edited seed rows to their
# YAML values: run it by hand (`docker compose exec api atlas seed`) when that is wanted.
set -eu
cd "$(dirname "$0")/.."

atlas db upgrade
# Exit status 0: empty, seed; 3: holds a debate; anything else (an error) stops the start.
status=0
python - <<'PY' || status=$?
import sys

from sqlalchemy import func, select

from app.core.config import get_settings
from app.core.db import make_engine
from app.models import Problem

engine = make_engine(get_settings())
with engine.connect() as conn:
    count = conn.scalar(select(func.count()).select_from(Problem))
engine.dispose()
sys.exit(0 if count == 0 else 3)
PY
case $status in
  0)
    atlas seed
    ;;
  3) echo "seed: the database already holds a debate; not seeding (run \`atlas seed\` to refresh it)" ;;
  *) echo "prestart: could not count the debate's rows (exit $status)" >&2; exit "$status" ;;
esac
