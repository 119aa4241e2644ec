"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database, built by Alembic.

Choose the backend with ATLAS_TEST_BACKEND=sqlite|postgresql (default sqlite). PostgreSQL
databases are created as atlas_test_<random> on ATLAS_TEST_PG_ADMIN_URL and dropped after.
"""

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.main import create_app
from app.models import ApiToken, Base
from tests.helpers import AUTH, TEST_TOKEN_PREFIX, TEST_TOKEN_SECRET

BACKEND = os.environ.get("ATLAS_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("ATLAS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


# No background polling of watches (tests poll them themselves), and full-text suggestions
# (tests that want the embedding model ask for it).
TEST_SETTINGS: dict[str, Any] = {
    "environment": "test",
    "watch_scheduler": False,
    "embeddings": "off",
}
EXPERIMENTS_DIR = Path(__file__).parent / "experiments"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Experiment tests (tests/experiments/, and tests marked `once`) train real models:
    they run in the SQLite pass only, and are deselected for other databases."""
    if BACKEND == "sqlite":
        return
    once = [
        i
        for i in items
        if i.get_closest_marker("once") or EXPERIMENTS_DIR in Path(str(i.path)).parents
    ]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [i for i in items if i not in once]


def _pg_url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def make_database(tmp_dir: Path) -> tuple[Settings, callable]:  # type: ignore[valid-type]
    """A new empty database; returns its settings and a function that drops it."""
    if BACKEND == "postgresql":
        name = f"atlas_test_{secrets.token_hex(6)}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        settings = Settings(
            database_url=_pg_url(name), **TEST_SETTINGS, plots_dir=tmp_dir / "plots"
        )

        def drop() -> None:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return settings, drop
    path = tmp_dir / f"atlas_{secrets.token_hex(4)}.db"
    settings = Settings(
        database_url=f"sqlite:///{path}", **TEST_SETTINGS, plots_dir=tmp_dir / "plots"
    )
    return settings, lambda: None


@pytest.fixture(scope="session")
def db_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings, drop = make_database(tmp_path_factory.mktemp("db"))
    migrations.upgrade(settings)
    yield settings
    drop()


@pytest.fixture(scope="session")
def engine(db_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(db_settings)
    yield eng
    eng.dispose()


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sequence(conn) else None


def _has_sequence(conn) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).scalar()
    )


@pytest.fixture
def session_factory(engine: Engine):  # type: ignore[no-untyped-def]
    _truncate(engine)
    factory = make_sessionmaker(engine)
    install_test_token(factory)
    return factory


def install_test_token(factory) -> None:  # type: ignore[no-untyped-def]
    """The admin token of tests.helpers.AUTH, in the database behind `factory`."""
    with factory() as session, session.begin():
        session.add(
            ApiToken(
                name="tests",
                prefix=TEST_TOKEN_PREFIX,
                secret_hash=hashlib.sha256(TEST_TOKEN_SECRET.encode()).hexdigest(),
                scopes=["admin"],
            )
        )


@pytest.fixture
def client(db_settings: Settings, session_factory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(db_settings)
    with TestClient(app, headers=AUTH) as c:
        yield c


# The seeded database's rows, per test database: loading the seed costs seconds, putting
# its rows back costs a fraction of one (tests/fuzz_support.Snapshot).
_SEEDED: dict[str, Any] = {}


@pytest.fixture
def seeded(client: TestClient, session_factory, engine: Engine) -> TestClient:  # type: ignore[no-untyped-def]
    from app.services.seed import load_seed
    from tests.fuzz_support import Snapshot

    key = str(engine.url)
    if key in _SEEDED:
        _SEEDED[key].restore()
        return client
    with session_factory() as session:
        load_seed(session, Settings().seeds_dir)
        session.commit()
    _SEEDED[key] = Snapshot(engine)
    return client
