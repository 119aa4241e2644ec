# Theory Atlas: the API (default command) and, with `atlas worker`, the job worker.
# See docs/deployment.md. Build: docker build -t theory-atlas .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that code changes reuse this layer.
# All of them ship manylinux wheels: no compiler needed.
# EXTRAS names optional extras to add, e.g. --build-arg EXTRAS=embeddings (suggestions by a
# sentence-embedding model; torch then comes from PyTorch's CPU index, not a CUDA build).
ARG EXTRAS=""
COPY pyproject.toml ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [d for e in os.environ['EXTRAS'].split(',') if e for d in p['optional-dependencies'][e]]; print(*p['dependencies'], *extras, sep=chr(10))" > /tmp/requirements.txt \
    && pip install --extra-index-url https://download.pytorch.org/whl/cpu -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project. It finds alembic.ini, migrations/ and seeds/ next to its app/ package
# (PROJECT_ROOT in app/core/config.py), so it is installed in place (-e) from /app rather
# than copied into site-packages; this puts the `atlas` script in /usr/local/bin (on PATH).
COPY app ./app
COPY migrations ./migrations
COPY seeds ./seeds
COPY scripts ./scripts
COPY alembic.ini README.md ./
RUN pip install --no-deps -e . \
    && python -m compileall -q app migrations \
    && chmod 0755 scripts/prestart.sh

# An unprivileged user owns /data (the SQLite file when no DATABASE_URL is given, the plot
# cache, `atlas export` archives); the code in /app stays root-owned and read-only for it.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/atlas atlas \
    && mkdir -p /data/plots /data/backups \
    && chown -R atlas:atlas /data
VOLUME ["/data"]

# Production by default: SECRET_KEY must be given (16+ characters) or the service refuses
# to start. DATABASE_URL defaults to SQLite on the volume; docker-compose.yml uses PostgreSQL.
ENV ENVIRONMENT=production \
    DATABASE_URL=sqlite:////data/atlas.db \
    PLOTS_DIR=/data/plots \
    MPLCONFIGDIR=/tmp/matplotlib

USER atlas
EXPOSE 8000

# slim has no curl: ask /health with the standard library (an HTTP error or 503 exits 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# Migrate (and seed a new database), then serve with one uvicorn process
# (docs/deployment.md says why one). The job worker overrides this with `atlas worker`.
CMD ["sh", "-c", "scripts/prestart.sh && exec atlas serve --host 0.0.0.0 --port 8000 --workers 1 --no-upgrade"]
