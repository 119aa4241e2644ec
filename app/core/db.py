"""Engine and session factory; SQLite gets WAL, foreign keys and a busy timeout."""

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings

# Whether the current unit of work intends to write. Reads on SQLite use a deferred BEGIN so
# that WAL readers never wait; writes take the lock up front (BEGIN IMMEDIATE), which makes
# SQLite's busy timeout apply instead of failing on a read-to-write lock upgrade.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if not settings.is_sqlite:
        return create_engine(url, pool_pre_ping=True, future=True)

    _ensure_sqlite_dir(url)
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
        future=True,
    )
    busy_timeout = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that "BEGIN IMMEDIATE" below is honoured.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # Importing the change tracker registers its session listeners (graph change log).
    from app.services import changes  # noqa: F401

    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def plan_with_statistics(engine: Engine, min_sources: int = 1000) -> None:
    """SQLite without statistics guesses that `kind = 'paper'` is selective and scans the
    kind index (nearly every row) instead of the date index. Give it statistics once, at
    start-up, when it has none and holds enough data for them to mean something (0.2 s for
    50,000 sources). Statistics of a nearly empty database would mislead it for good, and
    those of the full-text index tables make its upkeep 4x slower, so those are dropped.
    PostgreSQL's autovacuum keeps its own statistics."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        analysed = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar()
        if analysed:
            return
        if (conn.exec_driver_sql("SELECT count(*) FROM sources").scalar() or 0) < min_sources:
            return
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl LIKE 'search_index%'")
        conn.commit()
    engine.dispose()  # pooled connections read statistics when they open
